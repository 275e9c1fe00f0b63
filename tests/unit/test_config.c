/* Unit tests of the configuration core (ext/config/config.c): the table of
** settings, validation, resolution order (connection, environment, default),
** origins for messages, masking of secrets and the environment-name rule. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/common.h"
#include "config/config.h"
#include "unit.h"

/* Every variable a setting reads, so that the caller's environment does not
** leak into the checks. */
static void clear_env(void) {
  int i, k;
  for (i = 0; imgpca_settings[i].zKey; i++)
    for (k = 0; k < 3 && imgpca_settings[i].azEnv[k]; k++) unsetenv(imgpca_settings[i].azEnv[k]);
}

static void test_table(void) {
  int i, n = imgpca_settings_count();
  CHECK(n >= 26);
  CHECK(imgpca_settings[n].zKey == NULL);
  CHECK(imgpca_setting_find("s3.region") == &imgpca_settings[1]);
  CHECK(imgpca_setting_find("s3.nope") == NULL);
  CHECK(imgpca_setting_find("") == NULL);
  CHECK(imgpca_setting_find(NULL) == NULL);
  for (i = 0; i < n; i++) {
    const ImgpcaSetting *s = &imgpca_settings[i];
    ImgpcaConfig c;
    char err[IMGPCA_ERRMAX];
    /* names unique, lower case <area>.<name> */
    CHECK(imgpca_setting_find(s->zKey) == s);
    CHECK(strchr(s->zKey, '.') != NULL);
    for (const char *p = s->zKey; *p; p++) CHECK(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '.' || *p == '_');
    /* the help is the meaning column of the generated docs tables: one
    ** line, no table separator, no trailing period */
    CHECK(s->zHelp && s->zHelp[0]);
    CHECK(!strchr(s->zHelp, '\n') && !strchr(s->zHelp, '|'));
    CHECK(s->zHelp[strlen(s->zHelp) - 1] != '.');
    CHECK(s->azEnv[0] != NULL);
    /* the default is a valid value of the setting */
    CHECK_EQ_INT(imgpca_config_init(&c), IMGPCA_OK);
    if (s->zDefault) {
      int rc = imgpca_config_set(&c, s->zKey, s->zDefault, err);
      if (rc) fprintf(stderr, "default of %s: %s\n", s->zKey, err);
      CHECK_EQ_INT(rc, IMGPCA_OK);
    }
    if (s->eType == CFG_INT) CHECK(s->iMin <= s->iMax);
    if (s->eType == CFG_ENUM) CHECK(s->zEnum && s->zEnum[0] == '|' && s->zEnum[strlen(s->zEnum) - 1] == '|');
    imgpca_config_clear(&c);
    CHECK(c.azVal == NULL);
  }
}

/* docs/ARCHITECTURE.md, "Settings": AWS_* names, or IMGPCA_ + the name in
** upper case with '.' -> '_' and a leading "imgpca." dropped; two older
** names keep their spelling. */
static void test_env_rule(void) {
  static const char *azOld[][2] = {{"image.max_pixels", "IMGPCA_MAX_PIXELS"}, {"s3.progress", "IMGPCA_PROGRESS"}};
  int i, k, nOld = 0;
  for (i = 0; imgpca_settings[i].zKey; i++) {
    const ImgpcaSetting *s = &imgpca_settings[i];
    char want[128];
    const char *zName = strncmp(s->zKey, "imgpca.", 7) == 0 ? s->zKey + 7 : s->zKey;
    size_t j;
    int isOld = 0;
    snprintf(want, sizeof want, "IMGPCA_%s", zName);
    for (j = 7; want[j]; j++) want[j] = want[j] == '.' ? '_' : (char)toupper((unsigned char)want[j]);
    for (k = 0; k < 2; k++)
      if (strcmp(s->zKey, azOld[k][0]) == 0) {
        CHECK_STR(s->azEnv[0], azOld[k][1]);
        CHECK(s->azEnv[1] == NULL);
        isOld = 1;
        nOld++;
      }
    if (isOld) continue;
    for (k = 0; k < 3 && s->azEnv[k]; k++) {
      if (strncmp(s->azEnv[k], "AWS_", 4) == 0) continue;
      if (strcmp(s->azEnv[k], want)) fprintf(stderr, "%s reads %s, the rule gives %s\n", s->zKey, s->azEnv[k], want);
      CHECK_STR(s->azEnv[k], want);
    }
  }
  CHECK_EQ_INT(nOld, 2);
}

