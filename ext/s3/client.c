/*
** S3 HTTP client over libcurl (no SQL behaviour of its own; used by the
** storage layer behind s3_fetch, s3_put, s3_delete and s3_list).
**
** Every request is signed with SigV4 (sigv4.c) including x-amz-content-sha256
** of the body, unless no credentials were found or s3.unsigned is on.
** Retries: transport errors, HTTP 429, 500, 502, 503, 504, and truncated
** bodies are retried up to s3.max_retries times with exponential backoff and
** full jitter (100 ms doubling, capped at 10 s).  A 301/400 answer carrying
** x-amz-bucket-region is retried once in that region.  A body shorter than
** its Content-Length is never returned.  Error messages carry the HTTP status,
** the S3 Code and Message, the s3:// URL, the region and one hint, never a
** secret.  TLS certificates are verified unless s3.verify_tls is off.
*/
#include "s3.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct S3Client {
  const ImgpcaConfig *cfg;
  S3Creds creds;
  int bCreds;
  char *zCredKey;          /* settings the credentials were resolved from */
  CURL *easy;              /* reused for keep-alive */
  uint32_t rng;
  char *zRedirBucket;      /* last bucket redirected to another region */
  char *zRedirRegion;
};

typedef struct S3Req {
  const char *zMethod;
  const char *zBucket;
  const char *zKey;        /* NULL: a bucket-level request */
  S3Query *pQuery;
  const unsigned char *pBody;
  size_t nBody;
  const char *zRange;
  const char *zContentType;
  int64_t maxBytes;        /* < 0: unlimited */
  const char *zCopySource; /* UploadPartCopy: x-amz-copy-source (already URL-encoded) */
  const char *zCopyRange;  /* UploadPartCopy: x-amz-copy-source-range */
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

static void resp_reset(S3Resp *r) {
  imgpca_buf_free(&r->body);
  imgpca_free(r->zEtag);
  imgpca_free(r->zRegionHdr);
  r->zEtag = r->zRegionHdr = NULL;
  r->status = 0;
  r->nContentLength = -1;
  r->bTooBig = 0;
  r->zCurlErr[0] = 0;
}

/* ---- policy ---- */
int s3_http_retryable(int cc, long status) {
  if (cc != CURLE_OK) {
    switch (cc) {
      case CURLE_UNSUPPORTED_PROTOCOL: case CURLE_URL_MALFORMAT: case CURLE_OUT_OF_MEMORY:
      case CURLE_WRITE_ERROR: case CURLE_ABORTED_BY_CALLBACK: case CURLE_PEER_FAILED_VERIFICATION:
      case CURLE_SSL_CACERT_BADFILE: case CURLE_SSL_CERTPROBLEM: case CURLE_NOT_BUILT_IN:
      case CURLE_BAD_FUNCTION_ARGUMENT: case CURLE_LOGIN_DENIED:
        return 0;
      default:
        return 1;
    }
  }
  return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

long s3_backoff_ms(int attempt, uint32_t r) {
  long cap = 100;
  int i;
  for (i = 0; i < attempt && cap < 10000; i++) cap *= 2;
  if (cap > 10000) cap = 10000;
  return cap / 2 + (long)(r % (uint32_t)(cap / 2 + 1));
}

static uint32_t rng_next(S3Client *c) {
  /* xorshift32, seeded per client: jitter only, not security relevant */
  uint32_t x = c->rng;
  x ^= x << 13; x ^= x >> 17; x ^= x << 5;
  c->rng = x ? x : 0x9e3779b9u;
  return c->rng;
}

static void sleep_ms(long ms) {
  struct timespec ts;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (ms % 1000) * 1000000L;
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

/* ---- client ---- */
int s3_client_new(const ImgpcaConfig *cfg, S3Client **pp, char *err) {
  S3Client *c = imgpca_calloc(1, sizeof(*c));
  struct timespec ts;
  (void)err;
  *pp = NULL;
  if (!c) return IMGPCA_NOMEM;
  c->cfg = cfg;
  clock_gettime(CLOCK_REALTIME, &ts);
  c->rng = (uint32_t)ts.tv_nsec ^ (uint32_t)(uintptr_t)c ^ (uint32_t)getpid();
  if (!c->rng) c->rng = 1;
  *pp = c;
  return IMGPCA_OK;
}

void s3_client_free(S3Client *c) {
  if (!c) return;
  s3_creds_free(&c->creds);
  if (c->zCredKey) memset(c->zCredKey, 0, strlen(c->zCredKey));
  imgpca_free(c->zCredKey);
  imgpca_free(c->zRedirBucket);
  imgpca_free(c->zRedirRegion);
  if (c->easy) curl_easy_cleanup(c->easy);
  imgpca_free(c);
}

const ImgpcaConfig *s3_client_config(S3Client *c) { return c->cfg; }

static const char *cfg(S3Client *c, const char *k) { return imgpca_config_get(c->cfg, k, NULL); }

/* Credentials, re-resolved when a relevant setting changed or they expire
** within 5 minutes. */
static int client_creds(S3Client *c, char *err) {
  static const char *aKey[] = {"s3.access_key_id", "s3.secret_access_key", "s3.session_token",
                               "s3.profile", "s3.credentials_file", "s3.config_file",
                               "s3.imds_endpoint", "s3.imds_disabled"};
  ImgpcaBuf k;
  size_t i;
  int rc;
  imgpca_buf_init(&k);
  for (i = 0; i < sizeof aKey / sizeof aKey[0]; i++) {
    const char *v = cfg(c, aKey[i]);
    imgpca_buf_printf(&k, "%s\x1f", v ? v : "\x1e");
  }
  imgpca_buf_append(&k, "", 1);
  if (k.oom) { imgpca_buf_free(&k); return IMGPCA_NOMEM; }
  if (c->bCreds && strcmp((char *)k.p, c->zCredKey) == 0 &&
      (c->creds.expiry == 0 || c->creds.expiry - time(NULL) > 300)) {
    memset(k.p, 0, k.n);
    imgpca_buf_free(&k);
    return IMGPCA_OK;
  }
  s3_creds_free(&c->creds);
  if (c->zCredKey) memset(c->zCredKey, 0, strlen(c->zCredKey));
  imgpca_free(c->zCredKey);
  c->zCredKey = (char *)imgpca_buf_detach(&k, NULL);
  c->bCreds = 0;
  rc = s3_creds_resolve(c->cfg, &c->creds, err);
  if (rc == IMGPCA_OK) c->bCreds = 1;
  return rc;
}

static const char *client_region(S3Client *c, const char *zBucket) {
  const char *z = cfg(c, "s3.region");
  if (zBucket && c->zRedirBucket && strcmp(zBucket, c->zRedirBucket) == 0) return c->zRedirRegion;
  if (z && *z) return z;
  if (c->creds.zProfileRegion && *c->creds.zProfileRegion) return c->creds.zProfileRegion;
  return "us-east-1";
}

static int dns_bucket(const char *z) {
  size_t n = strlen(z);
  if (n < 3 || n > 63) return 0;
  for (; *z; z++)
    if (!((*z >= 'a' && *z <= 'z') || (*z >= '0' && *z <= '9') || *z == '-')) return 0;
  return 1;
}

/* URL, Host header and canonical path of a request. */
static int build_target(S3Client *c, const S3Req *r, const char *zRegion, char **pzUrl,
                        char **pzHost, char **pzPath, char **pzQuery, char *err) {
  const char *zEnd = cfg(c, "s3.endpoint");
  const char *zStyle = cfg(c, "s3.url_style");
  char *zEndpoint, *p, *zAuth, *zBase = NULL;
  const char *zScheme;
  int bVirtual;
  ImgpcaBuf path, q;
  int rc = IMGPCA_OK;
  zEndpoint = (zEnd && *zEnd) ? imgpca_strdup(zEnd) : imgpca_mprintf("https://s3.%s.amazonaws.com", zRegion);
  if (!zEndpoint) return IMGPCA_NOMEM;
  if (strncmp(zEndpoint, "http://", 7) == 0) zScheme = "http";
  else if (strncmp(zEndpoint, "https://", 8) == 0) zScheme = "https";
  else {
    rc = imgpca_seterr(err, "invalid endpoint '%s': expected http:// or https://", zEndpoint);
    imgpca_free(zEndpoint);
    return rc;
  }
  zAuth = zEndpoint + strlen(zScheme) + 3;
  p = strchr(zAuth, '/');
  if (p) {
    zBase = imgpca_strdup(p + 1);
    *p = 0;
    if (!zBase) { imgpca_free(zEndpoint); return IMGPCA_NOMEM; }
  }
  bVirtual = zStyle && strcmp(zStyle, "virtual") == 0 ? 1
           : zStyle && strcmp(zStyle, "path") == 0    ? 0
           : !(zEnd && *zEnd);
  if (r->zBucket && !dns_bucket(r->zBucket)) bVirtual = 0;
  imgpca_buf_init(&path);
  imgpca_buf_init(&q);
  if (zBase && *zBase) {
    size_t nb = strlen(zBase);
    while (nb && zBase[nb - 1] == '/') zBase[--nb] = 0;
    imgpca_buf_append(&path, "/", 1);
    s3_uri_encode(&path, zBase, nb, 1);
  }
  if (!bVirtual && r->zBucket) {
    imgpca_buf_append(&path, "/", 1);
    s3_uri_encode(&path, r->zBucket, strlen(r->zBucket), 0);
  }
  if (r->zKey) {
    imgpca_buf_append(&path, "/", 1);
    s3_uri_encode(&path, r->zKey, strlen(r->zKey), 1);
  } else if (path.n == 0) {
    imgpca_buf_append(&path, "/", 1);
  }
  imgpca_buf_append(&path, "", 1);
  if (r->pQuery) s3_query_render(r->pQuery, &q);
  imgpca_buf_append(&q, "", 1);
  if (bVirtual && r->zBucket) *pzHost = imgpca_mprintf("%s.%s", r->zBucket, zAuth);
  else *pzHost = imgpca_strdup(zAuth);
  if (path.oom || q.oom || !*pzHost) rc = IMGPCA_NOMEM;
  if (rc == IMGPCA_OK) {
    *pzUrl = imgpca_mprintf("%s://%s%s%s%s", zScheme, *pzHost, (char *)path.p, q.n > 1 ? "?" : "",
                            (char *)q.p);
    if (!*pzUrl) rc = IMGPCA_NOMEM;
  }
  if (rc == IMGPCA_OK) {
    *pzPath = (char *)imgpca_buf_detach(&path, NULL);
    *pzQuery = (char *)imgpca_buf_detach(&q, NULL);
  } else {
    imgpca_free(*pzHost);
    *pzHost = NULL;
  }
  imgpca_buf_free(&path);
  imgpca_buf_free(&q);
  imgpca_free(zBase);
  imgpca_free(zEndpoint);
  return rc;
}

/* ---- curl callbacks ---- */
static size_t on_write(char *p, size_t sz, size_t n, void *ud) {
  S3Resp *r = ud;
  size_t nb = sz * n;
  if (r->maxBytes >= 0 && (int64_t)(r->body.n + nb) > r->maxBytes && r->status / 100 == 2) {
    r->bTooBig = 1;
    return 0;
  }
  if (r->body.n + nb > ((size_t)1 << 20) && r->status / 100 != 2) return nb; /* error bodies: cap */
  return imgpca_buf_append(&r->body, p, nb) ? 0 : nb;
}

static char *hdr_value(const char *p, size_t n, const char *zName) {
  size_t k = strlen(zName);
  if (n > k + 1 && strncasecmp(p, zName, k) == 0 && p[k] == ':') {
    const char *v = p + k + 1;
    size_t m = n - k - 1;
    char *z;
    while (m && (*v == ' ' || *v == '\t')) { v++; m--; }
    while (m && (v[m - 1] == '\r' || v[m - 1] == '\n' || v[m - 1] == ' ')) m--;
    z = imgpca_malloc(m + 1);
    if (z) { memcpy(z, v, m); z[m] = 0; }
    return z;
  }
  return NULL;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud) {
  S3Resp *r = ud;
  size_t nb = sz * n;
  char *v;
  if (nb > 5 && strncmp(p, "HTTP/", 5) == 0) {
    const char *sp = memchr(p, ' ', nb);
    imgpca_free(r->zEtag);
    imgpca_free(r->zRegionHdr);
    r->zEtag = r->zRegionHdr = NULL;
    r->nContentLength = -1;
    r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
    return nb;
  }
  if ((v = hdr_value(p, nb, "etag")) != NULL) { imgpca_free(r->zEtag); r->zEtag = v; }
  else if ((v = hdr_value(p, nb, "x-amz-bucket-region")) != NULL) { imgpca_free(r->zRegionHdr); r->zRegionHdr = v; }
  else if ((v = hdr_value(p, nb, "content-length")) != NULL) {
    r->nContentLength = strtoll(v, NULL, 10);
    imgpca_free(v);
    if (r->status / 100 == 2 && r->maxBytes >= 0 && r->nContentLength > r->maxBytes) {
      r->bTooBig = 1;
      return 0;
    }
    if (r->status / 100 == 2 && r->nContentLength > 0 && (uint64_t)r->nContentLength < SIZE_MAX / 2)
      imgpca_buf_reserve(&r->body, (size_t)r->nContentLength);
  }
  return nb;
}

/* One prepared attempt: an easy handle with URL, headers and signature. */
typedef struct S3Attempt {
  CURL *h;
  struct curl_slist *hdrs;
  char *zUrl;
} S3Attempt;

static void attempt_clear(S3Attempt *a) {
  curl_slist_free_all(a->hdrs);
  imgpca_free(a->zUrl);
  a->hdrs = NULL;
  a->zUrl = NULL;
}

static int add_hdr(struct curl_slist **pl, const char *zFmt, const char *zVal) {
  char *z = imgpca_mprintf(zFmt, zVal);
  struct curl_slist *t;
  if (!z) return IMGPCA_NOMEM;
  t = curl_slist_append(*pl, z);
  memset(z, 0, strlen(z));
  imgpca_free(z);
  if (!t) return IMGPCA_NOMEM;
  *pl = t;
  return IMGPCA_OK;
}

static int attempt_setup(S3Client *c, const S3Req *r, const char *zRegion, CURL *h, S3Attempt *a,
                         S3Resp *resp, char *err) {
  char *zHost = NULL, *zPath = NULL, *zQuery = NULL, *zAuth = NULL;
  char amzDate[17], hash[65];
  S3Header aH[8];
  int nH = 0, rc;
  int bSign = c->creds.zAccess && c->creds.zSecret && !imgpca_config_bool(c->cfg, "s3.unsigned");
  memset(a, 0, sizeof(*a));
  a->h = h;
  rc = build_target(c, r, zRegion, &a->zUrl, &zHost, &zPath, &zQuery, err);
  if (rc) return rc;
  s3_amz_date(time(NULL), amzDate);
  if (r->nBody) s3_sha256_hex(r->pBody, r->nBody, hash);
  else memcpy(hash, EMPTY_SHA256, 65);
  aH[nH].zName = "host"; aH[nH++].zValue = zHost;
  if (r->zRange) { aH[nH].zName = "range"; aH[nH++].zValue = r->zRange; }
  aH[nH].zName = "x-amz-content-sha256"; aH[nH++].zValue = hash;
  if (r->zCopySource) { aH[nH].zName = "x-amz-copy-source"; aH[nH++].zValue = r->zCopySource; }
  if (r->zCopyRange) { aH[nH].zName = "x-amz-copy-source-range"; aH[nH++].zValue = r->zCopyRange; }
  aH[nH].zName = "x-amz-date"; aH[nH++].zValue = amzDate;
  if (bSign && c->creds.zToken) { aH[nH].zName = "x-amz-security-token"; aH[nH++].zValue = c->creds.zToken; }
  if (bSign) {
    S3SignInput in;
    memset(&in, 0, sizeof in);
    in.zMethod = r->zMethod;
    in.zPath = zPath;
    in.zQuery = zQuery;
    in.aHdr = aH;
    in.nHdr = nH;
    in.zPayloadHash = hash;
    in.zAmzDate = amzDate;
    in.zRegion = zRegion;
    in.zService = "s3";
    in.zAccessKey = c->creds.zAccess;
    in.zSecretKey = c->creds.zSecret;
    rc = s3_sigv4_sign(&in, &zAuth, NULL, NULL);
  }
  if (rc == IMGPCA_OK) rc = add_hdr(&a->hdrs, "Host: %s", zHost);
  if (rc == IMGPCA_OK && r->zRange) rc = add_hdr(&a->hdrs, "Range: %s", r->zRange);
  if (rc == IMGPCA_OK) rc = add_hdr(&a->hdrs, "x-amz-content-sha256: %s", hash);
  if (rc == IMGPCA_OK) rc = add_hdr(&a->hdrs, "x-amz-date: %s", amzDate);
  if (rc == IMGPCA_OK && r->zCopySource) rc = add_hdr(&a->hdrs, "x-amz-copy-source: %s", r->zCopySource);
  if (rc == IMGPCA_OK && r->zCopyRange) rc = add_hdr(&a->hdrs, "x-amz-copy-source-range: %s", r->zCopyRange);
  if (rc == IMGPCA_OK && bSign && c->creds.zToken)
    rc = add_hdr(&a->hdrs, "x-amz-security-token: %s", c->creds.zToken);
  if (rc == IMGPCA_OK && zAuth) rc = add_hdr(&a->hdrs, "Authorization: %s", zAuth);
  if (rc == IMGPCA_OK && r->pBody)
    rc = add_hdr(&a->hdrs, "Content-Type: %s", r->zContentType ? r->zContentType : "application/octet-stream");
  if (rc == IMGPCA_OK) rc = add_hdr(&a->hdrs, "%sExpect:", "");
  if (zAuth) memset(zAuth, 0, strlen(zAuth));
  imgpca_free(zAuth);
  imgpca_free(zHost);
  imgpca_free(zPath);
  imgpca_free(zQuery);
  if (rc) { attempt_clear(a); return rc; }

  curl_easy_reset(h);
  curl_easy_setopt(h, CURLOPT_URL, a->zUrl);
  curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, a->hdrs);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)imgpca_config_int(c->cfg, "s3.connect_timeout_ms"));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)imgpca_config_int(c->cfg, "s3.timeout_ms"));
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)((imgpca_config_int(c->cfg, "s3.low_speed_ms") + 999) / 1000));
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, imgpca_config_bool(c->cfg, "s3.verify_tls") ? 1L : 0L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, imgpca_config_bool(c->cfg, "s3.verify_tls") ? 2L : 0L);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, resp);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, resp->zCurlErr);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "imgpca/0.1");
  if (strcmp(r->zMethod, "HEAD") == 0) {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (r->pBody) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->nBody);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->nBody ? (const char *)r->pBody : "");
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->zMethod);
  } else if (strcmp(r->zMethod, "GET") != 0) {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->zMethod);
  }
  resp_reset(resp);
  resp->maxBytes = r->maxBytes;
  return IMGPCA_OK;
}

