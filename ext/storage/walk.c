/*
** Sorted recursive walk of a local folder, behind s3_list('/folder/(glob)')
** and s3_list('file:///folder/(glob)') (no SQL behaviour of its own).
** Listed entries: key = path relative to the literal folder part of the
** pattern, parent = name of the containing folder, etag = "<mtime seconds
** hex>-<size hex>", last_modified = mtime in UTC; file:// listings give
** file:// URLs, path listings paths.
*/
#include "storage_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/glob.h"

/* ---- walk ----
** A depth-first walk over open folder descriptors: each folder is read once
** (readdir), its names are kept in one arena and sorted once (byte order),
** and entries are examined with fstatat/openat relative to the folder's
** descriptor, so no path is rebuilt or resolved per file.  The relative path
** of the current entry lives in one buffer that grows and shrinks with the
** depth.  Symbolic links are followed (to files and to folders), but a folder
** whose (device, inode) was already entered is skipped, so link cycles
** ("up -> ..", "self -> .") end and every folder is listed once, at its first
** path in key order.  Only regular files are listed: FIFOs, sockets and
** devices are skipped without being opened.  Unreadable sub-folders are
** skipped.  The optional interrupt hook is polled at every folder and every
** 256 entries.
** Memory is bounded whatever a folder holds: names are collected in runs of
** at most WALK_RUN_BYTES; when a folder has more, each run is sorted and
** written to an anonymous temporary file (tmpfile(): unlinked, in /tmp) and
** the runs are merged while the folder is walked, so a million-file folder
** costs a few MiB, not its whole name list, and keys still come in byte
** order. */
size_t local_walk_run_bytes = (size_t)4 << 20; /* WALK_RUN_BYTES; tests lower it */
FILE *(*local_walk_tmpfile)(void) = tmpfile;   /* tests replace it */
#define WALK_RUN_BYTES local_walk_run_bytes
#define WALK_NAME_MAX 512 /* > NAME_MAX + 1 */
typedef struct WalkEnt {
  const char *z;      /* name in the folder's arena */
  unsigned char type; /* d_type */
} WalkEnt;

typedef struct WalkDir {
  DIR *dir;      /* open folder */
  int fd;        /* its descriptor (dirfd) */
  char *zArena;  /* names, NUL-terminated, back to back */
  WalkEnt *aEnt; /* sorted entries */
  int n, i;
  size_t nRel;       /* length of this folder's relative path in zRel */
  const char *zName; /* this folder's name (parent column of its files) */
  /* merge mode (a folder larger than one run): sorted runs in temp files */
  int nRun;
  FILE **aRun;             /* nRun files, NULL once exhausted */
  char *zRunHead;          /* nRun current names, WALK_NAME_MAX bytes each, then the current entry's */
  unsigned char *aRunType; /* their d_type */
  WalkEnt cur;             /* entry being examined: its name is on the heap, after the
               ** heads (a sub-folder keeps pointing at it while aStack moves) */
} WalkDir;

struct LocalWalk {
  char *zRoot;    /* literal folder ("." when the pattern has none) */
  char *zPattern; /* pattern relative to the root */
  int bFileUrl;
  char *zOutPrefix; /* prefix of the local path of an entry ("" or "root/") */
  char *zUrlPrefix; /* file URLs: "file://" + encoded absolute root + "/" */
  char *zRootName;  /* parent column of files directly in the root */
  WalkDir *aStack;
  int nStack, nAlloc;
  char *zRel; /* relative path of the current entry */
  size_t nRelAlloc;
  uint64_t *aSeen;          /* open-addressing set of entered folders (dev, ino pairs) */
  size_t nSeen, nSeenAlloc; /* pairs used / slots (power of two) */
  unsigned nPoll;
  int (*xInterrupt)(void *);
  void *pInterruptArg;
  char *zSingle;     /* a single file (pattern without glob naming a file): its name */
  char *zSinglePath; /* and its path */
  int bSingleDone;
  ImgpcaBuf ebuf;   /* strings of the current entry */
  int bStatPending; /* size/etag/last_modified of the current entry not read yet */
  int curFd;        /* its folder (valid until the next local_walk_next) */
  const char *curName;
  char *zPath;     /* current entry's local path (in ebuf) */
  ImgpcaEntry cur; /* fields point into ebuf */
};

