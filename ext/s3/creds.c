/*
** S3 credential chain (no SQL behaviour of its own; shown by s3_config()):
**   1. connection settings  imgpca_config('s3.access_key_id', ...) etc.
**   2. environment          AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
**   3. shared files         profile s3.profile / AWS_PROFILE (default "default") in
**                           AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials), then
**                           AWS_CONFIG_FILE (~/.aws/config, section "[profile NAME]")
**   4. EC2 instance role    IMDSv2 at s3.imds_endpoint / AWS_EC2_METADATA_SERVICE_ENDPOINT:
**                           PUT /latest/api/token, then the role's credentials;
**                           1 s connect / 2 s total timeout; skipped when
**                           s3.imds_disabled / AWS_EC2_METADATA_DISABLED
** Steps 1 and 2 are one lookup (a setting falls back to its variable).  With
** no credentials anywhere, requests are sent unsigned (public buckets).
** A profile named by s3.profile / AWS_PROFILE that is in neither file is an
** error ("profile 'fruit' not found in ~/.aws/config or ~/.aws/credentials"),
** so is a profile section with an access key and no secret (or the reverse).
**
** Endpoint (the shared config file's part; s3.endpoint, AWS_ENDPOINT_URL_S3
** and AWS_ENDPOINT_URL come first, see client.c), in the AWS SDKs' order:
** endpoint_url of the s3 entry of the profile's services section
**   [profile NAME]            [services NAME2]
**   services = NAME2          s3 =
**                               endpoint_url = https://rgw.example:8443
** then endpoint_url of the profile itself.  Nested entries (indented lines
** under "key =") belong to their key: they are never read as the profile's.
**
** The CA bundle comes from s3.ca_bundle / AWS_CA_BUNDLE, else ca_bundle in
** the profile's section of the config file.  The instance metadata service
** is plain http at its default address (link-local, no TLS): the bundle only
** applies to an https:// s3.imds_endpoint, which is then always verified.
*/
#include "s3.h"

#include <ctype.h>
#include <curl/curl.h>

#include "../common/lazy_curl.h"
#include <stdio.h>
#include <stdlib.h>

static char *trim_dup(const char *p, size_t n) {
  char *z;
  while (n && isspace((unsigned char)*p)) {
    p++;
    n--;
  }
  while (n && isspace((unsigned char)p[n - 1])) n--;
  z = imgpca_malloc(n + 1);
  if (!z) return NULL;
  memcpy(z, p, n);
  z[n] = 0;
  return z;
}

/* Trimmed text of [p, p+n) equals z. */
static int trim_eq(const char *p, size_t n, const char *z) {
  size_t nz = strlen(z);
  while (n && isspace((unsigned char)*p)) {
    p++;
    n--;
  }
  while (n && isspace((unsigned char)p[n - 1])) n--;
  return n == nz && memcmp(p, z, n) == 0;
}

