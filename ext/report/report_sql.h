/* SQL glue of the report core (imgpca_base64, imgpca_report_html). */
#ifndef IMGPCA_REPORT_SQL_H
#define IMGPCA_REPORT_SQL_H

#include "../sqlglue/sqlglue.h"

extern const ImgpcaModule imgpca_module_report;

#endif
