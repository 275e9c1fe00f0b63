-- imgpca scale-out, end of stage 4 (publish): $out/report.html (docs/REPORT.md), read by
-- sql/publish.sql after the CSV is written (needs its temp table parts; run from the
-- repository root).  The CSV parts are not read back: each project task wrote beside its part
-- parts/part-SSSSS-of-NNNNN.points.json (key, label, split and projection of every row, as
-- JSON) and .thumbs.json (the thumbnails of about 1,500 rows over all shards), and this file
-- GETs each of them exactly once (materialized first, so no row of a query fetches again).
-- From those and the model: the summary (images, split, explained variance), an even sample
-- of at most 10000 points for the scatter plot with their thumbnails and split, the scree
-- plot, and the classification of every test image by its nearest training image in PCA
-- space (knn_search over all projected rows, as stage 6 of the pipeline does), with the
-- accuracy per label and the most confused pairs.  Undecodable images: the map stage fails
-- a shard holding any (sql/map.sql), so a published run has none, and the page says 0.
-- Memory grows with the rows (about 100 bytes per row for k = 16).
CREATE TEMP TABLE rpt_model AS
  SELECT s3_fetch($out || '/model/model.pca') AS model,
         CAST(s3_fetch($out || '/model/model.json') AS TEXT) AS meta,
         CAST(s3_fetch_or_null(printf('%s/manifest/map-%05d-of-%05d.json', $out, 0, $nshard)) AS TEXT) AS map0,
         CAST(s3_fetch_or_null($out || '/plan/_plan.json') AS TEXT) AS plan,
         (SELECT sum(manifest ->> 'rows') FROM parts) AS n;
.output stderr
SELECT printf('publish: report: reading the points of %d parts', count(*)) FROM parts;
.output stdout
CREATE TEMP TABLE rpt_files AS
  SELECT shard,
         CAST(s3_fetch(printf('%s/parts/part-%05d-of-%05d.points.json', $out, shard, $nshard)) AS TEXT) AS points,
         CAST(s3_fetch_or_null(printf('%s/parts/part-%05d-of-%05d.thumbs.json', $out, shard, $nshard)) AS TEXT) AS thumbs
    FROM parts;
CREATE TEMP TABLE rpt_all AS
  SELECT j.value ->> 0 AS key, j.value ->> 1 AS label, j.value ->> 2 AS split,
         fvec_from_json(j.value -> 3) AS pc
    FROM rpt_files AS f, json_each(f.points) AS j;
CREATE UNIQUE INDEX temp.rpt_all_key ON rpt_all(key);
CREATE TEMP TABLE rpt_thumbs AS
  SELECT t.key AS key, 'data:image/jpeg;base64,' || t.value AS uri
    FROM rpt_files AS f, json_each(coalesce(f.thumbs, '{}')) AS t;
CREATE UNIQUE INDEX temp.rpt_thumbs_key ON rpt_thumbs(key);
-- every row must be there: the parts' manifests count them
CREATE TEMP TABLE rpt_guard(
  missing INTEGER CONSTRAINT "publish: report: the points files do not hold every row of the parts" CHECK (missing = 0));
INSERT INTO rpt_guard SELECT (SELECT n FROM rpt_model) - (SELECT count(*) FROM rpt_all);
.output stderr
SELECT printf('publish: report: classifying %d test images against %d training images',
              count(*) FILTER (WHERE split = 'test'), count(*) FILTER (WHERE split = 'train')) FROM rpt_all;
.output stdout
-- 1-NN of each test row among the training rows (exact; equal distances by key)
CREATE TEMP TABLE rpt_pred AS
  SELECT n.query_id AS key, q.label, r.label AS predicted, n.ref_id AS neighbour, n.distance
    FROM knn_search('SELECT key, pc FROM temp.rpt_all WHERE split = ''test'' ORDER BY key',
                    'SELECT key, pc FROM temp.rpt_all WHERE split = ''train''', 1) AS n
    JOIN rpt_all AS q ON q.key = n.query_id JOIN rpt_all AS r ON r.key = n.ref_id;
