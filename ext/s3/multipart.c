/*
** Multipart uploads of the S3 client (no SQL behaviour of their own): behind
** csv_export and s3_put writers above s3.multipart_threshold, and s3_concat.
** CreateMultipartUpload, UploadPart, UploadPartCopy (a byte range of another
** object copied by the server, only if its ETag is still the one measured),
** CompleteMultipartUpload (its ETag from the body, the header, or a HEAD) and
** AbortMultipartUpload, which is sent even on an interrupted statement so
** that no orphan upload is left behind.
*/
#include "s3_int.h"

#include <stdio.h>
#include <string.h>

int s3_mpu_begin(S3Client *c, const char *zBucket, const char *zKey, char **pzUploadId, char *err) {
  S3Req r;
  S3Resp resp;
  S3Query q;
  int rc = s3_query_of(&q, "uploads", "", NULL);
  if (rc) return rc;
  s3_req_init(&r, "POST", zBucket, zKey, &q, 1 << 20);
  r.pBody = (const unsigned char *)"";
  rc = s3_do(c, &r, &resp, err);
  if (rc == IMGPCA_OK) rc = s3_xml_upload_id((const char *)resp.body.p, resp.body.n, pzUploadId, err);
  s3_resp_free(&resp);
  s3_query_free(&q);
  return rc;
}

int s3_mpu_part(S3Client *c, const char *zBucket, const char *zKey, const char *zUploadId, int iPart,
                const void *p, size_t n, char **pzEtag, char *err) {
  S3Req r;
  S3Resp resp;
  S3Query q;
  char num[16];
  int rc;
  snprintf(num, sizeof num, "%d", iPart);
  rc = s3_query_of(&q, "partNumber", num, "uploadId", zUploadId, NULL);
  if (rc) return rc;
  s3_req_init(&r, "PUT", zBucket, zKey, &q, 1 << 20);
  r.pBody = p ? p : (const unsigned char *)"";
  r.nBody = n;
  rc = s3_do(c, &r, &resp, err);
  if (rc == IMGPCA_OK && !resp.zEtag)
    rc = imgpca_seterr(err, "upload of part %d of 's3://%s/%s': no ETag in the response", iPart, zBucket, zKey);
  if (rc == IMGPCA_OK) rc = s3_take_etag(&resp, pzEtag);
  s3_resp_free(&resp);
  s3_query_free(&q);
  return rc;
}

/* ETag of a completed multipart upload: the <ETag> of the answer, else its
** ETag header (Ceph RGW leaves <ETag> empty), else a HEAD of the object. */
static int complete_etag(S3Client *c, const char *zBucket, const char *zKey, S3Resp *resp, char **pzEtag,
                         char *err) {
  char *zEtag = NULL;
  /* A 200 answer may still carry an <Error> document. */
  int rc = s3_xml_complete((const char *)resp->body.p, resp->body.n, &zEtag, err);
  if (rc == IMGPCA_OK && !*zEtag && resp->zEtag) {
    imgpca_free(zEtag);
    zEtag = resp->zEtag;
    resp->zEtag = NULL;
  }
  if (rc == IMGPCA_OK && !*zEtag) {
    S3Req h;
    S3Resp hr;
    s3_req_init(&h, "HEAD", zBucket, zKey, NULL, -1);
    if (s3_do(c, &h, &hr, err) == IMGPCA_OK && hr.zEtag) {
      imgpca_free(zEtag);
      zEtag = hr.zEtag;
      hr.zEtag = NULL;
    }
    s3_resp_free(&hr);
  }
  if (rc == IMGPCA_OK && pzEtag)
    *pzEtag = zEtag;
  else
    imgpca_free(zEtag);
  return rc;
}

