/*
** Hostile ONNX models against the CNN loader and planner (ext/cnn/cnn.h),
** built with ASan/UBSan (make test-cnn-hostile):
**
**   hostile MODELS_DIR HOSTILE_DIR
**
** 1. every model of HOSTILE_DIR/cases.txt (tests/cnn/hostile_models.py:
**    cycles, missing initializers, short and oversized tensors, negative
**    dimensions, unsupported operators/attributes/domains, external data
**    escaping the folder, shape mismatches ...) must fail at its stage
**    ("load", "plan" or "any") with an error that is non-empty, printable,
**    and contains one of its keywords (why it failed);
** 2. the valid small model of that folder, truncated at every length and
**    with every single bit flipped: load, plan (declared shapes) and run
**    must either succeed or fail with a message -- never crash or leak;
** 3. the shared MobileNets (MODELS_DIR), truncated at 16 points: must fail;
**    24 bit flips in their first 64 KiB (graph structure): never crash;
** 4. CnnLimits: a file, tensor or node count beyond the limits is refused.
** Each case and each sweep runs in a child process (a hang -- 60 s alarm --
** or a crash in one does not hide the others; LeakSanitizer checks each).
*/
#include <ctype.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cnn/cnn.h"

static int nFail, nChecks;
static char zCurrent[300]; /* what is being tried, for the hang report */

/* A load, plan or run that takes more than 60 s hangs (they take
** milliseconds): report what was being tried and stop. */
static void on_alarm(int sig) {
  (void)sig;
  static const char z[] = "FAIL hostile: hang (no result in 60 s) on ";
  if (write(1, z, sizeof z - 1) < 0 || write(1, zCurrent, strlen(zCurrent)) < 0 || write(1, "\n", 1) < 0) _exit(1);
  _exit(1);
}

/* A failure; after 12 in one process (a sweep) only counted. */
#define FAIL(...) \
  do { \
    if (nFail++ < 12) { \
      printf("FAIL hostile: "); \
      printf(__VA_ARGS__); \
      printf("\n"); \
    } \
  } while (0)

static unsigned char *read_file(const char *zPath, size_t *pn) {
  FILE *f = fopen(zPath, "rb");
  unsigned char *p = NULL;
  long n;
  if (!f) return NULL;
  if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
    p = malloc((size_t)n + 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
      free(p);
      p = NULL;
    }
    *pn = (size_t)n;
  }
  fclose(f);
  return p;
}

/* A clear error: non-empty, terminated within the buffer, printable ASCII
** (names taken from a model are escaped, never echoed raw: a flipped bit
** must not put control characters or invalid UTF-8 into an error). */
static int clear_error(const char *err) {
  size_t n = strnlen(err, IMGPCA_ERRMAX);
  if (n == 0 || n >= IMGPCA_ERRMAX) return 0;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)err[i] < 0x20 || (unsigned char)err[i] >= 0x7f) return 0; /* control or not ASCII */
  return 1;
}

/* err with control and non-ASCII bytes as \xNN (for the report). */
static const char *escape(const char *err, char *out) {
  size_t j = 0;
  for (size_t i = 0; i < IMGPCA_ERRMAX && err[i]; i++) {
    unsigned char c = (unsigned char)err[i];
    if (c < 0x20 || c >= 0x7f)
      j += (size_t)sprintf(out + j, "\\x%02x", c);
    else
      out[j++] = (char)c;
  }
  out[j] = 0;
  return out;
}

/* 1 if err contains one of the '|'-separated keywords (case-insensitive). */
static int has_keyword(const char *err, const char *zKeys) {
  char buf[512];
  snprintf(buf, sizeof buf, "%s", zKeys);
  for (char *k = strtok(buf, "|"); k; k = strtok(NULL, "|"))
    if (strcasestr(err, k)) return 1;
  return 0;
}

