-- Label a photo with the model of a pipeline state database: the labels of
-- its nearest training images in PCA space (Euclidean), and the vote of the
-- nearest $n (default 5).
--
--   sqlite3 demo/state.db -cmd '.load dist/imgpca' \
--     -cmd ".parameter set \$image 'photo.jpg'" < sql/classify.sql
--
-- $image: a local path, file:// or s3:// URL.  Uses the newest model fitted
-- with the database's current source, spec and k (see sql/pipeline.sql).
.bail on
.mode list
.headers off
CREATE TEMP TABLE query AS
SELECT m.id AS model_id,
       pca_project(m.model, img_features(s3_fetch($image), m.spec)) AS pc
FROM models AS m
WHERE m.source = (SELECT value FROM settings WHERE key = 'source')
  AND m.spec = (SELECT value FROM settings WHERE key = 'spec')
  AND m.k = (SELECT value FROM settings WHERE key = 'k')
ORDER BY m.id DESC LIMIT 1;
CREATE TEMP TABLE neighbours AS
SELECT i.label, p.key, fvec_l2(p.pc, q.pc) AS distance
FROM query AS q JOIN projections AS p ON p.model_id = q.model_id
JOIN images AS i ON i.key = p.key
WHERE i.split = 'train'
ORDER BY distance, p.key LIMIT coalesce($n, 5);
SELECT printf('%-30s %8.4f  %s', label, distance, key) FROM neighbours ORDER BY distance, key;
SELECT printf('predicted: %s (%d of %d nearest)', label, votes, (SELECT count(*) FROM neighbours))
FROM (SELECT label, count(*) AS votes, min(distance) AS best FROM neighbours GROUP BY label)
ORDER BY votes DESC, best LIMIT 1;
