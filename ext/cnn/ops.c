/*
** ONNX operators of the CNN core (pure C, no SQL): the table of supported
** operators with their attributes (checked at load time), shape inference
** and parameters (at plan time) and the float32 kernels.
**
** Convolutions: 1x1 stride-1 convolutions are one sgemm over the input;
** depthwise convolutions (group = channels) run a direct kernel; the others
** expand the input (im2col) into the step's scratch and call sgemm per group.
** Bias and a fused activation are applied to the output in one pass.
** Every kernel is sequential and its summation order fixed, so results do
** not depend on how many threads run plans at the same time.
*/
#include "cnn_int.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../common/lazy_blas.h"

#define A_FLOAT 1
#define A_INT 2
#define A_STRING 3
#define A_TENSOR 4
#define A_FLOATS 6
#define A_INTS 7

typedef struct OpDef {
  int op;
  const char *zName;
  int nInMin, nInMax;                          /* inputs */
  int nOutMax;                                 /* outputs we can produce */
  const char *zAttrs;                          /* supported attributes, space separated */
  int (*xInfer)(CnnPlan *, CnnStep *, char *); /* types, shapes and parameters at plan time */
} OpDef;

/* The shape inference of each operator family (defined below). */
static int infer_activation(CnnPlan *p, CnnStep *st, char *err);
static int infer_batchnorm(CnnPlan *p, CnnStep *st, char *err);
static int infer_binary(CnnPlan *p, CnnStep *st, char *err);
static int infer_cast(CnnPlan *p, CnnStep *st, char *err);
static int infer_concat(CnnPlan *p, CnnStep *st, char *err);
static int infer_constant(CnnPlan *p, CnnStep *st, char *err);
static int infer_conv(CnnPlan *p, CnnStep *st, char *err);
static int infer_flatten(CnnPlan *p, CnnStep *st, char *err);
static int infer_gather(CnnPlan *p, CnnStep *st, char *err);
static int infer_gemm(CnnPlan *p, CnnStep *st, char *err);
static int infer_global_pool(CnnPlan *p, CnnStep *st, char *err);
static int infer_identity(CnnPlan *p, CnnStep *st, char *err);
static int infer_matmul(CnnPlan *p, CnnStep *st, char *err);
static int infer_pad(CnnPlan *p, CnnStep *st, char *err);
static int infer_pool(CnnPlan *p, CnnStep *st, char *err);
static int infer_reshape(CnnPlan *p, CnnStep *st, char *err);
static int infer_shape(CnnPlan *p, CnnStep *st, char *err);
static int infer_softmax(CnnPlan *p, CnnStep *st, char *err);
static int infer_squeeze(CnnPlan *p, CnnStep *st, char *err);

static const OpDef aOpDef[] = {
    {OP_CONV, "Conv", 2, 3, 1, "auto_pad dilations group kernel_shape pads strides", infer_conv},
    {OP_BATCHNORM, "BatchNormalization", 5, 5, 1, "epsilon momentum spatial is_test training_mode consumed_inputs", infer_batchnorm},
    {OP_RELU, "Relu", 1, 1, 1, "", infer_activation},
    {OP_LEAKYRELU, "LeakyRelu", 1, 1, 1, "alpha", infer_activation},
    {OP_SIGMOID, "Sigmoid", 1, 1, 1, "", infer_activation},
    {OP_HARDSIGMOID, "HardSigmoid", 1, 1, 1, "alpha beta", infer_activation},
    {OP_HARDSWISH, "HardSwish", 1, 1, 1, "", infer_activation},
    {OP_CLIP, "Clip", 1, 3, 1, "min max", infer_activation},
    {OP_TANH, "Tanh", 1, 1, 1, "", infer_activation},
    {OP_ADD, "Add", 2, 2, 1, "axis broadcast", infer_binary},
    {OP_SUB, "Sub", 2, 2, 1, "axis broadcast", infer_binary},
    {OP_MUL, "Mul", 2, 2, 1, "axis broadcast", infer_binary},
    {OP_DIV, "Div", 2, 2, 1, "axis broadcast", infer_binary},
    {OP_CONCAT, "Concat", 1, CNN_MAXIN, 1, "axis", infer_concat},
    {OP_MAXPOOL, "MaxPool", 1, 1, 1, "auto_pad ceil_mode dilations kernel_shape pads storage_order strides", infer_pool},
    {OP_AVGPOOL, "AveragePool", 1, 1, 1, "auto_pad ceil_mode count_include_pad kernel_shape pads strides", infer_pool},
    {OP_GLOBALAVGPOOL, "GlobalAveragePool", 1, 1, 1, "", infer_global_pool},
    {OP_GLOBALMAXPOOL, "GlobalMaxPool", 1, 1, 1, "", infer_global_pool},
    {OP_FLATTEN, "Flatten", 1, 1, 1, "axis", infer_flatten},
    {OP_RESHAPE, "Reshape", 2, 2, 1, "allowzero", infer_reshape},
    {OP_SQUEEZE, "Squeeze", 1, 2, 1, "axes", infer_squeeze},
    {OP_UNSQUEEZE, "Unsqueeze", 1, 2, 1, "axes", infer_squeeze},
    {OP_GEMM, "Gemm", 2, 3, 1, "alpha beta transA transB broadcast", infer_gemm},
    {OP_MATMUL, "MatMul", 2, 2, 1, "", infer_matmul},
    {OP_SOFTMAX, "Softmax", 1, 1, 1, "axis", infer_softmax},
    {OP_IDENTITY, "Identity", 1, 1, 1, "", infer_identity},
    {OP_DROPOUT, "Dropout", 1, 3, 2, "ratio seed is_test", infer_identity},
    {OP_CONSTANT, "Constant", 0, 0, 1, "value value_float value_floats value_int value_ints", infer_constant},
    {OP_SHAPE, "Shape", 1, 1, 1, "start end", infer_shape},
    {OP_GATHER, "Gather", 2, 2, 1, "axis", infer_gather},
    {OP_CAST, "Cast", 1, 1, 1, "to saturate", infer_cast},
    {OP_PAD, "Pad", 1, 4, 1, "mode pads value", infer_pad},
};

int cnn_op_lookup(const char *zOp) {
  size_t i;
  for (i = 0; i < sizeof(aOpDef) / sizeof(aOpDef[0]); i++)
    if (strcmp(aOpDef[i].zName, zOp) == 0) return aOpDef[i].op;
  return OP_NONE;
}

static const OpDef *op_def(int op) {
  size_t i;
  for (i = 0; i < sizeof(aOpDef) / sizeof(aOpDef[0]); i++)
    if (aOpDef[i].op == op) return &aOpDef[i];
  return NULL;
}

const char *cnn_op_name(int op) {
  const OpDef *d = op_def(op);
  return d ? d->zName : "?";
}

static int word_in(const char *zList, const char *z) {
  size_t n = strlen(z);
  const char *p = zList;
  if (n == 0) return 0; /* an empty attribute name is never supported */
  while ((p = strstr(p, z)) != NULL) {
    if ((p == zList || p[-1] == ' ') && (p[n] == ' ' || p[n] == 0)) return 1;
    p += n;
  }
  return 0;
}

int cnn_op_check(const CnnGraph *g, const CnnNode *n, char *err) {
  const OpDef *d = op_def(n->op);
  char lab[200];
  int i, nOut = 0;
  const char *z;
  if (!d) return imgpca_seterr(err, "%s: unsupported operator", cnn_node_label(n, lab, sizeof lab));
  if (n->nIn < d->nInMin || n->nIn > d->nInMax)
    return imgpca_seterr(err, "%s: %d inputs (expected %d to %d)", cnn_node_label(n, lab, sizeof lab), n->nIn,
                         d->nInMin, d->nInMax);
  for (i = 0; i < n->nOut; i++)
    if (n->aOut[i] >= 0) nOut = i + 1;
  if (nOut > d->nOutMax) {
    if (n->op == OP_MAXPOOL)
      return imgpca_seterr(err, "%s: the Indices output is not supported", cnn_node_label(n, lab, sizeof lab));
    if (n->op == OP_BATCHNORM)
      return imgpca_seterr(err, "%s: training outputs (running mean/variance) are not supported",
                           cnn_node_label(n, lab, sizeof lab));
    return imgpca_seterr(err, "%s: %d outputs (at most %d supported)", cnn_node_label(n, lab, sizeof lab), nOut,
                         d->nOutMax);
  }
  for (i = 0; i < n->nAttr; i++)
    if (!word_in(d->zAttrs, n->aAttr[i].zName))
      return imgpca_seterr(err, "%s: unsupported attribute '%.60s'", cnn_node_label(n, lab, sizeof lab),
                           n->aAttr[i].zName);
  for (i = 0; i < n->nIn; i++)
    if (n->aIn[i] < 0 && i < d->nInMin)
      return imgpca_seterr(err, "%s: required input %d is missing", cnn_node_label(n, lab, sizeof lab), i + 1);
  switch (n->op) {
    case OP_CONV:
    case OP_MAXPOOL:
    case OP_AVGPOOL:
      z = cnn_attr_str(n, "auto_pad", "NOTSET");
      if (strcmp(z, "NOTSET") && strcmp(z, "SAME_UPPER") && strcmp(z, "SAME_LOWER") && strcmp(z, "VALID"))
        return imgpca_seterr(err, "%s: unsupported auto_pad '%.30s'", cnn_node_label(n, lab, sizeof lab), z);
      if ((n->op == OP_MAXPOOL || n->op == OP_AVGPOOL) && !cnn_attr(n, "kernel_shape"))
        return imgpca_seterr(err, "%s: missing attribute kernel_shape", cnn_node_label(n, lab, sizeof lab));
      break;
    case OP_BATCHNORM:
      if (cnn_attr_int(n, "training_mode", 0))
        return imgpca_seterr(err, "%s: training_mode=1 is not supported (inference only)",
                             cnn_node_label(n, lab, sizeof lab));
      if (!cnn_attr_int(n, "spatial", 1))
        return imgpca_seterr(err, "%s: spatial=0 is not supported", cnn_node_label(n, lab, sizeof lab));
      if (cnn_attr(n, "is_test") && !cnn_attr_int(n, "is_test", 0))
        return imgpca_seterr(err, "%s: is_test=0 (training) is not supported", cnn_node_label(n, lab, sizeof lab));
      break;
    case OP_ADD:
    case OP_SUB:
    case OP_MUL:
    case OP_DIV:
      if (cnn_attr(n, "axis") || cnn_attr_int(n, "broadcast", 0))
        return imgpca_seterr(err, "%s: the legacy broadcast/axis attributes (opset < 7) are not supported",
                             cnn_node_label(n, lab, sizeof lab));
      break;
    case OP_GEMM:
      if (cnn_attr_int(n, "broadcast", 0) && g->opset < 7) { /* broadcasting C is what opset 7+ does */
      }
      break;
    case OP_DROPOUT:
      if (cnn_attr(n, "is_test") && !cnn_attr_int(n, "is_test", 0))
        return imgpca_seterr(err, "%s: is_test=0 (training) is not supported", cnn_node_label(n, lab, sizeof lab));
      break;
    case OP_CONSTANT:
      if (n->nAttr != 1)
        return imgpca_seterr(err, "%s: expected exactly one value attribute", cnn_node_label(n, lab, sizeof lab));
      break;
    case OP_CAST: {
      int64_t to = cnn_attr_int(n, "to", 0);
      if (to != CNN_F32 && to != CNN_I64)
        return imgpca_seterr(err, "%s: cast to element type %lld is not supported (float32 or int64 only)",
                             cnn_node_label(n, lab, sizeof lab), (long long)to);
      break;
    }
    case OP_PAD:
      z = cnn_attr_str(n, "mode", "constant");
      if (strcmp(z, "constant"))
        return imgpca_seterr(err, "%s: pad mode '%.30s' is not supported (constant only)",
                             cnn_node_label(n, lab, sizeof lab), z);
      break;
    default: break;
  }
  return IMGPCA_OK;
}

