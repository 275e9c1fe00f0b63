/*
** PCA core (pure C, no SQLite types).
**
** A PcaState accumulates rows in float64: the running mean, the exact
** diagonal of the centred scatter matrix M2 = sum (x-mean)(x-mean)^T, and
** either the whole M2 (exact solver, O(d^2) memory) or a Frequent Directions
** sketch of M2 (streaming solver, O(l*d) memory).  Rows are buffered in
** batches; each batch is centred on its own mean and merged with the
** Chan et al. pairwise update, so states also merge exactly across shards.
** A fitted PcaModel holds mean, scale (std or 1), the top-k eigenvalues of
** the covariance (M2/(n-1), or its standardised form) and the components.
**
** Binary formats (model, state) are in model.c and docs/PCA.md.
*/
#ifndef IMGPCA_PCA_H
#define IMGPCA_PCA_H

#include "../common/common.h"

#define PCA_SOLVER_AUTO 0
#define PCA_SOLVER_EXACT 1
#define PCA_SOLVER_STREAMING 2
#define PCA_SOLVER_RANDOMIZED 3

#define PCA_KIND_EXACT 1
#define PCA_KIND_STREAM 2
#define PCA_KIND_RAND 3 /* rows kept as float32 for the randomized solver (never saved) */

#define PCA_DEFAULT_MEMORY_MB 1024
#define PCA_DEFAULT_SKETCH 128
#define PCA_MAX_SKETCH 16384
#define PCA_MAX_DIMS (16u * 1024u * 1024u)

/* Options ("options" JSON of pca_fit/pca_partial). */
typedef struct PcaOpts {
  int standardize;     /* -1 = not given (default false), 0, 1 */
  int solver;          /* PCA_SOLVER_* */
  long long memory_mb; /* budget for the solver state, > 0 */
  long long sketch;    /* Frequent Directions size l; 0 = default */
  long long seed;      /* recorded only: both solvers are deterministic */
} PcaOpts;
void pca_opts_default(PcaOpts *o);
/* Sets one option from its JSON key and value (zType: JSON1 type name,
** zText: textual value).  Unknown keys and bad values -> error. */
int pca_opts_set(PcaOpts *o, const char *zKey, const char *zType, const char *zText, char *err);

typedef struct PcaState {
  int kind;        /* 0 until the first row, then PCA_KIND_* */
  int standardize; /* -1 unset, 0, 1 (recorded in states) */
  int solverReq;   /* requested solver */
  long long memory_mb, seed;
  size_t d;
  uint64_t n;     /* rows merged into mean/m2diag/m2|sketch */
  double *mean;   /* d */
  double *m2diag; /* d, exact diagonal of M2 */
  double *m2;     /* exact: d*d row-major, upper triangle valid */
  size_t ell;     /* streaming: sketch size l (0 = default) */
  size_t kHint;   /* k requested (0 unknown), sizes the default sketch */
  double *sk;     /* streaming: 2l x d rows */
  size_t skRows;  /* streaming: rows used in sk */
  double shrink;  /* streaming: total shrinkage Delta (scatter units) */
  double *batch;  /* pending rows, batchCap x d */
  size_t nb, batchCap;
  double *work; /* scratch (d doubles) */
  float *rows;  /* randomized: every row, nRows x d */
  size_t nRows, capRows;
  /* Optional: polled in long loops (merges, batches); non-zero stops them
  ** with IMGPCA_INTERRUPT.  Not saved in blobs. */
  int (*xInterrupted)(void *);
  void *pInterruptArg;
} PcaState;

