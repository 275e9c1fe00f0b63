/*
** Storage dispatch (no SQL behaviour of its own; behind s3_fetch, s3_put,
** s3_delete, s3_list and the csv exporter's ImgpcaWriter): one API over
** local files (local.c; listings: walk.c) and S3 (ext/s3), chosen by the URL
** scheme (url.c).
**
** S3 writer: data is buffered; once s3.multipart_threshold bytes have
** arrived a multipart upload is started and s3.part_size parts are sent as
** data arrives (memory stays below threshold + part size); commit sends the
** last part and completes, or a single PUT when the object stayed below the
** threshold.  Any failure, and imgpca_writer_abort, aborts the multipart
** upload, so neither a partial object nor an orphan upload remains.
**
** Progress (s3.progress on): listings print "objects, MB, MB/s" lines on
** stderr at most once per second and a summary at the end.
*/
#include "storage_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../s3/s3.h"

struct ImgpcaStorage {
  const ImgpcaConfig *cfg;
  S3Client *s3; /* created on first S3 use */
  int (*xInterrupted)(void *);
  void *pIntArg;
};

void imgpca_storage_set_interrupt(ImgpcaStorage *s, int (*xInterrupted)(void *), void *pArg) {
  s->xInterrupted = xInterrupted;
  s->pIntArg = pArg;
  if (s->s3) s3_client_set_interrupt(s->s3, xInterrupted, pArg);
}

int imgpca_storage_new(const ImgpcaConfig *cfg, ImgpcaStorage **pp, char *err) {
  ImgpcaStorage *s = imgpca_calloc(1, sizeof(*s));
  (void)err;
  *pp = NULL;
  if (!s) return IMGPCA_NOMEM;
  s->cfg = cfg;
  *pp = s;
  return IMGPCA_OK;
}

void imgpca_storage_free(ImgpcaStorage *s) {
  if (!s) return;
  s3_client_free(s->s3);
  imgpca_free(s);
}

static int get_s3(ImgpcaStorage *s, S3Client **pp, char *err);
int imgpca_storage_describe(ImgpcaStorage *s, ImgpcaBuf *b, char *err) {
  S3Client *c;
  int rc = get_s3(s, &c, err);
  return rc ? rc : s3_client_describe(c, b, err);
}

static int get_s3(ImgpcaStorage *s, S3Client **pp, char *err) {
  if (!s->s3) {
    int rc = s3_client_new(s->cfg, &s->s3, err);
    if (rc) return rc;
    s3_client_set_interrupt(s->s3, s->xInterrupted, s->pIntArg);
  }
  *pp = s->s3;
  return IMGPCA_OK;
}

int imgpca_storage_s3(ImgpcaStorage *s, S3Client **pp, char *err) { return get_s3(s, pp, err); }

int imgpca_storage_get(ImgpcaStorage *s, const char *zUrl, int64_t offset, int64_t length,
                       int64_t maxBytes, ImgpcaBuf *out, int *pNotFound, char *err) {
  ImgpcaUrl u;
  int rc;
  S3Client *c;
  imgpca_buf_init(out);
  if (pNotFound) *pNotFound = 0;
  rc = imgpca_url_parse(zUrl, &u, err);
  if (rc) return rc;
  if (u.eScheme == IMGPCA_URL_LOCAL) {
    rc = local_get(u.zKey, offset, length, maxBytes, out, pNotFound, err);
  } else if (!*u.zKey) {
    rc = imgpca_seterr(err, "invalid URL '%s': missing object key", zUrl);
  } else if ((rc = get_s3(s, &c, err)) == IMGPCA_OK) {
    rc = s3_get(c, u.zBucket, u.zKey, offset, length, maxBytes, out, pNotFound, err);
  }
  imgpca_url_free(&u);
  return rc;
}

