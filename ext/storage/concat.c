/*
** Concatenation of object ranges into one new object in constant memory (no
** SQL behaviour of its own; behind s3_concat, see ext/storage/concat_sql.c).
**
** Local destination: every range is read in 8 MiB pieces and streamed into the
** atomic local writer (temporary file renamed at the end).
** S3 destination: one multipart upload, begun when the first part is sent.
** A range of an s3:// object that is at least 5 MiB long while no streamed data
** is pending is copied by the server (UploadPartCopy with
** x-amz-copy-source-range, at most 5 GiB per part); everything else is read and
** gathered into a 5 MiB buffer sent as a normal part whenever it is full, so
** small ranges (under the 5 MiB minimum part size of S3) are merged with their
** neighbours.  The last part may be shorter.  A result that never needed a part
** (under 5 MiB, nothing copied) is sent as one PUT.  Any failure aborts the
** upload, so neither a partial object nor an orphan multipart upload remains.
**
** A server-side copy never copies another object: each copy carries
** x-amz-copy-source-if-match with the ETag the HEAD measured, so a source that
** changed, or a key the server resolves to another object, is refused (412)
** and reported naming the source.  Keys holding '%' are streamed instead of
** copied: Ceph RGW decodes x-amz-copy-source twice, so 'c%20d.bin' copied
** 'c d.bin' (and 'a%2Fb' failed with a 404).
*/
#include "storage_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "../s3/s3.h"

#define CONCAT_MIN_PART ((int64_t)5 << 20)   /* S3 minimum size of a part but the last */
#define CONCAT_MAX_COPY ((int64_t)5 << 30)   /* S3 maximum size of one copied part */
#define CONCAT_READ_CHUNK ((int64_t)8 << 20) /* streamed reads into a local file */
#define CONCAT_MAX_PARTS 10000

typedef struct Concat {
  ImgpcaStorage *s;
  S3Client *c; /* S3 destination */
  ImgpcaUrl dest;
  LocalWriter *local; /* local destination */
  ImgpcaBuf buf;      /* S3: streamed data not yet sent */
  char *zUploadId;
  char **azEtag;
  int nEtag, nEtagAlloc;
  ImgpcaConcatStats st;
} Concat;

