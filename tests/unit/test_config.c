/* Unit tests of the configuration core (ext/config/config.c): the table of
** settings, validation, resolution order (connection, environment, default),
** origins for messages, masking of secrets and the environment-name rule. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"
#include "config/config.h"
#include "storage/storage.h"
#include "unit.h"

/* The storage core's settings, and a table like the glue's, with an
** "imgpca." setting and one with a deprecated variable. */
static const ImgpcaSetting aTest[] = {
    {.zKey = "imgpca.widgets", .eType = CFG_INT, .zDefault = "3", .iMin = 0, .iMax = 9, .zHelp = "widgets"},
    {.zKey = "test.old_name", .eType = CFG_INT, .zDefault = "5", .zOldEnv = "IMGPCA_OLDER", .iMin = 1, .iMax = 99, .zHelp = "renamed variable"},
    {0}};
static const ImgpcaSetting *const apTables[] = {imgpca_storage_settings, aTest, NULL};

/* Every variable a setting reads, so that the caller's environment does not
** leak into the checks. */
static void clear_env(void) {
  int t, k;
  char zVar[64];
  const ImgpcaSetting *s;
  for (t = 0; apTables[t]; t++)
    for (s = apTables[t]; s->zKey; s++)
      for (k = 0; imgpca_setting_env(s, k, zVar, sizeof zVar); k++) unsetenv(zVar);
}

static void test_table(void) {
  ImgpcaConfig c;
  char err[IMGPCA_ERRMAX];
  int i, n;
  CHECK_EQ_INT(imgpca_config_init(&c, apTables, err), IMGPCA_OK);
  n = c.nSetting;
  CHECK(n >= 22);
  CHECK(imgpca_config_find(&c, "s3.region") == &imgpca_storage_settings[1]);
  CHECK(imgpca_config_find(&c, "test.old_name") == &aTest[1]);
  CHECK(imgpca_config_find(&c, "s3.nope") == NULL);
  CHECK(imgpca_config_find(&c, "") == NULL);
  CHECK(imgpca_config_find(&c, NULL) == NULL);
  CHECK(imgpca_config_find(NULL, "s3.region") == NULL);
  for (i = 0; i < n; i++) {
    const ImgpcaSetting *s = c.apSetting[i];
    /* the help is the meaning column of the generated docs tables: one
    ** line, no table separator, no trailing period */
    CHECK(imgpca_config_find(&c, s->zKey) == s);
    CHECK(s->zHelp && s->zHelp[0]);
    CHECK(!strchr(s->zHelp, '\n') && !strchr(s->zHelp, '|'));
    CHECK(s->zHelp[strlen(s->zHelp) - 1] != '.');
    /* the default is a valid value of the setting */
    if (s->zDefault) {
      int rc = imgpca_config_set(&c, s->zKey, s->zDefault, err);
      if (rc) fprintf(stderr, "default of %s: %s\n", s->zKey, err);
      CHECK_EQ_INT(rc, IMGPCA_OK);
    }
    if (s->eType == CFG_INT) CHECK(s->iMin <= s->iMax);
    if (s->eType == CFG_ENUM) CHECK(s->zEnum && s->zEnum[0] == '|' && s->zEnum[strlen(s->zEnum) - 1] == '|');
  }
  imgpca_config_clear(&c);
  CHECK(c.azVal == NULL && c.nSetting == 0);
  /* names: lower-case "<area>.<name>", each declared once */
  {
    static const ImgpcaSetting aDup[] = {{.zKey = "s3.region", .eType = CFG_STRING, .zHelp = "again"}, {0}};
    static const ImgpcaSetting aUpper[] = {{.zKey = "S3.Region", .eType = CFG_STRING, .zHelp = "x"}, {0}};
    static const ImgpcaSetting aFlat[] = {{.zKey = "threads", .eType = CFG_INT, .zHelp = "x"}, {0}};
    const ImgpcaSetting *const apDup[] = {imgpca_storage_settings, aDup, NULL};
    const ImgpcaSetting *const apUpper[] = {aUpper, NULL};
    const ImgpcaSetting *const apFlat[] = {aFlat, NULL};
    CHECK_EQ_INT(imgpca_config_init(&c, apDup, err), IMGPCA_ERROR);
    CHECK_STR(err, "setting 's3.region' is declared twice");
    CHECK(c.azVal == NULL);
    CHECK_EQ_INT(imgpca_config_init(&c, apUpper, err), IMGPCA_ERROR);
    CHECK_STR(err, "setting 'S3.Region' is not a lower-case <area>.<name>");
    CHECK_EQ_INT(imgpca_config_init(&c, apFlat, err), IMGPCA_ERROR);
    CHECK_EQ_INT(imgpca_config_init(&c, NULL, err), IMGPCA_OK); /* no settings at all */
    CHECK_EQ_INT(c.nSetting, 0);
    CHECK(imgpca_config_get(&c, "s3.region", NULL) == NULL);
    imgpca_config_clear(&c);
  }
}

