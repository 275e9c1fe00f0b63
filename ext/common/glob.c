/*
** Glob matching of object keys and paths, and URI encoding (no SQL behaviour
** of their own; shared by the local and S3 backends of s3_list and by SigV4):
**   *      any run of characters within one '/'-separated segment
**   **     any run of characters across segments; between two slashes it
**          also matches zero segments (a, two stars, b matches "a/b")
**   ?      one character other than '/'
**   [...]  a character class: [abc], [a-z], negated with [!...] or [^...]
**   \x     the literal character x
** Matching is on bytes (UTF-8 keys compare byte-wise).
*/
#include <string.h>

#include "glob.h"

/* Matches a [...] class at p against c; *pEnd receives the position after ']'.
** Returns -1 when the class is not closed (then '[' is literal). */
static int class_match(const char *p, unsigned char c, const char **pEnd) {
  int neg = 0, ok = 0, first = 1;
  p++; /* '[' */
  if (*p == '!' || *p == '^') {
    neg = 1;
    p++;
  }
  while (*p && (first || *p != ']')) {
    unsigned char lo = (unsigned char)*p, hi;
    first = 0;
    if (lo == '\\' && p[1]) {
      p++;
      lo = (unsigned char)*p;
    }
    p++;
    hi = lo;
    if (*p == '-' && p[1] && p[1] != ']') {
      p++;
      hi = (unsigned char)*p;
      if (hi == '\\' && p[1]) {
        p++;
        hi = (unsigned char)*p;
      }
      p++;
    }
    if (c >= lo && c <= hi) ok = 1;
  }
  if (*p != ']') return -1;
  *pEnd = p + 1;
  return ok != neg;
}

/*
** Matching simulates the pattern as an automaton whose states are byte
** offsets in the pattern: a set of live offsets is advanced one character
** of the string at a time, so the cost is O(strlen(pattern) * strlen(str))
** whatever the pattern (a backtracking matcher is exponential in the number
** of stars, e.g. "*a*a*a...b" against "aaaa...").  Stars and "**" match the
** empty run, which is an epsilon move to the next token; "**" followed by
** '/' has a second epsilon move past that '/' (the zero-segment case).
*/
#define GLOB_STAR 1
#define GLOB_GLOBSTAR 2
#define GLOB_ANY 3
#define GLOB_CLASS 4
#define GLOB_LIT 5

/* Kind of the token at p, its length in *pLen and, for GLOB_LIT, its
** character in *pc. */
static int glob_token(const char *p, size_t *pLen, unsigned char *pc) {
  const char *end;
  *pc = (unsigned char)*p;
  *pLen = 1;
  switch (*p) {
    case '*':
      if (p[1] == '*') {
        *pLen = 2;
        return GLOB_GLOBSTAR;
      }
      return GLOB_STAR;
    case '?':
      return GLOB_ANY;
    case '[':
      if (class_match(p, 0, &end) >= 0) {
        *pLen = (size_t)(end - p);
        return GLOB_CLASS;
      }
      return GLOB_LIT; /* unclosed: literal '[' */
    case '\\':
      if (p[1]) {
        *pc = (unsigned char)p[1];
        *pLen = 2;
      }
      return GLOB_LIT;
    default:
      return GLOB_LIT;
  }
}

#define GLOB_SET(b, i) ((b)[(i) >> 3] |= (unsigned char)(1u << ((i)&7)))
#define GLOB_TEST(b, i) (((b)[(i) >> 3] >> ((i)&7)) & 1)

/* Adds the epsilon moves to the state set b (moves only go forward, so one
** ascending pass is a closure).  A "**" token at i has two states: i on
** entry and i+1 once it has consumed a character; only the entry state may
** skip a following '/' (zero segments). */
static void glob_closure(const char *p, size_t np, unsigned char *b) {
  size_t i, len;
  for (i = 0; i < np; i += len) {
    unsigned char c;
    int k = glob_token(p + i, &len, &c);
    if (k == GLOB_STAR) {
      if (GLOB_TEST(b, i)) GLOB_SET(b, i + 1);
    } else if (k == GLOB_GLOBSTAR) {
      if (GLOB_TEST(b, i)) {
        GLOB_SET(b, i + 2);
        if (p[i + 2] == '/') GLOB_SET(b, i + 3);
      }
      if (GLOB_TEST(b, i + 1)) GLOB_SET(b, i + 2);
    }
  }
}