void imgpca_entry_clear(ImgpcaEntry *e) {
  imgpca_free(e->zUrl);
  imgpca_free(e->zKey);
  imgpca_free(e->zName);
  imgpca_free(e->zParent);
  imgpca_free(e->zEtag);
  imgpca_free(e->zLastModified);
  memset(e, 0, sizeof(*e));
}

void local_walk_set_interrupt(LocalWalk *w, int (*xInterrupt)(void *), void *pArg) {
  w->xInterrupt = xInterrupt;
  w->pInterruptArg = pArg;
}

static int walk_interrupted(LocalWalk *w, char *err) {
  if (w->xInterrupt && w->xInterrupt(w->pInterruptArg)) {
    imgpca_seterr(err, "interrupted");
    return IMGPCA_INTERRUPT;
  }
  return IMGPCA_OK;
}

static uint64_t seen_hash(uint64_t dev, uint64_t ino) {
  uint64_t h = (ino ^ (dev * 0x9E3779B97F4A7C15ull)) * 0xff51afd7ed558ccdull;
  return h ^ (h >> 29);
}

/* Adds (dev, ino) to the set; returns 1 if it was already there, -1 on OOM. */
static int seen_add(LocalWalk *w, uint64_t dev, uint64_t ino) {
  size_t mask, i;
  if (2 * (w->nSeen + 1) > w->nSeenAlloc) {
    size_t nNew = w->nSeenAlloc ? w->nSeenAlloc * 2 : 64, j;
    uint64_t *a = imgpca_calloc(nNew, 2 * sizeof(uint64_t));
    if (!a) return -1;
    for (j = 0; j < w->nSeenAlloc; j++) {
      uint64_t *e = &w->aSeen[2 * j];
      if (e[0] | e[1]) {
        size_t k = (size_t)seen_hash(e[0] - 1, e[1]) & (nNew - 1);
        while (a[2 * k] | a[2 * k + 1]) k = (k + 1) & (nNew - 1);
        a[2 * k] = e[0];
        a[2 * k + 1] = e[1];
      }
    }
    imgpca_free(w->aSeen);
    w->aSeen = a;
    w->nSeenAlloc = nNew;
  }
  mask = w->nSeenAlloc - 1;
  /* dev + 1 so that a used slot is never all zero */
  for (i = (size_t)seen_hash(dev, ino) & mask;; i = (i + 1) & mask) {
    uint64_t *e = &w->aSeen[2 * i];
    if (!(e[0] | e[1])) {
      e[0] = dev + 1;
      e[1] = ino;
      w->nSeen++;
      return 0;
    }
    if (e[0] == dev + 1 && e[1] == ino) return 1;
  }
}

static int ent_cmp(const void *a, const void *b) {
  return strcmp(((const WalkEnt *)a)->z, ((const WalkEnt *)b)->z);
}

/* Appends "/name" (or "name" at the root) to the relative path at depth nRel. */
static int rel_set(LocalWalk *w, size_t nRel, const char *zName) {
  size_t nName = strlen(zName), need = nRel + 1 + nName + 1;
  if (need > w->nRelAlloc) {
    size_t nNew = need * 2 > 256 ? need * 2 : 256;
    char *z = imgpca_realloc(w->zRel, nNew);
    if (!z) return IMGPCA_NOMEM;
    w->zRel = z;
    w->nRelAlloc = nNew;
  }
  if (nRel) w->zRel[nRel++] = '/';
  memcpy(w->zRel + nRel, zName, nName + 1);
  return IMGPCA_OK;
}

