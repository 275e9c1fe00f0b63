/*
** ONNX model loading (pure C core of the "cnn:" feature kind and of
** img_model_info; no SQL here).
**
** The protobuf is parsed by libprotobuf-c with code generated at build time
** from Debian's onnx.proto (libonnx-dev), through an allocator that counts
** bytes, so a hostile file cannot make the parser allocate more than a few
** times its own size.  The graph is then copied into compact structures
** (names, attributes, float32/int64 initializers), checked (every node's
** inputs defined, no cycle, every operator and attribute supported) and
** sorted topologically.  BatchNormalization nodes that follow a Conv whose
** weights are constant are folded into that Conv here, once per model.
**
** Refused with a clear message: external tensor data (weights in a
** separate file), sparse initializers, initializers of other element types,
** subgraphs, operators of other domains, tensors above CnnLimits.
*/
#include "cnn_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "onnx.pb-c.h"

/* Length of the valid UTF-8 sequence at z (0 if invalid). */
static int utf8_len(const unsigned char *z) {
  int n, i;
  if (z[0] < 0x80) return 1;
  if (z[0] >= 0xc2 && z[0] <= 0xdf)
    n = 2;
  else if (z[0] >= 0xe0 && z[0] <= 0xef)
    n = 3;
  else if (z[0] >= 0xf0 && z[0] <= 0xf4)
    n = 4;
  else
    return 0;
  for (i = 1; i < n; i++)
    if ((z[i] & 0xc0) != 0x80) return 0;
  if (n == 3 && z[0] == 0xe0 && z[1] < 0xa0) return 0;  /* overlong */
  if (n == 3 && z[0] == 0xed && z[1] >= 0xa0) return 0; /* surrogate */
  if (n == 4 && z[0] == 0xf0 && z[1] < 0x90) return 0;
  if (n == 4 && z[0] == 0xf4 && z[1] >= 0x90) return 0;
  return n;
}

/* Names in a model are untrusted text: an error message that quotes them
** shows control characters, DEL and bytes that are not UTF-8 as \xNN (kept
** within IMGPCA_ERRMAX). */
void cnn_err_printable(char *err) {
  char out[IMGPCA_ERRMAX];
  size_t i = 0, o = 0;
  while (err[i] && o + 5 < sizeof out) {
    const unsigned char *z = (const unsigned char *)err + i;
    int n = utf8_len(z);
    if (n == 0 || z[0] < 0x20 || z[0] == 0x7f) {
      snprintf(out + o, sizeof out - o, "\\x%02x", z[0]);
      o += 4;
      i++;
    } else {
      if (o + (size_t)n + 1 > sizeof out) break;
      memcpy(out + o, z, (size_t)n);
      o += (size_t)n;
      i += (size_t)n;
    }
  }
  out[o] = 0;
  memcpy(err, out, o + 1);
}

/* ---- counting allocator for protobuf-c ---- */
typedef struct PbAlloc {
  size_t used, limit;
  int bOver;
} PbAlloc;

static void *pb_alloc(void *ud, size_t n) {
  PbAlloc *a = (PbAlloc *)ud;
  size_t *p;
  if (n > a->limit || a->used + n > a->limit) {
    a->bOver = 1;
    return NULL;
  }
  p = imgpca_malloc(n + 16);
  if (!p) return NULL;
  p[0] = n;
  a->used += n;
  return (char *)p + 16;
}
static void pb_free(void *ud, void *q) {
  PbAlloc *a = (PbAlloc *)ud;
  if (!q) return;
  q = (char *)q - 16;
  a->used -= *(size_t *)q;
  imgpca_free(q);
}

/* ---- names ---- */
static unsigned name_hash(const char *z) {
  unsigned h = 2166136261u;
  while (*z) h = (h ^ (unsigned char)*z++) * 16777619u;
  return h;
}

int cnn_value_find(const CnnGraph *g, const char *zName) {
  unsigned h;
  if (!g->nHash || !zName) return -1;
  for (h = name_hash(zName) & (unsigned)(g->nHash - 1); g->aHash[h]; h = (h + 1) & (unsigned)(g->nHash - 1)) {
    if (strcmp(g->aVal[g->aHash[h] - 1].zName, zName) == 0) return g->aHash[h] - 1;
  }
  return -1;
}

/* Finds or adds a value; -1 on OOM. */
static int value_get(CnnGraph *g, const char *zName, int *pbNew) {
  int i = cnn_value_find(g, zName);
  unsigned h;
  if (pbNew) *pbNew = 0;
  if (i >= 0) return i;
  if ((g->nVal + 1) * 2 > g->nHash) {
    int nNew = g->nHash ? g->nHash * 2 : 64, k;
    int *aNew = imgpca_calloc((size_t)nNew, sizeof(int));
    if (!aNew) return -1;
    imgpca_free(g->aHash);
    g->aHash = aNew;
    g->nHash = nNew;
    for (k = 0; k < g->nVal; k++) {
      for (h = name_hash(g->aVal[k].zName) & (unsigned)(nNew - 1); aNew[h]; h = (h + 1) & (unsigned)(nNew - 1)) {
      }
      aNew[h] = k + 1;
    }
  }
  if ((g->nVal & (g->nVal - 1)) == 0) {
    size_t nCap = g->nVal ? (size_t)g->nVal * 2 : 16;
    CnnValue *a = imgpca_realloc(g->aVal, nCap * sizeof(CnnValue));
    if (!a) return -1;
    g->aVal = a;
  }
  memset(&g->aVal[g->nVal], 0, sizeof(CnnValue));
  g->aVal[g->nVal].zName = imgpca_strdup(zName);
  if (!g->aVal[g->nVal].zName) return -1;
  g->aVal[g->nVal].iNode = -1;
  for (h = name_hash(zName) & (unsigned)(g->nHash - 1); g->aHash[h]; h = (h + 1) & (unsigned)(g->nHash - 1)) {
  }
  g->aHash[h] = g->nVal + 1;
  if (pbNew) *pbNew = 1;
  return g->nVal++;
}

