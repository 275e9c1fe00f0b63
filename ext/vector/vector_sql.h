/* SQL glue of the float32 vector helpers (fvec_*). */
#ifndef IMGPCA_VECTOR_SQL_H
#define IMGPCA_VECTOR_SQL_H

#include "../sqlglue/sqlglue.h"
#include "vector.h"

extern const ImgpcaModule imgpca_module_vector;

/* ---- for the glue of other modules (image, pca) ---- */

/* A vector argument: a float32 BLOB or a JSON array of numbers. */
typedef struct FvecArg {
  float *v;   /* host floats (owned, imgpca_free) */
  size_t n;   /* dimension */
  int isNull; /* the argument was SQL NULL */
} FvecArg;
/* Parses v; on error sets "<zFunc>: invalid vector <zWhat>: ..." and returns 1. */
int fvec_arg(sqlite3_context *ctx, const char *zFunc, const char *zWhat, sqlite3_value *v, FvecArg *out);
void fvec_arg_free(FvecArg *a);
/* Returns v[0..n) as a float32 BLOB. */
void fvec_result(sqlite3_context *ctx, const float *v, size_t n);

#endif
