/*
** Shortest round-trip formatting (see fmt.h); no SQL behaviour of its own.
**
** Method: the value is printed once with the maximal precision that always
** round-trips (17 significant digits for a double, 9 for a float; glibc's
** printf rounds exactly).  Shorter candidates are obtained by rounding that
** digit string; when the dropped digits are exactly "5000..." the string
** cannot tell which way the exact value rounds, and that candidate is printed
** again by printf at its own precision.  Each candidate is verified with
** strtod/strtof, so every output round-trips by construction.
**
** Search: any decimal of at most 15 (double) / 6 (float) significant digits
** maps to a distinct normal binary value (DBL_DIG / FLT_DIG), so when the
** 15- (6-) digit candidate round-trips it is the shortest once its trailing
** zeros are removed: typical data (0.1, 3.25, 1500) cost one printf and one
** strtod.  Otherwise 16 then 17 (7, 8, then 9) digits are tried.  For an
** exact power of two the rounding interval is narrower below the value than
** above, so when the nearest candidate fails, the next one up is tried too.
** Subnormals have fewer significant bits: their search starts at 1 digit.
**
** Floats take a faster path with the same search: a float has 24 significant
** bits, so scaling it by a power of ten in double arithmetic (relative error
** below 4e-16) gives its p-digit rounding exactly unless the scaled value is
** within 1e-6 of a rounding tie, and the candidate's value can be compared
** with the midpoints between the float and its neighbours (exact in double)
** unless it is within 1e-12 relative of one.  In those rare ambiguous cases
** the printf/strtof path above decides.
*/
#include "fmt.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Digits d[0..n) (no point) and decimal exponent x: value = 0.d * 10^(x+1),
** i.e. d[0] is the units digit of the scientific form. */
typedef struct Dec {
  char d[24];
  int n;
  int x;
} Dec;

/* Scientific printf of |v| with p significant digits into dec. */
static void dec_print(Dec *o, double a, int p) {
  char buf[48];
  int i, j = 0;
  snprintf(buf, sizeof buf, "%.*e", p - 1, a);
  for (i = 0; buf[i] && buf[i] != 'e'; i++)
    if (buf[i] >= '0' && buf[i] <= '9') o->d[j++] = buf[i];
  o->n = j;
  o->x = buf[i] == 'e' ? atoi(buf + i + 1) : 0;
}

/* Rounds the full-precision digits f to p digits into o.  Returns 0 when the
** dropped part is an exact half (the caller must print instead). */
static int dec_round(const Dec *f, int p, Dec *o) {
  int i, up;
  memcpy(o->d, f->d, (size_t)p);
  o->n = p;
  o->x = f->x;
  if (f->d[p] > '5')
    up = 1;
  else if (f->d[p] < '5')
    up = 0;
  else {
    for (i = p + 1; i < f->n && f->d[i] == '0'; i++) {}
    if (i == f->n) return 0; /* "5000...": a tie in the string only */
    up = 1;
  }
  if (up) {
    for (i = p - 1; i >= 0 && o->d[i] == '9'; i--) o->d[i] = '0';
    if (i >= 0) {
      o->d[i]++;
    } else { /* 999 -> 1000 */
      o->d[0] = '1';
      for (i = 1; i < p; i++) o->d[i] = '0';
      o->x++;
    }
  }
  return 1;
}

/* Adds one unit in the last place (magnitude up). */
static void dec_inc(Dec *o) {
  int i;
  for (i = o->n - 1; i >= 0 && o->d[i] == '9'; i--) o->d[i] = '0';
  if (i >= 0) {
    o->d[i]++;
  } else {
    o->d[0] = '1';
    for (i = 1; i < o->n; i++) o->d[i] = '0';
    o->x++;
  }
}

/* "d.ddde<x>" for strtod. */
static void dec_sci(const Dec *o, char *buf) {
  int i, k = 0;
  buf[k++] = o->d[0];
  if (o->n > 1) {
    buf[k++] = '.';
    for (i = 1; i < o->n; i++) buf[k++] = o->d[i];
  }
  snprintf(buf + k, 16, "e%d", o->x);
}

static int dec_ok(const Dec *o, double a, int isFloat) {
  char buf[48];
  dec_sci(o, buf);
  if (isFloat) return strtof(buf, NULL) == (float)a;
  return strtod(buf, NULL) == a;
}