const char *cnn_node_label(const CnnNode *n, char *buf, size_t nBuf) {
  if (n->zName && *n->zName)
    snprintf(buf, nBuf, "node '%.100s' (%.40s)", n->zName, n->zOp);
  else
    snprintf(buf, nBuf, "a %.40s node", n->zOp);
  return buf;
}

/* ---- attributes ---- */
const CnnAttr *cnn_attr(const CnnNode *n, const char *zName) {
  int i;
  for (i = 0; i < n->nAttr; i++)
    if (strcmp(n->aAttr[i].zName, zName) == 0) return &n->aAttr[i];
  return NULL;
}
int64_t cnn_attr_int(const CnnNode *n, const char *zName, int64_t dflt) {
  const CnnAttr *a = cnn_attr(n, zName);
  return a && a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT ? a->i : dflt;
}
float cnn_attr_float(const CnnNode *n, const char *zName, float dflt) {
  const CnnAttr *a = cnn_attr(n, zName);
  return a && a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT ? a->f : dflt;
}
const char *cnn_attr_str(const CnnNode *n, const char *zName, const char *dflt) {
  const CnnAttr *a = cnn_attr(n, zName);
  return a && a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING && a->s ? a->s : dflt;
}

/* ---- tensors ---- */
static const char *type_name(int t) {
  static const char *az[] = {"undefined", "float32", "uint8", "int8", "uint16", "int16", "int32", "int64",
                             "string", "bool", "float16", "float64", "uint32", "uint64", "complex64",
                             "complex128", "bfloat16"};
  return t >= 0 && t < (int)(sizeof(az) / sizeof(az[0])) ? az[t] : "unknown";
}

/* Copies a TensorProto's data into float32 or int64 arrays. */
static int tensor_copy(const CnnGraph *g, const Onnx__TensorProto *t, const char *zWhat, int *pType, CnnShape *pShape,
                       float **pf, int64_t **pi, char *err) {
  size_t i, count = 1;
  int type = t->has_data_type ? t->data_type : 0;
  *pf = NULL;
  *pi = NULL;
  if (t->n_dims > CNN_MAXDIM)
    return imgpca_seterr(err, "%s has %d dimensions (at most %d)", zWhat, (int)t->n_dims, CNN_MAXDIM);
  pShape->nd = (int)t->n_dims;
  for (i = 0; i < t->n_dims; i++) {
    if (t->dims[i] < 0) return imgpca_seterr(err, "%s has a negative dimension", zWhat);
    pShape->d[i] = t->dims[i];
    if (t->dims[i] && count > (size_t)g->lim.maxElements / (size_t)t->dims[i])
      return imgpca_seterr(err, "%s is too large (more than %lld elements)", zWhat, (long long)g->lim.maxElements);
    count *= (size_t)t->dims[i];
  }
  if (count > (size_t)g->lim.maxElements)
    return imgpca_seterr(err, "%s is too large (more than %lld elements)", zWhat, (long long)g->lim.maxElements);
  if ((t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) || t->n_external_data)
    return imgpca_seterr(err,
                         "%s stores its data outside the model file (external data): not supported, save the model "
                         "with all weights inside it",
                         zWhat);
  *pType = type;
  if (type == CNN_F32) {
    float *f = imgpca_malloc(count ? count * sizeof(float) : 1);
    if (!f) return IMGPCA_NOMEM;
    if (t->has_raw_data && t->raw_data.len) {
      if (t->raw_data.len != count * 4) {
        imgpca_free(f);
        return imgpca_seterr(err, "%s has %zu bytes of data, expected %zu", zWhat, t->raw_data.len, count * 4);
      }
      for (i = 0; i < count; i++) f[i] = imgpca_get_f32(t->raw_data.data + 4 * i);
    } else {
      if (t->n_float_data != count) {
        imgpca_free(f);
        return imgpca_seterr(err, "%s has %zu values, expected %zu", zWhat, t->n_float_data, count);
      }
      if (count) memcpy(f, t->float_data, count * sizeof(float));
    }
    *pf = f;
  } else if (type == CNN_I64) {
    int64_t *v = imgpca_malloc(count ? count * sizeof(int64_t) : 1);
    if (!v) return IMGPCA_NOMEM;
    if (t->has_raw_data && t->raw_data.len) {
      if (t->raw_data.len != count * 8) {
        imgpca_free(v);
        return imgpca_seterr(err, "%s has %zu bytes of data, expected %zu", zWhat, t->raw_data.len, count * 8);
      }
      for (i = 0; i < count; i++) {
        uint64_t u = 0;
        int b;
        for (b = 7; b >= 0; b--) u = (u << 8) | t->raw_data.data[8 * i + (size_t)b];
        v[i] = (int64_t)u;
      }
    } else {
      if (t->n_int64_data != count) {
        imgpca_free(v);
        return imgpca_seterr(err, "%s has %zu values, expected %zu", zWhat, t->n_int64_data, count);
      }
      if (count) memcpy(v, t->int64_data, count * sizeof(int64_t));
    }
    *pi = v;
  } else {
    return imgpca_seterr(err, "%s has element type %s: only float32 and int64 tensors are supported", zWhat,
                         type_name(type));
  }
  return IMGPCA_OK;
}

