/*
** knn_search: exact k-nearest-neighbour search, table-valued.
**
**   SELECT query_id, rank, ref_id, distance
**   FROM knn_search(queries, refs [, k [, metric]]);
**
**   queries  one vector (query_id is then NULL): a float32 BLOB, or a JSON
**            array text (text starting with '['); else the SQL text of a
**            query returning (id, vector) rows
**   refs     the SQL text of a query returning (id, vector) rows
**   k        neighbours per query, default 1 (NULL = 1)
**   metric   'l2' (default, Euclidean distance, = fvec_l2), 'cosine'
**            (1 - cosine similarity, = fvec_cosine) or 'dot' (the negative
**            inner product, so that the largest product comes first)
**
** Rows: per query, in the order the queries come, its min(k, #refs)
** nearest references, rank 1..k, nearest first, equal distances ordered
** by ref_id (SQLite's order of values: NULL, numbers, text, blobs).
** Distances are exact (double precision; see ext/knn/knn.c for how the
** float32 BLAS screen is kept exact).
**
** Both SQL texts run on the calling connection; each must be a single
** read-only statement.  Queries are read in blocks (thousands of vectors)
** and the refs statement runs once per block, its vectors streamed in
** blocks of KNN_REF_BLOCK: memory stays bounded by the block sizes plus
** the ids of the references.  A query block also ends once its ids hold
** KNN_QID_BYTES (long text or blob ids), so its size is bounded in bytes,
** not only in rows.
**
** Threads: the query tiles of a block are split over imgpca.threads
** threads (0, the default = the CPUs available to the process), each
** running BLAS on its own tiles.
**
** Vectors are float32 BLOBs or JSON array texts ('[1, 2.5]'), as
** everywhere in imgpca.
** Errors name knn_search and the row: a vector that is NULL, neither a
** float32 blob nor a JSON array, holds NaN or infinity, or whose dimension differs from the first
** query's; a zero vector with 'cosine'; an empty reference set; k not a
** positive integer; an unknown metric.  An empty query set gives no rows.
** SQLITE_DIRECTONLY: it runs SQL text given as an argument.
*/
#include "knn_sql.h"

#include <stdarg.h>
#include <stdio.h>

#include "../vector/vector.h"
#include "knn.h"

#define FN "knn_search"
#define KNN_REF_BLOCK 1024
#define KNN_QID_BYTES (16 << 20) /* bytes of query ids per block */

#define KC_QUERY_ID 0
#define KC_RANK 1
#define KC_REF_ID 2
#define KC_DISTANCE 3
#define KC_QUERIES 4
#define KC_REFS 5
#define KC_K 6
#define KC_METRIC 7

typedef struct KnnVtab {
  sqlite3_vtab base;
  sqlite3 *db;
  ImgpcaConn *conn;
  sqlite3_int64 nRowid; /* last rowid given out (see knn_rowid) */
} KnnVtab;

/* The ids of one pass over the references, by ordinal. */
typedef struct IdStore {
  size_t n, cap;
  unsigned char *aType; /* SQLITE_INTEGER, FLOAT, TEXT, BLOB, NULL */
  int64_t *aInt;        /* integer value, or offset into the arena */
  double *aReal;        /* real value, or byte length (text, blob) */
  ImgpcaBuf arena;
} IdStore;

typedef struct KnnCursor {
  sqlite3_vtab_cursor base;
  KnnVtab *pTab;
  sqlite3_stmt *stQ; /* queries statement, NULL for one blob query */
  sqlite3_stmt *stR; /* refs statement */
  KnnSearch *s;
  size_t d, k, qb;
  int metric;
  int bQueriesDone; /* no more query rows */
  sqlite3_int64 nQueryRows;
  /* the current block */
  float *qbuf;
  sqlite3_value **aQid; /* dup'd query ids */
  size_t nq;
  size_t nQidBytes; /* bytes of the ids of the block (+64 per id) */
  size_t iq, ih;    /* output position */
  const KnnHit *aHit;
  size_t nHit;
  IdStore ids;
  float *rbuf;
  int64_t *rkey;
  float *pJson;            /* the last vector read from JSON text (knn_vector) */
  sqlite3_value *apArg[4]; /* queries, refs, k, metric as given (read back) */
  sqlite3_int64 iRowid;
  int eof;
} KnnCursor;

