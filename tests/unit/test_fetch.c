/* Unit tests of the concurrent fetch core (ext/fetch): the ordered window and
** the worker pool over local files.  A list mixing small and large images,
** missing files, a folder, a FIFO, a corrupt JPEG, an empty file and invalid
** URLs must give, for every thread count and window size, items in input
** order whose size, content and features equal a direct sequential read +
** img_features_blob, and whose error presence matches.  Freeing the fetcher
** early stops the workers with bounded work done (no leak under ASan; no
** data race under TSan: make test-tsan-fetch).  imgpca_cpus_available
** follows the affinity mask. */
#include <dirent.h>
#include <stdatomic.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/common.h"
#include "fetch/fetch.h"
#include "image/image.h"
#include "storage/storage.h"
#include "unit.h"

#define DATA "../shared/data"

typedef struct Ref {
  int64_t nSize;
  ImgpcaBuf body;
  unsigned char *pFeat;
  size_t nFeat;
  int bErr;
} Ref;

static char g_dir[256];
static char **g_urls;
static int g_n;

static void add_url(const char *z) {
  g_urls = realloc(g_urls, sizeof(char *) * (size_t)(g_n + 1));
  g_urls[g_n++] = strdup(z);
}

static int copy_file(const char *src, const char *dst, size_t nMax) {
  FILE *a = fopen(src, "rb"), *b;
  char buf[65536];
  size_t n, tot = 0;
  if (!a) return -1;
  b = fopen(dst, "wb");
  if (!b) {
    fclose(a);
    return -1;
  }
  while ((n = fread(buf, 1, sizeof buf, a)) > 0 && tot < nMax) {
    if (tot + n > nMax) n = nMax - tot;
    fwrite(buf, 1, n, b);
    tot += n;
  }
  fclose(a);
  fclose(b);
  return 0;
}

/* ~80 URLs: Fruits-360 images (one folder), photos (slower decodes, so that
** later items finish first), and every kind of failure. */
static void build_list(void) {
  DIR *d;
  struct dirent *e;
  char p[1024], q[1024];
  int k = 0;
  snprintf(g_dir, sizeof g_dir, "/tmp/imgpca-test-fetch.XXXXXX");
  if (!mkdtemp(g_dir)) {
    perror("mkdtemp");
    exit(2);
  }
  /* failures */
  snprintf(p, sizeof p, "%s/fifo", g_dir);
  mkfifo(p, 0600);
  snprintf(p, sizeof p, "%s/folder", g_dir);
  mkdir(p, 0700);
  snprintf(p, sizeof p, "%s/empty.jpg", g_dir);
  fclose(fopen(p, "wb"));
  snprintf(p, sizeof p, "%s/bus.jpg", g_dir);
  copy_file(DATA "/images-edge/photos/012mp-bus.jpg", p, (size_t)-1);
  snprintf(p, sizeof p, "%s/landscape.jpg", g_dir);
  copy_file(DATA "/images-edge/photos/Landscape_6.jpg", p, (size_t)-1);
  snprintf(q, sizeof q, "%s/truncated.jpg", g_dir);
  copy_file(DATA "/images-edge/photos/012mp-bus.jpg", q, 20000);
  d = opendir(DATA "/fruits360/Training/Banana 1");
  if (!d) {
    fprintf(stderr, "test data missing: %s\n", DATA);
    exit(2);
  }
  while ((e = readdir(d)) != NULL) {
    char *names[4];
    if (e->d_name[0] == '.') continue;
    snprintf(p, sizeof p, DATA "/fruits360/Training/Banana 1/%s", e->d_name);
    add_url(p);
    k++;
    if (k % 10 == 0) {
      snprintf(p, sizeof p, "%s/landscape.jpg", g_dir);
      add_url(p);
    }
    if (k % 7 == 0) {
      snprintf(p, sizeof p, "file://%s/landscape.jpg", g_dir); /* file:// URL of the same file */
      add_url(p);
    }
    if (k == 5) {
      snprintf(p, sizeof p, "%s/bus.jpg", g_dir);
      add_url(p);
    }
    if (k == 3 || k == 31) {
      asprintf(&names[0], "%s/no-such.jpg", g_dir);
      asprintf(&names[1], "%s/fifo", g_dir);
      asprintf(&names[2], "%s/folder", g_dir);
      asprintf(&names[3], "%s/truncated.jpg", g_dir);
      for (int i = 0; i < 4; i++) {
        add_url(names[i]);
        free(names[i]);
      }
      snprintf(p, sizeof p, "%s/empty.jpg", g_dir);
      add_url(p);
      add_url("http://example.com/x.jpg");
      add_url("");
    }
  }
  closedir(d);
}

