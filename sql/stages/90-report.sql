-- ---------------------------------------------------------------------------
-- 9. Report: $out/report.html, one self-contained page (inline CSS/JS, images
--    as data: URIs, no request leaves it).  The data is one JSON value built
--    here; the page template is compiled into the extension and filled by
--    imgpca_report_html() (ext/report/).  Reference: docs/REPORT.md.
--
--    $report_points  most points in the scatter (an even sample in key order),
--                    default 10000
--    $report_thumbs  most hover thumbnails (every n-th drawn point), default 1500;
--                    with the defaults 10k images give a page of about 3 MB
--    (checked and stored like every setting: cfg.report_points and
--    cfg.report_thumbs, see 00-setup.sql)
--    Thumbnails come from the state database (table thumbs, made in stage 3
--    from the bytes fetched for the features): this stage sends no request
--    but the upload of the page.  Needs the temp table cfg and the temp view
--    model of the earlier stages.
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE rpt_cfg AS
SELECT cfg.report_points AS max_points, cfg.report_thumbs AS max_thumbs,
       48 AS thumb_px,
       min(10, coalesce((SELECT json_extract(pca_info(model), '$.k') FROM model), 2)) AS ncomp
FROM cfg;

CREATE TEMP TABLE rpt_labels AS
SELECT label, row_number() OVER (ORDER BY label) - 1 AS li
FROM (SELECT DISTINCT label FROM images WHERE label IS NOT NULL);

-- the sampled points, then every n-th of them gets a thumbnail
CREATE TEMP TABLE rpt_points AS
WITH p AS (SELECT p.key, i.label, i.split, p.pc,
                  row_number() OVER (ORDER BY p.key) AS rn, count(*) OVER () AS n
           FROM projections AS p JOIN images AS i USING (key))
SELECT row_number() OVER (ORDER BY key) - 1 AS idx, key, label, split, pc, n AS projected
FROM p, rpt_cfg WHERE (rn - 1) % max(1, (n + max_points - 1) / max_points) = 0;

CREATE TEMP TABLE rpt_thumbs AS
SELECT p.key, 'data:image/jpeg;base64,' || imgpca_base64(t.thumb) AS uri
FROM rpt_points AS p JOIN thumbs AS t USING (key), rpt_cfg AS c, (SELECT count(*) AS np FROM rpt_points) AS n
WHERE c.max_thumbs > 0 AND t.thumb IS NOT NULL AND p.idx % max(1, (n.np + c.max_thumbs - 1) / c.max_thumbs) = 0;

-- the most confused (true, predicted) pairs, two examples each
CREATE TEMP TABLE rpt_conf AS
WITH wrong AS (SELECT i.label, p.predicted, p.key, p.neighbour, p.distance
               FROM predictions AS p JOIN images AS i USING (key)
               WHERE p.predicted IS NOT i.label),
     pairs AS (SELECT label, predicted, count(*) AS n FROM wrong GROUP BY label, predicted
               ORDER BY n DESC, label, predicted LIMIT 12),
     ex AS (SELECT w.*, row_number() OVER (PARTITION BY w.label, w.predicted ORDER BY w.distance, w.key) AS r
            FROM wrong AS w JOIN pairs USING (label, predicted))
SELECT pairs.label, pairs.predicted, pairs.n, ex.key, ex.neighbour, ex.distance,
       (SELECT 'data:image/jpeg;base64,' || imgpca_base64(thumb) FROM thumbs WHERE key = ex.key) AS thumb,
       (SELECT 'data:image/jpeg;base64,' || imgpca_base64(thumb) FROM thumbs WHERE key = ex.neighbour) AS nthumb
FROM pairs JOIN ex USING (label, predicted) WHERE ex.r <= 2;

-- pixel specs ('pixels:size=WxH' or 'size=N', optional color=grey): mean and
-- eigen-images, when W*H*channels is the model's dimension
CREATE TEMP TABLE rpt_pix AS
WITH s AS (SELECT spec, instr(spec, 'size=') AS at FROM cfg
           WHERE spec LIKE 'pixels:%' AND instr(spec, ';') = 0),
     z AS (SELECT spec, substr(spec, at + 5) AS rest FROM s WHERE at > 0),
     v AS (SELECT spec, CASE WHEN instr(rest, ',') THEN substr(rest, 1, instr(rest, ',') - 1) ELSE rest END AS size FROM z),
     d AS (SELECT spec, CAST(CASE WHEN instr(size, 'x') THEN substr(size, 1, instr(size, 'x') - 1) ELSE size END AS INTEGER) AS w,
                  CAST(CASE WHEN instr(size, 'x') THEN substr(size, instr(size, 'x') + 1) ELSE size END AS INTEGER) AS h,
                  CASE WHEN spec LIKE '%color=gr_y%' THEN 1 ELSE 3 END AS channels,
                  spec LIKE '%standard%' AS standard
           FROM v)