/* Layout of sign + digits (see fmt.h). */
static int dec_emit(char *out, int neg, Dec *o) {
  int k = 0, i, x = o->x;
  while (o->n > 1 && o->d[o->n - 1] == '0') o->n--;
  if (neg) out[k++] = '-';
  if (x < -5 || x >= 17) {
    out[k++] = o->d[0];
    if (o->n > 1) {
      out[k++] = '.';
      for (i = 1; i < o->n; i++) out[k++] = o->d[i];
    }
    k += snprintf(out + k, 8, "e%c%02d", x < 0 ? '-' : '+', x < 0 ? -x : x);
    return k;
  }
  if (x < 0) {
    out[k++] = '0';
    out[k++] = '.';
    for (i = -1; i > x; i--) out[k++] = '0';
    for (i = 0; i < o->n; i++) out[k++] = o->d[i];
  } else {
    for (i = 0; i <= x; i++) out[k++] = i < o->n ? o->d[i] : '0';
    if (o->n > x + 1) {
      out[k++] = '.';
      for (i = x + 1; i < o->n; i++) out[k++] = o->d[i];
    }
  }
  out[k] = 0;
  return k;
}

static int fmt_shortest(char *out, double v, int isFloat) {
  int neg = signbit(v) != 0, p, pMin, pMax, pow2, e2;
  double a = fabs(v), m, halfUlp;
  Dec full, c;
  if (isnan(v)) {
    memcpy(out, "NaN", 4);
    return 3;
  }
  if (isinf(v)) {
    if (neg) {
      memcpy(out, "-Inf", 5);
      return 4;
    }
    memcpy(out, "Inf", 4);
    return 3;
  }
  if (a == 0) {
    if (neg) {
      memcpy(out, "-0", 3);
      return 2;
    }
    memcpy(out, "0", 2);
    return 1;
  }
  pMax = isFloat ? 9 : 17;
  pMin = isFloat ? FLT_DIG : DBL_DIG;
  if (a < (isFloat ? FLT_MIN : DBL_MIN)) pMin = 1; /* subnormal */
  m = frexp(a, &e2);
  pow2 = m == 0.5;
  dec_print(&full, a, pMax);
  /* half an ulp of a in units of the last printed digit: a candidate whose
  ** distance to the printed digits exceeds it (+0.5 for the printing's own
  ** rounding) cannot read back as a, so strtod is skipped for it */
  halfUlp = ldexp(1.0, e2 - (isFloat ? 25 : 54)) / pow(10.0, full.x - (pMax - 1));
  for (p = pMin; p < pMax; p++) {
    if (!pow2 && pMin > 1) {
      double drop = 0, unit = 1, dist;
      int i;
      for (i = pMax - 1; i >= p; i--, unit *= 10) drop += (full.d[i] - '0') * unit;
      dist = drop < unit / 2 ? drop : unit - drop;
      if (dist - 0.5 > halfUlp * 1.001) continue;
    }
    if (!dec_round(&full, p, &c)) dec_print(&c, a, p);
    if (dec_ok(&c, a, isFloat)) return dec_emit(out, neg, &c);
    if (pow2) {
      dec_inc(&c);
      if (dec_ok(&c, a, isFloat)) return dec_emit(out, neg, &c);
    }
  }
  return dec_emit(out, neg, &full);
}

int imgpca_fmt_double(char *out, double v) { return fmt_shortest(out, v, 0); }

/* 10^k, k = 0..45: exact up to 10^22, correctly rounded constants above */
static const double g_pow10[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22, 1e23, 1e24, 1e25, 1e26, 1e27, 1e28, 1e29, 1e30, 1e31,
    1e32, 1e33, 1e34, 1e35, 1e36, 1e37, 1e38, 1e39, 1e40, 1e41, 1e42, 1e43, 1e44, 1e45};

static double scale10(double a, int k) { return k >= 0 ? a * g_pow10[k] : a / g_pow10[-k]; }

/* Candidate of p digits for a normal float a > 0 with decimal exponent x
** (10^x <= a < 10^(x+1)).  Returns 1 with the digits in o, 0 if ambiguous. */
static int float_round(double a, int x, int p, double *pC) {
  double sc = scale10(a, p - 1 - x), fl = floor(sc), fr = sc - fl;
  if (fabs(fr - 0.5) < 1e-6) return 0;
  *pC = fr > 0.5 ? fl + 1 : fl;
  return 1;
}