/* ---- id store ---------------------------------------------------------- */

static void ids_reset(IdStore *s) {
  s->n = 0;
  s->arena.n = 0;
  s->arena.oom = 0;
}

static void ids_free(IdStore *s) {
  sqlite3_free(s->aType);
  sqlite3_free(s->aInt);
  sqlite3_free(s->aReal);
  imgpca_buf_free(&s->arena);
  memset(s, 0, sizeof(*s));
}

static int ids_add(IdStore *s, sqlite3_value *v) {
  size_t i;
  int t = sqlite3_value_type(v);
  if (s->n == s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 4096;
    unsigned char *a = sqlite3_realloc64(s->aType, cap);
    int64_t *b;
    double *c;
    if (!a) return SQLITE_NOMEM;
    s->aType = a;
    b = sqlite3_realloc64(s->aInt, cap * sizeof(int64_t));
    if (!b) return SQLITE_NOMEM;
    s->aInt = b;
    c = sqlite3_realloc64(s->aReal, cap * sizeof(double));
    if (!c) return SQLITE_NOMEM;
    s->aReal = c;
    s->cap = cap;
  }
  i = s->n;
  s->aType[i] = (unsigned char)t;
  s->aInt[i] = 0;
  s->aReal[i] = 0;
  if (t == SQLITE_INTEGER) {
    s->aInt[i] = sqlite3_value_int64(v);
  } else if (t == SQLITE_FLOAT) {
    s->aReal[i] = sqlite3_value_double(v);
  } else if (t == SQLITE_TEXT || t == SQLITE_BLOB) {
    const void *p = t == SQLITE_TEXT ? (const void *)sqlite3_value_text(v) : sqlite3_value_blob(v);
    int nb = sqlite3_value_bytes(v);
    if (!p && nb > 0) return SQLITE_NOMEM;
    s->aInt[i] = (int64_t)s->arena.n;
    s->aReal[i] = nb;
    if (nb > 0 && imgpca_buf_append(&s->arena, p, (size_t)nb) != IMGPCA_OK) return SQLITE_NOMEM;
  }
  s->n++;
  return SQLITE_OK;
}

static int type_rank(int t) {
  switch (t) {
    case SQLITE_NULL: return 0;
    case SQLITE_INTEGER:
    case SQLITE_FLOAT: return 1;
    case SQLITE_TEXT: return 2;
    default: return 3;
  }
}

/* SQLite's order of two ids (BINARY collation for text). */
static int ids_cmp(void *pCtx, int64_t a, int64_t b) {
  IdStore *s = (IdStore *)pCtx;
  int ta = s->aType[a], tb = s->aType[b], ra = type_rank(ta), rb = type_rank(tb);
  if (ra != rb) return ra < rb ? -1 : 1;
  if (ra == 0) return a < b ? -1 : a > b;
  if (ra == 1) {
    if (ta == SQLITE_INTEGER && tb == SQLITE_INTEGER) {
      if (s->aInt[a] != s->aInt[b]) return s->aInt[a] < s->aInt[b] ? -1 : 1;
    } else {
      double x = ta == SQLITE_INTEGER ? (double)s->aInt[a] : s->aReal[a];
      double y = tb == SQLITE_INTEGER ? (double)s->aInt[b] : s->aReal[b];
      if (x != y) return x < y ? -1 : 1;
    }
  } else {
    size_t na = (size_t)s->aReal[a], nb = (size_t)s->aReal[b];
    /* empty ids: the arena may still be NULL, and memcmp wants pointers */
    int c = na && nb ? memcmp(s->arena.p + s->aInt[a], s->arena.p + s->aInt[b], na < nb ? na : nb) : 0;
    if (c) return c;
    if (na != nb) return na < nb ? -1 : 1;
  }
  return a < b ? -1 : a > b; /* equal ids: the earlier row first */
}