/* Loads, plans with the declared input shapes (symbolic dimensions = 1,
** int64 inputs = zeros) and runs once.  Returns the stage that failed
** (1 load, 2 plan, 3 run) or 0; err holds its message. */
static int try_model(const unsigned char *p, size_t n, const CnnLimits *lim, int doRun, char *err) {
  CnnGraph *g = NULL;
  CnnPlan *plan = NULL;
  CnnWork *w = NULL;
  CnnFeed aFeed[8];
  int64_t *apI[8] = {0};
  float *apF[8] = {0}, *apOut[4] = {0};
  const float *apIn[8];
  const char *azOut[4];
  int nFeed = 0, nF = 0, nOut = 0, stage = 0;
  err[0] = 0;
  alarm(60);
  if (cnn_graph_load(p, n, lim, &g, err) != IMGPCA_OK) {
    if (g) FAIL("cnn_graph_load failed but returned a graph");
    return 1;
  }
  nFeed = cnn_graph_n_inputs(g);
  if (nFeed > 8) nFeed = 8;
  for (int i = 0; i < nFeed; i++) {
    CnnFeed *f = &aFeed[i];
    memset(f, 0, sizeof *f);
    f->zName = cnn_graph_input(g, i, &f->type, &f->shape);
    for (int d = 0; d < f->shape.nd; d++)
      if (f->shape.d[d] < 0) f->shape.d[d] = 1;
    size_t cnt = cnn_shape_count(&f->shape);
    if (cnt > ((size_t)1 << 24)) cnt = 0; /* not allocated: the plan must refuse or not need data */
    if (f->type == CNN_I64) {
      f->pI64 = apI[i] = calloc(cnt + 1, sizeof(int64_t));
    } else {
      apIn[nF++] = apF[i] = calloc(cnt + 1, sizeof(float));
    }
  }
  nOut = cnn_graph_n_outputs(g);
  if (nOut > 4) nOut = 4;
  for (int i = 0; i < nOut; i++) {
    int t;
    CnnShape s;
    azOut[i] = cnn_graph_output(g, i, &t, &s);
  }
  if (cnn_plan_new(g, nFeed, aFeed, nOut, azOut, &plan, err) != IMGPCA_OK) {
    stage = 2;
    goto done;
  }
  if (!doRun) goto done;
  for (int i = 0; i < nOut; i++) {
    size_t cnt = cnn_shape_count(cnn_plan_output_shape(plan, i));
    apOut[i] = malloc((cnt + 1) * sizeof(float));
  }
  for (int i = 0; i < nFeed; i++)
    if (aFeed[i].type != CNN_I64 && cnn_shape_count(&aFeed[i].shape) > ((size_t)1 << 24)) goto done;
  w = cnn_work_new(plan);
  if (!w || cnn_plan_run(plan, w, apIn, apOut, NULL, NULL, err) != IMGPCA_OK) stage = 3;
  if (!w) snprintf(err, IMGPCA_ERRMAX, "cnn_work_new returned NULL");
done:
  alarm(0);
  cnn_work_free(w);
  cnn_plan_free(plan);
  cnn_graph_release(g);
  for (int i = 0; i < 8; i++) {
    free(apI[i]);
    free(apF[i]);
  }
  for (int i = 0; i < 4; i++) free(apOut[i]);
  return stage;
}

/* Waits for a child that ran one case or sweep: a non-zero exit (failure,
** sanitizer report, leak, hang) or a signal is a failure. */
static void wait_child(pid_t pid, const char *zWhat) {
  int status = 0;
  if (pid < 0) {
    printf("FAIL hostile: fork failed for %s\n", zWhat);
    nFail++;
    return;
  }
  while (waitpid(pid, &status, 0) < 0) {
  }
  if (WIFSIGNALED(status)) {
    printf("FAIL hostile: %s: killed by signal %d\n", zWhat, WTERMSIG(status));
    nFail++;
  } else if (WEXITSTATUS(status) != 0) {
    nFail++;
  }
}

/* Runs fn(zArg) in a child process (one hang or crash does not hide the
** other checks). */
static void in_child(void (*fn)(const char *), const char *zArg, const char *zWhat) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    nFail = 0; /* the child's own count (and report cap) */
    fn(zArg);
    exit(nFail ? 1 : 0);
  }
  nChecks++;
  wait_child(pid, zWhat);
}

