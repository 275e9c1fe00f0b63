/*
** S3 HTTP client over libcurl (no SQL behaviour of its own; used by the
** storage layer behind s3_fetch, s3_put, s3_delete, s3_list and s3_config).
**
** Every request is set up by one path (req_init, build_target, client_tls,
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
** Regions (setting, environment, profile, server header) must be 1 to 32 of
** [a-z0-9-]: they become part of host names.  Addressing: s3_url_virtual.
** TLS: certificates are verified unless s3.verify_tls is off (one warning per
** connection on stderr), against the CA bundle (s3.ca_bundle, AWS_CA_BUNDLE,
** ca_bundle of the profile) instead of the system's store when one is set; a
** bundle that cannot be read is an error, never a silent downgrade.  A
** session token sent over plain http gives one warning per connection.
*/
#include "s3.h"

#include <curl/curl.h>

#include "../common/lazy_curl.h"
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

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

static int client_interrupted(S3Client *c) {
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
  return client_interrupted((S3Client *)p);
}

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

/* The one set-up of a request; callers add a body, range or content type. */
static void req_init(S3Req *r, const char *zMethod, const char *zBucket, const char *zKey, S3Query *q,
                     int64_t maxBytes) {
  memset(r, 0, sizeof(*r));
  r->zMethod = zMethod;
  r->zBucket = zBucket;
  r->zKey = zKey;
  r->pQuery = q;
  r->maxBytes = maxBytes;
}

/* Fills q with NULL-terminated (name, value) pairs; q is freed on failure. */
static int query_of(S3Query *q, ...) {
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
  imgpca_free(c->zCaChecked);
  if (c->easy) curl_easy_cleanup(c->easy);
  imgpca_free(c);
}

static const char *cfg(S3Client *c, const char *k) { return imgpca_config_get(c->cfg, k, NULL); }

/* The endpoint: s3.endpoint (connection setting, AWS_ENDPOINT_URL_S3,
** AWS_ENDPOINT_URL), else the profile's (services s3 endpoint_url, then
** endpoint_url; read with the credentials), else NULL (AWS). */
static const char *client_endpoint(S3Client *c) {
  const char *z = cfg(c, "s3.endpoint");
  if (z && *z) return z;
  return c->bCreds && c->creds.zProfileEndpoint && *c->creds.zProfileEndpoint ? c->creds.zProfileEndpoint : NULL;
}

