/*
** Model and partial-state BLOB formats (no SQL behaviour of its own; these
** are the values pca_fit, pca_partial and pca_merge return and every other
** pca_* function reads).  All integers and floats are little-endian; the
** layout is documented in docs/PCA.md.
**
** Model (version 1):
**   0  "IPCA-MDL"        8  u32 version=1   12 u32 header bytes=96
**   16 u32 flags (bit0 standardized, bit1 streaming, bit2 randomized)
**   20 u32 requested solver (0 auto, 1 exact, 2 streaming, 3 randomized)
**   24 u64 d   32 u64 k   40 u64 n   48 f64 total variance  56 f64 error bound
**   64 u64 sketch   72 i64 memory_mb   80 i64 seed   88 f64 k fraction (or 0)
**   96 f64 mean[d], f64 scale[d], f64 std[d], f64 eigenvalue[k],
**      f64 component[k][d]
**   end-8: u64 checksum of all preceding bytes
** State (version 1):
**   0  "IPCA-STA"        8  u32 version=1   12 u32 header bytes=96
**   16 u32 flags (bit0 standardize given, bit1 standardize, bit2 streaming)
**   20 u32 requested solver   24 u64 d   32 u64 n   40 u64 sketch l (0 exact)
**   48 u64 sketch rows r   56 f64 shrink Delta   64 i64 memory_mb   72 i64 seed
**   80 16 zero bytes
**   96 f64 mean[d], f64 m2diag[d], then exact: f64 upper triangle of M2
**      row by row (d(d+1)/2); streaming: f64 sketch[r][d]
**   end-8: u64 checksum
** The loaders check every field, size and value before the checksum, and
** never read outside the blob.
*/
#include "pca.h"

#include <cblas.h>

#include "../common/lazy_blas.h"
#include <math.h>

/* 64-bit checksum: eight lanes of multiply-rotate rounds over 8-byte
** little-endian words (acc = rotl(acc + w*P2, 31) * P1; lane l starts at
** P1*(l+1) + P2 and takes words 8j+l), lanes folded in order, then tail
** bytes, the length and a final avalanche.  Every
** input bit reaches every output bit (plain FNV on words would let two
** flips of the top bit in one lane cancel). */
static uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

uint64_t pca_checksum(const unsigned char *p, size_t n) {
  const uint64_t P1 = 0x9E3779B185EBCA87ULL, P2 = 0xC2B2AE3D27D4EB4FULL, P3 = 0x165667B19E3779F9ULL;
  uint64_t a[8], h = 0;
  size_t i = 0, l;
  for (l = 0; l < 8; l++) a[l] = P1 * (l + 1) + P2;
  for (; i + 64 <= n; i += 64)
    for (l = 0; l < 8; l++) a[l] = rotl64(a[l] + imgpca_get_u64(p + i + 8 * l) * P2, 31) * P1;
  for (l = 0; l < 8; l++) h = (h ^ (rotl64(a[l] * P2, 31) * P1)) * P1 + P3 + rotl64(a[l], (int)(1 + 7 * l));
  for (; i < n; i++) h = rotl64(h ^ ((uint64_t)p[i] * P3), 11) * P1;
  h ^= (uint64_t)n;
  h ^= h >> 33;
  h *= P2;
  h ^= h >> 29;
  h *= P3;
  h ^= h >> 32;
  return h;
}

int pca_blob_is_model(const void *p, size_t n) {
  return p && n >= 8 && memcmp(p, PCA_MODEL_MAGIC, 8) == 0;
}
int pca_blob_is_state(const void *p, size_t n) {
  return p && n >= 8 && memcmp(p, PCA_STATE_MAGIC, 8) == 0;
}

/* total = 96 + 8*(a + b*c) + 8, overflow-checked. */
static int blob_size(size_t a, size_t b, size_t c, size_t *out) {
  size_t bc, t;
  if (!imgpca_mul_ok(b, c, &bc) || bc > SIZE_MAX - a) return 0;
  t = a + bc;
  if (!imgpca_mul_ok(t, 8, &t) || t > SIZE_MAX - PCA_HEADER_BYTES - 8) return 0;
  *out = t + PCA_HEADER_BYTES + 8;
  return 1;
}

