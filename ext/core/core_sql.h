/* SQL glue of the extension itself: version, build information, settings,
** printable text (core_sql.c). */
#ifndef IMGPCA_CORE_SQL_H
#define IMGPCA_CORE_SQL_H

#include "../sqlglue/sqlglue.h"

extern const ImgpcaModule imgpca_module_core;

#endif
