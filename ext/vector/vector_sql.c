/*
** Float32 vector helpers.  A vector is a BLOB of little-endian float32
** (sqlite-vec compatible); every vector argument may also be given as a JSON
** array of numbers.  NULL in -> NULL out.  Errors: wrong blob length,
** NaN/Inf, dimension mismatch, bad JSON, each naming the function.
**
**   fvec(x1, x2, ...)          -> vector of the given numbers
**   fvec_from_json('[1,2,3]')  -> vector
**   fvec_to_json(v)            -> '[1,2,3]' (9 significant digits)
**   fvec_dims(v)               -> number of dimensions
**   fvec_at(v, i)              -> element i (0-based) as REAL
**   fvec_argmax(v)             -> index (0-based) of the largest element, the
**                                 first of equal ones
**   fvec_slice(v, start, end)  -> elements [start, end) (0-based)
**   fvec_concat(v1, v2, ...)   -> concatenation
**   fvec_l2(a, b)              -> Euclidean distance
**   fvec_cosine(a, b)          -> cosine distance 1 - a.b/(|a||b|)
**   fvec_dot(a, b), fvec_norm(v), fvec_normalize(v)
**   fvec_add(a, b), fvec_sub(a, b), fvec_scale(v, s)
**   fvec_avg(v)                -> aggregate: element-wise mean
*/
#include "vector_sql.h"

#include <math.h>
#include <stdio.h>

static void fvec_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  float *v;
  int i;
  if (argc == 0) {
    imgpca_result_error(ctx, "fvec", "empty vector");
    return;
  }
  v = imgpca_malloc((size_t)argc * sizeof(float));
  if (!v) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  for (i = 0; i < argc; i++) {
    int t = sqlite3_value_type(argv[i]);
    double d;
    if (t != SQLITE_INTEGER && t != SQLITE_FLOAT) {
      imgpca_free(v);
      imgpca_result_error(ctx, "fvec", "argument %d must be a number, got %s", i + 1,
                          imgpca_type_name(argv[i]));
      return;
    }
    d = sqlite3_value_double(argv[i]);
    v[i] = (float)d;
    if (!isfinite(v[i])) {
      imgpca_free(v);
      imgpca_result_error(ctx, "fvec", "argument %d is not a finite float32", i + 1);
      return;
    }
  }
  fvec_result(ctx, v, (size_t)argc);
  imgpca_free(v);
}

static void fvec_from_json_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  FvecArg a;
  (void)argc;
  if (sqlite3_value_type(argv[0]) == SQLITE_BLOB) {
    imgpca_result_error(ctx, "fvec_from_json", "expected a JSON array text, got blob");
    return;
  }
  if (fvec_arg(ctx, "fvec_from_json", "argument", argv[0], &a) || a.isNull) return;
  fvec_result(ctx, a.v, a.n);
  fvec_arg_free(&a);
}

static void fvec_to_json_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  FvecArg a;
  ImgpcaBuf b;
  (void)argc;
  if (fvec_arg(ctx, "fvec_to_json", "argument", argv[0], &a) || a.isNull) return;
  imgpca_buf_init(&b);
  fvec_write_json(a.v, a.n, &b);
  fvec_arg_free(&a);
  imgpca_result_buf_text(ctx, &b);
}

static void fvec_dims_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  FvecArg a;
  (void)argc;
  if (fvec_arg(ctx, "fvec_dims", "argument", argv[0], &a) || a.isNull) return;
  sqlite3_result_int64(ctx, (sqlite3_int64)a.n);
  fvec_arg_free(&a);
}

static int int_arg(sqlite3_context *ctx, const char *zFunc, const char *zWhat, sqlite3_value *v,
                   sqlite3_int64 *p) {
  if (sqlite3_value_type(v) != SQLITE_INTEGER) {
    imgpca_result_error(ctx, zFunc, "%s must be an integer, got %s", zWhat, imgpca_type_name(v));
    return 1;
  }
  *p = sqlite3_value_int64(v);
  return 0;
}

static void fvec_at_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  FvecArg a;
  sqlite3_int64 i;
  (void)argc;
  if (fvec_arg(ctx, "fvec_at", "argument", argv[0], &a) || a.isNull) return;
  if (int_arg(ctx, "fvec_at", "index", argv[1], &i)) goto done;
  if (i < 0 || (size_t)i >= a.n) {
    imgpca_result_error(ctx, "fvec_at", "index %lld out of range [0, %lld)", i, (sqlite3_int64)a.n);
    goto done;
  }
  sqlite3_result_double(ctx, a.v[i]);
