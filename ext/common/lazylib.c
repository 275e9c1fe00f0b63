/*
** Lazy loading of libcurl and OpenBLAS/LAPACKE (see lazylib.h); no SQL
** behaviour of its own.
*/
#include "lazy_blas.h"
#include "lazy_curl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include "common.h"

ImgpcaCurlApi imgpca_curl_api;
static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static int g_curl_rc = -1;
static char g_curl_err[256];
static const ImgpcaCurlMem *g_curl_mem;

void imgpca_curl_set_mem(const ImgpcaCurlMem *m) { __atomic_store_n(&g_curl_mem, m, __ATOMIC_RELEASE); }

/* dlsym into *pp; returns 0 when found. */
static int sym(void *h, const char *zName, void *pp, char *zErr, size_t nErr) {
  void *p = dlsym(h, zName);
  if (!p) {
    snprintf(zErr, nErr, "symbol '%s' missing", zName);
    return 1;
  }
  memcpy(pp, &p, sizeof p);
  return 0;
}

static void curl_once(void) {
  ImgpcaCurlApi a;
  void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
  char *e = g_curl_err;
  size_t n = sizeof g_curl_err;
  int bad = 0;
  if (!h) {
    const char *z = dlerror();
    snprintf(g_curl_err, sizeof g_curl_err, "cannot load 'libcurl.so.4': %s", z ? z : "unknown error");
    return;
  }
  memset(&a, 0, sizeof a);
  bad |= sym(h, "curl_easy_init", &a.easy_init, e, n);
  bad |= sym(h, "curl_easy_cleanup", &a.easy_cleanup, e, n);
  bad |= sym(h, "curl_easy_setopt", &a.easy_setopt, e, n);
  bad |= sym(h, "curl_easy_getinfo", &a.easy_getinfo, e, n);
  bad |= sym(h, "curl_easy_perform", &a.easy_perform, e, n);
  bad |= sym(h, "curl_easy_reset", &a.easy_reset, e, n);
  bad |= sym(h, "curl_easy_strerror", &a.easy_strerror, e, n);
  bad |= sym(h, "curl_easy_duphandle", &a.easy_duphandle, e, n);
  bad |= sym(h, "curl_easy_escape", &a.easy_escape, e, n);
  bad |= sym(h, "curl_easy_unescape", &a.easy_unescape, e, n);
  bad |= sym(h, "curl_free", &a.free, e, n);
  bad |= sym(h, "curl_multi_init", &a.multi_init, e, n);
  bad |= sym(h, "curl_multi_cleanup", &a.multi_cleanup, e, n);
  bad |= sym(h, "curl_multi_add_handle", &a.multi_add_handle, e, n);
  bad |= sym(h, "curl_multi_remove_handle", &a.multi_remove_handle, e, n);
  bad |= sym(h, "curl_multi_perform", &a.multi_perform, e, n);
  bad |= sym(h, "curl_multi_poll", &a.multi_poll, e, n);
  bad |= sym(h, "curl_multi_wait", &a.multi_wait, e, n);
  bad |= sym(h, "curl_multi_wakeup", &a.multi_wakeup, e, n);
  bad |= sym(h, "curl_multi_info_read", &a.multi_info_read, e, n);
  bad |= sym(h, "curl_multi_setopt", &a.multi_setopt, e, n);
  bad |= sym(h, "curl_multi_strerror", &a.multi_strerror, e, n);
  bad |= sym(h, "curl_slist_append", &a.slist_append, e, n);
  bad |= sym(h, "curl_slist_free_all", &a.slist_free_all, e, n);
  bad |= sym(h, "curl_version_info", &a.version_info, e, n);
  {
    CURLcode (*global_init)(long) = NULL;
    CURLcode (*global_init_mem)(long, curl_malloc_callback, curl_free_callback, curl_realloc_callback,
                                curl_strdup_callback, curl_calloc_callback) = NULL;
    const ImgpcaCurlMem *m = __atomic_load_n(&g_curl_mem, __ATOMIC_ACQUIRE);
    curl_version_info_data *v;
    CURLcode c;
    bad |= sym(h, "curl_global_init", &global_init, e, n);
    bad |= sym(h, "curl_global_init_mem", &global_init_mem, e, n);
    if (bad) return; /* the library stays mapped: harmless */
    v = a.version_info(CURLVERSION_NOW);
    /* once per process, before any handle exists (libcurl's rule) */
    if (m && v && v->version_num >= 0x075400)
      c = global_init_mem(CURL_GLOBAL_DEFAULT, m->xMalloc, m->xFree, m->xRealloc, m->xStrdup, m->xCalloc);
    else
      c = global_init(CURL_GLOBAL_DEFAULT);
    if (c != CURLE_OK) {
      snprintf(g_curl_err, sizeof g_curl_err, "curl_global_init failed");
      return;
    }
  }
  imgpca_curl_api = a;
  __atomic_store_n(&g_curl_rc, 0, __ATOMIC_RELEASE);
}

