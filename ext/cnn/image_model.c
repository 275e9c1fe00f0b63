/*
** Image models (pure C core of the "cnn:" feature kind; no SQL): RGB image
** -> resize (stretch or centre crop) -> normalisation -> NCHW float32 ->
** plan -> flattened output.
**
** Resizing is a separable bilinear (triangle) filter whose support widens
** with the reduction factor, so shrinking a large photo averages every
** source pixel instead of sampling a few (the same weights as Pillow's
** BILINEAR, computed in float); an image already at the model's size passes
** through unchanged.  One model is shared by every thread: the per-run
** scratch (activation arena, im2col buffer, input tensor) comes from a
** small pool guarded by a mutex, so a worker reuses warm memory instead of
** allocating tens of megabytes per image.
*/
#include "cnn_int.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- resampling ---- */
typedef struct Taps {
  int *lo;  /* first source index per output */
  int *cnt; /* taps per output */
  float *w; /* kmax weights per output */
  int kmax;
} Taps;

static void taps_free(Taps *t) {
  imgpca_free(t->lo);
  imgpca_free(t->cnt);
  imgpca_free(t->w);
  t->lo = t->cnt = NULL;
  t->w = NULL;
}

/* Weights for outputs [off, off+n) of a resize from nIn to nFull samples. */
static int taps_make(int nIn, int nFull, int off, int n, Taps *t) {
  double scale = (double)nIn / nFull, fs = scale > 1 ? scale : 1.0, support = fs;
  int i, k;
  t->kmax = (int)ceil(support) * 2 + 1;
  t->lo = imgpca_malloc((size_t)n * sizeof(int));
  t->cnt = imgpca_malloc((size_t)n * sizeof(int));
  t->w = imgpca_malloc((size_t)n * (size_t)t->kmax * sizeof(float));
  if (!t->lo || !t->cnt || !t->w) {
    taps_free(t);
    return IMGPCA_NOMEM;
  }
  for (i = 0; i < n; i++) {
    double center = (i + off + 0.5) * scale, sum = 0;
    int lo = (int)(center - support + 0.5), hi = (int)(center + support + 0.5);
    float *w = t->w + (size_t)i * (size_t)t->kmax;
    if (center - support + 0.5 < 0) lo = 0;
    if (hi > nIn) hi = nIn;
    if (hi - lo > t->kmax) hi = lo + t->kmax;
    if (hi <= lo) { /* cannot happen for valid sizes; keep one tap */
      lo = lo < nIn ? lo : nIn - 1;
      hi = lo + 1;
    }
    for (k = 0; k < hi - lo; k++) {
      double x = (k + lo - center + 0.5) / fs, v = 1.0 - fabs(x);
      w[k] = (float)(v > 0 ? v : 0);
      sum += w[k] > 0 ? w[k] : 0;
    }
    if (sum <= 0) {
      w[0] = 1;
      for (k = 1; k < hi - lo; k++) w[k] = 0;
    } else {
      for (k = 0; k < hi - lo; k++) w[k] = (float)(w[k] / sum);
    }
    t->lo[i] = lo;
    t->cnt[i] = hi - lo;
  }
  return IMGPCA_OK;
}

