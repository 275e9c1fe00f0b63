/*
** S3 XML responses parsed with expat (no SQL behaviour of its own):
** ListBucketResult (ListObjectsV2), Error, InitiateMultipartUploadResult,
** CompleteMultipartUploadResult and CopyPartResult.  Namespaces
** are ignored (element names are matched on their local part).
*/
#include "s3.h"

#include <expat.h>
#include <stdlib.h>

/* A generic walker: calls xLeaf(ctx, path, text) at the end of every element,
** where path is "Root/Child/Leaf" (local names). */
typedef struct XmlWalk {
  ImgpcaBuf path;
  ImgpcaBuf text;
  int (*xLeaf)(void *, const char *zPath, const char *zText);
  void (*xStart)(void *, const char *zPath);
  void *ctx;
  int rc;
  XML_Parser parser;
} XmlWalk;

static const char *local_name(const char *z) {
  const char *c = strrchr(z, '|'); /* namespace separator when created with NS */
  const char *d = strrchr(z, ':');
  if (c) return c + 1;
  return d ? d + 1 : z;
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts) {
  XmlWalk *w = ud;
  (void)atts;
  if (w->path.n) imgpca_buf_append(&w->path, "/", 1);
  imgpca_buf_append(&w->path, local_name(name), strlen(local_name(name)));
  imgpca_buf_append(&w->path, "", 1);
  w->path.n--;
  w->text.n = 0;
  if (w->path.oom) {
    w->rc = IMGPCA_NOMEM;
    XML_StopParser(w->parser, XML_FALSE);
    return;
  }
  if (w->xStart) w->xStart(w->ctx, (const char *)w->path.p);
}

static void XMLCALL on_end(void *ud, const XML_Char *name) {
  XmlWalk *w = ud;
  char *slash;
  (void)name;
  imgpca_buf_append(&w->text, "", 1);
  if (w->text.oom) {
    w->rc = IMGPCA_NOMEM;
    XML_StopParser(w->parser, XML_FALSE);
    return;
  }
  if (w->rc == IMGPCA_OK && w->xLeaf) {
    int rc = w->xLeaf(w->ctx, (const char *)w->path.p, (const char *)w->text.p);
    if (rc) {
      w->rc = rc;
      XML_StopParser(w->parser, XML_FALSE);
      return;
    }
  }
  w->text.n = 0;
  slash = strrchr((char *)w->path.p, '/');
  w->path.n = slash ? (size_t)(slash - (char *)w->path.p) : 0;
  w->path.p[w->path.n] = 0;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len) {
  XmlWalk *w = ud;
  imgpca_buf_append(&w->text, s, (size_t)len);
}

static void *xml_malloc(size_t n) { return imgpca_malloc(n); }
static void *xml_realloc(void *p, size_t n) { return imgpca_realloc(p, n); }
static void xml_free(void *p) { imgpca_free(p); }

static int xml_walk(const char *p, size_t n, void *ctx, void (*xStart)(void *, const char *),
                    int (*xLeaf)(void *, const char *, const char *), char *err) {
  static const XML_Memory_Handling_Suite mem = {xml_malloc, xml_realloc, xml_free};
  XmlWalk w;
  int ok;
  memset(&w, 0, sizeof w);
  w.ctx = ctx;
  w.xLeaf = xLeaf;
  w.xStart = xStart;
  if (n > (size_t)INT32_MAX) return imgpca_seterr(err, "XML response too large");
  /* expat allocates through imgpca_malloc (SQLite's allocator once the
  ** extension is loaded), so out-of-memory tests reach it */
  w.parser = XML_ParserCreate_MM(NULL, &mem, NULL);
  if (!w.parser) return IMGPCA_NOMEM;
  XML_SetUserData(w.parser, &w);
  XML_SetElementHandler(w.parser, on_start, on_end);
  XML_SetCharacterDataHandler(w.parser, on_text);
  ok = XML_Parse(w.parser, p ? p : "", (int)n, XML_TRUE) == XML_STATUS_OK;
  if (!ok && XML_GetErrorCode(w.parser) == XML_ERROR_NO_MEMORY) {
    w.rc = IMGPCA_NOMEM;
  } else if (!ok && w.rc == IMGPCA_OK) {
    w.rc = imgpca_seterr(err, "invalid XML response: %s at line %lu",
                         XML_ErrorString(XML_GetErrorCode(w.parser)),
                         (unsigned long)XML_GetCurrentLineNumber(w.parser));
  } else if (w.rc == IMGPCA_ERROR && err && !*err) {
    imgpca_seterr(err, "unexpected XML response");
  }
  XML_ParserFree(w.parser);
  imgpca_buf_free(&w.path);
  imgpca_buf_free(&w.text);
  return w.rc;
}