/* Non-zero when the state's interrupt hook says stop. */
int pca_interrupted(const PcaState *s);
/* Initialises an empty state; the solver is chosen at the first row. */
void pca_state_init(PcaState *s, const PcaOpts *o);
void pca_state_free(PcaState *s);
/* Allocates the arrays of an empty state for kind and dimension d. */
int pca_state_alloc(PcaState *s, int kind, size_t d);
/* Picks the solver and allocates for dimension d. */
int pca_state_begin(PcaState *s, size_t d, char *err);
/* Adds one row of s->d floats (little-endian float32 blob) or doubles. */
int pca_state_add_f32le(PcaState *s, const unsigned char *blob, char *err);
int pca_state_add_f32(PcaState *s, const float *v, char *err);
/* Flushes the pending batch. */
int pca_state_flush(PcaState *s, char *err);
/* Merges b into a (b is flushed but otherwise unchanged).  a may be empty
** (kind 0): it then becomes a copy of b. */
int pca_state_merge(PcaState *a, PcaState *b, char *err);
/* Bytes the solver of kind needs for dimension d and sketch l (0 on overflow). */
size_t pca_state_bytes(int kind, size_t d, size_t ell);

typedef struct PcaModel {
  uint32_t version;
  int standardize; /* scale holds the population std (zero -> 1) */
  int streaming;   /* fitted by the streaming solver */
  int randomized;  /* fitted by the randomized solver */
  int solverReq;
  size_t d, k;
  uint64_t n;
  double total_var; /* sum of all covariance eigenvalues (trace) */
  double err_bound; /* streaming: each eigenvalue is within [-bound, 0] of exact */
  uint64_t sketch;
  long long memory_mb, seed;
  double fraction; /* k requested as a fraction, else 0 */
  double *mean;    /* d */
  double *scale;   /* d: divisor of the features (std, or 1) */
  double *std;     /* d: population std (ddof=0) of every feature */
  double *eig;     /* k, descending (explained variance, n-1 denominator) */
  double *comp;    /* k x d, orthonormal rows */
} PcaModel;
void pca_model_free(PcaModel *m);

/* Fits a model from a state (consumes/destroys the solver data of s).
** kInt >= 1: number of components; kInt < 0: all min(n-1, d) (limited by
** the sketch for the streaming solver); kInt == 0: smallest k whose
** cumulative explained-variance ratio exceeds fraction in (0,1).  The state's
** standardize flag applies unless standardize >= 0 overrides it. */
int pca_fit_state(PcaState *s, long long kInt, double fraction, int standardize,
                  PcaModel *m, char *err);

/* Solvers (solver_exact.c, solver_stream.c). */
int pca_exact_batch(PcaState *s, const double *xc, size_t nb, char *err);
int pca_exact_merge(PcaState *a, const PcaState *b, const double *delta, double c, char *err);
/* Top-k eigenpairs of the symmetric C (row-major, upper triangle valid,
** destroyed).  k == 0: smallest k whose cumulative share of total exceeds
** fraction, at most kmax.  *pEig (k, descending) and *pComp (k x d) are
** allocated with imgpca_malloc. */
int pca_exact_eigs(double *C, size_t d, size_t k, size_t kmax, double fraction, double total,
                   double **pEig, double **pComp, size_t *pk, char *err);
/* Randomized solver (solver_randomized.c): top k eigenpairs (scatter units)
** of the kept rows, centred on s->mean and multiplied by inv; the rows are
** overwritten. */
int pca_rand_eigs(PcaState *s, const double *inv, size_t k, double **pEig, double **pComp, char *err);
int pca_stream_append(PcaState *s, const double *row, double alpha, char *err);
int pca_stream_shrink(PcaState *s, char *err);
/* Same from the sketch (eigenvalues in scatter units, not divided by n-1). */
int pca_stream_eigs(PcaState *s, const double *invScale, size_t k, size_t kmax, double fraction,
                    double total, double **pEig, double **pComp, size_t *pk, char *err);

