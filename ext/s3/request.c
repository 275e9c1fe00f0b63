/*
** The request pipeline of the S3 client (no SQL behaviour of its own; every
** request behind s3_fetch, s3_put, s3_delete, s3_list and s3_concat goes
** through it).
**
** Every request is set up by one path (s3_req_init, build_target, client_tls,
** sign_headers, curl_options) and signed with SigV4 (sigv4.c) including
** x-amz-content-sha256 of the body, unless no credentials were found or
** s3.unsigned is on.  Retries: transport errors, HTTP 429, 500, 502, 503, 504,
** and truncated bodies are retried up to s3.max_retries times with
** exponential backoff and full jitter (100 ms doubling, capped at 10 s).  A
** 301/307/400 answer carrying a valid x-amz-bucket-region is retried once in
** that region.  A body shorter than its Content-Length is never returned.
** Error messages carry the HTTP status, the S3 Code and Message, the s3://
** URL, the region and one hint, never a secret nor the endpoint's user info.
**
** TLS: certificates are verified unless s3.verify_tls is off (one warning per
** connection on stderr), against the CA bundle (s3.ca_bundle, AWS_CA_BUNDLE,
** ca_bundle of the profile) instead of the system's store when one is set; a
** bundle that cannot be read is an error, never a silent downgrade.  A
** session token sent over plain http gives one warning per connection.
*/
#include "s3_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* ---- interrupts ---- */
/* Waits on the network (transfers, retry backoff, the GET queue) poll
** xInterrupted every 50 ms at most, so an interrupted statement stops
** within about one poll interval (curl's progress callback, which runs at
** least once a second and after every network event; the GET queue's
** 100 ms polls; the backoff sleeps in 50 ms slices). */
void s3_client_set_interrupt(S3Client *c, int (*xInterrupted)(void *), void *pArg) {
  c->xInterrupted = xInterrupted;
  c->pIntArg = pArg;
}

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int s3_client_interrupted(S3Client *c) {
  double t;
  if (!c->xInterrupted) return 0;
  t = mono_s();
  if (t - c->tIntCheck < 0.05) return 0;
  c->tIntCheck = t;
  return c->xInterrupted(c->pIntArg) != 0;
}

static int xferinfo_cb(void *p, curl_off_t dlt, curl_off_t dln, curl_off_t ult, curl_off_t uln) {
  (void)dlt;
  (void)dln;
  (void)ult;
  (void)uln;
  return s3_client_interrupted((S3Client *)p);
}

/* The one set-up of a request; callers add a body, range or content type. */
void s3_req_init(S3Req *r, const char *zMethod, const char *zBucket, const char *zKey, S3Query *q,
                 int64_t maxBytes) {
  memset(r, 0, sizeof(*r));
  r->zMethod = zMethod;
  r->zBucket = zBucket;
  r->zKey = zKey;
  r->pQuery = q;
  r->maxBytes = maxBytes;
}

/* Fills q with NULL-terminated (name, value) pairs; q is freed on failure. */
int s3_query_of(S3Query *q, ...) {
  va_list ap;
  const char *zName;
  int rc = IMGPCA_OK;
  memset(q, 0, sizeof(*q));
  va_start(ap, q);
  while (rc == IMGPCA_OK && (zName = va_arg(ap, const char *)) != NULL)
    rc = s3_query_add(q, zName, va_arg(ap, const char *));
  va_end(ap);
  if (rc) s3_query_free(q);
  return rc;
}

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

void s3_resp_free(S3Resp *r) { resp_reset(r); }

/* Moves the response's ETag to *pzEtag ("" when the server sent none). */
int s3_take_etag(S3Resp *resp, char **pzEtag) {
  if (!pzEtag) return IMGPCA_OK;
  *pzEtag = resp->zEtag ? resp->zEtag : imgpca_strdup("");
  resp->zEtag = NULL;
  return *pzEtag ? IMGPCA_OK : IMGPCA_NOMEM;
}