static void ref_compute(const ImgSpec *spec, Ref *r) {
  char err[IMGPCA_ERRMAX];
  int nf, i, bDec;
  for (i = 0; i < g_n; i++) {
    memset(&r[i], 0, sizeof(Ref));
    if (imgpca_storage_read_local(g_urls[i], -1, &r[i].body, &nf, err) != IMGPCA_OK) {
      r[i].nSize = -1;
      r[i].bErr = 1;
      continue;
    }
    r[i].nSize = (int64_t)r[i].body.n;
    if (img_features_blob(r[i].body.p, r[i].body.n, spec, 100000000, &r[i].pFeat, &r[i].nFeat, &bDec, err))
      r[i].bErr = 1;
  }
}

/* One full run; returns the number of mismatches. */
static int run(const ImgSpec *spec, const Ref *r, int nThreads, int nWindow, int bContent, int bFeatures) {
  ImgpcaFetchOpts o;
  ImgpcaFetch *f;
  ImgpcaFetchItem *it;
  char err[IMGPCA_ERRMAX];
  int i, eof = 0, bad = 0, rc;
  memset(&o, 0, sizeof o);
  o.nThreads = nThreads;
  o.nInflight = 4;
  o.nWindow = nWindow;
  o.maxBytes = -1;
  o.bContent = bContent;
  o.bFeatures = bFeatures;
  o.spec = *spec;
  o.maxPixels = 100000000;
  CHECK_EQ_INT(imgpca_fetch_new(NULL, &o, &f, err), IMGPCA_OK);
  for (i = 0; i < g_n; i++) CHECK_EQ_INT(imgpca_fetch_add(f, g_urls[i]), IMGPCA_OK);
  for (i = 0; i <= g_n; i++) {
    rc = imgpca_fetch_next(f, &it, &eof, err);
    if (rc != IMGPCA_OK) {
      bad++;
      fprintf(stderr, "next failed: %s\n", err);
      break;
    }
    if (i == g_n) {
      if (!eof) bad++;
      break;
    }
    if (eof) {
      bad++;
      fprintf(stderr, "early eof at %d\n", i);
      break;
    }
    if (it->iItem != i || strcmp(it->zUrl, g_urls[i]) != 0) {
      bad++;
      fprintf(stderr, "order: %d got %lld\n", i, (long long)it->iItem);
      continue;
    }
    if (it->nSize != r[i].nSize) {
      bad++;
      fprintf(stderr, "size of %s: %lld vs %lld\n", g_urls[i], (long long)it->nSize, (long long)r[i].nSize);
    }
    if (bContent && r[i].nSize >= 0) {
      if (it->nContent != r[i].body.n || (it->nContent && memcmp(it->pContent, r[i].body.p, it->nContent))) bad++;
    } else if (it->pContent) {
      bad++;
    }
    if (bFeatures && r[i].pFeat) {
      if (!it->pFeat || it->nFeat != r[i].nFeat || memcmp(it->pFeat, r[i].pFeat, it->nFeat)) {
        bad++;
        fprintf(stderr, "features of %s differ\n", g_urls[i]);
      }
    } else if (it->pFeat) {
      bad++;
    }
    if ((it->zError != NULL) != (bFeatures ? r[i].bErr : r[i].nSize < 0)) {
      bad++;
      fprintf(stderr, "error of %s: %s (expected %s)\n", g_urls[i], it->zError ? it->zError : "none", r[i].bErr ? "one" : "none");
    }
  }
  if (nThreads > 0)
    CHECK(imgpca_fetch_threads(f) >= 1 && imgpca_fetch_threads(f) <= nThreads);
  else
    CHECK_EQ_INT(imgpca_fetch_threads(f), 0);
  imgpca_fetch_free(f);
  return bad;
}

