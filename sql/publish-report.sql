-- imgpca scale-out, end of stage 4 (publish): $out/report.html (docs/REPORT.md), read by
-- sql/publish.sql after the CSV is written (needs its temp table parts; run from the
-- repository root).  From what a sharded run keeps: the model (summary, explained variance)
-- and an even sample of at most 10000 rows for the scatter plot, parsed back from the CSV
-- parts one part at a time (key, label, first 10 components; rows whose key or label is
-- quoted in the CSV are left out of the sample).  No thumbnails, classification, error list
-- or eigen-images: those exist in single-machine runs only.
CREATE TEMP TABLE rpt_model AS
  SELECT s3_fetch($out || '/model/model.pca') AS model,
         CAST(s3_fetch($out || '/model/model.json') AS TEXT) AS meta,
         CAST(s3_fetch_or_null(printf('%s/manifest/map-%05d-of-%05d.json', $out, 0, $nshard)) AS TEXT) AS map0,
         (SELECT sum(manifest ->> 'rows') FROM parts) AS n;
-- every step-th line of each part (its header skipped by a range read): the CSV text
-- becomes a JSON array of lines for json_each
CREATE TEMP TABLE rpt_rows AS
  SELECT p.shard, CAST(j.key AS INTEGER) AS rn, j.value AS line
    FROM rpt_model AS m, (SELECT * FROM parts ORDER BY shard) AS p,
         json_each('["' || replace(replace(replace(replace(rtrim(
             CAST(s3_fetch(p.csv_url, p.manifest ->> 'header_bytes') AS TEXT), char(10)),
             '\', '\\'), '"', '\"'), char(13), ''), char(10), '","') || '"]') AS j
   WHERE p.manifest ->> 'rows' > 0
     AND CAST(j.key AS INTEGER) % max(1, (m.n + 9999) / 10000) = 0 AND instr(j.value, '"') = 0;
CREATE TEMP TABLE rpt_pts AS
  SELECT shard, rn, substr(line, 1, instr(line, ',') - 1) AS key,
         substr(rest, 1, instr(rest, ',') - 1) AS label, '[' || substr(rest, instr(rest, ',') + 1) || ']' AS pcs
    FROM (SELECT shard, rn, line, substr(line, instr(line, ',') + 1) AS rest FROM rpt_rows);
CREATE TEMP TABLE rpt_labels AS
  SELECT label, row_number() OVER (ORDER BY label) - 1 AS li FROM (SELECT DISTINCT label FROM rpt_pts);
SELECT 'publish: wrote ' || $out || '/report.html (' || s3_put($out || '/report.html', imgpca_report_html(json_object(
  'summary', json_object(
     'source', map0 ->> 'source', 'out', $dest, 'spec', meta ->> 'spec', 'k', pca_info(model) ->> 'k',
     'd', pca_info(model) ->> 'd', 'n_fit', pca_info(model) ->> 'n',
     'variance', json_extract(pca_info(model), '$.cumulative[#-1]'),
     'images', n, 'features', n, 'projected', n, 'model_id', $run, 'generated', datetime('now')),
  'labels', (SELECT json_group_array(label) FROM (SELECT label FROM rpt_labels ORDER BY li)),
  'scree', json_object('ratio', pca_info(model) -> 'ratio', 'cumulative', pca_info(model) -> 'cumulative'),
  'points', (SELECT json_group_array(json_array(key, li, NULL, json(pcs10), NULL))
               FROM (SELECT p.key, l.li,
                            (SELECT json_group_array(CAST(printf('%.4g', value) AS REAL))
                               FROM json_each(p.pcs) WHERE CAST(key AS INTEGER) < 10) AS pcs10
                       FROM rpt_pts AS p JOIN rpt_labels AS l USING (label) ORDER BY p.shard, p.rn))))) || ')'
  FROM rpt_model;
