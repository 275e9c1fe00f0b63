/*
** Internal structures of the CNN core, shared by graph.c (loading),
** plan.c (compilation and execution) and ops.c (operators).  No SQL.
*/
#ifndef IMGPCA_CNN_INT_H
#define IMGPCA_CNN_INT_H

#include "cnn.h"

/* Hot element-wise loops are compiled for AVX-512, AVX2 and baseline x86-64
** and picked at load time (GCC function multi-versioning).  They contain no
** floating-point reduction, so every version computes the same bits. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(__SANITIZE_THREAD__)
#define CNN_HOT __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CNN_HOT
#endif

/* Operators. */
enum {
  OP_NONE = 0,
  OP_CONV,
  OP_BATCHNORM,
  OP_RELU,
  OP_LEAKYRELU,
  OP_SIGMOID,
  OP_HARDSIGMOID,
  OP_HARDSWISH,
  OP_CLIP,
  OP_TANH,
  OP_ADD,
  OP_SUB,
  OP_MUL,
  OP_DIV,
  OP_CONCAT,
  OP_MAXPOOL,
  OP_AVGPOOL,
  OP_GLOBALAVGPOOL,
  OP_GLOBALMAXPOOL,
  OP_FLATTEN,
  OP_RESHAPE,
  OP_SQUEEZE,
  OP_UNSQUEEZE,
  OP_GEMM,
  OP_MATMUL,
  OP_SOFTMAX,
  OP_IDENTITY,
  OP_DROPOUT,
  OP_CONSTANT,
  OP_SHAPE,
  OP_GATHER,
  OP_CAST,
  OP_PAD,
  OP_COUNT
};

/* Activations fused into a Conv or Gemm. */
enum { ACT_NONE = 0,
       ACT_RELU,
       ACT_CLIP,
       ACT_LEAKY,
       ACT_HARDSWISH,
       ACT_SIGMOID,
       ACT_HARDSIGMOID };

typedef struct CnnAttr {
  char *zName;
  int type; /* ONNX AttributeProto.AttributeType */
  float f;
  int64_t i;
  char *s;
  int nFloats;
  float *aFloats;
  int nInts;
  int64_t *aInts;
  int bTensor; /* t below is set */
  int tType;
  CnnShape tShape;
  float *tF;
  int64_t *tI;
} CnnAttr;

enum { SRC_NONE = 0,
       SRC_INIT,
       SRC_INPUT,
       SRC_NODE };

typedef struct CnnValue {
  char *zName;
  int src;        /* SRC_* */
  int type;       /* element type of an initializer or input (0: unknown) */
  CnnShape shape; /* initializer: exact; input: declared (-1 = symbolic) */
  float *f;       /* initializer data */
  int64_t *i;
  int iNode; /* SRC_NODE: producing node */
  int bGone; /* folded away at load (Conv+BatchNormalization): not available */
} CnnValue;

typedef struct CnnNode {
  char *zName;
  char *zOp;
  int op;
  int nIn;
  int *aIn; /* value index, -1 = omitted optional input */
  int nOut;
  int *aOut;
  int nAttr;
  CnnAttr *aAttr;
  int bDead; /* removed at load (folded into another node) */
} CnnNode;

struct CnnGraph {
  int nRef;
  int64_t opset;
  int64_t irVersion;
  char *zProducer;
  int nVal;
  CnnValue *aVal;
  int nHash;
  int *aHash; /* open addressing: value index + 1, 0 = empty */
  int nNode;
  CnnNode *aNode; /* topologically sorted */
  int nInput;
  int *aInput; /* non-initializer graph inputs */
  int nOutput;
  int *aOutput;
  int64_t nParams;
  CnnLimits lim;
};

int cnn_value_find(const CnnGraph *g, const char *zName); /* -1 if absent */
const CnnAttr *cnn_attr(const CnnNode *n, const char *zName);
int64_t cnn_attr_int(const CnnNode *n, const char *zName, int64_t dflt);
float cnn_attr_float(const CnnNode *n, const char *zName, float dflt);
const char *cnn_attr_str(const CnnNode *n, const char *zName, const char *dflt);
int cnn_op_lookup(const char *zOp);
const char *cnn_op_name(int op);

