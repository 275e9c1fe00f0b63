/* Robustness of the PCA blob loaders (no SQLite): deterministic mutation
** fuzzing of valid model and state blobs (bit flips, byte overwrites with
** interesting values, truncation, extension, header field edits) through
** pca_model_load and pca_state_load.  Every input must be accepted or
** rejected with a message, without crashes, leaks or out-of-bounds reads
** (the suite also runs under ASan/UBSan; each input is copied into an
** exactly sized heap buffer).
**
** Built with -DIMGPCA_LIBFUZZER this file instead provides the libFuzzer
** entry point (e.g. clang -fsanitize=fuzzer,address -DIMGPCA_LIBFUZZER
** -Iext tests/unit/test_pca_fuzz.c build/libimgpca-int.a -lopenblas -llapacke -lm).
** The first input byte selects the loader (even: model, odd: state). */
#include <stdlib.h>

#include "common/common.h"
#include "pca/pca.h"

static int load_any(const unsigned char *data, size_t n, int state) {
  char err[IMGPCA_ERRMAX];
  unsigned char *copy = malloc(n ? n : 1);
  int rc;
  if (!copy) return -1;
  if (n) memcpy(copy, data, n);
  err[0] = 0;
  if (state) {
    PcaState s;
    rc = pca_state_load(copy, n, 0, &s, err);
    if (rc == IMGPCA_OK) {
      /* a loaded state must also fit and serialise */
      PcaModel m;
      unsigned char *out;
      size_t nout;
      if (pca_state_save(&s, &out, &nout, err) == IMGPCA_OK) free(out);
      if (pca_fit_state(&s, 1, 0, -1, &m, err) == IMGPCA_OK) pca_model_free(&m);
      pca_state_free(&s);
    }
  } else {
    PcaModel m;
    rc = pca_model_load(copy, n, &m, err);
    if (rc == IMGPCA_OK) {
      float x[4] = {0}, y[1];
      if (m.d <= 4) pca_project(&m, x, 1, 1, y, err);
      pca_model_free(&m);
    }
  }
  free(copy);
  return rc == IMGPCA_ERROR && !err[0] ? -1 : rc; /* a rejection must say why */
}

#ifdef IMGPCA_LIBFUZZER
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  if (size < 1) return 0;
  load_any(data + 1, size - 1, data[0] & 1);
  return 0;
}
#else
#include "unit.h"

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static void make_blobs(unsigned char **model, size_t *nm, unsigned char **state, size_t *ns, int kind) {
  char err[IMGPCA_ERRMAX];
  PcaOpts o;
  PcaState s;
  PcaModel m;
  float row[4];
  size_t i, j;
  pca_opts_default(&o);
  o.solver = kind == PCA_KIND_EXACT ? PCA_SOLVER_EXACT : PCA_SOLVER_STREAMING;
  o.sketch = 3;
  pca_state_init(&s, &o);
  CHECK_EQ_INT(pca_state_begin(&s, 4, err), IMGPCA_OK);
  for (i = 0; i < 9; i++) {
    for (j = 0; j < 4; j++) row[j] = (float)((next() % 1000) / 100.0);
    CHECK_EQ_INT(pca_state_add_f32(&s, row, err), IMGPCA_OK);
  }
  CHECK_EQ_INT(pca_state_save(&s, state, ns, err), IMGPCA_OK);
  CHECK_EQ_INT(pca_fit_state(&s, 2, 0, -1, &m, err), IMGPCA_OK);
  CHECK_EQ_INT(pca_model_save(&m, model, nm, err), IMGPCA_OK);
  pca_model_free(&m);
  pca_state_free(&s);
}

static const uint64_t interesting[] = {0, 1, 2, 0xff, 0x7fffffff, 0xffffffff, 0x100000000ULL,
                                       0x7ff0000000000000ULL /* inf */, 0x7ff8000000000000ULL /* nan */,
                                       0xbff0000000000000ULL /* -1.0 */, 0xffffffffffffffffULL,
                                       0x0000000100000000ULL, 0x4000000000000000ULL};

static void mutate_run(const unsigned char *orig, size_t n, int state, int iters, int *accepted, int *bad) {
  unsigned char *buf = malloc(n + 64);
  int it;
  for (it = 0; it < iters; it++) {
    size_t len = n, pos, m;
    memcpy(buf, orig, n);
    switch (next() % 5) {
      case 0: /* bit flips */
        for (m = 1 + next() % 3; m; m--) {
          pos = next() % n;
          buf[pos] ^= (unsigned char)(1u << (next() % 8));
        }
        break;
      case 1: /* truncate */
        len = next() % n;
        break;
      case 2: /* extend */
        len = n + 1 + next() % 63;
        memset(buf + n, (int)(next() & 0xff), len - n);
        break;
      case 3: /* header field: 4 or 8 aligned bytes in the first 96 */
        pos = (next() % 24) * 4;
        imgpca_put_u64(buf + (pos > 88 ? 88 : pos),
                       interesting[next() % (sizeof interesting / sizeof interesting[0])]);
        break;
      default: /* value overwrite anywhere (8-aligned) */
        pos = (next() % (n / 8)) * 8;
        imgpca_put_u64(buf + pos, interesting[next() % (sizeof interesting / sizeof interesting[0])]);
        break;
    }
    m = (size_t)load_any(buf, len, state);
    if (m == IMGPCA_OK) {
      if (len != n || memcmp(buf, orig, n) != 0) {
        size_t i;
        (*accepted)++;
        for (i = 0; i < (len < n ? len : n); i++)
          if (buf[i] != orig[i]) fprintf(stderr, "accepted change: state=%d len=%zu/%zu at %zu: %02x -> %02x\n", state, len, n, i, orig[i], buf[i]);
      }
    } else if (m != IMGPCA_ERROR) {
      (*bad)++;
    }
  }
  free(buf);
}

int main(void) {
  unsigned char *model, *state;
  size_t nm, ns;
  int kind, accepted = 0, bad = 0;
  for (kind = PCA_KIND_EXACT; kind <= PCA_KIND_STREAM; kind++) {
    make_blobs(&model, &nm, &state, &ns, kind);
    CHECK_EQ_INT(load_any(model, nm, 0), IMGPCA_OK);
    CHECK_EQ_INT(load_any(state, ns, 1), IMGPCA_OK);
    mutate_run(model, nm, 0, 20000, &accepted, &bad);
    mutate_run(state, ns, 1, 20000, &accepted, &bad);
    /* cross-feeding: a model to the state loader and vice versa */
    CHECK_EQ_INT(load_any(model, nm, 1), IMGPCA_ERROR);
    CHECK_EQ_INT(load_any(state, ns, 0), IMGPCA_ERROR);
    free(model);
    free(state);
  }
  /* every mutant that changed the blob is rejected (checksum at the latest) */
  CHECK_EQ_INT(accepted, 0);
  CHECK_EQ_INT(bad, 0);
  printf("fuzz: %d of 80000 changed mutants accepted, %d rejected without message\n", accepted, bad);
  return UNIT_DONE();
}
#endif