/* ---- helpers ---- */
#define PV(i) (&p->aPV[(i)])
#define LAB(st) cnn_node_label((st)->node, lab, sizeof lab)

static int64_t norm_axis(int64_t a, int nd) { return a < 0 ? a + nd : a; }

static int attr_ints(const CnnNode *n, const char *z, int64_t *out, int nMax, int *pn) {
  const CnnAttr *a = cnn_attr(n, z);
  int i;
  *pn = 0;
  if (!a) return 0;
  if (a->type != A_INTS || a->nInts > nMax) return -1;
  for (i = 0; i < a->nInts; i++) out[i] = a->aInts[i];
  *pn = a->nInts;
  return 1;
}

/* Output value with type and shape. */
static void set_out(CnnPlan *p, CnnStep *st, int i, int type, const CnnShape *s) {
  int v = st->aOut[i];
  if (v < 0) return;
  PV(v)->type = type;
  PV(v)->shape = *s;
}

static int need_f32(CnnPlan *p, CnnStep *st, int i, char *err) {
  char lab[200];
  int v = st->aIn[i];
  if (v < 0) return IMGPCA_OK;
  if (PV(v)->type != CNN_F32)
    return imgpca_seterr(err, "%s: input %d ('%.100s') is int64, expected float32", LAB(st), i + 1,
                         p->g->aVal[v].zName);
  return IMGPCA_OK;
}

/* Constant int64 input values (or NULL with an error). */
static const int64_t *const_ints(CnnPlan *p, CnnStep *st, int i, int64_t *pn, char *err) {
  char lab[200];
  int v = st->aIn[i];
  if (v < 0 || !PV(v)->bConst || PV(v)->type != CNN_I64) {
    imgpca_seterr(err, "%s: input %d must be a constant int64 tensor (known when the model is compiled)", LAB(st),
                  i + 1);
    return NULL;
  }
  *pn = (int64_t)cnn_shape_count(&PV(v)->shape);
  return PV(v)->ci;
}

static int bcast_shape(const CnnShape *a, const CnnShape *b, CnnShape *o) {
  int i, nd = a->nd > b->nd ? a->nd : b->nd;
  o->nd = nd;
  for (i = 0; i < nd; i++) {
    int64_t x = i - (nd - a->nd) >= 0 ? a->d[i - (nd - a->nd)] : 1;
    int64_t y = i - (nd - b->nd) >= 0 ? b->d[i - (nd - b->nd)] : 1;
    if (x != y && x != 1 && y != 1) return 1;
    o->d[i] = x == 1 ? y : x;
  }
  return 0;
}

/* Pads for conv/pool: kernel k, stride s, dilation d over input size n. */
static int conv_geometry(CnnPlan *p, CnnStep *st, const CnnShape *x, const int64_t *k, CnnShape *o, int bPool,
                         char *err) {
  char lab[200];
  const CnnNode *n = st->node;
  CnnParams *q = &st->prm;
  int nsp = x->nd - 2, i, c;
  int64_t pads[6];
  const char *zAuto = cnn_attr_str(n, "auto_pad", "NOTSET");
  int ceilMode = bPool ? (int)cnn_attr_int(n, "ceil_mode", 0) : 0;
  (void)p;
  if (nsp < 1 || nsp > 3) return imgpca_seterr(err, "%s: %d spatial dimensions (1 to 3 supported)", LAB(st), nsp);
  q->nsp = nsp;
  for (i = 0; i < 3; i++) {
    q->s[i] = q->d[i] = 1;
    q->k[i] = 1;
    q->pb[i] = q->pe[i] = 0;
  }
  for (i = 0; i < nsp; i++) q->k[i] = k[i];
  if (attr_ints(n, "strides", q->s, 3, &c) < 0 || (c && c != nsp))
    return imgpca_seterr(err, "%s: strides must have %d values", LAB(st), nsp);
  if (attr_ints(n, "dilations", q->d, 3, &c) < 0 || (c && c != nsp))
    return imgpca_seterr(err, "%s: dilations must have %d values", LAB(st), nsp);
  memset(pads, 0, sizeof pads);
  if (attr_ints(n, "pads", pads, 6, &c) < 0 || (c && c != 2 * nsp))
    return imgpca_seterr(err, "%s: pads must have %d values", LAB(st), 2 * nsp);
  o->nd = x->nd;
  o->d[0] = x->d[0];
  for (i = 0; i < nsp; i++) {
    int64_t in = x->d[2 + i], ek, out;
    if (q->s[i] < 1 || q->d[i] < 1 || q->k[i] < 1 || q->s[i] > 4096 || q->d[i] > 4096 || q->k[i] > 4096)
      return imgpca_seterr(err, "%s: invalid kernel, stride or dilation", LAB(st));
    ek = q->d[i] * (q->k[i] - 1) + 1;
    if (strcmp(zAuto, "SAME_UPPER") == 0 || strcmp(zAuto, "SAME_LOWER") == 0) {
      int64_t tot;
      out = (in + q->s[i] - 1) / q->s[i];
      tot = (out - 1) * q->s[i] + ek - in;
      if (tot < 0) tot = 0;
      q->pb[i] = zAuto[5] == 'U' ? tot / 2 : tot - tot / 2;
      q->pe[i] = tot - q->pb[i];
    } else if (strcmp(zAuto, "VALID") == 0) {
      q->pb[i] = q->pe[i] = 0;
    } else {
      q->pb[i] = pads[i];
      q->pe[i] = pads[nsp + i];
    }
    if (q->pb[i] < 0 || q->pe[i] < 0 || q->pb[i] > 65536 || q->pe[i] > 65536)
      return imgpca_seterr(err, "%s: invalid pads", LAB(st));
    if (in + q->pb[i] + q->pe[i] < ek)
      return imgpca_seterr(err, "%s: the kernel (%lld) is larger than the padded input (%lld)", LAB(st),
                           (long long)ek, (long long)(in + q->pb[i] + q->pe[i]));
    if (ceilMode) {
      out = (in + q->pb[i] + q->pe[i] - ek + q->s[i] - 1) / q->s[i] + 1;
      if ((out - 1) * q->s[i] >= in + q->pb[i]) out--; /* last window must start inside the input or left pad */
    } else {
      out = (in + q->pb[i] + q->pe[i] - ek) / q->s[i] + 1;
    }
    o->d[2 + i] = out;
  }
  return IMGPCA_OK;
}

static int act_of(const CnnNode *n) {
  switch (n->op) {
    case OP_RELU: return ACT_RELU;
    case OP_CLIP: return ACT_CLIP;
    case OP_LEAKYRELU: return ACT_LEAKY;
    case OP_HARDSWISH: return ACT_HARDSWISH;
    case OP_SIGMOID: return ACT_SIGMOID;
    case OP_HARDSIGMOID: return ACT_HARDSIGMOID;
    default: return ACT_NONE;
  }
}

/* Clip bounds from attributes (opset < 11) or constant inputs. */
static int clip_bounds(CnnPlan *p, CnnStep *st, float *lo, float *hi, char *err) {
  char lab[200];
  int i;
  *lo = -INFINITY;
  *hi = INFINITY;
  if (p->g->opset < 11) {
    *lo = cnn_attr_float(st->node, "min", -INFINITY);
    *hi = cnn_attr_float(st->node, "max", INFINITY);
    return IMGPCA_OK;
  }
  for (i = 1; i < st->nIn && i < 3; i++) {
    int v = st->aIn[i];
    if (v < 0) continue;
    if (PV(v)->type != CNN_F32 || cnn_shape_count(&PV(v)->shape) != 1)
      return imgpca_seterr(err, "%s: %s must be a float32 scalar", LAB(st), i == 1 ? "min" : "max");
    if (!PV(v)->bConst) { /* known only at run time: read by the kernel, never fused */
      st->prm.clipIn |= i;
      continue;
    }
    if (i == 1)
      *lo = PV(v)->cf[0];
    else
      *hi = PV(v)->cf[0];
  }
  return IMGPCA_OK;
}