static void put_arr(unsigned char *p, const double *v, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) imgpca_put_f64(p + 8 * i, v[i]);
}
static int host_is_le(void) {
  const uint16_t one = 1;
  unsigned char b;
  memcpy(&b, &one, 1);
  return b == 1;
}

static void get_arr(const unsigned char *p, double *v, size_t n) {
  size_t i;
  if (host_is_le() && sizeof(double) == 8) {
    memcpy(v, p, n * 8);
    return;
  }
  for (i = 0; i < n; i++) v[i] = imgpca_get_f64(p + 8 * i);
}

/* Validation of decoded arrays. */
static int bad_values(const double *v, size_t n, int nonneg, int positive, size_t *pAt) {
  size_t i;
  for (i = 0; i < n; i++) {
    if (!isfinite(v[i]) || (nonneg && v[i] < 0) || (positive && !(v[i] > 0))) {
      *pAt = i;
      return 1;
    }
  }
  return 0;
}

int pca_model_save(const PcaModel *m, unsigned char **pOut, size_t *pn, char *err) {
  size_t total, off = PCA_HEADER_BYTES;
  unsigned char *p;
  *pOut = NULL;
  if (!blob_size(3 * m->d + m->k, m->k, m->d, &total))
    return imgpca_seterr(err, "model too large (d=%zu, k=%zu)", m->d, m->k);
  p = imgpca_malloc(total);
  if (!p) return IMGPCA_NOMEM;
  memset(p, 0, PCA_HEADER_BYTES);
  memcpy(p, PCA_MODEL_MAGIC, 8);
  imgpca_put_u32(p + 8, PCA_FORMAT_VERSION);
  imgpca_put_u32(p + 12, PCA_HEADER_BYTES);
  imgpca_put_u32(p + 16, (m->standardize ? 1u : 0u) | (m->streaming ? 2u : 0u) | (m->randomized ? 4u : 0u));
  imgpca_put_u32(p + 20, (uint32_t)m->solverReq);
  imgpca_put_u64(p + 24, m->d);
  imgpca_put_u64(p + 32, m->k);
  imgpca_put_u64(p + 40, m->n);
  imgpca_put_f64(p + 48, m->total_var);
  imgpca_put_f64(p + 56, m->err_bound);
  imgpca_put_u64(p + 64, m->sketch);
  imgpca_put_u64(p + 72, (uint64_t)m->memory_mb);
  imgpca_put_u64(p + 80, (uint64_t)m->seed);
  imgpca_put_f64(p + 88, m->fraction);
  put_arr(p + off, m->mean, m->d);
  off += 8 * m->d;
  put_arr(p + off, m->scale, m->d);
  off += 8 * m->d;
  put_arr(p + off, m->std, m->d);
  off += 8 * m->d;
  put_arr(p + off, m->eig, m->k);
  off += 8 * m->k;
  put_arr(p + off, m->comp, m->k * m->d);
  off += 8 * m->k * m->d;
  imgpca_put_u64(p + off, pca_checksum(p, off));
  *pOut = p;
  *pn = total;
  return IMGPCA_OK;
}

/* Common header checks; returns the version-1 header fields. */
static int check_header(const unsigned char *p, size_t n, const char *zMagic, const char *zWhat,
                        char *err) {
  uint32_t ver;
  if (!p || n < 8 || memcmp(p, zMagic, 8) != 0) return imgpca_seterr(err, "not a pca %s blob (bad magic)", zWhat);
  if (n < 16) return imgpca_seterr(err, "%s blob is truncated: %zu bytes", zWhat, n);
  ver = imgpca_get_u32(p + 8);
  if (ver != PCA_FORMAT_VERSION)
    return imgpca_seterr(err, "unsupported %s format version %u (this build reads version %d)", zWhat, ver,
                         PCA_FORMAT_VERSION);
  if (imgpca_get_u32(p + 12) != PCA_HEADER_BYTES)
    return imgpca_seterr(err, "corrupt %s blob: header size %u", zWhat, imgpca_get_u32(p + 12));
  if (n < PCA_HEADER_BYTES + 8) return imgpca_seterr(err, "%s blob is truncated: %zu bytes", zWhat, n);
  return IMGPCA_OK;
}

