/*
** ONNX operator conformance of the CNN core (ext/cnn/cnn.h) against the
** ONNX project's own node tests (Debian libonnx-testdata):
**
**   conformance [DATA_DIR]     default /usr/share/libonnx-testdata/data/node
**
** A case is a directory test_<op>[_...] whose name starts with the lower-case
** name of a supported operator and whose graph holds a node of that operator
** (test_convinteger_* does not match "conv_"; test_gather_elements_* matches
** "gather" but holds GatherElements: listed as "other operator", not run).
** An expanded case (test_hardswish_expanded: the operator written as its
** function body) runs if every node is a supported operator.  For each case: model.onnx is loaded with
** cnn_graph_load, every test_data_set_N is planned with the shapes of its
** input_K.pb (int64 inputs become constant feeds with their values), run,
** and every output compared with output_K.pb.
**
** Comparison rule: |got - want| <= 1e-5 * max(1, |want|) for every element
** (NaN only equals NaN, an infinity only itself), and the output shapes must
** have the same element count and the same dimensions.
**
** Skipped (named, with the reason): cases with a graph input or output that
** is not a float32 tensor (int64 inputs are fine: they are plan-time
** constants), sequence/optional/map types, training mode
** (training_mode=1), and graphs the engine refuses at load time (its error
** is printed; CNN_CONFORMANCE_STRICT=1 makes a refusal a failure).
** Any mismatch, plan or run error, or crash fails the test (exit 1).
**
** Input/output files are TensorProto messages parsed with the same
** protobuf-c code (onnx.pb-c.h generated from Debian's onnx.proto) that the
** engine uses for models.
*/
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cnn/cnn.h"
#include "onnx.pb-c.h"

static const char *const azOps[] = {
    "Conv",
    "BatchNormalization",
    "Relu",
    "Clip",
    "LeakyRelu",
    "Sigmoid",
    "HardSigmoid",
    "HardSwish",
    "Mul",
    "Add",
    "Sub",
    "Div",
    "Concat",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "Flatten",
    "Reshape",
    "Squeeze",
    "Unsqueeze",
    "Gemm",
    "MatMul",
    "Softmax",
    "Identity",
    "Dropout",
    "Constant",
    "Shape",
    "Gather",
};
#define N_OPS (int)(sizeof(azOps) / sizeof(azOps[0]))

#define MAX_IO 16
#define REL_TOL 1e-5

static int nRun, nPass, nFail, nSkip, nCases;
static char zOther[16384];
static int strict;

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

static int file_exists(const char *zPath) {
  struct stat st;
  return stat(zPath, &st) == 0;
}

/* The lower-case op name must be a prefix of the case name (after "test_"),
** followed by '_' or the end. */
static int name_matches(const char *zCase, const char *zOp) {
  size_t n = strlen(zOp);
  if (strncmp(zCase, "test_", 5) != 0) return 0;
  zCase += 5;
  if (strncasecmp(zCase, zOp, n) != 0) return 0;
  return zCase[n] == 0 || zCase[n] == '_';
}

static const Onnx__AttributeProto *find_attr(const Onnx__NodeProto *nd, const char *zName) {
  for (size_t i = 0; i < nd->n_attribute; i++)
    if (nd->attribute[i]->name && strcmp(nd->attribute[i]->name, zName) == 0) return nd->attribute[i];
  return NULL;
}

static int is_initializer(const Onnx__GraphProto *g, const char *zName) {
  for (size_t i = 0; i < g->n_initializer; i++)
    if (g->initializer[i]->name && strcmp(g->initializer[i]->name, zName) == 0) return 1;
  return 0;
}

/* Why the case cannot run as float32 inference, or NULL.  zBuf holds the
** text. */
static const char *unsupported_io(const Onnx__GraphProto *g, char *zBuf, size_t nBuf) {
  for (int pass = 0; pass < 2; pass++) {
    size_t n = pass ? g->n_output : g->n_input;
    Onnx__ValueInfoProto **a = pass ? g->output : g->input;
    for (size_t i = 0; i < n; i++) {
      const Onnx__ValueInfoProto *v = a[i];
      if (!pass && is_initializer(g, v->name)) continue;
      if (!v->type || v->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) {
        snprintf(zBuf, nBuf, "%s '%s' is a sequence/optional/map value, not a tensor", pass ? "output" : "input",
                 v->name);
        return zBuf;
      }
      int t = v->type->tensor_type->elem_type;
      if (t == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) continue;
      if (!pass && t == ONNX__TENSOR_PROTO__DATA_TYPE__INT64) continue;
      const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(&onnx__tensor_proto__data_type__descriptor, t);
      snprintf(zBuf, nBuf, "%s '%s' has data type %s (not float32%s)", pass ? "output" : "input", v->name,
               ev ? ev->name : "?", pass ? "" : " or int64");
      return zBuf;
    }
  }
  for (size_t i = 0; i < g->n_node; i++) {
    const Onnx__AttributeProto *a = find_attr(g->node[i], "training_mode");
    if (a && a->i != 0) {
      snprintf(zBuf, nBuf, "training mode (node '%s' %s training_mode=1)", g->node[i]->name ? g->node[i]->name : "",
               g->node[i]->op_type);
      return zBuf;
    }
  }
  return NULL;
}

