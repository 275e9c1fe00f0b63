/*
** Benchmark driver for bench/bench_image.py (not part of the library).
**
**   image_driver LISTFILE BIGJPEG ROUNDS
**
** Reads every file named in LISTFILE into memory, then times (best of ROUNDS
** interleaved passes, microseconds per image):
**   tj_decode      bare tjDecompress2 to RGB (one handle, buffer reused)
**   sql_pixels32   SELECT img_features(?, 'pixels:size=32x32') via SQLite
**   sql_hist8      SELECT img_features(?, 'hist:bins=8,sqrt') via SQLite
**                  (default side=48: 100 px JPEGs histogrammed at 50x50)
**   sql_hist8_full the same with side=256 (full-resolution decode)
** and for BIGJPEG (one 12 MP photo): big_tj (full tjDecompress2),
** big_dct (img_features pixels 32x32 with DCT scaling) and big_full (same
** with decode:dct=off = full decode + area resize).  Prints "key value" lines.
*/
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <turbojpeg.h>

#include "imgpca.h"

typedef struct Blob {
  unsigned char *p;
  unsigned long n;
} Blob;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts); /* CPU time: robust to a shared, loaded machine */
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int slurp(const char *path, Blob *b) {
  FILE *f = fopen(path, "rb");
  long len;
  if (!f) return 1;
  fseek(f, 0, SEEK_END);
  len = ftell(f);
  fseek(f, 0, SEEK_SET);
  b->p = malloc((size_t)len);
  b->n = (unsigned long)len;
  if (!b->p || fread(b->p, 1, (size_t)len, f) != (size_t)len) {
    fclose(f);
    return 1;
  }
  fclose(f);
  return 0;
}

static unsigned char *tjbuf;
static size_t tjcap;

static int tj_one(tjhandle h, const Blob *b) {
  int w, hh, ss, cs;
  size_t need;
  if (tjDecompressHeader3(h, b->p, b->n, &w, &hh, &ss, &cs)) return 1;
  need = (size_t)w * hh * 3;
  if (need > tjcap) {
    free(tjbuf);
    tjbuf = malloc(need);
    tjcap = need;
  }
  return tjDecompress2(h, b->p, b->n, tjbuf, w, 0, hh, TJPF_RGB, 0) != 0;
}

static double time_tj(const Blob *a, int n, int rounds) {
  tjhandle h = tjInitDecompress();
  double best = 1e30;
  int r, i;
  for (r = 0; r < rounds; r++) {
    double t = now();
    for (i = 0; i < n; i++)
      if (tj_one(h, &a[i])) {
        fprintf(stderr, "tj error: %s\n", tjGetErrorStr2(h));
        exit(1);
      }
    t = now() - t;
    if (t < best) best = t;
  }
  tjDestroy(h);
  return best / n * 1e6;
}

static double time_sql(sqlite3 *db, const char *spec, const Blob *a, int n, int rounds) {
  sqlite3_stmt *st;
  double best = 1e30;
  int r, i;
  if (sqlite3_prepare_v2(db, "SELECT img_features(?1, ?2)", -1, &st, NULL)) {
    fprintf(stderr, "prepare: %s\n", sqlite3_errmsg(db));
    exit(1);
  }
  sqlite3_bind_text(st, 2, spec, -1, SQLITE_STATIC);
  for (r = 0; r < rounds; r++) {
    double t = now();
    for (i = 0; i < n; i++) {
      sqlite3_bind_blob(st, 1, a[i].p, (int)a[i].n, SQLITE_STATIC);
      if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_bytes(st, 0) <= 0) {
        fprintf(stderr, "img_features: %s\n", sqlite3_errmsg(db));
        exit(1);
      }
      sqlite3_reset(st);
    }
    t = now() - t;
    if (t < best) best = t;
  }
  sqlite3_finalize(st);
  return best / n * 1e6;
}

int main(int argc, char **argv) {
  FILE *lf;
  char line[4096];
  Blob *a = NULL, big;
  int n = 0, cap = 0, rounds;
  sqlite3 *db;
  if (argc != 4) {
    fprintf(stderr, "usage: image_driver LIST BIGJPEG ROUNDS\n");
    return 2;
  }
  rounds = atoi(argv[3]);
  lf = fopen(argv[1], "r");
  if (!lf) {
    perror(argv[1]);
    return 1;
  }
  while (fgets(line, sizeof line, lf)) {
    line[strcspn(line, "\n")] = 0;
    if (!*line) continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 1024;
      a = realloc(a, sizeof(Blob) * cap);
    }
    if (slurp(line, &a[n])) {
      perror(line);
      return 1;
    }
    n++;
  }
  fclose(lf);
  if (slurp(argv[2], &big)) {
    perror(argv[2]);
    return 1;
  }
  sqlite3_auto_extension((void (*)(void))sqlite3_imgpca_init);
  if (sqlite3_open(":memory:", &db)) return 1;

  printf("images %d\n", n);
  {
    /* Rounds interleave the tasks so that a change of machine load affects
    ** all of them alike; the best round of each task is reported. */
    double b_tj = 1e30, b_pix = 1e30, b_hist = 1e30, b_full = 1e30, t;
    double g_tj = 1e30, g_dct = 1e30, g_full = 1e30;
    int r;
    for (r = 0; r < rounds; r++) {
      if ((t = time_tj(a, n, 1)) < b_tj) b_tj = t;
      if ((t = time_sql(db, "pixels:size=32x32", a, n, 1)) < b_pix) b_pix = t;
      if ((t = time_sql(db, "hist:bins=8,sqrt", a, n, 1)) < b_hist) b_hist = t;
      if ((t = time_sql(db, "hist:bins=8,sqrt,side=256", a, n, 1)) < b_full) b_full = t;
      if ((t = time_tj(&big, 1, 1)) < g_tj) g_tj = t;
      if ((t = time_sql(db, "pixels:size=32x32", &big, 1, 1)) < g_dct) g_dct = t;
      if ((t = time_sql(db, "pixels:size=32x32;decode:dct=off", &big, 1, 1)) < g_full) g_full = t;
    }
    printf("tj_decode %.2f\nsql_pixels32 %.2f\nsql_hist8 %.2f\nsql_hist8_full %.2f\n", b_tj, b_pix, b_hist, b_full);
    printf("big_tj %.2f\nbig_dct %.2f\nbig_full %.2f\n", g_tj, g_dct, g_full);
  }
  sqlite3_close(db);
  return 0;
}