/* Shape and type declared by a ValueInfoProto (unknown dims = -1). */
static int value_info(const Onnx__ValueInfoProto *vi, int *pType, CnnShape *pShape, char *err) {
  const Onnx__TypeProto *tp = vi->type;
  size_t i;
  *pType = 0;
  pShape->nd = -1;
  if (!tp) return IMGPCA_OK;
  if (tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
    return imgpca_seterr(err,
                         "graph input or output '%.100s' is not a tensor (sequence, map or optional types are "
                         "not supported)",
                         vi->name ? vi->name : "");
  if (tp->tensor_type->has_elem_type) *pType = tp->tensor_type->elem_type;
  if (!tp->tensor_type->shape) return IMGPCA_OK;
  if (tp->tensor_type->shape->n_dim > CNN_MAXDIM)
    return imgpca_seterr(err, "'%.100s' has %d dimensions (at most %d)", vi->name ? vi->name : "",
                         (int)tp->tensor_type->shape->n_dim, CNN_MAXDIM);
  pShape->nd = (int)tp->tensor_type->shape->n_dim;
  for (i = 0; i < tp->tensor_type->shape->n_dim; i++) {
    const Onnx__TensorShapeProto__Dimension *d = tp->tensor_type->shape->dim[i];
    pShape->d[i] = d && d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && d->dim_value >= 0
        ? d->dim_value
        : -1;
  }
  return IMGPCA_OK;
}

static int attr_copy(const CnnGraph *g, const CnnNode *n, const Onnx__AttributeProto *pa, CnnAttr *a, char *err) {
  char lab[200];
  a->zName = imgpca_strdup(pa->name ? pa->name : "");
  if (!a->zName) return IMGPCA_NOMEM;
  a->type = pa->has_type ? pa->type : 0;
  a->f = pa->f;
  a->i = pa->i;
  if (pa->ref_attr_name && *pa->ref_attr_name)
    return imgpca_seterr(err, "%s: attribute '%s' refers to a function attribute: not supported",
                         cnn_node_label(n, lab, sizeof lab), a->zName);
  switch (a->type) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT:
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING:
      a->s = imgpca_malloc(pa->s.len + 1);
      if (!a->s) return IMGPCA_NOMEM;
      if (pa->s.len) memcpy(a->s, pa->s.data, pa->s.len);
      a->s[pa->s.len] = 0;
      break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
      a->nFloats = (int)pa->n_floats;
      a->aFloats = imgpca_malloc(pa->n_floats * sizeof(float) + 1);
      if (!a->aFloats) return IMGPCA_NOMEM;
      if (pa->n_floats) memcpy(a->aFloats, pa->floats, pa->n_floats * sizeof(float));
      break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
      a->nInts = (int)pa->n_ints;
      a->aInts = imgpca_malloc(pa->n_ints * sizeof(int64_t) + 1);
      if (!a->aInts) return IMGPCA_NOMEM;
      if (pa->n_ints) memcpy(a->aInts, pa->ints, pa->n_ints * sizeof(int64_t));
      break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: {
      char what[300];
      int rc;
      if (!pa->t) return imgpca_seterr(err, "%s: attribute '%s' has no tensor", cnn_node_label(n, lab, sizeof lab), a->zName);
      snprintf(what, sizeof what, "%s: tensor attribute '%s'", cnn_node_label(n, lab, sizeof lab), a->zName);
      rc = tensor_copy(g, pa->t, what, &a->tType, &a->tShape, &a->tF, &a->tI, err);
      if (rc) return rc;
      a->bTensor = 1;
      break;
    }
    default:
      return imgpca_seterr(err, "%s: attribute '%s' is a graph, sparse tensor or list of tensors: not supported",
                           cnn_node_label(n, lab, sizeof lab), a->zName);
  }
  return IMGPCA_OK;
}

static void attr_free(CnnAttr *a) {
  imgpca_free(a->zName);
  imgpca_free(a->s);
  imgpca_free(a->aFloats);
  imgpca_free(a->aInts);
  imgpca_free(a->tF);
  imgpca_free(a->tI);
}