done:
  fvec_arg_free(&a);
}

static void fvec_slice_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  FvecArg a;
  sqlite3_int64 s, e;
  (void)argc;
  if (fvec_arg(ctx, "fvec_slice", "argument", argv[0], &a) || a.isNull) return;
  if (int_arg(ctx, "fvec_slice", "start", argv[1], &s) || int_arg(ctx, "fvec_slice", "end", argv[2], &e))
    goto done;
  if (s < 0 || e > (sqlite3_int64)a.n || s >= e) {
    imgpca_result_error(ctx, "fvec_slice", "invalid range [%lld, %lld) for a vector of %lld dimensions",
                        s, e, (sqlite3_int64)a.n);
    goto done;
  }
  fvec_result(ctx, a.v + s, (size_t)(e - s));
done:
  fvec_arg_free(&a);
}

static void fvec_concat_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  ImgpcaBuf b;
  int i;
  if (argc == 0) {
    imgpca_result_error(ctx, "fvec_concat", "needs at least one vector");
    return;
  }
  imgpca_buf_init(&b);
  for (i = 0; i < argc; i++) {
    FvecArg a;
    char zWhat[32];
    snprintf(zWhat, sizeof zWhat, "argument %d", i + 1);
    if (fvec_arg(ctx, "fvec_concat", zWhat, argv[i], &a)) {
      imgpca_buf_free(&b);
      return;
    }
    if (a.isNull) {
      imgpca_buf_free(&b);
      sqlite3_result_null(ctx);
      return;
    }
    imgpca_buf_append(&b, a.v, a.n * sizeof(float));
    fvec_arg_free(&a);
  }
  if (b.oom) {
    imgpca_buf_free(&b);
    sqlite3_result_error_nomem(ctx);
    return;
  }
  if (b.n / 4 > IMGPCA_VEC_MAX_DIMS) {
    imgpca_buf_free(&b);
    imgpca_result_error(ctx, "fvec_concat", "result exceeds the limit of %u dimensions",
                        IMGPCA_VEC_MAX_DIMS);
    return;
  }
  fvec_result(ctx, (const float *)b.p, b.n / 4);
  imgpca_buf_free(&b);
}

/* Reads two vectors of equal dimension; returns 0 when the caller may go on. */
static int two_vectors(sqlite3_context *ctx, const char *zFunc, sqlite3_value **argv, FvecArg *a,
                       FvecArg *b) {
  if (fvec_arg(ctx, zFunc, "a", argv[0], a)) return 1;
  if (fvec_arg(ctx, zFunc, "b", argv[1], b)) {
    fvec_arg_free(a);
    return 1;
  }
  if (a->isNull || b->isNull) {
    fvec_arg_free(a);
    fvec_arg_free(b);
    return 1; /* result stays NULL */
  }
  if (a->n != b->n) {
    imgpca_result_error(ctx, zFunc, "dimension mismatch: %lld vs %lld", (sqlite3_int64)a->n,
                        (sqlite3_int64)b->n);
    fvec_arg_free(a);
    fvec_arg_free(b);
    return 1;
  }
  return 0;
}

/* Fast path of the distance functions for two float32 blobs: reads them in
** place (no copy, no allocation).  Returns 1 with *pOut set, 0 when the
** generic path must handle the arguments (not both blobs, or invalid, so
** that it reports the error), or 2 on a dimension mismatch (error set). */
enum { DIST_L2,
       DIST_DOT,
       DIST_COS };