static void runs_free(WalkDir *d) {
  int r;
  for (r = 0; r < d->nRun; r++)
    if (d->aRun[r]) fclose(d->aRun[r]);
  imgpca_free(d->aRun);
  imgpca_free(d->zRunHead);
  imgpca_free(d->aRunType);
  d->aRun = NULL;
  d->zRunHead = NULL;
  d->aRunType = NULL;
  d->nRun = 0;
}

static void pop_dir(LocalWalk *w) {
  WalkDir *d = &w->aStack[--w->nStack];
  closedir(d->dir);
  imgpca_free(d->zArena);
  imgpca_free(d->aEnt);
  runs_free(d);
}

/* Sorts the n collected names and appends them to a new run file as
** <type byte><name>NUL records.  WALK_NO_TMP (no message) when the first
** run finds no temporary file: the folder is then sorted in memory. */
#define WALK_NO_TMP 100
static int run_spill(WalkDir *d, char *err) {
  FILE *f;
  FILE **a;
  int i;
  if (d->n > 1) qsort(d->aEnt, (size_t)d->n, sizeof(WalkEnt), ent_cmp);
  a = imgpca_realloc(d->aRun, (size_t)(d->nRun + 1) * sizeof(FILE *));
  if (!a) return IMGPCA_NOMEM;
  d->aRun = a;
  f = local_walk_tmpfile();
  if (!f && d->nRun == 0) return WALK_NO_TMP;
  if (!f) return imgpca_seterr(err, "cannot create a temporary file to sort a large folder: %s", strerror(errno));
  d->aRun[d->nRun++] = f;
  for (i = 0; i < d->n; i++) {
    putc(d->aEnt[i].type, f);
    fputs(d->aEnt[i].z, f);
    putc(0, f);
  }
  if (fflush(f) != 0 || ferror(f))
    return imgpca_seterr(err, "cannot write a temporary file to sort a large folder: %s", strerror(errno));
  d->n = 0;
  return IMGPCA_OK;
}

/* Reads the next record of run r into its head; closes the run at its end. */
static int run_read(WalkDir *d, int r, char *err) {
  FILE *f = d->aRun[r];
  char *z = d->zRunHead + (size_t)r * WALK_NAME_MAX;
  int c = getc(f), n = 0;
  if (c == EOF) {
    fclose(f);
    d->aRun[r] = NULL;
    return IMGPCA_OK;
  }
  d->aRunType[r] = (unsigned char)c;
  while ((c = getc(f)) != EOF && c != 0) {
    if (n + 1 >= WALK_NAME_MAX) break;
    z[n++] = (char)c;
  }
  z[n] = 0;
  if (c != 0) return imgpca_seterr(err, "cannot read back a temporary file of a large folder");
  return IMGPCA_OK;
}

/* Next entry of a folder in key order, or NULL at its end (*pRc on error). */
static const WalkEnt *dir_next(WalkDir *d, int *pRc, char *err) {
  int r, best = -1;
  *pRc = IMGPCA_OK;
  if (d->nRun == 0) return d->i < d->n ? &d->aEnt[d->i++] : NULL;
  for (r = 0; r < d->nRun; r++) {
    if (!d->aRun[r]) continue;
    if (best < 0 || strcmp(d->zRunHead + (size_t)r * WALK_NAME_MAX, d->zRunHead + (size_t)best * WALK_NAME_MAX) < 0)
      best = r;
  }
  if (best < 0) return NULL;
  memcpy(d->zRunHead + (size_t)d->nRun * WALK_NAME_MAX, d->zRunHead + (size_t)best * WALK_NAME_MAX, WALK_NAME_MAX);
  d->cur.z = d->zRunHead + (size_t)d->nRun * WALK_NAME_MAX;
  d->cur.type = d->aRunType[best];
  if ((*pRc = run_read(d, best, err)) != IMGPCA_OK) return NULL;
  return &d->cur;
}