static int check_finite(const unsigned char *p, size_t cnt, int nonneg, int positive, const char *zWhat,
                        const char *zArr, char *err) {
  size_t i;
  for (i = 0; i < cnt; i++) {
    double v = imgpca_get_f64(p + 8 * i);
    if (!isfinite(v) || (nonneg && v < 0) || (positive && !(v > 0)))
      return imgpca_seterr(err, "corrupt %s blob: invalid %s[%zu]", zWhat, zArr, i);
  }
  return IMGPCA_OK;
}

/* The arrays of a model read from a blob: finite values, scales > 0,
** standard deviations and eigenvalues >= 0, eigenvalues in descending order,
** unit-length components. */
static int model_check_values(const PcaModel *m, size_t d, size_t k, char *err) {
  const char *zBad = NULL;
  size_t i;
  if (bad_values(m->mean, d, 0, 0, &i))
    zBad = "mean";
  else if (bad_values(m->scale, d, 0, 1, &i))
    zBad = "scale";
  else if (bad_values(m->std, d, 1, 0, &i))
    zBad = "std";
  else if (bad_values(m->eig, k, 1, 0, &i))
    zBad = "eigenvalue";
  if (zBad) return imgpca_seterr(err, "corrupt model blob: invalid %s[%zu]", zBad, i);
  for (i = 1; i < k; i++)
    if (m->eig[i] > m->eig[i - 1])
      return imgpca_seterr(err, "corrupt model blob: eigenvalues not in descending order");
  for (i = 0; i < k; i++) {
    double nrm = cblas_ddot((blasint)d, m->comp + i * d, 1, m->comp + i * d, 1);
    if (!(fabs(nrm - 1) <= 1e-6)) /* also catches NaN/Inf entries */
      return imgpca_seterr(err, "corrupt model blob: component %zu is not finite or not unit length", i);
  }
  return IMGPCA_OK;
}