static void graph_free(CnnGraph *g) {
  int i, j;
  if (!g) return;
  for (i = 0; i < g->nVal; i++) {
    imgpca_free(g->aVal[i].zName);
    imgpca_free(g->aVal[i].f);
    imgpca_free(g->aVal[i].i);
  }
  for (i = 0; i < g->nNode; i++) {
    CnnNode *n = &g->aNode[i];
    imgpca_free(n->zName);
    imgpca_free(n->zOp);
    imgpca_free(n->aIn);
    imgpca_free(n->aOut);
    for (j = 0; j < n->nAttr; j++) attr_free(&n->aAttr[j]);
    imgpca_free(n->aAttr);
  }
  imgpca_free(g->aVal);
  imgpca_free(g->aHash);
  imgpca_free(g->aNode);
  imgpca_free(g->aInput);
  imgpca_free(g->aOutput);
  imgpca_free(g->zProducer);
  imgpca_free(g);
}

void cnn_graph_retain(CnnGraph *g) { __atomic_add_fetch(&g->nRef, 1, __ATOMIC_RELAXED); }
void cnn_graph_release(CnnGraph *g) {
  if (g && __atomic_sub_fetch(&g->nRef, 1, __ATOMIC_ACQ_REL) == 0) graph_free(g);
}

/* ---- nodes ---- */
static int node_copy(CnnGraph *g, const Onnx__NodeProto *pn, CnnNode *n, int iNode, char *err) {
  size_t i;
  char lab[200];
  int rc;
  n->zName = imgpca_strdup(pn->name ? pn->name : "");
  n->zOp = imgpca_strdup(pn->op_type ? pn->op_type : "");
  if (!n->zName || !n->zOp) return IMGPCA_NOMEM;
  if (pn->domain && *pn->domain && strcmp(pn->domain, "ai.onnx") != 0)
    return imgpca_seterr(err, "%s: operator of domain '%.60s' is not supported", cnn_node_label(n, lab, sizeof lab),
                         pn->domain);
  n->op = cnn_op_lookup(n->zOp);
  if (n->op == OP_NONE)
    return imgpca_seterr(err, "%s: unsupported operator '%.40s' (docs/CNN.md lists the supported ones)",
                         cnn_node_label(n, lab, sizeof lab), n->zOp);
  if (pn->n_input > CNN_MAXIN || pn->n_output > 2 + 8)
    return imgpca_seterr(err, "%s: too many inputs or outputs", cnn_node_label(n, lab, sizeof lab));
  n->aIn = imgpca_malloc((pn->n_input + 1) * sizeof(int));
  n->aOut = imgpca_malloc((pn->n_output + 1) * sizeof(int));
  n->aAttr = imgpca_calloc(pn->n_attribute + 1, sizeof(CnnAttr));
  if (!n->aIn || !n->aOut || !n->aAttr) return IMGPCA_NOMEM;
  for (i = 0; i < pn->n_attribute; i++) {
    rc = attr_copy(g, n, pn->attribute[i], &n->aAttr[i], err);
    n->nAttr = (int)i + 1;
    if (rc) return rc;
  }
  for (i = 0; i < pn->n_input; i++) {
    const char *z = pn->input[i] ? pn->input[i] : "";
    n->aIn[i] = -1;
    if (*z) {
      int v = value_get(g, z, NULL);
      if (v < 0) return IMGPCA_NOMEM;
      n->aIn[i] = v;
    }
    n->nIn = (int)i + 1;
  }
  for (i = 0; i < pn->n_output; i++) {
    const char *z = pn->output[i] ? pn->output[i] : "";
    n->aOut[i] = -1;
    if (*z) {
      int v = value_get(g, z, NULL);
      if (v < 0) return IMGPCA_NOMEM;
      if (g->aVal[v].src != SRC_NONE)
        return imgpca_seterr(err, "%s: output '%.100s' is defined twice", cnn_node_label(n, lab, sizeof lab), z);
      g->aVal[v].src = SRC_NODE;
      g->aVal[v].iNode = iNode;
      n->aOut[i] = v;
    }
    n->nOut = (int)i + 1;
  }
  return cnn_op_check(g, n, err);
}