static void test_errors_named(void) {
  ImgpcaFetchOpts o;
  ImgpcaFetch *f;
  ImgpcaFetchItem *it;
  char err[IMGPCA_ERRMAX], p[512];
  int eof;
  memset(&o, 0, sizeof o);
  o.nThreads = 2;
  o.nInflight = 2;
  o.maxBytes = -1;
  o.bFeatures = 1;
  img_spec_parse(NULL, &o.spec, err);
  CHECK_EQ_INT(imgpca_fetch_new(NULL, &o, &f, err), IMGPCA_OK);
  snprintf(p, sizeof p, "%s/fifo", g_dir);
  imgpca_fetch_add(f, p);
  snprintf(p, sizeof p, "%s/truncated.jpg", g_dir);
  imgpca_fetch_add(f, p);
  imgpca_fetch_add(f, "s3://bucket/key.jpg");
  CHECK_EQ_INT(imgpca_fetch_next(f, &it, &eof, err), IMGPCA_OK);
  snprintf(p, sizeof p, "'%s/fifo' is not a regular file (a fifo)", g_dir);
  CHECK_STR(it->zError, p);
  CHECK_EQ_INT(it->nSize, -1);
  CHECK_EQ_INT(imgpca_fetch_next(f, &it, &eof, err), IMGPCA_OK);
  CHECK(it->zError && strstr(it->zError, "features of '") && strstr(it->zError, "truncated.jpg': "));
  CHECK_EQ_INT(it->nSize, 20000);
  CHECK(it->pFeat == NULL);
  CHECK_EQ_INT(imgpca_fetch_next(f, &it, &eof, err), IMGPCA_OK);
  CHECK_STR(it->zError, "no S3 client for 's3://bucket/key.jpg'");
  CHECK_EQ_INT(imgpca_fetch_next(f, &it, &eof, err), IMGPCA_OK);
  CHECK_EQ_INT(eof, 1);
  CHECK_EQ_INT(imgpca_fetch_next(f, &it, &eof, err), IMGPCA_OK); /* eof is sticky */
  CHECK_EQ_INT(eof, 1);
  imgpca_fetch_free(f);
}

/* Freeing after a few items: workers stop; work started is bounded by the
** window, not by the list (memory bounded by the window). */
static void test_early_free(const ImgSpec *spec) {
  ImgpcaFetchOpts o;
  ImgpcaFetch *f;
  ImgpcaFetchItem *it;
  char err[IMGPCA_ERRMAX], p[512];
  int i, eof, nThreads[] = {1, 2, 4}, t;
  snprintf(p, sizeof p, "%s/bus.jpg", g_dir);
  for (t = 0; t < 3; t++) {
    memset(&o, 0, sizeof o);
    o.nThreads = nThreads[t];
    o.nInflight = 2;
    o.maxBytes = -1;
    o.bFeatures = 1;
    o.spec = *spec;
    CHECK_EQ_INT(imgpca_fetch_new(NULL, &o, &f, err), IMGPCA_OK);
    for (i = 0; i < 400; i++) imgpca_fetch_add(f, p);
    CHECK_EQ_INT(imgpca_fetch_window(f), 0); /* not started */
    for (i = 0; i < 3; i++) CHECK_EQ_INT(imgpca_fetch_next(f, &it, &eof, err), IMGPCA_OK);
    CHECK_EQ_INT(imgpca_fetch_window(f), 2 * nThreads[t] > 4 ? 2 * nThreads[t] : 4);
    CHECK(imgpca_fetch_started(f) <= 3 + imgpca_fetch_window(f));
    imgpca_fetch_free(f); /* workers busy on the photo, items queued */
  }
  /* freeing before the first item, and with nothing added */
  CHECK_EQ_INT(imgpca_fetch_new(NULL, &o, &f, err), IMGPCA_OK);
  imgpca_fetch_add(f, p);
  imgpca_fetch_free(f);
  CHECK_EQ_INT(imgpca_fetch_new(NULL, &o, &f, err), IMGPCA_OK);
  CHECK_EQ_INT(imgpca_fetch_next(f, &it, &eof, err), IMGPCA_OK);
  CHECK_EQ_INT(eof, 1);
  imgpca_fetch_free(f);
}