static void ids_result(IdStore *s, sqlite3_context *ctx, int64_t i) {
  switch (s->aType[i]) {
    case SQLITE_INTEGER: sqlite3_result_int64(ctx, s->aInt[i]); break;
    case SQLITE_FLOAT: sqlite3_result_double(ctx, s->aReal[i]); break;
    case SQLITE_TEXT: /* an empty id is '' or x'', not NULL (the arena may be NULL) */
      sqlite3_result_text64(ctx, s->aReal[i] > 0 ? (const char *)s->arena.p + s->aInt[i] : "",
                            (sqlite3_uint64)s->aReal[i], SQLITE_TRANSIENT, SQLITE_UTF8);
      break;
    case SQLITE_BLOB:
      sqlite3_result_blob64(ctx, s->aReal[i] > 0 ? (const void *)(s->arena.p + s->aInt[i]) : "",
                            (sqlite3_uint64)s->aReal[i], SQLITE_TRANSIENT);
      break;
    default: sqlite3_result_null(ctx); break;
  }
}

/* ---- vtab -------------------------------------------------------------- */

static int knn_connect(sqlite3 *db, void *pAux, int argc, const char *const *argv, sqlite3_vtab **ppVtab,
                       char **pzErr) {
  KnnVtab *v;
  int rc;
  (void)argc;
  (void)argv;
  (void)pzErr;
  rc = sqlite3_declare_vtab(db,
                            "CREATE TABLE x(query_id, rank INTEGER, ref_id, distance REAL, "
                            "queries HIDDEN, refs HIDDEN, k HIDDEN, metric HIDDEN)");
  if (rc != SQLITE_OK) return rc;
  v = sqlite3_malloc(sizeof(*v));
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof(*v));
  v->db = db;
  v->conn = (ImgpcaConn *)pAux;
  sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  *ppVtab = &v->base;
  return SQLITE_OK;
}

static int knn_disconnect(sqlite3_vtab *v) {
  sqlite3_free(v);
  return SQLITE_OK;
}

static int knn_open_cursor(sqlite3_vtab *v, sqlite3_vtab_cursor **pp) {
  KnnCursor *c = sqlite3_malloc(sizeof(*c));
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof(*c));
  c->pTab = (KnnVtab *)v;
  c->eof = 1;
  *pp = &c->base;
  return SQLITE_OK;
}

static void knn_clear_block(KnnCursor *c) {
  size_t i;
  for (i = 0; i < c->nq; i++) sqlite3_value_free(c->aQid[i]);
  c->nq = 0;
  c->nQidBytes = 0;
}

static void knn_reset(KnnCursor *c) {
  int i;
  knn_clear_block(c);
  sqlite3_finalize(c->stQ);
  sqlite3_finalize(c->stR);
  c->stQ = c->stR = NULL;
  knn_close(c->s);
  c->s = NULL;
  sqlite3_free(c->qbuf);
  sqlite3_free(c->aQid);
  sqlite3_free(c->rbuf);
  sqlite3_free(c->rkey);
  imgpca_free(c->pJson);
  c->pJson = NULL;
  for (i = 0; i < 4; i++) {
    sqlite3_value_free(c->apArg[i]);
    c->apArg[i] = NULL;
  }
  c->qbuf = NULL;
  c->aQid = NULL;
  c->rbuf = NULL;
  c->rkey = NULL;
  ids_free(&c->ids);
  c->bQueriesDone = 0;
  c->nQueryRows = 0;
  c->iq = c->ih = c->nHit = 0;
  c->aHit = NULL;
  c->eof = 1;
}

static int knn_close_cursor(sqlite3_vtab_cursor *cur) {
  KnnCursor *c = (KnnCursor *)cur;
  knn_reset(c);
  sqlite3_free(c);
  return SQLITE_OK;
}

static int knn_err(KnnCursor *c, const char *zFmt, ...) {
  va_list ap;
  char *z;
  va_start(ap, zFmt);
  z = sqlite3_vmprintf(zFmt, ap);
  va_end(ap);
  sqlite3_free(c->pTab->base.zErrMsg);
  c->pTab->base.zErrMsg = z ? imgpca_printable_msg(sqlite3_mprintf("%s: %s", FN, z)) : NULL;
  sqlite3_free(z);
  return c->pTab->base.zErrMsg ? SQLITE_ERROR : SQLITE_NOMEM;
}