int imgpca_curl_load(char *err) {
  if (__atomic_load_n(&g_curl_rc, __ATOMIC_ACQUIRE) == 0) return IMGPCA_OK;
  pthread_once(&g_curl_once, curl_once);
  if (g_curl_rc == 0) return IMGPCA_OK;
  if (err) imgpca_seterr(err, "%s", g_curl_err);
  return IMGPCA_ERROR;
}

int imgpca_curl_loaded(void) { return __atomic_load_n(&g_curl_rc, __ATOMIC_ACQUIRE) == 0; }

/* ---- BLAS: inert stubs until loaded ---- */
static void st_daxpy(const blasint n, const double a, const double *x, const blasint ix, double *y,
                     const blasint iy) {
}
static double st_ddot(const blasint n, const double *x, const blasint ix, const double *y, const blasint iy) {
  return 0.0;
}
static double st_dnrm2(const blasint n, const double *x, const blasint ix) {
  return 0.0;
}
static void st_dscal(const blasint n, const double a, double *x, const blasint ix) {
}
static void st_dgemv(const enum CBLAS_ORDER o, const enum CBLAS_TRANSPOSE t, const blasint m, const blasint n,
                     const double al, const double *a, const blasint lda, const double *x, const blasint ix,
                     const double be, double *y, const blasint iy) {
}
static void st_sgemv(const enum CBLAS_ORDER o, const enum CBLAS_TRANSPOSE t, const blasint m, const blasint n,
                     const float al, const float *a, const blasint lda, const float *x, const blasint ix,
                     const float be, float *y, const blasint iy) {
}
static void st_dsyr(const enum CBLAS_ORDER o, const enum CBLAS_UPLO u, const blasint n, const double al,
                    const double *x, const blasint ix, double *a, const blasint lda) {
}
static void st_dgemm(const enum CBLAS_ORDER o, const enum CBLAS_TRANSPOSE ta, const enum CBLAS_TRANSPOSE tb,
                     const blasint m, const blasint n, const blasint k, const double al, const double *a,
                     const blasint lda, const double *b, const blasint ldb, const double be, double *c,
                     const blasint ldc) {
}
static void st_sgemm(const enum CBLAS_ORDER o, const enum CBLAS_TRANSPOSE ta, const enum CBLAS_TRANSPOSE tb,
                     const blasint m, const blasint n, const blasint k, const float al, const float *a,
                     const blasint lda, const float *b, const blasint ldb, const float be, float *c,
                     const blasint ldc) {
}
static void st_dsymm(const enum CBLAS_ORDER o, const enum CBLAS_SIDE s, const enum CBLAS_UPLO u, const blasint m,
                     const blasint n, const double al, const double *a, const blasint lda, const double *b,
                     const blasint ldb, const double be, double *c, const blasint ldc) {
}
static void st_dsyrk(const enum CBLAS_ORDER o, const enum CBLAS_UPLO u, const enum CBLAS_TRANSPOSE t,
                     const blasint n, const blasint k, const double al, const double *a, const blasint lda,
                     const double be, double *c, const blasint ldc) {
}
static char *st_get_config(void) { return (char *)"not loaded"; }
static int st_get_num_threads(void) { return 1; }
static void st_set_num_threads(int n) { (void)n; }
static lapack_int st_dsyevr(int o, char j, char r, char u, lapack_int n, double *a, lapack_int lda, double vl,
                            double vu, lapack_int il, lapack_int iu, double tol, lapack_int *m, double *w,
                            double *z, lapack_int ldz, lapack_int *sup) {
  return -1;
}
static double st_dlamch(char c) {
  return 0.0;
}
static lapack_int st_dgeqrf(int o, lapack_int m, lapack_int n, double *a, lapack_int lda, double *tau) {
  return -1;
}
static lapack_int st_dorgqr(int o, lapack_int m, lapack_int n, lapack_int k, double *a, lapack_int lda,
                            const double *tau) {
  return -1;
}
static lapack_int st_sgetrf(int o, lapack_int m, lapack_int n, float *a, lapack_int lda, lapack_int *ipiv) {
  return -1;
}
static lapack_int st_dstemr(int o, char j, char r, lapack_int n, double *d, double *e, double vl, double vu,
                            lapack_int il, lapack_int iu, lapack_int *m, double *w, double *z, lapack_int ldz,
                            lapack_int nzc, lapack_int *sup, lapack_logical *tryrac) {
  return -1;
}

