/* SQL glue of the PCA engine (pca_*): pca_sql.c (functions, aggregates,
** pca_project_rows) and components_sql.c (the pca_components table). */
#ifndef IMGPCA_PCA_SQL_H
#define IMGPCA_PCA_SQL_H

#include "../sqlglue/sqlglue.h"
#include "pca.h"

extern const ImgpcaModule imgpca_module_pca;

/* ---- shared by the glue files of ext/pca/ ---- */

/* The pca_components table (components_sql.c). */
extern const sqlite3_module pca_components_module;

#endif