/* An id for messages: 'text' quoted, at most 80 characters. */
static char *id_text(sqlite3_value *v) {
  const char *z;
  if (!v || sqlite3_value_type(v) == SQLITE_NULL) return sqlite3_mprintf("NULL");
  if (sqlite3_value_type(v) == SQLITE_BLOB) return sqlite3_mprintf("(a blob of %d bytes)", sqlite3_value_bytes(v));
  z = (const char *)sqlite3_value_text(v);
  if (!z) return NULL;
  return sqlite3_mprintf("'%.80s%s'", z, strlen(z) > 80 ? "..." : "");
}

static int tail_empty(const char *z) {
  for (; z && *z; z++) {
    if (*z != ' ' && *z != '\t' && *z != '\n' && *z != '\r' && *z != ';') return 0;
  }
  return 1;
}

static int knn_prepare(KnnCursor *c, const char *zWhat, const char *zSql, sqlite3_stmt **pSt) {
  sqlite3 *db = c->pTab->db;
  const char *zTail = NULL;
  int rc = sqlite3_prepare_v2(db, zSql, -1, pSt, &zTail);
  if (rc == SQLITE_NOMEM) return rc;
  if (rc != SQLITE_OK) return knn_err(c, "cannot prepare the %s query: %s", zWhat, sqlite3_errmsg(db));
  if (!*pSt) return knn_err(c, "the %s query is empty", zWhat);
  if (!tail_empty(zTail)) return knn_err(c, "the %s query must be a single statement", zWhat);
  if (!sqlite3_stmt_readonly(*pSt)) return knn_err(c, "the %s query must be read-only", zWhat);
  if (sqlite3_column_count(*pSt) < 2)
    return knn_err(c, "the %s query must return two columns (id, vector), it returns %d", zWhat,
                   sqlite3_column_count(*pSt));
  return SQLITE_OK;
}

/* Checks a vector value; on success *pDim is its dimension.  zWhat is
** "query" or "reference", vId its id. */
static int knn_vector(KnnCursor *c, const char *zWhat, sqlite3_value *vId, sqlite3_value *v, size_t *pDim) {
  char err[IMGPCA_ERRMAX];
  char *zId;
  int rc;
  const char *zWhy = NULL;
  if (sqlite3_value_type(v) == SQLITE_BLOB) {
    const void *p = sqlite3_value_blob(v);
    int nb = sqlite3_value_bytes(v);
    if (!p && nb > 0) return SQLITE_NOMEM;
    if (fvec_check_blob(p, (size_t)nb, pDim, err) == IMGPCA_OK) {
      if (c->d == 0 || *pDim == c->d) return SQLITE_OK;
      zId = id_text(vId);
      if (!zId) return SQLITE_NOMEM;
      rc = knn_err(c, "%s %s has %lld dimensions, the queries have %lld", zWhat, zId, (long long)*pDim, (long long)c->d);
      sqlite3_free(zId);
      return rc;
    }
    zWhy = err;
  } else if (sqlite3_value_type(v) == SQLITE_TEXT) {
    const char *z = (const char *)sqlite3_value_text(v);
    if (!z) return SQLITE_NOMEM;
    imgpca_free(c->pJson);
    c->pJson = NULL;
    rc = fvec_parse_json(z, (size_t)sqlite3_value_bytes(v), &c->pJson, pDim, err);
    if (rc == IMGPCA_NOMEM) return SQLITE_NOMEM;
    if (rc == IMGPCA_OK) {
      if (c->d == 0 || *pDim == c->d) return SQLITE_OK;
      zId = id_text(vId);
      if (!zId) return SQLITE_NOMEM;
      rc = knn_err(c, "%s %s has %lld dimensions, the queries have %lld", zWhat, zId, (long long)*pDim, (long long)c->d);
      sqlite3_free(zId);
      return rc;
    }
    zWhy = err;
  }
  zId = id_text(vId);
  if (!zId) return SQLITE_NOMEM;
  if (zWhy)
    rc = knn_err(c, "%s %s: invalid vector: %s", zWhat, zId, zWhy);
  else if (sqlite3_value_type(v) == SQLITE_NULL)
    rc = knn_err(c, "%s %s has a NULL vector", zWhat, zId);
  else
    rc = knn_err(c, "%s %s: vector must be a float32 blob or a JSON array, got %s", zWhat, zId,
                 imgpca_type_name(v));
  sqlite3_free(zId);
  return rc;
}