static void test_validation(void) {
  ImgpcaConfig c;
  char err[IMGPCA_ERRMAX];
  CHECK_EQ_INT(imgpca_config_init(&c), IMGPCA_OK);
  CHECK_EQ_INT(imgpca_config_set(&c, "s3.nope", "1", err), IMGPCA_ERROR);
  CHECK_STR(err, "unknown setting 's3.nope'");
  CHECK_EQ_INT(imgpca_config_set(&c, NULL, "1", err), IMGPCA_ERROR);
  CHECK_STR(err, "unknown setting ''");
  CHECK_EQ_INT(imgpca_config_set(&c, "s3.max_inflight", "0", err), IMGPCA_ERROR);
  CHECK_STR(err, "invalid value for 's3.max_inflight': 0 is outside [1, 1024]");
  CHECK_EQ_INT(imgpca_config_set(&c, "s3.max_inflight", "1025", err), IMGPCA_ERROR);
  CHECK_EQ_INT(imgpca_config_set(&c, "s3.max_inflight", "12x", err), IMGPCA_ERROR);
  CHECK_STR(err, "invalid value for 's3.max_inflight': expected an integer");
  CHECK_EQ_INT(imgpca_config_set(&c, "s3.max_inflight", "", err), IMGPCA_ERROR);
  CHECK_EQ_INT(imgpca_config_set(&c, "s3.max_inflight", "99999999999999999999", err), IMGPCA_ERROR);
  CHECK_STR(err, "invalid value for 's3.max_inflight': expected an integer");
  CHECK_EQ_INT(imgpca_config_set(&c, "s3.max_inflight", "1024", err), IMGPCA_OK);
  CHECK_EQ_INT(imgpca_config_set(&c, "s3.multipart_threshold", "5368709120", err), IMGPCA_OK);
  CHECK_EQ_INT(imgpca_config_int(&c, "s3.multipart_threshold"), 5368709120LL);
  CHECK_EQ_INT(imgpca_config_set(&c, "s3.verify_tls", "maybe", err), IMGPCA_ERROR);
  CHECK_STR(err, "invalid value for 's3.verify_tls': expected true or false");
  CHECK_EQ_INT(imgpca_config_set(&c, "s3.url_style", "diagonal", err), IMGPCA_ERROR);
  CHECK_STR(err, "invalid value for 's3.url_style': expected 'auto', 'path' or 'virtual'");
  CHECK_EQ_INT(imgpca_config_set(&c, "s3.url_style", "auto|path", err), IMGPCA_ERROR);
  CHECK_EQ_INT(imgpca_config_set(&c, "s3.url_style", "pat", err), IMGPCA_ERROR);
  CHECK_EQ_INT(imgpca_config_set(&c, "s3.url_style", "path", err), IMGPCA_OK);
  CHECK_EQ_INT(imgpca_config_set(&c, "s3.region", "x@127.0.0.1:8443/", err), IMGPCA_ERROR);
  CHECK_STR(err, "invalid value for 's3.region': 'x@127.0.0.1:8443/': expected 1 to 32 lower-case letters, digits or '-'");
  CHECK_EQ_INT(imgpca_config_set(&c, "s3.region", "eu-west-3", err), IMGPCA_OK);
  /* a refused value leaves the previous one */
  CHECK_STR(imgpca_config_get(&c, "s3.url_style", NULL), "path");
  CHECK_STR(imgpca_config_get(&c, "s3.max_inflight", NULL), "1024");
  imgpca_config_clear(&c);
  imgpca_config_clear(&c); /* twice is harmless */
}