/* The INI reader of the shared files.  zSub NULL: value of zKey in section
** zSection (top-level entries only), or with pbSection: whether the section
** exists (returns NULL, *pbSection set).  zSub set: value of zSub nested
** under zKey ("s3 =" followed by indented "endpoint_url = ..." lines). */
static char *ini_lookup(const char *zText, const char *zSection, const char *zKey, const char *zSub, int *pbSection) {
  const char *p = zText;
  int inSection = 0, inNested = 0, nestedMatch = 0;
  while (p && *p) {
    const char *eol = strchr(p, '\n');
    size_t n = eol ? (size_t)(eol - p) : strlen(p);
    const char *q = p, *end = p + n;
    int indented = q < end && (*q == ' ' || *q == '\t');
    while (q < end && isspace((unsigned char)*q)) q++;
    if (q == end || *q == '#' || *q == ';') {
      /* blank line or comment */
    } else if (*q == '[') {
      const char *r = memchr(q, ']', (size_t)(end - q));
      if (r) {
        inSection = trim_eq(q + 1, (size_t)(r - q - 1), zSection);
        inNested = nestedMatch = 0;
        if (inSection && pbSection) *pbSection = 1;
      }
    } else if (inSection && !pbSection) {
      const char *eq = memchr(q, '=', (size_t)(end - q));
      if (indented && inNested) {
        if (zSub && nestedMatch && eq && trim_eq(q, (size_t)(eq - q), zSub))
          return trim_dup(eq + 1, (size_t)(end - eq - 1));
      } else if (eq) {
        const char *v = eq + 1;
        while (v < end && isspace((unsigned char)*v)) v++;
        inNested = v == end; /* "key =" opens a block of nested entries */
        nestedMatch = inNested && trim_eq(q, (size_t)(eq - q), zKey);
        if (!zSub && !inNested && trim_eq(q, (size_t)(eq - q), zKey))
          return trim_dup(eq + 1, (size_t)(end - eq - 1));
        if (!zSub && inNested && trim_eq(q, (size_t)(eq - q), zKey)) return trim_dup("", 0);
      } else {
        inNested = nestedMatch = 0;
      }
    }
    p = eol ? eol + 1 : NULL;
  }
  return NULL;
}

char *s3_ini_get(const char *zText, const char *zSection, const char *zKey) {
  return ini_lookup(zText, zSection, zKey, NULL, NULL);
}

char *s3_ini_get_nested(const char *zText, const char *zSection, const char *zKey, const char *zSub) {
  return ini_lookup(zText, zSection, zKey, zSub, NULL);
}

int s3_ini_has_section(const char *zText, const char *zSection) {
  int b = 0;
  ini_lookup(zText, zSection, "", NULL, &b);
  return b;
}

/* Minimal reader for the flat JSON objects of IMDS: "Key" : "string". */
char *s3_json_get(const char *zText, const char *zKey) {
  const char *p = zText;
  size_t nKey = strlen(zKey);
  while ((p = strchr(p, '"')) != NULL) {
    const char *k = p + 1, *q = k;
    while (*q && *q != '"') {
      if (*q == '\\' && q[1]) q++;
      q++;
    }
    if (!*q) return NULL;
    p = q + 1;
    while (isspace((unsigned char)*p)) p++;
    if (*p != ':') continue; /* a value, not a key */
    p++;
    while (isspace((unsigned char)*p)) p++;
    if ((size_t)(q - k) == nKey && memcmp(k, zKey, nKey) == 0 && *p == '"') {
      ImgpcaBuf b;
      imgpca_buf_init(&b);
      for (p++; *p && *p != '"'; p++) {
        if (*p == '\\' && p[1]) {
          p++;
          if (*p == 'n')
            imgpca_buf_append(&b, "\n", 1);
          else if (*p == '/' || *p == '"' || *p == '\\')
            imgpca_buf_append(&b, p, 1);
          else
            return imgpca_buf_free(&b), NULL; /* not expected in credentials */
        } else {
          imgpca_buf_append(&b, p, 1);
        }
      }
      imgpca_buf_append(&b, "", 1);
      return b.oom ? NULL : (char *)imgpca_buf_detach(&b, NULL);
    }
  }
  return NULL;
}

time_t s3_parse_iso8601(const char *z) {
  struct tm tm;
  int y, mo, d, h, mi, s;
  if (!z || sscanf(z, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &s) != 6) return -1;
  memset(&tm, 0, sizeof tm);
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return timegm(&tm);
}

static char *read_small_file(const char *zPath) {
  FILE *f = fopen(zPath, "rb");
  ImgpcaBuf b;
  char tmp[4096];
  size_t n;
  if (!f) return NULL;
  imgpca_buf_init(&b);
  while ((n = fread(tmp, 1, sizeof tmp, f)) > 0 && b.n < (1 << 20)) imgpca_buf_append(&b, tmp, n);
  fclose(f);
  imgpca_buf_append(&b, "", 1);
  return b.oom ? NULL : (char *)imgpca_buf_detach(&b, NULL);
}

