/* SQL glue of the float32 vector helpers (fvec_*). */
#ifndef IMGPCA_VECTOR_SQL_H
#define IMGPCA_VECTOR_SQL_H
#include "../sqlglue/sqlglue.h"
#include "vector.h"

/* A vector argument: a float32 BLOB or a JSON array TEXT. */

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