/* Reads the names of folder d into wd: into the arena, as offsets for now
** (the arena may still move); a folder larger than one run sends each full
** run sorted to a temporary file (run_spill), or, without temporary files,
** keeps everything in memory. */
static int dir_collect(WalkDir *wd, DIR *d, char *err) {
  struct dirent *de;
  size_t nArena = 0, nArenaAlloc = 0;
  int nAlloc = 0, i, bNoTmp = 0, rc;
  while ((de = readdir(d)) != NULL) {
    size_t nName;
    if (de->d_name[0] == '.' && (de->d_name[1] == 0 || (de->d_name[1] == '.' && de->d_name[2] == 0)))
      continue;
    nName = strlen(de->d_name) + 1;
    if (nName >= WALK_NAME_MAX) continue; /* cannot happen (NAME_MAX) */
    if (!bNoTmp && nArena + nName > WALK_RUN_BYTES && wd->n > 0) {
      /* a large folder: this run goes to a temporary file */
      for (i = 0; i < wd->n; i++) wd->aEnt[i].z = wd->zArena + (size_t)(uintptr_t)wd->aEnt[i].z;
      rc = run_spill(wd, err);
      if (rc == WALK_NO_TMP) {
        /* no temporary file (read-only /tmp): the whole folder in memory */
        for (i = 0; i < wd->n; i++) wd->aEnt[i].z = (const char *)(uintptr_t)(size_t)(wd->aEnt[i].z - wd->zArena);
        bNoTmp = 1;
      } else if (rc) {
        return rc;
      } else {
        nArena = 0;
      }
    }
    if (nArena + nName > nArenaAlloc) {
      size_t nNew = nArenaAlloc ? nArenaAlloc * 2 : 4096;
      char *z;
      while (nNew < nArena + nName) nNew *= 2;
      z = imgpca_realloc(wd->zArena, nNew);
      if (!z) return IMGPCA_NOMEM;
      wd->zArena = z;
      nArenaAlloc = nNew;
    }
    if (wd->n == nAlloc) {
      int nNew = nAlloc ? nAlloc * 2 : 64;
      WalkEnt *a = imgpca_realloc(wd->aEnt, (size_t)nNew * sizeof(*a));
      if (!a) return IMGPCA_NOMEM;
      wd->aEnt = a;
      nAlloc = nNew;
    }
    memcpy(wd->zArena + nArena, de->d_name, nName);
    wd->aEnt[wd->n].z = (const char *)(uintptr_t)nArena;
    wd->aEnt[wd->n].type = de->d_type;
    wd->n++;
    nArena += nName;
  }
  return IMGPCA_OK;
}

/* Puts the names dir_collect read in key order: sorted in memory, or, in
** merge mode, the last run written too and the head of every run read. */
static int dir_sort(WalkDir *wd, char *err) {
  int i, r, rc;
  for (i = 0; i < wd->n; i++) wd->aEnt[i].z = wd->zArena + (size_t)(uintptr_t)wd->aEnt[i].z;
  if (wd->nRun == 0) {
    if (wd->n > 1) qsort(wd->aEnt, (size_t)wd->n, sizeof(WalkEnt), ent_cmp);
    return IMGPCA_OK;
  }
  if (wd->n > 0 && (rc = run_spill(wd, err)) != IMGPCA_OK) return rc;
  imgpca_free(wd->zArena);
  imgpca_free(wd->aEnt);
  wd->zArena = NULL;
  wd->aEnt = NULL;
  wd->zRunHead = imgpca_malloc((size_t)(wd->nRun + 1) * WALK_NAME_MAX);
  wd->aRunType = imgpca_malloc((size_t)wd->nRun);
  if (!wd->zRunHead || !wd->aRunType) return IMGPCA_NOMEM;
  for (r = 0; r < wd->nRun; r++) {
    rewind(wd->aRun[r]);
    if ((rc = run_read(wd, r, err)) != IMGPCA_OK) return rc;
  }
  return IMGPCA_OK;
}

