/*
** Per-connection configuration (pure C).
**
** Every tunable of imgpca is a named setting with a type, a default, an
** optional list of environment variables, and how displays show it.  The
** effective value of a setting is, in order of precedence:
**   1. the value set on this connection with imgpca_config(key, value);
**   2. the first environment variable in its list that is set and non-empty;
**   3. its default (which may be NULL = unset; S3 credentials then fall back
**      to the ~/.aws files and instance metadata, resolved in ext/s3).
** Secrets are never returned unmasked by the display functions.
*/
#ifndef IMGPCA_CONFIG_H
#define IMGPCA_CONFIG_H

#include "../common/common.h"

typedef enum { CFG_STRING,
               CFG_INT,
               CFG_BOOL,
               CFG_ENUM } ImgpcaCfgType;

/* How displays (imgpca_config(), s3_config(), messages) show a value. */
typedef enum {
  CFG_SHOW,      /* as it is */
  CFG_MASK,      /* a secret: "****" and at most its last 4 characters */
  CFG_REDACT_URL /* a URL: its user info ("user:password@") hidden */
} ImgpcaCfgShow;

typedef struct ImgpcaSetting {
  const char *zKey; /* e.g. "s3.region" */
  ImgpcaCfgType eType;
  const char *zDefault;            /* textual default, NULL = unset */
  const char *azEnv[3];            /* environment variables, most specific first */
  ImgpcaCfgShow eShow;             /* how displays show the value */
  long long iMin, iMax;            /* CFG_INT range */
  const char *zEnum;               /* CFG_ENUM: "|a|b|c|" */
  const char *zHelp;               /* markdown; the meaning column of the generated settings tables */
  int (*xCheck)(const char *zVal); /* optional: 1 if a value given with imgpca_config is valid */
  const char *zCheckHelp;          /* what xCheck expects, for the error message */
} ImgpcaSetting;

/* The table of known settings, terminated by a zKey==NULL entry. */
extern const ImgpcaSetting imgpca_settings[];
int imgpca_settings_count(void);
const ImgpcaSetting *imgpca_setting_find(const char *zKey);

typedef struct ImgpcaConfig {
  char **azVal; /* per-connection values, indexed like imgpca_settings; NULL = unset */
} ImgpcaConfig;

int imgpca_config_init(ImgpcaConfig *c);
void imgpca_config_clear(ImgpcaConfig *c);

/* Sets (zVal != NULL) or resets (zVal == NULL) a setting after validating it. */
int imgpca_config_set(ImgpcaConfig *c, const char *zKey, const char *zVal, char *err);

/* Effective value (connection > environment > default) or NULL.  *pzSource,
** when not NULL, receives "connection", "env:NAME", "default" or "unset". */
const char *imgpca_config_get(const ImgpcaConfig *c, const char *zKey, const char **pzSource);
/* Where the effective value of zKey comes from, for messages: the setting
** name when set on the connection, the environment variable in use, or
** "<key> (default)". */
void imgpca_config_origin(const ImgpcaConfig *c, const char *zKey, char *out, size_t nOut);
long long imgpca_config_int(const ImgpcaConfig *c, const char *zKey);
int imgpca_config_bool(const ImgpcaConfig *c, const char *zKey);

/* Masked rendering of a secret ("****" + last 4 characters at most). */
void imgpca_config_mask(const char *zVal, char *out, size_t nOut);
/* A URL with its user info ("user:password@") replaced by "****@";
** other text is copied as is (truncated to nOut - 1 bytes). */
void imgpca_url_redact(const char *zUrl, char *out, size_t nOut);
/* The text displays show for a value of s: the value itself, or out
** (masked secret, redacted URL). */
const char *imgpca_config_display(const ImgpcaSetting *s, const char *zVal, char *out, size_t nOut);

/* An AWS region name: 1 to 32 lower-case letters, digits or '-' (it
** becomes part of host names and of the signing scope). */
int imgpca_region_valid(const char *z);

/* Parses a boolean word (1/0, true/false, yes/no, on/off); -1 if invalid. */
int imgpca_parse_bool(const char *z);

#endif
