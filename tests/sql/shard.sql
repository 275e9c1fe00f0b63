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
-- s3_concat: parts in order, ranges, expected sizes; local destination streamed through a temp file
SELECT s3_put('/tmp/imgpca-sqltest-shard/p0.csv', 'key,label' || char(10) || 'a,x' || char(10)) AS p0,
       s3_put('/tmp/imgpca-sqltest-shard/p1.csv', 'key,label' || char(10) || 'b,y' || char(10) || 'c,z' || char(10)) AS p1,
       s3_put('/tmp/imgpca-sqltest-shard/p2.csv', 'key,label' || char(10)) AS p2;
SELECT s3_concat('/tmp/imgpca-sqltest-shard/all.csv', json_array(
         json_object('url', '/tmp/imgpca-sqltest-shard/p0.csv', 'size', 14),
         json_object('url', '/tmp/imgpca-sqltest-shard/p1.csv', 'offset', 10, 'size', 18),
         json_object('url', '/tmp/imgpca-sqltest-shard/p2.csv', 'offset', 10))) AS stats;
SELECT quote(CAST(s3_fetch('/tmp/imgpca-sqltest-shard/all.csv') AS TEXT)) AS all_csv;
SELECT s3_concat('/tmp/imgpca-sqltest-shard/r.txt', json_array(
         json_object('url', '/tmp/imgpca-sqltest-shard/p1.csv', 'offset', 4, 'length', 5),
         'file:///tmp/imgpca-sqltest-shard/p0.csv')) ->> 'bytes' AS bytes,
       quote(CAST(s3_fetch('/tmp/imgpca-sqltest-shard/r.txt') AS TEXT)) AS r;
SELECT s3_concat('/tmp/imgpca-sqltest-shard/empty', '[]') ->> 'bytes' AS empty_bytes,
       length(s3_fetch('/tmp/imgpca-sqltest-shard/empty')) AS empty_len;
SELECT s3_concat(NULL, '[]') IS NULL AS null_dest, s3_concat('/tmp/imgpca-sqltest-shard/n', NULL) IS NULL AS null_parts;
-- failures name the part and the cause and leave neither the destination nor a temp file
SELECT s3_concat('/tmp/imgpca-sqltest-shard/bad.csv', json_array('/tmp/imgpca-sqltest-shard/p0.csv',
         '/tmp/imgpca-sqltest-shard/missing.csv', '/tmp/imgpca-sqltest-shard/p1.csv'));
SELECT s3_concat('/tmp/imgpca-sqltest-shard/bad.csv', json_array(json_object('url', '/tmp/imgpca-sqltest-shard/p1.csv', 'size', 17)));
SELECT s3_concat('/tmp/imgpca-sqltest-shard/bad.csv', json_array(json_object('url', '/tmp/imgpca-sqltest-shard/p0.csv', 'offset', 15)));
SELECT s3_concat('/tmp/imgpca-sqltest-shard/bad.csv', json_array(json_object('url', '/tmp/imgpca-sqltest-shard/p0.csv', 'offset', 10, 'length', 5)));
SELECT s3_concat('/tmp/imgpca-sqltest-shard/bad.csv', json_array(json_object('url', '/tmp/imgpca-sqltest-shard/p0.csv', 'ofset', 1)));
SELECT s3_concat('/tmp/imgpca-sqltest-shard/bad.csv', json_array(json_object('url', '/tmp/imgpca-sqltest-shard/p0.csv', 'length', -2)));
SELECT s3_concat('/tmp/imgpca-sqltest-shard/bad.csv', json_array(json_object('offset', 1)));
SELECT s3_concat('/tmp/imgpca-sqltest-shard/bad.csv', '[3]');
SELECT s3_concat('/tmp/imgpca-sqltest-shard/bad.csv', '{"url": "x"}');
SELECT s3_concat('/tmp/imgpca-sqltest-shard/bad.csv', 'not json');
SELECT s3_concat('/tmp/imgpca-sqltest-shard/bad.csv', json_array('/tmp/imgpca-sqltest-shard'));
SELECT s3_concat('s3://bucket-only/', json_array('/tmp/imgpca-sqltest-shard/p0.csv'));
SELECT count(*) AS leftovers FROM s3_list('/tmp/imgpca-sqltest-shard/**') WHERE name LIKE 'bad.csv%';
SELECT s3_delete(url) FROM s3_list('/tmp/imgpca-sqltest-shard/**');
