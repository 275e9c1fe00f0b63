-- Find the stored images most similar to a photo: its nearest images of a
-- pipeline state database in PCA space (knn_search, Euclidean distance),
-- training and test images alike.
--
--   sqlite3 demo/state.db -cmd '.load dist/imgpca' \
--     -cmd ".parameter set \$image 'photo.jpg'" -cmd ".parameter set \$n 10" < sql/similar.sql
--
-- $image: a local path, file:// or s3:// URL (required).
-- $n:     how many images, default 5.
-- Prints rank|distance|label|key, nearest first (equal distances by key);
-- control characters of labels and keys escaped (imgpca_printable).
-- Uses the newest model fitted with the database's current source, spec
-- and k (sql/rules.sql).  Like sql/pipeline.sql, it reads sql/rules.sql:
-- run it from the folder holding sql/.  A missing $image, an unreadable or undecodable image, or a
-- database without a model is an error (exit status 1).
.bail on
.mode list
.headers off
-- begin: only when reading stage files
CREATE TEMP TABLE rule_file(
  found INTEGER CONSTRAINT "similar: cannot find sql/rules.sql from this working directory: run sql/similar.sql from the folder holding sql/ (the repository root or $PREFIX/share/imgpca)"
        CHECK (found));
INSERT INTO rule_file VALUES (readfile('sql/rules.sql') IS NOT NULL);
DROP TABLE rule_file;
-- end: only when reading stage files
.read sql/rules.sql
CREATE TEMP TABLE similar_args(
  image TEXT CONSTRAINT "similar: parameter $image is required (a local path, file:// or s3:// URL of a photo)"
        CHECK (image IS NOT NULL AND image <> ''),
  n INTEGER CONSTRAINT "similar: parameter $n must be a positive integer" CHECK (typeof(n) = 'integer' AND n >= 1),
  model_id INTEGER CONSTRAINT "similar: no PCA model in this database for its source, spec and k (run sql/pipeline.sql first)"
        CHECK (model_id IS NOT NULL)
);
-- the current model (view current_model of sql/rules.sql) of the stored settings
CREATE TEMP VIEW model_key AS
SELECT (SELECT value FROM settings WHERE key = 'source') AS source,
       (SELECT value FROM settings WHERE key = 'spec') AS spec,
       (SELECT value FROM settings WHERE key = 'k') AS k;
INSERT INTO similar_args
SELECT $image, coalesce(CAST($n AS INTEGER), 5), (SELECT id FROM current_model);
SELECT s.rank, printf('%.4f', s.distance), imgpca_printable(i.label), imgpca_printable(s.ref_id)
FROM similar_args AS a, models AS m,
     knn_search(pca_project(m.model, img_features(s3_fetch(a.image), m.spec)),
                printf('SELECT key, pc FROM projections WHERE model_id = %d', a.model_id), a.n) AS s
JOIN images AS i ON i.key = s.ref_id
WHERE m.id = a.model_id
ORDER BY s.rank;
DROP TABLE similar_args;