static void act_params(CnnPlan *p, CnnStep *st, int *act, float *a, float *b, char *err) {
  const CnnNode *n = st->node;
  *act = act_of(n);
  *a = *b = 0;
  switch (*act) {
    case ACT_CLIP: clip_bounds(p, st, a, b, err); break;
    case ACT_LEAKY: *a = cnn_attr_float(n, "alpha", 0.01f); break;
    case ACT_HARDSIGMOID:
      *a = cnn_attr_float(n, "alpha", 0.2f);
      *b = cnn_attr_float(n, "beta", 0.5f);
      break;
    default: break;
  }
}

static int infer_conv(CnnPlan *p, CnnStep *st, char *err) {
  char lab[200];
  const CnnNode *n = st->node;
  CnnParams *q = &st->prm;
  const CnnShape *x = st->nIn > 0 && st->aIn[0] >= 0 ? &PV(st->aIn[0])->shape : NULL;
  CnnShape o;
  int i, rc;
  memset(&o, 0, sizeof o);
  const CnnShape *w;
  int64_t k[3];
  if ((rc = need_f32(p, st, 0, err)) || (rc = need_f32(p, st, 1, err)) || (rc = need_f32(p, st, 2, err)))
    return rc;
  w = &PV(st->aIn[1])->shape;
  if (x->nd < 3 || x->nd > 4 || w->nd != x->nd)
    return imgpca_seterr(err, "%s: input rank %d and weight rank %d (1-D or 2-D convolutions supported)",
                         LAB(st), x->nd, w->nd);
  q->group = cnn_attr_int(n, "group", 1);
  if (q->group < 1 || x->d[1] % q->group || w->d[0] % q->group || w->d[1] * q->group != x->d[1])
    return imgpca_seterr(err, "%s: %lld input channels, weights [%lld,%lld,...] and group %lld do not match",
                         LAB(st), (long long)x->d[1], (long long)w->d[0], (long long)w->d[1],
                         (long long)q->group);
  for (i = 0; i < x->nd - 2; i++) k[i] = w->d[2 + i];
  {
    int64_t ks[3];
    int c;
    if (attr_ints(n, "kernel_shape", ks, 3, &c) < 0) return imgpca_seterr(err, "%s: invalid kernel_shape", LAB(st));
    for (i = 0; i < c; i++)
      if (i >= x->nd - 2 || ks[i] != k[i])
        return imgpca_seterr(err, "%s: kernel_shape does not match the weights", LAB(st));
  }
  if (st->nIn > 2 && st->aIn[2] >= 0 && (int64_t)cnn_shape_count(&PV(st->aIn[2])->shape) != w->d[0])
    return imgpca_seterr(err, "%s: the bias has %zu values for %lld output channels", LAB(st),
                         cnn_shape_count(&PV(st->aIn[2])->shape), (long long)w->d[0]);
  if ((rc = conv_geometry(p, st, x, k, &o, 0, err))) return rc;
  o.d[1] = w->d[0];
  {
    /* scratch: im2col of one group, unless 1x1/s1/p0 or depthwise */
    int64_t kk = w->d[1], ohw = 1;
    for (i = 0; i < q->nsp; i++) {
      kk *= q->k[i];
      ohw *= o.d[2 + i];
    }
    st->nScratch = (size_t)(kk * ohw);
    {
      int bDepthwise = w->d[1] == 1 && w->d[0] == q->group && q->group > 1, bPointwise = 1;
      for (i = 0; i < q->nsp; i++)
        if (q->k[i] != 1 || q->s[i] != 1 || q->pb[i] || q->pe[i]) bPointwise = 0;
      if (bDepthwise || bPointwise) st->nScratch = 0; /* no im2col */
    }
  }
  q->act = ACT_NONE;
  set_out(p, st, 0, CNN_F32, &o);
  return IMGPCA_OK;
}

static int infer_batchnorm(CnnPlan *p, CnnStep *st, char *err) {
  char lab[200];
  const CnnNode *n = st->node;
  CnnParams *q = &st->prm;
  const CnnShape *x = st->nIn > 0 && st->aIn[0] >= 0 ? &PV(st->aIn[0])->shape : NULL;
  int i, rc;
  for (i = 0; i < 5; i++)
    if ((rc = need_f32(p, st, i, err))) return rc;
  if (x->nd < 2) return imgpca_seterr(err, "%s: input rank %d (at least 2)", LAB(st), x->nd);
  for (i = 1; i < 5; i++)
    if ((int64_t)cnn_shape_count(&PV(st->aIn[i])->shape) != x->d[1])
      return imgpca_seterr(err, "%s: input %d has %zu values for %lld channels", LAB(st), i + 1,
                           cnn_shape_count(&PV(st->aIn[i])->shape), (long long)x->d[1]);
  q->eps = cnn_attr_float(n, "epsilon", 1e-5f);
  set_out(p, st, 0, CNN_F32, x);
  return IMGPCA_OK;
}

static int infer_activation(CnnPlan *p, CnnStep *st, char *err) {
  CnnParams *q = &st->prm;
  const CnnShape *x = st->nIn > 0 && st->aIn[0] >= 0 ? &PV(st->aIn[0])->shape : NULL;
  int rc;
  if ((rc = need_f32(p, st, 0, err))) return rc;
  err[0] = 0;
  act_params(p, st, &q->act, &q->actA, &q->actB, err);
  if (err[0]) return IMGPCA_ERROR;
  set_out(p, st, 0, CNN_F32, x);
  return IMGPCA_OK;
}

static int infer_binary(CnnPlan *p, CnnStep *st, char *err) {
  char lab[200];
  const CnnShape *x = st->nIn > 0 && st->aIn[0] >= 0 ? &PV(st->aIn[0])->shape : NULL;
  CnnShape o;
  memset(&o, 0, sizeof o);
  const CnnShape *y = &PV(st->aIn[1])->shape;
  int t0 = PV(st->aIn[0])->type, t1 = PV(st->aIn[1])->type;
  if (t0 != t1) return imgpca_seterr(err, "%s: inputs of different element types", LAB(st));
  if (t0 == CNN_I64 && !(PV(st->aIn[0])->bConst && PV(st->aIn[1])->bConst))
    return imgpca_seterr(err, "%s: int64 arithmetic on runtime tensors is not supported", LAB(st));
  if (bcast_shape(x, y, &o)) return imgpca_seterr(err, "%s: shapes cannot be broadcast together", LAB(st));
  set_out(p, st, 0, t0, &o);
  return IMGPCA_OK;
}

static int infer_concat(CnnPlan *p, CnnStep *st, char *err) {
  char lab[200];
  const CnnNode *n = st->node;
  CnnParams *q = &st->prm;
  const CnnShape *x = st->nIn > 0 && st->aIn[0] >= 0 ? &PV(st->aIn[0])->shape : NULL;
  CnnShape o;
  int i;
  memset(&o, 0, sizeof o);
  int t = PV(st->aIn[0])->type, bAllConst = 1;
  q->axis = norm_axis(cnn_attr_int(n, "axis", x->nd == 1 ? 0 : 1), x->nd);
  if (!cnn_attr(n, "axis") && p->g->opset >= 4) return imgpca_seterr(err, "%s: missing attribute axis", LAB(st));
  if (q->axis < 0 || q->axis >= x->nd) return imgpca_seterr(err, "%s: axis out of range", LAB(st));
  o = *x;
  o.d[q->axis] = 0;
  for (i = 0; i < st->nIn; i++) {
    const CnnShape *s;
    int j;
    if (st->aIn[i] < 0) return imgpca_seterr(err, "%s: missing input", LAB(st));
    s = &PV(st->aIn[i])->shape;
    if (PV(st->aIn[i])->type != t) return imgpca_seterr(err, "%s: inputs of different element types", LAB(st));
    if (!PV(st->aIn[i])->bConst) bAllConst = 0;
    if (s->nd != x->nd) return imgpca_seterr(err, "%s: inputs of different ranks", LAB(st));
    for (j = 0; j < x->nd; j++)
      if (j != q->axis && s->d[j] != x->d[j]) return imgpca_seterr(err, "%s: input shapes differ", LAB(st));
    o.d[q->axis] += s->d[q->axis];
  }
  if (t == CNN_I64 && !bAllConst)
    return imgpca_seterr(err, "%s: int64 Concat of runtime tensors is not supported", LAB(st));
  set_out(p, st, 0, t, &o);
  return IMGPCA_OK;
}

static int infer_pool(CnnPlan *p, CnnStep *st, char *err) {
  char lab[200];
  const CnnNode *n = st->node;
  CnnParams *q = &st->prm;
  const CnnShape *x = st->nIn > 0 && st->aIn[0] >= 0 ? &PV(st->aIn[0])->shape : NULL;
  CnnShape o;
  int i, rc;
  memset(&o, 0, sizeof o);
  int64_t k[3];
  int c;
  if ((rc = need_f32(p, st, 0, err))) return rc;
  if (attr_ints(n, "kernel_shape", k, 3, &c) < 0 || c != x->nd - 2)
    return imgpca_seterr(err, "%s: kernel_shape must have %d values", LAB(st), x->nd - 2);
  if ((rc = conv_geometry(p, st, x, k, &o, 1, err))) return rc;
  if (st->op == OP_AVGPOOL) {
    for (i = 0; i < q->nsp; i++)
      if (q->d[i] != 1) return imgpca_seterr(err, "%s: dilations are not supported for AveragePool", LAB(st));
    q->countPad = (int)cnn_attr_int(n, "count_include_pad", 0);
  }
  if (cnn_attr_int(n, "storage_order", 0) && st->op == OP_MAXPOOL) { /* only matters for Indices */
  }
  o.d[1] = x->d[1];
  set_out(p, st, 0, CNN_F32, &o);
  return IMGPCA_OK;
}

