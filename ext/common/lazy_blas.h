/* CBLAS / LAPACKE through the lazily loaded table (see lazylib.h).  Include
** after <cblas.h> and <lapacke.h>.  Calls before imgpca_blas_load() has
** succeeded reach inert stubs (no crash; callers check the load first). */
#ifndef IMGPCA_LAZY_BLAS_H
#define IMGPCA_LAZY_BLAS_H
#include <cblas.h>
#include <lapacke.h>
#include "lazylib.h"

typedef struct ImgpcaBlasApi {
  void (*daxpy)(OPENBLAS_CONST blasint, OPENBLAS_CONST double, OPENBLAS_CONST double *, OPENBLAS_CONST blasint,
                double *, OPENBLAS_CONST blasint);
  double (*ddot)(OPENBLAS_CONST blasint, OPENBLAS_CONST double *, OPENBLAS_CONST blasint, OPENBLAS_CONST double *,
                 OPENBLAS_CONST blasint);
  double (*dnrm2)(OPENBLAS_CONST blasint, OPENBLAS_CONST double *, OPENBLAS_CONST blasint);
  void (*dscal)(OPENBLAS_CONST blasint, OPENBLAS_CONST double, double *, OPENBLAS_CONST blasint);
  void (*dgemv)(OPENBLAS_CONST enum CBLAS_ORDER, OPENBLAS_CONST enum CBLAS_TRANSPOSE, OPENBLAS_CONST blasint,
                OPENBLAS_CONST blasint, OPENBLAS_CONST double, OPENBLAS_CONST double *, OPENBLAS_CONST blasint,
                OPENBLAS_CONST double *, OPENBLAS_CONST blasint, OPENBLAS_CONST double, double *,
                OPENBLAS_CONST blasint);
  void (*sgemv)(OPENBLAS_CONST enum CBLAS_ORDER, OPENBLAS_CONST enum CBLAS_TRANSPOSE, OPENBLAS_CONST blasint,
                OPENBLAS_CONST blasint, OPENBLAS_CONST float, OPENBLAS_CONST float *, OPENBLAS_CONST blasint,
                OPENBLAS_CONST float *, OPENBLAS_CONST blasint, OPENBLAS_CONST float, float *,
                OPENBLAS_CONST blasint);
  void (*dsyr)(OPENBLAS_CONST enum CBLAS_ORDER, OPENBLAS_CONST enum CBLAS_UPLO, OPENBLAS_CONST blasint,
               OPENBLAS_CONST double, OPENBLAS_CONST double *, OPENBLAS_CONST blasint, double *,
               OPENBLAS_CONST blasint);
  void (*dgemm)(OPENBLAS_CONST enum CBLAS_ORDER, OPENBLAS_CONST enum CBLAS_TRANSPOSE,
                OPENBLAS_CONST enum CBLAS_TRANSPOSE, OPENBLAS_CONST blasint, OPENBLAS_CONST blasint,
                OPENBLAS_CONST blasint, OPENBLAS_CONST double, OPENBLAS_CONST double *, OPENBLAS_CONST blasint,
                OPENBLAS_CONST double *, OPENBLAS_CONST blasint, OPENBLAS_CONST double, double *,
                OPENBLAS_CONST blasint);
  void (*sgemm)(OPENBLAS_CONST enum CBLAS_ORDER, OPENBLAS_CONST enum CBLAS_TRANSPOSE,
                OPENBLAS_CONST enum CBLAS_TRANSPOSE, OPENBLAS_CONST blasint, OPENBLAS_CONST blasint,
                OPENBLAS_CONST blasint, OPENBLAS_CONST float, OPENBLAS_CONST float *, OPENBLAS_CONST blasint,
                OPENBLAS_CONST float *, OPENBLAS_CONST blasint, OPENBLAS_CONST float, float *,
                OPENBLAS_CONST blasint);
  void (*dsymm)(OPENBLAS_CONST enum CBLAS_ORDER, OPENBLAS_CONST enum CBLAS_SIDE, OPENBLAS_CONST enum CBLAS_UPLO,
                OPENBLAS_CONST blasint, OPENBLAS_CONST blasint, OPENBLAS_CONST double, OPENBLAS_CONST double *,
                OPENBLAS_CONST blasint, OPENBLAS_CONST double *, OPENBLAS_CONST blasint, OPENBLAS_CONST double,
                double *, OPENBLAS_CONST blasint);
  void (*dsyrk)(OPENBLAS_CONST enum CBLAS_ORDER, OPENBLAS_CONST enum CBLAS_UPLO,
                OPENBLAS_CONST enum CBLAS_TRANSPOSE, OPENBLAS_CONST blasint, OPENBLAS_CONST blasint,
                OPENBLAS_CONST double, OPENBLAS_CONST double *, OPENBLAS_CONST blasint, OPENBLAS_CONST double,
                double *, OPENBLAS_CONST blasint);
  char *(*get_config)(void);
  int (*get_num_threads)(void);
  void (*set_num_threads)(int);
  lapack_int (*dsyevr)(int, char, char, char, lapack_int, double *, lapack_int, double, double, lapack_int,
                       lapack_int, double, lapack_int *, double *, double *, lapack_int, lapack_int *);
  double (*dlamch)(char);
  lapack_int (*dgeqrf)(int, lapack_int, lapack_int, double *, lapack_int, double *);
  lapack_int (*dorgqr)(int, lapack_int, lapack_int, lapack_int, double *, lapack_int, const double *);
  lapack_int (*dstemr)(int, char, char, lapack_int, double *, double *, double, double, lapack_int, lapack_int,
                       lapack_int *, double *, double *, lapack_int, lapack_int, lapack_int *, lapack_logical *);
  lapack_int (*sgetrf)(int, lapack_int, lapack_int, float *, lapack_int, lapack_int *);
} ImgpcaBlasApi;
extern ImgpcaBlasApi imgpca_blas_api;

