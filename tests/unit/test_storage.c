/* Unit tests of the storage layer on the local backend: URL parsing, atomic
** writer (nothing visible before commit, nothing left after abort), range
** reads, size limit, delete, and the sorted glob walk of the lister:
** directory-symlink cycles end and list every file once, FIFOs are neither
** listed nor opened (no blocking), the interrupt hook stops a walk, and a
** folder larger than the in-memory run (sorted runs merged from temporary
** files) lists the same keys in the same order. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/common.h"
#include "config/config.h"
#include "storage/storage.h"
#include "storage/storage_int.h"
#include "unit.h"

/* The configuration of the storage core: its settings table. */
static const ImgpcaSetting *const apStorageSettings[] = {imgpca_storage_settings, NULL};


static int count_files(const char *zDir) {
  DIR *d = opendir(zDir);
  struct dirent *e;
  int n = 0;
  if (!d) return -1;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

static void test_url(void) {
  ImgpcaUrl u;
  char err[IMGPCA_ERRMAX];
  CHECK_EQ_INT(imgpca_url_parse("s3://bucket/a b/c.jpg", &u, err), IMGPCA_OK);
  CHECK_EQ_INT(u.eScheme, IMGPCA_URL_S3);
  CHECK_STR(u.zBucket, "bucket");
  CHECK_STR(u.zKey, "a b/c.jpg");
  imgpca_url_free(&u);
  CHECK_EQ_INT(imgpca_url_parse("s3a://b", &u, err), IMGPCA_OK);
  CHECK_STR(u.zScheme, "s3a");
  CHECK_STR(u.zBucket, "b");
  CHECK_STR(u.zKey, "");
  imgpca_url_free(&u);
  CHECK_EQ_INT(imgpca_url_parse("file:///tmp/a%20b", &u, err), IMGPCA_OK);
  CHECK_EQ_INT(u.eScheme, IMGPCA_URL_LOCAL);
  CHECK_STR(u.zScheme, "file");
  CHECK_STR(u.zKey, "/tmp/a b");
  imgpca_url_free(&u);
  CHECK_EQ_INT(imgpca_url_parse("file://localhost/x", &u, err), IMGPCA_OK);
  CHECK_STR(u.zKey, "/x");
  imgpca_url_free(&u);
  CHECK_EQ_INT(imgpca_url_parse("rel/path.txt", &u, err), IMGPCA_OK);
  CHECK_STR(u.zScheme, "");
  CHECK_STR(u.zKey, "rel/path.txt");
  imgpca_url_free(&u);
  /* the classification s3_fetch_many uses to route a URL: same test as the parser */
  CHECK_EQ_INT(imgpca_url_is_s3("s3://b/k"), 1);
  CHECK_EQ_INT(imgpca_url_is_s3("s3a://b"), 1);
  CHECK_EQ_INT(imgpca_url_is_s3("s3:///key"), 1); /* an S3 URL, invalid: the S3 path reports it */
  CHECK_EQ_INT(imgpca_url_is_s3("S3://b/k"), 0);
  CHECK_EQ_INT(imgpca_url_is_s3("s3:/b/k"), 0);
  CHECK_EQ_INT(imgpca_url_is_s3("file:///s3://x"), 0);
  CHECK_EQ_INT(imgpca_url_is_s3("dir/s3://x"), 0);
  CHECK_EQ_INT(imgpca_url_is_s3(""), 0);
  CHECK_EQ_INT(imgpca_url_is_s3(NULL), 0);
  CHECK_EQ_INT(imgpca_url_parse("s3:///key", &u, err), IMGPCA_ERROR);
  CHECK_STR(err, "invalid URL 's3:///key': missing bucket name");
  CHECK_EQ_INT(imgpca_url_parse("http://x/y", &u, err), IMGPCA_ERROR);
  CHECK_STR(err, "unsupported URL scheme 'http' in 'http://x/y': expected s3://, file:// or a path");
  CHECK_EQ_INT(imgpca_url_parse("", &u, err), IMGPCA_ERROR);
}

static void test_local(const char *dir) {
  ImgpcaConfig cfg;
  ImgpcaStorage *s;
  ImgpcaWriter *w;
  ImgpcaBuf b;
  char err[IMGPCA_ERRMAX], path[1024], sub[512];
  int nf, del;
  int64_t n;
  char *zEtag = (char *)1;
  CHECK_EQ_INT(imgpca_config_init(&cfg, apStorageSettings, NULL), IMGPCA_OK);
  CHECK_EQ_INT(imgpca_storage_new(&cfg, &s, err), IMGPCA_OK);
  snprintf(sub, sizeof sub, "%s/new/folder", dir);
  snprintf(path, sizeof path, "%s/out.csv", sub);
  /* streaming writer: nothing at the destination until commit */
  CHECK_EQ_INT(imgpca_writer_open(s, path, &w, err), IMGPCA_OK);
  CHECK_EQ_INT(imgpca_writer_write(w, "a,b\n", 4, err), IMGPCA_OK);
  CHECK_EQ_INT(imgpca_writer_write(w, "1,2\n", 4, err), IMGPCA_OK);
  CHECK(access(path, F_OK) != 0);
  CHECK_EQ_INT(count_files(sub), 1); /* the temp file */
  CHECK_EQ_INT(imgpca_writer_commit(w, &zEtag, &n, err), IMGPCA_OK);
  CHECK(zEtag == NULL);
  CHECK_EQ_INT(n, 8);
  CHECK_EQ_INT(count_files(sub), 1);
  CHECK_EQ_INT(imgpca_storage_get(s, path, 0, -1, -1, &b, &nf, err), IMGPCA_OK);
  CHECK_EQ_INT(b.n, 8);
  CHECK(memcmp(b.p, "a,b\n1,2\n", 8) == 0);
  imgpca_buf_free(&b);
  /* range, limit */
  CHECK_EQ_INT(imgpca_storage_get(s, path, 4, 3, -1, &b, &nf, err), IMGPCA_OK);
  CHECK_EQ_INT(b.n, 3);
  CHECK(memcmp(b.p, "1,2", 3) == 0);
  imgpca_buf_free(&b);
  CHECK_EQ_INT(imgpca_storage_get(s, path, 0, -1, 5, &b, &nf, err), IMGPCA_ERROR);
  CHECK(strstr(err, "larger than the limit of 5 bytes") != NULL);
  CHECK_EQ_INT(imgpca_storage_get(s, path, 9, -1, -1, &b, &nf, err), IMGPCA_ERROR);
  /* abort: the old file stays, no temp file left */
  CHECK_EQ_INT(imgpca_writer_open(s, path, &w, err), IMGPCA_OK);
  CHECK_EQ_INT(imgpca_writer_write(w, "zzz", 3, err), IMGPCA_OK);
  imgpca_writer_abort(w);
  CHECK_EQ_INT(count_files(sub), 1);
  CHECK_EQ_INT(imgpca_storage_get(s, path, 0, -1, -1, &b, &nf, err), IMGPCA_OK);
  CHECK_EQ_INT(b.n, 8);
  imgpca_buf_free(&b);
  /* overwrite through put */
  CHECK_EQ_INT(imgpca_storage_put(s, path, "xy", 2, NULL, &n, err), IMGPCA_OK);
  CHECK_EQ_INT(n, 2);
  /* missing file */
  snprintf(path, sizeof path, "%s/none", dir);
  CHECK_EQ_INT(imgpca_storage_get(s, path, 0, -1, -1, &b, &nf, err), IMGPCA_ERROR);
  CHECK_EQ_INT(nf, 1);
  /* delete */
  snprintf(path, sizeof path, "%s/out.csv", sub);
  CHECK_EQ_INT(imgpca_storage_delete(s, path, &del, err), IMGPCA_OK);
  CHECK_EQ_INT(del, 1);
  CHECK_EQ_INT(imgpca_storage_delete(s, path, &del, err), IMGPCA_OK);
  CHECK_EQ_INT(del, 0);
  /* writer to a folder name */
  snprintf(path, sizeof path, "%s/", dir);
  CHECK_EQ_INT(imgpca_writer_open(s, path, &w, err), IMGPCA_ERROR);
  imgpca_storage_free(s);
  imgpca_config_clear(&cfg);
}

static void test_list(const char *dir) {
  static const char *files[] = {"b/2.jpg", "a/1.jpg", "a/x/3.jpg", "a/1.png", "c.jpg"};
  ImgpcaConfig cfg;
  ImgpcaStorage *s;
  ImgpcaLister *l;
  char err[IMGPCA_ERRMAX], path[512], pat[600];
  int64_t n;
  size_t i;
  int eof = 0;
  ImgpcaBuf b;
  imgpca_config_init(&cfg, apStorageSettings, NULL);
  imgpca_storage_new(&cfg, &s, err);
  for (i = 0; i < sizeof files / sizeof files[0]; i++) {
    snprintf(path, sizeof path, "%s/L/%s", dir, files[i]);
    CHECK_EQ_INT(imgpca_storage_put(s, path, files[i], strlen(files[i]), NULL, &n, err), IMGPCA_OK);
  }
  snprintf(pat, sizeof pat, "%s/L/**/*.jpg", dir);
  CHECK_EQ_INT(imgpca_lister_open(s, pat, 1, -1, -1, &l, err), IMGPCA_OK);
  {
    static const char *expect[] = {"a/1.jpg", "a/x/3.jpg", "b/2.jpg", "c.jpg"};
    static const char *parent[] = {"a", "x", "b", "L"};
    for (i = 0; i < 4; i++) {
      CHECK_EQ_INT(imgpca_lister_next(l, &eof, err), IMGPCA_OK);
      CHECK(!eof);
      if (eof) break;
      CHECK_STR(imgpca_lister_entry(l)->zKey, expect[i]);
      CHECK_STR(imgpca_lister_entry(l)->zParent, parent[i]);
      CHECK_EQ_INT(imgpca_lister_entry(l)->nSize, (long long)strlen(expect[i]));
      CHECK_EQ_INT(imgpca_lister_content(l, &b, err), IMGPCA_OK);
      CHECK(b.n == strlen(expect[i]) && memcmp(b.p, expect[i], b.n) == 0);
      imgpca_buf_free(&b);
    }
    CHECK_EQ_INT(imgpca_lister_next(l, &eof, err), IMGPCA_OK);
    CHECK(eof);
  }
  imgpca_lister_close(l);
  snprintf(pat, sizeof pat, "%s/L/a/*", dir);
  CHECK_EQ_INT(imgpca_lister_open(s, pat, 0, -1, -1, &l, err), IMGPCA_OK);
  CHECK_EQ_INT(imgpca_lister_next(l, &eof, err), IMGPCA_OK);
  CHECK_STR(imgpca_lister_entry(l)->zKey, "1.jpg");
  CHECK_EQ_INT(imgpca_lister_next(l, &eof, err), IMGPCA_OK);
  CHECK_STR(imgpca_lister_entry(l)->zName, "1.png");
  CHECK_EQ_INT(imgpca_lister_next(l, &eof, err), IMGPCA_OK);
  CHECK(eof);
  imgpca_lister_close(l);
  /* a trailing '**' and a folder without glob both recurse */
  snprintf(pat, sizeof pat, "%s/L/a/**", dir);
  CHECK_EQ_INT(imgpca_lister_open(s, pat, 0, -1, -1, &l, err), IMGPCA_OK);
  for (i = 0; imgpca_lister_next(l, &eof, err) == IMGPCA_OK && !eof; i++) {}
  CHECK_EQ_INT(i, 3);
  imgpca_lister_close(l);
  snprintf(pat, sizeof pat, "%s/L", dir);
  CHECK_EQ_INT(imgpca_lister_open(s, pat, 0, -1, -1, &l, err), IMGPCA_OK);
  for (i = 0; imgpca_lister_next(l, &eof, err) == IMGPCA_OK && !eof; i++) {}
  CHECK_EQ_INT(i, 5);
  imgpca_lister_close(l);
  /* file:// in, file:// out (percent-encoded) */
  snprintf(pat, sizeof pat, "file://%s/L/b/*.jpg", dir);
  CHECK_EQ_INT(imgpca_lister_open(s, pat, 0, -1, -1, &l, err), IMGPCA_OK);
  CHECK_EQ_INT(imgpca_lister_next(l, &eof, err), IMGPCA_OK);
  snprintf(path, sizeof path, "file://%s/L/b/2.jpg", dir);
  CHECK_STR(imgpca_lister_entry(l)->zUrl, path);
  CHECK_STR(imgpca_lister_entry(l)->zKey, "2.jpg");
  imgpca_lister_close(l);
  snprintf(pat, sizeof pat, "%s/nope/*.jpg", dir);
  CHECK_EQ_INT(imgpca_lister_open(s, pat, 0, -1, -1, &l, err), IMGPCA_ERROR);
  CHECK(strstr(err, "no such folder") != NULL);
  imgpca_storage_free(s);
  imgpca_config_clear(&cfg);
}

static int count_listing(ImgpcaStorage *s, const char *pat, int *pRc) {
  ImgpcaLister *l;
  char err[IMGPCA_ERRMAX];
  int eof = 0, n = 0, rc;
  *pRc = imgpca_lister_open(s, pat, 0, -1, -1, &l, err);
  if (*pRc) return -1;
  while ((rc = imgpca_lister_next(l, &eof, err)) == IMGPCA_OK && !eof && n < 100000) n++;
  *pRc = rc;
  imgpca_lister_close(l);
  return n;
}

static int g_polls, g_stop_at;
static int stop_hook(void *p) {
  (void)p;
  return ++g_polls >= g_stop_at;
}

/* Defect 6: "d/up -> .." used to repeat files up to the ELOOP depth, and two
** self-links made a '**' listing run forever.  Defect 7: a FIFO blocked
** s3_fetch (open without O_NONBLOCK).  Plus the interrupt hook. */
static void test_list_links(const char *dir) {
  ImgpcaConfig cfg;
  ImgpcaStorage *s;
  ImgpcaLister *l;
  ImgpcaBuf b;
  char err[IMGPCA_ERRMAX], path[512], pat[600], to[600];
  int rc, n, nf, eof = 0, i;
  int64_t nb;
  imgpca_config_init(&cfg, apStorageSettings, NULL);
  imgpca_storage_new(&cfg, &s, err);
  /* d/up -> .. */
  snprintf(path, sizeof path, "%s/S/a/1.png", dir);
  CHECK_EQ_INT(imgpca_storage_put(s, path, "1", 1, NULL, &nb, err), IMGPCA_OK);
  snprintf(path, sizeof path, "%s/S/d/2.png", dir);
  CHECK_EQ_INT(imgpca_storage_put(s, path, "2", 1, NULL, &nb, err), IMGPCA_OK);
  snprintf(path, sizeof path, "%s/S/d/up", dir);
  CHECK_EQ_INT(symlink("..", path), 0);
  snprintf(pat, sizeof pat, "%s/S/**/*.png", dir);
  CHECK_EQ_INT(count_listing(s, pat, &rc), 2);
  CHECK_EQ_INT(rc, IMGPCA_OK);
  /* two self-links in one folder */
  snprintf(path, sizeof path, "%s/S/a/self1", dir);
  CHECK_EQ_INT(symlink(".", path), 0);
  snprintf(path, sizeof path, "%s/S/a/self2", dir);
  CHECK_EQ_INT(symlink(".", path), 0);
  CHECK_EQ_INT(count_listing(s, pat, &rc), 2);
  snprintf(pat, sizeof pat, "%s/S", dir);
  CHECK_EQ_INT(count_listing(s, pat, &rc), 2);
  /* a link to a sibling folder: its files are listed once, at the first
  ** path in key order ("S/b" < "S/d") */
  snprintf(path, sizeof path, "%s/S/b", dir);
  snprintf(to, sizeof to, "%s/S/d", dir);
  CHECK_EQ_INT(symlink(to, path), 0);
  snprintf(pat, sizeof pat, "%s/S/**/*.png", dir);
  CHECK_EQ_INT(imgpca_lister_open(s, pat, 0, -1, -1, &l, err), IMGPCA_OK);
  {
    static const char *expect[] = {"a/1.png", "b/2.png"};
    for (i = 0; i < 2; i++) {
      CHECK_EQ_INT(imgpca_lister_next(l, &eof, err), IMGPCA_OK);
      CHECK(!eof);
      if (eof) break;
      CHECK_STR(imgpca_lister_entry(l)->zKey, expect[i]);
    }
    CHECK_EQ_INT(imgpca_lister_next(l, &eof, err), IMGPCA_OK);
    CHECK(eof);
  }
  imgpca_lister_close(l);
  /* a link to a file is listed; a dangling one is not */
  snprintf(path, sizeof path, "%s/S/a/ln.png", dir);
  snprintf(to, sizeof to, "%s/S/a/1.png", dir);
  CHECK_EQ_INT(symlink(to, path), 0);
  snprintf(path, sizeof path, "%s/S/a/dangling.png", dir);
  CHECK_EQ_INT(symlink("no-such-file.png", path), 0);
  CHECK_EQ_INT(count_listing(s, pat, &rc), 3);
  /* FIFO: skipped by the listing, refused by a read without blocking */
  snprintf(path, sizeof path, "%s/S/a/fifo.png", dir);
  CHECK_EQ_INT(mkfifo(path, 0600), 0);
  CHECK_EQ_INT(count_listing(s, pat, &rc), 3);
  CHECK_EQ_INT(imgpca_storage_get(s, path, 0, -1, -1, &b, &nf, err), IMGPCA_ERROR);
  CHECK(strstr(err, "is not a regular file (a fifo)") != NULL);
  CHECK_EQ_INT(imgpca_lister_open(s, path, 0, -1, -1, &l, err), IMGPCA_ERROR);
  CHECK(strstr(err, "is not a regular file or a folder") != NULL);
  /* a folder is refused by a read too */
  snprintf(path, sizeof path, "%s/S/a", dir);
  CHECK_EQ_INT(imgpca_storage_get(s, path, 0, -1, -1, &b, &nf, err), IMGPCA_ERROR);
  CHECK(strstr(err, "is not a regular file (a folder)") != NULL);
  /* interrupt hook: polled at every folder, stops the walk */
  for (i = 0; i < 40; i++) {
    snprintf(path, sizeof path, "%s/S/many/%02d/x.jpg", dir, i);
    CHECK_EQ_INT(imgpca_storage_put(s, path, "x", 1, NULL, &nb, err), IMGPCA_OK);
  }
  snprintf(pat, sizeof pat, "%s/S/**/*.none", dir);
  CHECK_EQ_INT(imgpca_lister_open(s, pat, 0, -1, -1, &l, err), IMGPCA_OK);
  g_polls = 0;
  g_stop_at = 5;
  imgpca_lister_set_interrupt(l, stop_hook, NULL);
  CHECK_EQ_INT(imgpca_lister_next(l, &eof, err), IMGPCA_INTERRUPT);
  CHECK_STR(err, "interrupted");
  CHECK_EQ_INT(g_polls, 5);
  imgpca_lister_close(l);
  g_polls = 0;
  g_stop_at = 1000000;
  CHECK_EQ_INT(imgpca_lister_open(s, pat, 0, -1, -1, &l, err), IMGPCA_OK);
  imgpca_lister_set_interrupt(l, stop_hook, NULL);
  CHECK_EQ_INT(imgpca_lister_next(l, &eof, err), IMGPCA_OK);
  CHECK(eof);
  CHECK(g_polls >= 40); /* one poll per folder at least */
  imgpca_lister_close(l);
  n = 0;
  (void)n;
  imgpca_storage_free(s);
  imgpca_config_clear(&cfg);
}

/* File modes: a new file is 0666 & ~umask (not a fixed 0644, not mkstemp's
** 0600); replacing an existing file keeps its permission bits. */
static void test_modes(const char *dir) {
  ImgpcaConfig cfg;
  ImgpcaStorage *s;
  ImgpcaWriter *w;
  struct stat st;
  char err[IMGPCA_ERRMAX], path[1024];
  int64_t n;
  mode_t old = umask(027);
  CHECK_EQ_INT(imgpca_config_init(&cfg, apStorageSettings, NULL), IMGPCA_OK);
  CHECK_EQ_INT(imgpca_storage_new(&cfg, &s, err), IMGPCA_OK);
  snprintf(path, sizeof path, "%s/modes/new.csv", dir);
  CHECK_EQ_INT(imgpca_storage_put(s, path, "a", 1, NULL, &n, err), IMGPCA_OK);
  CHECK(stat(path, &st) == 0);
  CHECK_EQ_INT(st.st_mode & 07777, 0640);
  umask(0);
  snprintf(path, sizeof path, "%s/modes/new2.csv", dir);
  CHECK_EQ_INT(imgpca_writer_open(s, path, &w, err), IMGPCA_OK);
  CHECK_EQ_INT(imgpca_writer_write(w, "b", 1, err), IMGPCA_OK);
  CHECK_EQ_INT(imgpca_writer_commit(w, NULL, &n, err), IMGPCA_OK);
  CHECK(stat(path, &st) == 0);
  CHECK_EQ_INT(st.st_mode & 07777, 0666);
  /* an existing private file stays private when replaced */
  CHECK(chmod(path, 0600) == 0);
  umask(022);
  CHECK_EQ_INT(imgpca_storage_put(s, path, "cc", 2, NULL, &n, err), IMGPCA_OK);
  CHECK(stat(path, &st) == 0);
  CHECK_EQ_INT(st.st_mode & 07777, 0600);
  CHECK_EQ_INT(st.st_size, 2);
  CHECK(chmod(path, 0604) == 0);
  CHECK_EQ_INT(imgpca_writer_open(s, path, &w, err), IMGPCA_OK);
  CHECK_EQ_INT(imgpca_writer_write(w, "ddd", 3, err), IMGPCA_OK);
  CHECK_EQ_INT(imgpca_writer_commit(w, NULL, &n, err), IMGPCA_OK);
  CHECK(stat(path, &st) == 0);
  CHECK_EQ_INT(st.st_mode & 07777, 0604);
  umask(old);
  imgpca_storage_free(s);
  imgpca_config_clear(&cfg);
}

/* imgpca_storage_concat, local: ranges across the 8 MiB read chunks, sizes checked,
** failures leave neither the destination nor a temporary file. */
static void test_concat(const char *dir) {
  ImgpcaConfig cfg;
  ImgpcaStorage *s;
  ImgpcaBuf b;
  ImgpcaConcatStats st;
  ImgpcaConcatPart a[4];
  char err[IMGPCA_ERRMAX], p0[1024], p1[1024], dest[1024], sub[512], missing[1024];
  size_t n0 = (size_t)20 << 20, n1 = 1000, i;
  unsigned char *d0 = malloc(n0), *d1 = malloc(n1), *want;
  int nf;
  uint32_t x = 12345;
  if (!d0 || !d1) {
    CHECK(0);
    free(d0);
    free(d1);
    return;
  }
  for (i = 0; i < n0; i++) {
    x = x * 1103515245u + 12345u;
    d0[i] = (unsigned char)(x >> 16);
  }
  for (i = 0; i < n1; i++) d1[i] = (unsigned char)(i * 7);
  CHECK_EQ_INT(imgpca_config_init(&cfg, apStorageSettings, NULL), IMGPCA_OK);
  CHECK_EQ_INT(imgpca_storage_new(&cfg, &s, err), IMGPCA_OK);
  snprintf(sub, sizeof sub, "%s/concat", dir);
  snprintf(p0, sizeof p0, "%s/p0.bin", sub);
  snprintf(p1, sizeof p1, "%s/p1.bin", sub);
  snprintf(dest, sizeof dest, "%s/out.bin", sub);
  snprintf(missing, sizeof missing, "%s/missing.bin", sub);
  CHECK_EQ_INT(imgpca_storage_put(s, p0, d0, n0, NULL, NULL, err), IMGPCA_OK);
  CHECK_EQ_INT(imgpca_storage_put(s, p1, d1, n1, NULL, NULL, err), IMGPCA_OK);
  /* p1[10..], p0 whole (3 chunks), p1 [0, 5), p0 from 8 MiB - 3 to the end */
  memset(a, 0, sizeof a);
  a[0].zUrl = p1;
  a[0].offset = 10;
  a[0].length = -1;
  a[0].nExpectSize = (int64_t)n1;
  a[1].zUrl = p0;
  a[1].length = -1;
  a[1].nExpectSize = -1;
  a[2].zUrl = p1;
  a[2].length = 5;
  a[2].nExpectSize = -1;
  a[3].zUrl = p0;
  a[3].offset = ((int64_t)8 << 20) - 3;
  a[3].length = -1;
  a[3].nExpectSize = (int64_t)n0;
  CHECK_EQ_INT(imgpca_storage_concat(s, dest, a, 4, &st, err), IMGPCA_OK);
  {
    size_t nWant = (n1 - 10) + n0 + 5 + (n0 - ((size_t)8 << 20) + 3), o = 0;
    want = malloc(nWant);
    if (want) {
      memcpy(want + o, d1 + 10, n1 - 10);
      o += n1 - 10;
      memcpy(want + o, d0, n0);
      o += n0;
      memcpy(want + o, d1, 5);
      o += 5;
      memcpy(want + o, d0 + ((size_t)8 << 20) - 3, n0 - ((size_t)8 << 20) + 3);
      CHECK_EQ_INT(st.nBytes, (int64_t)nWant);
      CHECK_EQ_INT(st.nStreamed, (int64_t)nWant);
      CHECK_EQ_INT(st.nCopied, 0);
      CHECK_EQ_INT(st.nPart, 0);
      CHECK_EQ_INT(imgpca_storage_get(s, dest, 0, -1, -1, &b, &nf, err), IMGPCA_OK);
      CHECK(b.n == nWant && memcmp(b.p, want, nWant) == 0);
      imgpca_buf_free(&b);
      free(want);
    } else {
      CHECK(0);
    }
  }
  /* a wrong size, a missing part after a good one, a range past the end: errors naming the
  ** part, the earlier destination untouched, no temporary file left */
  a[1].nExpectSize = (int64_t)n0 + 1;
  CHECK_EQ_INT(imgpca_storage_concat(s, dest, a, 2, &st, err), IMGPCA_ERROR);
  CHECK(strstr(err, "has 20971520 bytes, expected 20971521") != NULL);
  a[1].nExpectSize = -1;
  a[1].zUrl = missing;
  CHECK_EQ_INT(imgpca_storage_concat(s, dest, a, 2, &st, err), IMGPCA_ERROR);
  CHECK(strstr(err, "missing.bin': no such file") != NULL);
  a[1].zUrl = p1;
  a[1].offset = 990;
  a[1].length = 11;
  CHECK_EQ_INT(imgpca_storage_concat(s, dest, a, 2, &st, err), IMGPCA_ERROR);
  CHECK(strstr(err, "range of 11 bytes at offset 990 goes beyond its end (1000 bytes)") != NULL);
  a[1].offset = 1001;
  a[1].length = -1;
  CHECK_EQ_INT(imgpca_storage_concat(s, dest, a, 2, &st, err), IMGPCA_ERROR);
  CHECK(strstr(err, "offset 1001 is beyond its end") != NULL);
  {
    ImgpcaLister *l;
    int eof = 0, nFiles = 0;
    char glob[1100];
    snprintf(glob, sizeof glob, "%s/*", sub);
    CHECK_EQ_INT(imgpca_lister_open(s, glob, 0, -1, 0, &l, err), IMGPCA_OK);
    while (imgpca_lister_next(l, &eof, err) == IMGPCA_OK && !eof) nFiles++;
    imgpca_lister_close(l);
    CHECK_EQ_INT(nFiles, 3); /* p0, p1, out: no temporary file */
  }
  CHECK_EQ_INT(imgpca_storage_get(s, dest, 0, -1, -1, &b, &nf, err), IMGPCA_OK);
  CHECK_EQ_INT((int64_t)b.n, (int64_t)((n1 - 10) + n0 + 5 + (n0 - ((size_t)8 << 20) + 3)));
  imgpca_buf_free(&b);
  /* no parts: an empty object */
  CHECK_EQ_INT(imgpca_storage_concat(s, dest, NULL, 0, &st, err), IMGPCA_OK);
  CHECK_EQ_INT(st.nBytes, 0);
  CHECK_EQ_INT(imgpca_storage_get(s, dest, 0, -1, -1, &b, &nf, err), IMGPCA_OK);
  CHECK_EQ_INT((int64_t)b.n, 0);
  imgpca_buf_free(&b);
  imgpca_storage_free(s);
  imgpca_config_clear(&cfg);
  free(d0);
  free(d1);
}

static int g_polls;
static int stop_now(void *p) {
  (void)p;
  g_polls++;
  return 1;
}

/* A local walk over many entries that match nothing polls the interrupt
** hook (every 256 entries) and stops. */
static void test_walk_interrupt(const char *dir) {
  ImgpcaConfig cfg;
  ImgpcaStorage *s;
  ImgpcaLister *l;
  char err[IMGPCA_ERRMAX], path[1024];
  int i, eof = 0;
  int64_t n;
  CHECK_EQ_INT(imgpca_config_init(&cfg, apStorageSettings, NULL), IMGPCA_OK);
  CHECK_EQ_INT(imgpca_storage_new(&cfg, &s, err), IMGPCA_OK);
  for (i = 0; i < 600; i++) {
    snprintf(path, sizeof path, "%s/many/f%03d.txt", dir, i);
    CHECK_EQ_INT(imgpca_storage_put(s, path, "x", 1, NULL, &n, err), IMGPCA_OK);
  }
  snprintf(path, sizeof path, "%s/many/*.jpg", dir);
  CHECK_EQ_INT(imgpca_lister_open(s, path, 0, -1, -1, &l, err), IMGPCA_OK);
  CHECK_EQ_INT(imgpca_lister_next(l, &eof, err), IMGPCA_OK); /* no hook: the end */
  CHECK_EQ_INT(eof, 1);
  imgpca_lister_close(l);
  CHECK_EQ_INT(imgpca_lister_open(s, path, 0, -1, -1, &l, err), IMGPCA_OK);
  imgpca_lister_set_interrupt(l, stop_now, NULL);
  g_polls = 0;
  CHECK_EQ_INT(imgpca_lister_next(l, &eof, err), IMGPCA_INTERRUPT);
  CHECK_EQ_INT(g_polls, 1);
  imgpca_lister_close(l);
  imgpca_storage_free(s);
  imgpca_config_clear(&cfg);
}

/* Lists pattern into one string "key|parent\n..." (malloc'ed). */
static char *walk_all(const char *zPattern, int *pn) {
  LocalWalk *w = NULL;
  ImgpcaEntry e;
  char err[IMGPCA_ERRMAX];
  int eof = 0;
  size_t cap = 1 << 16, len = 0;
  char *out = malloc(cap);
  *pn = 0;
  out[0] = 0;
  CHECK_EQ_INT(local_walk_open(zPattern, 0, &w, err), IMGPCA_OK);
  while (w && local_walk_next(w, &e, &eof, err) == IMGPCA_OK && !eof) {
    size_t need = strlen(e.zKey) + strlen(e.zParent) + 3;
    if (len + need > cap) out = realloc(out, cap = 2 * (len + need));
    len += (size_t)sprintf(out + len, "%s|%s\n", e.zKey, e.zParent);
    (*pn)++;
  }
  CHECK_EQ_INT(eof, 1);
  local_walk_close(w);
  return out;
}

static FILE *no_tmpfile(void) { return NULL; }

static void test_walk_runs(const char *dir) {
  char path[1024], *a, *b, *c, *p, *prev = NULL;
  int i, na, nb, nc, fd, sorted = 1;
  size_t saved = local_walk_run_bytes;
  /* 700 files created in a scrambled order, and 3 sub-folders among them */
  snprintf(path, sizeof path, "%s/runs", dir);
  CHECK(mkdir(path, 0755) == 0);
  for (i = 0; i < 700; i++) {
    snprintf(path, sizeof path, "%s/runs/f%04d-%s.jpg", dir, (i * 389) % 700, i % 2 ? "odd" : "even");
    fd = open(path, O_CREAT | O_WRONLY, 0644);
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
  }
  for (i = 0; i < 3; i++) {
    snprintf(path, sizeof path, "%s/runs/f%04d-sub", dir, 100 * i + 50);
    CHECK(mkdir(path, 0755) == 0);
    snprintf(path, sizeof path, "%s/runs/f%04d-sub/inner.jpg", dir, 100 * i + 50);
    fd = open(path, O_CREAT | O_WRONLY, 0644);
    if (fd >= 0) close(fd);
  }
  snprintf(path, sizeof path, "%s/runs/**/*.jpg", dir);
  a = walk_all(path, &na);
  local_walk_run_bytes = 200; /* about 10 names per run: 70 runs */
  b = walk_all(path, &nb);
  /* no temporary file at all (read-only /tmp): sorted in memory, same keys */
  local_walk_tmpfile = no_tmpfile;
  c = walk_all(path, &nc);
  local_walk_tmpfile = tmpfile;
  local_walk_run_bytes = saved;
  CHECK_EQ_INT(nc, 703);
  CHECK(strcmp(a, c) == 0);
  free(c);
  CHECK_EQ_INT(na, 703);
  CHECK_EQ_INT(nb, 703);
  CHECK(strcmp(a, b) == 0);
  CHECK(strstr(b, "f0150-sub/inner.jpg|f0150-sub\n") != NULL);
  for (p = strtok(b, "\n"); p; p = strtok(NULL, "\n")) {
    if (prev && strcmp(prev, p) >= 0) sorted = 0;
    prev = p;
  }
  CHECK(sorted);
  free(a);
  free(b);
}

int main(void) {
  char dir[] = "/tmp/imgpca-test-storage-XXXXXX";
  char cmd[300];
  if (!mkdtemp(dir)) return 1;
  test_url();
  test_local(dir);
  test_list(dir);
  test_list_links(dir);
  test_modes(dir);
  test_walk_interrupt(dir);
  test_walk_runs(dir);
  test_concat(dir);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) return 1;
  return UNIT_DONE();
}