static int blob_distance(sqlite3_context *ctx, const char *zFunc, sqlite3_value **argv, int kind,
                         double *pOut) {
  const unsigned char *pa, *pb;
  size_t na, nb, i;
  double s = 0, sa = 0, sb = 0;
  if (sqlite3_value_type(argv[0]) != SQLITE_BLOB || sqlite3_value_type(argv[1]) != SQLITE_BLOB) return 0;
  pa = sqlite3_value_blob(argv[0]);
  na = (size_t)sqlite3_value_bytes(argv[0]);
  pb = sqlite3_value_blob(argv[1]);
  nb = (size_t)sqlite3_value_bytes(argv[1]);
  if (!pa || !pb || na == 0 || nb == 0 || na % 4 || nb % 4) return 0;
  if (na != nb) {
    imgpca_result_error(ctx, zFunc, "dimension mismatch: %lld vs %lld", (sqlite3_int64)(na / 4),
                        (sqlite3_int64)(nb / 4));
    return 2;
  }
  for (i = 0; i < na; i += 4) {
    double x = imgpca_get_f32(pa + i), y = imgpca_get_f32(pb + i);
    if (kind == DIST_L2) {
      s += (x - y) * (x - y);
    } else {
      s += x * y;
      sa += x * x;
      sb += y * y;
    }
  }
  /* NaN/Inf anywhere propagates into the sums: let the generic path name it. */
  if (!isfinite(s) || !isfinite(sa) || !isfinite(sb)) return 0;
  if (kind == DIST_L2)
    *pOut = sqrt(s);
  else if (kind == DIST_DOT)
    *pOut = s;
  else if (sa == 0 || sb == 0)
    return 0; /* zero vector: generic path reports it */
  else
    *pOut = 1.0 - s / (sqrt(sa) * sqrt(sb));
  return 1;
}

static void fvec_l2_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  FvecArg a, b;
  double d;
  int r = blob_distance(ctx, "fvec_l2", argv, DIST_L2, &d);
  (void)argc;
  if (r == 1) sqlite3_result_double(ctx, d);
  if (r) return;
  if (two_vectors(ctx, "fvec_l2", argv, &a, &b)) return;
  sqlite3_result_double(ctx, fvec_l2(a.v, b.v, a.n));
  fvec_arg_free(&a);
  fvec_arg_free(&b);
}

static void fvec_cosine_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  FvecArg a, b;
  double d;
  char err[IMGPCA_ERRMAX];
  int r = blob_distance(ctx, "fvec_cosine", argv, DIST_COS, &d);
  (void)argc;
  if (r == 1) sqlite3_result_double(ctx, d);
  if (r) return;
  if (two_vectors(ctx, "fvec_cosine", argv, &a, &b)) return;
  if (fvec_cosine_distance(a.v, b.v, a.n, &d, err))
    imgpca_result_error(ctx, "fvec_cosine", "%s", err);
  else
    sqlite3_result_double(ctx, d);
  fvec_arg_free(&a);
  fvec_arg_free(&b);
}

static void fvec_dot_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  FvecArg a, b;
  double d;
  int r = blob_distance(ctx, "fvec_dot", argv, DIST_DOT, &d);
  (void)argc;
  if (r == 1) sqlite3_result_double(ctx, d);
  if (r) return;
  if (two_vectors(ctx, "fvec_dot", argv, &a, &b)) return;
  sqlite3_result_double(ctx, fvec_dot(a.v, b.v, a.n));
  fvec_arg_free(&a);
  fvec_arg_free(&b);
}

static void elementwise(sqlite3_context *ctx, sqlite3_value **argv, const char *zFunc, int sign) {
  FvecArg a, b;
  size_t i;
  if (two_vectors(ctx, zFunc, argv, &a, &b)) return;
  for (i = 0; i < a.n; i++) a.v[i] = a.v[i] + (float)sign * b.v[i];
  for (i = 0; i < a.n && isfinite(a.v[i]); i++) {
  }
  if (i < a.n)
    imgpca_result_error(ctx, zFunc, "element %lld overflows float32", (sqlite3_int64)i);
  else
    fvec_result(ctx, a.v, a.n);
  fvec_arg_free(&a);
  fvec_arg_free(&b);
}

static void fvec_add_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  elementwise(ctx, argv, "fvec_add", 1);
}

static void fvec_sub_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  elementwise(ctx, argv, "fvec_sub", -1);
}

static void fvec_norm_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  FvecArg a;
  (void)argc;
  if (fvec_arg(ctx, "fvec_norm", "argument", argv[0], &a) || a.isNull) return;
  sqlite3_result_double(ctx, fvec_norm(a.v, a.n));
  fvec_arg_free(&a);
}

static void fvec_argmax_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  FvecArg a;
  (void)argc;
  if (fvec_arg(ctx, "fvec_argmax", "argument", argv[0], &a) || a.isNull) return;
  sqlite3_result_int64(ctx, (sqlite3_int64)fvec_argmax(a.v, a.n));
  fvec_arg_free(&a);
}

