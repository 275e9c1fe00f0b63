/*
** Stable shard assignment: FNV-1a 64-bit over the key bytes, then the
** unsigned remainder modulo the number of shards (see shard.h for the exact
** specification).  SQL: imgpca_shard(key, n) in shard_sql.c.
*/
#include "shard.h"

uint64_t shard_fnv1a64(const void *p, size_t n) {
  const unsigned char *s = (const unsigned char *)p;
  uint64_t h = IMGPCA_FNV64_OFFSET;
  size_t i;
  for (i = 0; i < n; i++) {
    h ^= (uint64_t)s[i];
    h *= IMGPCA_FNV64_PRIME; /* unsigned arithmetic wraps modulo 2^64 */
  }
  return h;
}

uint64_t shard_of(const void *p, size_t n, uint64_t nShard) {
  if (nShard == 0) return 0;
  return shard_fnv1a64(p, n) % nShard;
}
