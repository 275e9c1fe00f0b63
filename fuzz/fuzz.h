/*
** Shared helpers of the libFuzzer targets (fuzz/fuzz_*.c).
**
** A target must never crash, hang, leak or trip a sanitizer on any input;
** where a core has an invariant that can be checked cheaply (a round trip,
** a bound on an output), the target checks it and calls fuzz_fail(), which
** aborts so that libFuzzer records the input as a finding.
*/
#ifndef IMGPCA_FUZZ_H
#define IMGPCA_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"

#define fuzz_fail(...) \
  do { \
    fprintf(stderr, "fuzz invariant failed (%s:%d): ", __FILE__, __LINE__); \
    fprintf(stderr, __VA_ARGS__); \
    fprintf(stderr, "\n"); \
    abort(); \
  } while (0)

/* An error result must carry a message: a non-empty NUL-terminated string
** within the buffer. */
static inline void fuzz_check_err(int rc, const char *err) {
  size_t n;
  if (rc != IMGPCA_ERROR) return;
  n = strnlen(err, IMGPCA_ERRMAX);
  if (n == 0 || n >= IMGPCA_ERRMAX) fuzz_fail("empty or unterminated error message");
}

/* A heap copy of the input with a terminating NUL (the data libFuzzer passes
** is not terminated; cores that take a C string get this). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size) {
  char *z = malloc(size + 1);
  if (!z) return NULL;
  memcpy(z, data, size);
  z[size] = 0;
  return z;
}

#endif
