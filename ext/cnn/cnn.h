/*
** CNN core (pure C, no SQLite types): loads an ONNX model (protobuf parsed
** by libprotobuf-c from Debian's onnx.proto), compiles it for fixed input
** shapes into a plan, and runs the plan in float32 with OpenBLAS doing the
** convolutions and matrix products.  SQL glue: cnn_sql.c (img_model_info,
** the per-connection model cache); the image feature kind "cnn:" lives in
** ext/image and calls cnn_features().  Reference: docs/CNN.md.
**
**   graph = cnn_graph_load(bytes)      parse, check every operator and
**                                      attribute, fold BatchNormalization
**                                      into the preceding Conv
**   plan  = cnn_plan_new(graph, feeds, outputs)
**                                      shapes, constant folding (Shape,
**                                      Gather, Unsqueeze, Concat ... on
**                                      int64), activation fusion, buffer
**                                      plan; immutable, shared by threads
**   cnn_plan_run(plan, work, in, out)  one inference; work = per-thread
**                                      scratch (cnn_work_new)
**
** A graph and a plan are read-only once built: any number of threads may
** run one plan at the same time, each with its own CnnWork.  The result of
** a run depends only on the inputs (no thread-count dependent reductions).
*/
#ifndef IMGPCA_CNN_H
#define IMGPCA_CNN_H

#include "../common/common.h"

#define CNN_MAXDIM 8

/* Element types (ONNX TensorProto.DataType values). */
enum { CNN_F32 = 1,
       CNN_I64 = 7 };

typedef struct CnnShape {
  int nd;
  int64_t d[CNN_MAXDIM]; /* -1: unknown (symbolic) dimension */
} CnnShape;
/* Number of elements (0 if a dimension is unknown or negative). */
size_t cnn_shape_count(const CnnShape *s);

typedef struct CnnGraph CnnGraph;
typedef struct CnnPlan CnnPlan;
typedef struct CnnWork CnnWork;

/* Limits applied while loading (0 = default). */
typedef struct CnnLimits {
  int64_t maxBytes;    /* largest model file accepted (default 2 GiB) */
  int64_t maxElements; /* largest tensor, in elements (default 1<<28) */
  int maxNodes;        /* default 100000 */
} CnnLimits;

/* Parses an ONNX model.  Every operator must be supported (with the
** attributes used): otherwise the error names the node, the operator and
** what is missing.  Returns IMGPCA_OK, IMGPCA_NOMEM or IMGPCA_ERROR. */
int cnn_graph_load(const void *p, size_t n, const CnnLimits *lim, CnnGraph **pp, char *err);
/* Reference counting (thread-safe): a plan keeps its graph alive. */
void cnn_graph_retain(CnnGraph *g);
void cnn_graph_release(CnnGraph *g);

/* Graph inputs that are not initializers, and graph outputs. */
int cnn_graph_n_inputs(const CnnGraph *g);
const char *cnn_graph_input(const CnnGraph *g, int i, int *pType, CnnShape *pShape);
int cnn_graph_n_outputs(const CnnGraph *g);
const char *cnn_graph_output(const CnnGraph *g, int i, int *pType, CnnShape *pShape);
/* 1 if a value (graph output or intermediate tensor) of that name exists. */
int cnn_graph_has_value(const CnnGraph *g, const char *zName);
/* The model as JSON: opset, producer, inputs, outputs (names, shapes),
** operator counts, parameter count.  Appended to b. */
int cnn_graph_info_json(const CnnGraph *g, ImgpcaBuf *b);
int64_t cnn_graph_params(const CnnGraph *g);

/* One graph input for a plan: its shape, and for int64 inputs their
** values (treated as constants: shapes, axes, indices). */
typedef struct CnnFeed {
  const char *zName;
  CnnShape shape;
  int type;            /* CNN_F32 or CNN_I64 */
  const int64_t *pI64; /* CNN_I64 only: cnn_shape_count(&shape) values */
} CnnFeed;

