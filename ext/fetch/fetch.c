/*
** Concurrent fetch core (no SQL behaviour of its own; behind the table
** s3_fetch_many, see fetch_sql.c).  Design in fetch.h; in short:
**
**   input list  u0 u1 u2 ... un
**                  ^head     ^head+window       (slots: a ring of window items)
**   s3:// items:  GET queued on the storage layer's curl multi queue at
**                 admission, bodies taken in order by the stepping thread;
**   local items:  read by a worker (open O_NONBLOCK + fstat: FIFOs, folders
**                 and devices are refused without blocking);
**   features:     decoded and computed by a worker (img_features_blob);
**   thumbnail:    made by the same worker from the same body (img_thumbnail);
**   output:       the head item once it is done, strictly in input order.
**
** Synchronisation: one mutex and two condition variables.  A slot is owned by
** the stepping thread except while it is SLOT_BUSY (a worker's); state
** changes go through the mutex.  Workers wake a stepping thread blocked in
** curl_multi_poll with imgpca_getq_wakeup.
*/
#include "fetch.h"

#include "../cnn/cnn.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

enum { SLOT_FREE = 0,
       SLOT_GET,
       SLOT_WORK,
       SLOT_BUSY,
       SLOT_DONE };

typedef struct Slot {
  int state;
  int rc;    /* IMGPCA_NOMEM of the work, else IMGPCA_OK */
  int bBody; /* body holds the object */
  ImgpcaBuf body;
  ImgpcaFetchItem item;
} Slot;

struct ImgpcaFetch {
  ImgpcaStorage *s;
  ImgpcaFetchOpts o;
  char **azUrl;
  int64_t nUrl, nUrlAlloc;
  Slot *aSlot;
  int nWin;
  int64_t iHead;  /* item returned by the last imgpca_fetch_next (-1 before) */
  int64_t iAdmit; /* next item to admit */
  /* S3 */
  ImgpcaGetQueue *q;
  int qRc; /* failure creating the queue (kept: reported for every s3:// item) */
  char *zQErr;
  int64_t *aGet; /* ring of items whose GET is queued, in queue order */
  int nGet, iGet;
  /* worker pool */
  pthread_t *aTh;
  int nTh;
  int bSync;        /* mutex and condition variables initialised */
  int bCnnParallel; /* cnn_parallel_begin() called: workers run whole inferences */
  pthread_mutex_t mu;
  pthread_cond_t cvWork, cvDone;
  int64_t *aWork; /* ring of items waiting for a worker */
  int nWork, iWork;
  int bStop;
  int bStarted;
  int64_t nStarted;
};

static Slot *slot_of(ImgpcaFetch *f, int64_t i) { return &f->aSlot[i % f->nWin]; }

static int item_error(ImgpcaFetchItem *it, const char *zFmt, const char *a, const char *b) {
  imgpca_free(it->zError);
  it->zError = b ? imgpca_mprintf(zFmt, a, b) : imgpca_mprintf(zFmt, a);
  return it->zError ? IMGPCA_OK : IMGPCA_NOMEM;
}

/* The body is complete: features, then keep or drop the body. */
static int slot_finish(ImgpcaFetch *f, Slot *sl) {
  ImgpcaFetchItem *it = &sl->item;
  int rc = IMGPCA_OK;
  it->nSize = (int64_t)sl->body.n;
  if (f->o.bFeatures) {
    char err[IMGPCA_ERRMAX];
    int bDecode = 0;
    err[0] = 0;
    rc = img_features_blob(sl->body.p, sl->body.n, &f->o.spec, f->o.maxPixels, &it->pFeat, &it->nFeat,
                           &bDecode, err);
    if (rc == IMGPCA_ERROR) rc = item_error(it, "features of '%s': %s", it->zUrl, err);
  }
  if (rc == IMGPCA_OK && f->o.nThumb > 0) {
    char err[IMGPCA_ERRMAX];
    int rt;
    err[0] = 0;
    /* the body is in memory already: a thumbnail costs no second request */
    rt = img_thumbnail(sl->body.p, sl->body.n, f->o.maxPixels, f->o.nThumb, IMG_FMT_JPEG, IMGPCA_FETCH_THUMB_QUALITY,
                       &it->pThumb, &it->nThumb, err);
    if (rt == IMGPCA_NOMEM)
      rc = rt;
    else if (rt && !it->zError)
      rc = item_error(it, "thumbnail of '%s': %s", it->zUrl, err);
  }
  if (rc == IMGPCA_OK && f->o.bContent) {
    it->pContent = imgpca_buf_detach(&sl->body, &it->nContent);
    if (!it->pContent) it->nContent = 0;
  }
  imgpca_buf_free(&sl->body);
  sl->bBody = 0;
  return rc;
}

