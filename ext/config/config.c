/*
** Configuration core: the table of settings and their resolution.
**
** SQL behaviour (glue in ext/core/core_sql.c, imgpca_config):
**   imgpca_config()            -> JSON object of every effective setting,
**                                 secrets masked, with its source
**   imgpca_config(key)         -> effective value of key (secrets masked)
**   imgpca_config(key, value)  -> sets key on this connection (NULL resets),
**                                 returns the new masked value
** Unknown keys and invalid values raise "imgpca_config: ..." errors.
*/
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <strings.h>

#define NOENV \
  { NULL, NULL, NULL }
#define REGION_HELP "1 to 32 lower-case letters, digits or '-'"
const ImgpcaSetting imgpca_settings[] = {
    /* S3 endpoint and credentials */
    {"s3.endpoint", CFG_STRING, NULL, {"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", NULL}, CFG_REDACT_URL, 0, 0, NULL, "S3 endpoint URL (`http://` or `https://`, optional base path), e.g. a Ceph RGW or MinIO; unset: the profile's `services` `s3` `endpoint_url`, then its `endpoint_url`, else `https://s3.<region>.amazonaws.com`; a `user:password@` part is never sent and is shown as `****@`", NULL, NULL},
    {"s3.region", CFG_STRING, NULL, {"AWS_REGION", "AWS_DEFAULT_REGION", NULL}, CFG_SHOW, 0, 0, NULL, "signing region; unset: the profile's `region`, else `us-east-1`", imgpca_region_valid, REGION_HELP},
    {"s3.access_key_id", CFG_STRING, NULL, {"AWS_ACCESS_KEY_ID", NULL, NULL}, CFG_MASK, 0, 0, NULL, "access key id (masked in displays); unset: the `~/.aws` files, then the instance role", NULL, NULL},
    {"s3.secret_access_key", CFG_STRING, NULL, {"AWS_SECRET_ACCESS_KEY", NULL, NULL}, CFG_MASK, 0, 0, NULL, "secret access key (never shown); unset: as `s3.access_key_id`", NULL, NULL},
    {"s3.session_token", CFG_STRING, NULL, {"AWS_SESSION_TOKEN", NULL, NULL}, CFG_MASK, 0, 0, NULL, "session token of temporary credentials (masked in displays)", NULL, NULL},
    {"s3.profile", CFG_STRING, "default", {"AWS_PROFILE", NULL, NULL}, CFG_SHOW, 0, 0, NULL, "profile in the shared credentials and config files", NULL, NULL},
    {"s3.credentials_file", CFG_STRING, NULL, {"AWS_SHARED_CREDENTIALS_FILE", NULL, NULL}, CFG_SHOW, 0, 0, NULL, "shared credentials file; unset: `~/.aws/credentials`", NULL, NULL},
    {"s3.config_file", CFG_STRING, NULL, {"AWS_CONFIG_FILE", NULL, NULL}, CFG_SHOW, 0, 0, NULL, "shared config file; unset: `~/.aws/config`", NULL, NULL},
    {"s3.imds_endpoint", CFG_STRING, "http://169.254.169.254", {"AWS_EC2_METADATA_SERVICE_ENDPOINT", NULL, NULL}, CFG_REDACT_URL, 0, 0, NULL, "EC2 instance metadata endpoint (IMDSv2), asked for the instance role's credentials", NULL, NULL},
    {"s3.imds_disabled", CFG_BOOL, "false", {"AWS_EC2_METADATA_DISABLED", NULL, NULL}, CFG_SHOW, 0, 0, NULL, "never ask instance metadata for credentials", NULL, NULL},
    {"s3.unsigned", CFG_BOOL, "false", {"IMGPCA_S3_UNSIGNED", NULL, NULL}, CFG_SHOW, 0, 0, NULL, "send unsigned requests even with credentials (public buckets)", NULL, NULL},
    {"s3.url_style", CFG_ENUM, "auto", {"IMGPCA_S3_URL_STYLE", NULL, NULL}, CFG_SHOW, 0, 0, "|auto|path|virtual|", "addressing style: `virtual` (bucket.host) or `path` (host/bucket); `auto`: virtual on AWS, path on custom endpoints; bucket names that cannot be host names always use path style", NULL, NULL},
    {"s3.verify_tls", CFG_BOOL, "true", {"IMGPCA_S3_VERIFY_TLS", NULL, NULL}, CFG_SHOW, 0, 0, NULL, "verify TLS certificates (peer and host name); off prints one warning per connection on stderr", NULL, NULL},
    {"s3.ca_bundle", CFG_STRING, NULL, {"AWS_CA_BUNDLE", NULL, NULL}, CFG_SHOW, 0, 0, NULL, "PEM file of the certificate authorities to trust instead of the system's (`~/` expanded), e.g. the private CA of an on-premises RGW or MinIO; unset: `ca_bundle` of the profile, else the system's store", NULL, NULL},
    {"s3.connect_timeout_ms", CFG_INT, "5000", {"IMGPCA_S3_CONNECT_TIMEOUT_MS", NULL, NULL}, CFG_SHOW, 1, 600000, NULL, "connection timeout per attempt, in milliseconds", NULL, NULL},
    {"s3.timeout_ms", CFG_INT, "120000", {"IMGPCA_S3_TIMEOUT_MS", NULL, NULL}, CFG_SHOW, 1, 86400000, NULL, "whole-request timeout per attempt, in milliseconds", NULL, NULL},
    {"s3.low_speed_ms", CFG_INT, "20000", {"IMGPCA_S3_LOW_SPEED_MS", NULL, NULL}, CFG_SHOW, 1, 3600000, NULL, "abort an attempt whose transfer stalls (< 1 byte/s) this many milliseconds", NULL, NULL},
    {"s3.max_retries", CFG_INT, "5", {"AWS_MAX_ATTEMPTS", NULL, NULL}, CFG_SHOW, 0, 20, NULL, "retries after a retryable failure (429, 5xx, transport error), with backoff", NULL, NULL},
    {"s3.max_inflight", CFG_INT, "32", {"IMGPCA_S3_MAX_INFLIGHT", NULL, NULL}, CFG_SHOW, 1, 1024, NULL, "S3 GETs in flight at once in `s3_fetch_many` and for the `content` column of `s3_list`; also bounds the objects held in memory", NULL, NULL},
    {"s3.multipart_threshold", CFG_INT, "16777216", {"IMGPCA_S3_MULTIPART_THRESHOLD", NULL, NULL}, CFG_SHOW, 5242880, 5368709120LL, NULL, "uploads (`s3_put`, `csv_export`) at least this many bytes use multipart", NULL, NULL},
    {"s3.part_size", CFG_INT, "8388608", {"IMGPCA_S3_PART_SIZE", NULL, NULL}, CFG_SHOW, 5242880, 5368709120LL, NULL, "multipart part size in bytes (an upload has at most 10,000 parts)", NULL, NULL},
    {"s3.progress", CFG_BOOL, "false", {"IMGPCA_PROGRESS", NULL, NULL}, CFG_SHOW, 0, 0, NULL, "listing and fetch progress lines on stderr", NULL, NULL},
    /* images */
    {"image.max_pixels", CFG_INT, "100000000", {"IMGPCA_MAX_PIXELS", NULL, NULL}, CFG_SHOW, 1, 4000000000LL, NULL, "largest image (width × height) a decoder accepts (decompression bombs)", NULL, NULL},
    {"cnn.max_model_mb", CFG_INT, "1024", {"IMGPCA_CNN_MAX_MODEL_MB", NULL, NULL}, CFG_SHOW, 1, 65536, NULL, "largest ONNX model file (MiB) a `cnn:` spec or `img_model_info` loads; also bounds each tensor of the model", NULL, NULL},
    /* pca */
    {"pca.max_memory_mb", CFG_INT, "4096", {"IMGPCA_PCA_MAX_MEMORY_MB", NULL, NULL}, CFG_SHOW, 1, 1073741824LL, NULL, "largest `memory_mb` a PCA aggregate may use, as an option or for a partial state it reads", NULL, NULL},
    /* parallelism */
    {"imgpca.threads", CFG_INT, "0", {"IMGPCA_THREADS", NULL, NULL}, CFG_SHOW, 0, 1024, NULL, "worker threads of `s3_fetch_many` (reading local files, decoding, features; with a `cnn:` spec each worker runs whole inferences and OpenBLAS is single-threaded meanwhile), of `knn_search` (distance tiles, when OpenBLAS itself is single-threaded) and of `pca_project_rows` and the exact PCA solver (fixed BLAS tiles: same bytes for any count); 0 = the CPUs the process may use (affinity mask, capped by a cgroup v2 `cpu.max` quota)", NULL, NULL},
    {NULL, CFG_STRING, NULL, NOENV, CFG_SHOW, 0, 0, NULL, NULL, NULL, NULL}};

