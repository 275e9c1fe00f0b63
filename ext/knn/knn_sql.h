/* SQL glue of the k-NN search (knn_search table-valued function). */
#ifndef IMGPCA_KNN_SQL_H
#define IMGPCA_KNN_SQL_H

#include "../sqlglue/sqlglue.h"

extern const ImgpcaModule imgpca_module_knn;

#endif