static char *home_path(const char *zRel) {
  const char *h = getenv("HOME");
  return h && *h ? imgpca_mprintf("%s/%s", h, zRel) : NULL;
}

void s3_creds_free(S3Creds *c) {
  if (c->zSecret) memset(c->zSecret, 0, strlen(c->zSecret));
  imgpca_free(c->zAccess);
  imgpca_free(c->zSecret);
  imgpca_free(c->zToken);
  imgpca_free(c->zProfileRegion);
  imgpca_free(c->zProfileEndpoint);
  imgpca_free(c->zCaBundle);
  memset(c, 0, sizeof(*c));
}

/* "~/x" -> "$HOME/x"; other paths copied. */
static char *expand_home(const char *z) {
  if (z[0] == '~' && z[1] == '/') {
    char *p = home_path(z + 2);
    if (p) return p;
  }
  return imgpca_strdup(z);
}

/* Section of the active profile in the config file ("default" or "profile NAME"). */
static char *config_section(const ImgpcaConfig *cfg, const char **pzProfile) {
  const char *zProfile = imgpca_config_get(cfg, "s3.profile", NULL);
  if (!zProfile || !*zProfile) zProfile = "default";
  if (pzProfile) *pzProfile = zProfile;
  return strcmp(zProfile, "default") == 0 ? imgpca_strdup("default") : imgpca_mprintf("profile %s", zProfile);
}

int s3_ca_bundle_resolve(const ImgpcaConfig *cfg, char **pzPath, char *zSource, size_t nSource) {
  const char *zSet = imgpca_config_get(cfg, "s3.ca_bundle", NULL);
  const char *zConf, *zProfile;
  char *zConfPath, *zSection, *zText, *zVal = NULL;
  *pzPath = NULL;
  if (nSource) zSource[0] = 0;
  if (zSet && *zSet) {
    imgpca_config_origin(cfg, "s3.ca_bundle", zSource, nSource);
    *pzPath = expand_home(zSet);
    return *pzPath ? IMGPCA_OK : IMGPCA_NOMEM;
  }
  zConf = imgpca_config_get(cfg, "s3.config_file", NULL);
  zConfPath = zConf ? imgpca_strdup(zConf) : home_path(".aws/config");
  zSection = config_section(cfg, &zProfile);
  if (zConfPath && zSection && (zText = read_small_file(zConfPath)) != NULL) {
    zVal = s3_ini_get(zText, zSection, "ca_bundle");
    imgpca_free(zText);
  }
  if (zVal && *zVal) {
    snprintf(zSource, nSource, "ca_bundle of profile '%.20s' in '%.60s'", zProfile, zConfPath);
    *pzPath = expand_home(zVal);
  }
  imgpca_free(zVal);
  imgpca_free(zConfPath);
  imgpca_free(zSection);
  return IMGPCA_OK;
}

/* A path as messages show it: "~/.aws/x" for the default files. */
static void shown_path(char *out, size_t n, const char *zSet, const char *zDefault, const char *zPath) {
  snprintf(out, n, "%.200s", zSet ? zSet : zPath ? zDefault
                                                 : "(no HOME)");
}