static int infer_global_pool(CnnPlan *p, CnnStep *st, char *err) {
  char lab[200];
  const CnnShape *x = st->nIn > 0 && st->aIn[0] >= 0 ? &PV(st->aIn[0])->shape : NULL;
  CnnShape o;
  int i, rc;
  memset(&o, 0, sizeof o);
  if ((rc = need_f32(p, st, 0, err))) return rc;
  if (x->nd < 3) return imgpca_seterr(err, "%s: input rank %d (at least 3)", LAB(st), x->nd);
  o = *x;
  for (i = 2; i < o.nd; i++) o.d[i] = 1;
  set_out(p, st, 0, CNN_F32, &o);
  return IMGPCA_OK;
}

static int infer_flatten(CnnPlan *p, CnnStep *st, char *err) {
  char lab[200];
  const CnnNode *n = st->node;
  const CnnShape *x = st->nIn > 0 && st->aIn[0] >= 0 ? &PV(st->aIn[0])->shape : NULL;
  CnnShape o;
  int i;
  memset(&o, 0, sizeof o);
  int64_t ax = norm_axis(cnn_attr_int(n, "axis", 1), x->nd), a = 1, b = 1;
  if (ax < 0 || ax > x->nd) return imgpca_seterr(err, "%s: axis out of range", LAB(st));
  for (i = 0; i < x->nd; i++) {
    if (i < ax)
      a *= x->d[i];
    else
      b *= x->d[i];
  }
  o.nd = 2;
  o.d[0] = a;
  o.d[1] = b;
  set_out(p, st, 0, PV(st->aIn[0])->type, &o);
  return IMGPCA_OK;
}

static int infer_reshape(CnnPlan *p, CnnStep *st, char *err) {
  char lab[200];
  const CnnNode *n = st->node;
  const CnnShape *x = st->nIn > 0 && st->aIn[0] >= 0 ? &PV(st->aIn[0])->shape : NULL;
  CnnShape o;
  int i;
  memset(&o, 0, sizeof o);
  int64_t nShape, known = 1, total = (int64_t)cnn_shape_count(x);
  const int64_t *s = const_ints(p, st, 1, &nShape, err);
  int iNeg = -1, allowzero = (int)cnn_attr_int(n, "allowzero", 0);
  if (!s) return IMGPCA_ERROR;
  if (nShape > CNN_MAXDIM) return imgpca_seterr(err, "%s: too many dimensions", LAB(st));
  o.nd = (int)nShape;
  for (i = 0; i < o.nd; i++) {
    if (s[i] == -1) {
      if (iNeg >= 0) return imgpca_seterr(err, "%s: more than one -1 in the shape", LAB(st));
      iNeg = i;
      o.d[i] = 1;
    } else if (s[i] == 0 && !allowzero) {
      if (i >= x->nd) return imgpca_seterr(err, "%s: 0 refers to a missing input dimension", LAB(st));
      o.d[i] = x->d[i];
    } else if (s[i] < 0) {
      return imgpca_seterr(err, "%s: invalid dimension %lld", LAB(st), (long long)s[i]);
    } else {
      o.d[i] = s[i];
    }
    if (i != iNeg) {
      if (o.d[i] && known > ((int64_t)1 << 40) / o.d[i]) return imgpca_seterr(err, "%s: shape too large", LAB(st));
      known *= o.d[i];
    }
  }
  if (iNeg >= 0) {
    if (known == 0 || total % known) return imgpca_seterr(err, "%s: cannot infer the -1 dimension", LAB(st));
    o.d[iNeg] = total / known;
  } else if (known != total) {
    return imgpca_seterr(err, "%s: %lld elements cannot be reshaped to %lld", LAB(st), (long long)total,
                         (long long)known);
  }
  set_out(p, st, 0, PV(st->aIn[0])->type, &o);
  return IMGPCA_OK;
}

static int infer_squeeze(CnnPlan *p, CnnStep *st, char *err) {
  char lab[200];
  const CnnNode *n = st->node;
  const CnnShape *x = st->nIn > 0 && st->aIn[0] >= 0 ? &PV(st->aIn[0])->shape : NULL;
  CnnShape o;
  int i;
  memset(&o, 0, sizeof o);
  int64_t ax[CNN_MAXDIM], nAx = 0;
  int mark[CNN_MAXDIM * 2], nd;
  memset(mark, 0, sizeof mark);
  if (p->g->opset >= 13) {
    if (st->nIn > 1 && st->aIn[1] >= 0) {
      const int64_t *a = const_ints(p, st, 1, &nAx, err);
      if (!a) return IMGPCA_ERROR;
      if (nAx > CNN_MAXDIM) return imgpca_seterr(err, "%s: too many axes", LAB(st));
      memcpy(ax, a, (size_t)nAx * sizeof(int64_t));
    }
  } else {
    int c;
    if (attr_ints(n, "axes", ax, CNN_MAXDIM, &c) < 0) return imgpca_seterr(err, "%s: invalid axes", LAB(st));
    nAx = c;
  }
  if (st->op == OP_SQUEEZE) {
    if (nAx == 0) {
      for (i = 0; i < x->nd; i++) mark[i] = x->d[i] == 1;
    }
    for (i = 0; i < nAx; i++) {
      int64_t a = norm_axis(ax[i], x->nd);
      if (a < 0 || a >= x->nd || x->d[a] != 1)
        return imgpca_seterr(err, "%s: axis %lld is not a dimension of size 1", LAB(st), (long long)ax[i]);
      mark[a] = 1;
    }
    for (i = 0; i < x->nd; i++)
      if (!mark[i]) o.d[o.nd++] = x->d[i];
  } else {
    int j = 0;
    if (nAx == 0) return imgpca_seterr(err, "%s: missing axes", LAB(st));
    nd = x->nd + (int)nAx;
    if (nd > CNN_MAXDIM) return imgpca_seterr(err, "%s: too many dimensions", LAB(st));
    for (i = 0; i < nAx; i++) {
      int64_t a = norm_axis(ax[i], nd);
      if (a < 0 || a >= nd || mark[a]) return imgpca_seterr(err, "%s: invalid axis %lld", LAB(st), (long long)ax[i]);
      mark[a] = 1;
    }
    o.nd = nd;
    for (i = 0; i < nd; i++) o.d[i] = mark[i] ? 1 : x->d[j++];
  }
  set_out(p, st, 0, PV(st->aIn[0])->type, &o);
  return IMGPCA_OK;
}

static int infer_gemm(CnnPlan *p, CnnStep *st, char *err) {
  char lab[200];
  const CnnNode *n = st->node;
  CnnParams *q = &st->prm;
  const CnnShape *x = st->nIn > 0 && st->aIn[0] >= 0 ? &PV(st->aIn[0])->shape : NULL;
  CnnShape o;
  int i, rc;
  memset(&o, 0, sizeof o);
  const CnnShape *b = &PV(st->aIn[1])->shape;
  int64_t m, kA, kB, nn;
  for (i = 0; i < 3; i++)
    if ((rc = need_f32(p, st, i, err))) return rc;
  q->transA = (int)cnn_attr_int(n, "transA", 0);
  q->transB = (int)cnn_attr_int(n, "transB", 0);
  q->alpha = cnn_attr_float(n, "alpha", 1.0f);
  q->beta = cnn_attr_float(n, "beta", 1.0f);
  if (x->nd != 2 || b->nd != 2) return imgpca_seterr(err, "%s: A and B must be matrices", LAB(st));
  m = q->transA ? x->d[1] : x->d[0];
  kA = q->transA ? x->d[0] : x->d[1];
  kB = q->transB ? b->d[1] : b->d[0];
  nn = q->transB ? b->d[0] : b->d[1];
  if (kA != kB) return imgpca_seterr(err, "%s: inner dimensions %lld and %lld differ", LAB(st), (long long)kA, (long long)kB);
  o.nd = 2;
  o.d[0] = m;
  o.d[1] = nn;
  if (st->nIn > 2 && st->aIn[2] >= 0) {
    CnnShape t;
    if (bcast_shape(&o, &PV(st->aIn[2])->shape, &t) || t.nd != 2 || t.d[0] != m || t.d[1] != nn)
      return imgpca_seterr(err, "%s: C cannot be broadcast to [%lld,%lld]", LAB(st), (long long)m, (long long)nn);
  }
  set_out(p, st, 0, CNN_F32, &o);
  return IMGPCA_OK;
}

static int infer_matmul(CnnPlan *p, CnnStep *st, char *err) {
  char lab[200];
  const CnnShape *x = st->nIn > 0 && st->aIn[0] >= 0 ? &PV(st->aIn[0])->shape : NULL;
  CnnShape o;
  int rc;
  memset(&o, 0, sizeof o);
  CnnShape a = *x, b = PV(st->aIn[1])->shape, ba, bb, bo;
  int j;
  if ((rc = need_f32(p, st, 0, err)) || (rc = need_f32(p, st, 1, err))) return rc;
  if (a.nd < 1 || b.nd < 1) return imgpca_seterr(err, "%s: scalar operands", LAB(st));
  if (a.d[a.nd - 1] != (b.nd == 1 ? b.d[0] : b.d[b.nd - 2]))
    return imgpca_seterr(err, "%s: inner dimensions differ", LAB(st));
  ba.nd = a.nd > 2 ? a.nd - 2 : 0;
  bb.nd = b.nd > 2 ? b.nd - 2 : 0;
  for (j = 0; j < ba.nd; j++) ba.d[j] = a.d[j];
  for (j = 0; j < bb.nd; j++) bb.d[j] = b.d[j];
  if (bcast_shape(&ba, &bb, &bo)) return imgpca_seterr(err, "%s: batch dimensions cannot be broadcast", LAB(st));
  o = bo;
  if (a.nd >= 2) o.d[o.nd++] = a.d[a.nd - 2];
  if (b.nd >= 2) o.d[o.nd++] = b.d[b.nd - 1];
  set_out(p, st, 0, CNN_F32, &o);
  return IMGPCA_OK;
}

