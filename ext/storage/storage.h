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

typedef enum { IMGPCA_URL_LOCAL = 1,
               IMGPCA_URL_S3 = 2 } ImgpcaUrlScheme;

typedef struct ImgpcaUrl {
  ImgpcaUrlScheme eScheme;
  const char *zScheme; /* as written: "s3", "s3a", "file", or "" for a path (static text) */
  char *zBucket;       /* S3 only */
  char *zKey;          /* S3: key (may be empty); local: absolute or relative path */
} ImgpcaUrl;

/* url.c is the one place that knows URL syntax: every module asks it. */
int imgpca_url_parse(const char *zUrl, ImgpcaUrl *pUrl, char *err);
void imgpca_url_free(ImgpcaUrl *pUrl);
/* 1 when zUrl is an S3 URL (s3:// or s3a://, valid or not), without
** allocating: the test imgpca_url_parse makes first. */
int imgpca_url_is_s3(const char *zUrl);

/* The s3.* settings (settings.c), ending with a zKey == NULL entry: a
** configuration given to imgpca_storage_new must hold them. */
extern const ImgpcaSetting imgpca_storage_settings[];

/* A storage client: per connection, created lazily from its configuration
** (credentials are resolved on first S3 use and cached, refreshed before expiry). */
typedef struct ImgpcaStorage ImgpcaStorage;
int imgpca_storage_new(const ImgpcaConfig *cfg, ImgpcaStorage **pp, char *err);
/* Network waits of the storage's S3 requests poll xInterrupted(pArg) and end
** with IMGPCA_INTERRUPT when it answers non-zero (see s3_client_set_interrupt). */
void imgpca_storage_set_interrupt(ImgpcaStorage *s, int (*xInterrupted)(void *), void *pArg);
void imgpca_storage_free(ImgpcaStorage *s);

/* Reads a whole object, or [offset, offset+length) when length >= 0.
** On a missing object returns IMGPCA_ERROR with *pNotFound = 1.
** maxBytes bounds the size (larger -> error, nothing read). */
int imgpca_storage_get(ImgpcaStorage *s, const char *zUrl, int64_t offset, int64_t length,
                       int64_t maxBytes, ImgpcaBuf *out, int *pNotFound, char *err);

/* The size and a version string of an object without reading it: S3 ETag
** (HEAD), local "<mtime ns hex>-<size hex>-<inode hex>" (stat).  *pzVersion is
** imgpca_malloc'ed.  On a missing object IMGPCA_ERROR with *pNotFound = 1. */
int imgpca_storage_stat(ImgpcaStorage *s, const char *zUrl, int64_t *pSize, char **pzVersion, int *pNotFound,
                        char *err);

/* Reads a whole local file (path or file:// URL; an s3:// URL is an error).
** Thread-safe: touches no client state, so worker threads may call it.
** Symbolic links are followed; anything but a regular file (folder, FIFO,
** device) is refused without blocking. */
int imgpca_storage_read_local(const char *zUrl, int64_t maxBytes, ImgpcaBuf *out, int *pNotFound,
                              char *err);

/* Whole-object GETs of s3:// URLs kept nInflight at a time in flight (curl
** multi), answered in submission order (behind s3_fetch_many).  One thread
** drives a queue; only imgpca_getq_wakeup may be called from other threads. */
typedef struct ImgpcaGetQueue ImgpcaGetQueue;
int imgpca_getq_new(ImgpcaStorage *s, int nInflight, ImgpcaGetQueue **pp, char *err);
void imgpca_getq_free(ImgpcaGetQueue *q);
/* Queues a GET; an invalid or non-S3 URL is an error (nothing queued). */
int imgpca_getq_add(ImgpcaGetQueue *q, const char *zUrl, int64_t maxBytes, char *err);
/* Moves transfers forward, waiting at most timeoutMs for progress. */
int imgpca_getq_poll(ImgpcaGetQueue *q, int timeoutMs, char *err);
/* 1 when the oldest GET has finished (taking it does not wait). */
int imgpca_getq_ready(ImgpcaGetQueue *q);
/* Takes the oldest GET's body (waiting for it); a failed GET is retried as
** s3_fetch would and reported like it (*pNotFound on 404). */
int imgpca_getq_take(ImgpcaGetQueue *q, ImgpcaBuf *out, int *pNotFound, char *err);
/* Wakes up imgpca_getq_poll from another thread. */
void imgpca_getq_wakeup(ImgpcaGetQueue *q);

/* Writes a whole object (through a writer).  *pzEtag: ETag (S3) or NULL. */
int imgpca_storage_put(ImgpcaStorage *s, const char *zUrl, const void *p, size_t n, char **pzEtag,
                       int64_t *pnBytes, char *err);
