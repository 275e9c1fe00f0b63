-- Regression tests of the third hardening review (docs/RELIABILITY.md,
-- "Hardening review, round 3"); the item number of the review in brackets.
-- cwd is tests/sql.
.bail off

-- [2] OR plans (MULTI-INDEX OR: one cursor per branch, merged by rowid)
-- keep every row of every table-valued function
SELECT count(*) FROM s3_fetch_many WHERE url = 'core.sql' OR url = 'csv.sql' OR url = 'nosuch.jpg';
SELECT count(*) FROM s3_fetch_many WHERE url IN ('core.sql', 'csv.sql', 'nosuch.jpg');
SELECT count(*) FROM s3_fetch_many WHERE urls = '["core.sql"]' OR urls = '["csv.sql", "core.sql"]';
SELECT query_id, rank, ref_id FROM knn_search
 WHERE (queries = 'SELECT 1, fvec(0, 0)' AND refs = 'SELECT 7, fvec(0, 1)')
    OR (queries = 'SELECT 2, fvec(1, 1)' AND refs = 'SELECT 8, fvec(2, 2)') ORDER BY 1;
SELECT count(*) FROM s3_list WHERE pattern = 'core.*' OR (pattern = 'csv.*' AND key > '');
SELECT count(*) FROM pca_components
 WHERE model = (SELECT pca_fit(v, 2) FROM (SELECT fvec(1, 2, 0) v UNION ALL SELECT fvec(3, 1, 1) UNION ALL SELECT fvec(0, 5, 2)))
    OR (model = (SELECT pca_fit(v, 1) FROM (SELECT fvec(1, 2) v UNION ALL SELECT fvec(3, 1) UNION ALL SELECT fvec(0, 5))) AND idx > 0);

-- (sibling) a second constraint on a hidden argument column, which SQLite
-- checks itself, sees the argument (it saw NULL and dropped every row)
SELECT count(*) FROM s3_list WHERE pattern = 'core.*' AND pattern = (SELECT 'core.*');
SELECT count(*) FROM s3_list WHERE pattern = 'core.*' AND pattern = (SELECT 'csv.*');
SELECT count(*) FROM s3_fetch_many WHERE urls = '["core.sql"]' AND urls = (SELECT '["core.sql"]');
SELECT count(*) FROM s3_fetch_many WHERE urls = '["core.sql"]' AND spec = 'hist:bins=2' AND spec = (SELECT 'hist:bins=2');
SELECT count(*) FROM knn_search WHERE queries = fvec(1, 2) AND queries = (SELECT fvec(1, 2)) AND refs = 'SELECT 1, fvec(0, 0)';
SELECT count(*) FROM knn_search WHERE queries = fvec(1, 2) AND metric = 'L2' AND metric = (SELECT 'L2') AND refs = 'SELECT 1, fvec(0, 0)';
SELECT count(*) FROM pca_components
 WHERE model = (SELECT pca_fit(v) FROM (SELECT fvec(1, 2) v UNION ALL SELECT fvec(3, 1) UNION ALL SELECT fvec(0, 5)))
   AND model = (SELECT pca_fit(v) FROM (SELECT fvec(1, 2) v UNION ALL SELECT fvec(3, 1) UNION ALL SELECT fvec(0, 5)));