/* Copies the vector knn_vector accepted into dst. */
static void knn_decode(KnnCursor *c, sqlite3_value *v, size_t dim, float *dst) {
  if (sqlite3_value_type(v) == SQLITE_BLOB)
    fvec_decode(sqlite3_value_blob(v), dim, dst);
  else
    memcpy(dst, c->pJson, dim * sizeof(float));
}

/* Text starting with '[' is a JSON vector (no SQL statement starts so). */
static int is_json_vector(sqlite3_value *v) {
  const unsigned char *z = sqlite3_value_type(v) == SQLITE_TEXT ? sqlite3_value_text(v) : NULL;
  while (z && (*z == ' ' || *z == '\t' || *z == '\n' || *z == '\r')) z++;
  return z && *z == '[';
}

static int knn_core_err(KnnCursor *c, int rc, const char *zWhat, sqlite3_value *vId, const char *err) {
  char *zId;
  if (rc == IMGPCA_NOMEM) return SQLITE_NOMEM;
  if (!vId) return knn_err(c, "%s", err);
  zId = id_text(vId);
  if (!zId) return SQLITE_NOMEM;
  rc = knn_err(c, "%s %s: %s", zWhat, zId, err);
  sqlite3_free(zId);
  return rc;
}

/* Threads for the screen: imgpca.threads, 0 = the CPUs available; one
** when SQLite is not thread-safe (the workers allocate through it). */
static int knn_thread_count(KnnCursor *c) {
  int n = (int)imgpca_config_int(&c->pTab->conn->cfg, "imgpca.threads");
  if (n <= 0) n = imgpca_cpus_available();
  if (!sqlite3_threadsafe()) n = 1;
  return n;
}

/* Makes the search once the dimension is known. */
static int knn_start(KnnCursor *c, size_t d) {
  char err[IMGPCA_ERRMAX];
  int rc;
  c->d = d;
  rc = knn_open(d, c->k, c->metric, ids_cmp, &c->ids, &c->s, err);
  if (rc) return knn_core_err(c, rc, NULL, NULL, err);
  knn_set_threads(c->s, knn_thread_count(c));
  c->qb = c->stQ ? knn_query_block(d, c->k) : 1;
  c->qbuf = sqlite3_malloc64((sqlite3_uint64)c->qb * d * sizeof(float));
  c->aQid = sqlite3_malloc64((sqlite3_uint64)c->qb * sizeof(sqlite3_value *));
  c->rbuf = sqlite3_malloc64((sqlite3_uint64)KNN_REF_BLOCK * d * sizeof(float));
  c->rkey = sqlite3_malloc64((sqlite3_uint64)KNN_REF_BLOCK * sizeof(int64_t));
  if (!c->qbuf || !c->aQid || !c->rbuf || !c->rkey) return SQLITE_NOMEM;
  return SQLITE_OK;
}

/* A core error about reference number i of the pass, named by its id. */
static int knn_ref_err(KnnCursor *c, int rc, int64_t i, const char *err) {
  IdStore *s = &c->ids;
  char *zId = NULL;
  if (rc == IMGPCA_NOMEM) return SQLITE_NOMEM;
  switch (s->aType[i]) {
    case SQLITE_INTEGER: zId = sqlite3_mprintf("'%lld'", (long long)s->aInt[i]); break;
    case SQLITE_FLOAT: zId = sqlite3_mprintf("'%!.15g'", s->aReal[i]); break;
    case SQLITE_TEXT:
      zId = sqlite3_mprintf("'%.*s%s'", s->aReal[i] > 80 ? 80 : (int)s->aReal[i],
                            (const char *)s->arena.p + s->aInt[i], s->aReal[i] > 80 ? "..." : "");
      break;
    case SQLITE_BLOB: zId = sqlite3_mprintf("(a blob of %d bytes)", (int)s->aReal[i]); break;
    default: zId = sqlite3_mprintf("NULL"); break;
  }
  if (!zId) return SQLITE_NOMEM;
  rc = knn_err(c, "reference %s: %s", zId, err);
  sqlite3_free(zId);
  return rc;
}