static void fvec_normalize_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  FvecArg a;
  double nrm;
  size_t i;
  (void)argc;
  if (fvec_arg(ctx, "fvec_normalize", "argument", argv[0], &a) || a.isNull) return;
  nrm = fvec_norm(a.v, a.n);
  if (nrm == 0) {
    imgpca_result_error(ctx, "fvec_normalize", "cannot normalise a zero vector");
  } else {
    for (i = 0; i < a.n; i++) a.v[i] = (float)(a.v[i] / nrm);
    fvec_result(ctx, a.v, a.n);
  }
  fvec_arg_free(&a);
}

static void fvec_scale_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  FvecArg a;
  double s;
  size_t i;
  int t = sqlite3_value_type(argv[1]);
  (void)argc;
  if (fvec_arg(ctx, "fvec_scale", "argument", argv[0], &a) || a.isNull) return;
  if (t == SQLITE_NULL) {
    fvec_arg_free(&a);
    return;
  }
  if (t != SQLITE_INTEGER && t != SQLITE_FLOAT) {
    imgpca_result_error(ctx, "fvec_scale", "factor must be a number, got %s", imgpca_type_name(argv[1]));
    fvec_arg_free(&a);
    return;
  }
  s = sqlite3_value_double(argv[1]);
  for (i = 0; i < a.n; i++) {
    a.v[i] = (float)(a.v[i] * s);
    if (!isfinite(a.v[i])) break;
  }
  if (i < a.n)
    imgpca_result_error(ctx, "fvec_scale", "element %lld overflows float32", (sqlite3_int64)i);
  else
    fvec_result(ctx, a.v, a.n);
  fvec_arg_free(&a);
}

/* fvec_avg: running sum in float64. */
typedef struct AvgState {
  double *sum;
  size_t n;
  sqlite3_int64 count;
  int failed;
} AvgState;

static void fvec_avg_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  AvgState *st = sqlite3_aggregate_context(ctx, sizeof(*st));
  FvecArg a;
  size_t i;
  (void)argc;
  if (!st) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  if (st->failed) return;
  if (fvec_arg(ctx, "fvec_avg", "argument", argv[0], &a)) {
    st->failed = 1;
    return;
  }
  if (a.isNull) return;
  if (!st->sum) {
    st->sum = imgpca_calloc(a.n, sizeof(double));
    if (!st->sum) {
      fvec_arg_free(&a);
      st->failed = 1;
      sqlite3_result_error_nomem(ctx);
      return;
    }
    st->n = a.n;
  } else if (st->n != a.n) {
    imgpca_result_error(ctx, "fvec_avg", "dimension mismatch: %lld vs %lld", (sqlite3_int64)st->n,
                        (sqlite3_int64)a.n);
    st->failed = 1;
    fvec_arg_free(&a);
    return;
  }
  for (i = 0; i < a.n; i++) st->sum[i] += a.v[i];
  st->count++;
  fvec_arg_free(&a);
}

static void fvec_avg_final(sqlite3_context *ctx) {
  AvgState *st = sqlite3_aggregate_context(ctx, 0);
  size_t i;
  unsigned char *p;
  if (!st) return; /* no rows: NULL */
  if (st->failed) {
    imgpca_free(st->sum);
    return;
  }
  if (!st->sum) return;
  p = imgpca_malloc(st->n * 4);
  if (!p) {
    imgpca_free(st->sum);
    sqlite3_result_error_nomem(ctx);
    return;
  }
  for (i = 0; i < st->n; i++) imgpca_put_f32(p + 4 * i, (float)(st->sum[i] / (double)st->count));
  imgpca_free(st->sum);
  imgpca_result_owned_blob(ctx, p, st->n * 4);
}

/* ---- vector arguments and results ---- */

