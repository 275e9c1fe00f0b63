/* SQL glue of the CSV exporter (csv_export). */
#ifndef IMGPCA_CSV_SQL_H
#define IMGPCA_CSV_SQL_H

#include "../sqlglue/sqlglue.h"

extern const ImgpcaModule imgpca_module_csv;

#endif
