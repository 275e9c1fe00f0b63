/*
** Exact k-nearest-neighbour search over float32 vectors (pure C).
**
** A search holds one block of query vectors; reference vectors are fed to
** it in blocks of any size (they are not kept), and each query keeps its k
** nearest references seen so far.  Distances are screened in float32 with
** BLAS (cblas_sgemm, or cblas_sgemv for a single query) and every reference
** that could belong to a query's k nearest given the float32 rounding
** error is measured again in double precision, so the result is the exact
** k nearest under the double-precision distance, ties broken by the
** reference key (or a caller-supplied comparison of keys).
**
** Metrics and the distance reported:
**   KNN_L2      Euclidean distance sqrt(sum (q_i - r_i)^2)      (= fvec_l2)
**   KNN_COSINE  1 - q.r / (|q| |r|); a zero vector is an error   (= fvec_cosine)
**   KNN_DOT     -q.r, the negative inner product (largest dot first)
**
** Memory: the query block, its k-best lists and one float32 tile of
** KNN_TILE_Q x (reference block) distances, whatever the number of
** references.
*/
#ifndef IMGPCA_KNN_H
#define IMGPCA_KNN_H

#include "../common/common.h"

#define KNN_L2 0
#define KNN_COSINE 1
#define KNN_DOT 2

/* Query rows per BLAS call (the distance tile is KNN_TILE_Q x nRef floats). */
#define KNN_TILE_Q 256

typedef struct KnnHit {
  double dist; /* exact distance */
  int64_t key; /* the reference's key as given to knn_add_refs */
} KnnHit;

/* Orders two keys that have the same distance: <0, 0, >0. */
typedef int (*KnnKeyCmp)(void *pCtx, int64_t a, int64_t b);

typedef struct KnnSearch KnnSearch;

/* Parses 'l2', 'cosine' or 'dot' (case-insensitive); -1 if unknown. */
int knn_metric_from_name(const char *z);
const char *knn_metric_name(int metric);

/* A search for k neighbours of dimension-d vectors.  xCmp may be NULL
** (keys compared as integers). */
int knn_open(size_t d, size_t k, int metric, KnnKeyCmp xCmp, void *pCmpCtx, KnnSearch **pp, char *err);
void knn_close(KnnSearch *s);

/* Threads screening a reference block (query tiles split over them; each
** calls BLAS on its own tiles).  Default 1. */
void knn_set_threads(KnnSearch *s, int n);

/* How many queries a block should hold for this d and k (memory bound). */
size_t knn_query_block(size_t d, size_t k);

/* Starts a new query block: copies nq row-major vectors, clears the
** k-best lists.  For KNN_COSINE a zero vector is an error; *piBad (if not
** NULL) receives the index of the offending query. */
int knn_set_queries(KnnSearch *s, const float *q, size_t nq, size_t *piBad, char *err);

/* Screens nr row-major reference vectors with keys aKey[] against every
** query of the block.  For KNN_COSINE a zero vector is an error (*piBad). */
int knn_add_refs(KnnSearch *s, const float *r, const int64_t *aKey, size_t nr, size_t *piBad, char *err);

/* Sorts each query's list (distance, then key).  Then knn_hits() gives query iq's n <= k hits, nearest first. */
void knn_finish(KnnSearch *s);
const KnnHit *knn_hits(const KnnSearch *s, size_t iq, size_t *pn);

/* Number of exact (double precision) distance evaluations so far: for
** tests and tuning. */
uint64_t knn_exact_count(const KnnSearch *s);

#endif
