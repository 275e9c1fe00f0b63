/*
** Compilation and execution of an ONNX graph for fixed input shapes (pure
** C core, no SQL).
**
** cnn_plan_new keeps only the nodes the requested outputs need, infers every
** shape, folds every node whose inputs are all constant (Shape, Gather,
** Unsqueeze, Concat, Reshape ... chains on int64 that exporters emit around
** Flatten, and float subgraphs on weights) and fuses an activation that
** follows a Conv or Gemm into it.  Reshape-like nodes alias their input
** (no copy).  Activations live in one arena per CnnWork: each tensor gets a
** buffer that is reused once its last reader has run, and element-wise
** nodes write in place over an input that dies with them.
*/
#include "cnn_int.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../common/lazy_blas.h"
#include "../common/lazylib.h"

#include <pthread.h>

static pthread_mutex_t parMu = PTHREAD_MUTEX_INITIALIZER;
static int nParallel, nSavedThreads;

void cnn_parallel_begin(void) {
  if (imgpca_blas_load(NULL)) return;
  pthread_mutex_lock(&parMu);
  if (nParallel++ == 0) {
    nSavedThreads = openblas_get_num_threads();
    if (nSavedThreads > 1) openblas_set_num_threads(1);
  }
  pthread_mutex_unlock(&parMu);
}

void cnn_parallel_end(void) {
  pthread_mutex_lock(&parMu);
  if (nParallel > 0 && --nParallel == 0 && nSavedThreads > 1) openblas_set_num_threads(nSavedThreads);
  pthread_mutex_unlock(&parMu);
}

void *cnn_plan_own(CnnPlan *p, size_t nBytes) {
  void *m, **a;
  if ((p->nOwned & (p->nOwned - 1)) == 0) {
    a = imgpca_realloc(p->aOwned, (size_t)(p->nOwned ? p->nOwned * 2 : 16) * sizeof(void *));
    if (!a) return NULL;
    p->aOwned = a;
  }
  m = imgpca_calloc(1, nBytes ? nBytes : 1);
  if (!m) return NULL;
  p->aOwned[p->nOwned++] = m;
  return m;
}

void cnn_plan_free(CnnPlan *p) {
  int i;
  if (!p) return;
  for (i = 0; i < p->nOwned; i++) imgpca_free(p->aOwned[i]);
  imgpca_free(p->aOwned);
  imgpca_free(p->aPV);
  imgpca_free(p->aStep);
  imgpca_free(p->aFeedF);
  imgpca_free(p->aOut);
  imgpca_free(p->aOutShape);
  if (p->g) cnn_graph_release(p->g);
  imgpca_free(p);
}

static int find_root(CnnPlan *p, int v) {
  while (p->aPV[v].root != v) {
    p->aPV[v].root = p->aPV[p->aPV[v].root].root;
    v = p->aPV[v].root;
  }
  return v;
}

/* ---- constant folding ---- */
static int is_alias_op(int op) {
  return op == OP_FLATTEN || op == OP_RESHAPE || op == OP_SQUEEZE || op == OP_UNSQUEEZE || op == OP_IDENTITY ||
      op == OP_DROPOUT || op == OP_CAST;
}