static void s3_url_text(char *out, size_t n, const S3Req *r) {
  snprintf(out, n, "s3://%s/%s", r->zBucket ? r->zBucket : "", r->zKey ? r->zKey : "");
}

/* Formats the final error of a request. */
static int request_error(S3Client *c, const S3Req *r, const char *zRegion, int cc, S3Resp *resp,
                         int nAttempt, char *err) {
  char zUrl[300];
  const char *zHint = NULL;
  const char *zEnd = cfg(c, "s3.endpoint");
  int bSigned = c->creds.zAccess && !imgpca_config_bool(c->cfg, "s3.unsigned");
  char hintBuf[200];
  s3_url_text(zUrl, sizeof zUrl, r);
  if (cc != CURLE_OK) {
    if (resp->bTooBig)
      return imgpca_seterr(err, "object '%s' is larger than the limit of %lld bytes (SQLITE_LIMIT_LENGTH)",
                           zUrl, (long long)r->maxBytes);
    if (cc == CURLE_PARTIAL_FILE || cc == CURLE_RECV_ERROR || cc == CURLE_SEND_ERROR || cc == CURLE_GOT_NOTHING)
      snprintf(hintBuf, sizeof hintBuf, "the connection kept breaking during the transfer (s3.max_retries)");
    else if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE)
      snprintf(hintBuf, sizeof hintBuf, "the TLS certificate of '%s' is not trusted (s3.verify_tls)", zEnd && *zEnd ? zEnd : "AWS S3");
    else
      snprintf(hintBuf, sizeof hintBuf, "is the endpoint '%s' reachable? (s3.endpoint, s3.connect_timeout_ms, s3.timeout_ms)",
               zEnd && *zEnd ? zEnd : "AWS S3");
    return imgpca_seterr(err, "%s for '%s' after %d attempt%s (region '%s'); hint: %s",
                         resp->zCurlErr[0] ? resp->zCurlErr : curl_easy_strerror((CURLcode)cc), zUrl,
                         nAttempt, nAttempt == 1 ? "" : "s", zRegion, hintBuf);
  } else {
    S3XmlError e;
    const char *zCode, *zMsg;
    memset(&e, 0, sizeof e);
    if (resp->body.n) s3_xml_error((const char *)resp->body.p, resp->body.n, &e);
    zCode = e.zCode ? e.zCode
          : resp->status == 404 ? (r->zKey ? "NoSuchKey" : "NoSuchBucket")
          : resp->status == 403 ? "AccessDenied" : resp->status == 416 ? "InvalidRange" : "error";
    zMsg = e.zMessage ? e.zMessage : "";
    if (resp->status == 403 || resp->status == 400) {
      if (!bSigned) zHint = "no credentials found: set s3.access_key_id/s3.secret_access_key, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile in ~/.aws, or use an instance role";
      else if (strcmp(zCode, "SignatureDoesNotMatch") == 0) {
        snprintf(hintBuf, sizeof hintBuf, "check the secret access key (credentials from %s) and s3.region", c->creds.zSource);
        zHint = hintBuf;
      } else if (strcmp(zCode, "InvalidAccessKeyId") == 0) {
        snprintf(hintBuf, sizeof hintBuf, "check the access key id (credentials from %s) and s3.endpoint", c->creds.zSource);
        zHint = hintBuf;
      } else if (strcmp(zCode, "RequestTimeTooSkewed") == 0) zHint = "the system clock is wrong";
      else {
        snprintf(hintBuf, sizeof hintBuf, "check the permissions of the credentials (from %s)", c->creds.zSource);
        zHint = hintBuf;
      }
    } else if (strcmp(zCode, "NoSuchBucket") == 0) {
      zHint = "check the bucket name, s3.endpoint and s3.url_style";
    } else if (strcmp(zCode, "NoSuchKey") == 0 && strcmp(r->zMethod, "GET") == 0 && r->zKey) {
      zHint = "use s3_fetch_or_null() to get NULL for missing objects";
    } else if (resp->status == 301 || resp->status == 307) {
      zHint = "the bucket is in another region: set s3.region";
    } else if (resp->status >= 500 || resp->status == 429) {
      snprintf(hintBuf, sizeof hintBuf, "the server kept failing after %d attempts (s3.max_retries)", nAttempt);
      zHint = hintBuf;
    }
    imgpca_seterr(err, "HTTP %ld %s%s%s for '%s' (region '%s')%s%s", resp->status, zCode, *zMsg ? ": " : "",
                  zMsg, zUrl, zRegion, zHint ? "; hint: " : "", zHint ? zHint : "");
    s3_xml_error_free(&e);
    return IMGPCA_ERROR;
  }
}

