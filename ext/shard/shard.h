/*
** Stable shard assignment (pure C, no SQLite types).
**
** The hash is specified exactly so that any tool can reproduce it:
**
**   h = 0xcbf29ce484222325                    (FNV-1a 64-bit offset basis)
**   for each byte b of the key (UTF-8, no terminator):
**       h = h XOR b
**       h = (h * 0x00000100000001b3) mod 2^64 (FNV 64-bit prime)
**   shard = h mod n                           (unsigned 64-bit remainder)
**
** Example: key "a" -> h = 0xaf63dc4c8601ec8c; with n = 4 the shard is 0.
** The function never changes between versions: changing it would move keys
** between shards of runs already written.
*/
#ifndef IMGPCA_SHARD_H
#define IMGPCA_SHARD_H

#include "../common/common.h"

#define IMGPCA_FNV64_OFFSET 0xcbf29ce484222325ULL
#define IMGPCA_FNV64_PRIME 0x00000100000001b3ULL

/* FNV-1a 64-bit hash of p[0..n). */
uint64_t shard_fnv1a64(const void *p, size_t n);

/* Shard of key p[0..n) among nShard shards: shard_fnv1a64(p, n) % nShard.
** nShard must be >= 1 (the caller validates; 0 returns 0). */
uint64_t shard_of(const void *p, size_t n, uint64_t nShard);

#endif
