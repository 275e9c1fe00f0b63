/* SQL glue of the image core (img_*). */
#ifndef IMGPCA_IMAGE_SQL_H
#define IMGPCA_IMAGE_SQL_H
#include "../sqlglue/sqlglue.h"
#include "image.h"

void img_features_func(sqlite3_context *, int, sqlite3_value **);
void img_features_or_null_func(sqlite3_context *, int, sqlite3_value **);
void img_spec_check_func(sqlite3_context *, int, sqlite3_value **);
void img_info_func(sqlite3_context *, int, sqlite3_value **);
void img_pixels_func(sqlite3_context *, int, sqlite3_value **);
void img_encode_func(sqlite3_context *, int, sqlite3_value **);
void img_thumbnail_func(sqlite3_context *, int, sqlite3_value **);
void img_from_fvec_func(sqlite3_context *, int, sqlite3_value **);
#endif