/* Credentials (and the region and endpoint) of the active profile.  Returns
** 1 when credentials were found, 0 when not, -1 with err set when the
** profile named by s3.profile does not exist or (bCreds: credentials are
** wanted from it) holds half a key pair. */
static int from_profile(const ImgpcaConfig *cfg, S3Creds *out, int bCreds, char *err) {
  const char *zProfile, *zOrigin = NULL;
  const char *zCred = imgpca_config_get(cfg, "s3.credentials_file", NULL);
  const char *zConf = imgpca_config_get(cfg, "s3.config_file", NULL);
  char *zCredPath = zCred ? imgpca_strdup(zCred) : home_path(".aws/credentials");
  char *zConfPath = zConf ? imgpca_strdup(zConf) : home_path(".aws/config");
  char *zSection = config_section(cfg, &zProfile);
  char *zText, zCredShown[208], zConfShown[208];
  int found = 0, bSection = 0, rc = 0;
  shown_path(zCredShown, sizeof zCredShown, zCred, "~/.aws/credentials", zCredPath);
  shown_path(zConfShown, sizeof zConfShown, zConf, "~/.aws/config", zConfPath);
  imgpca_config_get(cfg, "s3.profile", &zOrigin);
  /* credentials file: [name] */
  if (zCredPath && (zText = read_small_file(zCredPath)) != NULL) {
    bSection |= s3_ini_has_section(zText, zProfile);
    out->zAccess = s3_ini_get(zText, zProfile, "aws_access_key_id");
    out->zSecret = s3_ini_get(zText, zProfile, "aws_secret_access_key");
    out->zToken = s3_ini_get(zText, zProfile, "aws_session_token");
    imgpca_free(zText);
    if (out->zToken && !*out->zToken) {
      imgpca_free(out->zToken);
      out->zToken = NULL;
    }
    if (out->zAccess && out->zSecret) {
      snprintf(out->zSource, sizeof out->zSource, "profile '%.20s' (credentials file)", zProfile);
      found = 1;
    } else if (bCreds && (out->zAccess || out->zSecret)) {
      rc = imgpca_seterr(err, "profile '%.40s' in %s has %s but no %s", zProfile, zCredShown,
                         out->zAccess ? "aws_access_key_id" : "aws_secret_access_key",
                         out->zAccess ? "aws_secret_access_key" : "aws_access_key_id");
    }
  }
  /* config file: [default] or [profile name]; also the profile's region and endpoint */
  if (zSection && zConfPath && (zText = read_small_file(zConfPath)) != NULL) {
    char *zServices = s3_ini_get(zText, zSection, "services");
    bSection |= s3_ini_has_section(zText, zSection);
    out->zProfileRegion = s3_ini_get(zText, zSection, "region");
    if (zServices && *zServices) {
      char *zSvc = imgpca_mprintf("services %s", zServices);
      char *zUrl = zSvc ? s3_ini_get_nested(zText, zSvc, "s3", "endpoint_url") : NULL;
      if (zUrl && *zUrl) {
        out->zProfileEndpoint = zUrl;
        snprintf(out->zEndpointSource, sizeof out->zEndpointSource,
                 "endpoint_url of s3 in [services %.30s] of profile '%.30s' (%.50s)", zServices, zProfile, zConfShown);
      } else {
        imgpca_free(zUrl);
      }
      imgpca_free(zSvc);
    }
    imgpca_free(zServices);
    if (!out->zProfileEndpoint) {
      char *zUrl = s3_ini_get(zText, zSection, "endpoint_url");
      if (zUrl && *zUrl) {
        out->zProfileEndpoint = zUrl;
        snprintf(out->zEndpointSource, sizeof out->zEndpointSource, "endpoint_url of profile '%.30s' (%.60s)",
                 zProfile, zConfShown);
      } else {
        imgpca_free(zUrl);
      }
    }
    if (!found && rc == 0) {
      imgpca_free(out->zAccess);
      imgpca_free(out->zSecret);
      imgpca_free(out->zToken);
      out->zAccess = s3_ini_get(zText, zSection, "aws_access_key_id");
      out->zSecret = s3_ini_get(zText, zSection, "aws_secret_access_key");
      out->zToken = s3_ini_get(zText, zSection, "aws_session_token");
      if (out->zAccess && out->zSecret) {
        snprintf(out->zSource, sizeof out->zSource, "profile '%.20s' (config file)", zProfile);
        found = 1;
      } else if (bCreds && (out->zAccess || out->zSecret)) {
        rc = imgpca_seterr(err, "profile '%.40s' in %s has %s but no %s", zProfile, zConfShown,
                           out->zAccess ? "aws_access_key_id" : "aws_secret_access_key",
                           out->zAccess ? "aws_secret_access_key" : "aws_access_key_id");
      }
    }
    imgpca_free(zText);
  }
  if (rc == 0 && !bSection && zOrigin && strcmp(zOrigin, "default") != 0 && strcmp(zProfile, "default") != 0)
    rc = imgpca_seterr(err, "profile '%.40s' (%s) not found in %s or %s", zProfile,
                       strcmp(zOrigin, "connection") == 0 ? "s3.profile" : "AWS_PROFILE", zConfShown, zCredShown);
  if (!found) {
    imgpca_free(out->zAccess);
    imgpca_free(out->zSecret);
    imgpca_free(out->zToken);
    out->zAccess = out->zSecret = out->zToken = NULL;
  }
  imgpca_free(zCredPath);
  imgpca_free(zConfPath);
  imgpca_free(zSection);
  return rc ? -1 : found;
}