static void set_redirect(S3Client *c, const char *zBucket, const char *zRegion) {
  imgpca_free(c->zRedirBucket);
  imgpca_free(c->zRedirRegion);
  c->zRedirBucket = imgpca_strdup(zBucket);
  c->zRedirRegion = imgpca_strdup(zRegion);
  if (!c->zRedirBucket || !c->zRedirRegion) {
    imgpca_free(c->zRedirBucket);
    imgpca_free(c->zRedirRegion);
    c->zRedirBucket = c->zRedirRegion = NULL;
  }
}

/* Performs a request with retries.  IMGPCA_OK only for 2xx; on other final
** statuses resp->status is kept so that callers can test for 404. */
static int s3_do(S3Client *c, const S3Req *r, S3Resp *resp, char *err) {
  int maxRetries = (int)imgpca_config_int(c->cfg, "s3.max_retries");
  int attempt = 0, bRedirected = 0, rc;
  char zRegion[64];
  memset(resp, 0, sizeof(*resp));
  resp->nContentLength = -1;
  rc = client_creds(c, err);
  if (rc) return rc;
  if (!c->easy) {
    c->easy = curl_easy_init();
    if (!c->easy) return IMGPCA_NOMEM;
  }
  snprintf(zRegion, sizeof zRegion, "%s", client_region(c, r->zBucket));
  for (;;) {
    S3Attempt a;
    CURLcode cc;
    rc = attempt_setup(c, r, zRegion, c->easy, &a, resp, err);
    if (rc) return rc;
    cc = curl_easy_perform(c->easy);
    attempt_clear(&a);
    attempt++;
    if (cc == CURLE_OK) curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &resp->status);
    if (cc == CURLE_OK && resp->status / 100 == 2 && strcmp(r->zMethod, "HEAD") != 0 &&
        resp->nContentLength >= 0 && (int64_t)resp->body.n != resp->nContentLength) {
      cc = CURLE_PARTIAL_FILE; /* truncated: never returned as data */
      snprintf(resp->zCurlErr, sizeof resp->zCurlErr, "truncated response (%zu of %lld bytes)",
               resp->body.n, (long long)resp->nContentLength);
    }
    if (cc == CURLE_OK && resp->status / 100 == 2) return IMGPCA_OK;
    if (cc == CURLE_OK && (resp->status == 301 || resp->status == 400 || resp->status == 307) &&
        resp->zRegionHdr && *resp->zRegionHdr && strcmp(resp->zRegionHdr, zRegion) != 0 &&
        !bRedirected && r->zBucket) {
      bRedirected = 1;
      snprintf(zRegion, sizeof zRegion, "%s", resp->zRegionHdr);
      set_redirect(c, r->zBucket, zRegion);
      continue;
    }
    if (resp->bTooBig || !s3_http_retryable((int)cc, resp->status) || attempt > maxRetries) {
      rc = request_error(c, r, zRegion, (int)cc, resp, attempt, err);
      return rc;
    }
    sleep_ms(s3_backoff_ms(attempt - 1, rng_next(c)));
  }
}

