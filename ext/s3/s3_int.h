/*
** What the files of the S3 client share (no SQL behaviour of their own):
** the client's state, a request and its response, and the entry points of
** the request pipeline.
**   client.c     the client: settings, credentials, region, endpoint and
**                addressing; the description shown by s3_config()
**   request.c    the request pipeline: URL, signed headers, TLS, libcurl
**                options, retries with backoff, region redirects, interrupts
**   object.c     GET, PUT, DELETE, HEAD and ListObjectsV2 of one object or bucket
**   multipart.c  multipart uploads and UploadPartCopy
**   batch.c      concurrent GETs on one curl multi handle
*/
#ifndef IMGPCA_S3_INT_H
#define IMGPCA_S3_INT_H

#include "s3.h"

#include <curl/curl.h>

#include "../common/lazy_curl.h"

/* Warnings printed at most once per connection (S3Client.mWarned). */
enum { WARN_NO_VERIFY = 1,
       WARN_HTTP_TOKEN = 2,
       WARN_USERINFO = 4 };

struct S3Client {
  const ImgpcaConfig *cfg;
  S3Creds creds;
  int bCreds;
  char *zCredKey; /* settings the credentials were resolved from */
  CURL *easy;     /* reused for keep-alive */
  uint32_t rng;
  char *zRedirBucket; /* last bucket redirected to another region */
  char *zRedirRegion;
  char *zCaChecked;            /* CA bundle last found readable */
  int mWarned;                 /* WARN_* printed on this connection */
  int (*xInterrupted)(void *); /* polled while waiting on the network */
  void *pIntArg;
  double tIntCheck; /* last poll (monotonic seconds) */
};

/* ---- client.c ---- */
/* A setting of the client's configuration (NULL when unset). */
const char *s3_client_setting(S3Client *c, const char *k);
/* The endpoint: s3.endpoint, else the profile's, else NULL (AWS). */
const char *s3_client_endpoint(S3Client *c);
/* The endpoint as messages show it (user info hidden). */
void s3_client_endpoint_shown(S3Client *c, char *out, size_t n);
/* One warning on stderr, at most once per connection for each WARN_* kind. */
void s3_client_warn(S3Client *c, int mKind, const char *zFmt, ...) IMGPCA_PRINTF(3, 4);
/* Credentials (and the CA bundle), re-resolved when a setting changed or
** they are about to expire. */
int s3_client_creds(S3Client *c, char *err);
/* 1 when requests are signed (credentials found, s3.unsigned off). */
int s3_client_signed(S3Client *c);
/* The signing region of a request on zBucket (NULL: none), validated. */
int s3_client_region(S3Client *c, const char *zBucket, char out[64], char *err);
/* Printable copy of untrusted text (a server's header) for messages. */
void s3_printable(char *out, size_t nOut, const char *z);

/* ---- request.c ---- */
typedef struct S3Req {
  const char *zMethod;
  const char *zBucket;
  const char *zKey; /* NULL: a bucket-level request */
  S3Query *pQuery;
  const unsigned char *pBody;
  size_t nBody;
  const char *zRange;
  const char *zContentType;
  int64_t maxBytes;        /* < 0: unlimited */
  const char *zCopySource; /* UploadPartCopy: x-amz-copy-source (already URL-encoded) */
  const char *zCopyRange;  /* UploadPartCopy: x-amz-copy-source-range */
  const char *zCopyMatch;  /* UploadPartCopy: x-amz-copy-source-if-match (an ETag) */
} S3Req;

typedef struct S3Resp {
  long status;
  ImgpcaBuf body;
  char *zEtag;
  char *zRegionHdr;
  int64_t nContentLength;
  int bTooBig;
  int64_t maxBytes;
  char zCurlErr[CURL_ERROR_SIZE];
} S3Resp;

/* One prepared attempt: an easy handle with URL, headers and signature. */
typedef struct S3Attempt {
  CURL *h;
  struct curl_slist *hdrs;
  char *zUrl;
} S3Attempt;

/* The one set-up of a request; callers add a body, range or content type. */
void s3_req_init(S3Req *r, const char *zMethod, const char *zBucket, const char *zKey, S3Query *q,
                 int64_t maxBytes);
/* Fills q with NULL-terminated (name, value) pairs; q is freed on failure. */
int s3_query_of(S3Query *q, ...);
/* Prepares one attempt of r on the easy handle h (URL, TLS, signed headers,
** options, response reset). */
int s3_attempt_setup(S3Client *c, const S3Req *r, const char *zRegion, CURL *h, S3Attempt *a,
                     S3Resp *resp, char *err);
void s3_attempt_clear(S3Attempt *a);
/* Performs a request with retries.  IMGPCA_OK only for 2xx; on other final
** statuses resp->status is kept so that callers can test for 404. */
int s3_do(S3Client *c, const S3Req *r, S3Resp *resp, char *err);
void s3_resp_free(S3Resp *r);
/* Moves the response's ETag to *pzEtag ("" when the server sent none). */
int s3_take_etag(S3Resp *resp, char **pzEtag);
/* xInterrupted polled (every 50 ms at most): 1 = stop waiting. */
int s3_client_interrupted(S3Client *c);

#endif
