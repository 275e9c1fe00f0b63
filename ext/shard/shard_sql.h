/* SQL glue of the stable shard hash (imgpca_shard). */
#ifndef IMGPCA_SHARD_SQL_H
#define IMGPCA_SHARD_SQL_H
#include "../sqlglue/sqlglue.h"
#include "shard.h"

void imgpca_shard_func(sqlite3_context *, int, sqlite3_value **);
#endif
