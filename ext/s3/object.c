/*
** Object requests of the S3 client (no SQL behaviour of their own): GET
** (whole or a byte range) behind s3_fetch and s3_list's content, PUT behind
** s3_put and the writers below s3.multipart_threshold, DELETE behind
** s3_delete, HEAD (size and ETag) behind s3_concat's parts and the version of
** a cnn: model file, and one ListObjectsV2 page behind s3_list.  A missing
** object is reported through *pNotFound (s3_fetch_or_null).
*/
#include "s3_int.h"

#include <stdio.h>
#include <string.h>

/* ---- operations ---- */
int s3_get(S3Client *c, const char *zBucket, const char *zKey, int64_t offset, int64_t length,
           int64_t maxBytes, ImgpcaBuf *out, int *pNotFound, char *err) {
  S3Req r;
  S3Resp resp;
  char range[64];
  int rc;
  if (pNotFound) *pNotFound = 0;
  /* an empty range only checks that the object exists */
  s3_req_init(&r, length == 0 ? "HEAD" : "GET", zBucket, zKey, NULL, maxBytes);
  if (length != 0 && (offset > 0 || length > 0)) {
    if (length > 0)
      snprintf(range, sizeof range, "bytes=%lld-%lld", (long long)offset, (long long)(offset + length - 1));
    else
      snprintf(range, sizeof range, "bytes=%lld-", (long long)offset);
    r.zRange = range;
  }
  rc = s3_do(c, &r, &resp, err);
  if (rc == IMGPCA_ERROR && resp.status == 404 && pNotFound) *pNotFound = 1;
  if (rc == IMGPCA_OK && length != 0) {
    *out = resp.body;
    imgpca_buf_init(&resp.body);
  }
  s3_resp_free(&resp);
  return rc;
}

int s3_put(S3Client *c, const char *zBucket, const char *zKey, const void *p, size_t n,
           char **pzEtag, char *err) {
  S3Req r;
  S3Resp resp;
  int rc;
  s3_req_init(&r, "PUT", zBucket, zKey, NULL, 1 << 20);
  r.pBody = p ? p : (const unsigned char *)"";
  r.nBody = n;
  rc = s3_do(c, &r, &resp, err);
  if (rc == IMGPCA_OK) rc = s3_take_etag(&resp, pzEtag);
  s3_resp_free(&resp);
  return rc;
}

int s3_delete(S3Client *c, const char *zBucket, const char *zKey, char *err) {
  S3Req r;
  S3Resp resp;
  int rc;
  s3_req_init(&r, "DELETE", zBucket, zKey, NULL, 1 << 20);
  rc = s3_do(c, &r, &resp, err);
  s3_resp_free(&resp);
  return rc;
}

int s3_list_page(S3Client *c, const char *zBucket, const char *zPrefix, const char *zToken,
                 int nMax, S3ListPage *out, char *err) {
  S3Req r;
  S3Resp resp;
  S3Query q;
  char zMax[16];
  int rc;
  memset(out, 0, sizeof(*out));
  snprintf(zMax, sizeof zMax, "%d", nMax > 0 && nMax < 1000 ? nMax : 1000);
  rc = s3_query_of(&q, "list-type", "2", "encoding-type", "url", "max-keys", zMax, NULL);
  if (!rc && zPrefix && *zPrefix) rc = s3_query_add(&q, "prefix", zPrefix);
  if (!rc && zToken) rc = s3_query_add(&q, "continuation-token", zToken);
  if (rc) {
    s3_query_free(&q);
    return rc;
  }
  s3_req_init(&r, "GET", zBucket, NULL, &q, 64 << 20);
  rc = s3_do(c, &r, &resp, err);
  if (rc == IMGPCA_OK) {
    rc = s3_xml_list((const char *)resp.body.p, resp.body.n, out, err);
    if (rc == IMGPCA_ERROR) {
      char tmp[IMGPCA_ERRMAX];
      snprintf(tmp, sizeof tmp, "%s", err);
      imgpca_seterr(err, "listing 's3://%s/%s': %s", zBucket, zPrefix ? zPrefix : "", tmp);
    }
  }
  s3_resp_free(&resp);
  s3_query_free(&q);
  return rc;
}

/* ---- object size and server-side part copies (used by imgpca_storage_concat) ---- */
int s3_head(S3Client *c, const char *zBucket, const char *zKey, int64_t *pSize, int *pNotFound,
            char *err) {
  return s3_head_etag(c, zBucket, zKey, pSize, NULL, pNotFound, err);
}

int s3_head_etag(S3Client *c, const char *zBucket, const char *zKey, int64_t *pSize, char **pzEtag,
                 int *pNotFound, char *err) {
  S3Req r;
  S3Resp resp;
  int rc;
  if (pNotFound) *pNotFound = 0;
  if (pzEtag) *pzEtag = NULL;
  s3_req_init(&r, "HEAD", zBucket, zKey, NULL, -1);
  rc = s3_do(c, &r, &resp, err);
  if (rc == IMGPCA_ERROR && resp.status == 404 && pNotFound) *pNotFound = 1;
  if (rc == IMGPCA_OK) {
    if (resp.nContentLength < 0)
      rc = imgpca_seterr(err, "HEAD 's3://%s/%s': no Content-Length in the response", zBucket, zKey);
    else
      *pSize = resp.nContentLength;
  }
  if (rc == IMGPCA_OK && pzEtag && resp.zEtag) rc = s3_take_etag(&resp, pzEtag);
  s3_resp_free(&resp);
  return rc;
}