static int glob_run(const char *p, size_t np, const unsigned char *s, unsigned char *cur,
                    unsigned char *next, size_t nb) {
  memset(cur, 0, nb);
  GLOB_SET(cur, 0);
  glob_closure(p, np, cur);
  for (; *s; s++) {
    unsigned char ch = *s, *t;
    size_t i, len;
    int live = 0;
    memset(next, 0, nb);
    for (i = 0; i < np; i += len) {
      unsigned char c;
      const char *end;
      int k = glob_token(p + i, &len, &c);
      if (k == GLOB_GLOBSTAR) {
        if (GLOB_TEST(cur, i) || GLOB_TEST(cur, i + 1)) {
          GLOB_SET(next, i + 1);
          live = 1;
        }
        continue;
      }
      if (!GLOB_TEST(cur, i)) continue;
      switch (k) {
        case GLOB_STAR:
          if (ch != '/') {
            GLOB_SET(next, i);
            live = 1;
          }
          break;
        case GLOB_ANY:
          if (ch != '/') {
            GLOB_SET(next, i + 1);
            live = 1;
          }
          break;
        case GLOB_CLASS:
          if (ch != '/' && class_match(p + i, ch, &end) == 1) {
            GLOB_SET(next, i + len);
            live = 1;
          }
          break;
        default:
          if (ch == c) {
            GLOB_SET(next, i + len);
            live = 1;
          }
          break;
      }
    }
    if (!live) return 0;
    glob_closure(p, np, next);
    t = cur;
    cur = next;
    next = t;
  }
  return GLOB_TEST(cur, np);
}

/* Patterns up to this length use state sets on the stack. */
#define GLOB_STACK_PATTERN 4096

int imgpca_glob_match(const char *zPattern, const char *zStr) {
  size_t np = strlen(zPattern), nb = np / 8 + 1;
  unsigned char aCur[GLOB_STACK_PATTERN / 8 + 1], aNext[GLOB_STACK_PATTERN / 8 + 1];
  unsigned char *heap;
  int r;
  if (np <= GLOB_STACK_PATTERN) return glob_run(zPattern, np, (const unsigned char *)zStr, aCur, aNext, nb);
  /* Longer patterns (no real key is that long): out of memory counts as no
  ** match. */
  heap = imgpca_malloc(2 * nb);
  if (!heap) return 0;
  r = glob_run(zPattern, np, (const unsigned char *)zStr, heap, heap + nb, nb);
  imgpca_free(heap);
  return r;
}

int imgpca_glob_has_magic(const char *zPattern) {
  const char *p;
  for (p = zPattern; *p; p++) {
    if (*p == '\\' && p[1]) {
      p++;
      continue;
    }
    if (*p == '*' || *p == '?' || *p == '[') return 1;
  }
  return 0;
}

size_t imgpca_glob_prefix(const char *zPattern, char **pzLiteral) {
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

/* ---- URI encoding (RFC 3986 unreserved characters kept) ---- */

int imgpca_uri_encode(ImgpcaBuf *b, const char *z, size_t n, int keepSlash) {
  static const char hx[] = "0123456789ABCDEF";
  size_t i;
  for (i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)z[i];
    if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
        ch == '-' || ch == '.' || ch == '_' || ch == '~' || (ch == '/' && keepSlash)) {
      imgpca_buf_append(b, &ch, 1);
    } else {
      char e[3] = {'%', hx[ch >> 4], hx[ch & 15]};
      imgpca_buf_append(b, e, 3);
    }
  }
  return b->oom ? IMGPCA_NOMEM : IMGPCA_OK;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int imgpca_uri_decode(char *z, int plus) {
  char *w = z;
  for (; *z; z++) {
    if (*z == '%') {
      int hi, lo;
      if (!z[1] || !z[2]) return 0;
      hi = hexval(z[1]);
      lo = hexval(z[2]);
      if (hi < 0 || lo < 0) return 0;
      if (hi == 0 && lo == 0) return 0; /* %00 would cut the string short */
      *w++ = (char)(hi * 16 + lo);
      z += 2;
    } else if (plus && *z == '+') {
      *w++ = ' ';
    } else {
      *w++ = *z;
    }
  }
  *w = 0;
  return 1;
}