/* ---- out of memory in the workers: a failing allocator (thread-safe
** counters), the Nth allocation of a run fails (then, persistent mode, every
** later one too); each run ends with every item equal to the reference or
** with IMGPCA_NOMEM from imgpca_fetch_next, and frees everything (ASan). */
static atomic_long g_allocs, g_failAt, g_live;
static atomic_int g_persist, g_hit;
static int oom_fail(void) {
  long n, at = atomic_load(&g_failAt);
  if (!at) return 0;
  n = atomic_fetch_add(&g_allocs, 1) + 1;
  if (n == at || (atomic_load(&g_persist) && n > at)) {
    atomic_store(&g_hit, 1);
    return 1;
  }
  return 0;
}
static void *oom_malloc(size_t n) {
  void *p;
  if (oom_fail()) return NULL;
  p = malloc(n);
  if (p) atomic_fetch_add(&g_live, 1);
  return p;
}
static void *oom_realloc(void *p, size_t n) {
  void *q;
  if (oom_fail()) return NULL;
  q = realloc(p, n);
  if (q && !p) atomic_fetch_add(&g_live, 1);
  return q;
}
static void oom_free(void *p) {
  if (p) atomic_fetch_sub(&g_live, 1);
  free(p);
}

static void test_oom(const ImgSpec *spec) {
  static const ImgpcaAllocator fail = {oom_malloc, oom_realloc, oom_free}, plain = {malloc, realloc, free};
  ImgpcaFetchOpts o;
  char err[IMGPCA_ERRMAX], p[6][512];
  Ref r[6];
  long at;
  int i, mode, nRuns = 0, nNomem = 0, bad = 0;
  snprintf(p[0], sizeof p[0], DATA "/fruits360/Training/Banana 1/r_10_100.jpg");
  snprintf(p[1], sizeof p[1], "%s/no-such.jpg", g_dir);
  snprintf(p[2], sizeof p[2], "%s/truncated.jpg", g_dir);
  snprintf(p[3], sizeof p[3], DATA "/images-edge/pngsuite/png/basn2c08.png");
  snprintf(p[4], sizeof p[4], "%s/fifo", g_dir);
  snprintf(p[5], sizeof p[5], DATA "/fruits360/Training/Banana 1/r_11_100.jpg");
  for (i = 0; i < 6; i++) {
    int nf, bDec;
    memset(&r[i], 0, sizeof(Ref));
    if (imgpca_storage_read_local(p[i], -1, &r[i].body, &nf, err)) {
      r[i].nSize = -1;
      r[i].bErr = 1;
      continue;
    }
    r[i].nSize = (int64_t)r[i].body.n;
    if (img_features_blob(r[i].body.p, r[i].body.n, spec, 0, &r[i].pFeat, &r[i].nFeat, &bDec, err)) r[i].bErr = 1;
  }
  imgpca_set_allocator(&fail);
  for (mode = 0; mode < 2; mode++) {
    for (at = 1;; at++) {
      ImgpcaFetch *f = NULL;
      ImgpcaFetchItem *it;
      int eof = 0, rc = IMGPCA_OK, k;
      atomic_store(&g_allocs, 0);
      atomic_store(&g_live, 0);
      atomic_store(&g_hit, 0);
      atomic_store(&g_persist, mode);
      atomic_store(&g_failAt, at);
      memset(&o, 0, sizeof o);
      o.nThreads = 2;
      o.nInflight = 2;
      o.maxBytes = -1;
      o.bContent = 1;
      o.bFeatures = 1;
      o.spec = *spec;
      rc = imgpca_fetch_new(NULL, &o, &f, err);
      for (i = 0; rc == IMGPCA_OK && i < 6; i++) rc = imgpca_fetch_add(f, p[i]);
      for (k = 0; rc == IMGPCA_OK; k++) {
        rc = imgpca_fetch_next(f, &it, &eof, err);
        if (rc || eof) break;
        if (it->nSize != r[k].nSize || (it->zError != NULL) != r[k].bErr ||
            (r[k].pFeat && (!it->pFeat || memcmp(it->pFeat, r[k].pFeat, r[k].nFeat))) ||
            (r[k].nSize >= 0 && (it->nContent != r[k].body.n || memcmp(it->pContent, r[k].body.p, it->nContent)))) {
          bad++;
          fprintf(stderr, "oom %s at %ld: item %d differs (%s)\n", mode ? "persistent" : "transient", at, k,
                  it->zError ? it->zError : "no error");
        }
      }
      imgpca_fetch_free(f);
      atomic_store(&g_failAt, 0);
      nRuns++;
      if (rc == IMGPCA_NOMEM)
        nNomem++;
      else if (rc != IMGPCA_OK || (!eof && f))
        bad++;
      if (atomic_load(&g_live) != 0) {
        bad++;
        fprintf(stderr, "oom at %ld: %ld allocations not freed\n", at, (long)atomic_load(&g_live));
      }
      if (!atomic_load(&g_hit)) break; /* the run needed fewer allocations: done */
      if (at > 100000) break;
    }
  }
  imgpca_set_allocator(&plain);
  CHECK_EQ_INT(bad, 0);
  CHECK(nNomem > 10);
  printf("oom: %d runs, %d ended in IMGPCA_NOMEM\n", nRuns, nNomem);
  for (i = 0; i < 6; i++) {
    imgpca_buf_free(&r[i].body);
    imgpca_free(r[i].pFeat);
  }
}

