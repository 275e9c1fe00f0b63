/*
** Per-connection configuration (pure C).
**
** Every tunable of imgpca is a named setting with a type, a default, its
** environment variables, and how displays show it.  Each module declares
** its own settings in a table (next to the code that reads them) and the
** configuration of a connection is made from the list of those tables
** (ext/imgpca.c gathers them from the module descriptors).  The effective
** value of a setting is, in order of precedence:
**   1. the value set on this connection with imgpca_config(key, value);
**   2. the first of its environment variables that is set and non-empty
**      (imgpca_setting_env);
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

/* One setting.  Its environment variables follow one rule
** (imgpca_setting_env): a setting that mirrors the AWS SDKs and CLI reads
** their variables, azAwsEnv, most specific first; any other reads
** IMGPCA_<NAME>, the name in upper case with '.' -> '_' and a leading
** "imgpca." dropped (s3.max_inflight -> IMGPCA_S3_MAX_INFLIGHT,
** imgpca.threads -> IMGPCA_THREADS).  zOldEnv, an earlier name of the
** variable, is still read after the rule's one, with a deprecation warning. */
typedef struct ImgpcaSetting {
  const char *zKey; /* "<area>.<name>" in lower case, e.g. "s3.region" */
  ImgpcaCfgType eType;
  const char *zDefault;            /* textual default, NULL = unset */
  const char *azAwsEnv[3];         /* AWS SDK variables it mirrors, most specific first; none: IMGPCA_<NAME> */
  const char *zOldEnv;             /* deprecated earlier variable, or NULL */
  ImgpcaCfgShow eShow;             /* how displays show the value */
  long long iMin, iMax;            /* CFG_INT range */
  const char *zEnum;               /* CFG_ENUM: "|a|b|c|" */
  const char *zHelp;               /* markdown; the meaning column of the generated settings tables */
  int (*xCheck)(const char *zVal); /* optional: 1 if a value given with imgpca_config is valid */
  const char *zCheckHelp;          /* what xCheck expects, for the error message */
} ImgpcaSetting;

/* The k-th environment variable of s (k = 0, 1, ...) into buf: returns 0
** when there is no k-th one, 1 for a current name, 2 for the deprecated
** zOldEnv (always the last). */
int imgpca_setting_env(const ImgpcaSetting *s, int k, char *buf, size_t nBuf);

/* The settings of one connection: the settings of every table of apTable
** (a NULL-terminated list of tables, each ending with a zKey == NULL entry;
** the tables must outlive the configuration) and the values set on it. */
typedef struct ImgpcaConfig {
  const ImgpcaSetting **apSetting; /* every setting of the tables, in order */
  int nSetting;
  char **azVal; /* per-connection values, indexed like apSetting; NULL = unset */
} ImgpcaConfig;

/* IMGPCA_ERROR with err set when a name is not "<area>.<name>" in lower
** case or appears twice; IMGPCA_NOMEM.  err may be NULL. */
int imgpca_config_init(ImgpcaConfig *c, const ImgpcaSetting *const *apTable, char *err);
void imgpca_config_clear(ImgpcaConfig *c);
/* The setting named zKey, or NULL. */
const ImgpcaSetting *imgpca_config_find(const ImgpcaConfig *c, const char *zKey);

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