int cnn_preprocess(const unsigned char *rgb, int iw, int ih, int w, int h, int resize, int norm, float *out) {
  int fw = w, fh = h, ox = 0, oy = 0, x, y, c, k, ylo, yhi, rc;
  Taps tx, ty;
  float *tmp;
  size_t plane = (size_t)w * (size_t)h;
  if (iw <= 0 || ih <= 0 || w <= 0 || h <= 0) return IMGPCA_ERROR;
  if (resize == CNN_RESIZE_CROP) {
    /* torchvision: Resize(S) sets the shorter side to S and the longer to
    ** int(S * long / short) (truncated); CenterCrop's offset is
    ** round((R - size) / 2) with Python's round (half to even: rint) */
    int S = (int)floor((w > h ? w : h) / 0.875 + 0.5);
    if (iw <= ih) {
      fw = S;
      fh = (int)((double)S * ih / iw);
    } else {
      fh = S;
      fw = (int)((double)S * iw / ih);
    }
    if (fw < w) fw = w;
    if (fh < h) fh = h;
    ox = (int)rint((fw - w) / 2.0);
    oy = (int)rint((fh - h) / 2.0);
  }
  memset(&tx, 0, sizeof tx);
  memset(&ty, 0, sizeof ty);
  rc = taps_make(iw, fw, ox, w, &tx);
  if (rc == IMGPCA_OK) rc = taps_make(ih, fh, oy, h, &ty);
  if (rc) {
    taps_free(&tx);
    taps_free(&ty);
    return rc;
  }
  ylo = ty.lo[0];
  yhi = 0;
  for (y = 0; y < h; y++)
    if (ty.lo[y] + ty.cnt[y] > yhi) yhi = ty.lo[y] + ty.cnt[y];
  tmp = imgpca_malloc((size_t)(yhi - ylo) * (size_t)w * 3 * sizeof(float) + 1);
  if (!tmp) {
    taps_free(&tx);
    taps_free(&ty);
    return IMGPCA_NOMEM;
  }
  /* horizontal pass over the source rows the vertical pass reads */
  for (y = ylo; y < yhi; y++) {
    const unsigned char *row = rgb + (size_t)y * (size_t)iw * 3;
    float *t = tmp + (size_t)(y - ylo) * (size_t)w * 3;
    for (x = 0; x < w; x++) {
      const float *wx = tx.w + (size_t)x * (size_t)tx.kmax;
      const unsigned char *s = row + (size_t)tx.lo[x] * 3;
      float r = 0, g = 0, b = 0;
      for (k = 0; k < tx.cnt[x]; k++) {
        r += wx[k] * s[3 * k];
        g += wx[k] * s[3 * k + 1];
        b += wx[k] * s[3 * k + 2];
      }
      t[3 * x] = r;
      t[3 * x + 1] = g;
      t[3 * x + 2] = b;
    }
  }
  /* vertical pass into planar channels, then normalisation */
  for (y = 0; y < h; y++) {
    const float *wy = ty.w + (size_t)y * (size_t)ty.kmax;
    for (x = 0; x < w; x++) {
      float v[3] = {0, 0, 0};
      for (k = 0; k < ty.cnt[y]; k++) {
        const float *t = tmp + ((size_t)(ty.lo[y] + k - ylo) * (size_t)w + (size_t)x) * 3;
        v[0] += wy[k] * t[0];
        v[1] += wy[k] * t[1];
        v[2] += wy[k] * t[2];
      }
      for (c = 0; c < 3; c++) {
        static const float mean[3] = {0.485f, 0.456f, 0.406f}, sd[3] = {0.229f, 0.224f, 0.225f};
        static const float caffe[3] = {103.939f, 116.779f, 123.68f}; /* B, G, R */
        float u = v[c];
        int oc = c;
        if (norm == CNN_NORM_IMAGENET) {
          u = (u / 255.0f - mean[c]) / sd[c];
        } else if (norm == CNN_NORM_TF) {
          u = u / 127.5f - 1.0f;
        } else if (norm == CNN_NORM_CAFFE) {
          oc = 2 - c; /* RGB -> BGR planes */
          u = u - caffe[oc];
        }
        out[(size_t)oc * plane + (size_t)y * (size_t)w + (size_t)x] = u;
      }
    }
  }
  imgpca_free(tmp);
  taps_free(&tx);
  taps_free(&ty);
  return IMGPCA_OK;
}

/* ---- the image model ---- */
typedef struct PoolItem {
  CnnWork *w;
  float *in;
  struct PoolItem *next;
} PoolItem;

struct CnnImageModel {
  int nRef;
  CnnPlan *plan;
  int w, h;
  size_t dims;
  char *zOutput;
  pthread_mutex_t mu;
  PoolItem *pFree;
};

static void pool_item_free(PoolItem *it) {
  if (!it) return;
  cnn_work_free(it->w);
  imgpca_free(it->in);
  imgpca_free(it);
}