/* Kahn's algorithm over value dependencies; reorders g->aNode. */
static int topo_sort(CnnGraph *g, char *err) {
  int *aPending = imgpca_calloc((size_t)g->nNode + 1, sizeof(int));
  int *aOrder = imgpca_malloc(((size_t)g->nNode + 1) * sizeof(int));
  int *aQueue = imgpca_malloc(((size_t)g->nNode + 1) * sizeof(int));
  int *aCount = imgpca_calloc((size_t)g->nVal + 1, sizeof(int)); /* consumers per value: CSR */
  int *aStart = imgpca_calloc((size_t)g->nVal + 2, sizeof(int));
  int *aCons = NULL;
  int i, j, nQ = 0, iQ = 0, nDone = 0, rc = IMGPCA_OK, nEdge = 0;
  if (!aPending || !aOrder || !aQueue || !aCount || !aStart) {
    rc = IMGPCA_NOMEM;
    goto done;
  }
  for (i = 0; i < g->nNode; i++)
    for (j = 0; j < g->aNode[i].nIn; j++) {
      int v = g->aNode[i].aIn[j];
      if (v < 0) continue;
      if (g->aVal[v].src == SRC_NONE) {
        char lab[200];
        rc = imgpca_seterr(err, "%s: input '%.100s' is not produced by any node, initializer or graph input",
                           cnn_node_label(&g->aNode[i], lab, sizeof lab), g->aVal[v].zName);
        goto done;
      }
      if (g->aVal[v].src == SRC_NODE) {
        aPending[i]++;
        aCount[v]++;
        nEdge++;
      }
    }
  for (i = 0; i < g->nVal; i++) aStart[i + 1] = aStart[i] + aCount[i];
  aCons = imgpca_malloc(((size_t)nEdge + 1) * sizeof(int));
  if (!aCons) {
    rc = IMGPCA_NOMEM;
    goto done;
  }
  memset(aCount, 0, (size_t)g->nVal * sizeof(int));
  for (i = 0; i < g->nNode; i++)
    for (j = 0; j < g->aNode[i].nIn; j++) {
      int v = g->aNode[i].aIn[j];
      if (v >= 0 && g->aVal[v].src == SRC_NODE) aCons[aStart[v] + aCount[v]++] = i;
    }
  for (i = 0; i < g->nNode; i++)
    if (aPending[i] == 0) aQueue[nQ++] = i;
  while (iQ < nQ) {
    int k = aQueue[iQ++];
    aOrder[nDone++] = k;
    for (j = 0; j < g->aNode[k].nOut; j++) {
      int v = g->aNode[k].aOut[j], c;
      if (v < 0) continue;
      for (c = aStart[v]; c < aStart[v + 1]; c++)
        if (--aPending[aCons[c]] == 0) aQueue[nQ++] = aCons[c];
    }
  }
  if (nDone < g->nNode) {
    char lab[200];
    for (i = 0; i < g->nNode && aPending[i] == 0; i++) {
    }
    rc = imgpca_seterr(err, "the graph has a cycle through %s", cnn_node_label(&g->aNode[i], lab, sizeof lab));
    goto done;
  }
  {
    CnnNode *aNew = imgpca_malloc(((size_t)g->nNode + 1) * sizeof(CnnNode));
    if (!aNew) {
      rc = IMGPCA_NOMEM;
      goto done;
    }
    for (i = 0; i < g->nNode; i++) aNew[i] = g->aNode[aOrder[i]];
    imgpca_free(g->aNode);
    g->aNode = aNew;
    for (i = 0; i < g->nNode; i++)
      for (j = 0; j < g->aNode[i].nOut; j++)
        if (g->aNode[i].aOut[j] >= 0) g->aVal[g->aNode[i].aOut[j]].iNode = i;
  }
done:
  imgpca_free(aPending);
  imgpca_free(aOrder);
  imgpca_free(aQueue);
  imgpca_free(aCount);
  imgpca_free(aStart);
  imgpca_free(aCons);
  return rc;
}

/* Number of nodes reading value v, and whether it is a graph output. */
static int value_readers(const CnnGraph *g, int v) {
  int i, j, n = 0;
  for (i = 0; i < g->nOutput; i++)
    if (g->aOutput[i] == v) n++;
  for (i = 0; i < g->nNode; i++)
    if (!g->aNode[i].bDead)
      for (j = 0; j < g->aNode[i].nIn; j++)
        if (g->aNode[i].aIn[j] == v) n++;
  return n;
}

static int is_const_f32(const CnnGraph *g, int v, int64_t n) {
  return v >= 0 && g->aVal[v].src == SRC_INIT && g->aVal[v].type == CNN_F32 &&
      (n < 0 || (int64_t)cnn_shape_count(&g->aVal[v].shape) == n);
}

