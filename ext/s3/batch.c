/*
** Concurrent GETs of the S3 client (no SQL behaviour of their own): behind
** s3_fetch_many and the content column of s3_list.  Whole-object GETs are
** queued on one curl multi handle, at most nInflight (s3.max_inflight) in
** flight, and taken in submission order; a failed one is done again through
** the synchronous s3_get, which retries and words the error.  Another thread
** may wake up a waiting s3_batch_poll (curl_multi_wakeup).
*/
#include "s3_int.h"

#include <string.h>

/* ---- concurrent GETs ---- */
typedef struct S3Job {
  char *zBucket, *zKey;
  int64_t maxBytes;
  int state; /* 0 queued, 1 running, 2 done */
  CURLcode cc;
  CURL *h;
  S3Attempt a;
  S3Resp resp;
  S3Req req;
} S3Job;

struct S3Batch {
  S3Client *c;
  CURLM *multi;
  int nInflight;
  int nRunning;
  S3Job **a; /* FIFO ring */
  int nAlloc, iHead, n;
  int64_t nTicket;
};

int s3_batch_new(S3Client *c, int nInflight, S3Batch **pp, char *err) {
  S3Batch *b = imgpca_calloc(1, sizeof(*b));
  int rc;
  *pp = NULL;
  if (!b) return IMGPCA_NOMEM;
  rc = s3_client_creds(c, err);
  if (rc) {
    imgpca_free(b);
    return rc;
  }
  b->c = c;
  b->nInflight = nInflight < 1 ? 1 : nInflight;
  b->multi = curl_multi_init();
  if (!b->multi) {
    imgpca_free(b);
    return IMGPCA_NOMEM;
  }
  curl_multi_setopt(b->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)b->nInflight);
  curl_multi_setopt(b->multi, CURLMOPT_MAXCONNECTS, (long)b->nInflight);
  *pp = b;
  return IMGPCA_OK;
}

static void job_free(S3Batch *b, S3Job *j) {
  if (!j) return;
  if (j->h) {
    if (j->state == 1) curl_multi_remove_handle(b->multi, j->h);
    curl_easy_cleanup(j->h);
  }
  s3_attempt_clear(&j->a);
  s3_resp_free(&j->resp);
  imgpca_free(j->zBucket);
  imgpca_free(j->zKey);
  imgpca_free(j);
}

void s3_batch_free(S3Batch *b) {
  int i;
  if (!b) return;
  for (i = 0; i < b->n; i++) job_free(b, b->a[(b->iHead + i) % b->nAlloc]);
  imgpca_free(b->a);
  curl_multi_cleanup(b->multi);
  imgpca_free(b);
}

int s3_batch_add(S3Batch *b, const char *zBucket, const char *zKey, int64_t maxBytes, int64_t *pTicket,
                 char *err) {
  S3Job *j;
  (void)err;
  if (b->n == b->nAlloc) {
    int nNew = b->nAlloc ? b->nAlloc * 2 : 64, i;
    S3Job **a = imgpca_calloc((size_t)nNew, sizeof(*a));
    if (!a) return IMGPCA_NOMEM;
    for (i = 0; i < b->n; i++) a[i] = b->a[(b->iHead + i) % b->nAlloc];
    imgpca_free(b->a);
    b->a = a;
    b->nAlloc = nNew;
    b->iHead = 0;
  }
  j = imgpca_calloc(1, sizeof(*j));
  if (!j) return IMGPCA_NOMEM;
  j->zBucket = imgpca_strdup(zBucket);
  j->zKey = imgpca_strdup(zKey);
  if (!j->zBucket || !j->zKey) {
    job_free(b, j);
    return IMGPCA_NOMEM;
  }
  j->maxBytes = maxBytes;
  j->resp.nContentLength = -1;
  s3_req_init(&j->req, "GET", j->zBucket, j->zKey, NULL, maxBytes);
  b->a[(b->iHead + b->n) % b->nAlloc] = j;
  b->n++;
  if (pTicket) *pTicket = b->nTicket;
  b->nTicket++;
  return IMGPCA_OK;
}

