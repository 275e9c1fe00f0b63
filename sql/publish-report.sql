-- imgpca scale-out, end of stage 4 (publish): $out/report.html (docs/REPORT.md), read by
-- sql/publish.sql after the CSV is written (needs its temp table parts; run from the
-- repository root).  From what a sharded run keeps: the model (summary, explained variance)
-- and an even sample of at most 10000 rows for the scatter plot, parsed back from bounded
-- windows of the CSV parts (key, label, first 10 components; rows whose key or label is
-- quoted in the CSV are left out of the sample), so memory does not grow with the parts.  No thumbnails, classification, error list
-- or eigen-images: those exist in single-machine runs only.
CREATE TEMP TABLE rpt_model AS
  SELECT s3_fetch($out || '/model/model.pca') AS model,
         CAST(s3_fetch($out || '/model/model.json') AS TEXT) AS meta,
         CAST(s3_fetch_or_null(printf('%s/manifest/map-%05d-of-%05d.json', $out, 0, $nshard)) AS TEXT) AS map0,
         (SELECT sum(manifest ->> 'rows') FROM parts) AS n;
-- The sample is read in bounded pieces, so that memory stays constant whatever the
-- size of a part: a part body of at most 4 MiB in one piece, a larger one in 16 windows of
-- 256 KiB at evenly spaced offsets (after its header), each cut to its whole lines (the partial first and last lines of a
-- window are dropped), then every step-th of those lines.  The text of a window becomes a
-- JSON array of lines for json_each.
CREATE TEMP TABLE rpt_windows AS
  WITH RECURSIVE w(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM w WHERE i < 15),
  b AS (SELECT shard, csv_url, manifest ->> 'header_bytes' AS h, manifest ->> 'bytes' - manifest ->> 'header_bytes' AS body
          FROM parts WHERE manifest ->> 'rows' > 0)
  -- a body of at most 4 MiB is one window (every line); a larger one 16 windows
  SELECT b.shard, w.i AS win, b.csv_url AS url, b.h + w.i * b.body / 16 AS off,
         min(262144, b.body - w.i * b.body / 16) AS len
    FROM b, w WHERE b.body > 4194304
  UNION ALL
  SELECT b.shard, 0, b.csv_url, b.h, b.body FROM b WHERE b.body <= 4194304;
CREATE TEMP TABLE rpt_lines AS
  SELECT x.shard, x.win, CAST(j.key AS INTEGER) AS pos, j.value AS line, x.whole_start, j.key = x.last AS is_last
    FROM (SELECT shard, win, off, len, t, off = (SELECT manifest ->> 'header_bytes' FROM parts AS q WHERE q.shard = r.shard) AS whole_start,
                 json_array_length(t) - 1 AS last
            FROM (SELECT shard, win, off, len,
                         '["' || replace(replace(replace(replace(CAST(s3_fetch(url, off, len) AS TEXT),
                         '\', '\\'), '"', '\"'), char(13), ''), char(10), '","') || '"]' AS t
                    FROM rpt_windows WHERE len > 0) AS r) AS x,
         json_each(x.t) AS j;
-- drop the partial first line of a window (unless it starts the part) and its last piece
-- (a partial line, or the empty string after the final newline)
CREATE TEMP TABLE rpt_rows AS
  SELECT shard, row_number() OVER (ORDER BY shard, win, pos) AS rn, line
    FROM rpt_lines
   WHERE NOT is_last AND (pos > 0 OR whole_start) AND line <> '' AND instr(line, '"') = 0;
DELETE FROM rpt_rows
 WHERE rn % max(1, ((SELECT count(*) FROM rpt_rows) + 9999) / 10000) <> 0;
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
