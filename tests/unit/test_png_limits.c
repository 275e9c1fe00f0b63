/* Regression: a PNG declaring a huge ancillary chunk (length 0x70000000 in a
** 53-byte file) must fail cleanly without libpng allocating the declared
** length (the fuzzer's out-of-memory finding "1.8 GB PNG chunk allocation").
** Outside sanitizer builds the largest malloc() during the decode is
** measured by interposing malloc. */
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "image/image.h"
#include "unit.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PNGL_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define PNGL_SANITIZED 1
#endif

#ifndef PNGL_SANITIZED
#define PNGL_MEASURE 1
extern void *__libc_malloc(size_t);
static size_t pngl_largest = 0;
__attribute__((visibility("default"))) void *malloc(size_t n) {
  if (n > pngl_largest) pngl_largest = n;
  return __libc_malloc(n);
}
#endif

static unsigned long pngl_crc(const unsigned char *p, size_t n) {
  unsigned long c = 0xffffffffUL;
  size_t i;
  int k;
  for (i = 0; i < n; i++) {
    c ^= p[i];
    for (k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320UL & (0UL - (c & 1)));
  }
  return c ^ 0xffffffffUL;
}

static void put32(unsigned char *p, unsigned long v) {
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
}

/* signature + 8x8 RGB IHDR + a chunk of type zType declaring length nDecl
** followed by only a few bytes of data */
static size_t make_png(unsigned char *b, const char *zType, unsigned long nDecl) {
  static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
  size_t n = 0;
  memcpy(b, sig, 8);
  n = 8;
  put32(b + n, 13);
  memcpy(b + n + 4, "IHDR", 4);
  put32(b + n + 8, 8);
  put32(b + n + 12, 8);
  b[n + 16] = 8;
  b[n + 17] = 2;
  b[n + 18] = 0;
  b[n + 19] = 0;
  b[n + 20] = 0;
  put32(b + n + 21, pngl_crc(b + n + 4, 17));
  n += 25;
  put32(b + n, nDecl);
  memcpy(b + n + 4, zType, 4);
  memcpy(b + n + 8, "Title\0\0\0\0\0hi", 13);
  return n + 8 + 13;
}

static void check_huge_chunk(const char *zType, int lenient) {
  unsigned char png[64];
  size_t n = make_png(png, zType, 0x70000000UL);
  ImgDecodeOpts o;
  ImgImage im = {0, 0, NULL};
  ImgInfo info;
  char err[IMGPCA_ERRMAX];
  int rc;
  img_decode_opts_init(&o);
  o.lenient = lenient;
  err[0] = 0;
#ifdef PNGL_MEASURE
  pngl_largest = 0;
#endif
  rc = img_decode(png, n, &o, &im, &info, err);
  CHECK(rc != IMGPCA_OK);
  CHECK(im.px == NULL);
  CHECK(strncmp(err, "cannot decode png: ", 19) == 0);
#ifdef PNGL_MEASURE
  if (pngl_largest >= (64u << 20)) {
    fprintf(stderr, "%s chunk: malloc(%zu) during decode\n", zType, pngl_largest);
  }
  CHECK(pngl_largest < (64u << 20));
#endif
  img_image_free(&im);
}

int main(void) {
  int lenient;
  for (lenient = 0; lenient < 2; lenient++) {
    check_huge_chunk("iTXt", lenient);
    check_huge_chunk("tEXt", lenient);
    check_huge_chunk("zTXt", lenient);
    check_huge_chunk("iCCP", lenient);
    check_huge_chunk("eXIf", lenient);
    check_huge_chunk("prVt", lenient); /* unknown ancillary chunk */
  }
  return UNIT_DONE();
}