static void named_cases(const char *zDir) {
  char zPath[4096], zLine[1024];
  snprintf(zPath, sizeof zPath, "%s/cases.txt", zDir);
  FILE *f = fopen(zPath, "r");
  if (!f) {
    FAIL("cannot read %s", zPath);
    return;
  }
  while (fgets(zLine, sizeof zLine, f)) {
    char zFile[256], zStage[16], zKeys[512], err[IMGPCA_ERRMAX];
    size_t n;
    if (sscanf(zLine, "%255s %15s %511s", zFile, zStage, zKeys) != 3) continue;
    snprintf(zPath, sizeof zPath, "%s/%s", zDir, zFile);
    unsigned char *p = read_file(zPath, &n);
    if (!p) {
      FAIL("cannot read %s", zPath);
      continue;
    }
    snprintf(zCurrent, sizeof zCurrent, "%s", zFile);
    fflush(stdout);
    pid_t pid = fork();
    if (pid != 0) { /* parent (or fork failed): the child's exit status is the verdict */
      nChecks++;
      wait_child(pid, zFile);
      free(p);
      continue;
    }
    nFail = 0; /* child: its own verdict */
    int st = try_model(p, n, NULL, 1, err);
    if (strcmp(zStage, "none") == 0) {
      if (st) FAIL("%s: a valid model fails (stage %d): %s", zFile, st, err);
    } else if (st == 0) {
      FAIL("%s: accepted, expected a %s error", zFile, zStage);
    } else if (st == 3) {
      FAIL("%s: failed only when run (expected at %s): %s", zFile, zStage, err);
    } else if ((strcmp(zStage, "load") == 0 && st != 1) || (strcmp(zStage, "plan") == 0 && st != 2)) {
      FAIL("%s: failed at %s, expected at %s: %s", zFile, st == 1 ? "load" : "plan", zStage, err);
    } else if (!clear_error(err)) {
      FAIL("%s: empty or unprintable error", zFile);
    } else if (!has_keyword(err, zKeys)) {
      FAIL("%s: error does not say why (none of %s): %s", zFile, zKeys, err);
    } else {
      printf("ok   %-24s %s: %s\n", zFile, st == 1 ? "load" : "plan", err);
    }
    free(p);
    fclose(f);
    exit(nFail ? 1 : 0); /* child: a normal exit, so that LeakSanitizer checks it */
  }
  fclose(f);
}

/* Every truncation and every single-bit flip of a small model: no crash,
** and a failure always has a message. */
static void mutate_small(const char *zDir) {
  char zPath[4096], err[IMGPCA_ERRMAX];
  size_t n;
  snprintf(zPath, sizeof zPath, "%s/valid_conv.onnx", zDir);
  unsigned char *p = read_file(zPath, &n);
  if (!p) {
    FAIL("cannot read %s", zPath);
    return;
  }
  unsigned char *q = malloc(n + 1);
  int nTrunc = 0, nFlip = 0, nOk = 0;
  for (size_t k = 0; k < n; k++) {
    memcpy(q, p, k);
    snprintf(zCurrent, sizeof zCurrent, "valid_conv truncated to %zu bytes", k);
    int st = try_model(q, k, NULL, 1, err);
    nChecks++;
    nTrunc++;
    if (st && !clear_error(err)) {
      char esc[4 * IMGPCA_ERRMAX];
      FAIL("valid_conv truncated to %zu bytes: stage %d without a clear error: \"%s\"", k, st, escape(err, esc));
    }
    if (!st) nOk++;
  }
  for (size_t i = 0; i < n * 8; i++) {
    memcpy(q, p, n);
    q[i / 8] ^= (unsigned char)(1u << (i % 8));
    snprintf(zCurrent, sizeof zCurrent, "valid_conv with bit %zu flipped", i);
    int st = try_model(q, n, NULL, 1, err);
    nChecks++;
    nFlip++;
    if (st && !clear_error(err)) {
      char esc[4 * IMGPCA_ERRMAX];
      FAIL("valid_conv bit %zu flipped: stage %d without a clear error: \"%s\"", i, st, escape(err, esc));
    }
    if (!st) nOk++;
  }
  printf("%s valid_conv: %d truncations, %d bit flips, %d still ran, %d failures\n", nFail ? "FAIL" : "ok  ", nTrunc,
         nFlip, nOk, nFail);
  free(q);
  free(p);
}