static int infer_softmax(CnnPlan *p, CnnStep *st, char *err) {
  char lab[200];
  const CnnNode *n = st->node;
  CnnParams *q = &st->prm;
  const CnnShape *x = st->nIn > 0 && st->aIn[0] >= 0 ? &PV(st->aIn[0])->shape : NULL;
  int rc;
  if ((rc = need_f32(p, st, 0, err))) return rc;
  q->axis = norm_axis(cnn_attr_int(n, "axis", p->g->opset >= 13 ? -1 : 1), x->nd);
  if (q->axis < 0 || q->axis >= x->nd) return imgpca_seterr(err, "%s: axis out of range", LAB(st));
  q->transA = p->g->opset < 13; /* before opset 13: over the flattened axes from axis on */
  set_out(p, st, 0, CNN_F32, x);
  return IMGPCA_OK;
}

static int infer_identity(CnnPlan *p, CnnStep *st, char *err) {
  char lab[200];
  const CnnShape *x = st->nIn > 0 && st->aIn[0] >= 0 ? &PV(st->aIn[0])->shape : NULL;
  if (st->op == OP_DROPOUT && st->nIn > 2 && st->aIn[2] >= 0) {
    int v = st->aIn[2];
    if (!PV(v)->bConst) return imgpca_seterr(err, "%s: training_mode must be a constant", LAB(st));
    if ((PV(v)->type == CNN_F32 && PV(v)->cf[0] != 0) || (PV(v)->type == CNN_I64 && PV(v)->ci[0] != 0))
      return imgpca_seterr(err, "%s: training_mode=true is not supported (inference only)", LAB(st));
  }
  if (st->op == OP_DROPOUT && st->nOut > 1 && st->aOut[1] >= 0)
    return imgpca_seterr(err, "%s: the mask output (boolean) is not supported", LAB(st));
  set_out(p, st, 0, PV(st->aIn[0])->type, x);
  return IMGPCA_OK;
}

static int infer_shape(CnnPlan *p, CnnStep *st, char *err) {
  const CnnNode *n = st->node;
  CnnParams *q = &st->prm;
  const CnnShape *x = st->nIn > 0 && st->aIn[0] >= 0 ? &PV(st->aIn[0])->shape : NULL;
  CnnShape o;
  memset(&o, 0, sizeof o);
  o.nd = 1;
  {
    int64_t s = cnn_attr_int(n, "start", 0), e = cnn_attr_int(n, "end", x->nd);
    if (s < 0) s += x->nd;
    if (e < 0) e += x->nd;
    if (s < 0) s = 0;
    if (e > x->nd) e = x->nd;
    if (s > x->nd) s = x->nd;
    o.d[0] = e > s ? e - s : 0;
    q->axis = s;
  }
  set_out(p, st, 0, CNN_I64, &o);
  return IMGPCA_OK;
}

static int infer_gather(CnnPlan *p, CnnStep *st, char *err) {
  char lab[200];
  const CnnNode *n = st->node;
  CnnParams *q = &st->prm;
  const CnnShape *x = st->nIn > 0 && st->aIn[0] >= 0 ? &PV(st->aIn[0])->shape : NULL;
  CnnShape o;
  memset(&o, 0, sizeof o);
  int64_t nIdx, ax;
  const int64_t *idx = const_ints(p, st, 1, &nIdx, err);
  const CnnShape *is;
  int j;
  if (!idx) return IMGPCA_ERROR;
  is = &PV(st->aIn[1])->shape;
  ax = norm_axis(cnn_attr_int(n, "axis", 0), x->nd);
  if (ax < 0 || ax >= x->nd) return imgpca_seterr(err, "%s: axis out of range", LAB(st));
  if (x->nd - 1 + is->nd > CNN_MAXDIM) return imgpca_seterr(err, "%s: too many dimensions", LAB(st));
  q->axis = ax;
  q->aIdx = cnn_plan_own(p, (size_t)(nIdx + 1) * sizeof(int64_t));
  if (!q->aIdx) return IMGPCA_NOMEM;
  for (j = 0; j < nIdx; j++) {
    int64_t v = idx[j] < 0 ? idx[j] + x->d[ax] : idx[j];
    if (v < 0 || v >= x->d[ax]) return imgpca_seterr(err, "%s: index %lld out of range", LAB(st), (long long)idx[j]);
    q->aIdx[j] = v;
  }
  q->nIdx = nIdx;
  for (j = 0; j < ax; j++) o.d[o.nd++] = x->d[j];
  for (j = 0; j < is->nd; j++) o.d[o.nd++] = is->d[j];
  for (j = (int)ax + 1; j < x->nd; j++) o.d[o.nd++] = x->d[j];
  set_out(p, st, 0, PV(st->aIn[0])->type, &o);
  return IMGPCA_OK;
}

static int infer_cast(CnnPlan *p, CnnStep *st, char *err) {
  char lab[200];
  const CnnNode *n = st->node;
  const CnnShape *x = st->nIn > 0 && st->aIn[0] >= 0 ? &PV(st->aIn[0])->shape : NULL;
  int to = (int)cnn_attr_int(n, "to", 0);
  if (to != PV(st->aIn[0])->type && !PV(st->aIn[0])->bConst)
    return imgpca_seterr(err, "%s: a runtime cast between element types is not supported", LAB(st));
  set_out(p, st, 0, to, x);
  return IMGPCA_OK;
}

static int infer_pad(CnnPlan *p, CnnStep *st, char *err) {
  char lab[200];
  const CnnNode *n = st->node;
  CnnParams *q = &st->prm;
  const CnnShape *x = st->nIn > 0 && st->aIn[0] >= 0 ? &PV(st->aIn[0])->shape : NULL;
  CnnShape o;
  int i, rc;
  memset(&o, 0, sizeof o);
  int64_t pads[2 * CNN_MAXDIM], np = 0;
  int c;
  if ((rc = need_f32(p, st, 0, err))) return rc;
  q->padValue = 0;
  if (p->g->opset >= 11) {
    const int64_t *a = const_ints(p, st, 1, &np, err);
    if (!a) return IMGPCA_ERROR;
    if (np != 2 * x->nd) return imgpca_seterr(err, "%s: pads must have %d values", LAB(st), 2 * x->nd);
    memcpy(pads, a, (size_t)np * sizeof(int64_t));
    if (st->nIn > 2 && st->aIn[2] >= 0) {
      int v = st->aIn[2];
      if (!PV(v)->bConst || PV(v)->type != CNN_F32 || cnn_shape_count(&PV(v)->shape) != 1)
        return imgpca_seterr(err, "%s: constant_value must be a constant float32 scalar", LAB(st));
      q->padValue = PV(v)->cf[0];
    }
    if (st->nIn > 3 && st->aIn[3] >= 0) return imgpca_seterr(err, "%s: the axes input is not supported", LAB(st));
  } else {
    if (attr_ints(n, "pads", pads, 2 * CNN_MAXDIM, &c) < 0 || c != 2 * x->nd)
      return imgpca_seterr(err, "%s: pads must have %d values", LAB(st), 2 * x->nd);
    q->padValue = cnn_attr_float(n, "value", 0.0f);
  }
  o = *x;
  for (i = 0; i < x->nd; i++) {
    if (pads[i] < 0 || pads[x->nd + i] < 0 || pads[i] > 65536 || pads[x->nd + i] > 65536)
      return imgpca_seterr(err, "%s: negative or huge pads are not supported", LAB(st));
    q->padB[i] = pads[i];
    q->padE[i] = pads[x->nd + i];
    o.d[i] = x->d[i] + pads[i] + pads[x->nd + i];
  }
  set_out(p, st, 0, CNN_F32, &o);
  return IMGPCA_OK;
}

/* Constant nodes are folded by the plan itself. */
static int infer_constant(CnnPlan *p, CnnStep *st, char *err) { return IMGPCA_OK; }

/* Output types and shapes of one step, its parameters in st->prm. */
int cnn_op_infer(CnnPlan *p, CnnStep *st, char *err) {
  const OpDef *d = op_def(st->op);
  char lab[200];
  if (!d || !d->xInfer) return imgpca_seterr(err, "%s: no shape inference", LAB(st));
  return d->xInfer(p, st, err);
}

/* ---- kernels ---- */
static inline float act1(int act, float v, float a, float b) {
  switch (act) {
    case ACT_RELU: return v > 0 ? v : 0;
    case ACT_CLIP: return v < a ? a : (v > b ? b : v);
    case ACT_LEAKY: return v >= 0 ? v : v * a;
    case ACT_HARDSWISH: {
      float t = v / 6.0f + 0.5f;
      t = t < 0 ? 0 : (t > 1 ? 1 : t);
      return v * t;
    }
    case ACT_SIGMOID: return v >= 0 ? 1.0f / (1.0f + expf(-v)) : expf(v) / (1.0f + expf(v));
    case ACT_HARDSIGMOID: {
      float t = a * v + b;
      return t < 0 ? 0 : (t > 1 ? 1 : t);
    }
    default: return v;
  }
}

static inline void act_apply(int act, float a, float b, float *y, size_t n) {
  size_t i;
  switch (act) {
    case ACT_NONE: break;
    case ACT_RELU:
      for (i = 0; i < n; i++) y[i] = y[i] > 0 ? y[i] : 0;
      break;
    case ACT_CLIP:
      for (i = 0; i < n; i++) y[i] = y[i] < a ? a : (y[i] > b ? b : y[i]);
      break;
    default:
      for (i = 0; i < n; i++) y[i] = act1(act, y[i], a, b);
  }
}

/* Row r of a [rows x n] block set to v[r]. */
static CNN_HOT void fill_rows(float *y, int64_t rows, int64_t n, const float *v) {
  int64_t r, t;
  for (r = 0; r < rows; r++) {
    float *row = y + r * n, b = v[r];
    for (t = 0; t < n; t++) row[t] = b;
  }
}