/* Conv (constant W [and B]) -> BatchNormalization (constant, inference):
** W' = W * s, B' = (B - mean) * s + beta with s = scale / sqrt(var + eps).
** The BN node becomes an Identity of the Conv output. */
static int fold_batchnorm(CnnGraph *g) {
  int i;
  for (i = 0; i < g->nNode; i++) {
    CnnNode *bn = &g->aNode[i], *cv;
    int x, m, vW, vB, k;
    int64_t co, per, j;
    float eps;
    float *w2, *b2;
    const CnnValue *sc, *bt, *mu, *va;
    if (bn->bDead || bn->op != OP_BATCHNORM || bn->nIn != 5 || bn->nOut != 1) continue;
    if (cnn_attr_int(bn, "training_mode", 0)) continue;
    x = bn->aIn[0];
    if (x < 0 || g->aVal[x].src != SRC_NODE) continue;
    cv = &g->aNode[g->aVal[x].iNode];
    if (cv->op != OP_CONV || cv->bDead || cv->aOut[0] != x || cv->nOut != 1) continue;
    vW = cv->aIn[1];
    vB = cv->nIn > 2 ? cv->aIn[2] : -1;
    if (!is_const_f32(g, vW, -1) || g->aVal[vW].shape.nd < 3) continue;
    co = g->aVal[vW].shape.d[0];
    if (co <= 0) continue;
    per = (int64_t)cnn_shape_count(&g->aVal[vW].shape) / co;
    if (vB >= 0 && !is_const_f32(g, vB, co)) continue;
    for (k = 1; k < 5; k++)
      if (!is_const_f32(g, bn->aIn[k], co)) break;
    if (k < 5) continue;
    if (value_readers(g, x) != 1) continue;
    /* the weights may be shared by another node: fold into fresh copies */
    sc = &g->aVal[bn->aIn[1]];
    bt = &g->aVal[bn->aIn[2]];
    mu = &g->aVal[bn->aIn[3]];
    va = &g->aVal[bn->aIn[4]];
    eps = cnn_attr_float(bn, "epsilon", 1e-5f);
    w2 = imgpca_malloc((size_t)(co * per) * sizeof(float));
    b2 = imgpca_malloc((size_t)co * sizeof(float));
    if (!w2 || !b2) {
      imgpca_free(w2);
      imgpca_free(b2);
      return IMGPCA_NOMEM;
    }
    for (m = 0; m < co; m++) {
      double s = (double)sc->f[m] / sqrt((double)va->f[m] + (double)eps);
      double b0 = vB >= 0 ? g->aVal[vB].f[m] : 0.0;
      for (j = 0; j < per; j++) w2[m * per + j] = (float)(g->aVal[vW].f[m * per + j] * s);
      b2[m] = (float)((b0 - mu->f[m]) * s + bt->f[m]);
    }
    /* new initializers, named after the Conv */
    {
      char *zW = imgpca_mprintf("%s#bn_weights", g->aVal[vW].zName);
      char *zB = imgpca_mprintf("%s#bn_bias", g->aVal[x].zName);
      int nw, nb, *aIn;
      if (!zW || !zB) {
        imgpca_free(zW);
        imgpca_free(zB);
        imgpca_free(w2);
        imgpca_free(b2);
        return IMGPCA_NOMEM;
      }
      nw = value_get(g, zW, NULL);
      nb = nw >= 0 ? value_get(g, zB, NULL) : -1;
      imgpca_free(zW);
      imgpca_free(zB);
      if (nb < 0) {
        imgpca_free(w2);
        imgpca_free(b2);
        return IMGPCA_NOMEM;
      }
      cv = &g->aNode[g->aVal[x].iNode]; /* aVal may have moved, aNode not */
      g->aVal[nw].src = SRC_INIT;
      g->aVal[nw].type = CNN_F32;
      g->aVal[nw].shape = g->aVal[vW].shape;
      g->aVal[nw].f = w2;
      g->aVal[nb].src = SRC_INIT;
      g->aVal[nb].type = CNN_F32;
      g->aVal[nb].shape.nd = 1;
      g->aVal[nb].shape.d[0] = co;
      g->aVal[nb].f = b2;
      if (cv->nIn < 3) {
        aIn = imgpca_realloc(cv->aIn, 3 * sizeof(int));
        if (!aIn) return IMGPCA_NOMEM;
        cv->aIn = aIn;
        cv->nIn = 3;
      }
      cv->aIn[1] = nw;
      cv->aIn[2] = nb;
    }
    /* the Conv now writes the BN output; the pre-BN tensor is gone */
    cv->aOut[0] = bn->aOut[0];
    g->aVal[bn->aOut[0]].iNode = g->aVal[x].iNode;
    g->aVal[x].bGone = 1;
    g->aVal[x].src = SRC_NONE;
    bn->bDead = 1;
  }
  return IMGPCA_OK;
}

/* Drops dead nodes and initializers nothing reads any more. */
static void compact(CnnGraph *g) {
  int i, j, n = 0;
  for (i = 0; i < g->nNode; i++) {
    if (g->aNode[i].bDead) {
      CnnNode *d = &g->aNode[i];
      imgpca_free(d->zName);
      imgpca_free(d->zOp);
      imgpca_free(d->aIn);
      imgpca_free(d->aOut);
      for (j = 0; j < d->nAttr; j++) attr_free(&d->aAttr[j]);
      imgpca_free(d->aAttr);
      continue;
    }
    g->aNode[n++] = g->aNode[i];
  }
  g->nNode = n;
  for (i = 0; i < g->nNode; i++)
    for (j = 0; j < g->aNode[i].nOut; j++)
      if (g->aNode[i].aOut[j] >= 0) g->aVal[g->aNode[i].aOut[j]].iNode = i;
  for (i = 0; i < g->nVal; i++) {
    CnnValue *v = &g->aVal[i];
    if (v->src == SRC_INIT && (v->f || v->i) && value_readers(g, i) == 0) {
      imgpca_free(v->f);
      imgpca_free(v->i);
      v->f = NULL;
      v->i = NULL;
      v->src = SRC_NONE;
      v->bGone = 1;
    }
  }
}

