/*
** AWS Signature Version 4 for S3 (no SQL behaviour of its own): SHA-256,
** HMAC-SHA-256, S3 URI encoding, canonical query strings and the
** Authorization header.  Requests are signed here rather than by libcurl's
** CURLOPT_AWS_SIGV4 so that the exact canonical request is under our control
** and can be unit-tested with a fixed clock against AWS's published examples.
*/
#include "s3.h"

#include <stdio.h>
#include <stdlib.h>

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha_block(uint32_t h[8], const unsigned char *p) {
  uint32_t w[64], a, b, c, d, e, f, g, hh, t1, t2;
  int i;
  for (i = 0; i < 16; i++)
    w[i] = ((uint32_t)p[4 * i] << 24) | ((uint32_t)p[4 * i + 1] << 16) |
        ((uint32_t)p[4 * i + 2] << 8) | (uint32_t)p[4 * i + 3];
  for (i = 16; i < 64; i++) {
    uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  a = h[0];
  b = h[1];
  c = h[2];
  d = h[3];
  e = h[4];
  f = h[5];
  g = h[6];
  hh = h[7];
  for (i = 0; i < 64; i++) {
    t1 = hh + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i];
    t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    hh = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
  h[5] += f;
  h[6] += g;
  h[7] += hh;
}

void s3_sha256_init(S3Sha256 *c) {
  static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  memcpy(c->h, H0, sizeof H0);
  c->nTotal = 0;
  c->nBuf = 0;
}

void s3_sha256_update(S3Sha256 *c, const void *pv, size_t n) {
  const unsigned char *p = pv;
  c->nTotal += n;
  if (c->nBuf) {
    size_t k = 64 - c->nBuf;
    if (k > n) k = n;
    memcpy(c->buf + c->nBuf, p, k);
    c->nBuf += k;
    p += k;
    n -= k;
    if (c->nBuf < 64) return;
    sha_block(c->h, c->buf);
    c->nBuf = 0;
  }
  while (n >= 64) {
    sha_block(c->h, p);
    p += 64;
    n -= 64;
  }
  if (n) {
    memcpy(c->buf, p, n);
    c->nBuf = n;
  }
}

void s3_sha256_final(S3Sha256 *c, unsigned char out[32]) {
  uint64_t bits = c->nTotal * 8;
  unsigned char pad[72];
  size_t npad = (c->nBuf < 56) ? 56 - c->nBuf : 120 - c->nBuf;
  int i;
  memset(pad, 0, sizeof pad);
  pad[0] = 0x80;
  for (i = 0; i < 8; i++) pad[npad + i] = (unsigned char)(bits >> (56 - 8 * i));
  s3_sha256_update(c, pad, npad + 8);
  for (i = 0; i < 8; i++) {
    out[4 * i] = (unsigned char)(c->h[i] >> 24);
    out[4 * i + 1] = (unsigned char)(c->h[i] >> 16);
    out[4 * i + 2] = (unsigned char)(c->h[i] >> 8);
    out[4 * i + 3] = (unsigned char)c->h[i];
  }
}

void s3_sha256(const void *p, size_t n, unsigned char out[32]) {
  S3Sha256 c;
  s3_sha256_init(&c);
  s3_sha256_update(&c, p, n);
  s3_sha256_final(&c, out);
}

void s3_hex(const unsigned char *p, size_t n, char *out) {
  static const char hx[] = "0123456789abcdef";
  size_t i;
  for (i = 0; i < n; i++) {
    out[2 * i] = hx[p[i] >> 4];
    out[2 * i + 1] = hx[p[i] & 15];
  }
  out[2 * n] = 0;
}

void s3_sha256_hex(const void *p, size_t n, char out[65]) {
  unsigned char d[32];
  s3_sha256(p, n, d);
  s3_hex(d, 32, out);
}

void s3_hmac_sha256(const void *key, size_t nKey, const void *msg, size_t nMsg,
                    unsigned char out[32]) {
  unsigned char k[64], ipad[64], opad[64], inner[32];
  S3Sha256 c;
  int i;
  memset(k, 0, sizeof k);
  if (nKey > 64)
    s3_sha256(key, nKey, k);
  else
    memcpy(k, key, nKey);
  for (i = 0; i < 64; i++) {
    ipad[i] = k[i] ^ 0x36;
    opad[i] = k[i] ^ 0x5c;
  }
  s3_sha256_init(&c);
  s3_sha256_update(&c, ipad, 64);
  s3_sha256_update(&c, msg, nMsg);
  s3_sha256_final(&c, inner);
  s3_sha256_init(&c);
  s3_sha256_update(&c, opad, 64);
  s3_sha256_update(&c, inner, 32);
  s3_sha256_final(&c, out);
}


int s3_query_add(S3Query *q, const char *zName, const char *zValue) {
  S3Param *p;
  if (q->n == q->nAlloc) {
    int nNew = q->nAlloc ? q->nAlloc * 2 : 8;
    S3Param *a = imgpca_realloc(q->a, (size_t)nNew * sizeof(*a));
    if (!a) return IMGPCA_NOMEM;
    q->a = a;
    q->nAlloc = nNew;
  }
  p = &q->a[q->n];
  p->zName = imgpca_strdup(zName);
  p->zValue = imgpca_strdup(zValue ? zValue : "");
  if (!p->zName || !p->zValue) {
    imgpca_free(p->zName);
    imgpca_free(p->zValue);
    return IMGPCA_NOMEM;
  }
  q->n++;
  return IMGPCA_OK;
}

void s3_query_free(S3Query *q) {
  int i;
  for (i = 0; i < q->n; i++) {
    imgpca_free(q->a[i].zName);
    imgpca_free(q->a[i].zValue);
  }
  imgpca_free(q->a);
  memset(q, 0, sizeof(*q));
}

static int param_cmp(const void *a, const void *b) {
  const S3Param *x = a, *y = b;
  /* Names and values are compared after encoding; encoding preserves the byte
  ** order of unreserved characters but not of the rest, so encode first. */
  int r = strcmp(x->zName, y->zName);
  return r ? r : strcmp(x->zValue, y->zValue);
}

int s3_query_render(const S3Query *q, ImgpcaBuf *b) {
  S3Param *a;
  ImgpcaBuf t;
  int i, rc = IMGPCA_OK;
  if (q->n == 0) return imgpca_buf_append(b, "", 0);
  a = imgpca_calloc((size_t)q->n, sizeof(*a));
  if (!a) return IMGPCA_NOMEM;
  for (i = 0; i < q->n && rc == IMGPCA_OK; i++) {
    imgpca_buf_init(&t);
    imgpca_uri_encode(&t, q->a[i].zName, strlen(q->a[i].zName), 0);
    imgpca_buf_append(&t, "", 1);
    a[i].zName = (char *)imgpca_buf_detach(&t, NULL);
    imgpca_uri_encode(&t, q->a[i].zValue, strlen(q->a[i].zValue), 0);
    imgpca_buf_append(&t, "", 1);
    a[i].zValue = (char *)imgpca_buf_detach(&t, NULL);
    if (!a[i].zName || !a[i].zValue) rc = IMGPCA_NOMEM;
  }
  if (rc == IMGPCA_OK) {
    qsort(a, (size_t)q->n, sizeof(*a), param_cmp);
    for (i = 0; i < q->n; i++) {
      if (i) imgpca_buf_append(b, "&", 1);
      imgpca_buf_printf(b, "%s=%s", a[i].zName, a[i].zValue);
    }
    if (b->oom) rc = IMGPCA_NOMEM;
  }
  for (i = 0; i < q->n; i++) {
    imgpca_free(a[i].zName);
    imgpca_free(a[i].zValue);
  }
  imgpca_free(a);
  return rc;
}

void s3_amz_date(time_t t, char out[17]) {
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

static int hdr_cmp(const void *a, const void *b) {
  return strcmp(((const S3Header *)a)->zName, ((const S3Header *)b)->zName);
}

int s3_sigv4_sign(const S3SignInput *in, char **pzAuth, ImgpcaBuf *pCanon, ImgpcaBuf *pToSign) {
  ImgpcaBuf canon, sts, signedHdrs;
  S3Header *aH;
  char date[9], hash[65], sig[65];
  unsigned char k1[32], k2[32], k3[32], k4[32], ks[32];
  char *zKey;
  int i, rc = IMGPCA_OK;

  *pzAuth = NULL;
  if (!in->zAmzDate || strlen(in->zAmzDate) != 16) return IMGPCA_ERROR;
  memcpy(date, in->zAmzDate, 8);
  date[8] = 0;
  aH = imgpca_calloc((size_t)(in->nHdr ? in->nHdr : 1), sizeof(*aH));
  if (!aH) return IMGPCA_NOMEM;
  memcpy(aH, in->aHdr, (size_t)in->nHdr * sizeof(*aH));
  qsort(aH, (size_t)in->nHdr, sizeof(*aH), hdr_cmp);

  imgpca_buf_init(&canon);
  imgpca_buf_init(&sts);
  imgpca_buf_init(&signedHdrs);
  imgpca_buf_printf(&canon, "%s\n%s\n%s\n", in->zMethod, in->zPath, in->zQuery ? in->zQuery : "");
  for (i = 0; i < in->nHdr; i++) {
    imgpca_buf_printf(&canon, "%s:%s\n", aH[i].zName, aH[i].zValue);
    imgpca_buf_printf(&signedHdrs, "%s%s", i ? ";" : "", aH[i].zName);
  }
  imgpca_buf_append(&signedHdrs, "", 1);
  imgpca_buf_printf(&canon, "\n%s\n%s", signedHdrs.p ? (char *)signedHdrs.p : "", in->zPayloadHash);
  if (canon.oom || signedHdrs.oom) {
    rc = IMGPCA_NOMEM;
    goto done;
  }
  s3_sha256_hex(canon.p, canon.n, hash);
  imgpca_buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", in->zAmzDate, date,
                    in->zRegion, in->zService, hash);
  if (sts.oom) {
    rc = IMGPCA_NOMEM;
    goto done;
  }

  zKey = imgpca_mprintf("AWS4%s", in->zSecretKey);
  if (!zKey) {
    rc = IMGPCA_NOMEM;
    goto done;
  }
  s3_hmac_sha256(zKey, strlen(zKey), date, 8, k1);
  memset(zKey, 0, strlen(zKey));
  imgpca_free(zKey);
  s3_hmac_sha256(k1, 32, in->zRegion, strlen(in->zRegion), k2);
  s3_hmac_sha256(k2, 32, in->zService, strlen(in->zService), k3);
  s3_hmac_sha256(k3, 32, "aws4_request", 12, k4);
  s3_hmac_sha256(k4, 32, sts.p, sts.n, ks);
  s3_hex(ks, 32, sig);
  *pzAuth = imgpca_mprintf(
      "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request,SignedHeaders=%s,"
      "Signature=%s",
      in->zAccessKey, date, in->zRegion, in->zService,
      (char *)signedHdrs.p, sig);
  if (!*pzAuth) rc = IMGPCA_NOMEM;
  if (pCanon) imgpca_buf_append(pCanon, canon.p, canon.n);
  if (pToSign) imgpca_buf_append(pToSign, sts.p, sts.n);
done:
  imgpca_buf_free(&canon);
  imgpca_buf_free(&sts);
  imgpca_buf_free(&signedHdrs);
  imgpca_free(aH);
  return rc;
}
