-- imgpca_shard(key, n): FNV-1a 64 of the key bytes, unsigned mod n.
SELECT imgpca_shard('a', 4), imgpca_shard('a', 7), imgpca_shard('foobar', 1000);
-- the same key gives the same shard as text, blob and (for numbers) text form
SELECT imgpca_shard('12', 5) = imgpca_shard(12, 5), imgpca_shard('a', 9) = imgpca_shard(x'61', 9);
SELECT imgpca_shard('', 3), imgpca_shard(x'', 3);
SELECT imgpca_shard(NULL, 4) IS NULL, imgpca_shard('a', NULL) IS NULL;
-- every key of a 4-way split lands in exactly one shard, all shards used
WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i < 3999)
SELECT imgpca_shard('Training/' || i || '_100.jpg', 4) AS s, count(*) BETWEEN 900 AND 1100
  FROM k GROUP BY s ORDER BY s;
SELECT imgpca_shard('a', 0);
SELECT imgpca_shard('a', -3);
SELECT imgpca_shard('a', 2.5);
SELECT imgpca_shard('a', '4');
SELECT imgpca_shard('a', 2147483648);
SELECT imgpca_shard('a', 2147483647) BETWEEN 0 AND 2147483646;