/* Thread-count independent linear algebra (detblas.c).  Every product is
** made of PCA_TILE^3 OpenBLAS dgemm calls of one shape (single-threaded
** inside OpenBLAS); nthreads of our own threads share the tiles.  Bytes do
** not depend on nthreads nor on OpenBLAS's thread count. */
#define PCA_TILE 64
#define PCA_MAX_THREADS 64
double pca_dot(const double *x, const double *y, size_t n);
/* C (M x N, row-major, ldc) = alpha op(A) op(B) + beta C; op(A) is M x K
** (A or A^T when ta), op(B) is K x N (B or B^T when tb).  upper: only the
** entries j >= i of C are written. */
int pca_dgemm(int ta, int tb, size_t M, size_t N, size_t K, double alpha, const double *A, size_t lda,
              const double *B, size_t ldb, double beta, double *C, size_t ldc, int upper, int nthreads);
/* Eigenvalues il..iu (1-based, ascending) of the symmetric A (n x n,
** row-major, upper triangle valid, destroyed) into w, and when z is not
** NULL their eigenvectors, one contiguous n-vector each. */
int pca_symeig(double *A, size_t n, size_t il, size_t iu, double *w, double *z, char *err);
/* The two halves of pca_symeig: Householder reduction of A to the
** tridiagonal (dg, e), reflectors kept in A's upper triangle and tau; then
** eigenpairs il..iu of the tridiagonal, back-transformed (z may be NULL:
** all eigenvalues, il and iu ignored). */
int pca_tridiag(double *A, size_t n, double *dg, double *e, double *tau, char *err);
int pca_tridiag_eig(const double *A, size_t n, const double *dg, const double *e, const double *tau, size_t il,
                    size_t iu, double *w, double *z, char *err);
/* n rows of m->d floats -> n rows of k floats (same as pca_project row by
** row, up to the last bit of the float rounding), in tiles on nthreads.
** compPad: the first k components zero-padded by pca_project_pad (kept by a
** caller that projects many chunks), or NULL. */
double *pca_project_pad(const PcaModel *m, size_t k);
int pca_project_rows(const PcaModel *m, const double *compPad, const float *X, size_t n, size_t k, int whiten,
                     float *Y, int nthreads, char *err);

/* Sign convention: each component's entry of largest magnitude (first
** one on ties) is made positive. */
void pca_fix_sign(double *v, size_t d);

/* Projection: y[j] = ((x - mean)/scale) . comp[j] (j < k), optionally
** divided by sqrt(eig[j]) (whitening). */
int pca_project(const PcaModel *m, const float *x, size_t k, int whiten, float *y, char *err);
/* Inverse: x = (sum_j y[j] comp[j]) * scale + mean, y of length k <= m->k. */
int pca_reconstruct(const PcaModel *m, const float *y, size_t k, int whiten, float *x, char *err);

/* Model / state blobs (model.c).  Magics: "IPCA-MDL" and "IPCA-STA". */
#define PCA_MODEL_MAGIC "IPCA-MDL"
#define PCA_STATE_MAGIC "IPCA-STA"
#define PCA_FORMAT_VERSION 1
#define PCA_HEADER_BYTES 96
int pca_blob_is_model(const void *p, size_t n);
int pca_blob_is_state(const void *p, size_t n);
int pca_model_save(const PcaModel *m, unsigned char **pOut, size_t *pn, char *err);
/* Strict loader: validates magic, version, sizes, every value and the
** checksum.  Never reads outside [p, p+n).  On error m is left empty.
** Suitable as a libFuzzer target. */
int pca_model_load(const void *p, size_t n, PcaModel *m, char *err);
int pca_state_save(PcaState *s, unsigned char **pOut, size_t *pn, char *err);
/* budget_mb > 0: the state's solver memory (pca_state_bytes) must fit in it,
** checked before anything is allocated; 0: the blob's own memory_mb.  Hard
** limits (dimensions, sketch size) apply either way. */
int pca_state_load(const void *p, size_t n, long long budget_mb, PcaState *s, char *err);

/* Fast checksum of the formats (64-bit, word-wise FNV-1a variant). */
uint64_t pca_checksum(const unsigned char *p, size_t n);

#endif
