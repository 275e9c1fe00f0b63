-- Regression tests of the hardening review (docs/RELIABILITY.md, "Hardening").
-- Data: ../../../shared/data (cwd is tests/sql).
.bail off
CREATE TEMP TABLE p(img BLOB);
INSERT INTO p VALUES (readfile('../../../shared/data/images-edge/pngsuite/png/basn0g01.png'));

-- [flags] functions reading image.max_pixels are not DETERMINISTIC: refused
-- in indexes and generated columns
CREATE TABLE t(b BLOB);
CREATE INDEX t_f ON t(img_features_or_null(b));
CREATE INDEX t_g ON t(img_features(b, 'hist:bins=2'));
CREATE TABLE g(b BLOB, f BLOB AS (img_info(b)));
CREATE TABLE g2(b BLOB, f BLOB AS (img_pixels(b)));
-- the pure ones still are
CREATE INDEX t_v ON t(fvec_dims(b));
SELECT name, max(flags & 0x800 > 0) AS deterministic, max(flags & 0x080000 > 0) AS directonly,
       max(flags & 0x200000 > 0) AS innocuous
  FROM pragma_function_list WHERE name LIKE 'img_%' OR name IN ('pca_project', 'fvec_dims', 'imgpca_version')
  GROUP BY name ORDER BY name;

-- [max_pixels] img_pixels' output size is bounded by image.max_pixels, before decoding
SELECT length(img_pixels(img, 8, 4)) FROM p;
SELECT length(img_pixels(img, 13000, 13000)) FROM p;
SELECT imgpca_config('image.max_pixels', '1024');
SELECT length(img_pixels(img, 32, 32)) FROM p;
SELECT length(img_pixels(img, 33, 32)) FROM p;
SELECT img_features_or_null(img) IS NULL FROM p;
SELECT imgpca_config('image.max_pixels', NULL);

-- [s3_list window] LIMIT/OFFSET near the 64-bit limits (UBSan: no overflow)
SELECT count(*) FROM (SELECT key FROM s3_list('../../../shared/data/fruits360/Test/Kiwi 1/*.jpg')
  LIMIT 9223372036854775807 OFFSET 9223372036854775807);
SELECT count(*) FROM (SELECT key FROM s3_list('../../../shared/data/fruits360/Test/Kiwi 1/*.jpg')
  LIMIT 3 OFFSET 9223372036854775807);
SELECT count(*) FROM (SELECT key FROM s3_list('../../../shared/data/fruits360/Test/Kiwi 1/*.jpg')
  LIMIT 9223372036854775807 OFFSET 2);
SELECT count(*) FROM (SELECT key FROM s3_list('../../../shared/data/fruits360/Test/Kiwi 1/*.jpg')
  LIMIT -1 OFFSET -5);
SELECT count(*) FROM (SELECT key, length(content) FROM s3_list('../../../shared/data/fruits360/Test/Kiwi 1/*.jpg')
  LIMIT 9223372036854775807 OFFSET 9223372036854775806);

-- [export read-only] csv_export's query cannot call imgpca's side-effect functions
.shell rm -rf /tmp/imgpca-sql-harden && mkdir -p /tmp/imgpca-sql-harden
SELECT csv_export('/tmp/imgpca-sql-harden/a.csv', 'SELECT s3_put(''/tmp/imgpca-sql-harden/evil'', ''x'') AS n');
SELECT csv_export('/tmp/imgpca-sql-harden/a.csv', 'SELECT s3_delete(''/tmp/imgpca-sql-harden/a.csv'') AS n');
SELECT csv_export('/tmp/imgpca-sql-harden/a.csv',
  'SELECT csv_export(''/tmp/imgpca-sql-harden/nested.csv'', ''SELECT 1'') AS n');
SELECT csv_export('/tmp/imgpca-sql-harden/a.csv', 'SELECT imgpca_config(''s3.region'', ''evil'') AS n');
SELECT csv_export('/tmp/imgpca-sql-harden/a.csv',
  'SELECT s3_concat(''/tmp/imgpca-sql-harden/evil'', ''["harden.sql"]'') AS n');
SELECT imgpca_config('s3.region');
-- nothing was written; reads are still allowed and the flag is cleared afterwards
SELECT 'files: ' || ifnull(group_concat(name, ' '), '') FROM (SELECT name FROM s3_list('/tmp/imgpca-sql-harden/*') ORDER BY name);
SELECT csv_export('/tmp/imgpca-sql-harden/b.csv', 'SELECT imgpca_config(''image.max_pixels'') AS m, length(s3_fetch(''harden.sql'')) > 0 AS r');
SELECT CAST(s3_fetch('/tmp/imgpca-sql-harden/b.csv') AS TEXT);
SELECT s3_put('/tmp/imgpca-sql-harden/after', 'ok');
SELECT 'files: ' || ifnull(group_concat(name, ' '), '') FROM (SELECT name FROM s3_list('/tmp/imgpca-sql-harden/*') ORDER BY name);

