/*
** Fuzz target: URL parsing (ext/storage/url.c) and glob matching
** (ext/common/glob.c), URI encoding (ext/common/glob.c, used by SigV4).
**
** Input: "pattern\0string" (string optional).  Invariants:
**   - imgpca_url_parse accepts or rejects with a message, never crashes;
**     an S3 URL has a non-empty bucket;
**   - imgpca_glob_prefix(p) <= strlen(p); a pattern without magic matches its
**     own unescaped literal;
**   - listing soundness: whenever imgpca_glob_match(p, s) holds, s starts with
**     the literal prefix of p (the listing asks S3 only for that prefix, so
**     otherwise matching keys would be silently dropped);
**   - imgpca_uri_decode(imgpca_uri_encode(s)) == s.
*/
#include "fuzz.h"
#include "s3/s3.h"
#include "storage/storage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *z = fuzz_cstr(data, size);
  const char *zPat, *zStr;
  char err[IMGPCA_ERRMAX];
  ImgpcaUrl url;
  char *zLit = NULL;
  size_t nLit;
  int rc, m;
  if (!z) return 0;
  zPat = z;
  zStr = strlen(z) < size ? z + strlen(z) + 1 : "";

  err[0] = 0;
  rc = imgpca_url_parse(zPat, &url, err);
  fuzz_check_err(rc, err);
  if (rc == IMGPCA_OK) {
    if (url.eScheme == IMGPCA_URL_S3 && (!url.zBucket || !*url.zBucket)) fuzz_fail("S3 URL without bucket");
    if (!url.zKey) fuzz_fail("URL without key/path");
    if ((url.eScheme == IMGPCA_URL_S3) != imgpca_url_is_s3(zPat))
      fuzz_fail("imgpca_url_is_s3 disagrees with imgpca_url_parse on '%s'", zPat);
    if (!url.zScheme) fuzz_fail("URL without scheme text");
    imgpca_url_free(&url);
  }

  nLit = imgpca_glob_prefix(zPat, &zLit);
  if (nLit > strlen(zPat)) fuzz_fail("glob prefix %zu longer than pattern", nLit);
  m = imgpca_glob_match(zPat, zStr);
  if (zLit) {
    if (m && strncmp(zStr, zLit, strlen(zLit)) != 0)
      fuzz_fail("'%s' matches '%s' but lacks its literal prefix '%s'", zStr, zPat, zLit);
    if (!imgpca_glob_has_magic(zPat) && !imgpca_glob_match(zPat, zLit))
      fuzz_fail("pattern without magic '%s' does not match its literal '%s'", zPat, zLit);
    imgpca_free(zLit);
  }

  {
    ImgpcaBuf b;
    imgpca_buf_init(&b);
    if (imgpca_uri_encode(&b, zStr, strlen(zStr), (int)(size & 1)) == IMGPCA_OK && !b.oom) {
      char *enc = malloc(b.n + 1);
      if (enc) {
        if (b.n) memcpy(enc, b.p, b.n);
        enc[b.n] = 0;
        if (!imgpca_uri_decode(enc, 0) || strcmp(enc, zStr) != 0) fuzz_fail("URI encode/decode round trip");
        free(enc);
      }
    }
    imgpca_buf_free(&b);
  }
  free(z);
  return 0;
}
