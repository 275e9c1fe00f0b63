/*
** Internal header of the SQL glue files (never installed).
**
** Every *_sql.c file includes this header, which brings in
** <sqlite3ext.h> with SQLITE_EXTENSION_INIT3 so that all SQLite calls go
** through the routine table captured by the entry point (ext/imgpca.c,
** the only file with SQLITE_EXTENSION_INIT1/2).
*/
#ifndef IMGPCA_INT_H
#define IMGPCA_INT_H

#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3

#include "common/common.h"
#include "config/config.h"

/* Per-connection state, shared (reference counted) by every function and
** module registered on one connection. */
typedef struct ImgpcaConn {
  int nRef;
  sqlite3 *db;
  ImgpcaConfig cfg;
  void *pS3;          /* lazily created S3 client state (ext/s3), or NULL */
  void (*xS3Free)(void *);
  void *pPcaModel;    /* last model parsed by the pca model functions (ext/pca), or NULL */
  void (*xPcaModelFree)(void *);
  int nReadOnly;      /* > 0 while csv_export runs its query: side effects refused */
  const char *zRefused; /* the side-effect function refused meanwhile, or NULL */
} ImgpcaConn;

/* Functions with side effects (writes, deletes, exports, settings) call
** this first: while csv_export runs its query on this connection it sets
** "<zFunc>: not allowed inside the query of csv_export ..." and returns 1. */
int imgpca_side_effect_refused(sqlite3_context *ctx, ImgpcaConn *conn, const char *zFunc);

/* Non-zero when sqlite3_interrupt() was called on db while the current
** statement runs (SQLite 3.40 has no sqlite3_is_interrupted: a nested
** trivial statement fails with SQLITE_INTERRUPT then).  Costs a prepare and
** a step: poll it every few milliseconds of work, not per byte. */
int imgpca_interrupted(sqlite3 *db);

/* Result helpers: "<zFunc>: <message>". */
void imgpca_result_error(sqlite3_context *ctx, const char *zFunc, const char *zFmt, ...);
/* Reports a core result code: IMGPCA_NOMEM -> sqlite3_result_error_nomem,
** IMGPCA_INTERRUPT -> SQLITE_INTERRUPT, IMGPCA_ERROR -> "<zFunc>: <err>". */
void imgpca_result_core(sqlite3_context *ctx, const char *zFunc, int rc, const char *err);
/* Returns the text of b (taking ownership of its memory), or NOMEM if an
** append to b failed; b is left empty. */
void imgpca_result_buf_text(sqlite3_context *ctx, ImgpcaBuf *b);
/* Returns a blob allocated with imgpca_malloc, taking ownership. */
void imgpca_result_owned_blob(sqlite3_context *ctx, void *p, size_t n);
/* Name of a value's type for messages: "integer", "real", "text", "blob", "null". */
const char *imgpca_type_name(sqlite3_value *v);

#endif
