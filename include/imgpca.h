/*
** imgpca -- public header.
**
** imgpca is a SQLite extension that turns a folder or an S3 bucket of images
** into a reduced feature matrix with SQL only:
**
**   s3_list / s3_fetch  ->  img_features  ->  pca_fit  ->  pca_project  ->  CSV
**
** Loadable:   .load ./dist/imgpca          (entry point sqlite3_imgpca_init)
** Static:     link dist/libimgpca.a (and SQLite) and either call
**               sqlite3_auto_extension((void(*)(void))sqlite3_imgpca_init);
**             or, per connection, sqlite3_imgpca_init(db, &zErr, NULL).
**             The archive is built with SQLITE_CORE (it calls the linked
**             SQLite directly; pApi is not used and may be NULL) and holds
**             one object whose only global symbol is sqlite3_imgpca_init,
**             so it links next to other extensions, including ones using
**             SQLITE_EXTENSION_INIT1 (tests/embed/).  The loadable module
**             (dist/imgpca.so) needs pApi: NULL gives SQLITE_MISUSE.
*/
#ifndef IMGPCA_H
#define IMGPCA_H

#include <sqlite3.h>

#define IMGPCA_VERSION "0.1.0"
#define IMGPCA_VERSION_MAJOR 0
#define IMGPCA_VERSION_MINOR 1
#define IMGPCA_VERSION_PATCH 0
#define IMGPCA_VERSION_NUMBER 1000 /* MAJOR*1000000 + MINOR*1000 + PATCH */

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define IMGPCA_API __declspec(dllexport)
#else
#define IMGPCA_API __attribute__((visibility("default")))
#endif

/* Registers every imgpca function and virtual table on db. */
IMGPCA_API int sqlite3_imgpca_init(sqlite3 *db, char **pzErrMsg,
                                   const sqlite3_api_routines *pApi);

#ifdef __cplusplus
}
#endif
#endif /* IMGPCA_H */
