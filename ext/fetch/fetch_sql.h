/* SQL glue of the concurrent fetch core: the s3_fetch_many table. */
#ifndef IMGPCA_FETCH_SQL_H
#define IMGPCA_FETCH_SQL_H

#include "../sqlglue/sqlglue.h"

extern const ImgpcaModule imgpca_module_fetch;

#endif
