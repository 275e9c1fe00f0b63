/*
** Fuzz target: configuration settings (ext/config).
**
** Input: "key\0value[\0key\0value...]".  Each pair is applied with
** imgpca_config_set(); then every setting is read back, rendered masked, and
** parsed as int/bool, and rendered as displays show it.  Invariants: a
** value that was accepted reads back unchanged from the connection; a masked
** secret never contains more than its last 4 characters; a displayed URL
** setting never contains its user info ("user:password@"); s3.region only
** accepts [a-z0-9-]{1,32} (or "").
*/
#include "fuzz.h"
#include "config/config.h"
#include "storage/storage.h"

/* The storage core's settings: URLs, secrets, the region, every type. */
static const ImgpcaSetting *const apTables[] = {imgpca_storage_settings, NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ImgpcaConfig cfg;
  char err[IMGPCA_ERRMAX];
  char *z = fuzz_cstr(data, size), *p, *end;
  int i;
  if (!z) return 0;
  if (imgpca_config_init(&cfg, apTables, NULL) != IMGPCA_OK) {
    free(z);
    return 0;
  }
  p = z;
  end = z + size;
  while (p < end) {
    char *zKey = p, *zVal;
    int rc;
    p += strlen(p) + 1;
    zVal = p < end ? p : NULL;
    if (zVal) p += strlen(p) + 1;
    err[0] = 0;
    rc = imgpca_config_set(&cfg, zKey, zVal, err);
    fuzz_check_err(rc, err);
    if (rc == IMGPCA_OK && zVal && *zVal && strcmp(zKey, "s3.region") == 0 && !imgpca_region_valid(zVal))
      fuzz_fail("s3.region accepted '%s'", zVal);
    if (rc == IMGPCA_OK) {
      const char *zSrc = NULL;
      const char *zGot = imgpca_config_get(&cfg, zKey, &zSrc);
      if (zVal && (!zGot || strcmp(zGot, zVal) != 0 || strcmp(zSrc, "connection") != 0))
        fuzz_fail("setting '%s' did not read back", zKey);
    }
  }
  for (i = 0; i < cfg.nSetting; i++) {
    const ImgpcaSetting *s = cfg.apSetting[i];
    const char *zVal = imgpca_config_get(&cfg, s->zKey, NULL);
    char masked[64], shown[1024], origin[128];
    (void)imgpca_config_int(&cfg, s->zKey);
    imgpca_config_origin(&cfg, s->zKey, origin, sizeof origin);
    if (imgpca_config_display(s, zVal, shown, sizeof shown) && s->eShow == CFG_REDACT_URL && strlen(zVal) + 4 < sizeof shown) {
      /* user info: between "://" and the last '@' of the URL (a password may
      ** hold '/', '?' or '#', so nothing after "://" is taken for a path) */
      const char *a = strstr(zVal, "://"), *e, *at = NULL, *q;
      if (a) {
        a += 3;
        e = a + strlen(a);
        for (q = a; q < e; q++)
          if (*q == '@') at = q;
        if (at && (strncmp(shown, zVal, (size_t)(a - zVal)) != 0 || strncmp(shown + (a - zVal), "****", 4) != 0 || strcmp(shown + (a - zVal) + 4, at) != 0))
          fuzz_fail("display of '%s' is not its URL with the user info hidden", s->zKey);
      }
    }
    (void)imgpca_config_bool(&cfg, s->zKey);
    imgpca_config_mask(zVal, masked, sizeof masked);
    if (zVal && strlen(zVal) >= 5) {
      /* no run of 5 characters of the secret may appear in its mask */
      size_t k, n = strlen(zVal);
      for (k = 0; k + 5 <= n; k++) {
        char probe[6];
        memcpy(probe, zVal + k, 5);
        probe[5] = 0;
        if (!strchr(probe, '*') && strstr(masked, probe)) fuzz_fail("mask of '%s' reveals '%s'", s->zKey, probe);
      }
    }
  }
  imgpca_config_clear(&cfg);
  free(z);
  return 0;
}
