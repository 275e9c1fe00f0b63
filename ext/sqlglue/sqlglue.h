/*
** Shared SQL glue (never installed): what every *_sql.c file needs and no
** glue file owns.  Glue files include this header and the core headers of
** their own concern, never another glue file's header.
**
** It brings in <sqlite3ext.h> with SQLITE_EXTENSION_INIT3, so that all SQLite
** calls go through the routine table captured by the entry point (ext/imgpca.c,
** the only file with SQLITE_EXTENSION_INIT1/2), and declares:
**   - ImgpcaConn, the per-connection state behind every function and module;
**   - the result helpers ("<function>: <message>" errors, owned text/blobs);
**   - imgpca_conn_storage, the connection's storage (local files and S3);
**   - fvec_arg / fvec_result, vector arguments (float32 BLOB or JSON array)
**     and results, shared by the vector, PCA and k-NN functions.
** Implemented in sqlglue.c.
*/
#ifndef IMGPCA_SQLGLUE_H
#define IMGPCA_SQLGLUE_H

#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3

#include "../common/common.h"
#include "../config/config.h"
#include "../storage/storage.h"
#include "../vector/vector.h"

/* Per-connection state, shared (reference counted) by every function and
** module registered on one connection. */
typedef struct ImgpcaConn {
  int nRef;
  sqlite3 *db;
  ImgpcaConfig cfg;
  ImgpcaStorage *pStorage; /* local files and S3 (ext/storage), created at first use, or NULL */
  void *pPcaModel;         /* last model parsed by the pca model functions (ext/pca), or NULL */
  void (*xPcaModelFree)(void *);
  void *pCnnCache; /* image models loaded by cnn: specs (ext/cnn/cnn_sql.c), or NULL */
  void (*xCnnCacheFree)(void *);
  int nReadOnly;        /* > 0 while csv_export runs its query: side effects refused */
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

/* 1 if a text or blob value holds a NUL byte (C strings would stop there:
** a URL or path must not be cut short silently). */
int imgpca_value_has_nul(sqlite3_value *v);
/* A copy of an error message (sqlite3_malloc) with control characters
** escaped (imgpca_printable_append without doubling backslashes): messages
** name keys and paths, which must not drive the terminal showing them.
** Frees z; NULL when out of memory. */
char *imgpca_printable_msg(char *z);
/* 1 if JSON text holds the escape \u0000 in a string (SQLite 3.40's
** json_each cuts the decoded string there, so it cannot be seen later). */
int imgpca_json_has_nul(const char *z);

/* The connection's storage, created at first use (err: a message on failure). */
int imgpca_conn_storage(ImgpcaConn *conn, ImgpcaStorage **pp, char *err);

/* Loads the models of the cnn: items of a parsed feature spec through the
** connection's model cache (implemented by ext/cnn/cnn_sql.c): each model
** is read through the storage layer once per connection and version (S3
** ETag, local mtime/size/inode), and shared by every thread.  The spec holds
** one reference per model: img_spec_release() when done with it. */
struct ImgSpec;
int imgpca_conn_spec_models(ImgpcaConn *conn, struct ImgSpec *s, char *err);

/* A vector argument: a float32 BLOB or a JSON array of numbers. */
typedef struct FvecArg {
  float *v;   /* host floats (owned, imgpca_free) */
  size_t n;   /* dimension */
  int isNull; /* the argument was SQL NULL */
} FvecArg;
/* Parses v; on error sets "<zFunc>: invalid vector <zWhat>: ..." and returns 1. */
int fvec_arg(sqlite3_context *ctx, const char *zFunc, const char *zWhat, sqlite3_value *v,
             FvecArg *out);
void fvec_arg_free(FvecArg *a);
/* Returns v[0..n) as a float32 BLOB. */
void fvec_result(sqlite3_context *ctx, const float *v, size_t n);

/* ---- JSON options objects (csv_export, pca_*) ---- */
/* Sets one key of an options object: zType is json_each's type ('true',
** 'false', 'integer', 'real', 'text', 'array', 'object', 'null'), pValue its
** value (text for arrays and objects), zText its atom as text (NULL for
** arrays and objects).  Returns IMGPCA_OK, IMGPCA_NOMEM, or IMGPCA_ERROR
** with err set ("option 'x' must be ..."). */
typedef int (*ImgpcaOptionFn)(void *pArg, sqlite3 *db, const char *zKey, const char *zType,
                              const char *zText, sqlite3_value *pValue, char *err);
typedef struct ImgpcaOption {
  const char *zKey; /* NULL ends the table; "*" takes every key not listed before it */
  ImgpcaOptionFn xSet;
} ImgpcaOption;
/* Parses v, NULL (no options) or the text of a JSON object, with SQLite's
** JSON functions, and calls the setter of each key from the table aOpt.
** Errors, reported on ctx as "<zFunc>: ...": not a JSON object, an unknown
** key ("unknown option 'k' (expected a, b, c)"), a setter's message.
** Returns 0, or 1 when an error (or out-of-memory) was reported. */
int imgpca_json_options(sqlite3_context *ctx, const char *zFunc, sqlite3_value *v, const ImgpcaOption *aOpt,
                        void *pArg);

#endif