/* int64 constants: the few operators exporters apply to shapes. */
static int fold_i64(CnnPlan *p, CnnStep *st, char *err) {
  char lab[200];
  CnnPVal *o = &p->aPV[st->aOut[0]];
  size_t n = cnn_shape_count(&o->shape), i;
  int64_t *out = cnn_plan_own(p, (n + 1) * sizeof(int64_t));
  const CnnPVal *x = st->nIn > 0 && st->aIn[0] >= 0 ? &p->aPV[st->aIn[0]] : NULL;
  if (!out) return IMGPCA_NOMEM;
  switch (st->op) {
    case OP_SHAPE:
      for (i = 0; i < n; i++) out[i] = x->shape.d[st->prm.axis + (int64_t)i];
      break;
    case OP_FLATTEN:
    case OP_RESHAPE:
    case OP_SQUEEZE:
    case OP_UNSQUEEZE:
    case OP_IDENTITY:
    case OP_DROPOUT:
      if (x->type == CNN_I64)
        memcpy(out, x->ci, n * sizeof(int64_t));
      else
        return imgpca_seterr(err, "%s: unexpected float input", cnn_node_label(st->node, lab, sizeof lab));
      break;
    case OP_CAST:
      for (i = 0; i < n; i++) {
        if (x->type == CNN_I64) {
          out[i] = x->ci[i];
        } else {
          float f = x->cf[i];
          if (!(f > -9.2e18f && f < 9.2e18f))
            return imgpca_seterr(err, "%s: value out of the int64 range", cnn_node_label(st->node, lab, sizeof lab));
          out[i] = (int64_t)f;
        }
      }
      break;
    case OP_GATHER: cnn_gather_any(x->ci, &x->shape, st->prm.axis, st->prm.aIdx, st->prm.nIdx, sizeof(int64_t), out); break;
    case OP_CONCAT: {
      const void *apIn[CNN_MAXIN];
      const CnnShape *aShape[CNN_MAXIN];
      int k;
      for (k = 0; k < st->nIn; k++) {
        apIn[k] = p->aPV[st->aIn[k]].ci;
        aShape[k] = &p->aPV[st->aIn[k]].shape;
      }
      cnn_concat_any(st->nIn, apIn, aShape, &o->shape, st->prm.axis, sizeof(int64_t), out);
      break;
    }
    case OP_ADD:
    case OP_SUB:
    case OP_MUL:
    case OP_DIV: {
      const CnnPVal *y = &p->aPV[st->aIn[1]];
      size_t nx = cnn_shape_count(&x->shape), ny = cnn_shape_count(&y->shape);
      if (!((nx == n || nx == 1) && (ny == n || ny == 1)))
        return imgpca_seterr(err, "%s: int64 broadcasting beyond scalars is not supported",
                             cnn_node_label(st->node, lab, sizeof lab));
      for (i = 0; i < n; i++) {
        int64_t a = x->ci[nx == 1 ? 0 : i], b = y->ci[ny == 1 ? 0 : i];
        int bOver = 0;
        if (st->op == OP_DIV && b == 0)
          return imgpca_seterr(err, "%s: integer division by zero", cnn_node_label(st->node, lab, sizeof lab));
        switch (st->op) {
          case OP_ADD: bOver = __builtin_add_overflow(a, b, &out[i]); break;
          case OP_SUB: bOver = __builtin_sub_overflow(a, b, &out[i]); break;
          case OP_MUL: bOver = __builtin_mul_overflow(a, b, &out[i]); break;
          default:
            bOver = a == INT64_MIN && b == -1;
            if (!bOver) out[i] = a / b;
        }
        if (bOver) return imgpca_seterr(err, "%s: int64 overflow", cnn_node_label(st->node, lab, sizeof lab));
      }
      break;
    }
    default:
      return imgpca_seterr(err, "%s: int64 tensors are not supported here", cnn_node_label(st->node, lab, sizeof lab));
  }
  o->bConst = 1;
  o->ci = out;
  return IMGPCA_OK;
}

/* float32 constants: runs the kernel at compile time. */
static int fold_f32(CnnPlan *p, CnnStep *st, char *err) {
  CnnArgs a;
  int i, rc;
  float *scratch = NULL;
  memset(&a, 0, sizeof a);
  for (i = 0; i < st->nIn; i++) {
    if (st->aIn[i] < 0) continue;
    if (p->aPV[st->aIn[i]].type == CNN_F32) a.in[i] = p->aPV[st->aIn[i]].cf;
    a.inShape[i] = &p->aPV[st->aIn[i]].shape;
  }
  for (i = 0; i < st->nOut && i < 2; i++) {
    CnnPVal *o;
    if (st->aOut[i] < 0) continue;
    o = &p->aPV[st->aOut[i]];
    a.out[i] = cnn_plan_own(p, (cnn_shape_count(&o->shape) + 1) * sizeof(float));
    if (!a.out[i]) return IMGPCA_NOMEM;
    a.outShape[i] = &o->shape;
  }
  if (st->nScratch) {
    scratch = imgpca_malloc(st->nScratch * sizeof(float));
    if (!scratch) return IMGPCA_NOMEM;
  }
  a.scratch = scratch;
  rc = cnn_op_run(st, &a, err);
  imgpca_free(scratch);
  if (rc) return rc;
  for (i = 0; i < st->nOut && i < 2; i++)
    if (st->aOut[i] >= 0) {
      p->aPV[st->aOut[i]].bConst = 1;
      p->aPV[st->aOut[i]].cf = a.out[i];
    }
  return IMGPCA_OK;
}