/* Reads and sorts the folder open on fd (taken over) and pushes it. */
static int push_fd(LocalWalk *w, int fd, size_t nRel, const char *zName, char *err) {
  WalkDir wd;
  DIR *d;
  int rc = walk_interrupted(w, err);
  if (rc) {
    close(fd);
    return rc;
  }
  memset(&wd, 0, sizeof wd);
  d = fdopendir(fd);
  if (!d) {
    close(fd);
    return w->nStack > 0 ? IMGPCA_OK : imgpca_seterr(err, "cannot read folder '%s': %s", w->zRoot, strerror(errno));
  }
  rc = dir_collect(&wd, d, err);
  if (rc == IMGPCA_OK) {
    wd.dir = d;
    wd.fd = dirfd(d);
    wd.nRel = nRel;
    wd.zName = zName;
    rc = dir_sort(&wd, err);
  }
  if (rc == IMGPCA_OK && w->nStack == w->nAlloc) {
    int nNew = w->nAlloc ? w->nAlloc * 2 : 16;
    WalkDir *a = imgpca_realloc(w->aStack, (size_t)nNew * sizeof(*a));
    if (!a) {
      rc = IMGPCA_NOMEM;
    } else {
      w->aStack = a;
      w->nAlloc = nNew;
    }
  }
  if (rc) {
    closedir(d);
    imgpca_free(wd.zArena);
    imgpca_free(wd.aEnt);
    runs_free(&wd);
    return rc;
  }
  w->aStack[w->nStack++] = wd;
  return IMGPCA_OK;
}