static size_t imds_write(char *p, size_t sz, size_t n, void *ud) {
  ImgpcaBuf *b = ud;
  if (b->n + sz * n > 65536) return 0;
  return imgpca_buf_append(b, p, sz * n) ? 0 : sz * n;
}

/* One IMDS request; returns the body (NUL-terminated) or NULL.  An https://
** endpoint is verified, against zCa when given. */
static char *imds_call(const char *zBase, const char *zMethod, const char *zPath, const char *zHdr,
                       const char *zCa) {
  CURL *h = curl_easy_init();
  struct curl_slist *hl = NULL, *t;
  ImgpcaBuf b;
  char *zUrl = imgpca_mprintf("%s%s", zBase, zPath);
  long status = 0;
  CURLcode cc;
  imgpca_buf_init(&b);
  if (!h || !zUrl) goto fail;
  if (zHdr) {
    t = curl_slist_append(hl, zHdr);
    if (!t) goto fail;
    hl = t;
  }
  curl_easy_setopt(h, CURLOPT_URL, zUrl);
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, zMethod);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, imds_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 2000L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  if (zCa) {
    curl_easy_setopt(h, CURLOPT_CAINFO, zCa);
    curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
  }
  cc = curl_easy_perform(h);
  if (cc == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  if (cc != CURLE_OK || status != 200) goto fail;
  imgpca_buf_append(&b, "", 1);
  if (b.oom) goto fail;
  curl_slist_free_all(hl);
  curl_easy_cleanup(h);
  imgpca_free(zUrl);
  return (char *)imgpca_buf_detach(&b, NULL);
fail:
  curl_slist_free_all(hl);
  if (h) curl_easy_cleanup(h);
  imgpca_free(zUrl);
  imgpca_buf_free(&b);
  return NULL;
}

