/*
** The S3 client (no SQL behaviour of its own; the storage layer's client
** behind s3_fetch, s3_put, s3_delete, s3_list, s3_concat and s3_config): its
** life cycle and the settings every request reads.
**
** Credentials (creds.c) are resolved on first use and again when a setting
** they come from changed or they expire within 5 minutes.  Regions (setting,
** environment, profile, server header) must be 1 to 32 of [a-z0-9-]: they
** become part of host names.  Addressing: s3_url_virtual.  The endpoint is
** s3.endpoint, else the profile's endpoint_url, else AWS; user info in it is
** never sent (one warning per connection).  s3_client_describe is the JSON of
** s3_config(), secrets masked.
*/
#include "s3_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

const char *s3_client_setting(S3Client *c, const char *k) { return imgpca_config_get(c->cfg, k, NULL); }

/* The endpoint: s3.endpoint (connection setting, AWS_ENDPOINT_URL_S3,
** AWS_ENDPOINT_URL), else the profile's (services s3 endpoint_url, then
** endpoint_url; read with the credentials), else NULL (AWS). */
const char *s3_client_endpoint(S3Client *c) {
  const char *z = s3_client_setting(c, "s3.endpoint");
  if (z && *z) return z;
  return c->bCreds && c->creds.zProfileEndpoint && *c->creds.zProfileEndpoint ? c->creds.zProfileEndpoint : NULL;
}

/* One line on stderr, at most once per connection for each kind. */
void s3_client_warn(S3Client *c, int mKind, const char *zFmt, ...) {
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
int s3_client_creds(S3Client *c, char *err) {
  static const char *aKey[] = {"s3.access_key_id", "s3.secret_access_key", "s3.session_token",
                               "s3.profile", "s3.credentials_file", "s3.config_file",
                               "s3.imds_endpoint", "s3.imds_disabled", "s3.ca_bundle"};
  ImgpcaBuf k;
  size_t i;
  int rc;
  imgpca_buf_init(&k);
  for (i = 0; i < sizeof aKey / sizeof aKey[0]; i++) {
    const char *v = s3_client_setting(c, aKey[i]);
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
void s3_printable(char *out, size_t nOut, const char *z) {
  size_t i;
  for (i = 0; z && z[i] && i + 1 < nOut && i < 40; i++)
    out[i] = (z[i] >= 0x20 && z[i] < 0x7f && z[i] != '\'') ? z[i] : '?';
  if (nOut) out[i < nOut ? i : nOut - 1] = 0;
}

/* The signing region of a request (validated wherever it comes from: the
** region becomes part of the default endpoint's host name). */
int s3_client_region(S3Client *c, const char *zBucket, char out[64], char *err) {
  const char *z = s3_client_setting(c, "s3.region");
  char origin[128];
  if (zBucket && c->zRedirBucket && strcmp(zBucket, c->zRedirBucket) == 0) {
    snprintf(out, 64, "%s", c->zRedirRegion); /* validated before it was stored */
    return IMGPCA_OK;
  }
  if (z && *z) {
    imgpca_config_origin(c->cfg, "s3.region", origin, sizeof origin);
  } else if (c->creds.zProfileRegion && *c->creds.zProfileRegion) {
    const char *zProfile = s3_client_setting(c, "s3.profile");
    z = c->creds.zProfileRegion;
    snprintf(origin, sizeof origin, "region of profile '%.40s' in the config file",
             zProfile && *zProfile ? zProfile : "default");
  } else {
    z = "us-east-1";
    origin[0] = 0;
  }
  if (!imgpca_region_valid(z)) {
    char shown[48];
    s3_printable(shown, sizeof shown, z);
    return imgpca_seterr(err, "invalid region '%s' (%s): expected 1 to 32 lower-case letters, digits or '-'",
                         shown, origin);
  }
  snprintf(out, 64, "%s", z);
  return IMGPCA_OK;
}

/* 1 when requests are signed: credentials found and s3.unsigned off. */
int s3_client_signed(S3Client *c) {
  return c->creds.zAccess && c->creds.zSecret && !imgpca_config_bool(c->cfg, "s3.unsigned");
}

/* ---- addressing ---- */
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
void s3_client_endpoint_shown(S3Client *c, char *out, size_t n) {
  const char *zEnd = s3_client_endpoint(c);
  if (zEnd && *zEnd)
    imgpca_url_redact(zEnd, out, n);
  else
    snprintf(out, n, "AWS S3");
}

int s3_client_describe(S3Client *c, ImgpcaBuf *b, char *err) {
  const char *zEnd;
  char masked[64], shown[1024], zRegion[64];
  int rc = s3_client_creds(c, err);
  if (rc == IMGPCA_OK) rc = s3_client_region(c, NULL, zRegion, err);
  if (rc) return rc;
  zEnd = s3_client_endpoint(c); /* after the credentials: may be the profile's */
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
  imgpca_buf_json_string(b, s3_client_setting(c, "s3.url_style"));
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
                    c->creds.zToken ? "\"****\"" : "null", s3_client_signed(c) ? "true" : "false",
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