int cnn_image_model_new(CnnGraph *g, int w, int h, const char *zOutput, CnnImageModel **pp, char *err) {
  CnnImageModel *m;
  CnnFeed f;
  CnnShape s;
  int type, i, rc;
  const char *zIn;
  *pp = NULL;
  if (cnn_graph_n_inputs(g) != 1)
    return imgpca_seterr(err, "the model has %d inputs: an image model has exactly one", cnn_graph_n_inputs(g));
  zIn = cnn_graph_input(g, 0, &type, &s);
  if (type && type != CNN_F32) return imgpca_seterr(err, "the model input '%.100s' is not float32", zIn);
  if (s.nd >= 0 && (s.nd != 4 || (s.d[1] >= 0 && s.d[1] != 3) || (s.d[0] >= 0 && s.d[0] != 1)))
    return imgpca_seterr(err, "the model input '%.100s' is not [1,3,H,W] (NCHW RGB)", zIn);
  if (w <= 0 || h <= 0) {
    if (s.nd != 4 || s.d[2] <= 0 || s.d[3] <= 0)
      return imgpca_seterr(err, "the model input '%.100s' has no fixed size: give size=WxH", zIn);
    w = (int)s.d[3];
    h = (int)s.d[2];
  }
  if (!zOutput || !*zOutput) {
    zOutput = NULL;
    for (i = 0; i < cnn_graph_n_outputs(g); i++)
      if (strcmp(cnn_graph_output(g, i, NULL, NULL), "embedding") == 0) zOutput = "embedding";
    if (!zOutput) {
      if (cnn_graph_n_outputs(g) < 1) return imgpca_seterr(err, "the model has no output");
      zOutput = cnn_graph_output(g, 0, NULL, NULL);
    }
  }
  memset(&f, 0, sizeof f);
  f.zName = zIn;
  f.type = CNN_F32;
  f.shape.nd = 4;
  f.shape.d[0] = 1;
  f.shape.d[1] = 3;
  f.shape.d[2] = h;
  f.shape.d[3] = w;
  m = imgpca_calloc(1, sizeof(*m));
  if (!m) return IMGPCA_NOMEM;
  m->nRef = 1;
  m->w = w;
  m->h = h;
  m->zOutput = imgpca_strdup(zOutput);
  if (!m->zOutput) {
    imgpca_free(m);
    return IMGPCA_NOMEM;
  }
  rc = cnn_plan_new(g, 1, &f, 1, &zOutput, &m->plan, err);
  if (rc) {
    imgpca_free(m->zOutput);
    imgpca_free(m);
    return rc;
  }
  m->dims = cnn_shape_count(cnn_plan_output_shape(m->plan, 0));
  if (m->dims == 0) {
    cnn_plan_free(m->plan);
    imgpca_free(m->zOutput);
    imgpca_free(m);
    return imgpca_seterr(err, "output '%.100s' is empty", zOutput);
  }
  pthread_mutex_init(&m->mu, NULL);
  *pp = m;
  return IMGPCA_OK;
}

void cnn_image_model_retain(CnnImageModel *m) { __atomic_add_fetch(&m->nRef, 1, __ATOMIC_RELAXED); }

void cnn_image_model_release(CnnImageModel *m) {
  PoolItem *it;
  if (!m || __atomic_sub_fetch(&m->nRef, 1, __ATOMIC_ACQ_REL) != 0) return;
  while ((it = m->pFree) != NULL) {
    m->pFree = it->next;
    pool_item_free(it);
  }
  pthread_mutex_destroy(&m->mu);
  cnn_plan_free(m->plan);
  imgpca_free(m->zOutput);
  imgpca_free(m);
}

size_t cnn_image_model_dims(const CnnImageModel *m) { return m->dims; }
void cnn_image_model_size(const CnnImageModel *m, int *w, int *h) {
  *w = m->w;
  *h = m->h;
}
const char *cnn_image_model_output(const CnnImageModel *m) { return m->zOutput; }

int cnn_features(CnnImageModel *m, const unsigned char *rgb, int iw, int ih, int resize, int norm, float *out,
                 char *err) {
  PoolItem *it;
  int rc;
  const float *in[1];
  float *o[1];
  pthread_mutex_lock(&m->mu);
  it = m->pFree;
  if (it) m->pFree = it->next;
  pthread_mutex_unlock(&m->mu);
  if (!it) {
    it = imgpca_calloc(1, sizeof(*it));
    if (!it) return IMGPCA_NOMEM;
    it->w = cnn_work_new(m->plan);
    it->in = imgpca_malloc((size_t)m->w * (size_t)m->h * 3 * sizeof(float));
    if (!it->w || !it->in) {
      pool_item_free(it);
      return IMGPCA_NOMEM;
    }
  }
  rc = cnn_preprocess(rgb, iw, ih, m->w, m->h, resize, norm, it->in);
  if (rc == IMGPCA_ERROR) rc = imgpca_seterr(err, "cannot resize a %dx%d image", iw, ih);
  if (rc == IMGPCA_OK) {
    in[0] = it->in;
    o[0] = out;
    rc = cnn_plan_run(m->plan, it->w, in, o, NULL, NULL, err);
  }
  pthread_mutex_lock(&m->mu);
  it->next = m->pFree;
  m->pFree = it;
  pthread_mutex_unlock(&m->mu);
  return rc;
}