static int from_imds(const ImgpcaConfig *cfg, S3Creds *out) {
  const char *zCa = out->zCaBundle;
  const char *zBase = imgpca_config_get(cfg, "s3.imds_endpoint", NULL);
  char *zToken, *zHdr = NULL, *zRole = NULL, *zPath = NULL, *zJson = NULL, *nl;
  int found = 0;
  size_t nb;
  char base[512];
  if (imgpca_config_bool(cfg, "s3.imds_disabled") || !zBase || !*zBase) return 0;
  nb = strlen(zBase);
  if (nb >= sizeof base) return 0;
  memcpy(base, zBase, nb + 1);
  while (nb && base[nb - 1] == '/') base[--nb] = 0;
  zToken = imds_call(base, "PUT", "/latest/api/token", "X-aws-ec2-metadata-token-ttl-seconds: 21600", zCa);
  if (!zToken) return 0;
  zHdr = imgpca_mprintf("X-aws-ec2-metadata-token: %s", zToken);
  if (zHdr) zRole = imds_call(base, "GET", "/latest/meta-data/iam/security-credentials/", zHdr, zCa);
  if (zRole) {
    if ((nl = strchr(zRole, '\n')) != NULL) *nl = 0;
    zPath = imgpca_mprintf("/latest/meta-data/iam/security-credentials/%s", zRole);
  }
  if (zPath && *zRole) zJson = imds_call(base, "GET", zPath, zHdr, zCa);
  if (zJson) {
    char *zExp = s3_json_get(zJson, "Expiration");
    out->zAccess = s3_json_get(zJson, "AccessKeyId");
    out->zSecret = s3_json_get(zJson, "SecretAccessKey");
    out->zToken = s3_json_get(zJson, "Token");
    if (out->zToken && !*out->zToken) {
      imgpca_free(out->zToken);
      out->zToken = NULL;
    }
    out->expiry = zExp ? s3_parse_iso8601(zExp) : 0;
    if (out->expiry < 0) out->expiry = 0;
    imgpca_free(zExp);
    if (out->zAccess && out->zSecret) {
      snprintf(out->zSource, sizeof out->zSource, "instance metadata (IMDSv2)");
      found = 1;
    } else {
      imgpca_free(out->zAccess);
      imgpca_free(out->zSecret);
      imgpca_free(out->zToken);
      out->zAccess = out->zSecret = out->zToken = NULL;
    }
    memset(zJson, 0, strlen(zJson));
  }
  imgpca_free(zToken);
  imgpca_free(zHdr);
  imgpca_free(zRole);
  imgpca_free(zPath);
  imgpca_free(zJson);
  return found;
}

int s3_creds_resolve(const ImgpcaConfig *cfg, S3Creds *out, char *err) {
  const char *srcA, *srcS;
  const char *zA = imgpca_config_get(cfg, "s3.access_key_id", &srcA);
  const char *zS = imgpca_config_get(cfg, "s3.secret_access_key", &srcS);
  char *zCa = NULL;
  char zCaSource[sizeof out->zCaSource];
  int found, bProfile = 1;
  memset(out, 0, sizeof(*out));
  if (s3_ca_bundle_resolve(cfg, &zCa, zCaSource, sizeof zCaSource)) return IMGPCA_NOMEM;
  out->zCaBundle = zCa;
  memcpy(out->zCaSource, zCaSource, sizeof zCaSource);
  if (zA && *zA && zS && *zS) {
    const char *zT = imgpca_config_get(cfg, "s3.session_token", NULL);
    out->zAccess = imgpca_strdup(zA);
    out->zSecret = imgpca_strdup(zS);
    out->zToken = zT && *zT ? imgpca_strdup(zT) : NULL;
    if (!out->zAccess || !out->zSecret || (zT && *zT && !out->zToken)) {
      s3_creds_free(out);
      return IMGPCA_NOMEM;
    }
    snprintf(out->zSource, sizeof out->zSource, "%s",
             strcmp(srcA, "connection") == 0 ? "connection settings" : "environment");
    bProfile = 0;
  } else if ((found = from_profile(cfg, out, 1, err)) != 0) {
    /* found in the shared files, or an error */
    if (found < 0) {
      s3_creds_free(out);
      return IMGPCA_ERROR;
    }
  } else if (from_imds(cfg, out)) {
    /* keep the profile region and endpoint found by from_profile */
  } else {
    snprintf(out->zSource, sizeof out->zSource, "none");
  }
  if (!bProfile) {
    /* credentials from settings: the region and endpoint may still come from the profile */
    S3Creds tmp;
    memset(&tmp, 0, sizeof tmp);
    if (from_profile(cfg, &tmp, 0, err) < 0) {
      s3_creds_free(&tmp);
      s3_creds_free(out);
      return IMGPCA_ERROR;
    }
    out->zProfileRegion = tmp.zProfileRegion;
    out->zProfileEndpoint = tmp.zProfileEndpoint;
    memcpy(out->zEndpointSource, tmp.zEndpointSource, sizeof tmp.zEndpointSource);
    tmp.zProfileRegion = tmp.zProfileEndpoint = NULL;
    s3_creds_free(&tmp);
  }
  return IMGPCA_OK;
}