static int constant_node(CnnPlan *p, const CnnNode *n, char *err) {
  CnnPVal *o = &p->aPV[n->aOut[0]];
  const CnnAttr *a = &n->aAttr[0];
  char lab[200];
  if (strcmp(a->zName, "value") == 0 && a->bTensor) {
    o->type = a->tType;
    o->shape = a->tShape;
    o->cf = a->tF;
    o->ci = a->tI;
  } else if (strcmp(a->zName, "value_float") == 0) {
    o->type = CNN_F32;
    o->shape.nd = 0;
    o->cf = &a->f;
  } else if (strcmp(a->zName, "value_floats") == 0) {
    o->type = CNN_F32;
    o->shape.nd = 1;
    o->shape.d[0] = a->nFloats;
    o->cf = a->aFloats;
  } else if (strcmp(a->zName, "value_int") == 0) {
    o->type = CNN_I64;
    o->shape.nd = 0;
    o->ci = &a->i;
  } else if (strcmp(a->zName, "value_ints") == 0) {
    o->type = CNN_I64;
    o->shape.nd = 1;
    o->shape.d[0] = a->nInts;
    o->ci = a->aInts;
  } else {
    return imgpca_seterr(err, "%s: unsupported value attribute '%s'", cnn_node_label(n, lab, sizeof lab), a->zName);
  }
  o->bConst = 1;
  return IMGPCA_OK;
}

/* ---- building ---- */
static int plan_feeds(CnnPlan *p, int nFeed, const CnnFeed *aFeed, char *err) {
  CnnGraph *g = p->g;
  int i, j;
  p->aFeedF = imgpca_malloc(((size_t)nFeed + 1) * sizeof(int));
  if (!p->aFeedF) return IMGPCA_NOMEM;
  for (i = 0; i < g->nInput; i++) {
    int v = g->aInput[i];
    const CnnValue *gv = &g->aVal[v];
    const CnnFeed *f = NULL;
    CnnPVal *pv = &p->aPV[v];
    for (j = 0; j < nFeed; j++)
      if (strcmp(aFeed[j].zName, gv->zName) == 0) f = &aFeed[j];
    if (!f) return imgpca_seterr(err, "no value for the graph input '%.100s'", gv->zName);
    if (f->shape.nd < 0 || f->shape.nd > CNN_MAXDIM) return imgpca_seterr(err, "invalid shape for '%.100s'", gv->zName);
    for (j = 0; j < f->shape.nd; j++)
      if (f->shape.d[j] < 0 || f->shape.d[j] > g->lim.maxElements)
        return imgpca_seterr(err, "invalid shape for '%.100s'", gv->zName);
    if (cnn_shape_count(&f->shape) > (size_t)g->lim.maxElements)
      return imgpca_seterr(err, "input '%.100s' is too large", gv->zName);
    if (gv->shape.nd >= 0) {
      if (gv->shape.nd != f->shape.nd)
        return imgpca_seterr(err, "input '%.100s' has rank %d, the model declares %d", gv->zName, f->shape.nd,
                             gv->shape.nd);
      for (j = 0; j < f->shape.nd; j++)
        if (gv->shape.d[j] >= 0 && gv->shape.d[j] != f->shape.d[j]) {
          /* a declared size differs: allowed for spatial dims of a fully convolutional model */
          if (j < 2)
            return imgpca_seterr(err, "input '%.100s' dimension %d is %lld, the model declares %lld", gv->zName, j,
                                 (long long)f->shape.d[j], (long long)gv->shape.d[j]);
        }
    }
    if (f->type != CNN_F32 && f->type != CNN_I64)
      return imgpca_seterr(err, "input '%.100s': element type %d is not supported", gv->zName, f->type);
    if (gv->type && gv->type != f->type)
      return imgpca_seterr(err, "input '%.100s' is declared with element type %d, fed %d", gv->zName, gv->type,
                           f->type);
    pv->type = f->type;
    pv->shape = f->shape;
    if (f->type == CNN_I64) {
      size_t n = cnn_shape_count(&f->shape);
      int64_t *c = cnn_plan_own(p, (n + 1) * sizeof(int64_t));
      if (!c) return IMGPCA_NOMEM;
      if (n) memcpy(c, f->pI64, n * sizeof(int64_t));
      pv->bConst = 1;
      pv->ci = c;
    } else {
      pv->root = v;
      p->aFeedF[p->nFeedF++] = v;
    }
  }
  /* float feeds in the caller's order */
  {
    int k = 0;
    for (j = 0; j < nFeed; j++) {
      int v = cnn_value_find(g, aFeed[j].zName);
      if (v < 0 || g->aVal[v].src != SRC_INPUT)
        return imgpca_seterr(err, "'%.100s' is not a graph input", aFeed[j].zName);
      if (aFeed[j].type == CNN_F32) p->aFeedF[k++] = v;
    }
  }
  return IMGPCA_OK;
}

