/* Internal interface of the storage layer: between storage.c (dispatch),
** local.c (local reads, atomic writes, deletes), walk.c (sorted walk of a
** local folder) and concat.c. */
#ifndef IMGPCA_STORAGE_INT_H
#define IMGPCA_STORAGE_INT_H
#include <stdio.h>

#include "storage.h"

int local_get(const char *zPath, int64_t offset, int64_t length, int64_t maxBytes, ImgpcaBuf *out,
              int *pNotFound, char *err);
int local_delete(const char *zPath, int *pDeleted, char *err);

/* Atomic file writer: temp file in the destination folder, renamed on commit. */
typedef struct LocalWriter LocalWriter;
int local_writer_open(const char *zPath, LocalWriter **pp, char *err);
int local_writer_write(LocalWriter *w, const void *p, size_t n, char *err);
int local_writer_commit(LocalWriter *w, int64_t *pnBytes, char *err); /* frees w */
void local_writer_abort(LocalWriter *w);                              /* frees w */

/* walk.c: sorted recursive walk of the files matching a glob. */
typedef struct LocalWalk LocalWalk;
/* Bytes of names a folder listing keeps in memory before it sorts them to
** temporary files and merges (4 MiB; lowered by tests). */
extern size_t local_walk_run_bytes;
/* Creates those temporary files (tmpfile; replaced by tests). */
extern FILE *(*local_walk_tmpfile)(void);
int local_walk_open(const char *zPattern, int bFileUrl, LocalWalk **pp, char *err);
/* Next matching file: fills e (fields owned by the walk until the next call). */
int local_walk_next(LocalWalk *w, ImgpcaEntry *e, int *pEof, char *err);
/* Optional hook polled at every folder and every 256 entries: non-zero stops with IMGPCA_INTERRUPT. */
void local_walk_set_interrupt(LocalWalk *w, int (*xInterrupted)(void *), void *pArg);
/* Reads size, etag and last_modified of the current entry if not read yet
** (the walk defers the stat of files typed by readdir); copies nSize to e. */
void local_walk_stat(LocalWalk *w, ImgpcaEntry *e);
/* Local path of the current entry. */
const char *local_walk_path(LocalWalk *w);
void local_walk_close(LocalWalk *w);

void imgpca_entry_clear(ImgpcaEntry *e);

/* The storage's S3 client, created on first use (concat.c). */
struct S3Client;
int imgpca_storage_s3(ImgpcaStorage *s, struct S3Client **pp, char *err);
#endif