int imgpca_storage_stat(ImgpcaStorage *s, const char *zUrl, int64_t *pSize, char **pzVersion, int *pNotFound,
                        char *err) {
  ImgpcaUrl u;
  int rc;
  S3Client *c;
  *pzVersion = NULL;
  *pSize = -1;
  if (pNotFound) *pNotFound = 0;
  rc = imgpca_url_parse(zUrl, &u, err);
  if (rc) return rc;
  if (u.eScheme == IMGPCA_URL_LOCAL) {
    struct stat st;
    if (stat(u.zKey, &st) != 0) {
      if (pNotFound) *pNotFound = errno == ENOENT;
      rc = imgpca_seterr(err, "cannot open '%s': %s", zUrl, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
      rc = imgpca_seterr(err, "'%s' is not a regular file", zUrl);
    } else {
      *pSize = (int64_t)st.st_size;
      *pzVersion = imgpca_mprintf("%llx-%llx-%llx",
                                  (unsigned long long)st.st_mtim.tv_sec * 1000000000ULL + (unsigned long long)st.st_mtim.tv_nsec,
                                  (unsigned long long)st.st_size, (unsigned long long)st.st_ino);
      if (!*pzVersion) rc = IMGPCA_NOMEM;
    }
  } else if (!*u.zKey) {
    rc = imgpca_seterr(err, "invalid URL '%s': missing object key", zUrl);
  } else if ((rc = get_s3(s, &c, err)) == IMGPCA_OK) {
    char *zEtag = NULL;
    rc = s3_head_etag(c, u.zBucket, u.zKey, pSize, &zEtag, pNotFound, err);
    if (rc == IMGPCA_OK) { /* no ETag (some servers): the size is all there is */
      *pzVersion = zEtag ? zEtag : imgpca_mprintf("size-%llx", (unsigned long long)*pSize);
      if (!*pzVersion) rc = IMGPCA_NOMEM;
    } else {
      imgpca_free(zEtag);
    }
  }
  imgpca_url_free(&u);
  return rc;
}

int imgpca_storage_read_local(const char *zUrl, int64_t maxBytes, ImgpcaBuf *out, int *pNotFound,
                              char *err) {
  ImgpcaUrl u;
  int rc;
  imgpca_buf_init(out);
  if (pNotFound) *pNotFound = 0;
  rc = imgpca_url_parse(zUrl, &u, err);
  if (rc) return rc;
  if (u.eScheme != IMGPCA_URL_LOCAL)
    rc = imgpca_seterr(err, "'%s' is not a local file URL", zUrl);
  else
    rc = local_get(u.zKey, 0, -1, maxBytes, out, pNotFound, err);
  imgpca_url_free(&u);
  return rc;
}

/* ---- queue of concurrent S3 GETs ---- */
struct ImgpcaGetQueue {
  ImgpcaStorage *s;
  S3Batch *batch;
};

int imgpca_getq_new(ImgpcaStorage *s, int nInflight, ImgpcaGetQueue **pp, char *err) {
  ImgpcaGetQueue *q;
  S3Client *c;
  int rc;
  *pp = NULL;
  q = imgpca_calloc(1, sizeof(*q));
  if (!q) return IMGPCA_NOMEM;
  q->s = s;
  rc = get_s3(s, &c, err);
  if (rc == IMGPCA_OK) rc = s3_batch_new(c, nInflight, &q->batch, err);
  if (rc) {
    imgpca_free(q);
    return rc;
  }
  *pp = q;
  return IMGPCA_OK;
}

void imgpca_getq_free(ImgpcaGetQueue *q) {
  if (!q) return;
  s3_batch_free(q->batch);
  imgpca_free(q);
}

int imgpca_getq_add(ImgpcaGetQueue *q, const char *zUrl, int64_t maxBytes, char *err) {
  ImgpcaUrl u;
  int rc = imgpca_url_parse(zUrl, &u, err);
  if (rc) return rc;
  if (u.eScheme != IMGPCA_URL_S3)
    rc = imgpca_seterr(err, "'%s' is not an s3:// URL", zUrl);
  else if (!*u.zKey)
    rc = imgpca_seterr(err, "invalid URL '%s': missing object key", zUrl);
  else
    rc = s3_batch_add(q->batch, u.zBucket, u.zKey, maxBytes, NULL, err);
  imgpca_url_free(&u);
  return rc;
}

int imgpca_getq_poll(ImgpcaGetQueue *q, int timeoutMs, char *err) { return s3_batch_poll(q->batch, timeoutMs, err); }
int imgpca_getq_ready(ImgpcaGetQueue *q) { return s3_batch_head_done(q->batch); }
int imgpca_getq_take(ImgpcaGetQueue *q, ImgpcaBuf *out, int *pNotFound, char *err) {
  return s3_batch_take(q->batch, out, pNotFound, err);
}
void imgpca_getq_wakeup(ImgpcaGetQueue *q) { s3_batch_wakeup(q->batch); }

int imgpca_storage_delete(ImgpcaStorage *s, const char *zUrl, int *pDeleted, char *err) {
  ImgpcaUrl u;
  int rc;
  S3Client *c;
  *pDeleted = 0;
  rc = imgpca_url_parse(zUrl, &u, err);
  if (rc) return rc;
  if (u.eScheme == IMGPCA_URL_LOCAL) {
    rc = local_delete(u.zKey, pDeleted, err);
  } else if (!*u.zKey) {
    rc = imgpca_seterr(err, "invalid URL '%s': missing object key", zUrl);
  } else if ((rc = get_s3(s, &c, err)) == IMGPCA_OK) {
    rc = s3_delete(c, u.zBucket, u.zKey, err);
    if (rc == IMGPCA_OK) *pDeleted = 1;
  }
  imgpca_url_free(&u);
  return rc;
}

/* ---- writer ---- */
struct ImgpcaWriter {
  ImgpcaStorage *s;
  LocalWriter *local;
  S3Client *c;
  char *zBucket, *zKey;
  ImgpcaBuf buf;
  size_t nThreshold, nPart;
  char *zUploadId;
  char **azEtag;
  int nEtag, nEtagAlloc;
  int64_t nBytes;
  int bFailed;
};

int imgpca_writer_open(ImgpcaStorage *s, const char *zUrl, ImgpcaWriter **pw, char *err) {
  ImgpcaUrl u;
  ImgpcaWriter *w;
  int rc;
  *pw = NULL;
  rc = imgpca_url_parse(zUrl, &u, err);
  if (rc) return rc;
  w = imgpca_calloc(1, sizeof(*w));
  if (!w) {
    imgpca_url_free(&u);
    return IMGPCA_NOMEM;
  }
  w->s = s;
  if (u.eScheme == IMGPCA_URL_LOCAL) {
    rc = local_writer_open(u.zKey, &w->local, err);
  } else if (!*u.zKey || u.zKey[strlen(u.zKey) - 1] == '/') {
    rc = imgpca_seterr(err, "invalid URL '%s': missing object key", zUrl);
  } else {
    rc = get_s3(s, &w->c, err);
    w->zBucket = u.zBucket;
    w->zKey = u.zKey;
    u.zBucket = u.zKey = NULL;
    w->nThreshold = (size_t)imgpca_config_int(s->cfg, "s3.multipart_threshold");
    w->nPart = (size_t)imgpca_config_int(s->cfg, "s3.part_size");
    if (w->nPart < 5242880) w->nPart = 5242880;
    if (w->nThreshold < w->nPart) w->nThreshold = w->nPart;
  }
  imgpca_url_free(&u);
  if (rc) {
    imgpca_writer_abort(w);
    return rc;
  }
  *pw = w;
  return IMGPCA_OK;
}

static int send_part(ImgpcaWriter *w, const unsigned char *p, size_t n, char *err) {
  char *zEtag = NULL;
  int rc;
  if (!w->zUploadId) {
    rc = s3_mpu_begin(w->c, w->zBucket, w->zKey, &w->zUploadId, err);
    if (rc) return rc;
  }
  if (w->nEtag == w->nEtagAlloc) {
    int nNew = w->nEtagAlloc ? w->nEtagAlloc * 2 : 16;
    char **a = imgpca_realloc(w->azEtag, (size_t)nNew * sizeof(char *));
    if (!a) return IMGPCA_NOMEM;
    w->azEtag = a;
    w->nEtagAlloc = nNew;
  }
  if (w->nEtag >= 10000) return imgpca_seterr(err, "upload of 's3://%s/%s' needs more than 10000 parts: raise s3.part_size", w->zBucket, w->zKey);
  rc = s3_mpu_part(w->c, w->zBucket, w->zKey, w->zUploadId, w->nEtag + 1, p, n, &zEtag, err);
  if (rc) return rc;
  w->azEtag[w->nEtag++] = zEtag;
  return IMGPCA_OK;
}

int imgpca_writer_write(ImgpcaWriter *w, const void *p, size_t n, char *err) {
  int rc;
  if (w->bFailed) return imgpca_seterr(err, "write after a failed write");
  if (w->local) {
    rc = local_writer_write(w->local, p, n, err);
  } else {
    rc = imgpca_buf_append(&w->buf, p, n);
    /* Once the object is known to be large, stream it part by part. */
    if (rc == IMGPCA_OK && (w->zUploadId || w->buf.n >= w->nThreshold)) {
      size_t off = 0;
      while (rc == IMGPCA_OK && w->buf.n - off >= w->nPart) {
        rc = send_part(w, w->buf.p + off, w->nPart, err);
        if (rc == IMGPCA_OK) off += w->nPart;
      }
      if (off) {
        memmove(w->buf.p, w->buf.p + off, w->buf.n - off);
        w->buf.n -= off;
      }
    }
  }
  if (rc == IMGPCA_OK)
    w->nBytes += (int64_t)n;
  else
    w->bFailed = 1;
  return rc;
}

static void writer_free(ImgpcaWriter *w) {
  int i;
  for (i = 0; i < w->nEtag; i++) imgpca_free(w->azEtag[i]);
  imgpca_free(w->azEtag);
  imgpca_free(w->zUploadId);
  imgpca_free(w->zBucket);
  imgpca_free(w->zKey);
  imgpca_buf_free(&w->buf);
  imgpca_free(w);
}

int imgpca_writer_commit(ImgpcaWriter *w, char **pzEtag, int64_t *pnBytes, char *err) {
  int rc = IMGPCA_OK;
  char *zEtag = NULL;
  if (pzEtag) *pzEtag = NULL;
  if (w->bFailed) {
    imgpca_writer_abort(w);
    return imgpca_seterr(err, "commit after a failed write");
  }
  if (w->local) {
    rc = local_writer_commit(w->local, pnBytes, err);
    w->local = NULL;
    writer_free(w);
    return rc;
  }
  if (!w->zUploadId) {
    rc = s3_put(w->c, w->zBucket, w->zKey, w->buf.p, w->buf.n, &zEtag, err);
  } else {
    if (w->buf.n) rc = send_part(w, w->buf.p, w->buf.n, err);
    if (rc == IMGPCA_OK)
      rc = s3_mpu_complete(w->c, w->zBucket, w->zKey, w->zUploadId, w->azEtag, w->nEtag, &zEtag, err);
    if (rc) s3_mpu_abort(w->c, w->zBucket, w->zKey, w->zUploadId);
  }
  if (rc == IMGPCA_OK) {
    /* ETags are quoted on the wire; return the bare value */
    if (zEtag) {
      size_t n = strlen(zEtag);
      if (n >= 2 && zEtag[0] == '"' && zEtag[n - 1] == '"') {
        memmove(zEtag, zEtag + 1, n - 2);
        zEtag[n - 2] = 0;
      }
    }
    if (pzEtag) {
      *pzEtag = zEtag;
      zEtag = NULL;
    }
    if (pnBytes) *pnBytes = w->nBytes;
  }
  imgpca_free(zEtag);
  writer_free(w);
  return rc;
}

void imgpca_writer_abort(ImgpcaWriter *w) {
  if (!w) return;
  if (w->local) local_writer_abort(w->local);
  if (w->zUploadId && w->c) s3_mpu_abort(w->c, w->zBucket, w->zKey, w->zUploadId);
  writer_free(w);
}

int imgpca_storage_put(ImgpcaStorage *s, const char *zUrl, const void *p, size_t n, char **pzEtag,
                       int64_t *pnBytes, char *err) {
  ImgpcaWriter *w;
  int rc = imgpca_writer_open(s, zUrl, &w, err);
  if (rc) return rc;
  rc = imgpca_writer_write(w, p, n, err);
  if (rc) {
    imgpca_writer_abort(w);
    return rc;
  }
  return imgpca_writer_commit(w, pzEtag, pnBytes, err);
}

/* ---- lister ---- */
struct ImgpcaLister {
  ImgpcaStorage *s;
  int bContent;
  int64_t maxBytes;
  /* local */
  LocalWalk *walk;
  /* S3 */
  S3Client *c;
  char *zScheme, *zBucket, *zPattern, *zPrefix;
  int bMagic;
  S3ListPage page;
  int iPage;
  int bListDone;
  char *zToken;
  ImgpcaEntry *aQ; /* ring of listed entries; aQ[iQ] is the current one */
  int nQ, iQ, nQAlloc;
  int nSubmitted; /* entries of the ring (from iQ) whose GET is queued */
  int bCurTaken;
  S3Batch *batch;
  int nWindow;
  ImgpcaEntry cur;
  int bHaveCur;
  int nEmpty; /* truncated pages without a key, in a row */
  int (*xInterrupted)(void *);
  void *pInterruptArg;
  /* progress */
  int bProgress;
  int64_t nListed, nObjects, nBytes;
  double t0, tLast;
  int bFinalDone;
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void progress(ImgpcaLister *l, int bFinal) {
  double t = now_s(), dt;
  if (!l->bProgress || l->bFinalDone) return;
  if (!bFinal && t - l->tLast < 1.0) return;
  l->tLast = t;
  if (bFinal) l->bFinalDone = 1;
  dt = t - l->t0 > 1e-9 ? t - l->t0 : 1e-9;
  fprintf(stderr, "imgpca: s3_list: %lld listed, %lld fetched, %.1f MB, %.1f MB/s, %.0f objects/s%s\n",
          (long long)l->nListed, (long long)l->nObjects, l->nBytes / 1e6, l->nBytes / 1e6 / dt,
          (l->bContent ? l->nObjects : l->nListed) / dt, bFinal ? " (done)" : "");
}

int imgpca_lister_open(ImgpcaStorage *s, const char *zUrlGlob, int bContent, int64_t maxBytes,
                       int64_t nAhead, ImgpcaLister **pp, char *err) {
  ImgpcaUrl u;
  ImgpcaLister *l;
  int rc;
  *pp = NULL;
  rc = imgpca_url_parse(zUrlGlob, &u, err);
  if (rc) return rc;
  l = imgpca_calloc(1, sizeof(*l));
  if (!l) {
    imgpca_url_free(&u);
    return IMGPCA_NOMEM;
  }
  l->s = s;
  l->bContent = bContent;
  l->maxBytes = maxBytes;
  l->bProgress = imgpca_config_bool(s->cfg, "s3.progress");
  l->t0 = l->tLast = now_s();
  if (u.eScheme == IMGPCA_URL_LOCAL) {
    rc = local_walk_open(u.zKey, strcmp(u.zScheme, "file") == 0, &l->walk, err);
  } else {
    rc = get_s3(s, &l->c, err);
    if (rc == IMGPCA_OK) {
      l->zScheme = imgpca_strdup(u.zScheme);
      l->zBucket = u.zBucket;
      l->zPattern = u.zKey;
      u.zBucket = u.zKey = NULL;
      l->bMagic = imgpca_glob_has_magic(l->zPattern);
      imgpca_glob_prefix(l->zPattern, &l->zPrefix);
      if (!l->zScheme || !l->zPrefix) rc = IMGPCA_NOMEM;
    }
    l->nWindow = (int)imgpca_config_int(s->cfg, "s3.max_inflight");
    if (nAhead > 0 && nAhead < l->nWindow) l->nWindow = (int)nAhead;
    if (l->nWindow < 1) l->nWindow = 1;
    if (rc == IMGPCA_OK && bContent) rc = s3_batch_new(l->c, l->nWindow, &l->batch, err);
  }
  imgpca_url_free(&u);
  if (rc) {
    imgpca_lister_close(l);
    return rc;
  }
  *pp = l;
  return IMGPCA_OK;
}

static int make_s3_entry(ImgpcaLister *l, S3Object *o, ImgpcaEntry *e) {
  const char *slash = strrchr(o->zKey, '/');
  memset(e, 0, sizeof(*e));
  e->zUrl = imgpca_mprintf("%s://%s/%s", l->zScheme, l->zBucket, o->zKey);
  e->zKey = o->zKey;
  o->zKey = NULL;
  e->zName = imgpca_strdup(slash ? slash + 1 : e->zKey);
  if (slash) {
    const char *p = slash;
    while (p > e->zKey && p[-1] != '/') p--;
    e->zParent = imgpca_mprintf("%.*s", (int)(slash - p), p);
  } else {
    e->zParent = imgpca_strdup(l->zBucket);
  }
  e->nSize = o->nSize;
  if (o->zEtag) {
    size_t n = strlen(o->zEtag);
    if (n >= 2 && o->zEtag[0] == '"' && o->zEtag[n - 1] == '"')
      e->zEtag = imgpca_mprintf("%.*s", (int)n - 2, o->zEtag + 1);
    else
      e->zEtag = imgpca_strdup(o->zEtag);
  } else {
    e->zEtag = imgpca_strdup("");
  }
  e->zLastModified = imgpca_strdup(o->zLastModified ? o->zLastModified : "");
  if (!e->zUrl || !e->zKey || !e->zName || !e->zParent || !e->zEtag || !e->zLastModified) {
    imgpca_entry_clear(e);
    return IMGPCA_NOMEM;
  }
  return IMGPCA_OK;
}

/* A server that answers a continuation token with the same token, or with
** empty truncated pages forever, would make the listing loop: stop it. */
static int check_page(ImgpcaLister *l, char *err) {
  if (!l->page.bTruncated) return IMGPCA_OK;
  if (l->zToken && l->page.zNextToken && strcmp(l->zToken, l->page.zNextToken) == 0)
    return imgpca_seterr(err, "listing of 's3://%s/%s' does not advance: the server repeated continuation token '%.40s'",
                         l->zBucket, l->zPrefix, l->zToken);
  l->nEmpty = l->page.n == 0 ? l->nEmpty + 1 : 0;
  if (l->nEmpty > IMGPCA_LIST_MAX_EMPTY)
    return imgpca_seterr(err, "listing of 's3://%s/%s' does not advance: %d truncated pages in a row without a key",
                         l->zBucket, l->zPrefix, l->nEmpty);
  return IMGPCA_OK;
}

void imgpca_lister_set_interrupt(ImgpcaLister *l, int (*xInterrupted)(void *), void *pArg) {
  l->xInterrupted = xInterrupted;
  l->pInterruptArg = pArg;
  if (l->walk) local_walk_set_interrupt(l->walk, xInterrupted, pArg);
}

/* Next matching S3 object from the listing pages (fetched lazily). */
static int s3_next_listed(ImgpcaLister *l, ImgpcaEntry *e, int *pEof, char *err) {
  *pEof = 0;
  for (;;) {
    while (l->iPage < l->page.n) {
      S3Object *o = &l->page.a[l->iPage++];
      if (l->bMagic && !imgpca_glob_match(l->zPattern, o->zKey)) continue;
      return make_s3_entry(l, o, e);
    }
    if (l->bListDone) {
      *pEof = 1;
      return IMGPCA_OK;
    }
    {
      char *zTok = l->page.zNextToken;
      int bTrunc = l->page.bTruncated, rc;
      l->page.zNextToken = NULL;
      s3_list_page_free(&l->page);
      l->iPage = 0;
      if (l->zToken || bTrunc || zTok) {
        imgpca_free(l->zToken);
        l->zToken = zTok;
      }
      if (l->xInterrupted && l->xInterrupted(l->pInterruptArg)) return IMGPCA_INTERRUPT;
      rc = s3_list_page(l->c, l->zBucket, l->zPrefix, l->zToken, 1000, &l->page, err);
      if (rc) return rc;
      if (!l->page.bTruncated) l->bListDone = 1;
      rc = check_page(l, err);
      if (rc) return rc;
      l->nListed += l->page.n;
      progress(l, 0);
    }
  }
}

/* Makes sure the ring holds n entries (fewer at the end of the listing). */
static int ring_fill(ImgpcaLister *l, int n, char *err) {
  while (l->nQ < n) {
    ImgpcaEntry e;
    int eof = 0, rc;
    if (l->nQ == l->nQAlloc) {
      int nNew = l->nQAlloc ? l->nQAlloc * 2 : 64, i;
      ImgpcaEntry *a = imgpca_calloc((size_t)nNew, sizeof(*a));
      if (!a) return IMGPCA_NOMEM;
      for (i = 0; i < l->nQ; i++) a[i] = l->aQ[(l->iQ + i) % l->nQAlloc];
      imgpca_free(l->aQ);
      l->aQ = a;
      l->nQAlloc = nNew;
      l->iQ = 0;
    }
    rc = s3_next_listed(l, &e, &eof, err);
    if (rc) return rc;
    if (eof) break;
    l->aQ[(l->iQ + l->nQ) % l->nQAlloc] = e;
    l->nQ++;
  }
  return IMGPCA_OK;
}

int imgpca_lister_next(ImgpcaLister *l, int *pEof, char *err) {
  int rc;
  *pEof = 0;
  if (l->walk) {
    rc = local_walk_next(l->walk, &l->cur, pEof, err);
    if (rc == IMGPCA_OK && !*pEof) {
      l->nListed++;
      progress(l, 0);
    }
    if (*pEof) progress(l, 1);
    return rc;
  }
  /* drop the current entry (and its prefetched body if nobody took it) */
  if (l->bHaveCur) {
    if (l->nSubmitted > 0) {
      if (!l->bCurTaken) {
        ImgpcaBuf junk;
        int nf;
        char e2[IMGPCA_ERRMAX];
        s3_batch_take(l->batch, &junk, &nf, e2);
        imgpca_buf_free(&junk);
      }
      l->nSubmitted--;
    }
    imgpca_entry_clear(&l->aQ[l->iQ]);
    l->iQ = (l->iQ + 1) % l->nQAlloc;
    l->nQ--;
    l->bHaveCur = 0;
  }
  l->bCurTaken = 0;
  rc = ring_fill(l, l->batch ? l->nWindow : 1, err);
  if (rc) return rc;
  if (l->nQ == 0) {
    *pEof = 1;
    progress(l, 1);
    return IMGPCA_OK;
  }
  /* queue GETs for the entries of the window not queued yet, in order */
  while (l->batch && l->nSubmitted < l->nQ && l->nSubmitted < l->nWindow) {
    ImgpcaEntry *e = &l->aQ[(l->iQ + l->nSubmitted) % l->nQAlloc];
    rc = s3_batch_add(l->batch, l->zBucket, e->zKey, l->maxBytes, NULL, err);
    if (rc) return rc;
    l->nSubmitted++;
  }
  l->bHaveCur = 1;
  l->cur = l->aQ[l->iQ];
  return IMGPCA_OK;
}

const ImgpcaEntry *imgpca_lister_entry(ImgpcaLister *l) {
  if (l->walk) local_walk_stat(l->walk, &l->cur);
  return &l->cur;
}

const ImgpcaEntry *imgpca_lister_entry_names(ImgpcaLister *l) { return &l->cur; }

int imgpca_lister_content(ImgpcaLister *l, ImgpcaBuf *out, char *err) {
  int nf = 0, rc;
  imgpca_buf_init(out);
  if (l->walk) {
    rc = local_get(local_walk_path(l->walk), 0, -1, l->maxBytes, out, &nf, err);
  } else if (!l->bHaveCur) {
    return imgpca_seterr(err, "no current row");
  } else if (l->batch && l->nSubmitted > 0 && !l->bCurTaken) {
    rc = s3_batch_take(l->batch, out, &nf, err);
    l->bCurTaken = 1;
  } else {
    rc = s3_get(l->c, l->zBucket, l->cur.zKey, 0, -1, l->maxBytes, out, &nf, err);
  }
  if (rc == IMGPCA_OK) {
    l->nObjects++;
    l->nBytes += (int64_t)out->n;
    progress(l, 0);
  }
  return rc;
}

void imgpca_lister_close(ImgpcaLister *l) {
  int i;
  if (!l) return;
  progress(l, 1);
  if (l->walk) local_walk_close(l->walk);
  s3_batch_free(l->batch);
  for (i = 0; i < l->nQ; i++) imgpca_entry_clear(&l->aQ[(l->iQ + i) % l->nQAlloc]);
  imgpca_free(l->aQ);
  s3_list_page_free(&l->page);
  imgpca_free(l->zToken);
  imgpca_free(l->zScheme);
  imgpca_free(l->zBucket);
  imgpca_free(l->zPattern);
  imgpca_free(l->zPrefix);
  imgpca_free(l);
}
