/* SQL glue of the CSV exporter (csv_export). */
#ifndef IMGPCA_CSV_SQL_H
#define IMGPCA_CSV_SQL_H
#include "../sqlglue/sqlglue.h"

void csv_export_func(sqlite3_context *, int, sqlite3_value **);
#endif