/* ---- plan ---- */
#define CNN_MAXIN 8

/* Parameters of one step, filled by shape inference (ops.c). */
typedef struct CnnParams {
  int nsp;       /* spatial dims (conv/pool) */
  int64_t k[3];  /* kernel */
  int64_t s[3];  /* strides */
  int64_t d[3];  /* dilations */
  int64_t pb[3]; /* pads at the beginning */
  int64_t pe[3]; /* pads at the end */
  int64_t group;
  int countPad;     /* AveragePool count_include_pad */
  int act;          /* fused activation */
  float actA, actB; /* its parameters (clip min/max, leaky alpha, hardsigmoid alpha/beta) */
  int clipIn;       /* Clip: bit 1/2 = min/max come from runtime inputs 2/3 */
  int64_t axis;
  int transA, transB;
  float alpha, beta;
  float eps;
  int64_t *aIdx; /* Gather: indices (owned by the plan) */
  int64_t nIdx;
  float padValue;
  int64_t padB[CNN_MAXDIM], padE[CNN_MAXDIM];
} CnnParams;

typedef struct CnnPVal {
  int type;       /* CNN_F32 / CNN_I64 */
  CnnShape shape; /* known at plan time */
  int bConst;
  const float *cf; /* constant data */
  const int64_t *ci;
  int root;    /* runtime storage root (value index), -1 for constants */
  int nUse;    /* consumers among the planned steps */
  int lastUse; /* last step reading it */
  int bOut;    /* a requested output: kept to the end */
  int64_t off; /* arena offset in floats (roots only) */
  int buf;     /* buffer id (roots) */
} CnnPVal;

typedef struct CnnStep {
  int op;
  const CnnNode *node;
  int nIn;
  int aIn[CNN_MAXIN]; /* value indices, -1 = omitted */
  int nOut;
  int aOut[2];
  CnnParams prm;
  size_t nScratch; /* floats of scratch this step needs */
} CnnStep;

struct CnnPlan {
  CnnGraph *g;
  CnnPVal *aPV; /* per graph value */
  int nStep;
  CnnStep *aStep;
  int nFeedF;
  int *aFeedF; /* value indices of the float feeds, in feed order */
  int nOut;
  int *aOut;
  CnnShape *aOutShape;
  int64_t nArena;  /* floats of activations */
  size_t nScratch; /* floats of scratch (max over steps) */
  int nOwned;
  void **aOwned; /* plan-owned constant buffers */
};

struct CnnWork {
  float *arena;
  float *scratch;
};

/* ops.c: infers output types/shapes (and folds constants: the plan runs a
** step at once when every input is constant) and fills st->prm. */
int cnn_op_infer(CnnPlan *p, CnnStep *st, char *err);
/* Runs one step on resolved pointers. */
typedef struct CnnArgs {
  const float *in[CNN_MAXIN];
  const CnnShape *inShape[CNN_MAXIN];
  float *out[2];
  const CnnShape *outShape[2];
  float *scratch;
} CnnArgs;
int cnn_op_run(const CnnStep *st, const CnnArgs *a, char *err);
/* Concat / Gather on elements of esz bytes (float32 at run time, int64 when
** folding shapes). */
void cnn_concat_any(int n, const void *const *apIn, const CnnShape *const *aInShape, const CnnShape *ys, int64_t ax,
                    size_t esz, void *out);
void cnn_gather_any(const void *x, const CnnShape *xs, int64_t ax, const int64_t *aIdx, int64_t nIdx, size_t esz,
                    void *out);
/* Keeps a constant buffer for the plan's lifetime; NULL on OOM. */
void *cnn_plan_own(CnnPlan *p, size_t nBytes);
/* Checks at load time that the node's operator and attributes are supported. */
int cnn_op_check(const CnnGraph *g, const CnnNode *n, char *err);
/* Escapes control characters of an error message in place. */
void cnn_err_printable(char *err);
/* Message prefix naming a node: "node 'name' (Op)". */
const char *cnn_node_label(const CnnNode *n, char *buf, size_t n_buf);

#endif