static void resp_free(S3Resp *r) { resp_reset(r); }

/* ---- operations ---- */
int s3_get(S3Client *c, const char *zBucket, const char *zKey, int64_t offset, int64_t length,
           int64_t maxBytes, ImgpcaBuf *out, int *pNotFound, char *err) {
  S3Req r;
  S3Resp resp;
  char range[64];
  int rc;
  if (pNotFound) *pNotFound = 0;
  memset(&r, 0, sizeof r);
  r.zMethod = "GET";
  r.zBucket = zBucket;
  r.zKey = zKey;
  r.maxBytes = maxBytes;
  if (length == 0) r.zMethod = "HEAD"; /* empty range: only check that the object exists */
  if (length != 0 && (offset > 0 || length > 0)) {
    if (length > 0) snprintf(range, sizeof range, "bytes=%lld-%lld", (long long)offset, (long long)(offset + length - 1));
    else snprintf(range, sizeof range, "bytes=%lld-", (long long)offset);
    r.zRange = range;
  }
  rc = s3_do(c, &r, &resp, err);
  if (rc == IMGPCA_ERROR && resp.status == 404 && pNotFound) *pNotFound = 1;
  if (rc == IMGPCA_OK && length != 0) {
    *out = resp.body;
    imgpca_buf_init(&resp.body);
  }
  resp_free(&resp);
  return rc;
}