/* Deletes an object.  *pDeleted = 1 when deleted (local: 0 when it did not
** exist; S3 answers 204 either way, so always 1). */
int imgpca_storage_delete(ImgpcaStorage *s, const char *zUrl, int *pDeleted, char *err);
/* JSON of the effective S3 configuration (s3_config()). */
int imgpca_storage_describe(ImgpcaStorage *s, ImgpcaBuf *b, char *err);

/* Listing of a URL with an optional glob (see ext/common/glob.c):
**   s3://bucket/prefix/(glob)   keys of the bucket matching it; without glob
**                               characters, every key starting with the prefix
**   /folder/(glob), file:///... files under the literal folder part matching
**                               it; a folder without glob lists it recursively
** Entries come lazily in key order (S3: ListObjectsV2 pages of 1000; local:
** sorted directory walk).  With bContent, object bodies are prefetched
** (S3: curl multi, s3.max_inflight requests in flight, at most that many
** objects ahead of the cursor, order preserved). */
typedef struct ImgpcaEntry {
  char *zUrl;    /* URL of the object, same scheme as the listed URL */
  char *zKey;    /* S3: object key; local: path relative to the listed folder */
  char *zName;   /* last path segment */
  char *zParent; /* name of the containing folder (S3 top level: the bucket) */
  int64_t nSize;
  char *zEtag;         /* S3: ETag without quotes; local: "<mtime hex>-<size hex>" */
  char *zLastModified; /* ISO 8601 UTC, e.g. 2024-08-04T12:00:00.000Z */
} ImgpcaEntry;
typedef struct ImgpcaLister ImgpcaLister;
/* nAhead (> 0) bounds the prefetch when the caller knows it needs few rows. */
int imgpca_lister_open(ImgpcaStorage *s, const char *zUrlGlob, int bContent, int64_t maxBytes,
                       int64_t nAhead, ImgpcaLister **pp, char *err);
/* Optional interrupt hook, polled before every S3 listing request and every
** 256 entries of a local walk: non-zero stops the listing with
** IMGPCA_INTERRUPT. */
void imgpca_lister_set_interrupt(ImgpcaLister *l, int (*xInterrupted)(void *), void *pArg);
/* Moves to the next entry; *pEof = 1 at the end.  An S3 listing fails when
** the server sends back the continuation token it was given, or more than
** IMGPCA_LIST_MAX_EMPTY truncated pages in a row without a key. */
#define IMGPCA_LIST_MAX_EMPTY 1000
int imgpca_lister_next(ImgpcaLister *l, int *pEof, char *err);
const ImgpcaEntry *imgpca_lister_entry(ImgpcaLister *l);
/* Same, but only zUrl, zKey, zName and zParent are guaranteed: a local
** listing reads a file's metadata (nSize, zEtag, zLastModified) on demand, so
** listings that need names only cost no stat per file.  nSize is -1 when the
** file vanished before its metadata was read. */
const ImgpcaEntry *imgpca_lister_entry_names(ImgpcaLister *l);
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

/* Concatenation of byte ranges of objects into one new object, in constant memory.
** Part i is bytes [offset, offset+length) of its URL (length < 0: to the end);
** nExpectSize >= 0 requires the object to have exactly that size.  Parts are read
** in order, each stat'ed when it is reached (a missing or mis-sized part fails the
** whole call).
**   destination local: the ranges are streamed into an atomic writer (8 MiB reads).
**   destination S3: one multipart upload; a range of an s3:// part of at least
**     5 MiB (when no streamed data is pending) becomes UploadPartCopy parts (copied
**     by the server, never downloaded); other ranges are read and gathered into
**     streamed parts of 5 MiB; a result below 5 MiB without any copy is one PUT.
**     Any failure aborts the multipart upload: no orphan upload, no partial object.
** Memory stays below about 16 MiB whatever the sizes. */
typedef struct ImgpcaConcatPart {
  const char *zUrl;
  int64_t offset;
  int64_t length;      /* < 0: to the end of the object */
  int64_t nExpectSize; /* < 0: not checked */
} ImgpcaConcatPart;
typedef struct ImgpcaConcatStats {
  int64_t nBytes;    /* bytes of the result */
  int64_t nCopied;   /* bytes copied by the server (UploadPartCopy) */
  int64_t nStreamed; /* bytes read and written by this process */
  int nPart;         /* S3 parts of the multipart upload (0: one PUT or a local file) */
} ImgpcaConcatStats;
int imgpca_storage_concat(ImgpcaStorage *s, const char *zDest, const ImgpcaConcatPart *aPart,
                          int nPart, ImgpcaConcatStats *pStats, char *err);

#endif
