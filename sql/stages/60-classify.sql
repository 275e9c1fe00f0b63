-- ---------------------------------------------------------------------------
-- 6. Classify: each test image gets the label voted by its $knn nearest
--    training images in PCA space (knn_search: exact Euclidean distance,
--    equal distances by key).  The vote (sql/rules.sql): most neighbours,
--    then the smallest summed distance, then the label.  Only test images without a
--    prediction are searched; predictions made with another model or
--    another $knn are dropped first.
--    Views: accuracy, accuracy_by_label, confusions (true label ->
--    predicted label, most frequent first, with example keys).
-- ---------------------------------------------------------------------------
--    Unknown: a test image whose nearest training image is farther than the
--    model's threshold is counted as "unknown" (its nearest label is still
--    stored in predictions and counted by the accuracy).  The threshold
--    (table thresholds, one row per model, also read by sql/classify.sql) is
--    twice the 99th percentile of the training images' own leave-one-out
--    nearest-neighbour distances in PCA space (the distance to the nearest
--    *other* training image, for an even sample in key order of at most 1000
--    training images against all of them; skipped with $classify = 0).  Twice: training sets such as
--    Fruits-360 hold many near-identical shots of one object, so a new photo
--    of a known kind is farther from them than they are from each other; on
--    the Fruits-360 sample 4 of 2,115 test images lie beyond the threshold,
--    and photos of a bus or a landscape do.
-- (tables classified, thresholds, views accuracy, accuracy_by_label,
-- confusions: see 00-setup.sql)
CREATE TEMP TABLE loo AS
SELECT n.query_id AS key, min(n.distance) AS d
FROM knn_search(
  'SELECT key, pc FROM (SELECT p.key, p.pc, row_number() OVER (ORDER BY p.key) AS r, count(*) OVER () AS c
                        FROM projections AS p JOIN images AS i USING (key) WHERE i.split = ''train'')
   WHERE (r - 1) % max(1, c / 1000) = 0
     AND NOT EXISTS (SELECT 1 FROM thresholds WHERE model_id = (SELECT id FROM temp.model))
     AND (SELECT classify FROM temp.cfg) = 1',
  'SELECT p.key, p.pc FROM projections AS p JOIN images AS i USING (key) WHERE i.split = ''train''', 2) AS n
WHERE n.ref_id IS NOT n.query_id
GROUP BY n.query_id;
INSERT INTO thresholds(model_id, distance, loo, quantile, factor, sample)
SELECT (SELECT id FROM model), 2 * d, d, 0.99, 2, n
FROM (SELECT d, row_number() OVER (ORDER BY d) AS r, count(*) OVER () AS n FROM loo)
WHERE r = max(1, CAST(ceil(0.99 * n) AS INTEGER)) AND (SELECT id FROM model) IS NOT NULL;
DROP TABLE loo;
DELETE FROM predictions
WHERE model_id IS NOT (SELECT id FROM model)
   OR (SELECT knn FROM cfg) IS NOT (SELECT knn FROM classified);
INSERT OR REPLACE INTO classified(id, model_id, knn) SELECT 1, (SELECT id FROM model), knn FROM cfg;
-- The search reads the test and training projections through SQL text
-- (nothing to search when classification is off or everything is done).
CREATE TEMP TABLE knn_hits AS
SELECT n.query_id AS key, n.rank, n.ref_id AS neighbour, i.label, n.distance
FROM cfg, knn_search(
  'SELECT q.key, q.pc FROM projections AS q JOIN images AS qi USING (key)
   WHERE qi.split = ''test'' AND q.key NOT IN (SELECT key FROM predictions)
     AND (SELECT classify FROM temp.cfg) = 1
   ORDER BY q.key',
  'SELECT p.key, p.pc FROM projections AS p JOIN images AS i USING (key) WHERE i.split = ''train''',
  cfg.knn) AS n
JOIN images AS i ON i.key = n.ref_id;
CREATE INDEX temp.knn_hits_key ON knn_hits(key, rank);
-- the vote: view knn_vote of sql/rules.sql
CREATE TEMP VIEW knn_voters AS SELECT key AS query, label, distance FROM knn_hits;
INSERT INTO predictions(key, model_id, predicted, neighbour, distance)
SELECT v.query, (SELECT id FROM model), v.label, h.neighbour, h.distance
FROM knn_vote AS v JOIN knn_hits AS h ON h.key = v.query AND h.rank = 1;
DROP VIEW knn_voters;
DROP TABLE knn_hits;
SELECT printf('classified: %d test images, %d-NN accuracy %.2f %% (%d correct)', tested, cfg.knn, percent, correct)
FROM accuracy, cfg WHERE tested > 0;
SELECT printf('unknown: %d test image%s farther from every training image than the model''s threshold %.4f (%g x the %g quantile of the training images'' leave-one-out nearest-neighbour distances, %.4f)%s',
              count(p.key), CASE WHEN count(p.key) = 1 THEN '' ELSE 's' END, t.distance, t.factor, t.quantile, t.loo,
              CASE WHEN count(p.key) > 0
                   THEN printf(', the farthest %s at %.4f', (SELECT key FROM predictions WHERE model_id = t.model_id
                                                             ORDER BY distance DESC, key LIMIT 1), max(p.distance))
                   ELSE '' END)
FROM thresholds AS t LEFT JOIN predictions AS p ON p.model_id = t.model_id AND p.distance > t.distance
WHERE t.model_id = (SELECT id FROM model)
HAVING EXISTS (SELECT 1 FROM predictions);
-- (the same as the first rows of the view confusions, read from the tables:
-- with trusted_schema off, SQLite 3.40 refuses json_group_array in a view)
-- (labels and keys are untrusted text: imgpca_printable escapes control characters)
SELECT imgpca_printable(printf('most confused: %s -> %s (%d of its test images), e.g. %s', label, predicted, errors, example))
FROM (SELECT i.label, p.predicted, count(*) AS errors, min(p.key) AS example
      FROM predictions AS p JOIN images AS i USING (key) WHERE p.predicted IS NOT i.label
      GROUP BY i.label, p.predicted ORDER BY errors DESC, i.label, p.predicted LIMIT 3);