ImgpcaBlasApi imgpca_blas_api = {st_daxpy, st_ddot, st_dnrm2, st_dscal, st_dgemv, st_sgemv, st_dsyr, st_dgemm, st_sgemm,
                                 st_dsymm, st_dsyrk, st_get_config, st_get_num_threads, st_set_num_threads, st_dsyevr, st_dlamch, st_dgeqrf, st_dorgqr, st_dstemr, st_sgetrf};
static pthread_once_t g_blas_once = PTHREAD_ONCE_INIT;
static int g_blas_rc = -1;
static char g_blas_err[256];

static void blas_once(void) {
  ImgpcaBlasApi a;
  char *e = g_blas_err;
  size_t n = sizeof g_blas_err;
  int bad = 0;
  void *hb = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
  void *hl = hb ? dlopen("liblapacke.so.3", RTLD_NOW | RTLD_LOCAL) : NULL;
  if (!hb || !hl) {
    const char *z = dlerror();
    snprintf(g_blas_err, sizeof g_blas_err, "cannot load '%s': %s", hb ? "liblapacke.so.3" : "libopenblas.so.0",
             z ? z : "unknown error");
    return;
  }
  memset(&a, 0, sizeof a);
  bad |= sym(hb, "cblas_daxpy", &a.daxpy, e, n);
  bad |= sym(hb, "cblas_ddot", &a.ddot, e, n);
  bad |= sym(hb, "cblas_dnrm2", &a.dnrm2, e, n);
  bad |= sym(hb, "cblas_dscal", &a.dscal, e, n);
  bad |= sym(hb, "cblas_dgemv", &a.dgemv, e, n);
  bad |= sym(hb, "cblas_sgemv", &a.sgemv, e, n);
  bad |= sym(hb, "cblas_dsyr", &a.dsyr, e, n);
  bad |= sym(hb, "cblas_dgemm", &a.dgemm, e, n);
  bad |= sym(hb, "cblas_sgemm", &a.sgemm, e, n);
  bad |= sym(hb, "cblas_dsymm", &a.dsymm, e, n);
  bad |= sym(hb, "cblas_dsyrk", &a.dsyrk, e, n);
  bad |= sym(hb, "openblas_get_config", &a.get_config, e, n);
  bad |= sym(hb, "openblas_get_num_threads", &a.get_num_threads, e, n);
  bad |= sym(hb, "openblas_set_num_threads", &a.set_num_threads, e, n);
  bad |= sym(hl, "LAPACKE_dsyevr", &a.dsyevr, e, n);
  bad |= sym(hl, "LAPACKE_dlamch", &a.dlamch, e, n);
  bad |= sym(hl, "LAPACKE_dgeqrf", &a.dgeqrf, e, n);
  bad |= sym(hl, "LAPACKE_dorgqr", &a.dorgqr, e, n);
  bad |= sym(hl, "LAPACKE_dstemr", &a.dstemr, e, n);
  bad |= sym(hl, "LAPACKE_sgetrf", &a.sgetrf, e, n);
  if (bad) return;
  imgpca_blas_api = a;
  __atomic_store_n(&g_blas_rc, 0, __ATOMIC_RELEASE);
}

int imgpca_blas_load(char *err) {
  if (__atomic_load_n(&g_blas_rc, __ATOMIC_ACQUIRE) == 0) return IMGPCA_OK;
  pthread_once(&g_blas_once, blas_once);
  if (g_blas_rc == 0) return IMGPCA_OK;
  if (err) imgpca_seterr(err, "%s", g_blas_err);
  return IMGPCA_ERROR;
}