static CNN_HOT void act_rows(int act, float a, float b, float *y, size_t n) { act_apply(act, a, b, y, n); }

/* im2col of one group for 2-D (1-D as H = 1). */
static CNN_HOT void im2col(const float *x, int64_t C, int64_t H, int64_t W, const CnnParams *q, int64_t OH, int64_t OW,
                           float *col) {
  int64_t c, ky, kx, oy, ox;
  int64_t kh = q->k[0], kw = q->k[1], sh = q->s[0], sw = q->s[1], dh = q->d[0], dw = q->d[1];
  int64_t ph = q->pb[0], pw = q->pb[1];
  for (c = 0; c < C; c++)
    for (ky = 0; ky < kh; ky++)
      for (kx = 0; kx < kw; kx++) {
        float *row = col + ((c * kh + ky) * kw + kx) * OH * OW;
        int64_t xoff = kx * dw - pw, lo, hi;
        /* ox range with 0 <= ox*sw + xoff < W */
        lo = xoff >= 0 ? 0 : (-xoff + sw - 1) / sw;
        hi = W - xoff > 0 ? (W - xoff - 1) / sw + 1 : 0;
        if (hi > OW) hi = OW;
        if (lo > hi) lo = hi;
        for (oy = 0; oy < OH; oy++) {
          int64_t iy = oy * sh + ky * dh - ph;
          float *r = row + oy * OW;
          if (iy < 0 || iy >= H) {
            memset(r, 0, (size_t)OW * sizeof(float));
            continue;
          }
          {
            const float *src = x + (c * H + iy) * W + xoff;
            for (ox = 0; ox < lo; ox++) r[ox] = 0;
            if (sw == 1)
              memcpy(r + lo, src + lo, (size_t)(hi - lo) * sizeof(float));
            else
              for (ox = lo; ox < hi; ox++) r[ox] = src[ox * sw];
            for (ox = hi; ox < OW; ox++) r[ox] = 0;
          }
        }
      }
}

/* Depthwise 3x3 convolution of one H x W plane (H, W >= 3), stride 1,
** padding 1, dilation 1, same size out: one pass over the whole plane (long
** vectors even for 7x7 maps); the first/last column and row are then redone
** with the taps inside the image.  Same summation order as the row by row
** path of depthwise: same bits.  Bias included, activation not. */
static CNN_HOT void depthwise3x3_same(const float *x, int64_t H, int64_t W, const float *w, float bias, float *y) {
  int64_t ky, kx, oy, ox;
  int64_t p, n = H * W;
  float w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6], w7 = w[7], w8 = w[8];
  const float *a0 = x - W - 1, *a1 = x - 1, *a2 = x + W - 1;
  for (p = W + 1; p < n - W - 1; p++)
    y[p] = bias + w0 * a0[p] + w1 * a0[p + 1] + w2 * a0[p + 2] + w3 * a1[p] + w4 * a1[p + 1] + w5 * a1[p + 2] +
        w6 * a2[p] + w7 * a2[p + 1] + w8 * a2[p + 2];
  /* first and last row, inner columns: the two rows of taps inside */
  for (ox = 1; ox < W - 1; ox++) {
    const float *b1 = x + ox - 1, *b2 = x + W + ox - 1;
    y[ox] = bias + w3 * b1[0] + w4 * b1[1] + w5 * b1[2] + w6 * b2[0] + w7 * b2[1] + w8 * b2[2];
  }
  for (ox = 1; ox < W - 1; ox++) {
    const float *b0 = x + (H - 2) * W + ox - 1, *b1 = x + (H - 1) * W + ox - 1;
    y[(H - 1) * W + ox] = bias + w0 * b0[0] + w1 * b0[1] + w2 * b0[2] + w3 * b1[0] + w4 * b1[1] + w5 * b1[2];
  }
  /* first and last column, inner rows: the two columns of taps inside */
  for (oy = 1; oy < H - 1; oy++) {
    const float *b0 = x + (oy - 1) * W, *b1 = b0 + W, *b2 = b1 + W;
    y[oy * W] = bias + w1 * b0[0] + w2 * b0[1] + w4 * b1[0] + w5 * b1[1] + w7 * b2[0] + w8 * b2[1];
    y[oy * W + W - 1] =
        bias + w0 * b0[W - 2] + w1 * b0[W - 1] + w3 * b1[W - 2] + w4 * b1[W - 1] + w6 * b2[W - 2] + w7 * b2[W - 1];
  }
  /* the four corners */
  for (oy = 0; oy < H; oy += H - 1)
    for (ox = 0; ox < W; ox += W - 1) {
      float v = bias;
      for (ky = 0; ky < 3; ky++) {
        int64_t iy = oy + ky - 1;
        if (iy < 0 || iy >= H) continue;
        for (kx = 0; kx < 3; kx++) {
          int64_t ix = ox + kx - 1;
          if (ix >= 0 && ix < W) v += w[ky * 3 + kx] * x[iy * W + ix];
        }
      }
      y[oy * W + ox] = v;
    }
}

/* Depthwise 2-D convolution of one channel plane (multiplier 1), one output
** row at a time (the row stays in L1 while the kernel taps accumulate),
** with the bias and the fused activation. */
static CNN_HOT void depthwise(const float *x, int64_t H, int64_t W, const float *w, const CnnParams *q, int64_t OH,
                              int64_t OW, float bias, float *y) {
  int64_t ky, kx, oy, ox;
  int64_t kh = q->k[0], kw = q->k[1], sh = q->s[0], sw = q->s[1], dh = q->d[0], dw = q->d[1];
  int64_t ph = q->pb[0], pw = q->pb[1];
  /* 3x3, dilation 1, stride 1 or 2: the columns whose taps are all inside
  ** the row take one fused pass over three input rows */
  int bFast = kh == 3 && kw == 3 && dh == 1 && dw == 1 && (sw == 1 || sw == 2);
  int64_t xlo = (pw + sw - 1) / sw, xhi = W - 3 + pw >= 0 ? (W - 3 + pw) / sw + 1 : 0;
  if (xhi > OW) xhi = OW;
  if (xlo > xhi) xlo = xhi;
  if (bFast && sw == 1 && sh == 1 && ph == 1 && pw == 1 && OH == H && OW == W && H >= 3 && W >= 3) {
    depthwise3x3_same(x, H, W, w, bias, y);
    act_apply(q->act, q->actA, q->actB, y, (size_t)(H * W));
    return;
  }
  for (oy = 0; oy < OH; oy++) {
    float *r = y + oy * OW;
    int64_t iy0 = oy * sh - ph;
    if (bFast && iy0 >= 0 && iy0 + 2 < H && xhi > xlo) {
      const float *a0 = x + iy0 * W - pw, *a1 = a0 + W, *a2 = a1 + W;
      float w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6], w7 = w[7], w8 = w[8];
      if (sw == 1) {
        for (ox = xlo; ox < xhi; ox++)
          r[ox] = bias + w0 * a0[ox] + w1 * a0[ox + 1] + w2 * a0[ox + 2] + w3 * a1[ox] + w4 * a1[ox + 1] +
              w5 * a1[ox + 2] + w6 * a2[ox] + w7 * a2[ox + 1] + w8 * a2[ox + 2];
      } else {
        for (ox = xlo; ox < xhi; ox++) {
          int64_t i = 2 * ox;
          r[ox] = bias + w0 * a0[i] + w1 * a0[i + 1] + w2 * a0[i + 2] + w3 * a1[i] + w4 * a1[i + 1] + w5 * a1[i + 2] +
              w6 * a2[i] + w7 * a2[i + 1] + w8 * a2[i + 2];
        }
      }
      /* border columns: the taps inside the image, same order */
      for (ox = 0; ox < OW; ox++) {
        float v = bias;
        if (ox == xlo) ox = xhi;
        if (ox >= OW) break;
        for (ky = 0; ky < 3; ky++)
          for (kx = 0; kx < 3; kx++) {
            int64_t ix = ox * sw + kx - pw;
            if (ix >= 0 && ix < W) v += w[ky * 3 + kx] * x[(iy0 + ky) * W + ix];
          }
        r[ox] = v;
      }
      act_apply(q->act, q->actA, q->actB, r, (size_t)OW);
      continue;
    }
    for (ox = 0; ox < OW; ox++) r[ox] = bias;
    for (ky = 0; ky < kh; ky++) {
      int64_t iy = oy * sh + ky * dh - ph;
      if (iy < 0 || iy >= H) continue;
      for (kx = 0; kx < kw; kx++) {
        float wv = w[ky * kw + kx];
        int64_t xoff = kx * dw - pw, lo, hi;
        const float *src = x + iy * W + xoff;
        lo = xoff >= 0 ? 0 : (-xoff + sw - 1) / sw;
        hi = W - xoff > 0 ? (W - xoff - 1) / sw + 1 : 0;
        if (hi > OW) hi = OW;
        if (lo > hi) lo = hi;
        if (sw == 1) {
          for (ox = lo; ox < hi; ox++) r[ox] += wv * src[ox];
        } else if (sw == 2) {
          for (ox = lo; ox < hi; ox++) r[ox] += wv * src[2 * ox];
        } else {
          for (ox = lo; ox < hi; ox++) r[ox] += wv * src[ox * sw];
        }
      }
    }
    act_apply(q->act, q->actA, q->actB, r, (size_t)OW);
  }
}