/* Runs the refs query once over the current query block. */
static int knn_pass(KnnCursor *c) {
  sqlite3 *db = c->pTab->db;
  char err[IMGPCA_ERRMAX];
  size_t nb = 0, iBad = 0;
  int rc;
  ids_reset(&c->ids);
  sqlite3_reset(c->stR);
  while ((rc = sqlite3_step(c->stR)) == SQLITE_ROW) {
    sqlite3_value *vId = sqlite3_column_value(c->stR, 0);
    sqlite3_value *vVec = sqlite3_column_value(c->stR, 1);
    size_t dim;
    rc = knn_vector(c, "reference", vId, vVec, &dim);
    if (rc) return rc;
    knn_decode(c, vVec, dim, c->rbuf + nb * c->d);
    c->rkey[nb] = (int64_t)c->ids.n;
    rc = ids_add(&c->ids, vId);
    if (rc) return rc;
    if (++nb == KNN_REF_BLOCK) {
      rc = knn_add_refs(c->s, c->rbuf, c->rkey, nb, &iBad, err);
      if (rc) return knn_ref_err(c, rc, (int64_t)(c->ids.n - nb + iBad), err);
      nb = 0;
    }
  }
  if (rc != SQLITE_DONE) {
    if (rc == SQLITE_NOMEM) return rc;
    return knn_err(c, "the refs query failed: %s", sqlite3_errmsg(db));
  }
  if (c->ids.arena.oom) return SQLITE_NOMEM;
  if (c->ids.n == 0) return knn_err(c, "the reference set is empty (the refs query returned no rows)");
  if (nb) {
    rc = knn_add_refs(c->s, c->rbuf, c->rkey, nb, &iBad, err);
    if (rc) return knn_ref_err(c, rc, (int64_t)(c->ids.n - nb + iBad), err);
  }
  sqlite3_reset(c->stR);
  knn_finish(c->s);
  return SQLITE_OK;
}

/* Reads the next block of queries (from stQ) and runs a pass; sets eof when
** there are no more queries. */
static int knn_next_block(KnnCursor *c) {
  char err[IMGPCA_ERRMAX];
  size_t iBad = 0;
  int rc;
  knn_clear_block(c);
  c->iq = c->ih = 0;
  c->nHit = 0;
  if (c->bQueriesDone) {
    c->eof = 1;
    return SQLITE_OK;
  }
  while ((c->nq < c->qb && c->nQidBytes < KNN_QID_BYTES) || c->s == NULL) {
    sqlite3_value *vId, *vVec;
    size_t dim;
    rc = sqlite3_step(c->stQ);
    if (rc == SQLITE_DONE) {
      c->bQueriesDone = 1;
      break;
    }
    if (rc != SQLITE_ROW) {
      if (rc == SQLITE_NOMEM) return rc;
      return knn_err(c, "the queries query failed: %s", sqlite3_errmsg(c->pTab->db));
    }
    c->nQueryRows++;
    vId = sqlite3_column_value(c->stQ, 0);
    vVec = sqlite3_column_value(c->stQ, 1);
    rc = knn_vector(c, "query", vId, vVec, &dim);
    if (rc) return rc;
    if (!c->s) {
      rc = knn_start(c, dim);
      if (rc) return rc;
    }
    knn_decode(c, vVec, dim, c->qbuf + c->nq * c->d);
    c->aQid[c->nq] = sqlite3_value_dup(vId);
    if (!c->aQid[c->nq]) return SQLITE_NOMEM;
    c->nQidBytes += (size_t)sqlite3_value_bytes(vId) + 64;
    c->nq++;
  }
  if (c->nq == 0) {
    c->eof = 1;
    return SQLITE_OK;
  }
  rc = knn_set_queries(c->s, c->qbuf, c->nq, &iBad, err);
  if (rc) return knn_core_err(c, rc, "query", c->aQid[iBad], err);
  rc = knn_pass(c);
  if (rc) return rc;
  c->aHit = knn_hits(c->s, 0, &c->nHit);
  c->eof = 0;
  return SQLITE_OK;
}