int imgpca_settings_count(void) {
  int n = 0;
  while (imgpca_settings[n].zKey) n++;
  return n;
}

static int setting_index(const char *zKey) {
  int i;
  if (!zKey) return -1;
  for (i = 0; imgpca_settings[i].zKey; i++) {
    if (strcmp(imgpca_settings[i].zKey, zKey) == 0) return i;
  }
  return -1;
}

const ImgpcaSetting *imgpca_setting_find(const char *zKey) {
  int i = setting_index(zKey);
  return i < 0 ? NULL : &imgpca_settings[i];
}

int imgpca_config_init(ImgpcaConfig *c) {
  c->azVal = imgpca_calloc((size_t)imgpca_settings_count() + 1, sizeof(char *));
  return c->azVal ? IMGPCA_OK : IMGPCA_NOMEM;
}

void imgpca_config_clear(ImgpcaConfig *c) {
  int i, n = imgpca_settings_count();
  if (!c->azVal) return;
  for (i = 0; i < n; i++) imgpca_free(c->azVal[i]);
  imgpca_free(c->azVal);
  c->azVal = NULL;
}

int imgpca_parse_bool(const char *z) {
  static const char *yes[] = {"1", "true", "yes", "on"};
  static const char *no[] = {"0", "false", "no", "off"};
  size_t i;
  if (!z) return -1;
  for (i = 0; i < 4; i++) {
    if (strcasecmp(z, yes[i]) == 0) return 1;
    if (strcasecmp(z, no[i]) == 0) return 0;
  }
  return -1;
}