static int run_conv(const CnnStep *st, const CnnArgs *a) {
  const CnnParams *q = &st->prm;
  const CnnShape *xs = a->inShape[0], *ws = a->inShape[1], *ys = a->outShape[0];
  int64_t N = xs->d[0], C = xs->d[1], H = xs->nd == 4 ? xs->d[2] : 1, W = xs->d[xs->nd - 1];
  int64_t M = ws->d[0], OH = ys->nd == 4 ? ys->d[2] : 1, OW = ys->d[ys->nd - 1];
  int64_t G = q->group, Cg = C / G, Mg = M / G, K = Cg * q->k[0] * q->k[1], OHW = OH * OW, n, g;
  const float *bias = a->in[2];
  CnnParams q2 = *q;
  if (xs->nd == 3) { /* 1-D: move the single spatial dim to W */
    q2.k[1] = q->k[0];
    q2.s[1] = q->s[0];
    q2.d[1] = q->d[0];
    q2.pb[1] = q->pb[0];
    q2.pe[1] = q->pe[0];
    q2.k[0] = q2.s[0] = q2.d[0] = 1;
    q2.pb[0] = q2.pe[0] = 0;
    K = Cg * q2.k[1];
  }
  for (n = 0; n < N; n++) {
    const float *xn = a->in[0] + n * C * H * W;
    float *yn = a->out[0] + n * M * OHW;
    if (Cg == 1 && Mg == 1 && G > 1) {
      for (g = 0; g < G; g++)
        depthwise(xn + g * H * W, H, W, a->in[1] + g * K, &q2, OH, OW, bias ? bias[g] : 0.0f, yn + g * OHW);
      continue;
    }
    for (g = 0; g < G; g++) {
      const float *xg = xn + g * Cg * H * W, *wg = a->in[1] + g * Mg * K, *col;
      float *yg = yn + g * Mg * OHW;
      if (q2.k[0] == 1 && q2.k[1] == 1 && q2.s[0] == 1 && q2.s[1] == 1 && q2.pb[0] == 0 && q2.pb[1] == 0 &&
          q2.pe[0] == 0 && q2.pe[1] == 0) {
        col = xg;
      } else {
        im2col(xg, Cg, H, W, &q2, OH, OW, a->scratch);
        col = a->scratch;
      }
      if (bias) fill_rows(yg, Mg, OHW, bias + g * Mg); /* C starts as the bias (beta = 1) */
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)Mg, (blasint)OHW, (blasint)K, 1.0f, wg,
                  (blasint)K, col, (blasint)OHW, bias ? 1.0f : 0.0f, yg, (blasint)OHW);
    }
    if (q->act != ACT_NONE) act_rows(q->act, q->actA, q->actB, yn, (size_t)(M * OHW));
  }
  return IMGPCA_OK;
}

/* Pooling over up to 3 spatial dims (unused dims have size 1). */
static void run_pool(const CnnStep *st, const CnnArgs *a) {
  const CnnParams *q = &st->prm;
  const CnnShape *xs = a->inShape[0], *ys = a->outShape[0];
  int nsp = q->nsp, i;
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, k[3], s[3], d[3], pb[3], pe[3];
  int64_t nc = xs->d[0] * xs->d[1], c, o0, o1, o2;
  int bMax = st->op == OP_MAXPOOL;
  /* right-align the spatial dims into (D,H,W) */
  for (i = 0; i < 3; i++) {
    k[i] = s[i] = d[i] = 1;
    pb[i] = pe[i] = 0;
  }
  for (i = 0; i < nsp; i++) {
    int j = 3 - nsp + i;
    in[j] = xs->d[2 + i];
    out[j] = ys->d[2 + i];
    k[j] = q->k[i];
    s[j] = q->s[i];
    d[j] = q->d[i];
    pb[j] = q->pb[i];
    pe[j] = q->pe[i];
  }
  for (c = 0; c < nc; c++) {
    const float *x = a->in[0] + c * in[0] * in[1] * in[2];
    float *y = a->out[0] + c * out[0] * out[1] * out[2];
    for (o0 = 0; o0 < out[0]; o0++)
      for (o1 = 0; o1 < out[1]; o1++)
        for (o2 = 0; o2 < out[2]; o2++) {
          int64_t st0 = o0 * s[0] - pb[0], st1 = o1 * s[1] - pb[1], st2 = o2 * s[2] - pb[2], k0, k1, k2;
          float best = -INFINITY;
          double sum = 0;
          int64_t cnt = 0, cntPad = 1;
          for (k0 = 0; k0 < k[0]; k0++) {
            int64_t i0 = st0 + k0 * d[0];
            if (i0 < 0 || i0 >= in[0]) continue;
            for (k1 = 0; k1 < k[1]; k1++) {
              int64_t i1 = st1 + k1 * d[1];
              if (i1 < 0 || i1 >= in[1]) continue;
              for (k2 = 0; k2 < k[2]; k2++) {
                int64_t i2 = st2 + k2 * d[2];
                float v;
                if (i2 < 0 || i2 >= in[2]) continue;
                v = x[(i0 * in[1] + i1) * in[2] + i2];
                if (bMax) {
                  if (v > best || v != v) best = v;
                } else {
                  sum += v;
                }
                cnt++;
              }
            }
          }
          if (bMax) {
            y[(o0 * out[1] + o1) * out[2] + o2] = best;
            continue;
          }
          if (q->countPad) {
            /* window clipped to the padded extent */
            for (i = 0; i < 3; i++) {
              int64_t st_ = i == 0 ? st0 : (i == 1 ? st1 : st2), lo = st_, hi = st_ + k[i];
              if (lo < -pb[i]) lo = -pb[i];
              if (hi > in[i] + pe[i]) hi = in[i] + pe[i];
              cntPad *= hi > lo ? hi - lo : 0;
            }
            cnt = cntPad;
          }
          y[(o0 * out[1] + o1) * out[2] + o2] = cnt ? (float)(sum / (double)cnt) : 0.0f;
        }
  }
}

/* Broadcast binary op. */
static CNN_HOT void run_binary(int op, const float *x, const CnnShape *xs, const float *y, const CnnShape *ys, float *z,
                               const CnnShape *zs) {
  size_t n = cnn_shape_count(zs), i;
  int64_t sx[CNN_MAXDIM], sy[CNN_MAXDIM], idx[CNN_MAXDIM];
  int nd = zs->nd, j;
  size_t nx = cnn_shape_count(xs), ny = cnn_shape_count(ys);
  if (nx == n && ny == n) {
    switch (op) {
      case OP_ADD:
        for (i = 0; i < n; i++) z[i] = x[i] + y[i];
        return;
      case OP_SUB:
        for (i = 0; i < n; i++) z[i] = x[i] - y[i];
        return;
      case OP_MUL:
        for (i = 0; i < n; i++) z[i] = x[i] * y[i];
        return;
      default:
        for (i = 0; i < n; i++) z[i] = x[i] / y[i];
        return;
    }
  }
  if (ny == 1 && nx == n) {
    float b = y[0];
    switch (op) {
      case OP_ADD:
        for (i = 0; i < n; i++) z[i] = x[i] + b;
        return;
      case OP_SUB:
        for (i = 0; i < n; i++) z[i] = x[i] - b;
        return;
      case OP_MUL:
        for (i = 0; i < n; i++) z[i] = x[i] * b;
        return;
      default:
        for (i = 0; i < n; i++) z[i] = x[i] / b;
        return;
    }
  }
  /* general: strides with 0 on broadcast dims */
  {
    int64_t s = 1;
    for (j = nd - 1; j >= 0; j--) {
      int k = j - (nd - xs->nd);
      sx[j] = k >= 0 && xs->d[k] != 1 ? s : 0;
      if (k >= 0) s *= xs->d[k];
    }
    s = 1;
    for (j = nd - 1; j >= 0; j--) {
      int k = j - (nd - ys->nd);
      sy[j] = k >= 0 && ys->d[k] != 1 ? s : 0;
      if (k >= 0) s *= ys->d[k];
    }
  }
  memset(idx, 0, sizeof idx);
  {
    int64_t ox = 0, oy = 0;
    int64_t inner = nd ? zs->d[nd - 1] : 1, sxi = nd ? sx[nd - 1] : 0, syi = nd ? sy[nd - 1] : 0, t;
    for (i = 0; i < n; i += (size_t)inner) {
      float *zz = z + i;
      for (t = 0; t < inner; t++) {
        float a = x[ox + t * sxi], b = y[oy + t * syi];
        zz[t] = op == OP_ADD ? a + b : op == OP_SUB ? a - b
            : op == OP_MUL                          ? a * b
                                                    : a / b;
      }
      for (j = nd - 2; j >= 0; j--) {
        idx[j]++;
        ox += sx[j];
        oy += sy[j];
        if (idx[j] < zs->d[j]) break;
        ox -= sx[j] * idx[j];
        oy -= sy[j] * idx[j];
        idx[j] = 0;
      }
    }
  }
}

static void run_softmax(const CnnStep *st, const CnnArgs *a, int bLegacy) {
  const CnnShape *xs = a->inShape[0];
  int64_t ax = st->prm.axis, outer = 1, len = 1, inner = 1, o, i, t;
  int j;
  for (j = 0; j < xs->nd; j++) {
    if (j < ax)
      outer *= xs->d[j];
    else if (j == ax || bLegacy)
      len *= xs->d[j];
    else
      inner *= xs->d[j];
  }
  for (o = 0; o < outer; o++)
    for (t = 0; t < inner; t++) {
      const float *x = a->in[0] + o * len * inner + t;
      float *y = a->out[0] + o * len * inner + t;
      float mx = -INFINITY;
      double sum = 0;
      for (i = 0; i < len; i++)
        if (x[i * inner] > mx) mx = x[i * inner];
      for (i = 0; i < len; i++) {
        float e = expf(x[i * inner] - mx);
        y[i * inner] = e;
        sum += e;
      }
      for (i = 0; i < len; i++) y[i * inner] = (float)(y[i * inner] / sum);
    }
}

