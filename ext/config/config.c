/*
** Configuration core: the table of settings and their resolution.
**
** SQL behaviour (glue in ext/imgpca/imgpca_sql.c, imgpca_config):
**   imgpca_config()            -> JSON object of every effective setting,
**                                 secrets masked, with its source
**   imgpca_config(key)         -> effective value of key (secrets masked)
**   imgpca_config(key, value)  -> sets key on this connection (NULL resets),
**                                 returns the new masked value
** Unknown keys and invalid values raise "imgpca_config: ..." errors.
*/
#include "config.h"

#include <ctype.h>
#include <pthread.h>
#include <string.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <strings.h>

static int key_valid(const char *z) {
  const char *p, *dot = z ? strchr(z, '.') : NULL;
  if (!dot || dot == z || !dot[1]) return 0;
  for (p = z; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.')) return 0;
  return 1;
}

int imgpca_config_init(ImgpcaConfig *c, const ImgpcaSetting *const *apTable, char *err) {
  int t, i, j, n = 0;
  memset(c, 0, sizeof(*c));
  for (t = 0; apTable && apTable[t]; t++)
    for (i = 0; apTable[t][i].zKey; i++) n++;
  c->apSetting = imgpca_calloc((size_t)n + 1, sizeof(*c->apSetting));
  c->azVal = imgpca_calloc((size_t)n + 1, sizeof(char *));
  if (!c->apSetting || !c->azVal) {
    imgpca_config_clear(c);
    return IMGPCA_NOMEM;
  }
  for (t = 0; apTable && apTable[t]; t++) {
    for (i = 0; apTable[t][i].zKey; i++) {
      const ImgpcaSetting *s = &apTable[t][i];
      int bad = !key_valid(s->zKey);
      for (j = 0; !bad && j < c->nSetting; j++) bad = strcmp(c->apSetting[j]->zKey, s->zKey) == 0 ? 2 : 0;
      if (bad) {
        if (err) imgpca_seterr(err, "setting '%s' %s", s->zKey, bad == 2 ? "is declared twice" : "is not a lower-case <area>.<name>");
        imgpca_config_clear(c);
        return IMGPCA_ERROR;
      }
      c->apSetting[c->nSetting++] = s;
    }
  }
  return IMGPCA_OK;
}

void imgpca_config_clear(ImgpcaConfig *c) {
  int i;
  if (c->azVal)
    for (i = 0; i < c->nSetting; i++) imgpca_free(c->azVal[i]);
  imgpca_free(c->azVal);
  imgpca_free(c->apSetting);
  c->azVal = NULL;
  c->apSetting = NULL;
  c->nSetting = 0;
}

static int setting_index(const ImgpcaConfig *c, const char *zKey) {
  int i;
  if (!zKey || !c) return -1;
  for (i = 0; i < c->nSetting; i++) {
    if (strcmp(c->apSetting[i]->zKey, zKey) == 0) return i;
  }
  return -1;
}

const ImgpcaSetting *imgpca_config_find(const ImgpcaConfig *c, const char *zKey) {
  int i = setting_index(c, zKey);
  return i < 0 ? NULL : c->apSetting[i];
}

int imgpca_setting_env(const ImgpcaSetting *s, int k, char *buf, size_t nBuf) {
  int nAws = 0;
  if (!nBuf) return 0;
  buf[0] = 0;
  while (nAws < 3 && s->azAwsEnv[nAws]) nAws++;
  if (k < nAws) {
    snprintf(buf, nBuf, "%s", s->azAwsEnv[k]);
    return 1;
  }
  if (nAws == 0 && k == 0) {
    const char *zName = strncmp(s->zKey, "imgpca.", 7) == 0 ? s->zKey + 7 : s->zKey;
    size_t j;
    snprintf(buf, nBuf, "IMGPCA_%s", zName);
    for (j = 7; buf[j]; j++) buf[j] = buf[j] == '.' ? '_' : (char)toupper((unsigned char)buf[j]);
    return 1;
  }
  if (k == (nAws ? nAws : 1) && s->zOldEnv) {
    snprintf(buf, nBuf, "%s", s->zOldEnv);
    return 2;
  }
  return 0;
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
  int i = setting_index(c, zKey);
  char *zNew = NULL;
  if (i < 0) return imgpca_seterr(err, "unknown setting '%s'", zKey ? zKey : "");
  if (zVal) {
    const ImgpcaSetting *s = c->apSetting[i];
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

/* 1 the first time (s, why) is seen in this process: each warning is
** printed once per setting and process. */
static int first_warning(const ImgpcaSetting *s, int why) {
  static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  static const ImgpcaSetting *aSeen[2][128];
  int i, first = 1;
  pthread_mutex_lock(&mu);
  for (i = 0; i < 128 && aSeen[why][i]; i++)
    if (aSeen[why][i] == s) first = 0;
  if (first && i < 128) aSeen[why][i] = s;
  pthread_mutex_unlock(&mu);
  return first;
}

/* An environment value that is not valid for its setting is skipped, with
** one warning per setting and process on stderr naming the variable, its
** value (control characters escaped) and the value used instead. */
static void env_warn(const ImgpcaSetting *s, const char *zVar, const char *zBad, const char *zUsed, const char *zSrc) {
  char shown[64], why[IMGPCA_ERRMAX];
  size_t o = 0;
  const unsigned char *p;
  if (!first_warning(s, 0)) return;
  for (p = (const unsigned char *)zBad; *p && o + 5 < sizeof shown; p++) {
    if (*p < 0x20 || *p == 0x7f || *p == '\\')
      o += (size_t)snprintf(shown + o, sizeof shown - o, "\\x%02x", *p);
    else
      shown[o++] = (char)*p;
  }
  shown[o] = 0;
  validate(s, zBad, why);
  fprintf(stderr, "imgpca: warning: %s='%s'%s ignored (%s); using %s%s%s (%s)\n", zVar, shown, *p ? "..." : "", why,
          zUsed ? "'" : "", zUsed ? zUsed : "no value", zUsed ? "'" : "", zSrc);
}

/* The environment value of s that is in use, its variable's name in
** zVar[nVar] (empty when none): the first set, non-empty and valid one; an
** invalid one before it, or when none is valid, is warned about; a
** deprecated name that is used is warned about. */
static const char *env_value(const ImgpcaSetting *s, char *zVar, size_t nVar) {
  char zName[64], zBadName[64] = "";
  const char *zBad = NULL;
  int k, kind;
  zVar[0] = 0;
  for (k = 0; (kind = imgpca_setting_env(s, k, zName, sizeof zName)) != 0; k++) {
    const char *z = getenv(zName);
    if (!z || !*z) continue;
    if (validate(s, z, NULL) != IMGPCA_OK) {
      if (!zBad) {
        zBad = z;
        snprintf(zBadName, sizeof zBadName, "%s", zName);
      }
      continue;
    }
    if (zBad) env_warn(s, zBadName, zBad, z, zName);
    if (kind == 2 && first_warning(s, 1)) {
      char zNew[64];
      imgpca_setting_env(s, 0, zNew, sizeof zNew);
      fprintf(stderr, "imgpca: warning: %s is deprecated: use %s (setting '%s')\n", zName, zNew, s->zKey);
    }
    snprintf(zVar, nVar, "%s", zName);
    return z;
  }
  if (zBad) env_warn(s, zBadName, zBad, s->zDefault, "the default");
  return NULL;
}

const char *imgpca_config_get(const ImgpcaConfig *c, const char *zKey, const char **pzSource) {
  int i = setting_index(c, zKey);
  const ImgpcaSetting *s;
  const char *z;
  char zVar[64];
  if (i < 0) {
    if (pzSource) *pzSource = "unset";
    return NULL;
  }
  s = c->apSetting[i];
  if (c->azVal && c->azVal[i]) {
    if (pzSource) *pzSource = "connection";
    return c->azVal[i];
  }
  z = env_value(s, zVar, sizeof zVar);
  if (z) {
    if (pzSource) *pzSource = "env";
    return z;
  }
  if (pzSource) *pzSource = s->zDefault ? "default" : "unset";
  return s->zDefault;
}

void imgpca_config_origin(const ImgpcaConfig *c, const char *zKey, char *out, size_t nOut) {
  const char *zSrc, *zVal = imgpca_config_get(c, zKey, &zSrc);
  const ImgpcaSetting *s = imgpca_config_find(c, zKey);
  char zVar[64];
  if (!nOut) return;
  snprintf(out, nOut, "%s%s", zKey ? zKey : "", strcmp(zSrc, "connection") == 0 ? "" : " (default)");
  if (!s || !zVal || strcmp(zSrc, "env") != 0) return;
  if (env_value(s, zVar, sizeof zVar) == zVal) snprintf(out, nOut, "%s", zVar);
}

long long imgpca_config_int(const ImgpcaConfig *c, const char *zKey) {
  long long v = 0;
  const char *z = imgpca_config_get(c, zKey, NULL);
  if (!parse_int(z, &v)) {
    const ImgpcaSetting *s = imgpca_config_find(c, zKey);
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
