/* Streams data through ImgpcaWriter (the C API used by csv_export):
**   writer_test URL MBYTES [abort]
** Writes MBYTES MiB + 12345 bytes of a deterministic pattern in 64 KiB
** chunks (so a multipart upload streams parts as data arrives), then commits
** (prints the ETag or byte count) or aborts.  Settings come from the
** environment (IMGPCA_S3_MULTIPART_THRESHOLD, IMGPCA_S3_PART_SIZE, AWS_*). */
#include <stdio.h>
#include <stdlib.h>

#include "common/common.h"
#include "config/config.h"
#include "storage/storage.h"

/* The configuration of the storage core: its settings table. */
static const ImgpcaSetting *const apStorageSettings[] = {imgpca_storage_settings, NULL};


static unsigned char byte_at(size_t i) { return (unsigned char)((i * 2654435761u) >> 13); }

int main(int argc, char **argv) {
  ImgpcaConfig cfg;
  ImgpcaStorage *s;
  ImgpcaWriter *w;
  char err[IMGPCA_ERRMAX];
  unsigned char chunk[65536];
  size_t total, off = 0;
  char *zEtag = NULL;
  int64_t n = 0;
  if (argc < 3) return 2;
  total = (size_t)atol(argv[2]) * 1048576 + 12345;
  if (imgpca_config_init(&cfg, apStorageSettings, NULL) || imgpca_storage_new(&cfg, &s, err)) return 1;
  if (imgpca_writer_open(s, argv[1], &w, err)) {
    fprintf(stderr, "open: %s\n", err);
    return 1;
  }
  while (off < total) {
    size_t k = total - off < sizeof chunk ? total - off : sizeof chunk, i;
    for (i = 0; i < k; i++) chunk[i] = byte_at(off + i);
    if (imgpca_writer_write(w, chunk, k, err)) {
      fprintf(stderr, "write: %s\n", err);
      imgpca_writer_abort(w);
      return 1;
    }
    off += k;
  }
  if (argc > 3) {
    imgpca_writer_abort(w);
    printf("aborted\n");
  } else {
    if (imgpca_writer_commit(w, &zEtag, &n, err)) {
      fprintf(stderr, "commit: %s\n", err);
      return 1;
    }
    printf("%s %lld\n", zEtag ? zEtag : "-", (long long)n);
    imgpca_free(zEtag);
  }
  imgpca_storage_free(s);
  imgpca_config_clear(&cfg);
  return 0;
}
