/*
** Lazy loading of the two heavy libraries (no SQL behaviour of its own).
**
** libcurl (with its TLS, Kerberos, LDAP ... dependencies) and OpenBLAS (whose
** library constructor starts its thread pool) cost most of the extension's
** load time, yet only S3 access and PCA need them.  They are opened with
** dlopen at first use instead of being linked: imgpca_curl_load() /
** imgpca_blas_load() run once per process (pthread_once, thread-safe) and
** fill a table of function pointers; curl_global_init runs right after
** libcurl is opened, before any handle exists.
**
** Files calling libcurl include lazy_curl.h after <curl/curl.h>, files calling
** CBLAS/LAPACKE include lazy_blas.h after <cblas.h>/<lapacke.h>: the
** functions are redirected to the tables by macros, so the code reads as
** plain libcurl/CBLAS calls.  A function used without a redirect links the
** library directly again (the build still works; start-up gets slower, which
** bench/bench_startup.sh shows in its NEEDED line).
**
** Failure to open a library gives a clear error at the entry points that
** check (s3 client, PCA state/model); the handle constructors answer NULL and
** the BLAS table holds inert stubs, so nothing can call through NULL.
*/
#ifndef IMGPCA_LAZYLIB_H
#define IMGPCA_LAZYLIB_H

/* IMGPCA_OK, or IMGPCA_ERROR with "cannot load '<lib>': <dlerror>" in err
** (err may be NULL). */
int imgpca_curl_load(char *err);
int imgpca_blas_load(char *err);
/* Allocators handed to libcurl (curl_global_init_mem) when it is opened, if
** its version is >= 7.84 (thread-safe global init); without them, or with an
** older libcurl, curl_global_init.  Set before the first use of libcurl. */
#include <stddef.h>
typedef struct ImgpcaCurlMem {
  void *(*xMalloc)(size_t);
  void (*xFree)(void *);
  void *(*xRealloc)(void *, size_t);
  char *(*xStrdup)(const char *);
  void *(*xCalloc)(size_t, size_t);
} ImgpcaCurlMem;
void imgpca_curl_set_mem(const ImgpcaCurlMem *m);

/* 1 once the library is loaded (no loading). */
int imgpca_curl_loaded(void);

#endif