static int parse_int(const char *z, long long *pOut) {
  char *end;
  long long v;
  if (!z || !*z) return 0;
  errno = 0;
  v = strtoll(z, &end, 10);
  if (errno || *end) return 0;
  *pOut = v;
  return 1;
}

static int validate(const ImgpcaSetting *s, const char *zVal, char *err) {
  long long v;
  switch (s->eType) {
    case CFG_INT:
      if (!parse_int(zVal, &v))
        return imgpca_seterr(err, "invalid value for '%s': expected an integer", s->zKey);
      if (v < s->iMin || v > s->iMax)
        return imgpca_seterr(err, "invalid value for '%s': %lld is outside [%lld, %lld]", s->zKey,
                             v, s->iMin, s->iMax);
      break;
    case CFG_BOOL:
      if (imgpca_parse_bool(zVal) < 0)
        return imgpca_seterr(err, "invalid value for '%s': expected true or false", s->zKey);
      break;
    case CFG_ENUM: {
      char probe[64];
      snprintf(probe, sizeof probe, "|%s|", zVal);
      if (strlen(zVal) > 60 || strchr(zVal, '|') || !strstr(s->zEnum, probe)) {
        /* "|a|b|c|" -> "'a', 'b' or 'c'" */
        char list[256];
        size_t o = 0;
        const char *p = s->zEnum + 1;
        while (*p && o + 8 < sizeof list) {
          const char *q = strchr(p, '|');
          if (!q) break;
          o += (size_t)snprintf(list + o, sizeof list - o, "%s'%.*s'", o ? (q[1] ? ", " : " or ") : "",
                                (int)(q - p), p);
          p = q + 1;
        }
        list[o < sizeof list ? o : sizeof list - 1] = 0;
        return imgpca_seterr(err, "invalid value for '%s': expected %s", s->zKey, list);
      }
      break;
    }
    case CFG_STRING:
      break;
  }
  return IMGPCA_OK;
}

