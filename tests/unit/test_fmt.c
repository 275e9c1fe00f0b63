/* Unit tests of the shortest round-trip formatter (ext/common/fmt.c):
** 10^6 random doubles and floats (all bit patterns: every exponent,
** subnormals) read back exactly with strtod/strtof; edge cases print as
** expected; no output is longer than the %.17g / %.9g it replaces. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/fmt.h"
#include "unit.h"

static uint64_t g_s = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {
  g_s ^= g_s << 13;
  g_s ^= g_s >> 7;
  g_s ^= g_s << 17;
  return g_s;
}

static int sig_digits(const char *z) {
  int n = 0, lead = 1, trail = 0;
  for (; *z && *z != 'e' && *z != 'E'; z++) {
    if (*z < '0' || *z > '9') continue;
    if (lead && *z == '0') continue;
    lead = 0;
    n++;
    trail = *z == '0' ? trail + 1 : 0;
  }
  return n - trail;
}

static void check_double(double v, const char *expect) {
  char b[IMGPCA_FMT_MAX];
  int n = imgpca_fmt_double(b, v);
  CHECK_EQ_INT(n, (long long)strlen(b));
  if (expect) CHECK_STR(b, expect);
}

static void check_float(float v, const char *expect) {
  char b[IMGPCA_FMT_MAX];
  int n = imgpca_fmt_float(b, v);
  CHECK_EQ_INT(n, (long long)strlen(b));
  if (expect) CHECK_STR(b, expect);
}

/* Text for terminals (round 3, item 11): what is escaped and what is kept. */
static void check_printable(const char *in, size_t n, int bBackslash, const char *want) {
  ImgpcaBuf b;
  imgpca_buf_init(&b);
  CHECK_EQ_INT(imgpca_printable_append(&b, in, n, bBackslash), IMGPCA_OK);
  imgpca_buf_append(&b, "", 1);
  CHECK_STR((const char *)b.p, want);
  imgpca_buf_free(&b);
}

#define CHECK_PRINTABLE(in, bs, want) check_printable(in, sizeof(in) - 1, bs, want)

static void test_printable(void) {
  CHECK_PRINTABLE("plain \xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8d\x8e", 1,
                  "plain \xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8d\x8e");
  CHECK_PRINTABLE(
      "a\x1b]0;x\x07"
      "b\n\t\x7f",
      1, "a\\x1b]0;x\\x07b\\x0a\\x09\\x7f");
  CHECK_PRINTABLE("c1 \xc2\x9b end", 1, "c1 \\u{009b} end");
  CHECK_PRINTABLE("bidi \xe2\x80\xae \xe2\x81\xa6 \xe2\x80\xa8", 1, "bidi \\u{202e} \\u{2066} \\u{2028}");
  CHECK_PRINTABLE("bad \xff \xc0\xaf \xed\xa0\x80 \xe2\x82", 1,
                  "bad \\xff \\xc0\\xaf \\xed\\xa0\\x80 \\xe2\\x82");
  CHECK_PRINTABLE("a\\b", 1, "a\\\\b");
  CHECK_PRINTABLE("a\\b\x1b", 0, "a\\b\\x1b");
  CHECK_PRINTABLE("nul\0x", 1, "nul\\x00x");
}