/* 1 if every dimension is known and the element count stays <= max. */
static int shape_fits(const CnnShape *s, int64_t max) {
  int64_t n = 1;
  int i;
  if (s->nd < 0 || s->nd > CNN_MAXDIM) return 0;
  for (i = 0; i < s->nd; i++) {
    if (s->d[i] < 0) return 0;
    if (s->d[i] && n > max / s->d[i]) return 0;
    n *= s->d[i];
  }
  return n <= max;
}

static int is_activation(int op) {
  return op == OP_RELU || op == OP_CLIP || op == OP_LEAKYRELU || op == OP_HARDSWISH || op == OP_SIGMOID ||
      op == OP_HARDSIGMOID;
}

/* Pruning: aNeed[i] = 1 for every node the plan's outputs depend on, and
** aUse[v] = the number of needed nodes reading value v (plus 1000000 for an
** output, which must never be fused away). */
static void mark_needed(const CnnPlan *p, char *aNeed, int *aUse) {
  const CnnGraph *g = p->g;
  int i, j;
  for (i = 0; i < p->nOut; i++) {
    int v = p->aOut[i];
    if (g->aVal[v].src == SRC_NODE) aNeed[g->aVal[v].iNode] = 1;
  }
  for (i = g->nNode - 1; i >= 0; i--) {
    if (!aNeed[i]) continue;
    for (j = 0; j < g->aNode[i].nIn; j++) {
      int v = g->aNode[i].aIn[j];
      if (v < 0) continue;
      aUse[v]++;
      if (g->aVal[v].src == SRC_NODE) aNeed[g->aVal[v].iNode] = 1;
    }
  }
  for (i = 0; i < p->nOut; i++) aUse[p->aOut[i]] += 1000000;
}