int imgpca_config_set(ImgpcaConfig *c, const char *zKey, const char *zVal, char *err) {
  int i = setting_index(zKey);
  char *zNew = NULL;
  if (i < 0) return imgpca_seterr(err, "unknown setting '%s'", zKey ? zKey : "");
  if (zVal) {
    const ImgpcaSetting *s = &imgpca_settings[i];
    if (validate(s, zVal, err)) return IMGPCA_ERROR;
    /* Environment values are checked where they are used (ext/s3), so that
    ** a bad one is an error there rather than silently skipped here. */
    if (s->xCheck && *zVal && !s->xCheck(zVal))
      return imgpca_seterr(err, "invalid value for '%s': '%.80s': expected %s", s->zKey, zVal, s->zCheckHelp);
    zNew = imgpca_strdup(zVal);
    if (!zNew) return IMGPCA_NOMEM;
  }
  imgpca_free(c->azVal[i]);
  c->azVal[i] = zNew;
  return IMGPCA_OK;
}

/* An environment value that is not valid for its setting is skipped, with
** one warning per setting and process on stderr naming the variable, its
** value (control characters escaped) and the value used instead. */
static void env_warn(int i, const char *zVar, const char *zBad, const char *zUsed, const char *zSrc) {
  static unsigned char aWarned[128];
  char shown[64], why[IMGPCA_ERRMAX];
  size_t o = 0;
  const unsigned char *p;
  if (i < 0 || i >= (int)sizeof aWarned || __atomic_exchange_n(&aWarned[i], 1, __ATOMIC_RELAXED)) return;
  for (p = (const unsigned char *)zBad; *p && o + 5 < sizeof shown; p++) {
    if (*p < 0x20 || *p == 0x7f || *p == '\\')
      o += (size_t)snprintf(shown + o, sizeof shown - o, "\\x%02x", *p);
    else
      shown[o++] = (char)*p;
  }
  shown[o] = 0;
  validate(&imgpca_settings[i], zBad, why);
  fprintf(stderr, "imgpca: warning: %s='%s'%s ignored (%s); using %s%s%s (%s)\n", zVar, shown, *p ? "..." : "", why,
          zUsed ? "'" : "", zUsed ? zUsed : "no value", zUsed ? "'" : "", zSrc);
}

const char *imgpca_config_get(const ImgpcaConfig *c, const char *zKey, const char **pzSource) {
  static const char *envSrc[] = {"env", "env", "env"};
  int i = setting_index(zKey), k, kBad = -1;
  const ImgpcaSetting *s;
  if (i < 0) {
    if (pzSource) *pzSource = "unset";
    return NULL;
  }
  s = &imgpca_settings[i];
  if (c && c->azVal && c->azVal[i]) {
    if (pzSource) *pzSource = "connection";
    return c->azVal[i];
  }
  for (k = 0; k < 3 && s->azEnv[k]; k++) {
    const char *z = getenv(s->azEnv[k]);
    if (z && *z && validate(s, z, NULL) == IMGPCA_OK) {
      if (kBad >= 0) env_warn(i, s->azEnv[kBad], getenv(s->azEnv[kBad]), z, s->azEnv[k]);
      if (pzSource) *pzSource = envSrc[k];
      return z;
    }
    if (z && *z && kBad < 0) kBad = k;
  }
  if (kBad >= 0) env_warn(i, s->azEnv[kBad], getenv(s->azEnv[kBad]), s->zDefault, "the default");
  if (pzSource) *pzSource = s->zDefault ? "default" : "unset";
  return s->zDefault;
}