/* ---- policy ---- */
int s3_http_retryable(int cc, long status) {
  if (cc != CURLE_OK) {
    switch (cc) {
      case CURLE_UNSUPPORTED_PROTOCOL:
      case CURLE_URL_MALFORMAT:
      case CURLE_OUT_OF_MEMORY:
      case CURLE_WRITE_ERROR:
      case CURLE_ABORTED_BY_CALLBACK:
      case CURLE_PEER_FAILED_VERIFICATION:
      case CURLE_SSL_CACERT_BADFILE:
      case CURLE_SSL_CERTPROBLEM:
      case CURLE_NOT_BUILT_IN:
      case CURLE_BAD_FUNCTION_ARGUMENT:
      case CURLE_LOGIN_DENIED:
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
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  c->rng = x ? x : 0x9e3779b9u;
  return c->rng;
}

static void sleep_ms(long ms) {
  struct timespec ts;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (ms % 1000) * 1000000L;
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

/* URL, Host header and canonical path of a request. */
typedef struct S3Target {
  char *zUrl, *zHost, *zPath, *zQuery;
  int bHttps;
} S3Target;

static void target_free(S3Target *t) {
  imgpca_free(t->zUrl);
  imgpca_free(t->zHost);
  imgpca_free(t->zPath);
  imgpca_free(t->zQuery);
  memset(t, 0, sizeof(*t));
}

static int build_target(S3Client *c, const S3Req *r, const char *zRegion, S3Target *t, char *err) {
  const char *zEnd = s3_client_endpoint(c);
  int bCustom = zEnd && *zEnd, bVirtual, rc;
  char *zDefault = bCustom ? NULL : imgpca_mprintf("https://s3.%s.amazonaws.com", zRegion);
  S3Endpoint e;
  ImgpcaBuf path, q;
  memset(t, 0, sizeof(*t));
  if (!bCustom && !zDefault) return IMGPCA_NOMEM;
  rc = s3_endpoint_parse(bCustom ? zEnd : zDefault, &e, err);
  imgpca_free(zDefault);
  if (rc) return rc;
  t->bHttps = e.bHttps;
  bVirtual = s3_url_virtual(s3_client_setting(c, "s3.url_style"), r->zBucket, bCustom, e.bHttps);
  imgpca_buf_init(&path);
  imgpca_buf_init(&q);
  if (*e.zBase) {
    size_t nb = strlen(e.zBase);
    while (nb && e.zBase[nb - 1] == '/') e.zBase[--nb] = 0;
    imgpca_buf_append(&path, "/", 1);
    imgpca_uri_encode(&path, e.zBase, nb, 1);
  }
  if (!bVirtual && r->zBucket) {
    imgpca_buf_append(&path, "/", 1);
    imgpca_uri_encode(&path, r->zBucket, strlen(r->zBucket), 0);
  }
  if (r->zKey) {
    imgpca_buf_append(&path, "/", 1);
    imgpca_uri_encode(&path, r->zKey, strlen(r->zKey), 1);
  } else if (path.n == 0) {
    imgpca_buf_append(&path, "/", 1);
  }
  imgpca_buf_append(&path, "", 1);
  if (r->pQuery) s3_query_render(r->pQuery, &q);
  imgpca_buf_append(&q, "", 1);
  t->zHost = bVirtual ? imgpca_mprintf("%s.%s", r->zBucket, e.zHost) : imgpca_strdup(e.zHost);
  if (!path.oom && !q.oom && t->zHost)
    t->zUrl = imgpca_mprintf("%s://%s%s%s%s", e.bHttps ? "https" : "http", t->zHost, (char *)path.p,
                             q.n > 1 ? "?" : "", (char *)q.p);
  if (t->zUrl) {
    t->zPath = (char *)imgpca_buf_detach(&path, NULL);
    t->zQuery = (char *)imgpca_buf_detach(&q, NULL);
  }
  if (e.bUserinfo) {
    char shown[256];
    s3_client_endpoint_shown(c, shown, sizeof shown);
    s3_client_warn(c, WARN_USERINFO,
                   "the user name and password in s3.endpoint '%s' are not used (S3 requests "
                   "are signed with the access key)",
                   shown);
  }
  imgpca_buf_free(&path);
  imgpca_buf_free(&q);
  s3_endpoint_free(&e);
  if (!t->zUrl) {
    target_free(t);
    return IMGPCA_NOMEM;
  }
  return IMGPCA_OK;
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
    while (m && (*v == ' ' || *v == '\t')) {
      v++;
      m--;
    }
    while (m && (v[m - 1] == '\r' || v[m - 1] == '\n' || v[m - 1] == ' ')) m--;
    z = imgpca_malloc(m + 1);
    if (z) {
      memcpy(z, v, m);
      z[m] = 0;
    }
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
  if ((v = hdr_value(p, nb, "etag")) != NULL) {
    imgpca_free(r->zEtag);
    r->zEtag = v;
  } else if ((v = hdr_value(p, nb, "x-amz-bucket-region")) != NULL) {
    imgpca_free(r->zRegionHdr);
    r->zRegionHdr = v;
  } else if ((v = hdr_value(p, nb, "content-length")) != NULL) {
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

void s3_attempt_clear(S3Attempt *a) {
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

/* Headers of a request, with the SigV4 Authorization when signed. */
static int sign_headers(S3Client *c, const S3Req *r, const char *zRegion, const S3Target *t,
                        struct curl_slist **pl) {
  char amzDate[17], hash[65];
  char *zAuth = NULL;
  S3Header aH[8];
  int nH = 0, rc = IMGPCA_OK, bSign = s3_client_signed(c);
  const char *zToken = bSign ? c->creds.zToken : NULL;
  s3_amz_date(time(NULL), amzDate);
  if (r->nBody)
    s3_sha256_hex(r->pBody, r->nBody, hash);
  else
    memcpy(hash, EMPTY_SHA256, 65);
  aH[nH].zName = "host";
  aH[nH++].zValue = t->zHost;
  if (r->zRange) {
    aH[nH].zName = "range";
    aH[nH++].zValue = r->zRange;
  }
  aH[nH].zName = "x-amz-content-sha256";
  aH[nH++].zValue = hash;
  if (r->zCopySource) {
    aH[nH].zName = "x-amz-copy-source";
    aH[nH++].zValue = r->zCopySource;
  }
  if (r->zCopyMatch) {
    aH[nH].zName = "x-amz-copy-source-if-match";
    aH[nH++].zValue = r->zCopyMatch;
  }
  if (r->zCopyRange) {
    aH[nH].zName = "x-amz-copy-source-range";
    aH[nH++].zValue = r->zCopyRange;
  }
  aH[nH].zName = "x-amz-date";
  aH[nH++].zValue = amzDate;
  if (zToken) {
    aH[nH].zName = "x-amz-security-token";
    aH[nH++].zValue = zToken;
  }
  if (bSign) {
    S3SignInput in;
    memset(&in, 0, sizeof in);
    in.zMethod = r->zMethod;
    in.zPath = t->zPath;
    in.zQuery = t->zQuery;
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
  if (rc == IMGPCA_OK) rc = add_hdr(pl, "Host: %s", t->zHost);
  if (rc == IMGPCA_OK && r->zRange) rc = add_hdr(pl, "Range: %s", r->zRange);
  if (rc == IMGPCA_OK) rc = add_hdr(pl, "x-amz-content-sha256: %s", hash);
  if (rc == IMGPCA_OK) rc = add_hdr(pl, "x-amz-date: %s", amzDate);
  if (rc == IMGPCA_OK && r->zCopySource) rc = add_hdr(pl, "x-amz-copy-source: %s", r->zCopySource);
  if (rc == IMGPCA_OK && r->zCopyMatch) rc = add_hdr(pl, "x-amz-copy-source-if-match: %s", r->zCopyMatch);
  if (rc == IMGPCA_OK && r->zCopyRange) rc = add_hdr(pl, "x-amz-copy-source-range: %s", r->zCopyRange);
  if (rc == IMGPCA_OK && zToken) rc = add_hdr(pl, "x-amz-security-token: %s", zToken);
  if (rc == IMGPCA_OK && zAuth) rc = add_hdr(pl, "Authorization: %s", zAuth);
  if (rc == IMGPCA_OK && r->pBody)
    rc = add_hdr(pl, "Content-Type: %s", r->zContentType ? r->zContentType : "application/octet-stream");
  if (rc == IMGPCA_OK) rc = add_hdr(pl, "%sExpect:", "");
  if (zAuth) memset(zAuth, 0, strlen(zAuth));
  imgpca_free(zAuth);
  return rc;
}

/* Certificate verification of an https request: on unless s3.verify_tls is
** off (then a warning, once per connection), against s3.ca_bundle when one
** is configured (instead of the system's store).  A bundle that cannot be
** read is an error: the request is never sent unverified instead.  Plain
** http with a session token is sent, with a warning once per connection. */
static int client_tls(S3Client *c, CURL *h, const S3Target *t, char *err) {
  const char *zCa = c->creds.zCaBundle;
  char shown[256];
  s3_client_endpoint_shown(c, shown, sizeof shown);
  if (!t->bHttps) {
    if (s3_client_signed(c) && c->creds.zToken)
      s3_client_warn(c, WARN_HTTP_TOKEN,
                     "s3.endpoint '%s' is plain http: the session token is sent unencrypted "
                     "with every request; use an https:// endpoint",
                     shown);
    return IMGPCA_OK;
  }
  if (!imgpca_config_bool(c->cfg, "s3.verify_tls")) {
    s3_client_warn(c, WARN_NO_VERIFY, "s3.verify_tls is off: the TLS certificate of '%s' is not verified", shown);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    return IMGPCA_OK;
  }
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!zCa) return IMGPCA_OK;
  if (!c->zCaChecked || strcmp(c->zCaChecked, zCa) != 0) {
    struct stat st;
    int fd = open(zCa, O_RDONLY | O_CLOEXEC), e = errno;
    int bFile = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    if (fd >= 0) close(fd);
    if (!bFile)
      return imgpca_seterr(err, "cannot read the CA bundle '%s' (%s): %s", zCa, c->creds.zCaSource,
                           fd < 0 ? strerror(e) : "not a regular file");
    imgpca_free(c->zCaChecked);
    c->zCaChecked = imgpca_strdup(zCa);
    if (!c->zCaChecked) return IMGPCA_NOMEM;
  }
  curl_easy_setopt(h, CURLOPT_CAINFO, zCa);
  curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
  return IMGPCA_OK;
}

static void curl_options(S3Client *c, const S3Req *r, CURL *h, S3Attempt *a, S3Resp *resp) {
  curl_easy_setopt(h, CURLOPT_URL, a->zUrl);
  curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, a->hdrs);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)imgpca_config_int(c->cfg, "s3.connect_timeout_ms"));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)imgpca_config_int(c->cfg, "s3.timeout_ms"));
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)((imgpca_config_int(c->cfg, "s3.low_speed_ms") + 999) / 1000));
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
}

