/* SQL glue of the stable shard hash (imgpca_shard). */
#ifndef IMGPCA_SHARD_SQL_H
#define IMGPCA_SHARD_SQL_H

#include "../sqlglue/sqlglue.h"

extern const ImgpcaModule imgpca_module_shard;

#endif