/* Fills step st for node n and infers its output shapes.  *pFold = 1 when
** the step can be computed now (Shape, or every input constant). */
static int step_init(CnnPlan *p, const CnnNode *n, CnnStep *st, int *pFold, char *err) {
  const CnnGraph *g = p->g;
  int j, bAllConst = 1, bAnyIn = 0, rc;
  char lab[200];
  memset(st, 0, sizeof *st);
  st->op = n->op;
  st->node = n;
  st->nIn = n->nIn;
  st->nOut = n->nOut < 2 ? n->nOut : 2;
  for (j = 0; j < n->nIn; j++) {
    st->aIn[j] = n->aIn[j];
    if (n->aIn[j] < 0) continue;
    bAnyIn = 1;
    if (!p->aPV[n->aIn[j]].bConst) bAllConst = 0;
    if (!p->aPV[n->aIn[j]].type)
      return imgpca_seterr(err, "%s: input '%.100s' is not available", cnn_node_label(n, lab, sizeof lab),
                           g->aVal[n->aIn[j]].zName);
  }
  for (j = 0; j < st->nOut; j++) st->aOut[j] = n->aOut[j];
  rc = cnn_op_infer(p, st, err);
  if (rc) return rc;
  for (j = 0; j < st->nOut; j++) /* no tensor above the model's limits */
    if (st->aOut[j] >= 0 && !shape_fits(&p->aPV[st->aOut[j]].shape, g->lim.maxElements))
      return imgpca_seterr(err, "%s: output tensor too large (more than %lld elements)",
                           cnn_node_label(n, lab, sizeof lab), (long long)g->lim.maxElements);
  if (st->nScratch > (size_t)g->lim.maxElements)
    return imgpca_seterr(err, "%s: needs more than %lld elements of scratch", cnn_node_label(n, lab, sizeof lab),
                         (long long)g->lim.maxElements);
  *pFold = st->op == OP_SHAPE || (bAllConst && bAnyIn);
  return IMGPCA_OK;
}

/* Fuses activation step st into the Conv or Gemm step producing its input
** when that input has no other reader; 1 if fused (st needs no step). */
static int fuse_activation(CnnPlan *p, const CnnStep *st, int *aProd, const int *aUse) {
  CnnStep *pr;
  if (!is_activation(st->op) || aProd[st->aIn[0]] < 0 || aUse[st->aIn[0]] != 1) return 0;
  pr = &p->aStep[aProd[st->aIn[0]]];
  if ((pr->op != OP_CONV && pr->op != OP_GEMM) || pr->prm.act != ACT_NONE || pr->aOut[0] != st->aIn[0] ||
      st->prm.clipIn)
    return 0;
  pr->prm.act = st->prm.act;
  pr->prm.actA = st->prm.actA;
  pr->prm.actB = st->prm.actB;
  p->aPV[st->aOut[0]].root = find_root(p, st->aIn[0]);
  aProd[st->aOut[0]] = aProd[st->aIn[0]];
  return 1;
}

/* The runtime steps of the plan, in graph order: nodes the outputs do not
** need are pruned, constants and steps over constants folded, reshapes
** aliased and activations fused into the step before them. */
static int build_steps(CnnPlan *p, char *err) {
  CnnGraph *g = p->g;
  char *aNeed = imgpca_calloc((size_t)g->nNode + 1, 1);
  int *aUse = imgpca_calloc((size_t)g->nVal + 1, sizeof(int));
  int *aProd = imgpca_malloc(((size_t)g->nVal + 1) * sizeof(int)); /* runtime step producing a value */
  int i, j, rc = IMGPCA_OK;
  if (!aNeed || !aUse || !aProd) {
    rc = IMGPCA_NOMEM;
    goto done;
  }
  for (i = 0; i < g->nVal; i++) aProd[i] = -1;
  mark_needed(p, aNeed, aUse);
  p->aStep = imgpca_calloc((size_t)g->nNode + 1, sizeof(CnnStep));
  if (!p->aStep) {
    rc = IMGPCA_NOMEM;
    goto done;
  }
  for (i = 0; i < g->nNode && rc == IMGPCA_OK; i++) {
    const CnnNode *n = &g->aNode[i];
    CnnStep *st = &p->aStep[p->nStep];
    int bFold = 0;
    if (!aNeed[i]) continue;
    if (n->op == OP_CONSTANT) {
      rc = constant_node(p, n, err);
      continue;
    }
    rc = step_init(p, n, st, &bFold, err);
    if (rc) break;
    if (bFold) {
      int t = p->aPV[st->aOut[0]].type;
      rc = t == CNN_I64 ? fold_i64(p, st, err) : fold_f32(p, st, err);
      continue;
    }
    if (p->aPV[st->aOut[0]].type != CNN_F32) {
      char lab[200];
      rc = imgpca_seterr(err, "%s: int64 output from runtime data is not supported", cnn_node_label(n, lab, sizeof lab));
      break;
    }
    if (is_alias_op(st->op)) { /* same bytes, new shape: no step */
      p->aPV[st->aOut[0]].root = find_root(p, st->aIn[0]);
      continue;
    }
    if (fuse_activation(p, st, aProd, aUse)) continue;
    for (j = 0; j < st->nOut; j++)
      if (st->aOut[j] >= 0) {
        p->aPV[st->aOut[j]].root = st->aOut[j];
        aProd[st->aOut[j]] = p->nStep;
      }
    if (st->nScratch > p->nScratch) p->nScratch = st->nScratch;
    p->nStep++;
  }
done:
  imgpca_free(aNeed);
  imgpca_free(aUse);
  imgpca_free(aProd);
  return rc;
}