static void shared_models(const char *zDir) {
  static const char *const az[] = {"mobilenet_v2_1.0_224.onnx", "mobilenet_v1_1.0_224_embedding.onnx"};
  char zPath[4096], err[IMGPCA_ERRMAX];
  for (int m = 0; m < 2; m++) {
    size_t n;
    snprintf(zPath, sizeof zPath, "%s/%s", zDir, az[m]);
    unsigned char *p = read_file(zPath, &n);
    if (!p) {
      FAIL("cannot read %s", zPath);
      continue;
    }
    /* truncated inside the graph: must fail, with a message */
    for (int k = 0; k < 16; k++) {
      size_t cut = (size_t)((double)n * 0.99 * k / 16);
      snprintf(zCurrent, sizeof zCurrent, "%s truncated to %zu bytes", az[m], cut);
      int st = try_model(p, cut, NULL, 0, err);
      nChecks++;
      if (st == 0)
        FAIL("%s truncated to %zu of %zu bytes: accepted", az[m], cut, n);
      else if (!clear_error(err))
        FAIL("%s truncated to %zu bytes: no clear error", az[m], cut);
    }
    /* bit flips in the first 64 KiB: never crash (plan only: a run of a
    ** 224x224 model under ASan is slow) */
    unsigned int seed = 20u + (unsigned)m;
    int nOk = 0;
    for (int k = 0; k < 24; k++) {
      seed = seed * 1103515245u + 12345u;
      size_t bit = (seed >> 4) % ((n < 65536 ? n : 65536) * 8);
      p[bit / 8] ^= (unsigned char)(1u << (bit % 8));
      snprintf(zCurrent, sizeof zCurrent, "%s with bit %zu flipped", az[m], bit);
      int st = try_model(p, n, NULL, 0, err);
      p[bit / 8] ^= (unsigned char)(1u << (bit % 8));
      nChecks++;
      if (st && !clear_error(err)) {
        char esc[4 * IMGPCA_ERRMAX];
        FAIL("%s bit %zu flipped: no clear error: \"%s\"", az[m], bit, escape(err, esc));
      }
      if (!st) nOk++;
    }
    printf("%s %s: 16 truncations, 24 bit flips (%d still planned), %d failures so far\n", nFail ? "FAIL" : "ok  ",
           az[m], nOk, nFail);
    /* limits */
    CnnLimits lim;
    memset(&lim, 0, sizeof lim);
    lim.maxBytes = (int64_t)n - 1;
    if (try_model(p, n, &lim, 0, err) != 1 || !clear_error(err))
      FAIL("%s: maxBytes %zu not enforced", az[m], n - 1);
    else
      printf("ok   %s: maxBytes: %s\n", az[m], err);
    memset(&lim, 0, sizeof lim);
    lim.maxElements = 1000; /* the first conv's weights hold 864, later ones more */
    if (try_model(p, n, &lim, 0, err) == 0 || !clear_error(err))
      FAIL("%s: maxElements 1000 not enforced", az[m]);
    else
      printf("ok   %s: maxElements: %s\n", az[m], err);
    memset(&lim, 0, sizeof lim);
    lim.maxNodes = 10;
    if (try_model(p, n, &lim, 0, err) != 1 || !clear_error(err))
      FAIL("%s: maxNodes 10 not enforced", az[m]);
    else
      printf("ok   %s: maxNodes: %s\n", az[m], err);
    nChecks += 3;
    free(p);
  }
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: hostile MODELS_DIR HOSTILE_DIR\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  signal(SIGALRM, on_alarm);
  named_cases(argv[2]);
  in_child(mutate_small, argv[2], "valid_conv sweeps");
  in_child(shared_models, argv[1], "MobileNet truncations, bit flips and limits");
  printf("%s hostile models: %d cases and sweeps, %d failed\n", nFail ? "FAIL" : "ok  ", nChecks, nFail);
  return nFail ? 1 : 0;
}
