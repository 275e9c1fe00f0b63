/*
** Fuzz target: s3_fetch_many's argument handling (ext/fetch/fetch_sql.c).
**
** Input: "<urls>\n<spec>" -- the first line is the urls argument (a JSON
** array of URLs, or anything), the rest the spec (absent: NULL).  Runs
** SELECT ... FROM s3_fetch_many(?1, ?2) and the IN form over the same
** elements, on a connection whose S3 endpoint refuses connections at once
** (no retries) and whose length limit is 64 KiB (local files are read only
** that far).  Invariants: no crash or leak; an accepted JSON array gives one
** row per non-null string element, the IN form one per distinct one; every
** row has a URL; an error row has no content; an error message names the
** function and holds no control character.
*/
#include <sqlite3.h>

#include "fuzz.h"

int sqlite3_imgpca_init(sqlite3 *db, char **pzErrMsg, const void *pApi);

static sqlite3 *db;

static long long scalar(const char *zSql, const char *z, int n) {
  sqlite3_stmt *st = NULL;
  long long v = -1;
  if (sqlite3_prepare_v2(db, zSql, -1, &st, NULL) != SQLITE_OK) abort();
  sqlite3_bind_text(st, 1, z, n, SQLITE_TRANSIENT);
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

static void check_msg(const char *z) {
  const unsigned char *p;
  if (strncmp(z, "s3_fetch_many: ", 15) != 0) fuzz_fail("message without the function name: %s", z);
  for (p = (const unsigned char *)z; *p; p++)
    if (*p < 0x20 || *p == 0x7f) fuzz_fail("control character in a message");
}

static long long run(const char *zSql, const char *zUrls, int nUrls, const char *zSpec, int *pErr) {
  sqlite3_stmt *st = NULL;
  long long n = 0;
  int rc;
  *pErr = 0;
  if (sqlite3_prepare_v2(db, zSql, -1, &st, NULL) != SQLITE_OK) abort();
  sqlite3_bind_text(st, 1, zUrls, nUrls, SQLITE_TRANSIENT);
  if (zSpec) sqlite3_bind_text(st, 2, zSpec, -1, SQLITE_TRANSIENT);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (sqlite3_column_type(st, 0) == SQLITE_NULL) fuzz_fail("row without a URL");
    if (sqlite3_column_type(st, 2) != SQLITE_NULL) {
      check_msg((const char *)sqlite3_column_text(st, 2));
      if (sqlite3_column_type(st, 1) != SQLITE_NULL && sqlite3_column_bytes(st, 1) > 0 &&
          !strstr((const char *)sqlite3_column_text(st, 2), "features"))
        fuzz_fail("an error row with content");
    }
    n++;
  }
  if (rc != SQLITE_DONE) {
    if (rc == SQLITE_NOMEM) abort();
    /* json_each of the IN form fails by itself on malformed JSON */
    if (strcmp(sqlite3_errmsg(db), "malformed JSON") != 0) check_msg(sqlite3_errmsg(db));
    *pErr = 1;
  }
  sqlite3_finalize(st);
  return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *nl = memchr(data, '\n', size);
  int nUrls = (int)(nl ? (size_t)(nl - (const char *)data) : size), bErr, bErr2;
  char *zSpec = nl ? fuzz_cstr((const uint8_t *)nl + 1, size - (size_t)nUrls - 1) : NULL;
  long long n, want;
  if (!db) {
    sqlite3_auto_extension((void (*)(void))sqlite3_imgpca_init);
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) abort();
    sqlite3_limit(db, SQLITE_LIMIT_LENGTH, 65536);
    if (sqlite3_exec(db,
                     "SELECT imgpca_config('s3.endpoint', 'http://127.0.0.1:1'), imgpca_config('s3.max_retries', '0'),"
                     " imgpca_config('s3.unsigned', 'true'), imgpca_config('s3.region', 'us-east-1'),"
                     " imgpca_config('imgpca.threads', '2')",
                     NULL, NULL, NULL) != SQLITE_OK)
      abort();
  }
  n = run("SELECT url, content, error FROM s3_fetch_many(?1, ?2)", (const char *)data, nUrls, zSpec, &bErr);
  want = scalar(
      "SELECT (SELECT count(*) FROM json_each(?1) WHERE type = 'text') "
      "WHERE json_valid(?1) AND json_type(?1) = 'array' AND NOT EXISTS "
      "(SELECT 1 FROM json_each(?1) WHERE type NOT IN ('text', 'null'))",
      (const char *)data, nUrls);
  if (!bErr && want >= 0 && n != want) fuzz_fail("%lld rows for %lld URLs", n, want);
  if (!bErr && want < 0 && nUrls > 0 && !(nUrls == 4 && !memcmp(data, "null", 4)))
    fuzz_fail("urls that are not an array of strings accepted");
  n = run(zSpec ? "SELECT url, content, error FROM s3_fetch_many WHERE url IN (SELECT value FROM json_each(?1)) "
                  "AND spec = ?2"
                : "SELECT url, content, error FROM s3_fetch_many WHERE url IN (SELECT value FROM json_each(?1))",
          (const char *)data, nUrls, zSpec, &bErr2);
  want = scalar("SELECT count(DISTINCT value) FROM json_each(?1) WHERE type = 'text'", (const char *)data, nUrls);
  if (!bErr && !bErr2 && want >= 0 && n != want) fuzz_fail("IN form: %lld rows for %lld distinct URLs", n, want);
  free(zSpec);
  return 0;
}