/* docs/ARCHITECTURE.md, "Settings": the AWS SDKs' names, or IMGPCA_ + the
** name in upper case with '.' -> '_' and a leading "imgpca." dropped; an
** earlier name comes last, marked deprecated. */
static void test_env_rule(void) {
  char z[64];
  const ImgpcaSetting *region = &imgpca_storage_settings[1];
  CHECK_STR(region->zKey, "s3.region");
  CHECK_EQ_INT(imgpca_setting_env(region, 0, z, sizeof z), 1);
  CHECK_STR(z, "AWS_REGION");
  CHECK_EQ_INT(imgpca_setting_env(region, 1, z, sizeof z), 1);
  CHECK_STR(z, "AWS_DEFAULT_REGION");
  CHECK_EQ_INT(imgpca_setting_env(region, 2, z, sizeof z), 0);
  CHECK_EQ_INT(imgpca_setting_env(&aTest[0], 0, z, sizeof z), 1);
  CHECK_STR(z, "IMGPCA_WIDGETS");
  CHECK_EQ_INT(imgpca_setting_env(&aTest[0], 1, z, sizeof z), 0);
  CHECK_EQ_INT(imgpca_setting_env(&aTest[1], 0, z, sizeof z), 1);
  CHECK_STR(z, "IMGPCA_TEST_OLD_NAME");
  CHECK_EQ_INT(imgpca_setting_env(&aTest[1], 1, z, sizeof z), 2);
  CHECK_STR(z, "IMGPCA_OLDER");
  CHECK_EQ_INT(imgpca_setting_env(&aTest[1], 2, z, sizeof z), 0);
  {
    const ImgpcaSetting *s;
    for (s = imgpca_storage_settings; s->zKey; s++)
      if (strcmp(s->zKey, "s3.max_inflight") == 0) break;
    CHECK_EQ_INT(imgpca_setting_env(s, 0, z, sizeof z), 1);
    CHECK_STR(z, "IMGPCA_S3_MAX_INFLIGHT");
    for (s = imgpca_storage_settings; s->zKey; s++)
      if (strcmp(s->zKey, "s3.progress") == 0) break;
    CHECK_EQ_INT(imgpca_setting_env(s, 0, z, sizeof z), 1);
    CHECK_STR(z, "IMGPCA_S3_PROGRESS");
    CHECK_EQ_INT(imgpca_setting_env(s, 1, z, sizeof z), 2);
    CHECK_STR(z, "IMGPCA_PROGRESS");
  }
}

/* A deprecated variable is read after the rule's one, with one warning per
** setting and process. */
static void test_deprecated_env(void) {
  ImgpcaConfig c;
  char buf[2048], origin[64];
  const char *zSrc;
  UnitStderr cap;
  clear_env();
  CHECK_EQ_INT(imgpca_config_init(&c, apTables, NULL), IMGPCA_OK);
  setenv("IMGPCA_OLDER", "42", 1);
  unit_stderr_begin(&cap);
  CHECK_STR(imgpca_config_get(&c, "test.old_name", &zSrc), "42");
  CHECK_STR(zSrc, "env");
  CHECK_EQ_INT(imgpca_config_int(&c, "test.old_name"), 42);
  imgpca_config_origin(&c, "test.old_name", origin, sizeof origin);
  CHECK_STR(origin, "IMGPCA_OLDER");
  setenv("IMGPCA_TEST_OLD_NAME", "7", 1); /* the rule's name wins */
  CHECK_EQ_INT(imgpca_config_int(&c, "test.old_name"), 7);
  imgpca_config_origin(&c, "test.old_name", origin, sizeof origin);
  CHECK_STR(origin, "IMGPCA_TEST_OLD_NAME");
  unit_stderr_end(&cap, buf, sizeof buf);
  CHECK_STR(buf, "imgpca: warning: IMGPCA_OLDER is deprecated: use IMGPCA_TEST_OLD_NAME (setting 'test.old_name')\n");
  unsetenv("IMGPCA_OLDER");
  unsetenv("IMGPCA_TEST_OLD_NAME");
  imgpca_config_clear(&c);
}

static void test_validation(void) {
  ImgpcaConfig c;
  char err[IMGPCA_ERRMAX];
  CHECK_EQ_INT(imgpca_config_init(&c, apTables, NULL), IMGPCA_OK);
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
  CHECK_EQ_INT(imgpca_config_init(&c, apTables, NULL), IMGPCA_OK);
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
  /* without a configuration: nothing is known */
  CHECK(imgpca_config_get(NULL, "s3.profile", &zSrc) == NULL);
  CHECK_STR(zSrc, "unset");
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
  ImgpcaConfig c;
  const ImgpcaSetting *key, *ep, *reg;
  const char *z = "us-east-1";
  CHECK_EQ_INT(imgpca_config_init(&c, apTables, NULL), IMGPCA_OK);
  key = imgpca_config_find(&c, "s3.secret_access_key");
  ep = imgpca_config_find(&c, "s3.endpoint");
  reg = imgpca_config_find(&c, "s3.region");
  imgpca_config_clear(&c);
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
  CHECK_EQ_INT(imgpca_config_init(&c, apTables, NULL), IMGPCA_NOMEM);
  g_fail_after = -1;
  CHECK_EQ_INT(imgpca_config_init(&c, apTables, NULL), IMGPCA_OK);
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
  test_deprecated_env();
  test_validation();
  test_resolution();
  test_parse_bool();
  test_secrets();
  test_region();
  test_nomem();
  return UNIT_DONE();
}