static void run_matmul(const CnnArgs *a) {
  CnnShape as = *a->inShape[0], bs = *a->inShape[1];
  const CnnShape *os = a->outShape[0];
  int64_t M, K, N, nb, i, j;
  int nbd, d;
  int64_t idx[CNN_MAXDIM];
  /* promote 1-D operands */
  if (as.nd == 1) {
    as.d[1] = as.d[0];
    as.d[0] = 1;
    as.nd = 2;
  }
  if (bs.nd == 1) {
    bs.d[1] = 1;
    bs.nd = 2;
  }
  M = as.d[as.nd - 2];
  K = as.d[as.nd - 1];
  N = bs.d[bs.nd - 1];
  nbd = (as.nd > bs.nd ? as.nd : bs.nd) - 2;
  nb = (int64_t)(cnn_shape_count(os) / (size_t)(M * N != 0 ? M * N : 1));
  if (M * N == 0) return;
  memset(idx, 0, sizeof idx);
  for (i = 0; i < nb; i++) {
    int64_t oa = 0, ob = 0, sa = 1, sb = 1;
    /* batch offsets with broadcasting */
    for (d = nbd - 1; d >= 0; d--) {
      int ka = d - (nbd - (as.nd - 2)), kb = d - (nbd - (bs.nd - 2));
      int64_t da = ka >= 0 ? as.d[ka] : 1, db = kb >= 0 ? bs.d[kb] : 1;
      if (da != 1) oa += idx[d] * sa;
      if (db != 1) ob += idx[d] * sb;
      sa *= da;
      sb *= db;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)M, (blasint)N, (blasint)K, 1.0f,
                a->in[0] + oa * M * K, (blasint)K, a->in[1] + ob * K * N, (blasint)N, 0.0f, a->out[0] + i * M * N,
                (blasint)N);
    for (j = nbd - 1; j >= 0; j--) {
      int64_t lim = 1;
      int ka = (int)j - (nbd - (as.nd - 2)), kb = (int)j - (nbd - (bs.nd - 2));
      int64_t da = ka >= 0 ? as.d[ka] : 1, db = kb >= 0 ? bs.d[kb] : 1;
      lim = da > db ? da : db;
      if (++idx[j] < lim) break;
      idx[j] = 0;
    }
  }
}

static void run_gemm(const CnnStep *st, const CnnArgs *a) {
  const CnnParams *q = &st->prm;
  const CnnShape *as = a->inShape[0], *bs = a->inShape[1], *ys = a->outShape[0];
  int64_t M = ys->d[0], N = ys->d[1], K = q->transA ? as->d[0] : as->d[1], i, j;
  float beta = 0.0f;
  if (a->in[2] && q->beta != 0.0f) {
    const CnnShape *cs = a->inShape[2];
    CnnShape c2 = *cs;
    int64_t sr, sc;
    while (c2.nd < 2) { /* right-align */
      c2.d[1] = c2.nd == 1 ? c2.d[0] : 1;
      c2.d[0] = 1;
      c2.nd = 2;
    }
    sr = c2.d[0] == 1 ? 0 : c2.d[1];
    sc = c2.d[1] == 1 ? 0 : 1;
    for (i = 0; i < M; i++)
      for (j = 0; j < N; j++) a->out[0][i * N + j] = a->in[2][i * sr + j * sc];
    beta = q->beta;
  }
  if (M * N == 0) return;
  if (K == 0) {
    for (i = 0; i < M * N; i++) a->out[0][i] *= beta;
  } else {
    cblas_sgemm(CblasRowMajor, q->transA ? CblasTrans : CblasNoTrans, q->transB ? CblasTrans : CblasNoTrans,
                (blasint)M, (blasint)N, (blasint)K, q->alpha, a->in[0], (blasint)as->d[1], a->in[1], (blasint)bs->d[1],
                beta, a->out[0], (blasint)N);
  }
  act_apply(q->act, q->actA, q->actB, a->out[0], (size_t)(M * N));
}

void cnn_concat_any(int n, const void *const *apIn, const CnnShape *const *aInShape, const CnnShape *ys, int64_t ax,
                    size_t esz, void *out) {
  int64_t outer = 1, inner = 1, o, off = 0;
  int j, i;
  for (j = 0; j < ax; j++) outer *= ys->d[j];
  for (j = (int)ax + 1; j < ys->nd; j++) inner *= ys->d[j];
  for (i = 0; i < n; i++) {
    int64_t len = aInShape[i]->d[ax] * inner;
    for (o = 0; o < outer; o++)
      memcpy((char *)out + (size_t)(o * ys->d[ax] * inner + off) * esz, (const char *)apIn[i] + (size_t)(o * len) * esz,
             (size_t)len * esz);
    off += len;
  }
}

void cnn_gather_any(const void *x, const CnnShape *xs, int64_t ax, const int64_t *aIdx, int64_t nIdx, size_t esz,
                    void *out) {
  int64_t outer = 1, inner = 1, o, j;
  int k;
  for (k = 0; k < ax; k++) outer *= xs->d[k];
  for (k = (int)ax + 1; k < xs->nd; k++) inner *= xs->d[k];
  for (o = 0; o < outer; o++)
    for (j = 0; j < nIdx; j++)
      memcpy((char *)out + (size_t)((o * nIdx + j) * inner) * esz,
             (const char *)x + (size_t)((o * xs->d[ax] + aIdx[j]) * inner) * esz, (size_t)inner * esz);
}

static void run_pad(const CnnStep *st, const CnnArgs *a) {
  const CnnShape *xs = a->inShape[0], *ys = a->outShape[0];
  size_t n = cnn_shape_count(ys), i;
  int64_t idx[CNN_MAXDIM];
  int nd = xs->nd, j;
  for (i = 0; i < n; i++) a->out[0][i] = st->prm.padValue;
  n = cnn_shape_count(xs);
  memset(idx, 0, sizeof idx);
  for (i = 0; i < n; i++) {
    int64_t off = 0;
    for (j = 0; j < nd; j++) off = off * ys->d[j] + idx[j] + st->prm.padB[j];
    a->out[0][off] = a->in[0][i];
    for (j = nd - 1; j >= 0; j--) {
      if (++idx[j] < xs->d[j]) break;
      idx[j] = 0;
    }
  }
}

int cnn_op_run(const CnnStep *st, const CnnArgs *a, char *err) {
  const CnnParams *q = &st->prm;
  size_t n = a->outShape[0] ? cnn_shape_count(a->outShape[0]) : 0, i;
  char lab[200];
  switch (st->op) {
    case OP_CONV: return run_conv(st, a);
    case OP_BATCHNORM: {
      const CnnShape *xs = a->inShape[0];
      int64_t N = xs->d[0], C = xs->d[1], inner = (int64_t)(n / (size_t)(N * C != 0 ? N * C : 1)), b, c, t;
      for (b = 0; b < N; b++)
        for (c = 0; c < C; c++) {
          float s = (float)((double)a->in[1][c] / sqrt((double)a->in[4][c] + (double)q->eps));
          float sh = a->in[2][c] - a->in[3][c] * s;
          const float *x = a->in[0] + (b * C + c) * inner;
          float *y = a->out[0] + (b * C + c) * inner;
          for (t = 0; t < inner; t++) y[t] = x[t] * s + sh;
        }
      return IMGPCA_OK;
    }
    case OP_RELU:
    case OP_LEAKYRELU:
    case OP_SIGMOID:
    case OP_HARDSIGMOID:
    case OP_HARDSWISH:
    case OP_CLIP:
      if (a->out[0] != a->in[0]) memcpy(a->out[0], a->in[0], n * sizeof(float));
      act_rows(q->act, (q->clipIn & 1) ? a->in[1][0] : q->actA, (q->clipIn & 2) ? a->in[2][0] : q->actB, a->out[0],
               n);
      return IMGPCA_OK;
    case OP_TANH:
      for (i = 0; i < n; i++) a->out[0][i] = tanhf(a->in[0][i]);
      return IMGPCA_OK;
    case OP_ADD:
    case OP_SUB:
    case OP_MUL:
    case OP_DIV: run_binary(st->op, a->in[0], a->inShape[0], a->in[1], a->inShape[1], a->out[0], a->outShape[0]); return IMGPCA_OK;
    case OP_CONCAT:
      cnn_concat_any(st->nIn, (const void *const *)a->in, a->inShape, a->outShape[0], q->axis, sizeof(float), a->out[0]);
      return IMGPCA_OK;
    case OP_MAXPOOL:
    case OP_AVGPOOL: run_pool(st, a); return IMGPCA_OK;
    case OP_GLOBALAVGPOOL:
    case OP_GLOBALMAXPOOL: {
      size_t inner = cnn_shape_count(a->inShape[0]) / (n ? n : 1), c, t;
      for (c = 0; c < n; c++) {
        const float *x = a->in[0] + c * inner;
        if (st->op == OP_GLOBALAVGPOOL) {
          double s = 0;
          for (t = 0; t < inner; t++) s += x[t];
          a->out[0][c] = (float)(s / (double)(inner ? inner : 1));
        } else {
          float m = -INFINITY;
          for (t = 0; t < inner; t++)
            if (x[t] > m || x[t] != x[t]) m = x[t];
          a->out[0][c] = m;
        }
      }
      return IMGPCA_OK;
    }
    case OP_FLATTEN:
    case OP_RESHAPE:
    case OP_SQUEEZE:
    case OP_UNSQUEEZE:
    case OP_IDENTITY:
    case OP_DROPOUT:
    case OP_CAST:
      if (a->out[0] != a->in[0]) memcpy(a->out[0], a->in[0], n * sizeof(float));
      return IMGPCA_OK;
    case OP_GEMM: run_gemm(st, a); return IMGPCA_OK;
    case OP_MATMUL: run_matmul(a); return IMGPCA_OK;
    case OP_SOFTMAX: run_softmax(st, a, st->prm.transA); return IMGPCA_OK;
    case OP_GATHER:
      cnn_gather_any(a->in[0], a->inShape[0], q->axis, q->aIdx, q->nIdx, sizeof(float), a->out[0]);
      return IMGPCA_OK;
    case OP_PAD: run_pad(st, a); return IMGPCA_OK;
    default: break;
  }
  return imgpca_seterr(err, "%s: no kernel", cnn_node_label(st->node, lab, sizeof lab));
}
