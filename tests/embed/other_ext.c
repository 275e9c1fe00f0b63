/*
** A minimal loadable-style extension (SQLITE_EXTENSION_INIT1, so it defines
** the global sqlite3_api), linked statically next to dist/libimgpca.a by
** tests/embed/embed_two.c:  SELECT other_hello() -> 'hello from other'.
*/
#include <stddef.h>

#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1

static void other_hello(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  (void)argv;
  sqlite3_result_text(ctx, "hello from other", -1, SQLITE_STATIC);
}

int sqlite3_other_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi) {
  SQLITE_EXTENSION_INIT2(pApi);
  (void)pzErrMsg;
  return sqlite3_create_function(db, "other_hello", 0, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
                                 other_hello, NULL, NULL);
}