/* Starts queued jobs while slots are free (in FIFO order). */
static int batch_fill(S3Batch *b, char *err) {
  int i;
  for (i = 0; i < b->n && b->nRunning < b->nInflight; i++) {
    S3Job *j = b->a[(b->iHead + i) % b->nAlloc];
    int rc;
    if (j->state != 0) continue;
    char zRegion[64];
    if (!j->h && !(j->h = curl_easy_init())) return IMGPCA_NOMEM;
    rc = s3_client_region(b->c, j->zBucket, zRegion, err);
    if (rc == IMGPCA_OK) rc = s3_attempt_setup(b->c, &j->req, zRegion, j->h, &j->a, &j->resp, err);
    if (rc) return rc;
    if (curl_multi_add_handle(b->multi, j->h) != CURLM_OK) return IMGPCA_NOMEM;
    j->state = 1;
    b->nRunning++;
  }
  return IMGPCA_OK;
}

static void batch_reap(S3Batch *b) {
  CURLMsg *m;
  int left, i;
  while ((m = curl_multi_info_read(b->multi, &left)) != NULL) {
    if (m->msg != CURLMSG_DONE) continue;
    for (i = 0; i < b->n; i++) {
      S3Job *j = b->a[(b->iHead + i) % b->nAlloc];
      if (j->h == m->easy_handle && j->state == 1) {
        j->cc = m->data.result;
        curl_easy_getinfo(j->h, CURLINFO_RESPONSE_CODE, &j->resp.status);
        curl_multi_remove_handle(b->multi, j->h);
        s3_attempt_clear(&j->a);
        j->state = 2;
        b->nRunning--;
        break;
      }
    }
  }
}

int s3_batch_take(S3Batch *b, ImgpcaBuf *out, int *pNotFound, char *err) {
  S3Job *j;
  int rc;
  imgpca_buf_init(out);
  if (pNotFound) *pNotFound = 0;
  if (b->n == 0) return imgpca_seterr(err, "no request queued");
  j = b->a[b->iHead];
  for (;;) {
    int running;
    rc = batch_fill(b, err);
    if (rc) return rc;
    if (j->state == 2) break;
    if (curl_multi_perform(b->multi, &running) != CURLM_OK) return imgpca_seterr(err, "curl_multi_perform failed");
    batch_reap(b);
    if (j->state == 2) break;
    curl_multi_poll(b->multi, NULL, 0, 100, NULL);
    if (s3_client_interrupted(b->c)) return IMGPCA_INTERRUPT;
  }
  /* keep the pipeline full while the caller works on this one */
  rc = batch_fill(b, err);
  if (rc == IMGPCA_OK) {
    int running;
    curl_multi_perform(b->multi, &running);
    batch_reap(b);
  }
  b->iHead = (b->iHead + 1) % b->nAlloc;
  b->n--;
  if (j->cc == CURLE_OK && j->resp.status / 100 == 2 &&
      (j->resp.nContentLength < 0 || (int64_t)j->resp.body.n == j->resp.nContentLength)) {
    *out = j->resp.body;
    imgpca_buf_init(&j->resp.body);
    rc = IMGPCA_OK;
  } else {
    /* Anything else (error status, transport error, truncation) goes through
    ** the synchronous path, which retries and formats the error. */
    rc = s3_get(b->c, j->zBucket, j->zKey, 0, -1, j->maxBytes, out, pNotFound, err);
  }
  job_free(b, j);
  return rc;
}

int s3_batch_poll(S3Batch *b, int timeoutMs, char *err) {
  int running, rc = batch_fill(b, err);
  if (rc) return rc;
  if (curl_multi_perform(b->multi, &running) != CURLM_OK) return imgpca_seterr(err, "curl_multi_perform failed");
  batch_reap(b);
  if (timeoutMs > 0 && !s3_batch_head_done(b)) {
    curl_multi_poll(b->multi, NULL, 0, timeoutMs, NULL);
    if (s3_client_interrupted(b->c)) return IMGPCA_INTERRUPT;
    rc = batch_fill(b, err);
    if (rc) return rc;
    if (curl_multi_perform(b->multi, &running) != CURLM_OK) return imgpca_seterr(err, "curl_multi_perform failed");
    batch_reap(b);
  }
  return batch_fill(b, err);
}

int s3_batch_head_done(S3Batch *b) { return b->n > 0 && b->a[b->iHead]->state == 2; }

void s3_batch_wakeup(S3Batch *b) { curl_multi_wakeup(b->multi); }
