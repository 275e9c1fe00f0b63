/*
** Concurrent fetch core (pure C, no SQLite types) behind s3_fetch_many.
**
** An ordered window over a list of URLs.  Items are returned strictly in the
** order they were added.  At most nWindow items are "admitted" at a time (the
** one being returned and those after it): their s3:// GETs are queued on one
** curl multi handle (s3.max_inflight in flight, driven by the thread that
** calls imgpca_fetch_next), and worker threads read local files and decode
** images / compute features (img_features_blob, the code of img_features).
** Memory is therefore bounded by nWindow objects (bodies, decoded images of
** at most nThreads items, feature vectors) plus the URL list.
**
** Threads: imgpca_fetch_* are called by one thread (the SQL stepping
** thread); workers touch nothing but their item and the storage layer's
** thread-safe local read.  imgpca_fetch_free stops the workers promptly:
** queued work is dropped, an item being decoded is finished, threads are
** joined, transfers are aborted.
*/
#ifndef IMGPCA_FETCH_H
#define IMGPCA_FETCH_H

#include <stdint.h>

#include "../common/common.h"
#include "../image/image.h"
#include "../storage/storage.h"

/* Thumbnails of s3_fetch_many's thumbnail column: JPEG, quality 75, fitting
** a 48 x 48 box (the hover thumbnails of the report). */
#define IMGPCA_FETCH_THUMB_SIZE 48
#define IMGPCA_FETCH_THUMB_QUALITY 75

typedef struct ImgpcaFetchOpts {
  int nThreads;     /* worker threads; 0 = everything on the calling thread */
  int nInflight;    /* S3 requests in flight (s3.max_inflight) */
  int nWindow;      /* items admitted at a time; 0 = max(nInflight, 2 * nThreads, 4) */
  int64_t maxBytes; /* largest object (SQLITE_LIMIT_LENGTH); < 0 = no limit */
  int bContent;     /* keep object bodies for the caller */
  int bFeatures;    /* compute features with spec */
  int nThumb;       /* > 0: make a JPEG thumbnail fitting nThumb x nThumb */
  ImgSpec spec;
  long long maxPixels; /* image.max_pixels */
} ImgpcaFetchOpts;

/* The result of one URL, owned by the fetcher until the next call of
** imgpca_fetch_next (the caller may take pContent / pFeat by setting them to
** NULL after copying the pointers). */
typedef struct ImgpcaFetchItem {
  int64_t iItem; /* 0-based position in the input list */
  const char *zUrl;
  int64_t nSize;           /* bytes of the object, -1 if it could not be read */
  unsigned char *pContent; /* the body (bContent and read), else NULL */
  size_t nContent;
  unsigned char *pFeat; /* float32 LE features (bFeatures and decodable), else NULL */
  size_t nFeat;
  unsigned char *pThumb; /* JPEG thumbnail (nThumb > 0 and decodable), else NULL */
  size_t nThumb;
  char *zError; /* NULL, or why the object or its features failed */
} ImgpcaFetchItem;

typedef struct ImgpcaFetch ImgpcaFetch;

/* s may be NULL when no s3:// URL will be added (S3 items then fail). */
int imgpca_fetch_new(ImgpcaStorage *s, const ImgpcaFetchOpts *o, ImgpcaFetch **pp, char *err);
/* Appends a URL (copied).  Only before the first imgpca_fetch_next. */
int imgpca_fetch_add(ImgpcaFetch *f, const char *zUrl);
/* Returns the next item in input order (waiting for it), or *pEof = 1.
** Per-item failures are in item->zError; only out-of-memory (IMGPCA_NOMEM)
** and failures of the machinery itself are returned as errors. */
int imgpca_fetch_next(ImgpcaFetch *f, ImgpcaFetchItem **ppItem, int *pEof, char *err);
/* Threads actually running (after the first imgpca_fetch_next). */
int imgpca_fetch_threads(ImgpcaFetch *f);
/* Window size in items. */
int imgpca_fetch_window(ImgpcaFetch *f);
/* Items whose work a worker has started (for tests of cancellation). */
int64_t imgpca_fetch_started(ImgpcaFetch *f);
void imgpca_fetch_free(ImgpcaFetch *f);


#endif
