/* SQL glue of the CNN core: img_model_info and the per-connection image
** model cache behind the cnn: feature kind (cnn_sql.c). */
#ifndef IMGPCA_CNN_SQL_H
#define IMGPCA_CNN_SQL_H
#include "../sqlglue/sqlglue.h"

void img_model_info_func(sqlite3_context *ctx, int argc, sqlite3_value **argv);

#endif
