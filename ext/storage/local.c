/*
** Local filesystem backend of the storage layer (no SQL behaviour of its
** own): reads with pread, atomic writes (temp file "<dest>.tmp-XXXXXX" in the
** destination folder, fsync, rename, fsync of the folder; missing parent
** folders are created; a new file gets mode 0666 minus the umask, a
** replaced regular file keeps its permission bits), deletes, and the sorted recursive walk behind
** s3_list('/folder/(glob)').  Listed entries: key = path relative to the
** literal folder part of the pattern, parent = name of the containing folder,
** etag = "<mtime seconds hex>-<size hex>", last_modified = mtime in UTC.
*/
#include "storage_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/glob.h"

/* strerror is not thread-safe; local_get runs in worker threads (s3_fetch_many). */
static const char *errtext(int e, char *buf, size_t n) { return strerror_r(e, buf, n); }

int local_get(const char *zPath, int64_t offset, int64_t length, int64_t maxBytes, ImgpcaBuf *out,
              int *pNotFound, char *err) {
  struct stat st;
  int fd;
  int64_t n;
  size_t got = 0;
  char eb[128];
  imgpca_buf_init(out);
  if (pNotFound) *pNotFound = 0;
  /* O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below. */
  fd = open(zPath, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      if (pNotFound) *pNotFound = 1;
      return imgpca_seterr(err, "no such file '%s'", zPath);
    }
    return imgpca_seterr(err, "cannot open '%s': %s", zPath, errtext(errno, eb, sizeof eb));
  }
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return imgpca_seterr(err, "'%s' is not a regular file", zPath);
  }
  if (offset < 0) offset = 0;
  if (offset > (int64_t)st.st_size) {
    close(fd);
    return imgpca_seterr(err, "range starting at %lld is beyond the end of '%s' (%lld bytes)",
                         (long long)offset, zPath, (long long)st.st_size);
  }
  n = (int64_t)st.st_size - offset;
  if (length >= 0 && length < n) n = length;
  if (maxBytes >= 0 && n > maxBytes) {
    close(fd);
    return imgpca_seterr(err, "object '%s' is %lld bytes, larger than the limit of %lld bytes (SQLITE_LIMIT_LENGTH)",
                         zPath, (long long)n, (long long)maxBytes);
  }
  if ((uint64_t)n > SIZE_MAX / 2 || imgpca_buf_reserve(out, (size_t)n + 1)) {
    close(fd);
    return IMGPCA_NOMEM;
  }
  while (got < (size_t)n) {
    ssize_t r = pread(fd, out->p + got, (size_t)n - got, (off_t)(offset + (int64_t)got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      int e = errno;
      close(fd);
      imgpca_buf_free(out);
      return imgpca_seterr(err, "cannot read '%s': %s", zPath, r < 0 ? errtext(e, eb, sizeof eb) : "file shrank while reading");
    }
    got += (size_t)r;
  }
  out->n = got;
  close(fd);
  return IMGPCA_OK;
}

int local_delete(const char *zPath, int *pDeleted, char *err) {
  *pDeleted = 0;
  if (unlink(zPath) == 0) { *pDeleted = 1; return IMGPCA_OK; }
  if (errno == ENOENT) return IMGPCA_OK;
  return imgpca_seterr(err, "cannot delete '%s': %s", zPath, strerror(errno));
}

/* ---- writer ---- */
struct LocalWriter {
  int fd;
  char *zDest;
  char *zTmp;
  int64_t nBytes;
};

static int mkdirs(char *zDir) {
  char *p;
  struct stat st;
  if (!*zDir || stat(zDir, &st) == 0) return 0;
  for (p = zDir + 1; *p; p++) {
    if (*p == '/') {
      *p = 0;
      if (mkdir(zDir, 0777) != 0 && errno != EEXIST) { *p = '/'; return -1; }
      *p = '/';
    }
  }
  if (mkdir(zDir, 0777) != 0 && errno != EEXIST) return -1;
  return 0;
}

static char *dir_of(const char *zPath) {
  const char *s = strrchr(zPath, '/');
  if (!s) return imgpca_strdup(".");
  if (s == zPath) return imgpca_strdup("/");
  return imgpca_mprintf("%.*s", (int)(s - zPath), zPath);
}