/* Opens a folder (following links) unless it was entered before.  *pSkip = 1
** when it is skipped (seen, vanished or unreadable). */
static int open_dir(LocalWalk *w, int dirFd, const char *zName, int *pFd, int *pSkip, char *err) {
  struct stat st;
  int fd, r;
  *pFd = -1;
  *pSkip = 1;
  fd = openat(dirFd, zName, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == EMFILE || errno == ENFILE)
      return imgpca_seterr(err, "cannot open folder '%s': %s", zName, strerror(errno));
    return IMGPCA_OK; /* vanished, unreadable, not a folder: skipped */
  }
  if (fstat(fd, &st) != 0) {
    close(fd);
    return IMGPCA_OK;
  }
  r = seen_add(w, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
  if (r < 0) {
    close(fd);
    return IMGPCA_NOMEM;
  }
  if (r > 0) {
    close(fd);
    return IMGPCA_OK;
  } /* entered before: a link cycle or a second path */
  *pFd = fd;
  *pSkip = 0;
  return IMGPCA_OK;
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
    if (!pe) return 0;                         /* the pattern's last segment names files, not folders */
    if (np >= sizeof segP || ns >= sizeof segS) return 1;
    memcpy(segP, p, np);
    segP[np] = 0;
    memcpy(segS, s, ns);
    segS[ns] = 0;
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

/* Writes size, etag and last_modified of the current entry from st (into
** the slots reserved in ebuf by fill_entry). */
static void fill_stat(LocalWalk *w, const struct stat *st) {
  char ts[64];
  snprintf((char *)w->cur.zEtag, 40, "%llx-%llx", (unsigned long long)st->st_mtim.tv_sec,
           (unsigned long long)st->st_size);
  iso_time(st->st_mtim.tv_sec, st->st_mtim.tv_nsec / 1000000, ts);
  memcpy((char *)w->cur.zLastModified, ts, strlen(ts) < 31 ? strlen(ts) + 1 : 32);
  ((char *)w->cur.zLastModified)[31] = 0;
  w->cur.nSize = (int64_t)st->st_size;
  w->bStatPending = 0;
}

/* Builds the current entry in w->ebuf: local path = zPrefix + zRel.  st NULL:
** the file's metadata is read later, on demand (local_walk_stat). */
static int fill_entry(LocalWalk *w, const char *zPrefix, const char *zRel, const char *zParent,
                      const struct stat *st) {
  ImgpcaBuf *b = &w->ebuf;
  size_t oPath, oUrl, oKey, oName, oParent, oEtag, oTime, nPrefix = strlen(zPrefix), nRel = strlen(zRel);
  const char *slash;
  static const char zeros[40] = {0};
  b->n = 0;
  oPath = b->n;
  imgpca_buf_append(b, zPrefix, nPrefix);
  imgpca_buf_append(b, zRel, nRel + 1);
  oUrl = b->n;
  if (w->bFileUrl) {
    imgpca_buf_append(b, w->zUrlPrefix, strlen(w->zUrlPrefix));
    imgpca_uri_encode(b, zRel, nRel, 1);
    imgpca_buf_append(b, "", 1);
  } else {
    oUrl = oPath;
  }
  oKey = oPath + nPrefix;
  slash = strrchr(zRel, '/');
  oName = oKey + (slash ? (size_t)(slash + 1 - zRel) : 0);
  oParent = b->n;
  imgpca_buf_append(b, zParent, strlen(zParent) + 1);
  oEtag = b->n;
  imgpca_buf_append(b, zeros, 40); /* "<16 hex>-<16 hex>" fits */
  oTime = b->n;
  imgpca_buf_append(b, zeros, 32); /* "YYYY-MM-DDTHH:MM:SS.mmmZ" fits */
  if (b->oom) {
    b->oom = 0;
    return IMGPCA_NOMEM;
  }
  w->zPath = (char *)b->p + oPath;
  w->cur.zUrl = (char *)b->p + oUrl;
  w->cur.zKey = (char *)b->p + oKey;
  w->cur.zName = (char *)b->p + oName;
  w->cur.zParent = (char *)b->p + oParent;
  w->cur.zEtag = (char *)b->p + oEtag;
  w->cur.zLastModified = (char *)b->p + oTime;
  w->cur.nSize = -1;
  w->bStatPending = 1;
  if (st) fill_stat(w, st);
  return IMGPCA_OK;
}

void local_walk_stat(LocalWalk *w, ImgpcaEntry *e) {
  struct stat st;
  if (!w->bStatPending) return;
  w->bStatPending = 0;
  if (fstatat(w->curFd, w->curName, &st, 0) == 0) fill_stat(w, &st);
  /* vanished since it was listed: size -1, empty etag and time */
  if (e) e->nSize = w->cur.nSize;
}

/* Name of folder zDir as the parent column shows it ("." and ".." resolved). */
static char *folder_name(const char *zDir) {
  const char *s2;
  if (strcmp(zDir, ".") == 0 || strcmp(zDir, "..") == 0 || strstr(zDir, "/.")) {
    char *zReal = realpath(zDir, NULL);
    if (zReal) {
      char *z;
      s2 = strrchr(zReal, '/');
      z = imgpca_strdup(s2 && s2[1] ? s2 + 1 : zReal);
      free(zReal);
      return z;
    }
  }
  s2 = strrchr(zDir, '/');
  return imgpca_strdup(s2 ? s2 + 1 : zDir);
}

/* Sets the prefixes of local paths and URLs of the entries under w->zRoot. */
static int walk_prefixes(LocalWalk *w, int bRootDot) {
  size_t n = strlen(w->zRoot);
  w->zOutPrefix = bRootDot ? imgpca_strdup("")
                           : imgpca_mprintf("%s%s", w->zRoot, w->zRoot[n - 1] == '/' ? "" : "/");
  w->zRootName = folder_name(w->zRoot);
  if (!w->zOutPrefix || !w->zRootName) return IMGPCA_NOMEM;
  if (w->bFileUrl) {
    ImgpcaBuf b;
    char *zAbs = w->zRoot[0] == '/' ? NULL : realpath(w->zRoot, NULL);
    const char *zA = zAbs ? zAbs : w->zRoot;
    size_t nA = strlen(zA);
    imgpca_buf_init(&b);
    imgpca_buf_append(&b, "file://", 7);
    imgpca_uri_encode(&b, zA, nA, 1);
    if (nA == 0 || zA[nA - 1] != '/') imgpca_buf_append(&b, "/", 1);
    imgpca_buf_append(&b, "", 1);
    free(zAbs);
    if (b.oom) {
      imgpca_buf_free(&b);
      return IMGPCA_NOMEM;
    }
    w->zUrlPrefix = (char *)imgpca_buf_detach(&b, NULL);
    if (!w->zUrlPrefix) return IMGPCA_NOMEM;
  }
  return rel_set(w, 0, "");
}

/* Opens the root folder and pushes it. */
static int walk_root(LocalWalk *w, int bRootDot, char *err) {
  int fd, r;
  struct stat st;
  if ((r = walk_prefixes(w, bRootDot)) != IMGPCA_OK) return r;
  fd = open(w->zRoot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return imgpca_seterr(err, "cannot open folder '%s': %s", w->zRoot, strerror(errno));
  if (fstat(fd, &st) != 0) {
    close(fd);
    return imgpca_seterr(err, "cannot open folder '%s': %s", w->zRoot, strerror(errno));
  }
  r = seen_add(w, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
  if (r < 0) {
    close(fd);
    return IMGPCA_NOMEM;
  }
  return push_fd(w, fd, 0, w->zRootName, err);
}

/* A pattern without glob characters (zLit, its unescaped text): a file,
** listed as the one entry of its folder, or a folder listed recursively. */
static int walk_open_literal(LocalWalk *w, char *zLit, char *err) {
  struct stat st;
  size_t n = strlen(zLit);
  while (n > 1 && zLit[n - 1] == '/') zLit[--n] = 0;
  if (stat(zLit, &st) != 0) return imgpca_seterr(err, "no such file or folder '%s'", zLit);
  if (S_ISDIR(st.st_mode)) {
    w->zRoot = imgpca_strdup(zLit);
    w->zPattern = imgpca_strdup("**");
    if (!w->zRoot || !w->zPattern) return IMGPCA_NOMEM;
    return walk_root(w, 0, err);
  }
  if (!S_ISREG(st.st_mode)) return imgpca_seterr(err, "'%s' is not a regular file or a folder", zLit);
  {
    /* listed as the one entry of its folder: key = name */
    char *slash = strrchr(zLit, '/');
    w->zSingle = imgpca_strdup(slash ? slash + 1 : zLit);
    w->zSinglePath = imgpca_strdup(zLit);
    w->zRoot = !slash ? imgpca_strdup(".") : slash == zLit ? imgpca_strdup("/")
                                                           : imgpca_mprintf("%.*s", (int)(slash - zLit), zLit);
    if (!w->zSingle || !w->zSinglePath || !w->zRoot) return IMGPCA_NOMEM;
    return walk_prefixes(w, !slash);
  }
}

/* A glob pattern whose literal prefix (unescaped) is the nLit bytes of zLit:
** the root is the folder part of that prefix, the rest of the pattern is
** matched against paths relative to it. */
static int walk_open_glob(LocalWalk *w, const char *zPattern, char *zLit, size_t nLit, char *err) {
  struct stat st;
  char *slash;
  int bRootDot = 0;
  zLit[nLit] = 0;
  slash = strrchr(zLit, '/');
  {
    /* the literal prefix is computed on the unescaped text; find the
    ** matching split in the pattern by counting segments */
    size_t nSeg = 0, i;
    const char *p = zPattern;
    for (i = 0; slash && zLit + i <= slash; i++)
      if (zLit[i] == '/') nSeg++;
    for (i = 0; nSeg && p[i]; i++) {
      if (p[i] == '\\' && p[i + 1]) {
        i++;
        continue;
      }
      if (p[i] == '/' && --nSeg == 0) {
        p += i + 1;
        break;
      }
    }
    if (!slash) {
      w->zRoot = imgpca_strdup(".");
      bRootDot = 1;
    } else if (slash == zLit) {
      w->zRoot = imgpca_strdup("/");
    } else {
      *slash = 0;
      w->zRoot = imgpca_strdup(zLit);
    }
    w->zPattern = imgpca_strdup(slash ? p : zPattern);
  }
  if (!w->zRoot || !w->zPattern) return IMGPCA_NOMEM;
  if (stat(w->zRoot, &st) != 0 || !S_ISDIR(st.st_mode)) return imgpca_seterr(err, "no such folder '%s'", w->zRoot);
  return walk_root(w, bRootDot, err);
}

int local_walk_open(const char *zPattern, int bFileUrl, LocalWalk **pp, char *err) {
  LocalWalk *w;
  char *zLit = NULL;
  size_t nLit;
  int rc;
  *pp = NULL;
  w = imgpca_calloc(1, sizeof(*w));
  if (!w) return IMGPCA_NOMEM;
  w->bFileUrl = bFileUrl;
  imgpca_buf_init(&w->ebuf);
  nLit = imgpca_glob_prefix(zPattern, &zLit);
  if (!zLit) {
    imgpca_free(w);
    return IMGPCA_NOMEM;
  }
  if (!imgpca_glob_has_magic(zPattern))
    rc = walk_open_literal(w, zLit, err);
  else
    rc = walk_open_glob(w, zPattern, zLit, nLit, err);
  imgpca_free(zLit);
  if (rc) {
    local_walk_close(w);
    return rc;
  }
  *pp = w;
  return IMGPCA_OK;
}

int local_walk_next(LocalWalk *w, ImgpcaEntry *e, int *pEof, char *err) {
  *pEof = 0;
  if (w->zSingle) {
    struct stat st;
    int rc;
    if (w->bSingleDone || stat(w->zSinglePath, &st) != 0 || !S_ISREG(st.st_mode)) {
      *pEof = 1;
      return IMGPCA_OK;
    }
    w->bSingleDone = 1;
    rc = fill_entry(w, w->zOutPrefix, w->zSingle, w->zRootName, &st);
    if (rc) return rc;
    *e = w->cur;
    return IMGPCA_OK;
  }
  while (w->nStack > 0) {
    WalkDir *d = &w->aStack[w->nStack - 1];
    const WalkEnt *ent;
    struct stat st;
    int isDir = 0, rc;
    ent = dir_next(d, &rc, err);
    if (rc) return rc;
    if (!ent) {
      pop_dir(w);
      continue;
    }
    if ((++w->nPoll & 255) == 0 && (rc = walk_interrupted(w, err)) != IMGPCA_OK) return rc;
    switch (ent->type) {
      case DT_DIR: isDir = 1; break;
      case DT_REG: break;
      case DT_LNK:
      case DT_UNKNOWN:
        if (fstatat(d->fd, ent->z, &st, 0) != 0) continue; /* dangling link, vanished */
        if (S_ISDIR(st.st_mode))
          isDir = 1;
        else if (!S_ISREG(st.st_mode))
          continue;
        break;
      default: continue; /* FIFO, socket, device: never listed */
    }
    if (rel_set(w, d->nRel, ent->z)) return IMGPCA_NOMEM;
    if (isDir) {
      int fd, bSkip;
      size_t nRel;
      if (!dir_may_match(w->zPattern, w->zRel)) continue;
      rc = open_dir(w, d->fd, ent->z, &fd, &bSkip, err);
      if (rc) return rc;
      if (bSkip) continue;
      nRel = strlen(w->zRel);
      rc = push_fd(w, fd, nRel, ent->z, err); /* may move aStack: d is stale */
      if (rc) return rc;
      continue;
    }
    if (!imgpca_glob_match(w->zPattern, w->zRel)) continue;
    /* a regular file (d_type) is not stat'ed until its size, etag or time is
    ** asked for: count(*), key and url listings need no stat at all */
    rc = fill_entry(w, w->zOutPrefix, w->zRel, d->zName, ent->type == DT_REG ? NULL : &st);
    if (rc) return rc;
    w->curFd = d->fd;
    w->curName = ent->z;
    *e = w->cur;
    return IMGPCA_OK;
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
  imgpca_free(w->zOutPrefix);
  imgpca_free(w->zUrlPrefix);
  imgpca_free(w->zRootName);
  imgpca_free(w->zRel);
  imgpca_free(w->aSeen);
  imgpca_free(w->zSingle);
  imgpca_free(w->zSinglePath);
  imgpca_buf_free(&w->ebuf);
  imgpca_free(w);
}