/* A tensor's values as float (pF) or int64 (pI), from raw_data or the typed
** field.  Returns the element count, or -1 if the data is missing or has
** another type. */
static long tensor_values(const Onnx__TensorProto *t, float **pF, int64_t **pI) {
  size_t n = 1;
  for (size_t i = 0; i < t->n_dims; i++) n *= (size_t)t->dims[i];
  *pF = NULL;
  *pI = NULL;
  if (t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) {
    float *p = malloc(n * sizeof(float) + 1);
    if (!p) return -1;
    if (t->has_raw_data && t->raw_data.len == n * 4) {
      if (n) memcpy(p, t->raw_data.data, n * 4); /* little-endian host */
    } else if (t->n_float_data == n) {
      if (n) memcpy(p, t->float_data, n * 4);
    } else {
      free(p);
      return -1;
    }
    *pF = p;
    return (long)n;
  }
  if (t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64) {
    int64_t *p = malloc(n * sizeof(int64_t) + 1);
    if (!p) return -1;
    if (t->has_raw_data && t->raw_data.len == n * 8) {
      if (n) memcpy(p, t->raw_data.data, n * 8);
    } else if (t->n_int64_data == n) {
      if (n) memcpy(p, t->int64_data, n * 8);
    } else {
      free(p);
      return -1;
    }
    *pI = p;
    return (long)n;
  }
  return -1;
}

static Onnx__TensorProto *read_tensor(const char *zPath) {
  size_t n;
  unsigned char *p = read_file(zPath, &n);
  Onnx__TensorProto *t;
  if (!p) return NULL;
  t = onnx__tensor_proto__unpack(NULL, n, p);
  free(p);
  return t;
}

static int close_enough(float got, float want) {
  if (isnan(want)) return isnan(got);
  if (isinf(want)) return got == want;
  if (isnan(got) || isinf(got)) return 0;
  double d = fabs((double)got - (double)want);
  double s = fabs((double)want);
  return d <= REL_TOL * (s > 1.0 ? s : 1.0);
}