/* Creates the temporary file zTmp ("...XXXXXX", the X replaced in place)
** with mode 0666: the kernel applies the umask (and a default ACL), as for
** any new file (mkstemp would force 0600).  Returns the descriptor or -1. */
static int open_temp(char *zTmp) {
  static const char az[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  size_t n = strlen(zTmp);
  int attempt;
  for (attempt = 0; attempt < 100; attempt++) {
    unsigned char rnd[6];
    int i, fd;
    if (getentropy(rnd, sizeof rnd) != 0) return -1;
    for (i = 0; i < 6; i++) zTmp[n - 6 + i] = az[rnd[i] % (sizeof az - 1)];
    fd = open(zTmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  errno = EEXIST;
  return -1;
}

int local_writer_open(const char *zPath, LocalWriter **pp, char *err) {
  LocalWriter *w;
  struct stat st;
  char *zDir;
  size_t n = strlen(zPath);
  *pp = NULL;
  if (n == 0 || zPath[n - 1] == '/') return imgpca_seterr(err, "'%s' names a folder, not a file", zPath);
  zDir = dir_of(zPath);
  if (!zDir) return IMGPCA_NOMEM;
  if (mkdirs(zDir) != 0) {
    int rc = imgpca_seterr(err, "cannot create folder '%s': %s", zDir, strerror(errno));
    imgpca_free(zDir);
    return rc;
  }
  imgpca_free(zDir);
  w = imgpca_calloc(1, sizeof(*w));
  if (!w) return IMGPCA_NOMEM;
  w->fd = -1;
  w->zDest = imgpca_strdup(zPath);
  w->zTmp = imgpca_mprintf("%s.tmp-XXXXXX", zPath);
  if (!w->zDest || !w->zTmp) { local_writer_abort(w); return IMGPCA_NOMEM; }
  w->fd = open_temp(w->zTmp);
  if (w->fd < 0) {
    int rc = imgpca_seterr(err, "cannot create a temporary file for '%s': %s", zPath, strerror(errno));
    imgpca_free(w->zTmp);
    w->zTmp = NULL;
    local_writer_abort(w);
    return rc;
  }
  /* Replacing a regular file keeps its permission bits (not its owner). */
  if (stat(zPath, &st) == 0 && S_ISREG(st.st_mode) && fchmod(w->fd, st.st_mode & 0777) != 0) {
    int rc = imgpca_seterr(err, "cannot set the mode of '%s': %s", w->zTmp, strerror(errno));
    local_writer_abort(w);
    return rc;
  }
  *pp = w;
  return IMGPCA_OK;
}

int local_writer_write(LocalWriter *w, const void *pv, size_t n, char *err) {
  const unsigned char *p = pv;
  while (n) {
    ssize_t r = write(w->fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return imgpca_seterr(err, "cannot write '%s': %s", w->zTmp, strerror(errno));
    p += r;
    n -= (size_t)r;
    w->nBytes += r;
  }
  return IMGPCA_OK;
}

int local_writer_commit(LocalWriter *w, int64_t *pnBytes, char *err) {
  int rc = IMGPCA_OK, dfd;
  char *zDir;
  if (fsync(w->fd) != 0) rc = imgpca_seterr(err, "cannot sync '%s': %s", w->zTmp, strerror(errno));
  if (close(w->fd) != 0 && rc == IMGPCA_OK) rc = imgpca_seterr(err, "cannot close '%s': %s", w->zTmp, strerror(errno));
  w->fd = -1;
  if (rc == IMGPCA_OK && rename(w->zTmp, w->zDest) != 0)
    rc = imgpca_seterr(err, "cannot rename '%s' to '%s': %s", w->zTmp, w->zDest, strerror(errno));
  if (rc == IMGPCA_OK) {
    imgpca_free(w->zTmp);
    w->zTmp = NULL;
    zDir = dir_of(w->zDest);
    if (zDir && (dfd = open(zDir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
      fsync(dfd);
      close(dfd);
    }
    imgpca_free(zDir);
    if (pnBytes) *pnBytes = w->nBytes;
  }
  local_writer_abort(w);
  return rc;
}

void local_writer_abort(LocalWriter *w) {
  if (!w) return;
  if (w->fd >= 0) close(w->fd);
  if (w->zTmp) unlink(w->zTmp);
  imgpca_free(w->zTmp);
  imgpca_free(w->zDest);
  imgpca_free(w);
}

/* ---- walk ---- */
typedef struct WalkDir {
  char *zRel;      /* folder relative to the root ("" for the root) */
  char **azName;   /* sorted entries */
  int n, i;
} WalkDir;

struct LocalWalk {
  char *zRoot;       /* literal folder ("." when the pattern has none) */
  char *zPattern;    /* pattern relative to the root */
  int bRootDot;      /* root was implicit: paths have no "./" prefix */
  int bFileUrl;
  WalkDir *aStack;
  int nStack, nAlloc;
  char *zSingle;     /* a single file (pattern without glob naming a file) */
  int bSingleDone;
  char *zPath;       /* current entry's local path */
  ImgpcaEntry cur;
  int (*xInterrupted)(void *); /* polled every 256 entries looked at */
  void *pInterruptArg;
  unsigned nSeen;
};

void local_walk_set_interrupt(LocalWalk *w, int (*xInterrupted)(void *), void *pArg) {
  w->xInterrupted = xInterrupted;
  w->pInterruptArg = pArg;
}

void imgpca_entry_clear(ImgpcaEntry *e) {
  imgpca_free(e->zUrl);
  imgpca_free(e->zKey);
  imgpca_free(e->zName);
  imgpca_free(e->zParent);
  imgpca_free(e->zEtag);
  imgpca_free(e->zLastModified);
  memset(e, 0, sizeof(*e));
}

static int name_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *join(const char *a, const char *b) {
  if (!*a) return imgpca_strdup(b);
  if (!*b) return imgpca_strdup(a);
  return imgpca_mprintf("%s%s%s", a, a[strlen(a) - 1] == '/' ? "" : "/", b);
}

static char *walk_abs(LocalWalk *w, const char *zRel) {
  if (w->bRootDot) return imgpca_strdup(*zRel ? zRel : ".");
  return join(w->zRoot, zRel);
}

static int push_dir(LocalWalk *w, const char *zRel, char *err) {
  char *zPath = walk_abs(w, zRel);
  DIR *d;
  struct dirent *de;
  WalkDir wd;
  int nAlloc = 0;
  if (!zPath) return IMGPCA_NOMEM;
  memset(&wd, 0, sizeof wd);
  d = opendir(zPath);
  if (!d) {
    int rc = (errno == EACCES || errno == ENOENT || errno == ENOTDIR) && w->nStack > 0
                 ? IMGPCA_OK /* unreadable sub-folder: skipped */
                 : imgpca_seterr(err, "cannot open folder '%s': %s", zPath, strerror(errno));
    imgpca_free(zPath);
    return rc;
  }
  imgpca_free(zPath);
  while ((de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
    if (wd.n == nAlloc) {
      int nNew = nAlloc ? nAlloc * 2 : 32;
      char **a = imgpca_realloc(wd.azName, (size_t)nNew * sizeof(char *));
      if (!a) goto nomem;
      wd.azName = a;
      nAlloc = nNew;
    }
    if (!(wd.azName[wd.n] = imgpca_strdup(de->d_name))) goto nomem;
    wd.n++;
  }
  closedir(d);
  d = NULL;
  if (wd.n) qsort(wd.azName, (size_t)wd.n, sizeof(char *), name_cmp);
  if (!(wd.zRel = imgpca_strdup(zRel))) goto nomem;
  if (w->nStack == w->nAlloc) {
    int nNew = w->nAlloc ? w->nAlloc * 2 : 16;
    WalkDir *a = imgpca_realloc(w->aStack, (size_t)nNew * sizeof(*a));
    if (!a) goto nomem;
    w->aStack = a;
    w->nAlloc = nNew;
  }
  w->aStack[w->nStack++] = wd;
  return IMGPCA_OK;
nomem:
  if (d) closedir(d);
  while (wd.n > 0) imgpca_free(wd.azName[--wd.n]);
  imgpca_free(wd.azName);
  imgpca_free(wd.zRel);
  return IMGPCA_NOMEM;
}

static void pop_dir(LocalWalk *w) {
  WalkDir *d = &w->aStack[--w->nStack];
  int i;
  for (i = 0; i < d->n; i++) imgpca_free(d->azName[i]);
  imgpca_free(d->azName);
  imgpca_free(d->zRel);
}

/* Could a folder "zRel" contain matches of the pattern?  Prunes the walk:
** the folder's segments must match the pattern's leading segments, unless
** a '**' is reached. */
static int dir_may_match(const char *zPattern, const char *zRel) {
  const char *p = zPattern, *s = zRel;
  for (;;) {
    const char *pe = strchr(p, '/');
    const char *se = strchr(s, '/');
    size_t np = pe ? (size_t)(pe - p) : strlen(p);
    size_t ns = se ? (size_t)(se - s) : strlen(s);
    char segP[1024], segS[1024];
    const char *ds = strstr(p, "**");
    if (ds && (size_t)(ds - p) < np) return 1; /* '**' reaches any depth */
    if (!pe) return 0; /* the pattern's last segment names files, not folders */
    if (np >= sizeof segP || ns >= sizeof segS) return 1;
    memcpy(segP, p, np); segP[np] = 0;
    memcpy(segS, s, ns); segS[ns] = 0;
    if (!imgpca_glob_match(segP, segS)) return 0;
    if (!se) return 1;
    p = pe + 1;
    s = se + 1;
  }
}

static void iso_time(time_t t, long ms, char out[64]) {
  struct tm tm;
  gmtime_r(&t, &tm);
  snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

static int fill_entry(LocalWalk *w, const char *zPath, const char *zKey, const struct stat *st) {
  char ts[64];
  const char *slash;
  char *zDir;
  ImgpcaEntry *e = &w->cur;
  imgpca_entry_clear(e);
  imgpca_free(w->zPath);
  w->zPath = imgpca_strdup(zPath);
  if (w->bFileUrl) {
    ImgpcaBuf b;
    char *zAbs = zPath[0] == '/' ? NULL : realpath(zPath, NULL);
    imgpca_buf_init(&b);
    imgpca_buf_append(&b, "file://", 7);
    imgpca_uri_encode(&b, zAbs ? zAbs : zPath, strlen(zAbs ? zAbs : zPath), 1);
    imgpca_buf_append(&b, "", 1);
    free(zAbs);
    e->zUrl = b.oom ? NULL : (char *)imgpca_buf_detach(&b, NULL);
  } else {
    e->zUrl = imgpca_strdup(zPath);
  }
  e->zKey = imgpca_strdup(zKey);
  slash = strrchr(zPath, '/');
  e->zName = imgpca_strdup(slash ? slash + 1 : zPath);
  zDir = dir_of(zPath);
  if (zDir && (strcmp(zDir, ".") == 0 || strcmp(zDir, "..") == 0 || strstr(zDir, "/.") )) {
    /* resolve "." / ".." to the folder's real name */
    char *zReal = realpath(zDir, NULL);
    if (zReal) {
      const char *s2 = strrchr(zReal, '/');
      e->zParent = imgpca_strdup(s2 && s2[1] ? s2 + 1 : zReal);
      free(zReal);
    }
  }
  if (!e->zParent && zDir) {
    const char *s2 = strrchr(zDir, '/');
    e->zParent = imgpca_strdup(s2 ? s2 + 1 : zDir);
  }
  imgpca_free(zDir);
  e->nSize = (int64_t)st->st_size;
  e->zEtag = imgpca_mprintf("%llx-%llx", (unsigned long long)st->st_mtim.tv_sec,
                            (unsigned long long)st->st_size);
  iso_time(st->st_mtim.tv_sec, st->st_mtim.tv_nsec / 1000000, ts);
  e->zLastModified = imgpca_strdup(ts);
  if (!w->zPath || !e->zUrl || !e->zKey || !e->zName || !e->zParent || !e->zEtag || !e->zLastModified)
    return IMGPCA_NOMEM;
  return IMGPCA_OK;
}

int local_walk_open(const char *zPattern, int bFileUrl, LocalWalk **pp, char *err) {
  LocalWalk *w;
  char *zLit = NULL;
  size_t nLit;
  int rc = IMGPCA_OK;
  struct stat st;
  *pp = NULL;
  w = imgpca_calloc(1, sizeof(*w));
  if (!w) return IMGPCA_NOMEM;
  w->bFileUrl = bFileUrl;
  nLit = imgpca_glob_prefix(zPattern, &zLit);
  if (!zLit) { imgpca_free(w); return IMGPCA_NOMEM; }
  if (!imgpca_glob_has_magic(zPattern)) {
    /* a file, or a folder listed recursively */
    size_t n = strlen(zLit);
    while (n > 1 && zLit[n - 1] == '/') zLit[--n] = 0;
    if (stat(zLit, &st) != 0) {
      rc = imgpca_seterr(err, "no such file or folder '%s'", zLit);
    } else if (S_ISDIR(st.st_mode)) {
      w->zRoot = imgpca_strdup(zLit);
      w->zPattern = imgpca_strdup("**");
      if (!w->zRoot || !w->zPattern) rc = IMGPCA_NOMEM;
      else rc = push_dir(w, "", err);
    } else {
      w->zSingle = imgpca_strdup(zLit);
      if (!w->zSingle) rc = IMGPCA_NOMEM;
    }
  } else {
    /* root = folder part of the literal prefix */
    char *slash;
    zLit[nLit] = 0;
    slash = strrchr(zLit, '/');
    (void)nLit;
    {
      /* the literal prefix is computed on the unescaped text; find the
      ** matching split in the pattern by counting segments */
      size_t nSeg = 0, i;
      const char *p = zPattern;
      for (i = 0; slash && zLit + i <= slash; i++) if (zLit[i] == '/') nSeg++;
      for (i = 0; nSeg && p[i]; i++) {
        if (p[i] == '\\' && p[i + 1]) { i++; continue; }
        if (p[i] == '/' && --nSeg == 0) { p += i + 1; break; }
      }
      if (!slash) {
        w->zRoot = imgpca_strdup(".");
        w->bRootDot = 1;
      } else if (slash == zLit) {
        w->zRoot = imgpca_strdup("/");
      } else {
        *slash = 0;
        w->zRoot = imgpca_strdup(zLit);
      }
      w->zPattern = imgpca_strdup(slash ? p : zPattern);
    }
    if (!w->zRoot || !w->zPattern) rc = IMGPCA_NOMEM;
    else if (stat(w->zRoot, &st) != 0 || !S_ISDIR(st.st_mode))
      rc = imgpca_seterr(err, "no such folder '%s'", w->zRoot);
    else rc = push_dir(w, "", err);
  }
  imgpca_free(zLit);
  if (rc) { local_walk_close(w); return rc; }
  *pp = w;
  return IMGPCA_OK;
}

int local_walk_next(LocalWalk *w, ImgpcaEntry *e, int *pEof, char *err) {
  *pEof = 0;
  (void)err;
  if (w->zSingle) {
    struct stat st;
    const char *slash = strrchr(w->zSingle, '/');
    if (w->bSingleDone || stat(w->zSingle, &st) != 0) { *pEof = 1; return IMGPCA_OK; }
    w->bSingleDone = 1;
    if (fill_entry(w, w->zSingle, slash ? slash + 1 : w->zSingle, &st)) return IMGPCA_NOMEM;
    *e = w->cur;
    return IMGPCA_OK;
  }
  while (w->nStack > 0) {
    WalkDir *d = &w->aStack[w->nStack - 1];
    char *zRel, *zAbs;
    struct stat st;
    if (d->i >= d->n) { pop_dir(w); continue; }
    if (w->xInterrupted && ++w->nSeen % 256 == 0 && w->xInterrupted(w->pInterruptArg)) return IMGPCA_INTERRUPT;
    zRel = join(d->zRel, d->azName[d->i++]);
    if (!zRel) return IMGPCA_NOMEM;
    zAbs = walk_abs(w, zRel);
    if (!zAbs) { imgpca_free(zRel); return IMGPCA_NOMEM; }
    if (stat(zAbs, &st) == 0) {
      if (S_ISDIR(st.st_mode)) {
        if (dir_may_match(w->zPattern, zRel)) {
          int rc = push_dir(w, zRel, err);
          if (rc) { imgpca_free(zRel); imgpca_free(zAbs); return rc; }
        }
      } else if (S_ISREG(st.st_mode) && imgpca_glob_match(w->zPattern, zRel)) {
        int rc = fill_entry(w, zAbs, zRel, &st);
        imgpca_free(zRel);
        imgpca_free(zAbs);
        if (rc) return rc;
        *e = w->cur;
        return IMGPCA_OK;
      }
    }
    imgpca_free(zRel);
    imgpca_free(zAbs);
  }
  *pEof = 1;
  return IMGPCA_OK;
}

const char *local_walk_path(LocalWalk *w) { return w->zPath; }

void local_walk_close(LocalWalk *w) {
  if (!w) return;
  while (w->nStack > 0) pop_dir(w);
  imgpca_free(w->aStack);
  imgpca_free(w->zRoot);
  imgpca_free(w->zPattern);
  imgpca_free(w->zSingle);
  imgpca_free(w->zPath);
  imgpca_entry_clear(&w->cur);
  imgpca_free(w);
}