/* 1 if C * 10^e reads back as the float a (lo, hi: midpoints to the
** neighbours), 0 if not, -1 if too close to call. */
static int float_check(double C, int e, double lo, double hi) {
  double r;
  if (e < -45 || e > 45) return -1;
  r = scale10(C, e);
  if (fabs(r - lo) <= r * 1e-12 || fabs(r - hi) <= r * 1e-12) return -1;
  return r > lo && r < hi;
}

static int float_emit(char *out, int neg, double C, int p, int x) {
  Dec o;
  unsigned long long u = (unsigned long long)C;
  int i;
  if (u >= 1000000000ull) return -1;
  /* C may have reached 10^p when rounding up: one digit more, x + 1 */
  if (C >= g_pow10[p]) {
    p++;
    x++;
  }
  for (i = p - 1; i >= 0; i--) {
    o.d[i] = (char)('0' + u % 10);
    u /= 10;
  }
  o.n = p;
  o.x = x;
  return dec_emit(out, neg, &o);
}

int imgpca_fmt_float(char *out, float v) {
  float fa = fabsf(v);
  double a = fa, lo, hi, C;
  int x, p, neg = signbit(v) != 0, pow2, e2, r;
  if (!isfinite(v) || fa < FLT_MIN) return fmt_shortest(out, (double)v, 1);
  lo = (a + (double)nextafterf(fa, 0.0f)) / 2;
  hi = fa == FLT_MAX ? a + (a - lo) : (a + (double)nextafterf(fa, INFINITY)) / 2;
  x = (int)floor(log10(a));
  if (scale10(a, -x) >= 10.0)
    x++;
  else if (scale10(a, -x) < 1.0)
    x--;
  pow2 = frexp(a, &e2) == 0.5;
  for (p = FLT_DIG; p < 9; p++) {
    if (!float_round(a, x, p, &C)) return fmt_shortest(out, (double)v, 1);
    r = float_check(C, x - p + 1, lo, hi);
    if (r < 0) return fmt_shortest(out, (double)v, 1);
    if (r) return float_emit(out, neg, C, p, x);
    if (pow2) {
      r = float_check(C + 1, x - p + 1, lo, hi);
      if (r < 0) return fmt_shortest(out, (double)v, 1);
      if (r) return float_emit(out, neg, C + 1, p, x);
    }
  }
  if (!float_round(a, x, 9, &C)) return fmt_shortest(out, (double)v, 1);
  r = float_check(C, x - 8, lo, hi);
  if (r != 1) return fmt_shortest(out, (double)v, 1);
  return float_emit(out, neg, C, 9, x);
}

/* ---- text for terminals --------------------------------------------------- */

/* Length of the UTF-8 sequence at p (n bytes left) and its code point; 0 if
** it is not valid UTF-8 (overlong, surrogate, above U+10FFFF, cut short). */
static int utf8_seq(const unsigned char *p, size_t n, unsigned *pc) {
  unsigned c = p[0], min;
  int len, i;
  if (c < 0x80) {
    *pc = c;
    return 1;
  }
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    c &= 0x1F;
    min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    c &= 0x0F;
    min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    c &= 0x07;
    min = 0x10000;
  } else {
    return 0;
  }
  if ((size_t)len > n) return 0;
  for (i = 1; i < len; i++) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    c = (c << 6) | (p[i] & 0x3F);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
  *pc = c;
  return len;
}

int imgpca_printable_append(ImgpcaBuf *b, const char *z, size_t n, int bBackslash) {
  const unsigned char *p = (const unsigned char *)z;
  size_t i = 0, start = 0;
  while (i < n) {
    unsigned c = 0;
    int len = utf8_seq(p + i, n - i, &c);
    int bad = len == 0 || c < 0x20 || c == 0x7F || (c >= 0x80 && c <= 0x9F) || c == 0x2028 || c == 0x2029 ||
        (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069) || (bBackslash && c == '\\');
    if (!bad) {
      i += (size_t)len;
      continue;
    }
    imgpca_buf_append(b, p + start, i - start);
    if (c == '\\' && len == 1)
      imgpca_buf_append(b, "\\\\", 2);
    else if (len <= 1)
      imgpca_buf_printf(b, "\\x%02x", p[i]);
    else
      imgpca_buf_printf(b, "\\u{%04x}", c);
    i += len ? (size_t)len : 1;
    start = i;
  }
  imgpca_buf_append(b, p + start, n - start);
  return b->oom ? IMGPCA_NOMEM : IMGPCA_OK;
}
