/*
** Shared pure-C helpers: error formatting, allocator hooks, byte buffer.
** No SQL behaviour lives here; see common.h for the conventions.
*/
#include <pthread.h>
#include "common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int imgpca_seterr(char *err, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, IMGPCA_ERRMAX, fmt, ap);
    va_end(ap);
  }
  return IMGPCA_ERROR;
}

static ImgpcaAllocator g_alloc = {malloc, realloc, free};
static pthread_mutex_t g_alloc_mu = PTHREAD_MUTEX_INITIALIZER;

/* Every connection's init calls this with the same allocator while other
** threads may already allocate: write only when the value changes, under a
** mutex, so that a reader that went through its own init (and so through
** this mutex) sees the stored value without a data race. */
void imgpca_set_allocator(const ImgpcaAllocator *a) {
  ImgpcaAllocator want = {malloc, realloc, free};
  if (a) want = *a;
  pthread_mutex_lock(&g_alloc_mu);
  if (g_alloc.xMalloc != want.xMalloc || g_alloc.xRealloc != want.xRealloc ||
      g_alloc.xFree != want.xFree) {
    g_alloc = want;
  }
  pthread_mutex_unlock(&g_alloc_mu);
}

void *imgpca_malloc(size_t n) { return g_alloc.xMalloc(n ? n : 1); }
void *imgpca_realloc(void *p, size_t n) { return g_alloc.xRealloc(p, n ? n : 1); }
void imgpca_free(void *p) {
  if (p) g_alloc.xFree(p);
}

int imgpca_mul_ok(size_t a, size_t b, size_t *out) {
  if (a && b > SIZE_MAX / a) return 0;
  *out = a * b;
  return 1;
}

void *imgpca_calloc(size_t n, size_t sz) {
  size_t t;
  void *p;
  if (!imgpca_mul_ok(n, sz, &t)) return NULL;
  p = imgpca_malloc(t);
  if (p) memset(p, 0, t);
  return p;
}

char *imgpca_strdup(const char *z) {
  size_t n;
  char *r;
  if (!z) return NULL;
  n = strlen(z) + 1;
  r = imgpca_malloc(n);
  if (r) memcpy(r, z, n);
  return r;
}

char *imgpca_mprintf(const char *fmt, ...) {
  va_list ap;
  int n;
  char *r;
  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return NULL;
  r = imgpca_malloc((size_t)n + 1);
  if (!r) return NULL;
  va_start(ap, fmt);
  vsnprintf(r, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return r;
}

void imgpca_buf_init(ImgpcaBuf *b) { memset(b, 0, sizeof(*b)); }

int imgpca_buf_reserve(ImgpcaBuf *b, size_t extra) {
  size_t need, cap;
  unsigned char *p;
  if (b->oom) return IMGPCA_NOMEM;
  if (extra > SIZE_MAX - b->n) {
    b->oom = 1;
    return IMGPCA_NOMEM;
  }
  need = b->n + extra;
  if (need <= b->cap) return IMGPCA_OK;
  cap = b->cap ? b->cap : 256;
  while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  p = imgpca_realloc(b->p, cap);
  if (!p) {
    b->oom = 1;
    return IMGPCA_NOMEM;
  }
  b->p = p;
  b->cap = cap;
  return IMGPCA_OK;
}

int imgpca_buf_append(ImgpcaBuf *b, const void *data, size_t n) {
  if (imgpca_buf_reserve(b, n)) return IMGPCA_NOMEM;
  if (n) memcpy(b->p + b->n, data, n);
  b->n += n;
  return IMGPCA_OK;
}

int imgpca_buf_printf(ImgpcaBuf *b, const char *fmt, ...) {
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) {
    b->oom = 1;
    return IMGPCA_NOMEM;
  }
  if (imgpca_buf_reserve(b, (size_t)n + 1)) return IMGPCA_NOMEM;
  va_start(ap, fmt);
  vsnprintf((char *)b->p + b->n, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->n += (size_t)n;
  return IMGPCA_OK;
}

void imgpca_buf_free(ImgpcaBuf *b) {
  imgpca_free(b->p);
  imgpca_buf_init(b);
}

unsigned char *imgpca_buf_detach(ImgpcaBuf *b, size_t *pn) {
  unsigned char *p = b->p;
  if (pn) *pn = b->n;
  imgpca_buf_init(b);
  return p;
}

int imgpca_buf_json_string(ImgpcaBuf *b, const char *z) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *p = (const unsigned char *)(z ? z : "");
  imgpca_buf_append(b, "\"", 1);
  for (; *p; p++) {
    unsigned char c = *p;
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      imgpca_buf_append(b, e, 2);
    } else if (c < 0x20) {
      char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      imgpca_buf_append(b, e, 6);
    } else {
      imgpca_buf_append(b, p, 1);
    }
  }
  return imgpca_buf_append(b, "\"", 1);
}