static void test_resolution(void) {
  ImgpcaConfig c;
  char err[IMGPCA_ERRMAX], origin[128];
  const char *zSrc;
  clear_env();
  CHECK_EQ_INT(imgpca_config_init(&c), IMGPCA_OK);
  /* default */
  CHECK_STR(imgpca_config_get(&c, "s3.max_inflight", &zSrc), "32");
  CHECK_STR(zSrc, "default");
  CHECK_EQ_INT(imgpca_config_int(&c, "s3.max_inflight"), 32);
  imgpca_config_origin(&c, "s3.max_inflight", origin, sizeof origin);
  CHECK_STR(origin, "s3.max_inflight (default)");
  /* environment over default */
  setenv("IMGPCA_S3_MAX_INFLIGHT", "7", 1);
  CHECK_STR(imgpca_config_get(&c, "s3.max_inflight", &zSrc), "7");
  CHECK_STR(zSrc, "env");
  imgpca_config_origin(&c, "s3.max_inflight", origin, sizeof origin);
  CHECK_STR(origin, "IMGPCA_S3_MAX_INFLIGHT");
  /* connection over environment; NULL resets to the environment */
  CHECK_EQ_INT(imgpca_config_set(&c, "s3.max_inflight", "9", err), IMGPCA_OK);
  CHECK_STR(imgpca_config_get(&c, "s3.max_inflight", &zSrc), "9");
  CHECK_STR(zSrc, "connection");
  imgpca_config_origin(&c, "s3.max_inflight", origin, sizeof origin);
  CHECK_STR(origin, "s3.max_inflight");
  CHECK_EQ_INT(imgpca_config_set(&c, "s3.max_inflight", NULL, err), IMGPCA_OK);
  CHECK_EQ_INT(imgpca_config_int(&c, "s3.max_inflight"), 7);
  /* an invalid or empty environment value is skipped (it is checked where
  ** it is used) */
  setenv("IMGPCA_S3_MAX_INFLIGHT", "lots", 1);
  CHECK_STR(imgpca_config_get(&c, "s3.max_inflight", &zSrc), "32");
  CHECK_STR(zSrc, "default");
  setenv("IMGPCA_S3_MAX_INFLIGHT", "", 1);
  CHECK_EQ_INT(imgpca_config_int(&c, "s3.max_inflight"), 32);
  unsetenv("IMGPCA_S3_MAX_INFLIGHT");
  /* the first variable of the list that is set wins */
  setenv("AWS_DEFAULT_REGION", "eu-north-1", 1);
  CHECK_STR(imgpca_config_get(&c, "s3.region", &zSrc), "eu-north-1");
  imgpca_config_origin(&c, "s3.region", origin, sizeof origin);
  CHECK_STR(origin, "AWS_DEFAULT_REGION");
  setenv("AWS_REGION", "ap-south-2", 1);
  CHECK_STR(imgpca_config_get(&c, "s3.region", NULL), "ap-south-2");
  imgpca_config_origin(&c, "s3.region", origin, sizeof origin);
  CHECK_STR(origin, "AWS_REGION");
  unsetenv("AWS_REGION");
  unsetenv("AWS_DEFAULT_REGION");
  /* no default: unset */
  CHECK(imgpca_config_get(&c, "s3.region", &zSrc) == NULL);
  CHECK_STR(zSrc, "unset");
  CHECK(imgpca_config_get(&c, "s3.nope", &zSrc) == NULL);
  CHECK_STR(zSrc, "unset");
  /* without a connection: environment and defaults */
  CHECK_STR(imgpca_config_get(NULL, "s3.profile", &zSrc), "default");
  /* booleans */
  CHECK_EQ_INT(imgpca_config_bool(&c, "s3.verify_tls"), 1);
  setenv("IMGPCA_S3_VERIFY_TLS", "off", 1);
  CHECK_EQ_INT(imgpca_config_bool(&c, "s3.verify_tls"), 0);
  CHECK_EQ_INT(imgpca_config_set(&c, "s3.verify_tls", "YES", err), IMGPCA_OK);
  CHECK_EQ_INT(imgpca_config_bool(&c, "s3.verify_tls"), 1);
  unsetenv("IMGPCA_S3_VERIFY_TLS");
  imgpca_config_clear(&c);
}

static void test_parse_bool(void) {
  static const char *yes[] = {"1", "true", "TRUE", "Yes", "on"}, *no[] = {"0", "false", "No", "OFF"}, *bad[] = {"", "2", "y", "truee", "o"};
  size_t i;
  for (i = 0; i < sizeof yes / sizeof *yes; i++) CHECK_EQ_INT(imgpca_parse_bool(yes[i]), 1);
  for (i = 0; i < sizeof no / sizeof *no; i++) CHECK_EQ_INT(imgpca_parse_bool(no[i]), 0);
  for (i = 0; i < sizeof bad / sizeof *bad; i++) CHECK_EQ_INT(imgpca_parse_bool(bad[i]), -1);
  CHECK_EQ_INT(imgpca_parse_bool(NULL), -1);
}