/* Liveness, in-place element-wise steps and buffer assignment. */
static int plan_memory(CnnPlan *p) {
  CnnGraph *g = p->g;
  int nV = g->nVal, i, j, rc = IMGPCA_NOMEM;
  int *aLast = imgpca_malloc(((size_t)nV + 1) * sizeof(int)); /* per root */
  int64_t *aBufSize = imgpca_malloc(((size_t)nV + 1) * sizeof(int64_t));
  char *aBufFree = imgpca_malloc((size_t)nV + 1);
  int *aRootBuf = imgpca_malloc(((size_t)nV + 1) * sizeof(int));
  int nBuf = 0;
  if (!aLast || !aBufSize || !aBufFree || !aRootBuf) goto done;
  for (i = 0; i < nV; i++) {
    aLast[i] = -1;
    aRootBuf[i] = -1;
  }
  for (i = 0; i < p->nStep; i++)
    for (j = 0; j < p->aStep[i].nIn; j++) {
      int v = p->aStep[i].aIn[j];
      if (v >= 0 && !p->aPV[v].bConst) {
        int r = find_root(p, v);
        if (aLast[r] < i) aLast[r] = i;
      }
    }
  for (i = 0; i < p->nOut; i++)
    if (!p->aPV[p->aOut[i]].bConst) aLast[find_root(p, p->aOut[i])] = 1 << 30;
  /* in place: an element-wise step whose first input dies with it */
  for (i = 0; i < p->nStep; i++) {
    CnnStep *st = &p->aStep[i];
    int v = st->aIn[0], o = st->aOut[0], r, ro;
    int bEw = is_activation(st->op) || st->op == OP_TANH || st->op == OP_BATCHNORM ||
        ((st->op == OP_ADD || st->op == OP_MUL || st->op == OP_SUB || st->op == OP_DIV) && v >= 0 &&
         cnn_shape_count(&p->aPV[v].shape) == cnn_shape_count(&p->aPV[o].shape));
    if (!bEw || v < 0 || p->aPV[v].bConst) continue;
    r = find_root(p, v);
    ro = find_root(p, o);
    if (aLast[r] != i || r == ro) continue;
    if (st->nIn > 1 && st->aIn[1] >= 0 && !p->aPV[st->aIn[1]].bConst && find_root(p, st->aIn[1]) == r) continue;
    p->aPV[ro].root = r;
    aLast[r] = aLast[ro];
  }
  /* buffers: feeds first, then each step's outputs; released after the last reader */
  for (i = -1; i < p->nStep; i++) {
    int nNew = i < 0 ? p->nFeedF : p->aStep[i].nOut, k;
    for (k = 0; k < nNew; k++) {
      int v = i < 0 ? p->aFeedF[k] : p->aStep[i].aOut[k], r, b, best = -1, any = -1;
      if (v < 0) continue;
      r = find_root(p, v);
      int64_t need = (int64_t)cnn_shape_count(&p->aPV[r].shape);
      if (aRootBuf[r] >= 0) continue;
      for (b = 0; b < nBuf; b++) {
        if (!aBufFree[b]) continue;
        if (aBufSize[b] >= need && (best < 0 || aBufSize[b] < aBufSize[best])) best = b;
        if (any < 0 || aBufSize[b] > aBufSize[any]) any = b;
      }
      if (best < 0 && any >= 0) {
        best = any;
        aBufSize[best] = need;
      }
      if (best < 0) {
        best = nBuf++;
        aBufSize[best] = need;
      }
      aBufFree[best] = 0;
      aRootBuf[r] = best;
    }
    /* release what this step read for the last time (and unread outputs) */
    for (k = 0; k < nV; k++)
      if (aRootBuf[k] >= 0 && !aBufFree[aRootBuf[k]] && find_root(p, k) == k && aLast[k] <= i &&
          aLast[k] != (1 << 30)) {
        aBufFree[aRootBuf[k]] = 1;
        aLast[k] = 1 << 29; /* released */
        aRootBuf[k] = -2 - aRootBuf[k];
      }
  }
  {
    int64_t *aOff = imgpca_malloc(((size_t)nBuf + 1) * sizeof(int64_t)), off = 0;
    if (!aOff) goto done;
    for (i = 0; i < nBuf; i++) {
      aOff[i] = off;
      off += (aBufSize[i] + 15) & ~(int64_t)15; /* 64-byte aligned tensors */
    }
    p->nArena = off;
    for (i = 0; i < nV; i++) {
      int b = aRootBuf[i] <= -2 ? -2 - aRootBuf[i] : aRootBuf[i];
      if (b >= 0) p->aPV[i].off = aOff[b];
    }
    imgpca_free(aOff);
  }
  rc = IMGPCA_OK;
done:
  imgpca_free(aLast);
  imgpca_free(aBufSize);
  imgpca_free(aBufFree);
  imgpca_free(aRootBuf);
  return rc;
}