/* The work of a worker (or of the stepping thread without workers): read a
** local file if needed, then finish.  Touches only *sl and immutable fields. */
static int slot_work(ImgpcaFetch *f, Slot *sl) {
  if (!sl->bBody) {
    char err[IMGPCA_ERRMAX];
    int nf = 0, rc;
    err[0] = 0;
    rc = imgpca_storage_read_local(sl->item.zUrl, f->o.maxBytes, &sl->body, &nf, err);
    if (rc == IMGPCA_NOMEM) return rc;
    if (rc) return item_error(&sl->item, "%s", err, NULL);
    sl->bBody = 1;
  }
  return slot_finish(f, sl);
}

static void slot_release(Slot *sl) {
  imgpca_free(sl->item.pContent);
  imgpca_free(sl->item.pFeat);
  imgpca_free(sl->item.pThumb);
  imgpca_free(sl->item.zError);
  imgpca_buf_free(&sl->body);
  memset(sl, 0, sizeof(*sl));
}

static void *worker_main(void *arg) {
  ImgpcaFetch *f = arg;
  pthread_mutex_lock(&f->mu);
  for (;;) {
    Slot *sl;
    int64_t i;
    int rc;
    while (!f->bStop && f->nWork == 0) pthread_cond_wait(&f->cvWork, &f->mu);
    if (f->bStop) break;
    i = f->aWork[f->iWork];
    f->iWork = (f->iWork + 1) % f->nWin;
    f->nWork--;
    sl = slot_of(f, i);
    sl->state = SLOT_BUSY;
    f->nStarted++;
    pthread_mutex_unlock(&f->mu);
    rc = slot_work(f, sl);
    pthread_mutex_lock(&f->mu);
    sl->rc = rc;
    sl->state = SLOT_DONE;
    pthread_cond_signal(&f->cvDone);
    if (f->q) imgpca_getq_wakeup(f->q);
  }
  pthread_mutex_unlock(&f->mu);
  return NULL;
}

int imgpca_fetch_new(ImgpcaStorage *s, const ImgpcaFetchOpts *o, ImgpcaFetch **pp, char *err) {
  ImgpcaFetch *f = imgpca_calloc(1, sizeof(*f));
  (void)err;
  *pp = NULL;
  if (!f) return IMGPCA_NOMEM;
  f->s = s;
  f->o = *o; /* takes over the spec's model references (img_spec_release in imgpca_fetch_free) */
  if (f->o.nThreads < 0) f->o.nThreads = 0;
  if (f->o.nInflight < 1) f->o.nInflight = 1;
  f->iHead = -1;
  *pp = f;
  return IMGPCA_OK;
}

int imgpca_fetch_add(ImgpcaFetch *f, const char *zUrl) {
  char *z;
  if (f->bStarted) return IMGPCA_ERROR;
  if (f->nUrl == f->nUrlAlloc) {
    int64_t nNew = f->nUrlAlloc ? f->nUrlAlloc * 2 : 64;
    char **a = imgpca_realloc(f->azUrl, (size_t)nNew * sizeof(char *));
    if (!a) return IMGPCA_NOMEM;
    f->azUrl = a;
    f->nUrlAlloc = nNew;
  }
  z = imgpca_strdup(zUrl);
  if (!z) return IMGPCA_NOMEM;
  f->azUrl[f->nUrl++] = z;
  return IMGPCA_OK;
}

int imgpca_fetch_threads(ImgpcaFetch *f) { return f->nTh; }
int imgpca_fetch_window(ImgpcaFetch *f) { return f->nWin; }

int64_t imgpca_fetch_started(ImgpcaFetch *f) {
  int64_t n;
  if (!f->bSync) return f->nStarted;
  pthread_mutex_lock(&f->mu);
  n = f->nStarted;
  pthread_mutex_unlock(&f->mu);
  return n;
}

