/*
** Local filesystem backend of the storage layer (no SQL behaviour of its
** own): reads with pread behind s3_fetch and s3_fetch_many (a FIFO, socket
** or device is refused without blocking), atomic writes behind s3_put,
** csv_export and s3_concat (temp file "<dest>.tmp-XXXXXX" in the destination
** folder, fsync, rename, fsync of the folder; missing parent folders are
** created; a new file gets mode 0666 minus the umask, a replaced regular file
** keeps its permission bits), and deletes behind s3_delete.  The sorted
** recursive walk of a local s3_list is walk.c.
*/
#include "storage_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Kind of a non-regular file, for error messages. */
static const char *local_kind(mode_t m) {
  if (S_ISDIR(m)) return "a folder";
  if (S_ISFIFO(m)) return "a fifo";
  if (S_ISSOCK(m)) return "a socket";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  return "another file type";
}

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
  /* O_NONBLOCK: opening a FIFO (or a device) must not wait for a writer;
  ** the fstat below then refuses it.  Regular files ignore the flag. */
  fd = open(zPath, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      if (pNotFound) *pNotFound = 1;
      return imgpca_seterr(err, "no such file '%s'", zPath);
    }
    {
      int e = errno;
      /* sockets answer ENXIO: name what the path is */
      if (stat(zPath, &st) == 0 && !S_ISREG(st.st_mode))
        return imgpca_seterr(err, "'%s' is not a regular file (%s)", zPath, local_kind(st.st_mode));
      return imgpca_seterr(err, "cannot open '%s': %s", zPath, errtext(e, eb, sizeof eb));
    }
  }
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return imgpca_seterr(err, "cannot stat '%s': %s", zPath, errtext(e, eb, sizeof eb));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return imgpca_seterr(err, "'%s' is not a regular file (%s)", zPath, local_kind(st.st_mode));
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
  if (unlink(zPath) == 0) {
    *pDeleted = 1;
    return IMGPCA_OK;
  }
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
      if (mkdir(zDir, 0777) != 0 && errno != EEXIST) {
        *p = '/';
        return -1;
      }
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
  if (!w->zDest || !w->zTmp) {
    local_writer_abort(w);
    return IMGPCA_NOMEM;
  }
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