static int set_str(char **pz, const char *z) {
  imgpca_free(*pz);
  *pz = imgpca_strdup(z);
  return *pz ? IMGPCA_OK : IMGPCA_NOMEM;
}

/* ---- ListBucketResult ---- */
static void list_start(void *ctx, const char *zPath) {
  S3ListPage *pg = ctx;
  if (strcmp(zPath, "ListBucketResult/Contents") == 0) {
    if (pg->n == pg->nAlloc) {
      int nNew = pg->nAlloc ? pg->nAlloc * 2 : 64;
      S3Object *a = imgpca_realloc(pg->a, (size_t)nNew * sizeof(*a));
      if (!a) {
        pg->nAlloc = -1;
        return;
      }
      pg->a = a;
      pg->nAlloc = nNew;
    }
    memset(&pg->a[pg->n], 0, sizeof(S3Object));
    pg->a[pg->n].nSize = -1;
    pg->n++;
  }
}

static int list_leaf(void *ctx, const char *zPath, const char *zText) {
  S3ListPage *pg = ctx;
  if (pg->nAlloc < 0) return IMGPCA_NOMEM;
  if (strncmp(zPath, "ListBucketResult/Contents/", 26) == 0) {
    S3Object *o;
    const char *f = zPath + 26;
    if (pg->n == 0) return IMGPCA_ERROR;
    o = &pg->a[pg->n - 1];
    if (strcmp(f, "Key") == 0) return set_str(&o->zKey, zText);
    if (strcmp(f, "ETag") == 0) return set_str(&o->zEtag, zText);
    if (strcmp(f, "LastModified") == 0) return set_str(&o->zLastModified, zText);
    if (strcmp(f, "Size") == 0) {
      char *end;
      long long v = strtoll(zText, &end, 10);
      if (end == zText || *end || v < 0) return IMGPCA_ERROR;
      o->nSize = v;
    }
    return IMGPCA_OK;
  }
  if (strcmp(zPath, "ListBucketResult/IsTruncated") == 0) {
    pg->bTruncated = strcmp(zText, "true") == 0;
  } else if (strcmp(zPath, "ListBucketResult/NextContinuationToken") == 0) {
    return set_str(&pg->zNextToken, zText);
  } else if (strcmp(zPath, "ListBucketResult/EncodingType") == 0) {
    return set_str(&pg->zEncoding, zText);
  }
  return IMGPCA_OK;
}

int s3_xml_list(const char *p, size_t n, S3ListPage *out, char *err) {
  int rc, i;
  memset(out, 0, sizeof(*out));
  if (err) *err = 0;
  rc = xml_walk(p, n, out, list_start, list_leaf, err);
  if (rc == IMGPCA_OK && out->nAlloc < 0) rc = IMGPCA_NOMEM;
  for (i = 0; rc == IMGPCA_OK && i < out->n; i++) {
    S3Object *o = &out->a[i];
    if (!o->zKey || o->nSize < 0)
      rc = imgpca_seterr(err, "invalid ListBucketResult: an entry lacks Key or Size");
    else if (out->zEncoding && strcmp(out->zEncoding, "url") == 0 && !imgpca_uri_decode(o->zKey, 1))
      rc = imgpca_seterr(err, "invalid ListBucketResult: bad URL encoding in key '%s'", o->zKey);
  }
  if (rc == IMGPCA_OK && out->bTruncated && !out->zNextToken)
    rc = imgpca_seterr(err, "invalid ListBucketResult: truncated without NextContinuationToken");
  if (rc) {
    if (out->nAlloc < 0) out->nAlloc = 0;
    s3_list_page_free(out);
  }
  return rc;
}