int s3_attempt_setup(S3Client *c, const S3Req *r, const char *zRegion, CURL *h, S3Attempt *a,
                     S3Resp *resp, char *err) {
  S3Target t;
  int rc;
  memset(a, 0, sizeof(*a));
  a->h = h;
  rc = build_target(c, r, zRegion, &t, err);
  if (rc) return rc;
  curl_easy_reset(h);
  rc = client_tls(c, h, &t, err);
  if (rc == IMGPCA_OK) rc = sign_headers(c, r, zRegion, &t, &a->hdrs);
  a->zUrl = t.zUrl;
  t.zUrl = NULL;
  target_free(&t);
  if (rc) {
    s3_attempt_clear(a);
    return rc;
  }
  curl_options(c, r, h, a, resp);
  if (c->xInterrupted) {
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
  }
  resp_reset(resp);
  resp->maxBytes = r->maxBytes;
  return IMGPCA_OK;
}

static void s3_url_text(char *out, size_t n, const S3Req *r) {
  snprintf(out, n, "s3://%s/%s", r->zBucket ? r->zBucket : "", r->zKey ? r->zKey : "");
}

/* The hint of a failed TLS handshake or certificate check. */
static void tls_hint(S3Client *c, int cc, const char *zDetail, char *out, size_t n) {
  char shown[256];
  const char *zCa = c->creds.zCaBundle;
  s3_client_endpoint_shown(c, shown, sizeof shown);
  if (cc == CURLE_SSL_CACERT_BADFILE)
    snprintf(out, n, "the CA bundle '%.150s' (%.100s) is not a PEM file of certificates", zCa ? zCa : "?",
             zCa ? c->creds.zCaSource : "s3.ca_bundle");
  else if (strstr(zDetail, "subject name") || strstr(zDetail, "does not match"))
    snprintf(out, n,
             "the certificate of '%.150s' is not issued for this host name (virtual-hosted requests "
             "use BUCKET.host: a wildcard certificate or s3.url_style 'path')",
             shown);
  else if (strstr(zDetail, "expired"))
    snprintf(out, n, "the certificate of '%.150s' has expired (or the system clock is wrong)", shown);
  else if (zCa)
    snprintf(out, n, "the certificate of '%.150s' is not signed by a CA of the bundle '%.150s' (%.100s)", shown, zCa,
             c->creds.zCaSource);
  else
    snprintf(out, n,
             "the certificate of '%.150s' is not trusted by the system; for a private CA set "
             "s3.ca_bundle or AWS_CA_BUNDLE (s3.verify_tls)",
             shown);
}

