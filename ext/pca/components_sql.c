/*
** The pca_components table-valued function (part of the pca module,
** registered by the descriptor in pca_sql.c):
**
**   SELECT * FROM pca_components(model)
**     -> one row per component: idx (1-based), eigenvalue, ratio (explained
**        variance ratio), cumulative, component (float32 vector); the hidden
**        column model is the argument.  NULL model -> no rows; a BLOB that is
**        not a model -> "pca_components: invalid model: ...".
*/
#include "pca_sql.h"

#include <string.h>

#include "../vector/vector.h"

/* ---- pca_components(model): table-valued ----------------------------- */

#define PCC_IDX 0
#define PCC_EIG 1
#define PCC_RATIO 2
#define PCC_CUM 3
#define PCC_COMP 4
#define PCC_MODEL 5

typedef struct PccCursor {
  sqlite3_vtab_cursor base;
  PcaModel m;
  int loaded;
  size_t i;
  double cum;
  sqlite3_int64 iRowid;
  sqlite3_value *pModel; /* the argument, read back by the model column */
} PccCursor;

/* Rowids are unique across the cursors of the table (a counter of the
** connection's instance): SQLite's OR plans (MULTI-INDEX OR) open a cursor
** per branch and merge them by rowid. */
typedef struct PccVtab {
  sqlite3_vtab base;
  sqlite3_int64 nRowid;
} PccVtab;

static int pcc_connect(sqlite3 *db, void *pAux, int argc, const char *const *argv, sqlite3_vtab **ppVtab,
                       char **pzErr) {
  PccVtab *v;
  int rc;
  (void)pAux;
  (void)argc;
  (void)argv;
  (void)pzErr;
  rc = sqlite3_declare_vtab(db,
                            "CREATE TABLE x(idx INTEGER, eigenvalue REAL, ratio REAL, cumulative REAL, "
                            "component BLOB, model HIDDEN)");
  if (rc != SQLITE_OK) return rc;
  v = sqlite3_malloc(sizeof(*v));
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof(*v));
  sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
  *ppVtab = &v->base;
  return SQLITE_OK;
}

static int pcc_disconnect(sqlite3_vtab *v) {
  sqlite3_free(v);
  return SQLITE_OK;
}

static int pcc_open(sqlite3_vtab *v, sqlite3_vtab_cursor **pp) {
  PccCursor *c = sqlite3_malloc(sizeof(*c));
  (void)v;
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof(*c));
  *pp = &c->base;
  return SQLITE_OK;
}

static int pcc_close(sqlite3_vtab_cursor *cur) {
  PccCursor *c = (PccCursor *)cur;
  pca_model_free(&c->m);
  sqlite3_value_free(c->pModel);
  sqlite3_free(c);
  return SQLITE_OK;
}

static int pcc_filter(sqlite3_vtab_cursor *cur, int idxNum, const char *idxStr, int argc, sqlite3_value **argv) {
  PccCursor *c = (PccCursor *)cur;
  char err[IMGPCA_ERRMAX];
  int rc;
  (void)idxStr;
  pca_model_free(&c->m);
  c->loaded = 0;
  c->i = 0;
  c->cum = 0;
  c->iRowid = ++((PccVtab *)cur->pVtab)->nRowid;
  if (idxNum == 0 || argc < 1) {
    sqlite3_free(cur->pVtab->zErrMsg);
    cur->pVtab->zErrMsg = sqlite3_mprintf("pca_components: missing argument: use pca_components(model)");
    return SQLITE_ERROR;
  }
  /* read back as given: another constraint on the model column (one SQLite
  ** does not hand over) is checked against it, not against NULL */
  sqlite3_value_free(c->pModel);
  c->pModel = sqlite3_value_dup(argv[0]);
  if (!c->pModel) return SQLITE_NOMEM;
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return SQLITE_OK;
  if (sqlite3_value_type(argv[0]) != SQLITE_BLOB) {
    sqlite3_free(cur->pVtab->zErrMsg);
    cur->pVtab->zErrMsg = sqlite3_mprintf("pca_components: model must be a pca model blob (from pca_fit), got %s",
                                          imgpca_type_name(argv[0]));
    return SQLITE_ERROR;
  }
  rc = pca_model_load(sqlite3_value_blob(argv[0]), (size_t)sqlite3_value_bytes(argv[0]), &c->m, err);
  if (rc == IMGPCA_NOMEM) return SQLITE_NOMEM;
  if (rc) {
    sqlite3_free(cur->pVtab->zErrMsg);
    cur->pVtab->zErrMsg = sqlite3_mprintf("pca_components: invalid model: %s", err);
    return SQLITE_ERROR;
  }
  c->loaded = 1;
  c->cum = c->m.k ? c->m.eig[0] : 0;
  return SQLITE_OK;
}

static int pcc_next(sqlite3_vtab_cursor *cur) {
  PccCursor *c = (PccCursor *)cur;
  c->i++;
  c->iRowid = ++((PccVtab *)cur->pVtab)->nRowid;
  if (c->loaded && c->i < c->m.k) c->cum += c->m.eig[c->i];
  return SQLITE_OK;
}

static int pcc_eof(sqlite3_vtab_cursor *cur) {
  PccCursor *c = (PccCursor *)cur;
  return !c->loaded || c->i >= c->m.k;
}

static int pcc_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
  PccCursor *c = (PccCursor *)cur;
  double tv = c->m.total_var > 0 ? c->m.total_var : 1;
  switch (col) {
    case PCC_IDX: sqlite3_result_int64(ctx, (sqlite3_int64)c->i + 1); break;
    case PCC_EIG: sqlite3_result_double(ctx, c->m.eig[c->i]); break;
    case PCC_RATIO: sqlite3_result_double(ctx, c->m.eig[c->i] / tv); break;
    case PCC_CUM: sqlite3_result_double(ctx, c->cum / tv); break;
    case PCC_COMP: {
      unsigned char *p = fvec_blob_from_double(c->m.comp + c->i * c->m.d, c->m.d);
      if (!p) return SQLITE_NOMEM;
      imgpca_result_owned_blob(ctx, p, c->m.d * 4);
      break;
    }
    case PCC_MODEL:
      if (c->pModel) sqlite3_result_value(ctx, c->pModel);
      break;
    default: sqlite3_result_null(ctx); break;
  }
  return SQLITE_OK;
}

static int pcc_rowid(sqlite3_vtab_cursor *cur, sqlite_int64 *pRowid) {
  *pRowid = ((PccCursor *)cur)->iRowid;
  return SQLITE_OK;
}

static int pcc_best_index(sqlite3_vtab *v, sqlite3_index_info *info) {
  int i, found = -1, unusable = 0;
  (void)v;
  for (i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *p = &info->aConstraint[i];
    if (p->iColumn != PCC_MODEL) continue;
    if (p->op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
    if (!p->usable) {
      unusable = 1;
      continue;
    }
    found = i;
  }
  if (found >= 0) {
    info->aConstraintUsage[found].argvIndex = 1;
    info->aConstraintUsage[found].omit = 1;
    info->idxNum = 1;
    info->estimatedCost = 10;
    info->estimatedRows = 50;
    return SQLITE_OK;
  }
  if (unusable) return SQLITE_CONSTRAINT;
  info->idxNum = 0;
  info->estimatedCost = 1e12;
  return SQLITE_OK;
}

const sqlite3_module pca_components_module = {
    0, /* iVersion */
    0, /* xCreate: eponymous only */
    pcc_connect, pcc_best_index, pcc_disconnect, 0, pcc_open, pcc_close, pcc_filter, pcc_next, pcc_eof,
    pcc_column, pcc_rowid, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