/* Size of the object behind a URL (local: stat; S3: HEAD, and its ETag in
** *pzEtag, NULL if none). */
static int object_size(Concat *x, const char *zUrl, int64_t *pSize, char **pzEtag, char *err) {
  ImgpcaUrl u;
  int rc = imgpca_url_parse(zUrl, &u, err);
  if (rc) return rc;
  if (u.eScheme == IMGPCA_URL_LOCAL) {
    struct stat st;
    if (stat(u.zKey, &st) != 0) {
      rc = imgpca_seterr(err, "part '%s': %s", zUrl,
                         errno == ENOENT || errno == ENOTDIR ? "no such file" : strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
      rc = imgpca_seterr(err, "part '%s' is not a regular file", zUrl);
    } else {
      *pSize = (int64_t)st.st_size;
    }
  } else if (!*u.zKey) {
    rc = imgpca_seterr(err, "invalid URL '%s': missing object key", zUrl);
  } else {
    S3Client *c;
    int nf = 0;
    rc = imgpca_storage_s3(x->s, &c, err);
    if (rc == IMGPCA_OK) rc = s3_head_etag(c, u.zBucket, u.zKey, pSize, pzEtag, &nf, err);
    if (rc && nf) rc = imgpca_seterr(err, "part '%s' does not exist", zUrl);
  }
  imgpca_url_free(&u);
  return rc;
}

static int add_etag(Concat *x, char *zEtag, char *err) {
  if (x->nEtag == x->nEtagAlloc) {
    int nNew = x->nEtagAlloc ? x->nEtagAlloc * 2 : 16;
    char **a = imgpca_realloc(x->azEtag, (size_t)nNew * sizeof(char *));
    if (!a) {
      imgpca_free(zEtag);
      return IMGPCA_NOMEM;
    }
    x->azEtag = a;
    x->nEtagAlloc = nNew;
  }
  x->azEtag[x->nEtag++] = zEtag;
  (void)err;
  return IMGPCA_OK;
}

static int begin_part(Concat *x, char *err) {
  if (x->nEtag >= CONCAT_MAX_PARTS)
    return imgpca_seterr(err, "'s3://%s/%s' would need more than %d parts", x->dest.zBucket,
                         x->dest.zKey, CONCAT_MAX_PARTS);
  if (!x->zUploadId) return s3_mpu_begin(x->c, x->dest.zBucket, x->dest.zKey, &x->zUploadId, err);
  return IMGPCA_OK;
}

/* Sends the pending streamed data as the next part. */
static int flush_buf(Concat *x, char *err) {
  char *zEtag = NULL;
  int rc;
  if (x->buf.n == 0) return IMGPCA_OK;
  rc = begin_part(x, err);
  if (rc == IMGPCA_OK)
    rc = s3_mpu_part(x->c, x->dest.zBucket, x->dest.zKey, x->zUploadId, x->nEtag + 1, x->buf.p,
                     x->buf.n, &zEtag, err);
  if (rc == IMGPCA_OK) rc = add_etag(x, zEtag, err);
  x->buf.n = 0;
  return rc;
}

/* Reads [off, off+n) of zUrl and hands it to the destination. */
static int stream_range(Concat *x, const char *zUrl, int64_t off, int64_t n, char *err) {
  while (n > 0) {
    ImgpcaBuf b;
    int64_t take;
    int nf = 0, rc;
    if (x->local)
      take = n < CONCAT_READ_CHUNK ? n : CONCAT_READ_CHUNK;
    else
      take = n < CONCAT_MIN_PART - (int64_t)x->buf.n ? n : CONCAT_MIN_PART - (int64_t)x->buf.n;
    rc = imgpca_storage_get(x->s, zUrl, off, take, -1, &b, &nf, err);
    if (rc == IMGPCA_OK && (int64_t)b.n != take)
      rc = imgpca_seterr(err, "part '%s' changed while it was read (got %lld bytes at offset %lld, expected %lld)",
                         zUrl, (long long)b.n, (long long)off, (long long)take);
    if (rc == IMGPCA_OK) {
      if (x->local)
        rc = local_writer_write(x->local, b.p, b.n, err);
      else if (imgpca_buf_append(&x->buf, b.p, b.n))
        rc = IMGPCA_NOMEM;
    }
    imgpca_buf_free(&b);
    if (rc) return rc;
    x->st.nStreamed += take;
    off += take;
    n -= take;
    if (!x->local && (int64_t)x->buf.n >= CONCAT_MIN_PART) {
      rc = flush_buf(x, err);
      if (rc) return rc;
    }
  }
  return IMGPCA_OK;
}

/* S3 destination, s3:// part: server-side copies while the range is long enough. */
static int copy_range(Concat *x, const ImgpcaUrl *src, const char *zUrl, const char *zEtag0, int64_t off,
                      int64_t n, char *err) {
  if (strchr(src->zKey, '%')) return stream_range(x, zUrl, off, n, err); /* see the top of the file */
  while (n > 0) {
    int64_t take;
    char *zEtag = NULL;
    int rc;
    if (x->buf.n > 0 || n < CONCAT_MIN_PART) return stream_range(x, zUrl, off, n, err);
    take = n;
    if (take > CONCAT_MAX_COPY) {
      /* keep the rest copyable: never leave a tail under the minimum part size */
      take = n - CONCAT_MAX_COPY < CONCAT_MIN_PART ? n / 2 : CONCAT_MAX_COPY;
    }
    rc = begin_part(x, err);
    if (rc == IMGPCA_OK)
      rc = s3_mpu_copy_part(x->c, x->dest.zBucket, x->dest.zKey, x->zUploadId, x->nEtag + 1,
                            src->zBucket, src->zKey, zEtag0, off, take, &zEtag, err);
    if (rc == IMGPCA_OK) rc = add_etag(x, zEtag, err);
    if (rc) return rc;
    x->st.nCopied += take;
    off += take;
    n -= take;
  }
  return IMGPCA_OK;
}

static int part_range(Concat *x, const ImgpcaConcatPart *p, int64_t size, const char *zEtag, char *err);

static int one_part(Concat *x, int i, const ImgpcaConcatPart *p, char *err) {
  int64_t size = 0;
  char *zEtag = NULL;
  int rc;
  if (!p->zUrl) return imgpca_seterr(err, "part %d has no URL", i);
  if (p->offset < 0) return imgpca_seterr(err, "part %d ('%s'): offset %lld is negative", i, p->zUrl, (long long)p->offset);
  rc = object_size(x, p->zUrl, &size, &zEtag, err);
  if (rc == IMGPCA_OK) rc = part_range(x, p, size, zEtag, err);
  imgpca_free(zEtag);
  return rc;
}

static int part_range(Concat *x, const ImgpcaConcatPart *p, int64_t size, const char *zEtag, char *err) {
  int64_t off = p->offset, n;
  ImgpcaUrl u;
  int rc;
  if (p->nExpectSize >= 0 && size != p->nExpectSize)
    return imgpca_seterr(err, "part '%s' has %lld bytes, expected %lld", p->zUrl, (long long)size,
                         (long long)p->nExpectSize);
  if (off > size)
    return imgpca_seterr(err, "part '%s': offset %lld is beyond its end (%lld bytes)", p->zUrl,
                         (long long)off, (long long)size);
  n = size - off;
  if (p->length >= 0) {
    if (p->length > n)
      return imgpca_seterr(err, "part '%s': range of %lld bytes at offset %lld goes beyond its end (%lld bytes)",
                           p->zUrl, (long long)p->length, (long long)off, (long long)size);
    n = p->length;
  }
  x->st.nBytes += n;
  if (n == 0) return IMGPCA_OK;
  if (x->local) return stream_range(x, p->zUrl, off, n, err);
  rc = imgpca_url_parse(p->zUrl, &u, err);
  if (rc) return rc;
  if (u.eScheme == IMGPCA_URL_S3)
    rc = copy_range(x, &u, p->zUrl, zEtag, off, n, err);
  else
    rc = stream_range(x, p->zUrl, off, n, err);
  imgpca_url_free(&u);
  return rc;
}

static void concat_clear(Concat *x) {
  int i;
  for (i = 0; i < x->nEtag; i++) imgpca_free(x->azEtag[i]);
  imgpca_free(x->azEtag);
  imgpca_free(x->zUploadId);
  imgpca_buf_free(&x->buf);
  imgpca_url_free(&x->dest);
}

int imgpca_storage_concat(ImgpcaStorage *s, const char *zDest, const ImgpcaConcatPart *aPart,
                          int nPart, ImgpcaConcatStats *pStats, char *err) {
  Concat x;
  int rc, i;
  memset(&x, 0, sizeof x);
  if (pStats) memset(pStats, 0, sizeof(*pStats));
  x.s = s;
  imgpca_buf_init(&x.buf);
  rc = imgpca_url_parse(zDest, &x.dest, err);
  if (rc) return rc;
  if (x.dest.eScheme == IMGPCA_URL_LOCAL) {
    rc = local_writer_open(x.dest.zKey, &x.local, err);
  } else if (!*x.dest.zKey || x.dest.zKey[strlen(x.dest.zKey) - 1] == '/') {
    rc = imgpca_seterr(err, "invalid URL '%s': missing object key", zDest);
  } else {
    rc = imgpca_storage_s3(s, &x.c, err);
    if (rc == IMGPCA_OK && imgpca_buf_reserve(&x.buf, (size_t)CONCAT_MIN_PART)) rc = IMGPCA_NOMEM;
  }
  for (i = 0; rc == IMGPCA_OK && i < nPart; i++) rc = one_part(&x, i, &aPart[i], err);
  if (x.local) {
    if (rc == IMGPCA_OK)
      rc = local_writer_commit(x.local, NULL, err);
    else
      local_writer_abort(x.local);
    x.local = NULL;
  } else if (rc == IMGPCA_OK && !x.zUploadId) {
    /* small result, nothing copied: one PUT */
    rc = s3_put(x.c, x.dest.zBucket, x.dest.zKey, x.buf.p ? (const void *)x.buf.p : "", x.buf.n, NULL, err);
  } else if (rc == IMGPCA_OK) {
    rc = flush_buf(&x, err);
    x.st.nPart = x.nEtag;
    if (rc == IMGPCA_OK)
      rc = s3_mpu_complete(x.c, x.dest.zBucket, x.dest.zKey, x.zUploadId, x.azEtag, x.nEtag, NULL, err);
  }
  if (rc && x.zUploadId && x.c) s3_mpu_abort(x.c, x.dest.zBucket, x.dest.zKey, x.zUploadId);
  if (rc == IMGPCA_OK && pStats) *pStats = x.st;
  concat_clear(&x);
  return rc;
}