static int knn_filter(sqlite3_vtab_cursor *cur, int idxNum, const char *idxStr, int argc, sqlite3_value **argv) {
  KnnCursor *c = (KnnCursor *)cur;
  sqlite3_value *vQ = NULL, *vR = NULL, *vK = NULL, *vM = NULL;
  int i = 0, rc;
  (void)idxStr;
  c->iRowid = ++c->pTab->nRowid;
  knn_reset(c);
  if (idxNum & 1) vQ = argv[i++];
  if (idxNum & 2) vR = argv[i++];
  if (idxNum & 4) vK = argv[i++];
  if (idxNum & 8) vM = argv[i++];
  (void)argc;
  /* the arguments read back as given: another constraint on a hidden
  ** column (one SQLite does not hand over) is checked against them */
  {
    sqlite3_value *av[4];
    int j;
    av[0] = vQ;
    av[1] = vR;
    av[2] = vK;
    av[3] = vM;
    for (j = 0; j < 4; j++)
      if (av[j] && !(c->apArg[j] = sqlite3_value_dup(av[j]))) return SQLITE_NOMEM;
  }
  if (!vQ || !vR) return knn_err(c, "missing argument: use knn_search(queries, refs [, k [, metric]])");
  c->k = 1;
  if (vK && sqlite3_value_type(vK) != SQLITE_NULL) {
    sqlite3_int64 k = sqlite3_value_int64(vK);
    int t = sqlite3_value_type(vK);
    if ((t != SQLITE_INTEGER && !(t == SQLITE_FLOAT && sqlite3_value_double(vK) == (double)k)) || k <= 0 ||
        k > 2147483647) {
      const char *z = (const char *)sqlite3_value_text(vK);
      return knn_err(c, "k must be a positive integer, got '%s'", z ? z : "");
    }
    c->k = (size_t)k;
  }
  c->metric = KNN_L2;
  if (vM && sqlite3_value_type(vM) != SQLITE_NULL) {
    const char *z = (const char *)sqlite3_value_text(vM);
    if (!z) return SQLITE_NOMEM;
    c->metric = sqlite3_value_type(vM) == SQLITE_TEXT ? knn_metric_from_name(z) : -1;
    if (c->metric < 0) return knn_err(c, "unknown metric '%s' (expected 'l2', 'cosine' or 'dot')", z);
  }
  if (sqlite3_value_type(vR) != SQLITE_TEXT)
    return knn_err(c, "refs must be the text of a query returning (id, vector), got %s", imgpca_type_name(vR));
  rc = knn_prepare(c, "refs", (const char *)sqlite3_value_text(vR), &c->stR);
  if (rc) return rc;
  if (sqlite3_value_type(vQ) == SQLITE_BLOB || is_json_vector(vQ)) {
    size_t dim;
    char err[IMGPCA_ERRMAX];
    rc = knn_vector(c, "query", NULL, vQ, &dim);
    if (rc) return rc;
    rc = knn_start(c, dim);
    if (rc) return rc;
    knn_decode(c, vQ, dim, c->qbuf);
    c->bQueriesDone = 1;
    rc = knn_set_queries(c->s, c->qbuf, 1, NULL, err);
    if (rc) return knn_core_err(c, rc, "query", NULL, err);
    rc = knn_pass(c);
    if (rc) return rc;
    c->aHit = knn_hits(c->s, 0, &c->nHit);
    c->nq = 0; /* no ids to free; the single query is row 0 of the search */
    c->eof = 0;
    return SQLITE_OK;
  }
  if (sqlite3_value_type(vQ) != SQLITE_TEXT)
    return knn_err(c, "queries must be a float32 vector blob or the text of a query returning (id, vector), got %s",
                   imgpca_type_name(vQ));
  rc = knn_prepare(c, "queries", (const char *)sqlite3_value_text(vQ), &c->stQ);
  if (rc) return rc;
  return knn_next_block(c);
}

static int knn_next(sqlite3_vtab_cursor *cur) {
  KnnCursor *c = (KnnCursor *)cur;
  size_t nqBlock = c->stQ ? c->nq : 1;
  c->iRowid = ++c->pTab->nRowid;
  if (++c->ih < c->nHit) return SQLITE_OK;
  c->ih = 0;
  while (++c->iq < nqBlock) {
    c->aHit = knn_hits(c->s, c->iq, &c->nHit);
    if (c->nHit) return SQLITE_OK;
  }
  if (!c->stQ) {
    c->eof = 1;
    return SQLITE_OK;
  }
  return knn_next_block(c);
}