/* Runs one test_data_set directory.  Returns 0 if every output matched;
** prints the first difference otherwise. */
static int run_set(const char *zCase, const char *zSet, CnnGraph *graph, const Onnx__GraphProto *g) {
  char zPath[8192], err[IMGPCA_ERRMAX];
  CnnFeed aFeed[MAX_IO];
  const char *azOut[MAX_IO];
  Onnx__TensorProto *apIn[MAX_IO] = {0}, *apWant[MAX_IO] = {0};
  float *apF[MAX_IO] = {0}, *apGot[MAX_IO] = {0}, *apWantF[MAX_IO] = {0};
  int64_t *apI[MAX_IO] = {0};
  const float *apRunIn[MAX_IO];
  int nFeed = 0, nF = 0, nOut = 0, rc = 1;
  CnnPlan *plan = NULL;
  CnnWork *work = NULL;
  const char *zSetName = strrchr(zSet, '/') + 1;

  /* Inputs: input_K.pb for the K-th graph input that is not an initializer. */
  for (size_t i = 0; i < g->n_input; i++) {
    if (is_initializer(g, g->input[i]->name)) continue;
    if (nFeed == MAX_IO) {
      printf("FAIL %s/%s: more than %d inputs\n", zCase, zSetName, MAX_IO);
      goto done;
    }
    snprintf(zPath, sizeof zPath, "%s/input_%d.pb", zSet, nFeed);
    Onnx__TensorProto *t = apIn[nFeed] = read_tensor(zPath);
    if (!t) {
      printf("FAIL %s/%s: cannot read %s\n", zCase, zSetName, zPath);
      goto done;
    }
    CnnFeed *f = &aFeed[nFeed];
    memset(f, 0, sizeof *f);
    f->zName = g->input[i]->name;
    if (t->n_dims > CNN_MAXDIM) {
      printf("FAIL %s/%s: input '%s' has %zu dimensions\n", zCase, zSetName, f->zName, t->n_dims);
      goto done;
    }
    f->shape.nd = (int)t->n_dims;
    for (size_t k = 0; k < t->n_dims; k++) f->shape.d[k] = t->dims[k];
    if (tensor_values(t, &apF[nFeed], &apI[nFeed]) < 0) {
      printf("FAIL %s/%s: no data in %s\n", zCase, zSetName, zPath);
      goto done;
    }
    if (apF[nFeed]) {
      f->type = CNN_F32;
      apRunIn[nF++] = apF[nFeed];
    } else {
      f->type = CNN_I64;
      f->pI64 = apI[nFeed];
    }
    nFeed++;
  }
  for (size_t i = 0; i < g->n_output && nOut < MAX_IO; i++) {
    azOut[nOut] = g->output[i]->name;
    snprintf(zPath, sizeof zPath, "%s/output_%d.pb", zSet, nOut);
    if (!(apWant[nOut] = read_tensor(zPath))) {
      printf("FAIL %s/%s: cannot read %s\n", zCase, zSetName, zPath);
      goto done;
    }
    int64_t *dummy;
    if (tensor_values(apWant[nOut], &apWantF[nOut], &dummy) < 0 || !apWantF[nOut]) {
      free(dummy);
      printf("FAIL %s/%s: %s is not a float32 tensor\n", zCase, zSetName, zPath);
      goto done;
    }
    nOut++;
  }

  err[0] = 0;
  if (cnn_plan_new(graph, nFeed, aFeed, nOut, azOut, &plan, err) != IMGPCA_OK) {
    printf("FAIL %s/%s: cnn_plan_new: %s\n", zCase, zSetName, err);
    goto done;
  }
  for (int k = 0; k < nOut; k++) {
    const CnnShape *s = cnn_plan_output_shape(plan, k);
    const Onnx__TensorProto *w = apWant[k];
    int same = s && s->nd == (int)w->n_dims;
    for (int d = 0; same && d < s->nd; d++) same = s->d[d] == w->dims[d];
    if (!same) {
      printf("FAIL %s/%s: output '%s' shape [", zCase, zSetName, azOut[k]);
      for (int d = 0; s && d < s->nd; d++) printf("%s%lld", d ? "," : "", (long long)s->d[d]);
      printf("], expected [");
      for (size_t d = 0; d < w->n_dims; d++) printf("%s%lld", d ? "," : "", (long long)w->dims[d]);
      printf("]\n");
      goto done;
    }
    size_t cnt = cnn_shape_count(s);
    apGot[k] = malloc((cnt ? cnt : 1) * sizeof(float));
    if (!apGot[k]) goto done;
    for (size_t j = 0; j < cnt; j++) apGot[k][j] = NAN; /* an unwritten output cannot pass */
  }
  if (!(work = cnn_work_new(plan))) {
    printf("FAIL %s/%s: cnn_work_new returned NULL\n", zCase, zSetName);
    goto done;
  }
  err[0] = 0;
  if (cnn_plan_run(plan, work, apRunIn, (float *const *)apGot, NULL, NULL, err) != IMGPCA_OK) {
    printf("FAIL %s/%s: cnn_plan_run: %s\n", zCase, zSetName, err);
    goto done;
  }
  rc = 0;
  for (int k = 0; k < nOut; k++) {
    size_t cnt = cnn_shape_count(cnn_plan_output_shape(plan, k)), bad = 0, first = 0;
    for (size_t j = 0; j < cnt; j++)
      if (!close_enough(apGot[k][j], apWantF[k][j]) && bad++ == 0) first = j;
    if (bad) {
      printf("FAIL %s/%s: output '%s': %zu of %zu values differ; first at [%zu]: got %.9g, expected %.9g\n", zCase,
             zSetName, azOut[k], bad, cnt, first, apGot[k][first], apWantF[k][first]);
      rc = 1;
    }
  }

done:
  cnn_work_free(work);
  cnn_plan_free(plan);
  for (int k = 0; k < MAX_IO; k++) {
    if (apIn[k]) onnx__tensor_proto__free_unpacked(apIn[k], NULL);
    if (apWant[k]) onnx__tensor_proto__free_unpacked(apWant[k], NULL);
    free(apF[k]);
    free(apI[k]);
    free(apGot[k]);
    free(apWantF[k]);
  }
  return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void run_case(const char *zDir, const char *zCase) {
  char zPath[4096], zWhy[512], err[IMGPCA_ERRMAX];
  size_t n;
  unsigned char *p;
  Onnx__ModelProto *m;
  int op = -1, hasOp = 0;

  for (int i = 0; i < N_OPS && op < 0; i++)
    if (name_matches(zCase, azOps[i])) op = i;
  /* the test files abbreviate BatchNormalization */
  for (int i = 0; i < N_OPS && op < 0; i++)
    if (strcmp(azOps[i], "BatchNormalization") == 0 && name_matches(zCase, "batchnorm")) op = i;
  if (op < 0) return;

  snprintf(zPath, sizeof zPath, "%s/%s/model.onnx", zDir, zCase);
  if (!(p = read_file(zPath, &n))) return;
  m = onnx__model_proto__unpack(NULL, n, p);
  if (!m || !m->graph) {
    printf("FAIL %s: model.onnx does not parse\n", zCase);
    nFail++;
    goto out;
  }
  for (size_t i = 0; i < m->graph->n_node; i++)
    if (strcmp(m->graph->node[i]->op_type, azOps[op]) == 0) hasOp = 1;
  /* An expanded case (the operator written as its function body) runs if
  ** every node of the body is a supported operator. */
  if (!hasOp && m->graph->n_node > 0) {
    hasOp = 1;
    for (size_t i = 0; i < m->graph->n_node && hasOp; i++) {
      int k = 0;
      while (k < N_OPS && strcmp(m->graph->node[i]->op_type, azOps[k]) != 0) k++;
      hasOp = k < N_OPS;
    }
  }
  if (!hasOp) {
    size_t l = strlen(zOther);
    snprintf(zOther + l, sizeof zOther - l, "%s%s (%s)", l ? ", " : "", zCase,
             m->graph->n_node ? m->graph->node[0]->op_type : "no node");
    goto out;
  }
  nCases++;
  if (unsupported_io(m->graph, zWhy, sizeof zWhy)) {
    printf("skip %s: %s\n", zCase, zWhy);
    nSkip++;
    goto out;
  }
  CnnGraph *graph = NULL;
  err[0] = 0;
  int rc = cnn_graph_load(p, n, NULL, &graph, err);
  if (rc != IMGPCA_OK) {
    if (strict) {
      printf("FAIL %s: refused by cnn_graph_load: %s\n", zCase, err);
      nFail++;
    } else {
      printf("skip %s: refused by cnn_graph_load: %s\n", zCase, err);
      nSkip++;
    }
    goto out;
  }
  /* Every test_data_set_N of the case. */
  for (int k = 0;; k++) {
    snprintf(zPath, sizeof zPath, "%s/%s/test_data_set_%d", zDir, zCase, k);
    if (!file_exists(zPath)) break;
    nRun++;
    if (run_set(zCase, zPath, graph, m->graph) == 0) {
      nPass++;
    } else {
      nFail++;
    }
  }
  cnn_graph_release(graph);
out:
  if (m) onnx__model_proto__free_unpacked(m, NULL);
  free(p);
}

int main(int argc, char **argv) {
  const char *zDir = argc > 1 ? argv[1] : "/usr/share/libonnx-testdata/data/node";
  const char *zOnly = argc > 2 ? argv[2] : NULL; /* optional: one case */
  DIR *d = opendir(zDir);
  struct dirent *e;
  char **az = NULL;
  size_t nAz = 0, nAlloc = 0;
  const char *zStrict = getenv("CNN_CONFORMANCE_STRICT");
  strict = zStrict && zStrict[0] == '1';
  if (!d) {
    printf("FAIL conformance: cannot open %s (Debian package libonnx-testdata)\n", zDir);
    return 1;
  }
  while ((e = readdir(d)) != NULL) {
    if (strncmp(e->d_name, "test_", 5) != 0) continue;
    if (zOnly && strcmp(e->d_name, zOnly) != 0) continue;
    if (nAz == nAlloc) {
      nAlloc = nAlloc ? 2 * nAlloc : 256;
      az = realloc(az, nAlloc * sizeof *az);
      if (!az) return 1;
    }
    az[nAz++] = strdup(e->d_name);
  }
  closedir(d);
  if (nAz) qsort(az, nAz, sizeof *az, cmp_str);
  for (size_t i = 0; i < nAz; i++) {
    fflush(stdout);
    run_case(zDir, az[i]);
    free(az[i]);
  }
  free(az);
  if (zOther[0]) printf("not run (name matches, graph tests another operator): %s\n", zOther);
  printf("%s conformance: %d cases of %d operators; %d data sets run, %d passed, %d failed; %d cases skipped\n",
         nFail || nRun == 0 ? "FAIL" : "ok  ", nCases, N_OPS, nRun, nPass, nFail, nSkip);
  return nFail || nRun == 0 ? 1 : 0;
}