void s3_list_page_free(S3ListPage *pg) {
  int i;
  for (i = 0; i < pg->n; i++) {
    imgpca_free(pg->a[i].zKey);
    imgpca_free(pg->a[i].zEtag);
    imgpca_free(pg->a[i].zLastModified);
  }
  imgpca_free(pg->a);
  imgpca_free(pg->zNextToken);
  imgpca_free(pg->zEncoding);
  memset(pg, 0, sizeof(*pg));
}

/* ---- Error ---- */
static int error_leaf(void *ctx, const char *zPath, const char *zText) {
  S3XmlError *e = ctx;
  if (strcmp(zPath, "Error/Code") == 0) return set_str(&e->zCode, zText);
  if (strcmp(zPath, "Error/Message") == 0) return set_str(&e->zMessage, zText);
  if (strcmp(zPath, "Error/Region") == 0) return set_str(&e->zRegion, zText);
  return IMGPCA_OK;
}

int s3_xml_error(const char *p, size_t n, S3XmlError *out) {
  char err[IMGPCA_ERRMAX];
  int rc;
  memset(out, 0, sizeof(*out));
  if (n == 0) return IMGPCA_OK;
  rc = xml_walk(p, n, out, NULL, error_leaf, err);
  if (rc) s3_xml_error_free(out);
  return rc;
}

void s3_xml_error_free(S3XmlError *e) {
  imgpca_free(e->zCode);
  imgpca_free(e->zMessage);
  imgpca_free(e->zRegion);
  memset(e, 0, sizeof(*e));
}

/* ---- multipart ---- */
typedef struct OneField {
  const char *zPath;
  char *zVal;
  S3XmlError e;
  int bError;
} OneField;

static int one_leaf(void *ctx, const char *zPath, const char *zText) {
  OneField *f = ctx;
  if (strcmp(zPath, f->zPath) == 0) return set_str(&f->zVal, zText);
  if (strncmp(zPath, "Error", 5) == 0) {
    f->bError = 1;
    return error_leaf(&f->e, zPath, zText);
  }
  return IMGPCA_OK;
}

static int one_field(const char *p, size_t n, const char *zPath, const char *zWhat, int bEmptyOk,
                     char **pz, char *err) {
  OneField f;
  int rc;
  memset(&f, 0, sizeof f);
  f.zPath = zPath;
  *pz = NULL;
  if (err) *err = 0;
  rc = xml_walk(p, n, &f, NULL, one_leaf, err);
  if (rc == IMGPCA_OK && f.bError) {
    rc = imgpca_seterr(err, "%s failed: %s: %s", zWhat, f.e.zCode ? f.e.zCode : "error",
                       f.e.zMessage ? f.e.zMessage : "");
  } else if (rc == IMGPCA_OK && (!f.zVal || (!*f.zVal && !bEmptyOk))) {
    rc = imgpca_seterr(err, "%s: response lacks %s", zWhat, strrchr(zPath, '/') + 1);
  }
  s3_xml_error_free(&f.e);
  if (rc)
    imgpca_free(f.zVal);
  else
    *pz = f.zVal;
  return rc;
}

int s3_xml_upload_id(const char *p, size_t n, char **pzId, char *err) {
  return one_field(p, n, "InitiateMultipartUploadResult/UploadId", "initiate multipart upload",
                   0, pzId, err);
}

int s3_xml_complete(const char *p, size_t n, char **pzEtag, char *err) {
  return one_field(p, n, "CompleteMultipartUploadResult/ETag", "complete multipart upload",
                   1, pzEtag, err);
}

int s3_xml_copy_part(const char *p, size_t n, char **pzEtag, char *err) {
  return one_field(p, n, "CopyPartResult/ETag", "upload part copy", 0, pzEtag, err);
}

int s3_xml_escape(ImgpcaBuf *b, const char *z) {
  for (; *z; z++) {
    switch (*z) {
      case '&': imgpca_buf_append(b, "&amp;", 5); break;
      case '<': imgpca_buf_append(b, "&lt;", 4); break;
      case '>': imgpca_buf_append(b, "&gt;", 4); break;
      case '"': imgpca_buf_append(b, "&quot;", 6); break;
      default: imgpca_buf_append(b, z, 1);
    }
  }
  return b->oom ? IMGPCA_NOMEM : IMGPCA_OK;
}