int pca_model_load(const void *pv, size_t n, PcaModel *m, char *err) {
  const unsigned char *p = pv;
  uint32_t flags, solver;
  uint64_t d64, k64, n64;
  size_t d, k, total, off;
  double tv, eb, fr;
  long long mem;
  memset(m, 0, sizeof(*m));
  if (imgpca_blas_load(err)) return IMGPCA_ERROR;
  if (check_header(p, n, PCA_MODEL_MAGIC, "model", err)) return IMGPCA_ERROR;
  flags = imgpca_get_u32(p + 16);
  solver = imgpca_get_u32(p + 20);
  d64 = imgpca_get_u64(p + 24);
  k64 = imgpca_get_u64(p + 32);
  n64 = imgpca_get_u64(p + 40);
  tv = imgpca_get_f64(p + 48);
  eb = imgpca_get_f64(p + 56);
  mem = (long long)imgpca_get_u64(p + 72);
  fr = imgpca_get_f64(p + 88);
  if ((flags & ~7u) || (flags & 6u) == 6u) return imgpca_seterr(err, "corrupt model blob: unknown flags 0x%x", flags);
  if (solver > 3) return imgpca_seterr(err, "corrupt model blob: unknown solver %u", solver);
  if (d64 < 1 || d64 > PCA_MAX_DIMS) return imgpca_seterr(err, "corrupt model blob: d=%llu", (unsigned long long)d64);
  if (k64 < 1 || k64 > d64) return imgpca_seterr(err, "corrupt model blob: k=%llu", (unsigned long long)k64);
  if (n64 < 2 || k64 > n64 - 1) return imgpca_seterr(err, "corrupt model blob: n=%llu", (unsigned long long)n64);
  if (!isfinite(tv) || tv < 0) return imgpca_seterr(err, "corrupt model blob: total variance");
  if (!isfinite(eb) || eb < 0 || (!(flags & 2) && eb != 0))
    return imgpca_seterr(err, "corrupt model blob: error bound");
  if ((flags & 2) ? (imgpca_get_u64(p + 64) < 2 || imgpca_get_u64(p + 64) > PCA_MAX_SKETCH)
                  : imgpca_get_u64(p + 64) != 0)
    return imgpca_seterr(err, "corrupt model blob: sketch size");
  if (mem < 1) return imgpca_seterr(err, "corrupt model blob: memory_mb");
  if (!(fr == 0 || (fr > 0 && fr < 1))) return imgpca_seterr(err, "corrupt model blob: k fraction");
  d = (size_t)d64;
  k = (size_t)k64;
  if (!blob_size(3 * d + k, k, d, &total))
    return imgpca_seterr(err, "corrupt model blob: d=%zu, k=%zu", d, k);
  if (n < total) return imgpca_seterr(err, "model blob is truncated: %zu bytes, expected %zu", n, total);
  if (n > total) return imgpca_seterr(err, "corrupt model blob: %zu bytes, expected %zu", n, total);
  m->mean = imgpca_malloc(d * sizeof(double));
  m->scale = imgpca_malloc(d * sizeof(double));
  m->std = imgpca_malloc(d * sizeof(double));
  m->eig = imgpca_malloc(k * sizeof(double));
  m->comp = imgpca_malloc(k * d * sizeof(double));
  if (!m->mean || !m->scale || !m->std || !m->eig || !m->comp) {
    pca_model_free(m);
    return IMGPCA_NOMEM;
  }
  off = PCA_HEADER_BYTES;
  get_arr(p + off, m->mean, d);
  get_arr(p + off + 8 * d, m->scale, d);
  get_arr(p + off + 16 * d, m->std, d);
  get_arr(p + off + 24 * d, m->eig, k);
  get_arr(p + off + 24 * d + 8 * k, m->comp, k * d);
  off += 24 * d + 8 * k + 8 * k * d;
  if (model_check_values(m, d, k, err)) {
    pca_model_free(m);
    return IMGPCA_ERROR;
  }
  if (imgpca_get_u64(p + off) != pca_checksum(p, off)) {
    pca_model_free(m);
    return imgpca_seterr(err, "corrupt model blob: checksum mismatch");
  }
  m->version = PCA_FORMAT_VERSION;
  m->standardize = (flags & 1) != 0;
  m->streaming = (flags & 2) != 0;
  m->randomized = (flags & 4) != 0;
  m->solverReq = (int)solver;
  m->d = d;
  m->k = k;
  m->n = n64;
  m->total_var = tv;
  m->err_bound = eb;
  m->sketch = imgpca_get_u64(p + 64);
  m->memory_mb = mem;
  m->seed = (long long)imgpca_get_u64(p + 80);
  m->fraction = fr;
  return IMGPCA_OK;
}