static int load_model(CnnGraph *g, const Onnx__ModelProto *m, char *err) {
  const Onnx__GraphProto *gp = m->graph;
  size_t i;
  int rc;
  char what[200];
  g->irVersion = m->has_ir_version ? m->ir_version : 0;
  g->opset = 0;
  for (i = 0; i < m->n_opset_import; i++) {
    const Onnx__OperatorSetIdProto *o = m->opset_import[i];
    if (o && (!o->domain || !*o->domain || strcmp(o->domain, "ai.onnx") == 0) && o->has_version)
      g->opset = o->version;
  }
  if (g->opset == 0) g->opset = 1;
  if (g->opset > 21) return imgpca_seterr(err, "opset %lld is newer than supported (up to 21)", (long long)g->opset);
  g->zProducer = imgpca_mprintf("%s%s%s", m->producer_name ? m->producer_name : "",
                                m->producer_version && *m->producer_version ? " " : "",
                                m->producer_version ? m->producer_version : "");
  if (!g->zProducer) return IMGPCA_NOMEM;
  if (!gp) return imgpca_seterr(err, "the model has no graph");
  if (gp->n_sparse_initializer) return imgpca_seterr(err, "sparse initializers are not supported");
  if (gp->n_node > (size_t)g->lim.maxNodes)
    return imgpca_seterr(err, "the graph has %zu nodes (at most %d)", gp->n_node, g->lim.maxNodes);
  for (i = 0; i < gp->n_initializer; i++) {
    const Onnx__TensorProto *t = gp->initializer[i];
    int v, bNew;
    if (!t || !t->name || !*t->name) return imgpca_seterr(err, "an initializer has no name");
    v = value_get(g, t->name, &bNew);
    if (v < 0) return IMGPCA_NOMEM;
    if (!bNew) return imgpca_seterr(err, "initializer '%.100s' is defined twice", t->name);
    snprintf(what, sizeof what, "initializer '%.100s'", t->name);
    rc = tensor_copy(g, t, what, &g->aVal[v].type, &g->aVal[v].shape, &g->aVal[v].f, &g->aVal[v].i, err);
    if (rc) return rc;
    g->aVal[v].src = SRC_INIT;
    if (g->aVal[v].type == CNN_F32) g->nParams += (int64_t)cnn_shape_count(&g->aVal[v].shape);
  }
  g->aInput = imgpca_malloc((gp->n_input + 1) * sizeof(int));
  g->aOutput = imgpca_malloc((gp->n_output + 1) * sizeof(int));
  if (!g->aInput || !g->aOutput) return IMGPCA_NOMEM;
  for (i = 0; i < gp->n_input; i++) {
    const Onnx__ValueInfoProto *vi = gp->input[i];
    int v, type;
    CnnShape sh;
    if (!vi || !vi->name || !*vi->name) return imgpca_seterr(err, "a graph input has no name");
    v = value_get(g, vi->name, NULL);
    if (v < 0) return IMGPCA_NOMEM;
    if (g->aVal[v].src == SRC_INIT) continue; /* IR < 4: initializers listed as inputs */
    if (g->aVal[v].src != SRC_NONE) return imgpca_seterr(err, "graph input '%.100s' is declared twice", vi->name);
    rc = value_info(vi, &type, &sh, err);
    if (rc) return rc;
    g->aVal[v].src = SRC_INPUT;
    g->aVal[v].type = type;
    g->aVal[v].shape = sh;
    g->aInput[g->nInput++] = v;
  }
  g->aNode = imgpca_calloc(gp->n_node + 1, sizeof(CnnNode));
  if (!g->aNode) return IMGPCA_NOMEM;
  for (i = 0; i < gp->n_node; i++) {
    if (!gp->node[i]) return imgpca_seterr(err, "empty node");
    g->nNode = (int)i + 1;
    rc = node_copy(g, gp->node[i], &g->aNode[i], (int)i, err);
    if (rc) return rc;
  }
  for (i = 0; i < gp->n_output; i++) {
    const Onnx__ValueInfoProto *vi = gp->output[i];
    int v, type;
    CnnShape sh;
    if (!vi || !vi->name || !*vi->name) return imgpca_seterr(err, "a graph output has no name");
    rc = value_info(vi, &type, &sh, err);
    if (rc) return rc;
    v = cnn_value_find(g, vi->name);
    if (v < 0 || g->aVal[v].src == SRC_NONE)
      return imgpca_seterr(err, "graph output '%.100s' is not produced by any node", vi->name);
    g->aOutput[g->nOutput++] = v;
  }
  rc = topo_sort(g, err);
  if (rc) return rc;
  rc = fold_batchnorm(g);
  if (rc) return rc;
  compact(g);
  return IMGPCA_OK;
}