static void test_cpus(void) {
  cpu_set_t old, one;
  int n = imgpca_cpus_available();
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  CHECK(n >= 1 && n <= online);
  if (sched_getaffinity(0, sizeof old, &old) == 0) {
    CPU_ZERO(&one);
    for (int c = 0; c < CPU_SETSIZE; c++)
      if (CPU_ISSET(c, &old)) {
        CPU_SET(c, &one);
        break;
      }
    if (sched_setaffinity(0, sizeof one, &one) == 0) {
      CHECK_EQ_INT(imgpca_cpus_available(), 1);
      sched_setaffinity(0, sizeof old, &old);
    }
  }
}

int main(void) {
  ImgSpec spec, spec2;
  char err[IMGPCA_ERRMAX], cmd[300];
  Ref *r, *r2;
  int i, t, w;
  int threads[] = {0, 1, 2, 4};
  int windows[] = {0, 1, 3};
  build_list();
  CHECK(g_n > 70);
  CHECK_EQ_INT(img_spec_parse("hist:bins=8,sqrt", &spec, err), IMGPCA_OK);
  CHECK_EQ_INT(img_spec_parse("pixels:size=12x10,color=grey,norm=standard;hog", &spec2, err), IMGPCA_OK);
  r = calloc((size_t)g_n, sizeof(Ref));
  r2 = calloc((size_t)g_n, sizeof(Ref));
  ref_compute(&spec, r);
  ref_compute(&spec2, r2);
  for (t = 0; t < 4; t++)
    for (w = 0; w < 3; w++) {
      int bad = run(&spec, r, threads[t], windows[w], (t + w) % 2, 1);
      if (bad) fprintf(stderr, "threads %d window %d: %d mismatches\n", threads[t], windows[w], bad);
      CHECK_EQ_INT(bad, 0);
    }
  CHECK_EQ_INT(run(&spec2, r2, 2, 0, 0, 1), 0);
  CHECK_EQ_INT(run(&spec, r, 2, 0, 1, 0), 0); /* no features: bodies only */
  test_errors_named();
  test_early_free(&spec);
  test_cpus();
  test_oom(&spec);
  for (i = 0; i < g_n; i++) {
    imgpca_buf_free(&r[i].body);
    imgpca_free(r[i].pFeat);
    imgpca_buf_free(&r2[i].body);
    imgpca_free(r2[i].pFeat);
    free(g_urls[i]);
  }
  free(r);
  free(r2);
  free(g_urls);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", g_dir);
  return UNIT_DONE();
}
