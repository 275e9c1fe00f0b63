/* Minimal unit-test macros for the pure-C cores. */
#ifndef IMGPCA_UNIT_H
#define IMGPCA_UNIT_H
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
static int unit_fail = 0, unit_count = 0;
#define CHECK(c) \
  do { \
    unit_count++; \
    if (!(c)) { \
      unit_fail++; \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
    } \
  } while (0)
#define CHECK_EQ_INT(a, b) \
  do { \
    long long _a = (a), _b = (b); \
    unit_count++; \
    if (_a != _b) { \
      unit_fail++; \
      fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a, _a, _b); \
    } \
  } while (0)
#define CHECK_STR(a, b) \
  do { \
    const char *_a = (a), *_b = (b); \
    unit_count++; \
    if (!_a || strcmp(_a, _b)) { \
      unit_fail++; \
      fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a, _a ? _a : "(null)", _b); \
    } \
  } while (0)
#define CHECK_NEAR(a, b, tol) \
  do { \
    double _a = (a), _b = (b); \
    unit_count++; \
    if (!(fabs(_a - _b) <= (tol))) { \
      unit_fail++; \
      fprintf(stderr, "%s:%d: %s == %.17g, expected %.17g\n", __FILE__, __LINE__, #a, _a, _b); \
    } \
  } while (0)
/* Captures what the code under test writes on stderr (warnings):
**   UnitStderr cap; unit_stderr_begin(&cap); ...; unit_stderr_end(&cap, buf, sizeof buf); */
typedef struct UnitStderr {
  int fd;
  FILE *f;
} UnitStderr;
static inline void unit_stderr_begin(UnitStderr *c) {
  c->fd = dup(2);
  c->f = tmpfile();
  fflush(stderr);
  dup2(fileno(c->f), 2);
}
static inline void unit_stderr_end(UnitStderr *c, char *buf, size_t nBuf) {
  size_t n;
  fflush(stderr);
  dup2(c->fd, 2);
  close(c->fd);
  rewind(c->f);
  n = fread(buf, 1, nBuf - 1, c->f);
  buf[n] = 0;
  fclose(c->f);
}
#define UNIT_DONE() (printf("%d checks\n", unit_count), unit_fail ? 1 : 0)
#endif
