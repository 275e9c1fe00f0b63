/*
** Fuzz target: the S3 XML parsers (ext/s3/xml.c, expat).
**
** Input: one selector byte (which parser) + an XML document as a server
** could send it: ListObjectsV2 pages, <Error> bodies, multipart
** initiate/complete and UploadPartCopy results.  Invariants: a parsed
** listing has 0 <= n <= nAlloc entries, every key non-NULL and sizes >= 0;
** everything returned is freed without leaks; errors carry a message.
*/
#include "fuzz.h"
#include "s3/s3.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[IMGPCA_ERRMAX];
  const char *p;
  size_t n;
  int rc, i;
  if (size < 1) return 0;
  p = (const char *)data + 1;
  n = size - 1;
  err[0] = 0;
  switch (data[0] % 5) {
    case 0: {
      S3ListPage pg;
      memset(&pg, 0, sizeof pg);
      rc = s3_xml_list(p, n, &pg, err);
      fuzz_check_err(rc, err);
      if (rc == IMGPCA_OK) {
        if (pg.n < 0 || pg.n > pg.nAlloc) fuzz_fail("listing with n=%d nAlloc=%d", pg.n, pg.nAlloc);
        for (i = 0; i < pg.n; i++) {
          if (!pg.a[i].zKey) fuzz_fail("entry %d without a key", i);
          if (pg.a[i].nSize < 0) fuzz_fail("entry %d with size %lld", i, (long long)pg.a[i].nSize);
        }
        if (pg.bTruncated && !pg.zNextToken) {
          /* a truncated page without a continuation token cannot be followed:
          ** the client must report it rather than loop or stop silently */
        }
      }
      s3_list_page_free(&pg);
      break;
    }
    case 1: {
      S3XmlError e;
      memset(&e, 0, sizeof e);
      rc = s3_xml_error(p, n, &e); /* no message: the caller falls back to the HTTP status */
      if (rc != IMGPCA_OK && rc != IMGPCA_ERROR && rc != IMGPCA_NOMEM) fuzz_fail("rc %d", rc);
      s3_xml_error_free(&e);
      break;
    }
    case 2: {
      char *zId = NULL;
      rc = s3_xml_upload_id(p, n, &zId, err);
      fuzz_check_err(rc, err);
      if (rc == IMGPCA_OK && (!zId || !*zId)) fuzz_fail("empty upload id accepted");
      imgpca_free(zId);
      break;
    }
    case 3: {
      char *zEtag = NULL;
      rc = s3_xml_complete(p, n, &zEtag, err);
      fuzz_check_err(rc, err);
      imgpca_free(zEtag);
      break;
    }
    default: {
      char *zEtag = NULL;
      rc = s3_xml_copy_part(p, n, &zEtag, err);
      fuzz_check_err(rc, err);
      imgpca_free(zEtag);
      break;
    }
  }
  return 0;
}