static int transport_error(S3Client *c, const S3Req *r, const char *zRegion, int cc, S3Resp *resp,
                           int nAttempt, char *err) {
  char zUrl[300], hint[600], shown[256];
  const char *zDetail = resp->zCurlErr[0] ? resp->zCurlErr : curl_easy_strerror((CURLcode)cc);
  s3_url_text(zUrl, sizeof zUrl, r);
  s3_client_endpoint_shown(c, shown, sizeof shown);
  if (resp->bTooBig)
    return imgpca_seterr(err, "object '%s' is larger than the limit of %lld bytes (SQLITE_LIMIT_LENGTH)",
                         zUrl, (long long)r->maxBytes);
  if (cc == CURLE_PARTIAL_FILE || cc == CURLE_RECV_ERROR || cc == CURLE_SEND_ERROR || cc == CURLE_GOT_NOTHING)
    snprintf(hint, sizeof hint, "the connection kept breaking during the transfer (s3.max_retries)");
  else if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE || cc == CURLE_SSL_CONNECT_ERROR)
    tls_hint(c, cc, zDetail, hint, sizeof hint);
  else
    snprintf(hint, sizeof hint, "is the endpoint '%s' reachable? (s3.endpoint, s3.connect_timeout_ms, s3.timeout_ms)",
             shown);
  return imgpca_seterr(err, "%s for '%s' after %d attempt%s (region '%s'); hint: %s", zDetail, zUrl, nAttempt,
                       nAttempt == 1 ? "" : "s", zRegion, hint);
}