int s3_put(S3Client *c, const char *zBucket, const char *zKey, const void *p, size_t n,
           char **pzEtag, char *err) {
  S3Req r;
  S3Resp resp;
  int rc;
  memset(&r, 0, sizeof r);
  r.zMethod = "PUT";
  r.zBucket = zBucket;
  r.zKey = zKey;
  r.pBody = p ? p : (const unsigned char *)"";
  r.nBody = n;
  r.maxBytes = 1 << 20;
  rc = s3_do(c, &r, &resp, err);
  if (rc == IMGPCA_OK && pzEtag) {
    *pzEtag = resp.zEtag;
    resp.zEtag = NULL;
    if (!*pzEtag) *pzEtag = imgpca_strdup("");
    if (!*pzEtag) rc = IMGPCA_NOMEM;
  }
  resp_free(&resp);
  return rc;
}

int s3_delete(S3Client *c, const char *zBucket, const char *zKey, char *err) {
  S3Req r;
  S3Resp resp;
  int rc;
  memset(&r, 0, sizeof r);
  r.zMethod = "DELETE";
  r.zBucket = zBucket;
  r.zKey = zKey;
  r.maxBytes = 1 << 20;
  rc = s3_do(c, &r, &resp, err);
  resp_free(&resp);
  return rc;
}

