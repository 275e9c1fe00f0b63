/* Unit tests of the shard hash: published FNV-1a 64 vectors and uniformity. */
#include <stdio.h>

#include "common/common.h"
#include "shard/shard.h"
#include "unit.h"

static void test_vectors(void) {
  /* Test vectors published with the FNV reference code (Fowler/Noll/Vo). */
  CHECK(shard_fnv1a64("", 0) == 0xcbf29ce484222325ULL);
  CHECK(shard_fnv1a64("a", 1) == 0xaf63dc4c8601ec8cULL);
  CHECK(shard_fnv1a64("foobar", 6) == 0x85944171f73967e8ULL);
  /* The remainder is unsigned: 0xaf63dc4c8601ec8c mod 4 = 0, mod 7 = 5. */
  CHECK_EQ_INT(shard_of("a", 1, 4), (long long)(0xaf63dc4c8601ec8cULL % 4));
  CHECK_EQ_INT(shard_of("a", 1, 7), (long long)(0xaf63dc4c8601ec8cULL % 7));
  CHECK_EQ_INT(shard_of("foobar", 6, 1), 0);
  CHECK_EQ_INT(shard_of("foobar", 6, 0), 0);
  /* Bytes, not C strings: an embedded NUL is hashed. */
  CHECK(shard_fnv1a64("a\0b", 3) != shard_fnv1a64("a", 1));
  /* UTF-8 bytes are hashed as unsigned (0xc3 0xa9 = U+00E9). */
  CHECK(shard_fnv1a64("\xc3\xa9", 2) ==
        ((((0xcbf29ce484222325ULL ^ 0xc3) * 0x100000001b3ULL) ^ 0xa9) * 0x100000001b3ULL));
}

/* Chi-square test of key counts per shard, keys shaped like dataset paths. */
static double chi2(unsigned nShard, unsigned nKey, int style) {
  static unsigned count[64];
  char key[128];
  unsigned i;
  double e, x = 0;
  memset(count, 0, sizeof(count));
  for (i = 0; i < nKey; i++) {
    int len;
    if (style == 0)
      len = snprintf(key, sizeof key, "Training/Class %u/%u_100.jpg", i % 141, i);
    else
      len = snprintf(key, sizeof key, "r_%u_100.jpg", i * 3);
    count[shard_of(key, (size_t)len, nShard)]++;
  }
  e = (double)nKey / nShard;
  for (i = 0; i < nShard; i++) x += (count[i] - e) * (count[i] - e) / e;
  return x;
}

static void test_uniform(void) {
  /* 99.9% quantiles of chi-square: df=3 16.27, df=6 22.46, df=15 37.70, df=63 103.4. */
  CHECK(chi2(4, 20000, 0) < 16.27);
  CHECK(chi2(4, 20000, 1) < 16.27);
  CHECK(chi2(7, 20000, 0) < 22.46);
  CHECK(chi2(16, 40000, 0) < 37.70);
  CHECK(chi2(16, 40000, 1) < 37.70);
  CHECK(chi2(64, 64000, 0) < 103.4);
  CHECK(chi2(64, 64000, 1) < 103.4);
}

int main(void) {
  test_vectors();
  test_uniform();
  return UNIT_DONE();
}
