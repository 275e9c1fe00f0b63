/* SQL glue of the PCA engine (pca_*). */
#ifndef IMGPCA_PCA_SQL_H
#define IMGPCA_PCA_SQL_H
#include "../sqlglue/sqlglue.h"
#include "pca.h"

void pca_fit_step(sqlite3_context *, int, sqlite3_value **);
void pca_fit_final(sqlite3_context *);
void pca_partial_step(sqlite3_context *, int, sqlite3_value **);
void pca_partial_final(sqlite3_context *);
void pca_merge_step(sqlite3_context *, int, sqlite3_value **);
void pca_merge_final(sqlite3_context *);
void pca_project_func(sqlite3_context *, int, sqlite3_value **);
void pca_reconstruct_func(sqlite3_context *, int, sqlite3_value **);
void pca_info_func(sqlite3_context *, int, sqlite3_value **);
void pca_mean_func(sqlite3_context *, int, sqlite3_value **);
void pca_std_func(sqlite3_context *, int, sqlite3_value **);
extern const sqlite3_module pca_components_module;
extern const sqlite3_module pca_project_rows_module;
#endif
