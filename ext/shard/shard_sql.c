/*
** imgpca_shard(key, n) -> integer in [0, n)
**
** Assigns key to one of n shards with a stable, documented hash:
** FNV-1a 64-bit over the bytes of the key, then the unsigned 64-bit
** remainder modulo n (exact specification in shard.h and docs/SCALING.md).
**
**   key TEXT     hashed as its UTF-8 bytes (no terminator)
**   key BLOB     hashed as its raw bytes
**   key INTEGER / REAL   hashed as SQLite's text form of the number
**                        (imgpca_shard(12, n) = imgpca_shard('12', n))
**   key NULL     -> NULL
**   n            integer from 1 to 2147483647; NULL -> NULL; anything else
**                (0, negative, real, text, blob) -> error
**
**   SELECT imgpca_shard('a', 4);   -- 0
**   SELECT key FROM s3_list('s3://bucket/images/') WHERE imgpca_shard(key, 4) = 2;
**
** Deterministic and innocuous (usable in indexes, views, generated columns).
*/
#include "shard_sql.h"
#include "shard.h"

static void imgpca_shard_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  sqlite3_int64 n;
  const void *p;
  int nb;
  (void)argc;
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL)
    return;
  if (sqlite3_value_type(argv[1]) != SQLITE_INTEGER) {
    imgpca_result_error(ctx, "imgpca_shard", "invalid shard count: expected an integer, got %s",
                        imgpca_type_name(argv[1]));
    return;
  }
  n = sqlite3_value_int64(argv[1]);
  if (n < 1 || n > 2147483647) {
    imgpca_result_error(ctx, "imgpca_shard",
                        "invalid shard count '%lld': must be between 1 and 2147483647", n);
    return;
  }
  if (sqlite3_value_type(argv[0]) == SQLITE_BLOB) {
    p = sqlite3_value_blob(argv[0]);
  } else {
    p = sqlite3_value_text(argv[0]);
  }
  nb = sqlite3_value_bytes(argv[0]);
  if (!p && nb > 0) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_int64(ctx, (sqlite3_int64)shard_of(p ? p : "", (size_t)nb, (uint64_t)n));
}

/* ---- what the module adds to SQLite (ext/imgpca.c registers it) ---- */

static const ImgpcaSqlFunc aFunc[] = {
    {"imgpca_shard", 2, IMGPCA_PURE, imgpca_shard_func, 0, 0},
    {0}};

static const ImgpcaSqlDoc aDoc[] = {
    {"`imgpca_shard(key, n)`",
     "integer",
     "stable shard in [0, n) for distributing keys over workers"},
    {0}};

const ImgpcaModule imgpca_module_shard = {.zName = "shard", .aFunc = aFunc, .aDoc = aDoc};