-- [csv delimiter, formula guard] ambiguous delimiters are refused
SELECT csv_export('/tmp/imgpca-sql-harden/d.csv', 'SELECT 1', '{"delimiter":"1"}');
SELECT csv_export('/tmp/imgpca-sql-harden/d.csv', 'SELECT 1', '{"delimiter":"."}');
SELECT csv_export('/tmp/imgpca-sql-harden/d.csv', 'SELECT 1', '{"delimiter":"e"}');
SELECT csv_export('/tmp/imgpca-sql-harden/d.csv', 'SELECT 1', '{"delimiter":"''"}');
SELECT csv_export('/tmp/imgpca-sql-harden/d.csv', 'SELECT 1', json_object('delimiter', char(13)));
SELECT csv_export('/tmp/imgpca-sql-harden/d.csv', 'SELECT 1', json_object('delimiter', char(10)));
SELECT csv_export('/tmp/imgpca-sql-harden/d.csv', 'SELECT 1', json_object('delimiter', char(9)));
SELECT csv_export('/tmp/imgpca-sql-harden/d.csv', 'SELECT 1 AS a, -2.5 AS b', '{"delimiter":";"}');
SELECT CAST(s3_fetch('/tmp/imgpca-sql-harden/d.csv') AS TEXT);
SELECT csv_export('/tmp/imgpca-sql-harden/f.csv', 'SELECT 1', '{"formula_guard":"yes"}');
CREATE TEMP TABLE cells(k, v);
INSERT INTO cells VALUES (1, '=HYPERLINK("http://x","y")'), (2, '+1+1'), (3, '-2'), (4, '@SUM(A1)'),
  (5, char(9) || 'tab'), (6, char(13) || 'cr'), (7, 'plain'), (8, -3), (9, -0.5), (10, ''), (11, NULL),
  (12, '=a,b');
SELECT csv_export('/tmp/imgpca-sql-harden/f.csv', 'SELECT k, v AS "=name" FROM cells ORDER BY k', '{"formula_guard":true}');
SELECT replace(replace(replace(CAST(s3_fetch('/tmp/imgpca-sql-harden/f.csv') AS TEXT), char(9), '<TAB>'), char(13), '<CR>'), char(10), '$' || char(10));
SELECT csv_export('/tmp/imgpca-sql-harden/g.csv', 'SELECT k, v FROM cells WHERE k IN (1, 8) ORDER BY k');
SELECT CAST(s3_fetch('/tmp/imgpca-sql-harden/g.csv') AS TEXT);
.shell rm -rf /tmp/imgpca-sql-harden

-- [pca state bounds] a small state announcing a large sketch is checked
-- against memory_mb (the caller's: option or default 1024) before allocating
CREATE TEMP TABLE big AS WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 99)
  SELECT pca_partial(fvec(sin(i)), '{"solver":"streaming","sketch":4096,"memory_mb":2048}') AS s FROM n;
SELECT imgpca_config('pca.max_memory_mb', '8192');
CREATE TEMP TABLE huge AS WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 9)
  SELECT pca_partial(fvec(i), '{"solver":"streaming","sketch":8192,"memory_mb":8192}') AS s FROM n;
SELECT imgpca_config('pca.max_memory_mb', NULL);
SELECT length(s) < 65536 FROM big;
SELECT pca_merge(s) IS NOT NULL FROM big;
SELECT pca_fit(s, 1) IS NOT NULL FROM big;
SELECT json_extract(pca_info(pca_fit(s, 1, '{"memory_mb":2048}')), '$.k') FROM big;
SELECT pca_merge(s) IS NOT NULL FROM huge;
-- the option is bounded by the setting pca.max_memory_mb (default 4096), which
-- SQL in a schema cannot change (imgpca_config is DIRECTONLY)
SELECT pca_fit(s, 1, '{"memory_mb":1073741824}') IS NOT NULL FROM huge;
SELECT pca_fit(s, 1, '{"memory_mb":8192}') IS NOT NULL FROM huge;
SELECT pca_partial(fvec(1, 2), '{"memory_mb":5000}') FROM big;
SELECT imgpca_config('pca.max_memory_mb', '8192');
SELECT pca_fit(s, 1, '{"memory_mb":8192}') IS NOT NULL FROM huge;
SELECT imgpca_config('pca.max_memory_mb', '512');
SELECT pca_merge(s) IS NOT NULL FROM big;
SELECT json_extract(pca_info(pca_fit(fvec(1, 2, value), 1)), '$.options.memory_mb') FROM json_each('[1,2,3]');
SELECT imgpca_config('pca.max_memory_mb', NULL);
