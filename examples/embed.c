/*
** Embedding imgpca in a C program: link dist/libimgpca.a and the system
** SQLite, register the extension for every new connection with
** sqlite3_auto_extension(), then run a small pipeline in plain SQL:
**
**   list a folder -> features -> PCA fit -> project -> CSV
**
** usage: embed IMAGE_FOLDER OUT.csv [K]
** Prints one line per stage; exits non-zero on any error.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "imgpca.h"

static int exec_print(sqlite3 *db, const char *zSql, const char *zDir, const char *zOut, int k) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db, zSql, -1, &st, NULL);
  if (rc == SQLITE_OK) {
    int i;
    for (i = 1; i <= sqlite3_bind_parameter_count(st); i++) {
      const char *zName = sqlite3_bind_parameter_name(st, i);
      if (!zName) continue;
      if (!strcmp(zName, ":dir")) sqlite3_bind_text(st, i, zDir, -1, SQLITE_STATIC);
      if (!strcmp(zName, ":out")) sqlite3_bind_text(st, i, zOut, -1, SQLITE_STATIC);
      if (!strcmp(zName, ":k")) sqlite3_bind_int(st, i, k);
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      if (sqlite3_column_count(st) > 0 && sqlite3_column_type(st, 0) == SQLITE_TEXT)
        printf("%s\n", (const char *)sqlite3_column_text(st, 0));
    }
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
  }
  if (rc != SQLITE_OK) fprintf(stderr, "embed: %s\n", sqlite3_errmsg(db));
  sqlite3_finalize(st);
  return rc;
}

int main(int argc, char **argv) {
  static const char *azStage[] = {
      /* 1. list + fetch + features (the listing's content column is fetched lazily) */
      "CREATE TABLE img AS "
      "SELECT key, parent AS label, img_features_or_null(content, 'hist:bins=8,sqrt') AS f "
      "FROM s3_list(rtrim(:dir, '/') || '/**/*') "
      "WHERE lower(name) LIKE '%.jpg' OR lower(name) LIKE '%.png' ORDER BY key",
      "SELECT printf('features: %d images, %d dimensions', count(*), max(fvec_dims(f))) FROM img "
      "WHERE f IS NOT NULL",
      /* 2. fit */
      "CREATE TABLE m AS SELECT pca_fit(f, :k) AS model FROM img WHERE f IS NOT NULL",
      "SELECT printf('model: k = %d, %.1f %% of the variance', json_extract(pca_info(model), '$.k'), "
      "100 * json_extract(pca_info(model), '$.cumulative[#-1]')) FROM m",
      /* 3. project + export */
      "SELECT printf('csv: %d rows -> %s', csv_export(:out, "
      "'SELECT key AS path, label, pca_project((SELECT model FROM m), f) AS pc "
      "FROM img WHERE f IS NOT NULL ORDER BY key'), :out)",
  };
  sqlite3 *db = NULL;
  size_t i;
  int k = argc > 3 ? atoi(argv[3]) : 5;
  if (argc < 3) {
    fprintf(stderr, "usage: %s IMAGE_FOLDER OUT.csv [K]\n", argv[0]);
    return 2;
  }
  /* Every connection opened after this call gets the imgpca functions. */
  if (sqlite3_auto_extension((void (*)(void))sqlite3_imgpca_init) != SQLITE_OK) return 1;
  if (sqlite3_open(":memory:", &db) != SQLITE_OK) {
    fprintf(stderr, "embed: cannot open database\n");
    return 1;
  }
  {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT imgpca_version()", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
      printf("imgpca %s on SQLite %s\n", sqlite3_column_text(st, 0), sqlite3_libversion());
    sqlite3_finalize(st);
  }
  for (i = 0; i < sizeof(azStage) / sizeof(azStage[0]); i++) {
    if (exec_print(db, azStage[i], argv[1], argv[2], k) != SQLITE_OK) {
      sqlite3_close(db);
      return 1;
    }
  }
  sqlite3_close(db);
  return 0;
}
