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
** 3. the shared MobileNets (MODELS_DIR), truncated at 64 points: must fail;
**    bit flips in their first 64 KiB (graph structure): never crash;
** 4. CnnLimits: a file, tensor or node count beyond the limits is refused.
*/
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cnn/cnn.h"

static int nFail, nChecks;

#define FAIL(...) \
  do { \
    printf("FAIL hostile: "); \
    printf(__VA_ARGS__); \
    printf("\n"); \
    nFail++; \
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

/* A clear error: non-empty, terminated within the buffer, printable. */
static int clear_error(const char *err) {
  size_t n = strnlen(err, IMGPCA_ERRMAX);
  if (n == 0 || n >= IMGPCA_ERRMAX) return 0;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)err[i] < 0x20 || err[i] == 0x7f) return 0;
  return 1;
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
    int st = try_model(p, n, NULL, 1, err);
    nChecks++;
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
    int st = try_model(q, k, NULL, 1, err);
    nChecks++;
    nTrunc++;
    if (st && !clear_error(err)) FAIL("valid_conv truncated to %zu bytes: stage %d without a clear error", k, st);
    if (!st) nOk++;
  }
  for (size_t i = 0; i < n * 8; i++) {
    memcpy(q, p, n);
    q[i / 8] ^= (unsigned char)(1u << (i % 8));
    int st = try_model(q, n, NULL, 1, err);
    nChecks++;
    nFlip++;
    if (st && !clear_error(err)) FAIL("valid_conv bit %zu flipped: stage %d without a clear error", i, st);
    if (!st) nOk++;
  }
  printf("ok   valid_conv: %d truncations, %d bit flips, %d still ran\n", nTrunc, nFlip, nOk);
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
    for (int k = 0; k < 64; k++) {
      size_t cut = (size_t)((double)n * 0.99 * k / 64);
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
    for (int k = 0; k < 300; k++) {
      seed = seed * 1103515245u + 12345u;
      size_t bit = (seed >> 4) % ((n < 65536 ? n : 65536) * 8);
      p[bit / 8] ^= (unsigned char)(1u << (bit % 8));
      int st = try_model(p, n, NULL, 0, err);
      p[bit / 8] ^= (unsigned char)(1u << (bit % 8));
      nChecks++;
      if (st && !clear_error(err)) FAIL("%s bit %zu flipped: no clear error", az[m], bit);
      if (!st) nOk++;
    }
    printf("ok   %s: 64 truncations refused, 300 bit flips (%d still planned)\n", az[m], nOk);
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
  named_cases(argv[2]);
  mutate_small(argv[2]);
  shared_models(argv[1]);
  printf("%s hostile models: %d checks, %d failures\n", nFail ? "FAIL" : "ok  ", nChecks, nFail);
  return nFail ? 1 : 0;
}
