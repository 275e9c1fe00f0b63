/*
** Test-harness helper shared by tests/oom and tests/concurrency: runs SQL
** on a connection and renders every row into a text buffer (C heap, never
** through SQLite's allocator), so that two runs can be compared exactly.
** Blobs and long texts are rendered as length + FNV-1a hash.
*/
#ifndef IMGPCA_SQLRUN_H
#define IMGPCA_SQLRUN_H
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

typedef struct Out {
  char *z; /* rendering of every row, then "rc=..." / "error=..." */
  size_t n, cap;
  int rc; /* final primary result code */
} Out;

/* The harness's own buffers use the C heap (never fault-injected). */
static inline void out_add(Out *o, const char *z, size_t n) {
  if (o->n + n + 1 > o->cap) {
    size_t cap = (o->cap ? o->cap * 2 : 256);
    while (cap < o->n + n + 1) cap *= 2;
    o->z = realloc(o->z, cap);
    if (!o->z) {
      fprintf(stderr, "oom harness: out of C heap\n");
      exit(2);
    }
    o->cap = cap;
  }
  memcpy(o->z + o->n, z, n);
  o->n += n;
  o->z[o->n] = 0;
}

static inline void out_printf(Out *o, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  if ((size_t)n >= sizeof buf) n = sizeof buf - 1;
  out_add(o, buf, (size_t)n);
}

static inline uint64_t fnv1a(const unsigned char *p, size_t n) {
  uint64_t h = 1469598103934665603ULL;
  size_t i;
  for (i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
  return h;
}

/* Runs every statement of zSql, rendering rows into o.  Stops at the first
** error.  Values are read in their stored type only (no conversions, which
** could allocate and fail in a way that is the harness's, not imgpca's). */
static inline void run_sql(sqlite3 *db, const char *zSql, Out *o) {
  const char *zTail = zSql;
  o->rc = SQLITE_OK;
  while (zTail && *zTail) {
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, zTail, -1, &st, &zTail);
    if (rc != SQLITE_OK) {
      o->rc = rc & 0xff;
      out_printf(o, "error(prepare)=%s\n", sqlite3_errmsg(db));
      return;
    }
    if (!st) continue; /* whitespace or comment */
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      int i, nc = sqlite3_column_count(st);
      for (i = 0; i < nc; i++) {
        int t = sqlite3_column_type(st, i);
        if (i) out_add(o, "|", 1);
        switch (t) {
          case SQLITE_INTEGER: out_printf(o, "%lld", sqlite3_column_int64(st, i)); break;
          case SQLITE_FLOAT: out_printf(o, "%.17g", sqlite3_column_double(st, i)); break;
          case SQLITE_NULL: out_add(o, "NULL", 4); break;
          case SQLITE_TEXT: {
            const unsigned char *z = sqlite3_column_text(st, i);
            int n = sqlite3_column_bytes(st, i);
            if (!z) {
              out_add(o, "<text:nomem>", 12);
              break;
            }
            if (n <= 200)
              out_add(o, (const char *)z, (size_t)n);
            else
              out_printf(o, "text[%d]#%016llx", n, (unsigned long long)fnv1a(z, (size_t)n));
            break;
          }
          default: {
            const unsigned char *p = sqlite3_column_blob(st, i);
            int n = sqlite3_column_bytes(st, i);
            out_printf(o, "blob[%d]#%016llx", n, (unsigned long long)fnv1a(p, (size_t)n));
          }
        }
      }
      out_add(o, "\n", 1);
    }
    if (rc != SQLITE_DONE) {
      o->rc = sqlite3_errcode(db) & 0xff;
      if (o->rc == SQLITE_OK) o->rc = rc & 0xff;
      out_printf(o, "error=%s\n", sqlite3_errmsg(db));
      sqlite3_finalize(st);
      return;
    }
    rc = sqlite3_finalize(st);
    if (rc != SQLITE_OK) {
      o->rc = rc & 0xff;
      out_printf(o, "error(finalize)=%s\n", sqlite3_errmsg(db));
      return;
    }
  }
}

/* Case files: blocks separated by blank lines; "setup: SQL" lines run
** before each case of the block, every "sql: SQL" line is a case; "#" starts
** a comment; a line starting with whitespace continues the previous one. */
/* ---- cases ---------------------------------------------------------------- */

typedef struct Case {
  char *zSetup; /* may be empty */
  char *zSql;
  int line;
} Case;

static Case *g_cases;
static int g_nCase;

static inline char *xstrcat(char *a, const char *b) {
  size_t na = a ? strlen(a) : 0, nb = strlen(b);
  char *z = realloc(a, na + nb + 2);
  if (!z) exit(2);
  if (na) {
    z[na] = ' ';
    memcpy(z + na + 1, b, nb + 1);
  } else
    memcpy(z, b, nb + 1);
  return z;
}

static inline void load_cases(const char *zPath) {
  FILE *f = fopen(zPath, "r");
  char line[8192];
  char *zSetup = NULL;
  char **pLast = NULL; /* for continuation lines */
  int ln = 0;
  if (!f) {
    perror(zPath);
    exit(2);
  }
  while (fgets(line, sizeof line, f)) {
    size_t n = strlen(line);
    ln++;
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
    if (n == 0) {
      free(zSetup);
      zSetup = NULL;
      pLast = NULL;
      continue;
    }
    if (line[0] == '#') continue;
    if (line[0] == ' ' || line[0] == '\t') {
      if (!pLast) {
        fprintf(stderr, "%s:%d: continuation without a line\n", zPath, ln);
        exit(2);
      }
      *pLast = xstrcat(*pLast, line);
      continue;
    }
    if (strncmp(line, "setup:", 6) == 0) {
      zSetup = xstrcat(zSetup, line + 6);
      pLast = &zSetup;
    } else if (strncmp(line, "sql:", 4) == 0) {
      Case *c;
      g_cases = realloc(g_cases, sizeof(Case) * (size_t)(g_nCase + 1));
      if (!g_cases) exit(2);
      c = &g_cases[g_nCase++];
      c->zSetup = zSetup ? strdup(zSetup) : strdup("");
      c->zSql = strdup(line + 4);
      c->line = ln;
      pLast = &c->zSql;
    } else {
      fprintf(stderr, "%s:%d: expected 'setup:', 'sql:', '#' or a blank line\n", zPath, ln);
      exit(2);
    }
  }
  free(zSetup);
  fclose(f);
}

#endif
