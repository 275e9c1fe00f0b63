/* Core SQL functions: version, build information, configuration. */
#ifndef IMGPCA_CORE_SQL_H
#define IMGPCA_CORE_SQL_H
#include "../sqlglue/sqlglue.h"
void imgpca_version_func(sqlite3_context *, int, sqlite3_value **);
void imgpca_build_info_func(sqlite3_context *, int, sqlite3_value **);
void imgpca_config_func(sqlite3_context *, int, sqlite3_value **);
void imgpca_printable_func(sqlite3_context *, int, sqlite3_value **);
/* Process-wide one-time initialisation (thread-safe, idempotent). */
int imgpca_core_global_init(char **pzErrMsg);
#endif