int cnn_graph_load(const void *p, size_t n, const CnnLimits *lim, CnnGraph **pp, char *err) {
  PbAlloc pa;
  ProtobufCAllocator alloc;
  Onnx__ModelProto *m;
  CnnGraph *g;
  int rc;
  *pp = NULL;
  g = imgpca_calloc(1, sizeof(CnnGraph));
  if (!g) return IMGPCA_NOMEM;
  g->nRef = 1;
  g->lim.maxBytes = lim && lim->maxBytes > 0 ? lim->maxBytes : ((int64_t)2 << 30);
  g->lim.maxElements = lim && lim->maxElements > 0 ? lim->maxElements : ((int64_t)1 << 28);
  g->lim.maxNodes = lim && lim->maxNodes > 0 ? lim->maxNodes : 100000;
  if ((int64_t)n > g->lim.maxBytes) {
    graph_free(g);
    return imgpca_seterr(err, "the model is %zu bytes (at most %lld)", n, (long long)g->lim.maxBytes);
  }
  if (n == 0) {
    graph_free(g);
    return imgpca_seterr(err, "not an ONNX model: empty");
  }
  memset(&pa, 0, sizeof pa);
  pa.limit = n * 4 + ((size_t)64 << 20);
  alloc.alloc = pb_alloc;
  alloc.free = pb_free;
  alloc.allocator_data = &pa;
  m = onnx__model_proto__unpack(&alloc, n, (const uint8_t *)p);
  if (!m) {
    graph_free(g);
    if (pa.bOver) return imgpca_seterr(err, "not an ONNX model: the protobuf needs more memory than its size allows");
    if (pa.used == 0 && !pa.bOver) {
      /* protobuf-c does not tell OOM from a malformed message */
    }
    return imgpca_seterr(err, "not an ONNX model: the protobuf cannot be parsed (truncated or corrupt)");
  }
  rc = load_model(g, m, err);
  onnx__model_proto__free_unpacked(m, &alloc);
  if (rc) {
    graph_free(g);
    if (rc == IMGPCA_ERROR) cnn_err_printable(err);
    return rc;
  }
  *pp = g;
  return IMGPCA_OK;
}

/* ---- accessors ---- */
int cnn_graph_n_inputs(const CnnGraph *g) { return g->nInput; }
const char *cnn_graph_input(const CnnGraph *g, int i, int *pType, CnnShape *pShape) {
  const CnnValue *v = &g->aVal[g->aInput[i]];
  if (pType) *pType = v->type;
  if (pShape) *pShape = v->shape;
  return v->zName;
}
int cnn_graph_n_outputs(const CnnGraph *g) { return g->nOutput; }
const char *cnn_graph_output(const CnnGraph *g, int i, int *pType, CnnShape *pShape) {
  const CnnValue *v = &g->aVal[g->aOutput[i]];
  if (pType) *pType = CNN_F32;
  if (pShape) pShape->nd = -1;
  return v->zName;
}
int cnn_graph_has_value(const CnnGraph *g, const char *zName) {
  int v = cnn_value_find(g, zName);
  return v >= 0 && g->aVal[v].src != SRC_NONE;
}
int64_t cnn_graph_params(const CnnGraph *g) { return g->nParams; }

size_t cnn_shape_count(const CnnShape *s) {
  size_t n = 1;
  int i;
  if (s->nd < 0) return 0;
  for (i = 0; i < s->nd; i++) {
    if (s->d[i] < 0) return 0;
    n *= (size_t)s->d[i];
  }
  return n;
}

static void shape_json(ImgpcaBuf *b, const CnnShape *s) {
  int i;
  if (s->nd < 0) {
    imgpca_buf_append(b, "null", 4);
    return;
  }
  imgpca_buf_append(b, "[", 1);
  for (i = 0; i < s->nd; i++) {
    if (s->d[i] < 0)
      imgpca_buf_append(b, "null", 4);
    else
      imgpca_buf_printf(b, "%lld", (long long)s->d[i]);
    if (i + 1 < s->nd) imgpca_buf_append(b, ",", 1);
  }
  imgpca_buf_append(b, "]", 1);
}

int cnn_graph_info_json(const CnnGraph *g, ImgpcaBuf *b) {
  int i, j, cnt[OP_COUNT], first = 1;
  imgpca_buf_printf(b, "{\"opset\":%lld,\"ir_version\":%lld,\"producer\":", (long long)g->opset,
                    (long long)g->irVersion);
  imgpca_buf_json_string(b, g->zProducer ? g->zProducer : "");
  imgpca_buf_append(b, ",\"inputs\":[", 11);
  for (i = 0; i < g->nInput; i++) {
    const CnnValue *v = &g->aVal[g->aInput[i]];
    if (i) imgpca_buf_append(b, ",", 1);
    imgpca_buf_append(b, "{\"name\":", 8);
    imgpca_buf_json_string(b, v->zName);
    imgpca_buf_printf(b, ",\"type\":\"%s\",\"shape\":", type_name(v->type));
    shape_json(b, &v->shape);
    imgpca_buf_append(b, "}", 1);
  }
  imgpca_buf_append(b, "],\"outputs\":[", 13);
  for (i = 0; i < g->nOutput; i++) {
    if (i) imgpca_buf_append(b, ",", 1);
    imgpca_buf_append(b, "{\"name\":", 8);
    imgpca_buf_json_string(b, g->aVal[g->aOutput[i]].zName);
    imgpca_buf_append(b, "}", 1);
  }
  memset(cnt, 0, sizeof cnt);
  for (i = 0; i < g->nNode; i++) cnt[g->aNode[i].op]++;
  imgpca_buf_printf(b, "],\"nodes\":%d,\"operators\":{", g->nNode);
  for (j = 1; j < OP_COUNT; j++) {
    if (!cnt[j]) continue;
    if (!first) imgpca_buf_append(b, ",", 1);
    first = 0;
    imgpca_buf_json_string(b, cnn_op_name(j));
    imgpca_buf_printf(b, ":%d", cnt[j]);
  }
  imgpca_buf_printf(b, "},\"parameters\":%lld}", (long long)g->nParams);
  return b->oom ? IMGPCA_NOMEM : IMGPCA_OK;
}