static int knn_eof(sqlite3_vtab_cursor *cur) { return ((KnnCursor *)cur)->eof; }

static int knn_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
  KnnCursor *c = (KnnCursor *)cur;
  switch (col) {
    case KC_QUERY_ID:
      if (c->stQ && c->iq < c->nq) sqlite3_result_value(ctx, c->aQid[c->iq]);
      break;
    case KC_RANK: sqlite3_result_int64(ctx, (sqlite3_int64)c->ih + 1); break;
    case KC_REF_ID: ids_result(&c->ids, ctx, c->aHit[c->ih].key); break;
    case KC_DISTANCE: sqlite3_result_double(ctx, c->aHit[c->ih].dist); break;
    case KC_QUERIES:
    case KC_REFS:
    case KC_K:
    case KC_METRIC:
      if (c->apArg[col - KC_QUERIES])
        sqlite3_result_value(ctx, c->apArg[col - KC_QUERIES]);
      else if (col == KC_K)
        sqlite3_result_int64(ctx, (sqlite3_int64)c->k);
      else if (col == KC_METRIC)
        sqlite3_result_text(ctx, knn_metric_name(c->metric), -1, SQLITE_STATIC);
      break;
    default: break;
  }
  return SQLITE_OK;
}

/* Rowids are unique across the cursors of the table (a counter of the
** connection's instance), not only within one xFilter: SQLite's OR plans
** (MULTI-INDEX OR) open a cursor per branch and merge them by rowid. */
static int knn_rowid(sqlite3_vtab_cursor *cur, sqlite_int64 *pRowid) {
  *pRowid = ((KnnCursor *)cur)->iRowid;
  return SQLITE_OK;
}

/* Like series.c: the hidden columns are the arguments; an unusable
** equality constraint on one of them makes this plan impossible. */
static int knn_best_index(sqlite3_vtab *v, sqlite3_index_info *info) {
  int aIdx[4] = {-1, -1, -1, -1};
  int i, n = 0, mask = 0;
  (void)v;
  for (i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *p = &info->aConstraint[i];
    int j;
    if (p->iColumn < KC_QUERIES) continue;
    if (p->op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
    j = p->iColumn - KC_QUERIES;
    if (!p->usable) return SQLITE_CONSTRAINT;
    aIdx[j] = i;
  }
  for (i = 0; i < 4; i++) {
    if (aIdx[i] < 0) continue;
    info->aConstraintUsage[aIdx[i]].argvIndex = ++n;
    info->aConstraintUsage[aIdx[i]].omit = 1;
    mask |= 1 << i;
  }
  info->idxNum = mask;
  if ((mask & 3) == 3) {
    info->estimatedCost = 1e6;
    info->estimatedRows = 1000;
  } else {
    info->estimatedCost = 1e15;
    info->estimatedRows = 1;
  }
  return SQLITE_OK;
}

static const sqlite3_module knn_search_module = {
    0, /* iVersion */
    0, /* xCreate: eponymous only */
    knn_connect, knn_best_index, knn_disconnect, 0, knn_open_cursor, knn_close_cursor, knn_filter, knn_next,
    knn_eof, knn_column, knn_rowid, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

/* ---- what the module adds to SQLite (ext/imgpca.c registers it) ---- */

static const ImgpcaSqlTable aTable[] = {
    {"knn_search", &knn_search_module},
    {0}};

static const ImgpcaSqlDoc aDoc[] = {
    {"`knn_search(queries, refs [, k [, metric]])`",
     "table",
     "`query_id, rank, ref_id, distance`: exact k nearest (default 1) references per query, in the queries' order, rank 1..k, equal distances by `ref_id`; `queries` one vector (`query_id` NULL; a BLOB, or JSON text starting with `[`) or SQL text returning `(id, vector)`, `refs` SQL text returning `(id, vector)`, both run on this connection; `metric` `'l2'` (default, = `fvec_l2`), `'cosine'` (= `fvec_cosine`) or `'dot'` (negative inner product); float32 BLAS screen + double-precision re-ranking, memory bounded by blocks; DIRECTONLY ([docs/KNN.md](docs/KNN.md))"},
    {0}};

const ImgpcaModule imgpca_module_knn = {.zName = "knn", .aTable = aTable, .aDoc = aDoc};