int main(void) {
  char b[IMGPCA_FMT_MAX], ref[64];
  test_printable();
  long i, bad = 0, longer = 0;
  int k;
  /* edge cases */
  check_double(0.1, "0.1");
  check_double(0.3, "0.3");
  check_double(1.0 / 3, "0.3333333333333333");
  check_double(100, "100");
  check_double(-3, "-3");
  check_double(123.25, "123.25");
  check_double(0.0, "0");
  check_double(-0.0, "-0");
  check_double(1e20, "1e+20");
  check_double(1e16, "10000000000000000");
  check_double(1e17, "1e+17");
  check_double(1e-5, "0.00001");
  check_double(1e-6, "1e-06");
  check_double(5e-324, "5e-324"); /* smallest subnormal */
  check_double(DBL_MIN, "2.2250738585072014e-308");
  check_double(DBL_MAX, "1.7976931348623157e+308");
  check_double(9007199254740993.0, "9007199254740992");
  check_double(NAN, "NaN");
  check_double(INFINITY, "Inf");
  check_double(-INFINITY, "-Inf");
  check_float(0.1f, "0.1");
  check_float(1.0f / 3, "0.33333334");
  check_float(16777216.0f, "16777216");
  check_float(16777217.0f, "16777216");
  check_float(1e10f, "10000000000");
  check_float(FLT_MAX, "3.4028235e+38");
  check_float(FLT_MIN, "1.1754944e-38");
  check_float(1.4e-45f, "1e-45"); /* smallest subnormal */
  check_float(-0.0f, "-0");
  check_float(NAN, "NaN");
  check_float(-INFINITY, "-Inf");
  /* powers of ten and of two */
  for (k = -300; k <= 300; k++) {
    double v;
    snprintf(ref, sizeof ref, "1e%d", k);
    v = strtod(ref, NULL);
    imgpca_fmt_double(b, v);
    if (strtod(b, NULL) != v || sig_digits(b) != 1) bad++;
  }
  for (k = -1074; k <= 1023; k++) {
    double v = ldexp(1.0, k);
    imgpca_fmt_double(b, v);
    if (strtod(b, NULL) != v) bad++;
  }
  for (k = -149; k <= 127; k++) {
    float v = ldexpf(1.0f, k);
    imgpca_fmt_float(b, v);
    if (strtof(b, NULL) != v) bad++;
  }
  for (k = -45; k <= 38; k++) {
    float v;
    snprintf(ref, sizeof ref, "1e%d", k);
    v = strtof(ref, NULL);
    imgpca_fmt_float(b, v);
    if (strtof(b, NULL) != v || sig_digits(b) != 1) bad++;
  }
  CHECK_EQ_INT(bad, 0);
  /* integers print without fraction or exponent below 10^17 */
  for (i = -1000; i <= 1000; i++) {
    snprintf(ref, sizeof ref, "%ld", i);
    imgpca_fmt_double(b, (double)i);
    if (strcmp(b, i == 0 ? "0" : ref)) bad++;
    imgpca_fmt_float(b, (float)i);
    if (strcmp(b, i == 0 ? "0" : ref)) bad++;
  }
  CHECK_EQ_INT(bad, 0);
  /* 10^6 random bit patterns of each type: exact round trip, never longer */
  for (i = 0; i < 1000000; i++) {
    uint64_t u = rnd();
    uint32_t w = (uint32_t)(u >> 32);
    double d;
    float f;
    memcpy(&d, &u, 8);
    memcpy(&f, &w, 4);
    if (isfinite(d)) {
      imgpca_fmt_double(b, d);
      if (strtod(b, NULL) != d || signbit(strtod(b, NULL)) != signbit(d)) bad++;
      snprintf(ref, sizeof ref, "%.17g", d);
      if (sig_digits(b) > sig_digits(ref)) longer++;
    }
    if (isfinite(f)) {
      imgpca_fmt_float(b, f);
      if (strtof(b, NULL) != f) bad++;
      snprintf(ref, sizeof ref, "%.9g", (double)f);
      if (sig_digits(b) > sig_digits(ref)) longer++;
    }
    /* and values of everyday size */
    d = (double)(u >> 11) / 9007199254740992.0 * 1000.0;
    f = (float)d;
    imgpca_fmt_double(b, d);
    if (strtod(b, NULL) != d) bad++;
    imgpca_fmt_float(b, f);
    if (strtof(b, NULL) != f) bad++;
  }
  CHECK_EQ_INT(bad, 0);
  CHECK_EQ_INT(longer, 0);
  return UNIT_DONE();
}