void imgpca_config_origin(const ImgpcaConfig *c, const char *zKey, char *out, size_t nOut) {
  const char *zSrc, *zVal = imgpca_config_get(c, zKey, &zSrc);
  const ImgpcaSetting *s = imgpca_setting_find(zKey);
  int k;
  if (!nOut) return;
  snprintf(out, nOut, "%s%s", zKey ? zKey : "", strcmp(zSrc, "connection") == 0 ? "" : " (default)");
  if (!s || !zVal || strcmp(zSrc, "env") != 0) return;
  for (k = 0; k < 3 && s->azEnv[k]; k++) {
    const char *z = getenv(s->azEnv[k]);
    if (z == zVal) {
      snprintf(out, nOut, "%s", s->azEnv[k]);
      return;
    }
  }
}

long long imgpca_config_int(const ImgpcaConfig *c, const char *zKey) {
  long long v = 0;
  const char *z = imgpca_config_get(c, zKey, NULL);
  if (!parse_int(z, &v)) {
    const ImgpcaSetting *s = imgpca_setting_find(zKey);
    if (s && s->zDefault) parse_int(s->zDefault, &v);
  }
  return v;
}

int imgpca_config_bool(const ImgpcaConfig *c, const char *zKey) {
  return imgpca_parse_bool(imgpca_config_get(c, zKey, NULL)) == 1;
}

void imgpca_config_mask(const char *zVal, char *out, size_t nOut) {
  size_t n;
  if (!nOut) return;
  if (!zVal) {
    out[0] = 0;
    return;
  }
  n = strlen(zVal);
  /* Show at most the last 4 characters, and only of long values. */
  if (n >= 16)
    snprintf(out, nOut, "****%s", zVal + n - 4);
  else
    snprintf(out, nOut, "****");
}

void imgpca_url_redact(const char *zUrl, char *out, size_t nOut) {
  const char *zAuth, *zEnd, *zAt = NULL, *p;
  if (!nOut) return;
  out[0] = 0;
  if (!zUrl) return;
  zAuth = strstr(zUrl, "://");
  if (zAuth) {
    /* up to the last '@' of the whole URL, not of the authority alone: a
    ** password holding '/', '?' or '#' (https://u:pa/ss@host) is masked too */
    zAuth += 3;
    zEnd = zAuth + strlen(zAuth);
    for (p = zAuth; p < zEnd; p++)
      if (*p == '@') zAt = p;
  }
  if (!zAt)
    snprintf(out, nOut, "%s", zUrl);
  else
    snprintf(out, nOut, "%.*s****%s", (int)(zAuth - zUrl), zUrl, zAt);
}

const char *imgpca_config_display(const ImgpcaSetting *s, const char *zVal, char *out, size_t nOut) {
  if (!zVal || !s || s->eShow == CFG_SHOW) return zVal;
  if (s->eShow == CFG_REDACT_URL)
    imgpca_url_redact(zVal, out, nOut);
  else
    imgpca_config_mask(zVal, out, nOut);
  return out;
}

int imgpca_region_valid(const char *z) {
  size_t n = 0;
  if (!z) return 0;
  for (; z[n]; n++)
    if (!((z[n] >= 'a' && z[n] <= 'z') || (z[n] >= '0' && z[n] <= '9') || z[n] == '-')) return 0;
  return n >= 1 && n <= 32;
}