int s3_mpu_complete(S3Client *c, const char *zBucket, const char *zKey, const char *zUploadId,
                    char **azEtag, int nPart, char **pzEtag, char *err) {
  S3Req r;
  S3Resp resp;
  S3Query q;
  ImgpcaBuf body;
  int rc, i;
  imgpca_buf_init(&body);
  imgpca_buf_printf(&body, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
  for (i = 0; i < nPart; i++) {
    imgpca_buf_printf(&body, "<Part><PartNumber>%d</PartNumber><ETag>", i + 1);
    s3_xml_escape(&body, azEtag[i]);
    imgpca_buf_printf(&body, "</ETag></Part>");
  }
  imgpca_buf_printf(&body, "</CompleteMultipartUpload>");
  if (body.oom) {
    imgpca_buf_free(&body);
    return IMGPCA_NOMEM;
  }
  rc = s3_query_of(&q, "uploadId", zUploadId, NULL);
  if (rc) {
    imgpca_buf_free(&body);
    return rc;
  }
  s3_req_init(&r, "POST", zBucket, zKey, &q, 1 << 20);
  r.pBody = body.p;
  r.nBody = body.n;
  r.zContentType = "application/xml";
  rc = s3_do(c, &r, &resp, err);
  if (rc == IMGPCA_OK) rc = complete_etag(c, zBucket, zKey, &resp, pzEtag, err);
  s3_resp_free(&resp);
  s3_query_free(&q);
  imgpca_buf_free(&body);
  return rc;
}

void s3_mpu_abort(S3Client *c, const char *zBucket, const char *zKey, const char *zUploadId) {
  S3Req r;
  S3Resp resp;
  S3Query q;
  char err[IMGPCA_ERRMAX];
  int (*xInt)(void *) = c->xInterrupted;
  if (s3_query_of(&q, "uploadId", zUploadId, NULL)) return;
  s3_req_init(&r, "DELETE", zBucket, zKey, &q, 1 << 20);
  /* an interrupted upload is aborted all the same: no orphan left behind */
  c->xInterrupted = NULL;
  s3_do(c, &r, &resp, err);
  c->xInterrupted = xInt;
  s3_resp_free(&resp);
  s3_query_free(&q);
}

int s3_mpu_copy_part(S3Client *c, const char *zBucket, const char *zKey, const char *zUploadId,
                     int iPart, const char *zSrcBucket, const char *zSrcKey, const char *zIfMatch,
                     int64_t offset, int64_t length, char **pzEtag, char *err) {
  S3Req r;
  S3Resp resp;
  S3Query q;
  ImgpcaBuf src;
  char num[16], range[64];
  int rc;
  *pzEtag = NULL;
  if (length <= 0) return imgpca_seterr(err, "copy of an empty range of 's3://%s/%s'", zSrcBucket, zSrcKey);
  imgpca_buf_init(&src);
  imgpca_uri_encode(&src, zSrcBucket, strlen(zSrcBucket), 0);
  imgpca_buf_append(&src, "/", 1);
  imgpca_uri_encode(&src, zSrcKey, strlen(zSrcKey), 1);
  imgpca_buf_append(&src, "", 1);
  if (src.oom) {
    imgpca_buf_free(&src);
    return IMGPCA_NOMEM;
  }
  snprintf(num, sizeof num, "%d", iPart);
  snprintf(range, sizeof range, "bytes=%lld-%lld", (long long)offset, (long long)(offset + length - 1));
  rc = s3_query_of(&q, "partNumber", num, "uploadId", zUploadId, NULL);
  if (rc) {
    imgpca_buf_free(&src);
    return rc;
  }
  s3_req_init(&r, "PUT", zBucket, zKey, &q, 1 << 20);
  r.pBody = (const unsigned char *)"";
  r.zCopySource = (const char *)src.p;
  r.zCopyRange = range;
  r.zCopyMatch = zIfMatch && *zIfMatch ? zIfMatch : NULL;
  rc = s3_do(c, &r, &resp, err);
  if (rc == IMGPCA_OK) {
    /* the ETag is in the body; a 200 answer may still carry an <Error> document */
    rc = s3_xml_copy_part((const char *)resp.body.p, resp.body.n, pzEtag, err);
  }
  if (rc == IMGPCA_ERROR) {
    /* the message of the request names the destination: name the source */
    char why[IMGPCA_ERRMAX];
    snprintf(why, sizeof why, "%s", err);
    if (resp.status == 412)
      imgpca_seterr(err,
                    "server-side copy of 's3://%s/%s' (%s) into part %d refused: the object is not the one "
                    "measured (ETag %s): it changed, or the server resolved another key",
                    zSrcBucket, zSrcKey, range, iPart, zIfMatch);
    else
      imgpca_seterr(err, "server-side copy of 's3://%s/%s' (%s) into part %d failed: %s", zSrcBucket, zSrcKey,
                    range, iPart, why);
  }
  s3_resp_free(&resp);
  s3_query_free(&q);
  imgpca_buf_free(&src);
  return rc;
}
