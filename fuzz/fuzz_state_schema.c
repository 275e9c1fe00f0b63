/*
** Fuzz target: the state-database schema check of the pipeline
** (sql/stages/00-setup.sql, the statements from the ATTACH of the expected
** schema to the schema_guard insert, read from the file at start).  As the
** pipeline does with a second connection of the shell, the expected schema
** is sql/stages/01-schema.sql run once in the shared in-memory database the
** check attaches (a connection kept open here, so that it lives on).
**
** Input: a database image (sqlite3_deserialize), the imgpca extension
** loaded, PRAGMA trusted_schema OFF as in the pipeline.  Invariants: the
** check never crashes and never runs the database's own code -- a marker
** file that views, triggers or defaults of the image might write through
** s3_put never appears; when the check finds no problem, every object of
** sqlite_schema is byte for byte one of the expected ones (compared here in
** C, not with SQL collations or affinities).
*/
#include <sqlite3.h>
#include <unistd.h>

#include "fuzz.h"

int sqlite3_imgpca_init(sqlite3 *db, char **pzErrMsg, const void *pApi);

static char *zCheck;    /* the check's SQL, dot-commands removed */
static sqlite3 *dbWant; /* holds the memdb database the check attaches */

#define WANT_URI "file:/imgpca-schema-want?vfs=memdb"

static char *read_all(const char *zPath) {
  FILE *f = fopen(zPath, "rb");
  char line[8192];
  ImgpcaBuf b;
  if (!f) {
    fprintf(stderr, "fuzz_state_schema: run from the repository root (%s)\n", zPath);
    abort();
  }
  imgpca_buf_init(&b);
  while (fgets(line, sizeof line, f)) imgpca_buf_append(&b, line, strlen(line));
  fclose(f);
  imgpca_buf_append(&b, "", 1);
  if (b.oom) abort();
  return (char *)b.p;
}

static void load_check(void) {
  char *zSetup = read_all("sql/stages/00-setup.sql"), *zSchema = read_all("sql/stages/01-schema.sql");
  char *p = zSetup, *e;
  ImgpcaBuf b;
  int on = 0;
  if (sqlite3_open_v2(WANT_URI, &dbWant, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, NULL) !=
          SQLITE_OK ||
      sqlite3_exec(dbWant, zSchema, NULL, NULL, NULL) != SQLITE_OK)
    abort();
  imgpca_buf_init(&b);
  for (; *p; p = e) {
    e = strchr(p, '\n');
    e = e ? e + 1 : p + strlen(p);
    if (!on && strncmp(p, "ATTACH '" WANT_URI "'", 8 + strlen(WANT_URI) + 1) == 0) on = 1;
    if (!on || p[0] == '.') continue;
    imgpca_buf_append(&b, p, (size_t)(e - p));
    if (strncmp(p, "INSERT INTO schema_guard", 24) == 0) break;
  }
  imgpca_buf_append(&b, "", 1);
  if (b.oom || !on) abort();
  zCheck = (char *)b.p;
  imgpca_free(zSetup);
  imgpca_free(zSchema);
}

static int cb_count(void *p, int n, char **a, char **c) {
  (void)n;
  (void)a;
  (void)c;
  ++*(int *)p;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  unsigned char *img;
  int nProblem = -1, rc;
  if (!zCheck) {
    load_check();
    sqlite3_auto_extension((void (*)(void))sqlite3_imgpca_init);
    unlink("fuzz-state-marker");
  }
  if (size == 0 || size > (1 << 20)) return 0;
  if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, NULL) !=
      SQLITE_OK)
    abort();
  img = sqlite3_malloc64(size);
  if (!img) abort();
  memcpy(img, data, size);
  if (sqlite3_deserialize(db, "main", img, (sqlite3_int64)size, (sqlite3_int64)size,
                          SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_READONLY) != SQLITE_OK)
    goto done;
  sqlite3_exec(db, "PRAGMA trusted_schema = OFF", NULL, NULL, NULL);
  rc = sqlite3_exec(db, zCheck, NULL, NULL, NULL);
  if (access("fuzz-state-marker", F_OK) == 0) fuzz_fail("the database's schema ran code during the check");
  if (rc != SQLITE_OK) goto done; /* refused (CHECK constraint) or not a database */
  nProblem = 0;
  sqlite3_exec(db, "SELECT 1 FROM schema_problem", cb_count, &nProblem, NULL);
  if (nProblem != 0) fuzz_fail("the guard passed with %d problems", nProblem);
  /* accepted: every object must be exactly one of the expected ones */
  if (sqlite3_prepare_v2(db, "SELECT CAST(type AS BLOB), CAST(name AS BLOB), CAST(sql AS BLOB) FROM main.sqlite_schema",
                         -1, &st, NULL) != SQLITE_OK)
    goto done;
  while (sqlite3_step(st) == SQLITE_ROW) {
    sqlite3_stmt *w = NULL;
    int found = 0, i;
    if (sqlite3_prepare_v2(db, "SELECT CAST(type AS BLOB), CAST(name AS BLOB), CAST(sql AS BLOB) FROM schema_want",
                           -1, &w, NULL) != SQLITE_OK)
      abort();
    while (!found && sqlite3_step(w) == SQLITE_ROW) {
      found = 1;
      for (i = 0; i < 3; i++) {
        int n1 = sqlite3_column_bytes(st, i), n2 = sqlite3_column_bytes(w, i);
        if (sqlite3_column_type(st, i) == SQLITE_NULL || n1 != n2 ||
            memcmp(sqlite3_column_blob(st, i), sqlite3_column_blob(w, i), (size_t)n1) != 0)
          found = 0;
      }
    }
    sqlite3_finalize(w);
    if (!found) fuzz_fail("an object not of the pipeline's schema passed the check: %s", sqlite3_column_text(st, 1));
  }
  sqlite3_finalize(st);
done:
  sqlite3_close(db);
  return 0;
}