int s3_list_page(S3Client *c, const char *zBucket, const char *zPrefix, const char *zToken,
                 int nMax, S3ListPage *out, char *err) {
  S3Req r;
  S3Resp resp;
  S3Query q;
  char zMax[16];
  int rc;
  memset(&r, 0, sizeof r);
  memset(&q, 0, sizeof q);
  memset(out, 0, sizeof(*out));
  snprintf(zMax, sizeof zMax, "%d", nMax > 0 && nMax < 1000 ? nMax : 1000);
  rc = s3_query_add(&q, "list-type", "2");
  if (!rc) rc = s3_query_add(&q, "encoding-type", "url");
  if (!rc) rc = s3_query_add(&q, "max-keys", zMax);
  if (!rc && zPrefix && *zPrefix) rc = s3_query_add(&q, "prefix", zPrefix);
  if (!rc && zToken) rc = s3_query_add(&q, "continuation-token", zToken);
  if (rc) { s3_query_free(&q); return rc; }
  r.zMethod = "GET";
  r.zBucket = zBucket;
  r.pQuery = &q;
  r.maxBytes = 64 << 20;
  rc = s3_do(c, &r, &resp, err);
  if (rc == IMGPCA_OK) {
    rc = s3_xml_list((const char *)resp.body.p, resp.body.n, out, err);
    if (rc == IMGPCA_ERROR) {
      char tmp[IMGPCA_ERRMAX];
      snprintf(tmp, sizeof tmp, "%s", err);
      imgpca_seterr(err, "listing 's3://%s/%s': %s", zBucket, zPrefix ? zPrefix : "", tmp);
    }
  }
  resp_free(&resp);
  s3_query_free(&q);
  return rc;
}

int s3_list_uploads(S3Client *c, const char *zBucket, S3UploadList *out, char *err) {
  S3Req r;
  S3Resp resp;
  S3Query q;
  int rc;
  memset(&r, 0, sizeof r);
  memset(&q, 0, sizeof q);
  memset(out, 0, sizeof(*out));
  rc = s3_query_add(&q, "uploads", "");
  if (rc) return rc;
  r.zMethod = "GET";
  r.zBucket = zBucket;
  r.pQuery = &q;
  r.maxBytes = 64 << 20;
  rc = s3_do(c, &r, &resp, err);
  if (rc == IMGPCA_OK) rc = s3_xml_uploads((const char *)resp.body.p, resp.body.n, out, err);
  resp_free(&resp);
  s3_query_free(&q);
  return rc;
}

int s3_mpu_begin(S3Client *c, const char *zBucket, const char *zKey, char **pzUploadId, char *err) {
  S3Req r;
  S3Resp resp;
  S3Query q;
  int rc;
  memset(&r, 0, sizeof r);
  memset(&q, 0, sizeof q);
  rc = s3_query_add(&q, "uploads", "");
  if (rc) return rc;
  r.zMethod = "POST";
  r.zBucket = zBucket;
  r.zKey = zKey;
  r.pQuery = &q;
  r.pBody = (const unsigned char *)"";
  r.nBody = 0;
  r.maxBytes = 1 << 20;
  rc = s3_do(c, &r, &resp, err);
  if (rc == IMGPCA_OK) rc = s3_xml_upload_id((const char *)resp.body.p, resp.body.n, pzUploadId, err);
  resp_free(&resp);
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
  memset(&r, 0, sizeof r);
  memset(&q, 0, sizeof q);
  snprintf(num, sizeof num, "%d", iPart);
  rc = s3_query_add(&q, "partNumber", num);
  if (!rc) rc = s3_query_add(&q, "uploadId", zUploadId);
  if (rc) { s3_query_free(&q); return rc; }
  r.zMethod = "PUT";
  r.zBucket = zBucket;
  r.zKey = zKey;
  r.pQuery = &q;
  r.pBody = p ? p : (const unsigned char *)"";
  r.nBody = n;
  r.maxBytes = 1 << 20;
  rc = s3_do(c, &r, &resp, err);
  if (rc == IMGPCA_OK) {
    if (!resp.zEtag) rc = imgpca_seterr(err, "upload of part %d of 's3://%s/%s': no ETag in the response", iPart, zBucket, zKey);
    else { *pzEtag = resp.zEtag; resp.zEtag = NULL; }
  }
  resp_free(&resp);
  s3_query_free(&q);
  return rc;
}