int cnn_plan_new(CnnGraph *g, int nFeed, const CnnFeed *aFeed, int nOut, const char *const *azOut, CnnPlan **pp,
                 char *err) {
  CnnPlan *p;
  int i, rc;
  *pp = NULL;
  if (imgpca_blas_load(err)) return IMGPCA_ERROR;
  if (nOut < 1) return imgpca_seterr(err, "no output requested");
  p = imgpca_calloc(1, sizeof(CnnPlan));
  if (!p) return IMGPCA_NOMEM;
  cnn_graph_retain(g);
  p->g = g;
  p->aPV = imgpca_calloc((size_t)g->nVal + 1, sizeof(CnnPVal));
  p->aOut = imgpca_malloc((size_t)nOut * sizeof(int));
  p->aOutShape = imgpca_calloc((size_t)nOut, sizeof(CnnShape));
  if (!p->aPV || !p->aOut || !p->aOutShape) {
    cnn_plan_free(p);
    return IMGPCA_NOMEM;
  }
  for (i = 0; i < g->nVal; i++) {
    CnnPVal *pv = &p->aPV[i];
    const CnnValue *v = &g->aVal[i];
    pv->root = -1;
    if (v->src == SRC_INIT) {
      pv->type = v->type;
      pv->shape = v->shape;
      pv->bConst = 1;
      pv->cf = v->f;
      pv->ci = v->i;
    }
  }
  rc = plan_feeds(p, nFeed, aFeed, err);
  for (i = 0; i < nOut && rc == IMGPCA_OK; i++) {
    int v = cnn_value_find(g, azOut[i]);
    if (v < 0 || g->aVal[v].src == SRC_NONE) {
      if (v >= 0 && g->aVal[v].bGone)
        rc = imgpca_seterr(err,
                           "tensor '%.100s' was folded into the next node when the model was loaded (a "
                           "BatchNormalization) and cannot be an output",
                           azOut[i]);
      else
        rc = imgpca_seterr(err, "no tensor named '%.100s' in the model", azOut[i]);
    }
    p->aOut[i] = v;
  }
  p->nOut = nOut;
  if (rc == IMGPCA_OK) rc = build_steps(p, err);
  for (i = 0; i < nOut && rc == IMGPCA_OK; i++) {
    CnnPVal *pv = &p->aPV[p->aOut[i]];
    if (pv->type != CNN_F32)
      rc = imgpca_seterr(err, "output '%.100s' is not a float32 tensor", g->aVal[p->aOut[i]].zName);
    p->aOutShape[i] = pv->shape;
  }
  if (rc == IMGPCA_OK) rc = plan_memory(p);
  if (rc == IMGPCA_OK && p->nArena + (int64_t)p->nScratch > g->lim.maxElements)
    rc = imgpca_seterr(err, "the model needs %lld MiB of activations per image (at most %lld)",
                       (long long)((p->nArena + (int64_t)p->nScratch) >> 18), (long long)(g->lim.maxElements >> 18));
  if (rc) {
    cnn_plan_free(p);
    if (rc == IMGPCA_ERROR) cnn_err_printable(err);
    return rc;
  }
  *pp = p;
  return IMGPCA_OK;
}

