/*
** Shared SQL glue (never installed): what every *_sql.c file needs and no
** glue file owns.  Glue files include this header and the core headers of
** their own concern, never another glue file's header.
**
** It brings in <sqlite3ext.h> with SQLITE_EXTENSION_INIT3, so that all SQLite
** calls go through the routine table captured by the entry point (ext/imgpca.c,
** the only file with SQLITE_EXTENSION_INIT1/2), and declares:
**   - ImgpcaModule, the descriptor by which each module states its SQL
**     functions, tables, settings, reference rows and per-connection state;
**   - ImgpcaConn, the per-connection state behind every function and table,
**     with one opaque slot per module (imgpca_conn_state);
**   - the result helpers ("<function>: <message>" errors, owned text/blobs),
**     the read-only guard of csv_export, interrupt polling and the parser of
**     JSON options objects.
** It knows no module: what a module offers the glue of others (the
** connection's storage, vector arguments, the model cache) is declared in
** that module's *_sql.h.  Implemented in sqlglue.c.
*/
#ifndef IMGPCA_SQLGLUE_H
#define IMGPCA_SQLGLUE_H

#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3

#include "../common/common.h"
#include "../config/config.h"

/* ---- module descriptors ---- */

/* Flags of a SQL function (SQLITE_UTF8 is added at registration):
** pure functions are deterministic and innocuous; a function that reads a
** setting (image.max_pixels, pca.max_memory_mb) is only innocuous (its result
** changes with the setting: never in an index or a generated column); a
** function or table with a side effect (network, files, settings) is
** DIRECTONLY, out of reach of the views and triggers of an untrusted schema. */
#define IMGPCA_PURE (SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS)
#define IMGPCA_READS_SETTING SQLITE_INNOCUOUS
#define IMGPCA_SIDE_EFFECT SQLITE_DIRECTONLY

/* One SQL function and number of arguments (-1: any); scalar (xFunc) or
** aggregate (xStep, xFinal).  Its user data is the ImgpcaConn. */
typedef struct ImgpcaSqlFunc {
  const char *zName; /* NULL ends a table */
  int nArg;
  int flags; /* IMGPCA_PURE, IMGPCA_READS_SETTING or IMGPCA_SIDE_EFFECT */
  void (*xFunc)(sqlite3_context *, int, sqlite3_value **);
  void (*xStep)(sqlite3_context *, int, sqlite3_value **);
  void (*xFinal)(sqlite3_context *);
} ImgpcaSqlFunc;

/* One table-valued function (eponymous virtual table); its client data is
** the ImgpcaConn. */
typedef struct ImgpcaSqlTable {
  const char *zName; /* NULL ends a table */
  const sqlite3_module *pModule;
} ImgpcaSqlTable;

/* One row of the README's SQL reference (markdown cells): the signatures of
** one or more of the module's functions or tables ("`fvec_l2(a, b)`,
** `fvec_dot(a, b)`"), what they return, and notes. */
typedef struct ImgpcaSqlDoc {
  const char *zSig; /* NULL ends a table */
  const char *zReturns;
  const char *zNotes;
} ImgpcaSqlDoc;

/* Everything one module adds to SQLite: ext/imgpca.c registers the modules
** of its list, and the reference tables of the docs and
** tests/api-surface.expected are printed from the same descriptors
** (scripts/reference.c).  Adding a function or a setting is a change to its
** module alone. */
typedef struct ImgpcaModule {
  const char *zName;               /* the folder under ext/ */
  const ImgpcaSqlFunc *aFunc;      /* or NULL */
  const ImgpcaSqlTable *aTable;    /* or NULL */
  const ImgpcaSetting *aSetting;   /* settings read by the module, or NULL */
  const ImgpcaSqlDoc *aDoc;        /* its rows of the SQL reference, or NULL */
  int (*xLoad)(char **pzErrMsg);   /* process-wide set-up at every load (SQLite error code), or NULL */
  void (*xConnFree)(void *pState); /* frees the module's per-connection state, or NULL */
} ImgpcaModule;

/* The modules of the extension, in registration order, NULL-terminated
** (ext/imgpca.c). */
const ImgpcaModule *const *imgpca_modules(void);

/* Per-connection state, shared (reference counted) by every function and
** table registered on one connection. */
typedef struct ImgpcaConn {
  int nRef;
  sqlite3 *db;
  ImgpcaConfig cfg;     /* the settings of every module */
  void **apState;       /* one opaque slot per module of imgpca_modules() */
  int nReadOnly;        /* > 0 while csv_export runs its query: side effects refused */
  const char *zRefused; /* the side-effect function refused meanwhile, or NULL */
} ImgpcaConn;

/* The slot of module m's per-connection state: NULL until the module
** stores something there (created at first use), freed by m->xConnFree
** when the connection closes. */
void **imgpca_conn_state(ImgpcaConn *conn, const ImgpcaModule *m);

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