-- [8] empty ids ('' and x'') are returned as such (were NULL; memcmp on a NULL pointer)
SELECT quote(ref_id), rank FROM knn_search(fvec(0, 0), 'SELECT '''', fvec(1, 0) UNION ALL SELECT x'''', fvec(0, 1) UNION ALL SELECT ''a'', fvec(1, 0)', 3);
SELECT quote(query_id), quote(ref_id) FROM knn_search('SELECT x'''', fvec(0, 0)', 'SELECT x'''', fvec(1, 0) UNION ALL SELECT '''', fvec(1, 0)', 2);

-- [9] a spec whose vectors would exceed the dimension limit is refused when parsed
SELECT img_features(x'00', 'pixels:size=1024x1024;pixels:size=1024x1024;pixels:size=1024x1024;pixels:size=1024x1024;pixels:size=1024x1024;pixels:size=1024x1024');
SELECT count(*) FROM s3_fetch_many('["core.sql"]', 'pixels:size=1024x1024;pixels:size=1024x1024;pixels:size=1024x1024;pixels:size=1024x1024;pixels:size=1024x1024;pixels:size=1024x1024');
-- the largest spec that fits is still accepted (its features are computed)
SELECT fvec_dims(img_features(readfile('../../../shared/data/images-edge/pngsuite/png/basn0g01.png'), 'pixels:size=1024x1024;pixels:size=1024x1024;pixels:size=1024x1024;pixels:size=1024x1024;pixels:size=1024x1024;pixels:size=1024x1024,color=grey'));

-- [19] img_from_fvec: infinite bounds refused; JSON vectors accepted there and by knn_search
SELECT img_from_fvec(fvec(1, 2), -1e999, 1);
SELECT img_from_fvec(fvec(1, 2), 0, 1e999);
SELECT hex(img_from_fvec('[0, 0.5, 1]')), hex(img_from_fvec('[0, 0.5, 1]', 0, 2));
SELECT img_from_fvec('[0, "a"]');
SELECT quote(query_id), rank, ref_id, distance FROM knn_search('[0, 0.5]', 'SELECT 1, ''[0, 1]'' UNION ALL SELECT 2, fvec(0, 0)', 2);
SELECT query_id, rank, ref_id, distance FROM knn_search('SELECT ''q'', ''[3, 4]''', 'SELECT 1, ''[0, 0]''');
SELECT * FROM knn_search('[0, 0.5]', 'SELECT 1, ''[0, 1, 2]''');
SELECT * FROM knn_search('SELECT 1, ''[0, 1e39]''', 'SELECT 1, fvec(0, 1)');

-- [10] endpoint user info holding '/', '?' or '#' is masked up to the last '@'
-- in every display, and such an endpoint is refused before anything is sent
SELECT imgpca_config('s3.endpoint', 'https://admin:s3cr3t/Pa55?w0rd@127.0.0.1:9');
SELECT json_extract(s3_config(), '$.endpoint');
SELECT json_extract(imgpca_config(), '$."s3.endpoint".value');
SELECT instr(s3_config() || imgpca_config(), 's3cr3t') + instr(s3_config() || imgpca_config(), 'w0rd');
SELECT s3_fetch('s3://bkt/key');
SELECT imgpca_config('s3.endpoint', NULL);

-- [13] a NUL byte in a URL or path (%00 in a file:// URL, a NUL in the
-- text, \u0000 in JSON) is refused; it used to cut the path short
.shell rm -rf harden3.tmp && mkdir harden3.tmp
SELECT writefile('harden3.tmp/t.txt', 'secret');
SELECT s3_fetch('file:///etc/hostname%00.png');
SELECT s3_put('file:///nonexistent-imgpca-folder/t.txt%00.csv', 'x');
SELECT s3_fetch('harden3.tmp/t.txt' || char(0) || '.png');
SELECT s3_fetch_or_null('harden3.tmp/t.txt' || char(0) || '.png');
SELECT s3_put('harden3.tmp/t.txt' || char(0) || '.csv', 'overwritten');
SELECT s3_delete('harden3.tmp/t.txt' || char(0) || '.csv');
SELECT csv_export('harden3.tmp/t.txt' || char(0) || '.csv', 'SELECT 1');
SELECT count(*) FROM s3_list('harden3.tmp/t.txt' || char(0) || '*');
SELECT count(*) FROM s3_fetch_many WHERE url = 'harden3.tmp/t.txt' || char(0) || '.png';
SELECT count(*) FROM s3_fetch_many('["harden3.tmp/t.txt\u0000.png"]');
SELECT s3_concat('harden3.tmp/c.bin', '["harden3.tmp/t.txt\u0000.png"]');
SELECT s3_concat('harden3.tmp/c.bin' || char(0) || 'x', '["harden3.tmp/t.txt"]');
SELECT readfile('harden3.tmp/t.txt'), (SELECT group_concat(key) FROM s3_list('harden3.tmp/*'));

-- [14] imgpca_report_html takes JSON only, escaped for the <script> element
SELECT imgpca_report_html('1};alert(1);//', 'a __IMGPCA_REPORT_DATA__ b');
SELECT imgpca_report_html('', 'a __IMGPCA_REPORT_DATA__ b');
SELECT imgpca_report_html('{"a": "</script><script>x", "b": "' || char(8232) || char(8233) || '"}', 'a __IMGPCA_REPORT_DATA__ b');
SELECT imgpca_report_html('[1, 2.5, null]', 'a __IMGPCA_REPORT_DATA__ b');

.shell rm -rf harden3.tmp