static int fetch_start(ImgpcaFetch *f, char *err) {
  int64_t w;
  int nTh, i;
  f->bStarted = 1;
  nTh = f->o.nThreads;
  if (nTh > f->nUrl) nTh = (int)f->nUrl;
  if (f->nUrl < 2) nTh = 0; /* one object (e.g. a join feeding url = ? row by row): no thread to start */
  w = f->o.nWindow > 0 ? f->o.nWindow : f->o.nInflight;
  if (f->o.nWindow <= 0 && w < 2 * (int64_t)f->o.nThreads) w = 2 * (int64_t)f->o.nThreads;
  if (f->o.nWindow <= 0 && w < 4) w = 4;
  if (w > f->nUrl) w = f->nUrl;
  if (w < 1) w = 1;
  f->nWin = (int)w;
  f->aSlot = imgpca_calloc((size_t)f->nWin, sizeof(Slot));
  f->aGet = imgpca_calloc((size_t)f->nWin, sizeof(int64_t));
  f->aWork = imgpca_calloc((size_t)f->nWin, sizeof(int64_t));
  if (!f->aSlot || !f->aGet || !f->aWork) return IMGPCA_NOMEM;
  if (nTh <= 0) return IMGPCA_OK;
  if (pthread_mutex_init(&f->mu, NULL)) return imgpca_seterr(err, "cannot create a mutex");
  if (pthread_cond_init(&f->cvWork, NULL)) {
    pthread_mutex_destroy(&f->mu);
    return imgpca_seterr(err, "cannot create a condition variable");
  }
  if (pthread_cond_init(&f->cvDone, NULL)) {
    pthread_cond_destroy(&f->cvWork);
    pthread_mutex_destroy(&f->mu);
    return imgpca_seterr(err, "cannot create a condition variable");
  }
  f->bSync = 1;
  f->aTh = imgpca_calloc((size_t)nTh, sizeof(pthread_t));
  if (!f->aTh) return IMGPCA_NOMEM;
  {
    /* Workers take no signals: they stay with the application's threads. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (i = 0; i < nTh; i++) {
      if (pthread_create(&f->aTh[i], NULL, worker_main, f) != 0) break;
      f->nTh++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
  }
  /* Fewer threads than asked (resource limits) is fine; none = inline. */
  if (f->nTh > 1 && f->o.bFeatures) {
    for (i = 0; i < f->o.spec.n; i++)
      if (f->o.spec.a[i].kind == IMG_CNN) f->bCnnParallel = 1;
    if (f->bCnnParallel) cnn_parallel_begin(); /* one inference per worker, single-threaded BLAS */
  }
  return IMGPCA_OK;
}

/* A slot's body (or local file) is ready for the work stage. */
static void dispatch(ImgpcaFetch *f, int64_t i) {
  Slot *sl = slot_of(f, i);
  if (f->nTh == 0) {
    sl->state = SLOT_WORK;
    return;
  }
  pthread_mutex_lock(&f->mu);
  sl->state = SLOT_WORK;
  f->aWork[(f->iWork + f->nWork) % f->nWin] = i;
  f->nWork++;
  pthread_cond_signal(&f->cvWork);
  pthread_mutex_unlock(&f->mu);
}

static void set_done(ImgpcaFetch *f, Slot *sl) {
  if (f->bSync) pthread_mutex_lock(&f->mu);
  sl->state = SLOT_DONE;
  if (f->bSync) pthread_mutex_unlock(&f->mu);
}

static int slot_state(ImgpcaFetch *f, Slot *sl) {
  int st;
  if (!f->bSync) return sl->state;
  pthread_mutex_lock(&f->mu);
  st = sl->state;
  pthread_mutex_unlock(&f->mu);
  return st;
}

static int admit(ImgpcaFetch *f, char *err) {
  int rc;
  while (f->iAdmit < f->nUrl && f->iAdmit < f->iHead + f->nWin) {
    int64_t i = f->iAdmit++;
    Slot *sl = slot_of(f, i);
    memset(sl, 0, sizeof(*sl));
    sl->item.iItem = i;
    sl->item.zUrl = f->azUrl[i];
    sl->item.nSize = -1;
    if (!imgpca_url_is_s3(sl->item.zUrl)) {
      dispatch(f, i);
      continue;
    }
    if (!f->q && !f->qRc) {
      ImgpcaGetQueue *q = NULL;
      err[0] = 0;
      rc = f->s ? imgpca_getq_new(f->s, f->o.nInflight, &q, err)
                : imgpca_seterr(err, "no S3 client for '%s'", sl->item.zUrl);
      if (rc == IMGPCA_NOMEM) return rc;
      if (rc) {
        f->qRc = rc;
        f->zQErr = imgpca_strdup(err);
        if (!f->zQErr) return IMGPCA_NOMEM;
      } else {
        if (f->bSync) pthread_mutex_lock(&f->mu);
        f->q = q;
        if (f->bSync) pthread_mutex_unlock(&f->mu);
      }
    }
    if (!f->q) {
      rc = item_error(&sl->item, "%s", f->zQErr, NULL);
      if (rc) return rc;
      set_done(f, sl);
      continue;
    }
    err[0] = 0;
    rc = imgpca_getq_add(f->q, sl->item.zUrl, f->o.maxBytes, err);
    if (rc == IMGPCA_NOMEM) return rc;
    if (rc) {
      rc = item_error(&sl->item, "%s", err, NULL);
      if (rc) return rc;
      set_done(f, sl);
      continue;
    }
    f->aGet[(f->iGet + f->nGet) % f->nWin] = i;
    f->nGet++;
    sl->state = SLOT_GET;
  }
  return IMGPCA_OK;
}

/* Takes the finished GETs in queue order; with bHead, also waits for the
** head item's GET. */
static int take_gets(ImgpcaFetch *f, int bHead, char *err) {
  while (f->nGet > 0) {
    int64_t i = f->aGet[f->iGet];
    Slot *sl = slot_of(f, i);
    int nf = 0, rc;
    if (!imgpca_getq_ready(f->q) && !(bHead && i == f->iHead)) break;
    err[0] = 0;
    rc = imgpca_getq_take(f->q, &sl->body, &nf, err);
    f->iGet = (f->iGet + 1) % f->nWin;
    f->nGet--;
    if (rc == IMGPCA_NOMEM) return rc;
    if (rc) {
      rc = item_error(&sl->item, "%s", err, NULL);
      if (rc) return rc;
      set_done(f, sl);
      continue;
    }
    sl->bBody = 1;
    if (f->o.bFeatures || f->o.nThumb > 0) { /* decoding goes to the workers */
      dispatch(f, i);
    } else {
      sl->rc = slot_finish(f, sl);
      set_done(f, sl);
    }
  }
  return IMGPCA_OK;
}

int imgpca_fetch_next(ImgpcaFetch *f, ImgpcaFetchItem **ppItem, int *pEof, char *err) {
  Slot *sl;
  int rc;
  *ppItem = NULL;
  *pEof = 0;
  if (!f->bStarted) {
    rc = fetch_start(f, err);
    if (rc) return rc;
  }
  if (f->iHead >= 0 && f->iHead < f->nUrl) slot_release(slot_of(f, f->iHead));
  if (f->iHead < f->nUrl) f->iHead++;
  if (f->iHead >= f->nUrl) {
    *pEof = 1;
    return IMGPCA_OK;
  }
  rc = admit(f, err);
  if (rc) return rc;
  sl = slot_of(f, f->iHead);
  for (;;) {
    int st;
    if (f->nGet > 0) {
      rc = imgpca_getq_poll(f->q, 0, err);
      if (rc == IMGPCA_OK) rc = take_gets(f, 0, err);
      if (rc) return rc;
    }
    st = slot_state(f, sl);
    if (st == SLOT_DONE) break;
    if (st == SLOT_GET) {
      rc = take_gets(f, 1, err);
      if (rc) return rc;
    } else if (f->nTh == 0) {
      sl->rc = slot_work(f, sl);
      sl->state = SLOT_DONE;
    } else if (f->nGet > 0) {
      /* transfers to drive while the workers decode; a worker's wakeup ends the wait */
      rc = imgpca_getq_poll(f->q, 100, err);
      if (rc) return rc;
    } else {
      pthread_mutex_lock(&f->mu);
      while (sl->state != SLOT_DONE) pthread_cond_wait(&f->cvDone, &f->mu);
      pthread_mutex_unlock(&f->mu);
    }
  }
  if (sl->rc) return sl->rc;
  *ppItem = &sl->item;
  return IMGPCA_OK;
}

void imgpca_fetch_free(ImgpcaFetch *f) {
  int i;
  int64_t k;
  if (!f) return;
  if (f->bSync) {
    pthread_mutex_lock(&f->mu);
    f->bStop = 1;
    pthread_cond_broadcast(&f->cvWork);
    pthread_mutex_unlock(&f->mu);
    for (i = 0; i < f->nTh; i++) pthread_join(f->aTh[i], NULL);
    pthread_cond_destroy(&f->cvWork);
    pthread_cond_destroy(&f->cvDone);
    pthread_mutex_destroy(&f->mu);
  }
  if (f->aSlot)
    for (i = 0; i < f->nWin; i++) slot_release(&f->aSlot[i]);
  imgpca_getq_free(f->q);
  for (k = 0; k < f->nUrl; k++) imgpca_free(f->azUrl[k]);
  imgpca_free(f->azUrl);
  imgpca_free(f->aSlot);
  imgpca_free(f->aGet);
  imgpca_free(f->aWork);
  imgpca_free(f->aTh);
  imgpca_free(f->zQErr);
  if (f->bCnnParallel) cnn_parallel_end();
  img_spec_release(&f->o.spec);
  imgpca_free(f);
}

/* ---- CPUs available ---- */
