-- ---------------------------------------------------------------------------
-- 6. Classify: each test image gets the label voted by its $knn nearest
--    training images in PCA space (knn_search: exact Euclidean distance,
--    equal distances by key).  The vote: most neighbours, then the smallest
--    summed distance, then the label.  Only test images without a
--    prediction are searched; predictions made with another model or
--    another $knn are dropped first.
--    Views: accuracy, accuracy_by_label, confusions (true label ->
--    predicted label, most frequent first, with example keys).
-- ---------------------------------------------------------------------------
-- (table classified, views accuracy, accuracy_by_label, confusions: see 00-setup.sql)
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
     AND (SELECT value FROM settings WHERE key = ''classify'') = 1
   ORDER BY q.key',
  'SELECT p.key, p.pc FROM projections AS p JOIN images AS i USING (key) WHERE i.split = ''train''',
  cfg.knn) AS n
JOIN images AS i ON i.key = n.ref_id;
CREATE INDEX temp.knn_hits_key ON knn_hits(key, rank);
INSERT INTO predictions(key, model_id, predicted, neighbour, distance)
SELECT v.key, (SELECT id FROM model), v.label, h.neighbour, h.distance
FROM (SELECT key, label,
             row_number() OVER (PARTITION BY key ORDER BY count(*) DESC, sum(distance), label) AS place
      FROM knn_hits GROUP BY key, label) AS v
JOIN knn_hits AS h ON h.key = v.key AND h.rank = 1
WHERE v.place = 1;
DROP TABLE knn_hits;
SELECT printf('classified: %d test images, %d-NN accuracy %.2f %% (%d correct)', tested, cfg.knn, percent, correct)
FROM accuracy, cfg WHERE tested > 0;
-- (the same as the first rows of the view confusions, read from the tables:
-- with trusted_schema off, SQLite 3.40 refuses json_group_array in a view)
-- (labels and keys are untrusted text: imgpca_printable escapes control characters)
SELECT imgpca_printable(printf('most confused: %s -> %s (%d of its test images), e.g. %s', label, predicted, errors, example))
FROM (SELECT i.label, p.predicted, count(*) AS errors, min(p.key) AS example
      FROM predictions AS p JOIN images AS i USING (key) WHERE p.predicted IS NOT i.label
      GROUP BY i.label, p.predicted ORDER BY errors DESC, i.label, p.predicted LIMIT 3);
