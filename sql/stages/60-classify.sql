-- ---------------------------------------------------------------------------
-- 6. Classify: each test image gets the label of its nearest training image
--    in PCA space (1-NN, Euclidean distance, ties broken by key).
-- ---------------------------------------------------------------------------
DELETE FROM predictions WHERE model_id IS NOT (SELECT id FROM model);
CREATE TEMP TABLE train_pc AS
SELECT p.key, i.label, p.pc FROM projections AS p JOIN images AS i USING (key)
WHERE i.split = 'train' ORDER BY p.key;
-- (SQLite: the row of min() supplies the bare columns; train_pc is in key
-- order, so ties go to the smallest key)
-- (MATERIALIZED: the search runs once per test image, not once per use of nn)
WITH q AS MATERIALIZED (
  SELECT q.key, q.model_id,
         (SELECT json_array(r.key, r.label, min(fvec_l2(r.pc, q.pc))) FROM train_pc AS r) AS nn
  FROM projections AS q JOIN images AS qi USING (key)
  WHERE qi.split = 'test' AND q.key NOT IN (SELECT key FROM predictions)
    AND (SELECT classify FROM cfg) = 1)
INSERT INTO predictions(key, model_id, predicted, neighbour, distance)
SELECT key, model_id, json_extract(nn, '$[1]'), json_extract(nn, '$[0]'), json_extract(nn, '$[2]')
FROM q;
CREATE VIEW IF NOT EXISTS accuracy AS
SELECT count(*) AS tested, sum(p.predicted = i.label) AS correct,
       round(100.0 * avg(p.predicted = i.label), 2) AS percent
FROM predictions AS p JOIN images AS i USING (key);
CREATE VIEW IF NOT EXISTS accuracy_by_label AS
SELECT i.label, count(*) AS tested, sum(p.predicted = i.label) AS correct,
       round(100.0 * avg(p.predicted = i.label), 2) AS percent
FROM predictions AS p JOIN images AS i USING (key) GROUP BY i.label;
SELECT printf('classified: %d test images, 1-NN accuracy %.2f %% (%d correct)', tested, percent, correct)
FROM accuracy WHERE tested > 0;