int fvec_arg(sqlite3_context *ctx, const char *zFunc, const char *zWhat, sqlite3_value *v,
             FvecArg *out) {
  char err[IMGPCA_ERRMAX];
  int rc;
  memset(out, 0, sizeof(*out));
  switch (sqlite3_value_type(v)) {
    case SQLITE_NULL:
      out->isNull = 1;
      return 0;
    case SQLITE_BLOB: {
      const unsigned char *p = sqlite3_value_blob(v);
      size_t nb = (size_t)sqlite3_value_bytes(v);
      rc = fvec_check_blob(p, nb, &out->n, err);
      if (rc == IMGPCA_OK) {
        out->v = imgpca_malloc(out->n * sizeof(float));
        if (!out->v)
          rc = IMGPCA_NOMEM;
        else
          fvec_decode(p, out->n, out->v);
      }
      break;
    }
    case SQLITE_TEXT: {
      const char *z = (const char *)sqlite3_value_text(v);
      if (!z) {
        rc = IMGPCA_NOMEM;
        break;
      }
      rc = fvec_parse_json(z, (size_t)sqlite3_value_bytes(v), &out->v, &out->n, err);
      break;
    }
    default:
      imgpca_result_error(ctx, zFunc, "invalid vector %s: expected a float32 blob or a JSON array, got %s",
                          zWhat, imgpca_type_name(v));
      return 1;
  }
  if (rc == IMGPCA_NOMEM) {
    sqlite3_result_error_nomem(ctx);
    return 1;
  }
  if (rc) {
    imgpca_result_error(ctx, zFunc, "invalid vector %s: %s", zWhat, err);
    return 1;
  }
  return 0;
}

void fvec_arg_free(FvecArg *a) {
  imgpca_free(a->v);
  a->v = NULL;
}

void fvec_result(sqlite3_context *ctx, const float *v, size_t n) {
  unsigned char *p = fvec_blob(v, n);
  if (!p) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  imgpca_result_owned_blob(ctx, p, n * 4);
}

/* ---- what the module adds to SQLite (ext/imgpca.c registers it) ---- */

static const ImgpcaSqlFunc aFunc[] = {
    {"fvec", -1, IMGPCA_PURE, fvec_func, 0, 0},
    {"fvec_from_json", 1, IMGPCA_PURE, fvec_from_json_func, 0, 0},
    {"fvec_to_json", 1, IMGPCA_PURE, fvec_to_json_func, 0, 0},
    {"fvec_dims", 1, IMGPCA_PURE, fvec_dims_func, 0, 0},
    {"fvec_at", 2, IMGPCA_PURE, fvec_at_func, 0, 0},
    {"fvec_slice", 3, IMGPCA_PURE, fvec_slice_func, 0, 0},
    {"fvec_concat", -1, IMGPCA_PURE, fvec_concat_func, 0, 0},
    {"fvec_l2", 2, IMGPCA_PURE, fvec_l2_func, 0, 0},
    {"fvec_cosine", 2, IMGPCA_PURE, fvec_cosine_func, 0, 0},
    {"fvec_dot", 2, IMGPCA_PURE, fvec_dot_func, 0, 0},
    {"fvec_norm", 1, IMGPCA_PURE, fvec_norm_func, 0, 0},
    {"fvec_argmax", 1, IMGPCA_PURE, fvec_argmax_func, 0, 0},
    {"fvec_normalize", 1, IMGPCA_PURE, fvec_normalize_func, 0, 0},
    {"fvec_add", 2, IMGPCA_PURE, fvec_add_func, 0, 0},
    {"fvec_sub", 2, IMGPCA_PURE, fvec_sub_func, 0, 0},
    {"fvec_scale", 2, IMGPCA_PURE, fvec_scale_func, 0, 0},
    {"fvec_avg", 1, IMGPCA_PURE, 0, fvec_avg_step, fvec_avg_final},
    {0}};

static const ImgpcaSqlDoc aDoc[] = {
    {"`fvec(x, ...)`, `fvec_from_json(json)`, `fvec_to_json(v)`",
     "vector / text",
     "float32 vectors (BLOB, sqlite-vec layout); JSON arrays accepted wherever a vector is"},
    {"`fvec_dims(v)`, `fvec_at(v, i)`, `fvec_slice(v, start, end)`, `fvec_concat(v, ...)`, `fvec_argmax(v)`",
     "",
     "0-based indexes; `fvec_argmax`: index of the largest element, the first of equal ones (top-1 class of a classifier's probabilities)"},
    {"`fvec_l2(a, b)`, `fvec_cosine(a, b)`, `fvec_dot(a, b)`, `fvec_norm(v)`",
     "real",
     "distances and norms"},
    {"`fvec_normalize(v)`, `fvec_add(a, b)`, `fvec_sub(a, b)`, `fvec_scale(v, s)`",
     "vector",
     "element-wise"},
    {"`fvec_avg(v)`",
     "vector",
     "aggregate: element-wise mean"},
    {0}};

const ImgpcaModule imgpca_module_vector = {.zName = "vector", .aFunc = aFunc, .aDoc = aDoc};
