/* SQL glue of the float32 vector helpers (fvec_*). */
#ifndef IMGPCA_VECTOR_SQL_H
#define IMGPCA_VECTOR_SQL_H
#include "../imgpca_int.h"
#include "vector.h"

/* A vector argument: a float32 BLOB or a JSON array TEXT. */
typedef struct FvecArg {
  float *v;       /* host floats (owned, imgpca_free) */
  size_t n;       /* dimension */
  int isNull;     /* the argument was SQL NULL */
} FvecArg;

/* Reads argument v of function zFunc.  On error sets the result error
** ("<zFunc>: invalid vector <zWhat>: ...") and returns non-zero.  NULL is
** accepted (isNull = 1) and returns 0. */
int fvec_arg(sqlite3_context *ctx, const char *zFunc, const char *zWhat, sqlite3_value *v,
             FvecArg *out);
void fvec_arg_free(FvecArg *a);
/* Sets the result to a float32 blob of v[0..n). */
void fvec_result(sqlite3_context *ctx, const float *v, size_t n);

void fvec_func(sqlite3_context *, int, sqlite3_value **);
void fvec_from_json_func(sqlite3_context *, int, sqlite3_value **);
void fvec_to_json_func(sqlite3_context *, int, sqlite3_value **);
void fvec_dims_func(sqlite3_context *, int, sqlite3_value **);
void fvec_at_func(sqlite3_context *, int, sqlite3_value **);
void fvec_slice_func(sqlite3_context *, int, sqlite3_value **);
void fvec_concat_func(sqlite3_context *, int, sqlite3_value **);
void fvec_l2_func(sqlite3_context *, int, sqlite3_value **);
void fvec_cosine_func(sqlite3_context *, int, sqlite3_value **);
void fvec_dot_func(sqlite3_context *, int, sqlite3_value **);
void fvec_norm_func(sqlite3_context *, int, sqlite3_value **);
void fvec_normalize_func(sqlite3_context *, int, sqlite3_value **);
void fvec_add_func(sqlite3_context *, int, sqlite3_value **);
void fvec_sub_func(sqlite3_context *, int, sqlite3_value **);
void fvec_scale_func(sqlite3_context *, int, sqlite3_value **);
void fvec_avg_step(sqlite3_context *, int, sqlite3_value **);
void fvec_avg_final(sqlite3_context *);
#endif
