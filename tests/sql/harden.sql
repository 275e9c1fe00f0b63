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