/* Compiles the graph for the given inputs (every graph input needs a feed)
** and outputs (float32 tensors: graph outputs or intermediate values). */
int cnn_plan_new(CnnGraph *g, int nFeed, const CnnFeed *aFeed, int nOut, const char *const *azOut, CnnPlan **pp,
                 char *err);
void cnn_plan_free(CnnPlan *p);
const CnnShape *cnn_plan_output_shape(const CnnPlan *p, int i);
/* Bytes of scratch a CnnWork for this plan holds. */
size_t cnn_plan_work_bytes(const CnnPlan *p);

CnnWork *cnn_work_new(const CnnPlan *p);
void cnn_work_free(CnnWork *w);

/* Runs the plan: apIn[i] = the float32 data of the i-th CNN_F32 feed (in
** feed order), apOut[i] receives cnn_shape_count(output shape i) floats.
** xInterrupted (may be NULL) is polled between operators. */
int cnn_plan_run(const CnnPlan *p, CnnWork *w, const float *const *apIn, float *const *apOut,
                 int (*xInterrupted)(void *), void *pArg, char *err);

/* Image-level parallelism: while at least one caller is between begin and
** end (several worker threads each running whole inferences), OpenBLAS runs
** single-threaded, as OpenBLAS advises for applications that parallelise
** themselves; the previous thread count comes back with the last end.
** Results do not change (no kernel's summation order depends on it), only
** where the cores are spent. */
void cnn_parallel_begin(void);
void cnn_parallel_end(void);

/* ---- image models: the "cnn:" feature kind ------------------------------ */
enum { CNN_RESIZE_STRETCH = 0,
       CNN_RESIZE_CROP = 1 };
enum { CNN_NORM_NONE = 0,
       CNN_NORM_IMAGENET = 1,
       CNN_NORM_TF = 2,
       CNN_NORM_CAFFE = 3 };

/* Image preprocessing of an 8-bit RGB image (rows top to bottom, RGB
** interleaved) into a 3 x h x w float32 planar tensor:
**   stretch: bilinear resize of the whole image (antialiased when
**            shrinking; same size in and out = pixels unchanged)
**   crop:    resize so that the shorter side is round(min(w,h) / 0.875)
**            (256 for 224), then take the centre w x h (torchvision's
**            eval transform)
** then norm: none = 0..255, imagenet = (x/255 - mean)/std (torchvision's
** constants), tf = x/127.5 - 1, caffe = BGR channel order minus the
** ImageNet means in 0..255 (103.939, 116.779, 123.68): Keras ResNet50's
** preprocess_input. */
int cnn_preprocess(const unsigned char *rgb, int iw, int ih, int w, int h, int resize, int norm, float *out);

/* An image model compiled for one input size and one output: what the
** feature kind runs.  Shared (reference counted, thread-safe); each thread
** keeps its own scratch through cnn_image_run's work cache. */
typedef struct CnnImageModel CnnImageModel;
/* Compiles g for an image input of w x h (0,0 = the model's declared
** size) and the named output (NULL = "embedding" if present, else the
** first graph output).  The single non-initializer input must be
** [N,3,H,W] (N = 1 or symbolic). */
int cnn_image_model_new(CnnGraph *g, int w, int h, const char *zOutput, CnnImageModel **pp, char *err);
void cnn_image_model_retain(CnnImageModel *m);
void cnn_image_model_release(CnnImageModel *m);
size_t cnn_image_model_dims(const CnnImageModel *m);
void cnn_image_model_size(const CnnImageModel *m, int *w, int *h);
const char *cnn_image_model_output(const CnnImageModel *m);
/* Features of one decoded RGB image: preprocessing + inference into
** out[cnn_image_model_dims(m)].  Thread-safe. */
int cnn_features(CnnImageModel *m, const unsigned char *rgb, int iw, int ih, int resize, int norm, float *out,
                 char *err);

#endif
