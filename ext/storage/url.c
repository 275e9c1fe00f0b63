/*
** URL parsing of the storage layer (no SQL behaviour of its own):
**   s3://bucket/key, s3a://bucket/key -> S3 (key may be empty)
**   file:///abs/path, file://localhost/abs/path -> local (percent-decoded)
**   anything else -> a local path, used as given
*/
#include "storage.h"

#include "../common/glob.h"

/* Length of the scheme of an S3 URL ("s3://" 5, "s3a://" 6); 0 for any other text. */
static size_t s3_scheme_len(const char *zUrl) {
  if (strncmp(zUrl, "s3://", 5) == 0) return 5;
  if (strncmp(zUrl, "s3a://", 6) == 0) return 6;
  return 0;
}

int imgpca_url_is_s3(const char *zUrl) { return zUrl && s3_scheme_len(zUrl) > 0; }

int imgpca_url_parse(const char *zUrl, ImgpcaUrl *pUrl, char *err) {
  size_t nScheme;
  memset(pUrl, 0, sizeof(*pUrl));
  if (!zUrl || !*zUrl) return imgpca_seterr(err, "empty URL");
  if ((nScheme = s3_scheme_len(zUrl)) > 0) {
    const char *b = zUrl + nScheme;
    const char *slash = strchr(b, '/');
    size_t nb = slash ? (size_t)(slash - b) : strlen(b);
    if (nb == 0) return imgpca_seterr(err, "invalid URL '%s': missing bucket name", zUrl);
    pUrl->eScheme = IMGPCA_URL_S3;
    pUrl->zScheme = nScheme == 6 ? "s3a" : "s3";
    pUrl->zBucket = imgpca_malloc(nb + 1);
    if (!pUrl->zBucket) return IMGPCA_NOMEM;
    memcpy(pUrl->zBucket, b, nb);
    pUrl->zBucket[nb] = 0;
    pUrl->zKey = imgpca_strdup(slash ? slash + 1 : "");
    if (!pUrl->zKey) {
      imgpca_url_free(pUrl);
      return IMGPCA_NOMEM;
    }
    return IMGPCA_OK;
  }
  pUrl->eScheme = IMGPCA_URL_LOCAL;
  pUrl->zScheme = "";
  if (strncmp(zUrl, "file://", 7) == 0) {
    const char *p = zUrl + 7;
    pUrl->zScheme = "file";
    if (strncmp(p, "localhost/", 10) == 0) p += 9;
    if (*p != '/') return imgpca_seterr(err, "invalid URL '%s': expected file:///absolute/path", zUrl);
    pUrl->zKey = imgpca_strdup(p);
    if (!pUrl->zKey) return IMGPCA_NOMEM;
    if (!imgpca_uri_decode(pUrl->zKey, 0)) {
      imgpca_url_free(pUrl);
      return imgpca_seterr(err, "invalid URL '%s': bad %%-escape (or %%00, a NUL byte)", zUrl);
    }
    return IMGPCA_OK;
  }
  if (strstr(zUrl, "://")) {
    const char *e = strstr(zUrl, "://");
    return imgpca_seterr(err, "unsupported URL scheme '%.*s' in '%s': expected s3://, file:// or a path",
                         (int)(e - zUrl), zUrl, zUrl);
  }
  pUrl->zKey = imgpca_strdup(zUrl);
  return pUrl->zKey ? IMGPCA_OK : IMGPCA_NOMEM;
}

void imgpca_url_free(ImgpcaUrl *pUrl) {
  imgpca_free(pUrl->zBucket);
  imgpca_free(pUrl->zKey);
  memset(pUrl, 0, sizeof(*pUrl));
}