/* One line on stderr, at most once per connection for each kind. */
static void warn_once(S3Client *c, int mKind, const char *zFmt, ...) IMGPCA_PRINTF(3, 4);
static void warn_once(S3Client *c, int mKind, const char *zFmt, ...) {
  va_list ap;
  if (c->mWarned & mKind) return;
  c->mWarned |= mKind;
  va_start(ap, zFmt);
  fputs("imgpca: warning: ", stderr);
  vfprintf(stderr, zFmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

/* Credentials (and the CA bundle), re-resolved when a relevant setting
** changed or they expire within 5 minutes. */
static int client_creds(S3Client *c, char *err) {
  static const char *aKey[] = {"s3.access_key_id", "s3.secret_access_key", "s3.session_token",
                               "s3.profile", "s3.credentials_file", "s3.config_file",
                               "s3.imds_endpoint", "s3.imds_disabled", "s3.ca_bundle"};
  ImgpcaBuf k;
  size_t i;
  int rc;
  imgpca_buf_init(&k);
  for (i = 0; i < sizeof aKey / sizeof aKey[0]; i++) {
    const char *v = cfg(c, aKey[i]);
    imgpca_buf_printf(&k, "%s\x1f", v ? v : "\x1e");
  }
  imgpca_buf_append(&k, "", 1);
  if (k.oom) {
    imgpca_buf_free(&k);
    return IMGPCA_NOMEM;
  }
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

/* Printable copy of untrusted text (a server's header) for messages. */
static void printable(char *out, size_t nOut, const char *z) {
  size_t i;
  for (i = 0; z && z[i] && i + 1 < nOut && i < 40; i++)
    out[i] = (z[i] >= 0x20 && z[i] < 0x7f && z[i] != '\'') ? z[i] : '?';
  if (nOut) out[i < nOut ? i : nOut - 1] = 0;
}

/* The signing region of a request (validated wherever it comes from: the
** region becomes part of the default endpoint's host name). */
static int client_region(S3Client *c, const char *zBucket, char out[64], char *err) {
  const char *z = cfg(c, "s3.region");
  char origin[128];
  if (zBucket && c->zRedirBucket && strcmp(zBucket, c->zRedirBucket) == 0) {
    snprintf(out, 64, "%s", c->zRedirRegion); /* validated before it was stored */
    return IMGPCA_OK;
  }
  if (z && *z) {
    imgpca_config_origin(c->cfg, "s3.region", origin, sizeof origin);
  } else if (c->creds.zProfileRegion && *c->creds.zProfileRegion) {
    const char *zProfile = cfg(c, "s3.profile");
    z = c->creds.zProfileRegion;
    snprintf(origin, sizeof origin, "region of profile '%.40s' in the config file",
             zProfile && *zProfile ? zProfile : "default");
  } else {
    z = "us-east-1";
    origin[0] = 0;
  }
  if (!imgpca_region_valid(z)) {
    char shown[48];
    printable(shown, sizeof shown, z);
    return imgpca_seterr(err, "invalid region '%s' (%s): expected 1 to 32 lower-case letters, digits or '-'",
                         shown, origin);
  }
  snprintf(out, 64, "%s", z);
  return IMGPCA_OK;
}

int s3_bucket_virtual_ok(const char *z, int bHttps) {
  size_t n = strlen(z), i;
  int bNumeric = 1;
  if (n < 3 || n > 63) return 0;
  for (i = 0; i < n; i++) {
    char ch = z[i];
    if ((ch >= 'a' && ch <= 'z') || ch == '-')
      bNumeric = 0;
    else if (ch == '.') {
      /* a dotted name does not match a wildcard certificate *.endpoint */
      if (bHttps || i == 0 || z[i - 1] == '.' || z[i - 1] == '-' || z[i + 1] == '-') return 0;
    } else if (!(ch >= '0' && ch <= '9'))
      return 0; /* upper case, '_', ... */
  }
  if (z[0] == '-' || z[n - 1] == '-' || z[n - 1] == '.') return 0;
  return !bNumeric; /* "192.168.0.1" and the like look like addresses */
}

int s3_url_virtual(const char *zStyle, const char *zBucket, int bCustomEndpoint, int bHttps) {
  if (!zBucket || !s3_bucket_virtual_ok(zBucket, bHttps)) return 0;
  if (zStyle && strcmp(zStyle, "virtual") == 0) return 1;
  if (zStyle && strcmp(zStyle, "path") == 0) return 0;
  return !bCustomEndpoint;
}

int s3_endpoint_parse(const char *zUrl, S3Endpoint *e, char *err) {
  const char *zAuth, *zEnd, *p, *zAt = NULL;
  char shown[256];
  memset(e, 0, sizeof(*e));
  if (strncmp(zUrl, "https://", 8) == 0)
    e->bHttps = 1;
  else if (strncmp(zUrl, "http://", 7) != 0) {
    imgpca_url_redact(zUrl, shown, sizeof shown);
    return imgpca_seterr(err, "invalid endpoint '%s': expected http:// or https://", shown);
  }
  zAuth = zUrl + (e->bHttps ? 8 : 7);
  zEnd = zAuth + strcspn(zAuth, "/?#");
  for (p = zAuth; p < zEnd; p++)
    if (*p == '@') zAt = p;
  if (strchr(zEnd, '@')) {
    /* user info holding '/', '?' or '#' (https://u:pa/ss@host): which part
    ** is the host is ambiguous, so refuse rather than guess */
    imgpca_url_redact(zUrl, shown, sizeof shown);
    return imgpca_seterr(err,
                         "invalid endpoint '%s': '@' after the host (percent-encode '/', '?' and '#' in a user "
                         "name or password; they are not used anyway)",
                         shown);
  }
  if (zAt) {
    e->bUserinfo = 1; /* never sent: S3 requests are signed, not password-protected */
    zAuth = zAt + 1;
  }
  if (zEnd == zAuth || *zEnd == '?' || *zEnd == '#') {
    imgpca_url_redact(zUrl, shown, sizeof shown);
    return imgpca_seterr(err, "invalid endpoint '%s': expected %s://host[:port][/path]", shown,
                         e->bHttps ? "https" : "http");
  }
  e->zHost = imgpca_malloc((size_t)(zEnd - zAuth) + 1);
  e->zBase = imgpca_strdup(*zEnd == '/' ? zEnd + 1 : "");
  if (!e->zHost || !e->zBase) {
    s3_endpoint_free(e);
    return IMGPCA_NOMEM;
  }
  memcpy(e->zHost, zAuth, (size_t)(zEnd - zAuth));
  e->zHost[zEnd - zAuth] = 0;
  return IMGPCA_OK;
}

void s3_endpoint_free(S3Endpoint *e) {
  imgpca_free(e->zHost);
  imgpca_free(e->zBase);
  memset(e, 0, sizeof(*e));
}

/* The endpoint as messages show it (user info hidden). */
static void endpoint_shown(S3Client *c, char *out, size_t n) {
  const char *zEnd = client_endpoint(c);
  if (zEnd && *zEnd)
    imgpca_url_redact(zEnd, out, n);
  else
    snprintf(out, n, "AWS S3");
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
  const char *zEnd = client_endpoint(c);
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
  bVirtual = s3_url_virtual(cfg(c, "s3.url_style"), r->zBucket, bCustom, e.bHttps);
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
    endpoint_shown(c, shown, sizeof shown);
    warn_once(c, WARN_USERINFO,
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

static int is_signed(S3Client *c) {
  return c->creds.zAccess && c->creds.zSecret && !imgpca_config_bool(c->cfg, "s3.unsigned");
}

/* Headers of a request, with the SigV4 Authorization when signed. */
static int sign_headers(S3Client *c, const S3Req *r, const char *zRegion, const S3Target *t,
                        struct curl_slist **pl) {
  char amzDate[17], hash[65];
  char *zAuth = NULL;
  S3Header aH[8];
  int nH = 0, rc = IMGPCA_OK, bSign = is_signed(c);
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
  endpoint_shown(c, shown, sizeof shown);
  if (!t->bHttps) {
    if (is_signed(c) && c->creds.zToken)
      warn_once(c, WARN_HTTP_TOKEN,
                "s3.endpoint '%s' is plain http: the session token is sent unencrypted "
                "with every request; use an https:// endpoint",
                shown);
    return IMGPCA_OK;
  }
  if (!imgpca_config_bool(c->cfg, "s3.verify_tls")) {
    warn_once(c, WARN_NO_VERIFY, "s3.verify_tls is off: the TLS certificate of '%s' is not verified", shown);
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

static int attempt_setup(S3Client *c, const S3Req *r, const char *zRegion, CURL *h, S3Attempt *a,
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
    attempt_clear(a);
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
  endpoint_shown(c, shown, sizeof shown);
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
  endpoint_shown(c, shown, sizeof shown);
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
    if (!is_signed(c))
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
    printable(shown, sizeof shown, resp->zRegionHdr);
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
static int s3_do(S3Client *c, const S3Req *r, S3Resp *resp, char *err) {
  int maxRetries = (int)imgpca_config_int(c->cfg, "s3.max_retries");
  int attempt = 0, bRedirected = 0, rc;
  char zRegion[64];
  memset(resp, 0, sizeof(*resp));
  resp->nContentLength = -1;
  rc = client_creds(c, err);
  if (rc == IMGPCA_OK) rc = client_region(c, r->zBucket, zRegion, err);
  if (rc) return rc;
  if (!c->easy && !(c->easy = curl_easy_init())) return IMGPCA_NOMEM;
  for (;;) {
    S3Attempt a;
    CURLcode cc;
    rc = attempt_setup(c, r, zRegion, c->easy, &a, resp, err);
    if (rc) return rc;
    cc = curl_easy_perform(c->easy);
    attempt_clear(&a);
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
        if (client_interrupted(c)) return IMGPCA_INTERRUPT;
        sleep_ms(ms < 50 ? ms : 50);
      }
    }
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
  /* an empty range only checks that the object exists */
  req_init(&r, length == 0 ? "HEAD" : "GET", zBucket, zKey, NULL, maxBytes);
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
  resp_free(&resp);
  return rc;
}

/* Moves the response's ETag to *pzEtag ("" when the server sent none). */
static int take_etag(S3Resp *resp, char **pzEtag) {
  if (!pzEtag) return IMGPCA_OK;
  *pzEtag = resp->zEtag ? resp->zEtag : imgpca_strdup("");
  resp->zEtag = NULL;
  return *pzEtag ? IMGPCA_OK : IMGPCA_NOMEM;
}

int s3_put(S3Client *c, const char *zBucket, const char *zKey, const void *p, size_t n,
           char **pzEtag, char *err) {
  S3Req r;
  S3Resp resp;
  int rc;
  req_init(&r, "PUT", zBucket, zKey, NULL, 1 << 20);
  r.pBody = p ? p : (const unsigned char *)"";
  r.nBody = n;
  rc = s3_do(c, &r, &resp, err);
  if (rc == IMGPCA_OK) rc = take_etag(&resp, pzEtag);
  resp_free(&resp);
  return rc;
}

int s3_delete(S3Client *c, const char *zBucket, const char *zKey, char *err) {
  S3Req r;
  S3Resp resp;
  int rc;
  req_init(&r, "DELETE", zBucket, zKey, NULL, 1 << 20);
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
  memset(out, 0, sizeof(*out));
  snprintf(zMax, sizeof zMax, "%d", nMax > 0 && nMax < 1000 ? nMax : 1000);
  rc = query_of(&q, "list-type", "2", "encoding-type", "url", "max-keys", zMax, NULL);
  if (!rc && zPrefix && *zPrefix) rc = s3_query_add(&q, "prefix", zPrefix);
  if (!rc && zToken) rc = s3_query_add(&q, "continuation-token", zToken);
  if (rc) {
    s3_query_free(&q);
    return rc;
  }
  req_init(&r, "GET", zBucket, NULL, &q, 64 << 20);
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

int s3_mpu_begin(S3Client *c, const char *zBucket, const char *zKey, char **pzUploadId, char *err) {
  S3Req r;
  S3Resp resp;
  S3Query q;
  int rc = query_of(&q, "uploads", "", NULL);
  if (rc) return rc;
  req_init(&r, "POST", zBucket, zKey, &q, 1 << 20);
  r.pBody = (const unsigned char *)"";
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
  snprintf(num, sizeof num, "%d", iPart);
  rc = query_of(&q, "partNumber", num, "uploadId", zUploadId, NULL);
  if (rc) return rc;
  req_init(&r, "PUT", zBucket, zKey, &q, 1 << 20);
  r.pBody = p ? p : (const unsigned char *)"";
  r.nBody = n;
  rc = s3_do(c, &r, &resp, err);
  if (rc == IMGPCA_OK && !resp.zEtag)
    rc = imgpca_seterr(err, "upload of part %d of 's3://%s/%s': no ETag in the response", iPart, zBucket, zKey);
  if (rc == IMGPCA_OK) rc = take_etag(&resp, pzEtag);
  resp_free(&resp);
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
    req_init(&h, "HEAD", zBucket, zKey, NULL, -1);
    if (s3_do(c, &h, &hr, err) == IMGPCA_OK && hr.zEtag) {
      imgpca_free(zEtag);
      zEtag = hr.zEtag;
      hr.zEtag = NULL;
    }
    resp_free(&hr);
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
  rc = query_of(&q, "uploadId", zUploadId, NULL);
  if (rc) {
    imgpca_buf_free(&body);
    return rc;
  }
  req_init(&r, "POST", zBucket, zKey, &q, 1 << 20);
  r.pBody = body.p;
  r.nBody = body.n;
  r.zContentType = "application/xml";
  rc = s3_do(c, &r, &resp, err);
  if (rc == IMGPCA_OK) rc = complete_etag(c, zBucket, zKey, &resp, pzEtag, err);
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
  int (*xInt)(void *) = c->xInterrupted;
  if (query_of(&q, "uploadId", zUploadId, NULL)) return;
  req_init(&r, "DELETE", zBucket, zKey, &q, 1 << 20);
  /* an interrupted upload is aborted all the same: no orphan left behind */
  c->xInterrupted = NULL;
  s3_do(c, &r, &resp, err);
  c->xInterrupted = xInt;
  resp_free(&resp);
  s3_query_free(&q);
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
  req_init(&r, "HEAD", zBucket, zKey, NULL, -1);
  rc = s3_do(c, &r, &resp, err);
  if (rc == IMGPCA_ERROR && resp.status == 404 && pNotFound) *pNotFound = 1;
  if (rc == IMGPCA_OK) {
    if (resp.nContentLength < 0)
      rc = imgpca_seterr(err, "HEAD 's3://%s/%s': no Content-Length in the response", zBucket, zKey);
    else
      *pSize = resp.nContentLength;
  }
  if (rc == IMGPCA_OK && pzEtag && resp.zEtag) rc = take_etag(&resp, pzEtag);
  resp_free(&resp);
  return rc;
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
  rc = query_of(&q, "partNumber", num, "uploadId", zUploadId, NULL);
  if (rc) {
    imgpca_buf_free(&src);
    return rc;
  }
  req_init(&r, "PUT", zBucket, zKey, &q, 1 << 20);
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
  resp_free(&resp);
  s3_query_free(&q);
  imgpca_buf_free(&src);
  return rc;
}

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
  rc = client_creds(c, err);
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
  if (!j->zBucket || !j->zKey) {
    job_free(b, j);
    return IMGPCA_NOMEM;
  }
  j->maxBytes = maxBytes;
  j->resp.nContentLength = -1;
  req_init(&j->req, "GET", j->zBucket, j->zKey, NULL, maxBytes);
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
    rc = client_region(b->c, j->zBucket, zRegion, err);
    if (rc == IMGPCA_OK) rc = attempt_setup(b->c, &j->req, zRegion, j->h, &j->a, &j->resp, err);
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
    if (client_interrupted(b->c)) return IMGPCA_INTERRUPT;
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
    if (client_interrupted(b->c)) return IMGPCA_INTERRUPT;
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
  const char *zEnd;
  char masked[64], shown[1024], zRegion[64];
  int rc = client_creds(c, err);
  if (rc == IMGPCA_OK) rc = client_region(c, NULL, zRegion, err);
  if (rc) return rc;
  zEnd = client_endpoint(c); /* after the credentials: may be the profile's */
  imgpca_buf_append(b, "{\"endpoint\":", 12);
  if (zEnd && *zEnd) {
    imgpca_url_redact(zEnd, shown, sizeof shown);
    imgpca_buf_json_string(b, shown);
  } else {
    imgpca_buf_printf(b, "\"https://s3.%s.amazonaws.com\"", zRegion);
  }
  imgpca_buf_append(b, ",\"region\":", 10);
  imgpca_buf_json_string(b, zRegion);
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
  imgpca_buf_printf(b, ",\"session_token\":%s,\"signed\":%s,\"verify_tls\":%s,\"ca_bundle\":",
                    c->creds.zToken ? "\"****\"" : "null", is_signed(c) ? "true" : "false",
                    imgpca_config_bool(c->cfg, "s3.verify_tls") ? "true" : "false");
  if (c->creds.zCaBundle)
    imgpca_buf_json_string(b, c->creds.zCaBundle);
  else
    imgpca_buf_append(b, "null", 4);
  imgpca_buf_append(b, ",\"ca_bundle_source\":", 20);
  if (c->creds.zCaBundle)
    imgpca_buf_json_string(b, c->creds.zCaSource);
  else
    imgpca_buf_append(b, "null", 4);
  imgpca_buf_append(b, "}", 1);
  return b->oom ? IMGPCA_NOMEM : IMGPCA_OK;
}