static void test_secrets(void) {
  char out[64], small[8];
  const ImgpcaSetting *key = imgpca_setting_find("s3.secret_access_key");
  const ImgpcaSetting *ep = imgpca_setting_find("s3.endpoint");
  const ImgpcaSetting *reg = imgpca_setting_find("s3.region");
  const char *z = "us-east-1";
  imgpca_config_mask("short", out, sizeof out);
  CHECK_STR(out, "****");
  imgpca_config_mask("0123456789ABCDEF", out, sizeof out);
  CHECK_STR(out, "****CDEF");
  imgpca_config_mask("012345678901234", out, sizeof out); /* 15 characters: nothing shown */
  CHECK_STR(out, "****");
  imgpca_config_mask(NULL, out, sizeof out);
  CHECK_STR(out, "");
  imgpca_url_redact("https://user:pw@host:8443/base", out, sizeof out);
  CHECK_STR(out, "https://****@host:8443/base");
  /* user info may itself hold '/', '?' or '#' (an unencoded password): everything
  ** up to the last '@' is masked, whatever looks like a path before it */
  imgpca_url_redact("https://a@b@host/x@y", out, sizeof out);
  CHECK_STR(out, "https://****@y");
  imgpca_url_redact("https://admin:s3cr3t/Pa55?w0rd@host", out, sizeof out);
  CHECK_STR(out, "https://****@host");
  imgpca_url_redact("https://host/x@y?q=@", out, sizeof out);
  CHECK_STR(out, "https://****@");
  imgpca_url_redact("no scheme", out, sizeof out);
  CHECK_STR(out, "no scheme");
  imgpca_url_redact("https://a:b@h/", small, sizeof small); /* truncated, terminated */
  CHECK_EQ_INT((long long)strlen(small), 7);
  imgpca_url_redact(NULL, out, sizeof out);
  CHECK_STR(out, "");
  CHECK(key && key->eShow == CFG_MASK && ep && ep->eShow == CFG_REDACT_URL && reg && reg->eShow == CFG_SHOW);
  CHECK_STR(imgpca_config_display(key, "AKIAabcdefghijklWXYZ", out, sizeof out), "****WXYZ");
  CHECK_STR(imgpca_config_display(ep, "http://u:p@127.0.0.1:9000", out, sizeof out), "http://****@127.0.0.1:9000");
  CHECK(imgpca_config_display(reg, z, out, sizeof out) == z);
  CHECK(imgpca_config_display(key, NULL, out, sizeof out) == NULL);
  CHECK(imgpca_config_display(NULL, z, out, sizeof out) == z);
}

static void test_region(void) {
  char r32[33], r33[34];
  memset(r32, 'a', 32);
  r32[32] = 0;
  memset(r33, 'a', 33);
  r33[33] = 0;
  CHECK_EQ_INT(imgpca_region_valid("us-east-1"), 1);
  CHECK_EQ_INT(imgpca_region_valid(r32), 1);
  CHECK_EQ_INT(imgpca_region_valid(r33), 0);
  CHECK_EQ_INT(imgpca_region_valid(""), 0);
  CHECK_EQ_INT(imgpca_region_valid("US-EAST-1"), 0);
  CHECK_EQ_INT(imgpca_region_valid("eu_west"), 0);
  CHECK_EQ_INT(imgpca_region_valid("a.b"), 0);
  CHECK_EQ_INT(imgpca_region_valid(NULL), 0);
}

/* Allocation failures: init and set report IMGPCA_NOMEM and keep the state. */
static int g_fail_after = -1;
static void *fail_malloc(size_t n) { return g_fail_after-- == 0 ? NULL : malloc(n); }
static void *fail_realloc(void *p, size_t n) { return g_fail_after-- == 0 ? NULL : realloc(p, n); }

static void test_nomem(void) {
  ImgpcaAllocator a = {fail_malloc, fail_realloc, free};
  ImgpcaConfig c;
  char err[IMGPCA_ERRMAX];
  imgpca_set_allocator(&a);
  g_fail_after = 0;
  CHECK_EQ_INT(imgpca_config_init(&c), IMGPCA_NOMEM);
  g_fail_after = -1;
  CHECK_EQ_INT(imgpca_config_init(&c), IMGPCA_OK);
  CHECK_EQ_INT(imgpca_config_set(&c, "s3.profile", "one", err), IMGPCA_OK);
  g_fail_after = 0;
  CHECK_EQ_INT(imgpca_config_set(&c, "s3.profile", "two", err), IMGPCA_NOMEM);
  g_fail_after = -1;
  CHECK_STR(imgpca_config_get(&c, "s3.profile", NULL), "one");
  imgpca_config_clear(&c);
  imgpca_set_allocator(NULL);
}

int main(void) {
  test_table();
  test_env_rule();
  test_validation();
  test_resolution();
  test_parse_bool();
  test_secrets();
  test_region();
  test_nomem();
  return UNIT_DONE();
}
