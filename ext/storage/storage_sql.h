/* SQL glue of the storage layer: s3_* functions and the s3_list table. */
#ifndef IMGPCA_STORAGE_SQL_H
#define IMGPCA_STORAGE_SQL_H
#include "../sqlglue/sqlglue.h"
#include "../storage/storage.h"

/* The connection's storage client, created on first use from conn->cfg and
** freed with the connection.  For other modules' glue (e.g. csv_export):
**   ImgpcaStorage *st; if (imgpca_conn_storage(conn, &st, err)) ... */

void s3_fetch_func(sqlite3_context *, int, sqlite3_value **);
void s3_fetch_or_null_func(sqlite3_context *, int, sqlite3_value **);
void s3_put_func(sqlite3_context *, int, sqlite3_value **);
void s3_delete_func(sqlite3_context *, int, sqlite3_value **);
void s3_config_func(sqlite3_context *, int, sqlite3_value **);
/* s3_concat (concat_sql.c) */
void s3_concat_func(sqlite3_context *, int, sqlite3_value **);
extern const sqlite3_module s3_list_module;
#endif