int pca_state_save(PcaState *s, unsigned char **pOut, size_t *pn, char *err) {
  size_t d = s->d, total, off = PCA_HEADER_BYTES, i, tri, rows;
  unsigned char *p;
  uint32_t flags;
  *pOut = NULL;
  if (s->kind == PCA_KIND_RAND)
    return imgpca_seterr(err,
                         "the randomized solver fits in one process and has no partial states "
                         "(use solver 'exact' or 'streaming' with pca_partial/pca_merge)");
  {
    int frc = pca_state_flush(s, err);
    if (frc) return frc;
  }
  if (s->kind == PCA_KIND_EXACT) {
    if (!imgpca_mul_ok(d, d + 1, &tri)) return imgpca_seterr(err, "state too large (d=%zu)", d);
    tri /= 2;
    rows = 0;
    if (!blob_size(2 * d + tri, 0, 0, &total)) return imgpca_seterr(err, "state too large (d=%zu)", d);
  } else {
    rows = s->skRows;
    if (!blob_size(2 * d, rows, d, &total)) return imgpca_seterr(err, "state too large (d=%zu)", d);
  }
  p = imgpca_malloc(total);
  if (!p) return IMGPCA_NOMEM;
  memset(p, 0, PCA_HEADER_BYTES);
  memcpy(p, PCA_STATE_MAGIC, 8);
  flags = (s->standardize >= 0 ? 1u : 0u) | (s->standardize > 0 ? 2u : 0u) |
      (s->kind == PCA_KIND_STREAM ? 4u : 0u);
  imgpca_put_u32(p + 8, PCA_FORMAT_VERSION);
  imgpca_put_u32(p + 12, PCA_HEADER_BYTES);
  imgpca_put_u32(p + 16, flags);
  imgpca_put_u32(p + 20, (uint32_t)s->solverReq);
  imgpca_put_u64(p + 24, d);
  imgpca_put_u64(p + 32, s->n);
  imgpca_put_u64(p + 40, s->kind == PCA_KIND_STREAM ? s->ell : 0);
  imgpca_put_u64(p + 48, rows);
  imgpca_put_f64(p + 56, s->shrink);
  imgpca_put_u64(p + 64, (uint64_t)s->memory_mb);
  imgpca_put_u64(p + 72, (uint64_t)s->seed);
  put_arr(p + off, s->mean, d);
  off += 8 * d;
  put_arr(p + off, s->m2diag, d);
  off += 8 * d;
  if (s->kind == PCA_KIND_EXACT) {
    for (i = 0; i < d; i++) {
      put_arr(p + off, s->m2 + i * d + i, d - i);
      off += 8 * (d - i);
    }
  } else {
    put_arr(p + off, s->sk, rows * d);
    off += 8 * rows * d;
  }
  imgpca_put_u64(p + off, pca_checksum(p, off));
  *pOut = p;
  *pn = total;
  return IMGPCA_OK;
}

