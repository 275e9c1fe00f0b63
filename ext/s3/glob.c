/*
** Glob matching of object keys and paths (no SQL behaviour of its own; used
** by s3_list):
**   *      any run of characters within one '/'-separated segment
**   **     any run of characters across segments; between two slashes it
**          also matches zero segments (a, two stars, b matches "a/b")
**   ?      one character other than '/'
**   [...]  a character class: [abc], [a-z], negated with [!...] or [^...]
**   \x     the literal character x
** Matching is on bytes (UTF-8 keys compare byte-wise).
*/
#include "s3.h"

/* Matches a [...] class at p against c; *pEnd receives the position after ']'.
** Returns -1 when the class is not closed (then '[' is literal). */
static int class_match(const char *p, unsigned char c, const char **pEnd) {
  int neg = 0, ok = 0, first = 1;
  p++; /* '[' */
  if (*p == '!' || *p == '^') { neg = 1; p++; }
  while (*p && (first || *p != ']')) {
    unsigned char lo = (unsigned char)*p, hi;
    first = 0;
    if (lo == '\\' && p[1]) { p++; lo = (unsigned char)*p; }
    p++;
    hi = lo;
    if (*p == '-' && p[1] && p[1] != ']') {
      p++;
      hi = (unsigned char)*p;
      if (hi == '\\' && p[1]) { p++; hi = (unsigned char)*p; }
      p++;
    }
    if (c >= lo && c <= hi) ok = 1;
  }
  if (*p != ']') return -1;
  *pEnd = p + 1;
  return ok != neg;
}

static int match(const char *p, const char *s) {
  for (;;) {
    unsigned char c = (unsigned char)*p;
    if (c == 0) return *s == 0;
    if (c == '*') {
      if (p[1] == '*') {
        const char *rest = p + 2;
        /* "**" followed by '/' may also match zero segments. */
        if (*rest == '/' && match(rest + 1, s)) return 1;
        for (;;) {
          if (match(rest, s)) return 1;
          if (!*s) return 0;
          s++;
        }
      }
      p++;
      for (;;) {
        if (match(p, s)) return 1;
        if (!*s || *s == '/') return 0;
        s++;
      }
    }
    if (c == '?') {
      if (!*s || *s == '/') return 0;
      p++; s++;
      continue;
    }
    if (c == '[') {
      const char *end;
      int r;
      if (!*s) return 0;
      r = class_match(p, (unsigned char)*s, &end);
      if (r >= 0) {
        if (!r || *s == '/') return 0;
        p = end; s++;
        continue;
      }
      /* unclosed: literal '[' */
    }
    if (c == '\\' && p[1]) { p++; c = (unsigned char)*p; }
    if ((unsigned char)*s != c) return 0;
    p++; s++;
  }
}

int s3_glob_match(const char *zPattern, const char *zStr) {
  return match(zPattern, zStr);
}

int s3_glob_has_magic(const char *zPattern) {
  const char *p;
  for (p = zPattern; *p; p++) {
    if (*p == '\\' && p[1]) { p++; continue; }
    if (*p == '*' || *p == '?' || *p == '[') return 1;
  }
  return 0;
}

size_t s3_glob_prefix(const char *zPattern, char **pzLiteral) {
  const char *p;
  ImgpcaBuf b;
  imgpca_buf_init(&b);
  for (p = zPattern; *p; p++) {
    if (*p == '*' || *p == '?' || *p == '[') break;
    if (*p == '\\' && p[1]) p++;
    imgpca_buf_append(&b, p, 1);
  }
  if (pzLiteral) {
    imgpca_buf_append(&b, "", 1);
    *pzLiteral = b.oom ? NULL : (char *)imgpca_buf_detach(&b, NULL);
  }
  imgpca_buf_free(&b);
  return (size_t)(p - zPattern);
}
