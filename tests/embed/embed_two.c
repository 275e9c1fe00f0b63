/*
** Embedding test (make test-embed): dist/libimgpca.a linked into one program
** next to another extension object that uses SQLITE_EXTENSION_INIT1
** (tests/embed/other_ext.c, which defines the global sqlite3_api).
**   1. registered with sqlite3_auto_extension() (both extensions);
**   2. called directly as sqlite3_imgpca_init(db, &err, NULL) on a
**      connection opened without the auto extension.
** Each connection must answer imgpca's functions (and the other one's where
** registered).  Exits non-zero on any failure.
*/
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "imgpca.h"

int sqlite3_other_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi);

static int fails = 0;

static void expect(sqlite3 *db, const char *zSql, const char *zWant) {
  sqlite3_stmt *st = NULL;
  const char *zGot = NULL;
  int rc = sqlite3_prepare_v2(db, zSql, -1, &st, NULL);
  if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) zGot = (const char *)sqlite3_column_text(st, 0);
  if (!zGot || strcmp(zGot, zWant) != 0) {
    fprintf(stderr, "FAIL %s: got '%s' (%s), expected '%s'\n", zSql, zGot ? zGot : "(none)",
            sqlite3_errmsg(db), zWant);
    fails++;
  }
  sqlite3_finalize(st);
}

static const char *zVec = "SELECT fvec_to_json(fvec_add(fvec(1, 2), '[0.5, 0.25]'))";
static const char *zPca =
    "SELECT json_extract(pca_info(pca_fit(v, 1)), '$.k') FROM "
    "(SELECT fvec(1, 2) AS v UNION ALL SELECT fvec(2, 4) UNION ALL SELECT fvec(3, 7))";

int main(void) {
  sqlite3 *db = NULL;
  char *zErr = NULL;
  int rc;

  /* 1. both through sqlite3_auto_extension */
  sqlite3_auto_extension((void (*)(void))sqlite3_imgpca_init);
  sqlite3_auto_extension((void (*)(void))sqlite3_other_init);
  if (sqlite3_open(":memory:", &db) != SQLITE_OK) return 2;
  expect(db, "SELECT imgpca_version()", IMGPCA_VERSION);
  expect(db, zVec, "[1.5,2.25]");
  expect(db, zPca, "1");
  expect(db, "SELECT other_hello()", "hello from other");
  sqlite3_close(db);

  /* 2. a direct call with pApi NULL, the other extension still automatic */
  sqlite3_reset_auto_extension();
  sqlite3_auto_extension((void (*)(void))sqlite3_other_init);
  if (sqlite3_open(":memory:", &db) != SQLITE_OK) return 2;
  rc = sqlite3_imgpca_init(db, &zErr, NULL);
  if (rc != SQLITE_OK) {
    fprintf(stderr, "FAIL sqlite3_imgpca_init(db, &err, NULL) = %d: %s\n", rc, zErr ? zErr : "");
    fails++;
  }
  sqlite3_free(zErr);
  expect(db, "SELECT imgpca_version()", IMGPCA_VERSION);
  expect(db, zVec, "[1.5,2.25]");
  expect(db, "SELECT other_hello()", "hello from other");
  sqlite3_close(db);

  /* 3. a direct call on a connection with nothing else */
  sqlite3_reset_auto_extension();
  if (sqlite3_open(":memory:", &db) != SQLITE_OK) return 2;
  rc = sqlite3_imgpca_init(db, NULL, NULL);
  if (rc != SQLITE_OK) {
    fprintf(stderr, "FAIL direct init (3) = %d\n", rc);
    fails++;
  }
  expect(db, zPca, "1");
  expect(db, "SELECT count(*) FROM pragma_function_list WHERE name = 'other_hello'", "0");
  sqlite3_close(db);

  if (fails) return 1;
  printf("ok   embed: libimgpca.a + an SQLITE_EXTENSION_INIT1 extension; auto extension and direct init (pApi NULL)\n");
  return 0;
}
