/* Regression tests of the third hardening review (docs/RELIABILITY.md,
** "Hardening review, round 3") that need a whole connection rather than a
** core: memory bounds measured with SQLite's allocator statistics (every
** allocation of the extension goes through sqlite3_malloc64). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <sqlite3.h>

#include "config/config.h"
#include "imgpca.h"
#include "unit.h"

static sqlite3 *open_db(void) {
  sqlite3 *db = NULL;
  CHECK_EQ_INT(sqlite3_open(":memory:", &db), SQLITE_OK);
  return db;
}

static long long scalar(sqlite3 *db, const char *zSql) {
  sqlite3_stmt *st = NULL;
  long long v = -1;
  if (sqlite3_prepare_v2(db, zSql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  else
    fprintf(stderr, "%s: %s\n", zSql, sqlite3_errmsg(db));
  sqlite3_finalize(st);
  return v;
}

/* (17) knn_search's query blocks are bounded in bytes: 3,000 queries with
** 100 KB ids took 302 MB (a block held all of them); short ids 9 MB. */
static void test_knn_query_id_bytes(void) {
  sqlite3 *db = open_db();
  long long n, peak;
  CHECK_EQ_INT(sqlite3_exec(db,
                            "CREATE TABLE q(id TEXT, v BLOB);"
                            "WITH RECURSIVE i(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM i WHERE x < 3000)"
                            "  INSERT INTO q SELECT printf('%d', x) || zeroblob(100000), fvec(x, x % 7, 1) FROM i;"
                            "CREATE TABLE r(id INTEGER, v BLOB);"
                            "WITH RECURSIVE i(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM i WHERE x < 50)"
                            "  INSERT INTO r SELECT x, fvec(x * 60, 3, 1) FROM i;",
                            0, 0, 0),
               SQLITE_OK);
  sqlite3_memory_highwater(1);
  n = scalar(db, "SELECT count(*) FROM knn_search('SELECT CAST(id AS BLOB), v FROM q', 'SELECT id, v FROM r', 2)");
  peak = sqlite3_memory_highwater(0) - sqlite3_memory_used();
  CHECK_EQ_INT(n, 6000);
  printf("knn 3,000 queries x 100 KB ids: peak %.1f MB above the database\n", peak / 1e6);
  CHECK(peak < 64ll << 20);
  sqlite3_close(db);
}

/* (18) An out-of-range environment value is not dropped silently: one
** warning per setting and process names the variable, its value (control
** characters escaped) and the value used. */
static void test_env_warning(void) {
  char buf[4096];
  UnitStderr cap;
  sqlite3 *db = open_db();
  setenv("IMGPCA_THREADS", "100000", 1);
  /* the deprecated name of IMGPCA_IMAGE_MAX_PIXELS, checked the same way */
  setenv("IMGPCA_MAX_PIXELS", "0\x1b]0;pwned\x07", 1);
  unit_stderr_begin(&cap);
  CHECK_EQ_INT(scalar(db, "SELECT imgpca_config('imgpca.threads')"), 0);
  CHECK_EQ_INT(scalar(db, "SELECT imgpca_config()->'$.\"imgpca.threads\".source' = '\"default\"'"), 1);
  CHECK_EQ_INT(scalar(db, "SELECT imgpca_config('imgpca.threads')"), 0);
  CHECK_EQ_INT(scalar(db, "SELECT imgpca_config('image.max_pixels')"), 100000000);
  sqlite3_close(db);
  unit_stderr_end(&cap, buf, sizeof buf);
  CHECK(strstr(buf,
               "imgpca: warning: IMGPCA_THREADS='100000' ignored (invalid value for 'imgpca.threads': "
               "100000 is outside [0, 1024]); using '0' (the default)\n") != NULL);
  {
    const char *w = strstr(buf, "IMGPCA_THREADS=");
    CHECK(w && !strstr(w + 1, "IMGPCA_THREADS=")); /* once */
  }
  CHECK(strstr(buf, "IMGPCA_MAX_PIXELS='0\\x1b]0;pwned\\x07' ignored") != NULL);
  CHECK(strchr(buf, '\x1b') == NULL);
  unsetenv("IMGPCA_THREADS");
  unsetenv("IMGPCA_MAX_PIXELS");
}

int main(void) {
  sqlite3_auto_extension((void (*)(void))sqlite3_imgpca_init);
  test_env_warning();
  test_knn_query_id_bytes();
  sqlite3_reset_auto_extension();
  return UNIT_DONE();
}