CREATE TEMP TABLE rpt_conf AS
  WITH wrong AS (SELECT * FROM rpt_pred WHERE predicted IS NOT label),
       pairs AS (SELECT label, predicted, count(*) AS n FROM wrong GROUP BY label, predicted
                 ORDER BY n DESC, label, predicted LIMIT 12),
       ex AS (SELECT w.*, row_number() OVER (PARTITION BY w.label, w.predicted ORDER BY w.distance, w.key) AS r
                FROM wrong AS w JOIN pairs USING (label, predicted))
  SELECT pairs.label, pairs.predicted, pairs.n, ex.key, ex.neighbour, ex.distance,
         (SELECT uri FROM rpt_thumbs WHERE key = ex.key) AS thumb,
         (SELECT uri FROM rpt_thumbs WHERE key = ex.neighbour) AS nthumb
    FROM pairs JOIN ex USING (label, predicted) WHERE ex.r <= 2;
CREATE TEMP TABLE rpt_pts AS
  SELECT key, label, split, pc
    FROM (SELECT *, row_number() OVER (ORDER BY key) AS rn, count(*) OVER () AS cnt FROM rpt_all)
   WHERE (rn - 1) % max(1, (cnt + 9999) / 10000) = 0;
CREATE TEMP TABLE rpt_labels AS
  SELECT label, row_number() OVER (ORDER BY label) - 1 AS li FROM (SELECT DISTINCT label FROM rpt_all);
SELECT 'publish: wrote ' || $out || '/report.html (' || s3_put($out || '/report.html', imgpca_report_html(json_object(
  'summary', json_object(
     'source', coalesce(plan ->> 'source', map0 ->> 'source'), 'out', $dest, 'spec', meta ->> 'spec',
     'k', pca_info(model) ->> 'k', 'd', pca_info(model) ->> 'd', 'n_fit', pca_info(model) ->> 'n',
     'variance', json_extract(pca_info(model), '$.cumulative[#-1]'),
     'images', n, 'features', n, 'projected', n, 'errors', 0,
     'train', (SELECT count(*) FROM rpt_all WHERE split = 'train'),
     'test', (SELECT count(*) FROM rpt_all WHERE split = 'test'),
     'tested', (SELECT count(*) FROM rpt_pred), 'correct', (SELECT sum(predicted = label) FROM rpt_pred),
     'accuracy', (SELECT round(100.0 * avg(predicted = label), 2) FROM rpt_pred),
     -- run time: from the plan (written first) to this page
     'seconds', round((julianday('now') - julianday(plan ->> 'written')) * 86400, 1),
     'model_id', $run, 'generated', datetime('now')),
  'labels', (SELECT json_group_array(label) FROM (SELECT label FROM rpt_labels ORDER BY li)),
  'scree', json_object('ratio', pca_info(model) -> 'ratio', 'cumulative', pca_info(model) -> 'cumulative'),
  'points', (SELECT json_group_array(json_array(key, li, split = 'test', json(pcs), uri))
               FROM (SELECT p.key, l.li, p.split, t.uri,
                            (SELECT json_group_array(CAST(printf('%.4g', value) AS REAL))
                               FROM json_each(fvec_to_json(fvec_slice(p.pc, 0, min(10, fvec_dims(p.pc)))))) AS pcs
                       FROM rpt_pts AS p JOIN rpt_labels AS l USING (label)
                       LEFT JOIN rpt_thumbs AS t USING (key) ORDER BY p.key)),
  'accuracy_by_label', (SELECT json_group_array(json_array(label, tested, correct))
                          FROM (SELECT label, count(*) AS tested, sum(predicted = label) AS correct
                                  FROM rpt_pred GROUP BY label ORDER BY label)),
  'confusions', (SELECT json_group_array(json_object('label', label, 'predicted', predicted, 'n', n, 'examples', json(ex)))
                   FROM (SELECT label, predicted, n,
                                json_group_array(json_object('key', key, 'neighbour', neighbour, 'distance', distance,
                                                             'thumb', thumb, 'nthumb', nthumb)) AS ex
                           FROM rpt_conf GROUP BY label, predicted ORDER BY n DESC, label, predicted)),
  'errors', json('[]')))) || ')'
  FROM rpt_model;
