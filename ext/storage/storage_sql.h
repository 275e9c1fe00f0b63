/* SQL glue of the storage layer: the s3_* functions and the s3_list table
** (storage_sql.c), s3_concat (concat_sql.c). */
#ifndef IMGPCA_STORAGE_SQL_H
#define IMGPCA_STORAGE_SQL_H

#include "../sqlglue/sqlglue.h"
#include "../storage/storage.h"

extern const ImgpcaModule imgpca_module_storage;

/* ---- for the glue of other modules (fetch, csv, cnn) ---- */

/* The connection's storage (local files and S3), created at first use with
** the connection's settings and its interrupt; err: a message on failure.
**   ImgpcaStorage *st; if (imgpca_conn_storage(conn, &st, err)) ... */
int imgpca_conn_storage(ImgpcaConn *conn, ImgpcaStorage **pp, char *err);

/* ---- shared by the glue files of ext/storage/ ---- */

void s3_concat_func(sqlite3_context *, int, sqlite3_value **);

#endif
