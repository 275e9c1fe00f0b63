/* SQL glue of the report core (imgpca_base64, imgpca_report_html). */
#ifndef IMGPCA_REPORT_SQL_H
#define IMGPCA_REPORT_SQL_H
#include "../sqlglue/sqlglue.h"
#include "report.h"

void imgpca_base64_func(sqlite3_context *, int, sqlite3_value **);
void imgpca_report_html_func(sqlite3_context *, int, sqlite3_value **);
#endif
