/*
** Fuzz target: the ONNX model loader and planner of the CNN core
** (ext/cnn/cnn.h: cnn_graph_load, cnn_plan_new, cnn_plan_run).
**
** Input: an ONNX model file.  Limits for the run: 4 MiB files, 2^20-element
** tensors, 4096 nodes, so that no input can make the loader allocate
** without bound (libFuzzer's -malloc_limit_mb catches it if it tries).  A
** model that loads is planned with its declared input shapes (symbolic
** dimensions = 1, int64 inputs = zeros); a plan whose inputs hold at most
** 2^16 floats and whose scratch is at most 16 MiB is run once.
** Invariants: a failure carries a message; a plan's output shapes have no
** negative dimension.  Seeds:
** small models of the ONNX node tests (libonnx-testdata), the hostile
** models of tests/cnn/hostile_models.py, and the first 4 KiB / 64 KiB of
** the shared MobileNets (fuzz/seed-gen.sh).
*/
#include "cnn/cnn.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  CnnLimits lim = {(int64_t)4 << 20, (int64_t)1 << 20, 4096};
  CnnGraph *g = NULL;
  CnnPlan *plan = NULL;
  CnnWork *w = NULL;
  CnnFeed aFeed[8];
  int64_t *apI[8] = {0};
  float *apF[8] = {0}, *apOut[4] = {0};
  const float *apIn[8];
  const char *azOut[4];
  char err[IMGPCA_ERRMAX];
  int nFeed, nF = 0, nOut, rc, t;
  size_t total = 0;
  CnnShape s;

  err[0] = 0;
  rc = cnn_graph_load(data, size, &lim, &g, err);
  fuzz_check_err(rc, err);
  if (rc != IMGPCA_OK) return 0;
  if (cnn_graph_n_outputs(g) < 0) fuzz_fail("a negative output count");
  nFeed = cnn_graph_n_inputs(g);
  if (nFeed > 8) goto done;
  for (int i = 0; i < nFeed; i++) {
    CnnFeed *f = &aFeed[i];
    memset(f, 0, sizeof *f);
    f->zName = cnn_graph_input(g, i, &f->type, &f->shape);
    for (int d = 0; d < f->shape.nd; d++)
      if (f->shape.d[d] < 0) f->shape.d[d] = 1;
    size_t cnt = cnn_shape_count(&f->shape);
    if (cnt > ((size_t)1 << 16)) goto done;
    total += cnt;
    if (f->type == CNN_I64) {
      f->pI64 = apI[i] = calloc(cnt + 1, sizeof(int64_t));
    } else {
      apIn[nF++] = apF[i] = calloc(cnt + 1, sizeof(float));
    }
  }
  nOut = cnn_graph_n_outputs(g);
  if (nOut > 4) nOut = 4;
  if (nOut < 1) goto done; /* a graph without outputs loads (img_model_info) but has nothing to plan */
  for (int i = 0; i < nOut; i++) azOut[i] = cnn_graph_output(g, i, &t, &s);
  err[0] = 0;
  rc = cnn_plan_new(g, nFeed, aFeed, nOut, azOut, &plan, err);
  fuzz_check_err(rc, err);
  if (rc != IMGPCA_OK) goto done;
  for (int i = 0; i < nOut; i++) {
    const CnnShape *o = cnn_plan_output_shape(plan, i);
    for (int d = 0; d < o->nd; d++)
      if (o->d[d] < 0) fuzz_fail("output %d has dimension %lld", i, (long long)o->d[d]);
    size_t cnt = cnn_shape_count(o);
    if (cnt > ((size_t)1 << 22)) goto done;
    apOut[i] = malloc((cnt + 1) * sizeof(float));
    if (!apOut[i]) goto done;
  }
  if (total > ((size_t)1 << 16) || cnn_plan_work_bytes(plan) > ((size_t)16 << 20)) goto done;
  w = cnn_work_new(plan);
  if (!w) goto done;
  err[0] = 0;
  rc = cnn_plan_run(plan, w, apIn, apOut, NULL, NULL, err);
  fuzz_check_err(rc, err);
done:
  cnn_work_free(w);
  cnn_plan_free(plan);
  cnn_graph_release(g);
  for (int i = 0; i < 8; i++) {
    free(apI[i]);
    free(apF[i]);
  }
  for (int i = 0; i < 4; i++) free(apOut[i]);
  return 0;
}