int pca_state_load(const void *pv, size_t n, long long budget_mb, PcaState *s, char *err) {
  const unsigned char *p = pv;
  uint32_t flags, solver;
  uint64_t d64, n64, ell64, rows64;
  size_t d, total, off, i, tri = 0, rows = 0;
  double shrink;
  long long mem;
  int kind;
  memset(s, 0, sizeof(*s));
  if (check_header(p, n, PCA_STATE_MAGIC, "state", err)) return IMGPCA_ERROR;
  flags = imgpca_get_u32(p + 16);
  solver = imgpca_get_u32(p + 20);
  d64 = imgpca_get_u64(p + 24);
  n64 = imgpca_get_u64(p + 32);
  ell64 = imgpca_get_u64(p + 40);
  rows64 = imgpca_get_u64(p + 48);
  shrink = imgpca_get_f64(p + 56);
  mem = (long long)imgpca_get_u64(p + 64);
  if (flags & ~7u) return imgpca_seterr(err, "corrupt state blob: unknown flags 0x%x", flags);
  if ((flags & 2) && !(flags & 1)) return imgpca_seterr(err, "corrupt state blob: flags 0x%x", flags);
  if (solver > 3) return imgpca_seterr(err, "corrupt state blob: unknown solver %u", solver);
  if (d64 < 1 || d64 > PCA_MAX_DIMS) return imgpca_seterr(err, "corrupt state blob: d=%llu", (unsigned long long)d64);
  if (n64 < 1 || n64 > (1ULL << 53)) return imgpca_seterr(err, "corrupt state blob: n=%llu", (unsigned long long)n64);
  if (mem < 1) return imgpca_seterr(err, "corrupt state blob: memory_mb");
  if (!isfinite(shrink) || shrink < 0) return imgpca_seterr(err, "corrupt state blob: shrink");
  for (i = 80; i < 96; i++)
    if (p[i]) return imgpca_seterr(err, "corrupt state blob: reserved bytes");
  d = (size_t)d64;
  kind = (flags & 4) ? PCA_KIND_STREAM : PCA_KIND_EXACT;
  if (kind == PCA_KIND_STREAM) {
    if (ell64 < 2 || ell64 > PCA_MAX_SKETCH || rows64 > 2 * ell64)
      return imgpca_seterr(err, "corrupt state blob: sketch %llu with %llu rows", (unsigned long long)ell64,
                           (unsigned long long)rows64);
    rows = (size_t)rows64;
    if (!blob_size(2 * d, rows, d, &total)) return imgpca_seterr(err, "corrupt state blob: d=%zu", d);
  } else {
    if (ell64 != 0 || rows64 != 0 || shrink != 0) return imgpca_seterr(err, "corrupt state blob: exact state with a sketch");
    if (!imgpca_mul_ok(d, d + 1, &tri)) return imgpca_seterr(err, "corrupt state blob: d=%zu", d);
    tri /= 2;
    if (!blob_size(2 * d + tri, 0, 0, &total)) return imgpca_seterr(err, "corrupt state blob: d=%zu", d);
  }
  if (n < total) return imgpca_seterr(err, "state blob is truncated: %zu bytes, expected %zu", n, total);
  if (n > total) return imgpca_seterr(err, "corrupt state blob: %zu bytes, expected %zu", n, total);
  {
    /* What the solver will need for this state (sketch of 2l rows, Gram and
    ** eigenvectors of 2l x 2l, or d x d), before anything is allocated: a
    ** small blob can announce a large sketch. */
    long long lim = budget_mb > 0 ? budget_mb : mem;
    size_t need = pca_state_bytes(kind, d, kind == PCA_KIND_STREAM ? (size_t)ell64 : 0);
    if (lim <= (long long)(SIZE_MAX >> 20) && need > ((size_t)lim << 20))
      return imgpca_seterr(err, "the state needs %zu MiB for d=%zu and sketch=%llu, above memory_mb=%lld",
                           (need >> 20) + ((need & 0xfffff) != 0),
                           d, (unsigned long long)ell64, lim);
  }
  off = PCA_HEADER_BYTES;
  if (check_finite(p + off, d, 0, 0, "state", "mean", err)) return IMGPCA_ERROR;
  if (check_finite(p + off + 8 * d, d, 1, 0, "state", "m2diag", err)) return IMGPCA_ERROR;
  off += 16 * d;
  if (check_finite(p + off, kind == PCA_KIND_STREAM ? rows * d : tri, 0, 0, "state", "matrix", err))
    return IMGPCA_ERROR;
  off += 8 * (kind == PCA_KIND_STREAM ? rows * d : tri);
  if (imgpca_get_u64(p + off) != pca_checksum(p, off))
    return imgpca_seterr(err, "corrupt state blob: checksum mismatch");
  s->standardize = (flags & 1) ? (int)((flags >> 1) & 1) : -1;
  s->solverReq = (int)solver;
  s->memory_mb = mem;
  s->seed = (long long)imgpca_get_u64(p + 72);
  s->ell = (size_t)ell64;
  if (pca_state_alloc(s, kind, d) != IMGPCA_OK) return IMGPCA_NOMEM;
  s->n = n64;
  s->shrink = shrink;
  off = PCA_HEADER_BYTES;
  get_arr(p + off, s->mean, d);
  get_arr(p + off + 8 * d, s->m2diag, d);
  off += 16 * d;
  if (kind == PCA_KIND_EXACT) {
    for (i = 0; i < d; i++) {
      get_arr(p + off, s->m2 + i * d + i, d - i);
      off += 8 * (d - i);
    }
  } else {
    get_arr(p + off, s->sk, rows * d);
    s->skRows = rows;
  }
  return IMGPCA_OK;
}
