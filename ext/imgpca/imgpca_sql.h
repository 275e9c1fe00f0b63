/* SQL glue of the extension itself: version, build information, settings,
** printable text (imgpca_sql.c). */
#ifndef IMGPCA_IMGPCA_SQL_H
#define IMGPCA_IMGPCA_SQL_H

#include "../sqlglue/sqlglue.h"

extern const ImgpcaModule imgpca_module_imgpca;

#endif
