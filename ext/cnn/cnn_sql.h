/* SQL glue of the CNN core: img_model_info and the per-connection image
** model cache behind the cnn: feature kind (cnn_sql.c). */
#ifndef IMGPCA_CNN_SQL_H
#define IMGPCA_CNN_SQL_H

#include "../sqlglue/sqlglue.h"

extern const ImgpcaModule imgpca_module_cnn;

/* ---- for the glue of other modules (image, fetch) ---- */

/* Loads the models of the cnn: items of a parsed feature spec through the
** connection's model cache: each model is read through the storage layer
** once per connection and version (S3 ETag, local mtime/size/inode), and
** shared by every thread.  The spec holds one reference per model:
** img_spec_release() when done with it. */
struct ImgSpec;
int imgpca_conn_spec_models(ImgpcaConn *conn, struct ImgSpec *s, char *err);

#endif