#define cblas_daxpy(...) imgpca_blas_api.daxpy(__VA_ARGS__)
#define cblas_ddot(...) imgpca_blas_api.ddot(__VA_ARGS__)
#define cblas_dnrm2(...) imgpca_blas_api.dnrm2(__VA_ARGS__)
#define cblas_dscal(...) imgpca_blas_api.dscal(__VA_ARGS__)
#define cblas_dgemv(...) imgpca_blas_api.dgemv(__VA_ARGS__)
#define cblas_sgemv(...) imgpca_blas_api.sgemv(__VA_ARGS__)
#define cblas_dsyr(...) imgpca_blas_api.dsyr(__VA_ARGS__)
#define cblas_dgemm(...) imgpca_blas_api.dgemm(__VA_ARGS__)
#define cblas_sgemm(...) imgpca_blas_api.sgemm(__VA_ARGS__)
#define cblas_dsymm(...) imgpca_blas_api.dsymm(__VA_ARGS__)
#define cblas_dsyrk(...) imgpca_blas_api.dsyrk(__VA_ARGS__)
#define openblas_get_config() (imgpca_blas_load(NULL) == 0 ? imgpca_blas_api.get_config() : (char *)"not loaded")
#define openblas_get_num_threads() imgpca_blas_api.get_num_threads()
#define openblas_set_num_threads(n) imgpca_blas_api.set_num_threads(n)
#define LAPACKE_dsyevr(...) imgpca_blas_api.dsyevr(__VA_ARGS__)
#define LAPACKE_dlamch(...) imgpca_blas_api.dlamch(__VA_ARGS__)
#define LAPACKE_dgeqrf(...) imgpca_blas_api.dgeqrf(__VA_ARGS__)
#define LAPACKE_dorgqr(...) imgpca_blas_api.dorgqr(__VA_ARGS__)
#define LAPACKE_dstemr(...) imgpca_blas_api.dstemr(__VA_ARGS__)
#define LAPACKE_sgetrf(...) imgpca_blas_api.sgetrf(__VA_ARGS__)
#endif
