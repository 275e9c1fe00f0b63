/*
** Pure-C helpers shared by every imgpca core (no SQLite types here):
** result codes, the error-buffer convention, allocator hooks, a growable
** byte buffer and little-endian float32 access.
**
** Convention: a core function returns IMGPCA_OK, IMGPCA_ERROR (with a
** message written into a caller-provided char[IMGPCA_ERRMAX]) or
** IMGPCA_NOMEM.  Messages follow "<what failed>[: <detail>]", lowercase,
** no trailing period; the SQL glue prefixes the SQL function name.
*/
#ifndef IMGPCA_COMMON_H
#define IMGPCA_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define IMGPCA_OK 0
#define IMGPCA_ERROR 1
#define IMGPCA_NOMEM 7     /* same value as SQLITE_NOMEM */
#define IMGPCA_INTERRUPT 9 /* same value as SQLITE_INTERRUPT: the caller asked to stop */

#define IMGPCA_ERRMAX 512

#if defined(__GNUC__)
#define IMGPCA_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define IMGPCA_PRINTF(a, b)
#endif

/* Writes a formatted message into err (size IMGPCA_ERRMAX); returns IMGPCA_ERROR. */
int imgpca_seterr(char *err, const char *fmt, ...) IMGPCA_PRINTF(2, 3);

/* Allocator used by the cores.  Defaults to malloc/realloc/free; the SQL
** entry point routes it through sqlite3_malloc64 so that SQLite's memory
** accounting and fault injection (SQLITE_CONFIG_MALLOC) see it. */
typedef struct ImgpcaAllocator {
  void *(*xMalloc)(size_t);
  void *(*xRealloc)(void *, size_t);
  void (*xFree)(void *);
} ImgpcaAllocator;
void imgpca_set_allocator(const ImgpcaAllocator *a);
void *imgpca_malloc(size_t n);
void *imgpca_calloc(size_t n, size_t sz); /* overflow-checked, zeroed */
void *imgpca_realloc(void *p, size_t n);
void imgpca_free(void *p);
char *imgpca_strdup(const char *z);
char *imgpca_mprintf(const char *fmt, ...) IMGPCA_PRINTF(1, 2);

/* Overflow-checked a*b; returns 0 on overflow. */
int imgpca_mul_ok(size_t a, size_t b, size_t *out);

/* Growable byte buffer. */
typedef struct ImgpcaBuf {
  unsigned char *p;
  size_t n;   /* bytes used */
  size_t cap; /* bytes allocated */
  int oom;    /* sticky: an append failed */
} ImgpcaBuf;
void imgpca_buf_init(ImgpcaBuf *b);
int imgpca_buf_reserve(ImgpcaBuf *b, size_t extra);
int imgpca_buf_append(ImgpcaBuf *b, const void *data, size_t n);
int imgpca_buf_printf(ImgpcaBuf *b, const char *fmt, ...) IMGPCA_PRINTF(2, 3);
void imgpca_buf_free(ImgpcaBuf *b);
/* Appends z as a JSON string literal (quoted, escaped). */
int imgpca_buf_json_string(ImgpcaBuf *b, const char *z);
/* Detaches the memory (caller frees with imgpca_free). */
unsigned char *imgpca_buf_detach(ImgpcaBuf *b, size_t *pn);

/* Little-endian float32 / integer access (host-independent). */
static inline float imgpca_get_f32(const unsigned char *p) {
  uint32_t u = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
      ((uint32_t)p[3] << 24);
  float f;
  memcpy(&f, &u, 4);
  return f;
}
static inline void imgpca_put_f32(unsigned char *p, float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  p[0] = (unsigned char)u;
  p[1] = (unsigned char)(u >> 8);
  p[2] = (unsigned char)(u >> 16);
  p[3] = (unsigned char)(u >> 24);
}
static inline uint32_t imgpca_get_u32(const unsigned char *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
      ((uint32_t)p[3] << 24);
}
static inline void imgpca_put_u32(unsigned char *p, uint32_t u) {
  p[0] = (unsigned char)u;
  p[1] = (unsigned char)(u >> 8);
  p[2] = (unsigned char)(u >> 16);
  p[3] = (unsigned char)(u >> 24);
}
static inline uint64_t imgpca_get_u64(const unsigned char *p) {
  return (uint64_t)imgpca_get_u32(p) | ((uint64_t)imgpca_get_u32(p + 4) << 32);
}
static inline void imgpca_put_u64(unsigned char *p, uint64_t u) {
  imgpca_put_u32(p, (uint32_t)u);
  imgpca_put_u32(p + 4, (uint32_t)(u >> 32));
}
static inline double imgpca_get_f64(const unsigned char *p) {
  uint64_t u = imgpca_get_u64(p);
  double d;
  memcpy(&d, &u, 8);
  return d;
}
static inline void imgpca_put_f64(unsigned char *p, double d) {
  uint64_t u;
  memcpy(&u, &d, 8);
  imgpca_put_u64(p, u);
}

/* CPUs this process may use (cpus.c): the sched_getaffinity mask, capped by
** the cgroup v2 cpu.max quota of its cgroup and their ancestors (rounded
** up); at least 1. */
int imgpca_cpus_available(void);

#endif /* IMGPCA_COMMON_H */