const CnnShape *cnn_plan_output_shape(const CnnPlan *p, int i) { return &p->aOutShape[i]; }
size_t cnn_plan_work_bytes(const CnnPlan *p) { return ((size_t)p->nArena + p->nScratch) * sizeof(float); }

CnnWork *cnn_work_new(const CnnPlan *p) {
  CnnWork *w = imgpca_calloc(1, sizeof(CnnWork));
  if (!w) return NULL;
  w->arena = imgpca_malloc(((size_t)p->nArena + 16) * sizeof(float));
  w->scratch = imgpca_malloc((p->nScratch + 16) * sizeof(float));
  if (!w->arena || !w->scratch) {
    cnn_work_free(w);
    return NULL;
  }
  return w;
}

void cnn_work_free(CnnWork *w) {
  if (!w) return;
  imgpca_free(w->arena);
  imgpca_free(w->scratch);
  imgpca_free(w);
}

static const float *val_ptr(const CnnPlan *p, const CnnWork *w, int v) {
  const CnnPVal *pv = &p->aPV[v];
  int r;
  if (pv->bConst) return pv->cf;
  r = v;
  while (p->aPV[r].root != r) r = p->aPV[r].root;
  return w->arena + p->aPV[r].off;
}

int cnn_plan_run(const CnnPlan *p, CnnWork *w, const float *const *apIn, float *const *apOut,
                 int (*xInterrupted)(void *), void *pArg, char *err) {
  int i, j, rc;
  for (i = 0; i < p->nFeedF; i++) {
    int v = p->aFeedF[i];
    memcpy((float *)val_ptr(p, w, v), apIn[i], cnn_shape_count(&p->aPV[v].shape) * sizeof(float));
  }
  for (i = 0; i < p->nStep; i++) {
    const CnnStep *st = &p->aStep[i];
    CnnArgs a;
    if (xInterrupted && (i & 7) == 7 && xInterrupted(pArg)) return IMGPCA_INTERRUPT;
    memset(&a, 0, sizeof a);
    for (j = 0; j < st->nIn; j++) {
      if (st->aIn[j] < 0) continue;
      a.in[j] = val_ptr(p, w, st->aIn[j]);
      a.inShape[j] = &p->aPV[st->aIn[j]].shape;
    }
    for (j = 0; j < st->nOut; j++) {
      if (st->aOut[j] < 0) continue;
      a.out[j] = (float *)val_ptr(p, w, st->aOut[j]);
      a.outShape[j] = &p->aPV[st->aOut[j]].shape;
    }
    a.scratch = w->scratch;
    rc = cnn_op_run(st, &a, err);
    if (rc) return rc;
  }
  for (i = 0; i < p->nOut; i++)
    memcpy(apOut[i], val_ptr(p, w, p->aOut[i]), cnn_shape_count(&p->aOutShape[i]) * sizeof(float));
  return IMGPCA_OK;
}