static int http_error(S3Client *c, const S3Req *r, const char *zRegion, S3Resp *resp, int nAttempt,
                      char *err) {
  char zUrl[300], hintBuf[200];
  const char *zHint = NULL, *zCode, *zMsg;
  S3XmlError e;
  s3_url_text(zUrl, sizeof zUrl, r);
  memset(&e, 0, sizeof e);
  if (resp->body.n) s3_xml_error((const char *)resp->body.p, resp->body.n, &e);
  zCode = e.zCode           ? e.zCode
      : resp->status == 404 ? (r->zKey ? "NoSuchKey" : "NoSuchBucket")
      : resp->status == 403 ? "AccessDenied"
      : resp->status == 416 ? "InvalidRange"
                            : "error";
  zMsg = e.zMessage ? e.zMessage : "";
  if (resp->status == 403 || resp->status == 400) {
    if (!s3_client_signed(c))
      zHint = "no credentials found: set s3.access_key_id/s3.secret_access_key, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile in ~/.aws, or use an instance role";
    else if (strcmp(zCode, "SignatureDoesNotMatch") == 0)
      snprintf(hintBuf, sizeof hintBuf, "check the secret access key (credentials from %s) and s3.region", c->creds.zSource);
    else if (strcmp(zCode, "InvalidAccessKeyId") == 0)
      snprintf(hintBuf, sizeof hintBuf, "check the access key id (credentials from %s) and s3.endpoint", c->creds.zSource);
    else if (strcmp(zCode, "RequestTimeTooSkewed") == 0)
      zHint = "the system clock is wrong";
    else
      snprintf(hintBuf, sizeof hintBuf, "check the permissions of the credentials (from %s)", c->creds.zSource);
    if (!zHint) zHint = hintBuf;
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

static int set_redirect(S3Client *c, const char *zBucket, const char *zRegion) {
  imgpca_free(c->zRedirBucket);
  imgpca_free(c->zRedirRegion);
  c->zRedirBucket = imgpca_strdup(zBucket);
  c->zRedirRegion = imgpca_strdup(zRegion);
  if (c->zRedirBucket && c->zRedirRegion) return IMGPCA_OK;
  imgpca_free(c->zRedirBucket);
  imgpca_free(c->zRedirRegion);
  c->zRedirBucket = c->zRedirRegion = NULL;
  return IMGPCA_NOMEM;
}

/* A wrong-region answer (301/307/400 with x-amz-bucket-region): 1 = retry in
** that region (once), 0 = not such an answer, IMGPCA_ERROR = the header is
** not a valid region (never used: it would go into the host name). */
static int region_redirect(S3Client *c, const S3Req *r, S3Resp *resp, char zRegion[64], char *err) {
  char zUrl[300], shown[48];
  if (!(resp->status == 301 || resp->status == 400 || resp->status == 307) || !r->zBucket ||
      !resp->zRegionHdr || !*resp->zRegionHdr || strcmp(resp->zRegionHdr, zRegion) == 0)
    return 0;
  if (!imgpca_region_valid(resp->zRegionHdr)) {
    s3_url_text(zUrl, sizeof zUrl, r);
    s3_printable(shown, sizeof shown, resp->zRegionHdr);
    imgpca_seterr(err,
                  "HTTP %ld for '%s' (region '%s') names an invalid region in x-amz-bucket-region: '%s' "
                  "(ignored; expected 1 to 32 lower-case letters, digits or '-')",
                  resp->status, zUrl, zRegion, shown);
    return -1;
  }
  snprintf(zRegion, 64, "%s", resp->zRegionHdr);
  if (set_redirect(c, r->zBucket, zRegion)) return -2;
  return 1;
}

/* Performs a request with retries.  IMGPCA_OK only for 2xx; on other final
** statuses resp->status is kept so that callers can test for 404. */
int s3_do(S3Client *c, const S3Req *r, S3Resp *resp, char *err) {
  int maxRetries = (int)imgpca_config_int(c->cfg, "s3.max_retries");
  int attempt = 0, bRedirected = 0, rc;
  char zRegion[64];
  memset(resp, 0, sizeof(*resp));
  resp->nContentLength = -1;
  rc = s3_client_creds(c, err);
  if (rc == IMGPCA_OK) rc = s3_client_region(c, r->zBucket, zRegion, err);
  if (rc) return rc;
  if (!c->easy && !(c->easy = curl_easy_init())) return IMGPCA_NOMEM;
  for (;;) {
    S3Attempt a;
    CURLcode cc;
    rc = s3_attempt_setup(c, r, zRegion, c->easy, &a, resp, err);
    if (rc) return rc;
    cc = curl_easy_perform(c->easy);
    s3_attempt_clear(&a);
    attempt++;
    if (cc == CURLE_ABORTED_BY_CALLBACK && c->xInterrupted) return IMGPCA_INTERRUPT;
    if (cc == CURLE_OK) curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &resp->status);
    if (cc == CURLE_OK && resp->status / 100 == 2 && strcmp(r->zMethod, "HEAD") != 0 &&
        resp->nContentLength >= 0 && (int64_t)resp->body.n != resp->nContentLength) {
      cc = CURLE_PARTIAL_FILE; /* truncated: never returned as data */
      snprintf(resp->zCurlErr, sizeof resp->zCurlErr, "truncated response (%zu of %lld bytes)",
               resp->body.n, (long long)resp->nContentLength);
    }
    if (cc == CURLE_OK && resp->status / 100 == 2) return IMGPCA_OK;
    if (cc == CURLE_OK && !bRedirected) {
      int k = region_redirect(c, r, resp, zRegion, err);
      if (k == -1) return IMGPCA_ERROR;
      if (k == -2) return IMGPCA_NOMEM;
      if (k == 1) {
        bRedirected = 1;
        continue;
      }
    }
    if (cc != CURLE_OK) {
      if (resp->bTooBig || !s3_http_retryable((int)cc, 0) || attempt > maxRetries)
        return transport_error(c, r, zRegion, (int)cc, resp, attempt, err);
    } else if (!s3_http_retryable(CURLE_OK, resp->status) || attempt > maxRetries) {
      return http_error(c, r, zRegion, resp, attempt, err);
    }
    {
      long ms = s3_backoff_ms(attempt - 1, rng_next(c));
      for (; ms > 0; ms -= 50) {
        c->tIntCheck = 0;
        if (s3_client_interrupted(c)) return IMGPCA_INTERRUPT;
        sleep_ms(ms < 50 ? ms : 50);
      }
    }
  }
}
