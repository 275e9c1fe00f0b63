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

/* Writes a whole object (through a writer).  *pzEtag: ETag (S3) or NULL. */
int imgpca_storage_put(ImgpcaStorage *s, const char *zUrl, const void *p, size_t n, char **pzEtag,
                       int64_t *pnBytes, char *err);
/* Deletes an object.  *pDeleted = 1 when deleted (local: 0 when it did not
** exist; S3 answers 204 either way, so always 1). */
int imgpca_storage_delete(ImgpcaStorage *s, const char *zUrl, int *pDeleted, char *err);
/* JSON of the effective S3 configuration (s3_config()). */
int imgpca_storage_describe(ImgpcaStorage *s, ImgpcaBuf *b, char *err);
/* The configuration the client reads (the connection's). */
const ImgpcaConfig *imgpca_storage_config(ImgpcaStorage *s);

/* Listing of a URL with an optional glob (see ext/s3/glob.c):
**   s3://bucket/prefix/(glob)   keys of the bucket matching it; without glob
**                               characters, every key starting with the prefix
**   /folder/(glob), file:///... files under the literal folder part matching
**                               it; a folder without glob lists it recursively
** Entries come lazily in key order (S3: ListObjectsV2 pages of 1000; local:
** sorted directory walk).  With bContent, object bodies are prefetched
** (S3: curl multi, s3.max_inflight requests in flight, at most that many
** objects ahead of the cursor, order preserved). */
typedef struct ImgpcaEntry {
  char *zUrl;          /* URL of the object, same scheme as the listed URL */
  char *zKey;          /* S3: object key; local: path relative to the listed folder */
  char *zName;         /* last path segment */
  char *zParent;       /* name of the containing folder (S3 top level: the bucket) */
  int64_t nSize;
  char *zEtag;         /* S3: ETag without quotes; local: "<mtime hex>-<size hex>" */
  char *zLastModified; /* ISO 8601 UTC, e.g. 2024-08-04T12:00:00.000Z */
} ImgpcaEntry;
typedef struct ImgpcaLister ImgpcaLister;
/* nAhead (> 0) bounds the prefetch when the caller knows it needs few rows. */
int imgpca_lister_open(ImgpcaStorage *s, const char *zUrlGlob, int bContent, int64_t maxBytes,
                       int64_t nAhead, ImgpcaLister **pp, char *err);
/* Optional interrupt hook, polled before every listing request: non-zero
** stops the listing with IMGPCA_INTERRUPT. */
void imgpca_lister_set_interrupt(ImgpcaLister *l, int (*xInterrupted)(void *), void *pArg);
/* Moves to the next entry; *pEof = 1 at the end.  An S3 listing fails when
** the server sends back the continuation token it was given, or more than
** IMGPCA_LIST_MAX_EMPTY truncated pages in a row without a key. */
#define IMGPCA_LIST_MAX_EMPTY 1000
int imgpca_lister_next(ImgpcaLister *l, int *pEof, char *err);
const ImgpcaEntry *imgpca_lister_entry(ImgpcaLister *l);
/* The body of the current entry (bContent listers); out is detached to the caller. */
int imgpca_lister_content(ImgpcaLister *l, ImgpcaBuf *out, char *err);
void imgpca_lister_close(ImgpcaLister *l);

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
