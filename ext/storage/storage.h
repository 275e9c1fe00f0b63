/*
** Storage layer (pure C, no SQLite types): one API over local files and S3.
**
** URLs:  s3://bucket/key, s3a://bucket/key   -> S3 (SigV4 over libcurl)
**        file:///abs/path, /abs/path, rel/path -> local filesystem
** A pipeline moves from a laptop folder to a bucket by changing one URL.
**
** Writers are atomic: a local writer writes "<dest>.tmp-XXXXXX" in the same
** folder and renames it on commit; an S3 writer sends one PUT below the
** multipart threshold, otherwise a multipart upload that is aborted on any
** failure.  Nothing partial is ever visible at the destination.
*/
#ifndef IMGPCA_STORAGE_H
#define IMGPCA_STORAGE_H

#include <stdint.h>

#include "../common/common.h"
#include "../config/config.h"

typedef enum { IMGPCA_URL_LOCAL = 1, IMGPCA_URL_S3 = 2 } ImgpcaUrlScheme;

typedef struct ImgpcaUrl {
  ImgpcaUrlScheme eScheme;
  char *zBucket;   /* S3 only */
  char *zKey;      /* S3: key (may be empty); local: absolute or relative path */
} ImgpcaUrl;

int imgpca_url_parse(const char *zUrl, ImgpcaUrl *pUrl, char *err);
void imgpca_url_free(ImgpcaUrl *pUrl);

/* A storage client: per connection, created lazily from its configuration
** (credentials are resolved on first S3 use and cached, refreshed before expiry). */
typedef struct ImgpcaStorage ImgpcaStorage;
int imgpca_storage_new(const ImgpcaConfig *cfg, ImgpcaStorage **pp, char *err);
void imgpca_storage_free(ImgpcaStorage *s);

/* Reads a whole object, or [offset, offset+length) when length >= 0.
** On a missing object returns IMGPCA_ERROR with *pNotFound = 1.
** maxBytes bounds the size (larger -> error, nothing read). */
int imgpca_storage_get(ImgpcaStorage *s, const char *zUrl, int64_t offset, int64_t length,
                       int64_t maxBytes, ImgpcaBuf *out, int *pNotFound, char *err);

/* Streaming, atomic writer. */
typedef struct ImgpcaWriter ImgpcaWriter;
int imgpca_writer_open(ImgpcaStorage *s, const char *zUrl, ImgpcaWriter **pw, char *err);
int imgpca_writer_write(ImgpcaWriter *w, const void *p, size_t n, char *err);
/* Publishes the object and frees w (also on failure, after aborting).
** *pzEtag (optional) receives the ETag (S3) or NULL (local); free with imgpca_free. */
int imgpca_writer_commit(ImgpcaWriter *w, char **pzEtag, int64_t *pnBytes, char *err);
/* Discards everything written and frees w; aborts a multipart upload. */
void imgpca_writer_abort(ImgpcaWriter *w);

#endif