SELECT d.* FROM d, model AS m WHERE d.w > 0 AND d.h > 0 AND d.w * d.h * d.channels = json_extract(pca_info(m.model), '$.d');

CREATE TEMP TABLE rpt_eigen AS
SELECT json_object(
  'w', x.w, 'h', x.h, 'channels', x.channels,
  'mean', 'data:image/png;base64,' || imgpca_base64(img_encode(
            CASE WHEN x.standard THEN img_from_fvec(pca_mean(m.model)) ELSE img_from_fvec(pca_mean(m.model), 0, 1) END,
            x.w, x.h, x.channels, 'png')),
  'components', (SELECT json_group_array(json_array(idx, ratio, 'data:image/png;base64,' || imgpca_base64(img_encode(
                   img_from_fvec(component, -a, a), x.w, x.h, x.channels, 'png'))))
                 FROM (SELECT c.idx, c.ratio, c.component,
                              (SELECT max(abs(value)) + 1e-12 FROM json_each(fvec_to_json(c.component))) AS a
                       FROM pca_components(m.model) AS c WHERE c.idx <= 12 ORDER BY c.idx))) AS j
FROM rpt_pix AS x, model AS m;

CREATE TEMP TABLE rpt_json AS
SELECT json_object(
  'summary', json_object(
     'source', cfg.source, 'out', cfg.out, 'spec', cfg.spec, 'k', m.k, 'model_id', m.id, 'n_fit', m.n,
     'd', json_extract(pca_info(m.model), '$.d'),
     'variance', json_extract(pca_info(m.model), '$.cumulative[#-1]'),
     'images', (SELECT count(*) FROM images),
     'features', (SELECT count(*) FROM images WHERE features IS NOT NULL),
     'errors', (SELECT count(*) FROM errors),
     'train', (SELECT count(*) FROM images WHERE split = 'train'),
     'test', (SELECT count(*) FROM images WHERE split = 'test'),
     'projected', (SELECT count(*) FROM projections),
     'tested', a.tested, 'correct', a.correct, 'accuracy', a.percent,
     'seconds', (SELECT round((julianday('now') - julianday(started)) * 86400, 1) FROM runs ORDER BY id DESC LIMIT 1),
     'generated', datetime('now')),
  'labels', (SELECT json_group_array(label) FROM (SELECT label FROM rpt_labels ORDER BY li)),
  'scree', json_object('ratio', json_extract(pca_info(m.model), '$.ratio'),
                       'cumulative', json_extract(pca_info(m.model), '$.cumulative')),
  'points', (SELECT json_group_array(json_array(key, li, split = 'test', json(pcs), uri))
             FROM (SELECT p.key, coalesce(l.li, -1) AS li, p.split, t.uri,
                          (SELECT json_group_array(CAST(printf('%.4g', value) AS REAL))
                           FROM json_each(fvec_to_json(fvec_slice(p.pc, 0, min(c.ncomp, fvec_dims(p.pc)))))) AS pcs
                   FROM rpt_points AS p CROSS JOIN rpt_cfg AS c
                   LEFT JOIN rpt_labels AS l ON l.label = p.label LEFT JOIN rpt_thumbs AS t ON t.key = p.key
                   ORDER BY p.idx)),
  'accuracy_by_label', (SELECT json_group_array(json_array(label, tested, correct))
                        FROM (SELECT label, tested, correct FROM accuracy_by_label ORDER BY label)),
  'confusions', (SELECT json_group_array(json_object('label', label, 'predicted', predicted, 'n', n, 'examples', json(ex)))
                 FROM (SELECT label, predicted, n,
                              json_group_array(json_object('key', key, 'neighbour', neighbour, 'distance', distance,
                                                           'thumb', thumb, 'nthumb', nthumb)) AS ex
                       FROM rpt_conf GROUP BY label, predicted ORDER BY n DESC, label, predicted)),
  'errors', (SELECT json_group_array(json_array(key, error)) FROM (SELECT key, error FROM errors ORDER BY key LIMIT 1000)),
  'eigen', (SELECT json(j) FROM rpt_eigen)) AS j
FROM cfg, model AS m, accuracy AS a;

SELECT printf('report: %s/report.html, %d bytes', imgpca_printable(out), length(CAST(h AS BLOB)))
FROM cfg, (SELECT imgpca_report_html(j) AS h FROM rpt_json)
WHERE s3_put(out || '/report.html', h) IS NOT NULL;

DROP TABLE rpt_json; DROP TABLE rpt_eigen; DROP TABLE rpt_pix; DROP TABLE rpt_conf;
DROP TABLE rpt_thumbs; DROP TABLE rpt_points; DROP TABLE rpt_labels; DROP TABLE rpt_cfg;
