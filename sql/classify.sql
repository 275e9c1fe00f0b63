-- Label a photo with the model of a pipeline state database: its nearest
-- training images in PCA space (knn_search, Euclidean distance) and the
-- vote of the nearest $knn.
--
--   sqlite3 demo/state.db -cmd '.load dist/imgpca' \
--     -cmd ".parameter set \$image 'photo.jpg'" < sql/classify.sql
--
-- $image: a local path, file:// or s3:// URL (required).
-- $knn:   neighbours that vote; default the pipeline's setting 'knn', else 1.
--         The vote: most neighbours, then the smallest summed distance,
--         then the label (the rule of sql/rules.sql, as in sql/pipeline.sql).
-- Prints the max($knn, 5) nearest training images under a header line
-- (label, distance, training image), then the prediction: "unknown" when
-- the nearest training image is farther than the model's threshold (table
-- thresholds, written by stage 6 of the pipeline: twice the 99th percentile
-- of the training images' leave-one-out nearest-neighbour distances, see
-- sql/stages/60-classify.sql), which a photo of something else than the
-- training images usually is.
-- Uses the newest model fitted with the database's current source, spec
-- and k (sql/rules.sql).  Like sql/pipeline.sql, it reads sql/rules.sql:
-- run it from the folder holding sql/, or as `imgpca classify` from
-- anywhere.  A missing $image, an unreadable or undecodable image, or a
-- database without a model is an error: a message on stderr and exit
-- status 1.
.bail on
.mode list
.headers off
-- begin: only when reading stage files
CREATE TEMP TABLE rule_file(
  found INTEGER CONSTRAINT "classify: cannot find sql/rules.sql from this working directory: run sql/classify.sql from the folder holding sql/ (the repository root or $PREFIX/share/imgpca), or run it from anywhere as `imgpca classify STATE.db PHOTO`"
        CHECK (found));
INSERT INTO rule_file VALUES (readfile('sql/rules.sql') IS NOT NULL);
DROP TABLE rule_file;
-- end: only when reading stage files
.read sql/rules.sql
CREATE TEMP TABLE args(
  image TEXT CONSTRAINT "classify: parameter $image is required (a local path, file:// or s3:// URL of a photo)"
        CHECK (image IS NOT NULL AND image <> ''),
  knn INTEGER CONSTRAINT "classify: parameter $knn must be a positive integer"
        CHECK (typeof(knn) = 'integer' AND knn >= 1)
);
INSERT INTO args
SELECT $image, coalesce(CAST($knn AS INTEGER),
                        (SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'knn'), 1);
CREATE TEMP TABLE model(
  id INTEGER CONSTRAINT "classify: no PCA model in this database for its source, spec and k (run sql/pipeline.sql first)"
     CHECK (id IS NOT NULL),
  spec TEXT, model BLOB
);
-- the current model (view current_model of sql/rules.sql) of the stored settings
CREATE TEMP VIEW model_key AS
SELECT (SELECT value FROM settings WHERE key = 'source') AS source,
       (SELECT value FROM settings WHERE key = 'spec') AS spec,
       (SELECT value FROM settings WHERE key = 'k') AS k;
INSERT INTO model SELECT (SELECT id FROM current_model), NULL, NULL;
UPDATE model SET spec = m.spec, model = m.model FROM models AS m WHERE m.id = model.id;
CREATE TEMP TABLE has_thresholds(
  n INTEGER CONSTRAINT "classify: this state database has no table thresholds (made by an earlier version): run sql/pipeline.sql on it once"
    CHECK (n = 1));
INSERT INTO has_thresholds SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'thresholds';
-- s3_fetch and img_features fail with a message naming the image
CREATE TEMP TABLE query AS
SELECT pca_project(m.model, img_features(s3_fetch(a.image), m.spec)) AS pc FROM model AS m, args AS a;
CREATE TEMP TABLE neighbours AS
SELECT n.rank, i.label, n.ref_id AS key, n.distance
FROM query AS q, model AS m, args AS a,
     knn_search(q.pc, printf('SELECT p.key, p.pc FROM projections AS p JOIN images AS i USING (key)
                              WHERE i.split = ''train'' AND p.model_id = %d', m.id), max(a.knn, 5)) AS n
JOIN images AS i ON i.key = n.ref_id;
-- the vote of the nearest $knn: view knn_vote of sql/rules.sql
CREATE TEMP VIEW knn_voters AS
SELECT 1 AS query, label, distance FROM neighbours, args AS a WHERE rank <= a.knn;
SELECT printf('%-30s %8s  %s', 'label', 'distance', 'training image');
SELECT imgpca_printable(printf('%-30s %8.4f  %s', label, distance, key)) FROM neighbours ORDER BY rank;
SELECT imgpca_printable(CASE
  WHEN t.distance IS NOT NULL AND n.distance > t.distance
    THEN printf('predicted: unknown (the nearest training image, %s at %.4f, is farther than the model''s threshold %.4f: unlike the training images; the vote of the %d nearest says %s)',
                n.label, n.distance, t.distance, v.knn, v.label)
  ELSE printf('predicted: %s (%d of %d nearest)%s', v.label, v.votes, v.knn,
              CASE WHEN t.distance IS NULL THEN ' (no threshold for unknown photos with this model: run sql/pipeline.sql with $classify = 1)' ELSE '' END)
  END)
FROM (SELECT v.label, v.votes, a.knn FROM knn_vote AS v, args AS a) AS v,
     (SELECT label, distance FROM neighbours WHERE rank = 1) AS n,
     model AS m LEFT JOIN thresholds AS t ON t.model_id = m.id;