int s3_mpu_complete(S3Client *c, const char *zBucket, const char *zKey, const char *zUploadId,
                    char **azEtag, int nPart, char **pzEtag, char *err) {
  S3Req r;
  S3Resp resp;
  S3Query q;
  ImgpcaBuf body;
  int rc, i;
  memset(&r, 0, sizeof r);
  memset(&q, 0, sizeof q);
  imgpca_buf_init(&body);
  imgpca_buf_printf(&body, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
  for (i = 0; i < nPart; i++) {
    imgpca_buf_printf(&body, "<Part><PartNumber>%d</PartNumber><ETag>", i + 1);
    s3_xml_escape(&body, azEtag[i]);
    imgpca_buf_printf(&body, "</ETag></Part>");
  }
  imgpca_buf_printf(&body, "</CompleteMultipartUpload>");
  if (body.oom) { imgpca_buf_free(&body); return IMGPCA_NOMEM; }
  rc = s3_query_add(&q, "uploadId", zUploadId);
  if (rc) { imgpca_buf_free(&body); return rc; }
  r.zMethod = "POST";
  r.zBucket = zBucket;
  r.zKey = zKey;
  r.pQuery = &q;
  r.pBody = body.p;
  r.nBody = body.n;
  r.zContentType = "application/xml";
  r.maxBytes = 1 << 20;
  rc = s3_do(c, &r, &resp, err);
  if (rc == IMGPCA_OK) {
    char *zEtag = NULL;
    /* A 200 answer may still carry an <Error> document. */
    rc = s3_xml_complete((const char *)resp.body.p, resp.body.n, &zEtag, err);
    if (rc == IMGPCA_OK && !*zEtag && resp.zEtag) {
      /* Ceph RGW leaves <ETag> empty; its ETag header has the value */
      imgpca_free(zEtag);
      zEtag = resp.zEtag;
      resp.zEtag = NULL;
    }
    if (rc == IMGPCA_OK && !*zEtag) {
      /* ... and sometimes no header either: ask with HEAD */
      S3Req h;
      S3Resp hr;
      memset(&h, 0, sizeof h);
      h.zMethod = "HEAD";
      h.zBucket = zBucket;
      h.zKey = zKey;
      h.maxBytes = -1;
      if (s3_do(c, &h, &hr, err) == IMGPCA_OK && hr.zEtag) {
        imgpca_free(zEtag);
        zEtag = hr.zEtag;
        hr.zEtag = NULL;
      }
      resp_free(&hr);
    }
    if (rc == IMGPCA_OK && pzEtag) *pzEtag = zEtag;
    else imgpca_free(zEtag);
  }
  resp_free(&resp);
  s3_query_free(&q);
  imgpca_buf_free(&body);
  return rc;
}

void s3_mpu_abort(S3Client *c, const char *zBucket, const char *zKey, const char *zUploadId) {
  S3Req r;
  S3Resp resp;
  S3Query q;
  char err[IMGPCA_ERRMAX];
  memset(&r, 0, sizeof r);
  memset(&q, 0, sizeof q);
  if (s3_query_add(&q, "uploadId", zUploadId)) return;
  r.zMethod = "DELETE";
  r.zBucket = zBucket;
  r.zKey = zKey;
  r.pQuery = &q;
  r.maxBytes = 1 << 20;
  s3_do(c, &r, &resp, err);
  resp_free(&resp);
  s3_query_free(&q);
}

/* ---- object size and server-side part copies (used by imgpca_storage_concat) ---- */
int s3_head(S3Client *c, const char *zBucket, const char *zKey, int64_t *pSize, int *pNotFound,
            char *err) {
  S3Req r;
  S3Resp resp;
  int rc;
  if (pNotFound) *pNotFound = 0;
  memset(&r, 0, sizeof r);
  r.zMethod = "HEAD";
  r.zBucket = zBucket;
  r.zKey = zKey;
  r.maxBytes = -1;
  rc = s3_do(c, &r, &resp, err);
  if (rc == IMGPCA_ERROR && resp.status == 404 && pNotFound) *pNotFound = 1;
  if (rc == IMGPCA_OK) {
    if (resp.nContentLength < 0)
      rc = imgpca_seterr(err, "HEAD 's3://%s/%s': no Content-Length in the response", zBucket, zKey);
    else *pSize = resp.nContentLength;
  }
  resp_free(&resp);
  return rc;
}

int s3_mpu_copy_part(S3Client *c, const char *zBucket, const char *zKey, const char *zUploadId,
                     int iPart, const char *zSrcBucket, const char *zSrcKey, int64_t offset,
                     int64_t length, char **pzEtag, char *err) {
  S3Req r;
  S3Resp resp;
  S3Query q;
  ImgpcaBuf src;
  char num[16], range[64];
  int rc;
  memset(&r, 0, sizeof r);
  memset(&q, 0, sizeof q);
  *pzEtag = NULL;
  if (length <= 0) return imgpca_seterr(err, "copy of an empty range of 's3://%s/%s'", zSrcBucket, zSrcKey);
  imgpca_buf_init(&src);
  s3_uri_encode(&src, zSrcBucket, strlen(zSrcBucket), 0);
  imgpca_buf_append(&src, "/", 1);
  s3_uri_encode(&src, zSrcKey, strlen(zSrcKey), 1);
  imgpca_buf_append(&src, "", 1);
  if (src.oom) { imgpca_buf_free(&src); return IMGPCA_NOMEM; }
  snprintf(num, sizeof num, "%d", iPart);
  snprintf(range, sizeof range, "bytes=%lld-%lld", (long long)offset, (long long)(offset + length - 1));
  rc = s3_query_add(&q, "partNumber", num);
  if (!rc) rc = s3_query_add(&q, "uploadId", zUploadId);
  if (rc) { s3_query_free(&q); imgpca_buf_free(&src); return rc; }
  r.zMethod = "PUT";
  r.zBucket = zBucket;
  r.zKey = zKey;
  r.pQuery = &q;
  r.pBody = (const unsigned char *)"";
  r.nBody = 0;
  r.zCopySource = (const char *)src.p;
  r.zCopyRange = range;
  r.maxBytes = 1 << 20;
  rc = s3_do(c, &r, &resp, err);
  if (rc == IMGPCA_OK) {
    /* the ETag is in the body; a 200 answer may still carry an <Error> document */
    rc = s3_xml_copy_part((const char *)resp.body.p, resp.body.n, pzEtag, err);
  }
  resp_free(&resp);
  s3_query_free(&q);
  imgpca_buf_free(&src);
  return rc;
}

/* ---- concurrent GETs ---- */
typedef struct S3Job {
  char *zBucket, *zKey;
  int64_t maxBytes;
  int state;        /* 0 queued, 1 running, 2 done */
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
  S3Job **a;      /* FIFO ring */
  int nAlloc, iHead, n;
  int64_t nTicket;
};

int s3_batch_new(S3Client *c, int nInflight, S3Batch **pp, char *err) {
  S3Batch *b = imgpca_calloc(1, sizeof(*b));
  int rc;
  *pp = NULL;
  if (!b) return IMGPCA_NOMEM;
  rc = client_creds(c, err);
  if (rc) { imgpca_free(b); return rc; }
  b->c = c;
  b->nInflight = nInflight < 1 ? 1 : nInflight;
  b->multi = curl_multi_init();
  if (!b->multi) { imgpca_free(b); return IMGPCA_NOMEM; }
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
  attempt_clear(&j->a);
  resp_free(&j->resp);
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
  if (!j->zBucket || !j->zKey) { job_free(b, j); return IMGPCA_NOMEM; }
  j->maxBytes = maxBytes;
  j->resp.nContentLength = -1;
  j->req.zMethod = "GET";
  j->req.zBucket = j->zBucket;
  j->req.zKey = j->zKey;
  j->req.maxBytes = maxBytes;
  b->a[(b->iHead + b->n) % b->nAlloc] = j;
  b->n++;
  if (pTicket) *pTicket = b->nTicket;
  b->nTicket++;
  return IMGPCA_OK;
}

int s3_batch_pending(S3Batch *b) { return b->n; }

/* Starts queued jobs while slots are free (in FIFO order). */
static int batch_fill(S3Batch *b, char *err) {
  int i;
  for (i = 0; i < b->n && b->nRunning < b->nInflight; i++) {
    S3Job *j = b->a[(b->iHead + i) % b->nAlloc];
    int rc;
    if (j->state != 0) continue;
    if (!j->h && !(j->h = curl_easy_init())) return IMGPCA_NOMEM;
    rc = attempt_setup(b->c, &j->req, client_region(b->c, j->zBucket), j->h, &j->a, &j->resp, err);
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
        attempt_clear(&j->a);
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
    rc = batch_fill(b, err);
    if (rc) return rc;
    if (curl_multi_perform(b->multi, &running) != CURLM_OK) return imgpca_seterr(err, "curl_multi_perform failed");
    batch_reap(b);
  }
  return batch_fill(b, err);
}

int s3_batch_head_done(S3Batch *b) { return b->n > 0 && b->a[b->iHead]->state == 2; }

void s3_batch_wakeup(S3Batch *b) { curl_multi_wakeup(b->multi); }

int s3_client_describe(S3Client *c, ImgpcaBuf *b, char *err) {
  const char *zEnd = cfg(c, "s3.endpoint");
  char masked[64];
  int rc = client_creds(c, err);
  if (rc) return rc;
  imgpca_buf_append(b, "{\"endpoint\":", 12);
  if (zEnd && *zEnd) imgpca_buf_json_string(b, zEnd);
  else imgpca_buf_printf(b, "\"https://s3.%s.amazonaws.com\"", client_region(c, NULL));
  imgpca_buf_append(b, ",\"region\":", 10);
  imgpca_buf_json_string(b, client_region(c, NULL));
  imgpca_buf_append(b, ",\"url_style\":", 13);
  imgpca_buf_json_string(b, cfg(c, "s3.url_style"));
  imgpca_buf_append(b, ",\"credentials\":", 15);
  imgpca_buf_json_string(b, c->creds.zSource);
  imgpca_buf_append(b, ",\"access_key_id\":", 17);
  if (c->creds.zAccess) {
    imgpca_config_mask(c->creds.zAccess, masked, sizeof masked);
    imgpca_buf_json_string(b, masked);
  } else {
    imgpca_buf_append(b, "null", 4);
  }
  imgpca_buf_printf(b, ",\"session_token\":%s,\"signed\":%s,\"verify_tls\":%s}",
                    c->creds.zToken ? "\"****\"" : "null",
                    c->creds.zAccess && !imgpca_config_bool(c->cfg, "s3.unsigned") ? "true" : "false",
                    imgpca_config_bool(c->cfg, "s3.verify_tls") ? "true" : "false");
  return b->oom ? IMGPCA_NOMEM : IMGPCA_OK;
}
