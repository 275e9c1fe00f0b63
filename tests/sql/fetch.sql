-- s3_fetch_many on local files: rows in input order, error rows (missing
-- file, folder, FIFO, corrupt and empty image, invalid URLs) that never
-- abort the statement, the JSON and IN forms, spec as a hidden argument or a
-- constraint, features equal to img_features for 1, 2 and 4 threads, one
-- corrupt image among 1,000, statement errors, DIRECTONLY.
.shell rm -rf fetch.tmp && mkdir fetch.tmp && mkfifo fetch.tmp/fifo && mkdir fetch.tmp/folder
.headers on
SELECT writefile('fetch.tmp/bad.jpg', x'FFD8FFE000104A46494600') AS bad, writefile('fetch.tmp/empty.png', x'') AS empty;
CREATE TEMP TABLE pics AS
  SELECT url FROM s3_list('../../../shared/data/fruits360/Training/Banana 1/*.jpg') ORDER BY url LIMIT 3;

-- JSON form: input order, duplicates kept, every kind of failure
SELECT rowid, replace(url, '../../../shared/data/fruits360/Training/', '') AS url, size,
       length(features) AS dims4, error
  FROM s3_fetch_many(json_array((SELECT max(url) FROM pics), 'fetch.tmp/nope.jpg', 'fetch.tmp/fifo',
                                'fetch.tmp/folder', 'fetch.tmp/bad.jpg', 'fetch.tmp/empty.png',
                                'file:///no/such/file.jpg', 'http://example.com/a.jpg', 's3://bucket',
                                '', (SELECT min(url) FROM pics), (SELECT max(url) FROM pics), NULL), 'hist');

-- without a spec: no features, no decoding (the corrupt image is just bytes)
SELECT replace(url, 'fetch.tmp/', '') AS url, size, hex(content) AS content, features, error
  FROM s3_fetch_many('["fetch.tmp/bad.jpg", "fetch.tmp/empty.png", "fetch.tmp/nope.jpg"]');

-- IN list, spec as a constraint; content equals s3_fetch, features equal img_features
SELECT count(*) AS n, sum(content = s3_fetch(url)) AS same_content,
       sum(features = img_features(s3_fetch(url), 'hist:bins=6;pixels:size=8x8,color=grey')) AS same_features
  FROM s3_fetch_many WHERE url IN (SELECT url FROM pics) AND spec = 'hist:bins=6;pixels:size=8x8,color=grey';
SELECT url = (SELECT min(url) FROM pics) AS ok, length(features) FROM s3_fetch_many
 WHERE url = (SELECT min(url) FROM pics) AND spec = 'hist';
-- thumbnail column: img_thumbnail(content, 48, 'jpeg', 75) made by the worker, with or
-- without a spec, for 1 and 4 threads; NULL (and the error) for an undecodable image
SELECT imgpca_config('imgpca.threads', 4) IS NOT NULL AS t4;
SELECT count(*) AS n, sum(thumbnail = img_thumbnail(s3_fetch(url), 48, 'jpeg', 75)) AS same_thumb,
       sum(features = img_features(s3_fetch(url), 'hist')) AS same_features
  FROM s3_fetch_many WHERE url IN (SELECT url FROM pics) AND spec = 'hist';
SELECT imgpca_config('imgpca.threads', 1) IS NOT NULL AS t1;
SELECT count(*) AS n, sum(thumbnail = img_thumbnail(s3_fetch(url), 48, 'jpeg', 75)) AS same_thumb
  FROM s3_fetch_many WHERE url IN (SELECT url FROM pics);
SELECT imgpca_config('imgpca.threads', 0) IS NOT NULL AS t0;
SELECT replace(url, 'fetch.tmp/', '') AS url, thumbnail IS NULL AS no_thumb, features IS NULL AS no_features,
       error IS NOT NULL AS has_error
  FROM s3_fetch_many('["fetch.tmp/bad.jpg"]', 'hist');
-- a join feeds URLs one by one
SELECT count(*), count(f.features) FROM pics JOIN s3_fetch_many f ON f.url = pics.url AND f.spec = 'hist';

-- 1,000 objects with one corrupt image: exactly one error row; features
-- byte-identical for 1, 2 and 4 threads and to img_features
CREATE TEMP TABLE thousand AS
  SELECT url FROM (SELECT url FROM s3_list('../../../shared/data/fruits360/Training/**/*.jpg') ORDER BY url LIMIT 999)
  UNION ALL SELECT 'fetch.tmp/bad.jpg';
.headers off
SELECT imgpca_config('imgpca.threads', 1);
CREATE TEMP TABLE r1 AS SELECT url, features, error FROM s3_fetch_many WHERE url IN (SELECT url FROM thousand) AND spec = 'hist:bins=8,sqrt';
SELECT imgpca_config('imgpca.threads', 2);
CREATE TEMP TABLE r2 AS SELECT url, features, error FROM s3_fetch_many WHERE url IN (SELECT url FROM thousand) AND spec = 'hist:bins=8,sqrt';
SELECT imgpca_config('imgpca.threads', 4);
CREATE TEMP TABLE r4 AS SELECT url, features, error FROM s3_fetch_many WHERE url IN (SELECT url FROM thousand) AND spec = 'hist:bins=8,sqrt';
SELECT imgpca_config('imgpca.threads', NULL);
.headers on
SELECT count(*) AS rows_, count(features) AS with_features, count(error) AS errors,
       (SELECT replace(error, 'fetch.tmp/', '') FROM r1 WHERE error IS NOT NULL) AS the_error,
       sum(features = img_features_or_null(s3_fetch(url))) AS equal_img_features
  FROM r1;
-- (the temp tables' rowids are the order in which the rows came)
SELECT (SELECT count(*) FROM (SELECT rowid, * FROM r1 EXCEPT SELECT rowid, * FROM r2)) AS diff_1_2,
       (SELECT count(*) FROM (SELECT rowid, * FROM r1 EXCEPT SELECT rowid, * FROM r4)) AS diff_1_4,
       (SELECT count(*) FROM r2) AS n2, (SELECT count(*) FROM r4) AS n4;

-- the setting
SELECT imgpca_config('imgpca.threads') AS threads;
SELECT imgpca_config('imgpca.threads', 2000);
SELECT imgpca_config('imgpca.threads', -1);

-- statement errors
SELECT * FROM s3_fetch_many;
SELECT * FROM s3_fetch_many('{"a": 1}');
SELECT * FROM s3_fetch_many('not json');
SELECT * FROM s3_fetch_many('[1, 2]');
SELECT * FROM s3_fetch_many('["fetch.tmp/bad.jpg"]', 'hist:bins=0');
SELECT * FROM s3_fetch_many('["fetch.tmp/bad.jpg"]', x'00');
SELECT count(*) AS empty_list FROM s3_fetch_many('[]');
SELECT count(*) AS null_list FROM s3_fetch_many(NULL);

-- DIRECTONLY: not from a view or trigger of the schema
CREATE VIEW v AS SELECT url FROM s3_fetch_many('["fetch.tmp/bad.jpg"]');
SELECT * FROM v;
.shell rm -rf fetch.tmp
