-- imgpca scale-out, stage 4 (publish): one CSV with a single header from the N parts.
--
-- Parameters (see map.sql): :run, :out, :nshard, and
--   :dest         URL of the final CSV (local path or s3://bucket/key)
--
-- Refuses unless all N part manifests exist for this run and every part matches its recorded
-- SHA3-256 and has the same header.  Writes :dest (parts in shard order, the header once) and
-- :out/parts/_manifest.json listing the parts, like the folder of parts + manifest Spark
-- writes; readers that prefer parts can use that folder instead of :dest.
-- The final CSV is assembled in memory: for outputs beyond a few GB read the parts folder.
.bail on
CREATE TEMP TABLE withdrawn AS SELECT s3_delete(:out || '/parts/_manifest.json') AS n;
CREATE TEMP TABLE guard(ok INTEGER);
CREATE TEMP TRIGGER guard_check BEFORE INSERT ON guard WHEN NEW.ok = 0 BEGIN
  SELECT RAISE(ABORT, 'publish: refusing to publish: CSV parts missing or inconsistent (problems listed above)');
END;
CREATE TEMP TABLE parts AS
  WITH RECURSIVE i(shard) AS (SELECT 0 UNION ALL SELECT shard + 1 FROM i WHERE shard + 1 < :nshard)
  SELECT shard,
         printf('%s/parts/part-%05d-of-%05d.json', :out, shard, :nshard) AS json_url,
         CAST(s3_fetch_or_null(printf('%s/parts/part-%05d-of-%05d.json', :out, shard, :nshard)) AS TEXT) AS manifest
    FROM i;
CREATE TEMP TABLE problems AS
  SELECT printf('publish: problem: part %d of %d has no manifest at %s (its project task did not finish)',
                shard, :nshard, json_url) AS msg
    FROM parts WHERE manifest IS NULL
  UNION ALL
  SELECT printf('publish: problem: part %d: manifest is for run ''%s'', %s shards; expected run ''%s'', %d shards',
                shard, manifest ->> 'run', manifest ->> 'nshard', :run, :nshard)
    FROM parts WHERE manifest IS NOT NULL
     AND (manifest ->> 'run' IS NOT :run OR manifest ->> 'nshard' IS NOT :nshard);
SELECT msg FROM problems;
INSERT INTO guard SELECT NOT EXISTS (SELECT 1 FROM problems);

CREATE TEMP TABLE bodies AS
  SELECT shard, nrows, csv_url, want, CAST(s3_fetch(csv_url) AS TEXT) AS body
    FROM (SELECT shard, manifest ->> 'rows' AS nrows, manifest ->> 'csv_sha3' AS want,
                 printf('%s/parts/part-%05d-of-%05d.csv', :out, shard, :nshard) AS csv_url
            FROM parts);
CREATE TEMP TABLE split AS
  SELECT shard, nrows, csv_url, want, lower(hex(sha3(body, 256))) AS got,
         substr(body, 1, instr(body, char(10))) AS header,
         substr(body, instr(body, char(10)) + 1) AS rows_text
    FROM bodies;
SELECT printf('publish: problem: part %d: %s has SHA3-256 %s, its manifest says %s', shard, csv_url, got, want)
  FROM split WHERE got IS NOT want;
SELECT printf('publish: problem: part %d: header differs from part 0', shard)
  FROM split WHERE header IS NOT (SELECT header FROM split WHERE shard = 0);
INSERT INTO guard SELECT NOT EXISTS (SELECT 1 FROM split WHERE got IS NOT want
                                     OR header IS NOT (SELECT header FROM split WHERE shard = 0));
SELECT 'publish: wrote ' || :dest || ' (' || s3_put(:dest,
         (SELECT header FROM split WHERE shard = 0) ||
         (SELECT group_concat(rows_text, '') FROM (SELECT rows_text FROM split ORDER BY shard))) || ')';
SELECT 'publish: wrote ' || :out || '/parts/_manifest.json (' || s3_put(:out || '/parts/_manifest.json',
         json_object('stage', 'publish', 'run', :run, 'nshard', :nshard, 'dest', :dest,
                     'rows', (SELECT sum(nrows) FROM split),
                     'header', rtrim((SELECT header FROM split WHERE shard = 0), char(13, 10)),
                     'parts', (SELECT json_group_array(json_object('url', csv_url, 'rows', nrows, 'sha3', got))
                                 FROM (SELECT * FROM split ORDER BY shard)),
                     'written', strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))) || ')';
SELECT printf('publish: %d rows from %d parts', sum(nrows), count(*)) FROM split;
-- The report (docs/REPORT.md): :out/report.html with the run's summary, the explained
-- variance and the scatter plot of an even sample of at most 10000 rows, parsed back from
-- the published CSV (rows whose key or label is quoted are left out of the sample).
-- Thumbnails, classification and errors exist only in single-machine runs.
CREATE TEMP TABLE rpt_model AS
  SELECT s3_fetch(:out || '/model/model.pca') AS model, CAST(s3_fetch(:out || '/model/model.json') AS TEXT) AS meta;
CREATE TEMP TABLE rpt_rows AS
  WITH b AS (SELECT group_concat(rows_text, '') AS body, (SELECT sum(nrows) FROM split) AS n
               FROM (SELECT rows_text FROM split ORDER BY shard))
  SELECT CAST(j.key AS INTEGER) AS rn, j.value AS line
    FROM b, json_each('["' || replace(replace(replace(replace(rtrim(b.body, char(10)), '\', '\\'), '"', '\"'),
                                              char(13), ''), char(10), '","') || '"]') AS j
   WHERE CAST(j.key AS INTEGER) % max(1, (b.n + 9999) / 10000) = 0 AND instr(j.value, '"') = 0;
CREATE TEMP TABLE rpt_pts AS
  SELECT rn, substr(line, 1, instr(line, ',') - 1) AS key,
         substr(rest, 1, instr(rest, ',') - 1) AS label, '[' || substr(rest, instr(rest, ',') + 1) || ']' AS pcs
    FROM (SELECT rn, line, substr(line, instr(line, ',') + 1) AS rest FROM rpt_rows);
CREATE TEMP TABLE rpt_labels AS
  SELECT label, row_number() OVER (ORDER BY label) - 1 AS li FROM (SELECT DISTINCT label FROM rpt_pts);
SELECT 'publish: wrote ' || :out || '/report.html (' || s3_put(:out || '/report.html', imgpca_report_html(json_object(
  'summary', json_object('source', (SELECT json_extract(manifest, '$.source') FROM parts WHERE shard = 0) ,
     'out', :dest, 'spec', meta ->> 'spec', 'k', json_extract(pca_info(model), '$.k'),
     'd', json_extract(pca_info(model), '$.d'), 'n_fit', json_extract(pca_info(model), '$.n'),
     'variance', json_extract(pca_info(model), '$.cumulative[#-1]'),
     'images', (SELECT sum(nrows) FROM split), 'features', (SELECT sum(nrows) FROM split),
     'projected', (SELECT sum(nrows) FROM split), 'model_id', :run, 'generated', datetime('now')),
  'labels', (SELECT json_group_array(label) FROM (SELECT label FROM rpt_labels ORDER BY li)),
  'scree', json_object('ratio', json_extract(pca_info(model), '$.ratio'),
                       'cumulative', json_extract(pca_info(model), '$.cumulative')),
  'points', (SELECT json_group_array(json_array(key, li, NULL, json(pcs10), NULL))
               FROM (SELECT p.key, l.li, (SELECT json_group_array(CAST(printf('%.4g', value) AS REAL))
                                            FROM json_each(p.pcs) WHERE CAST(key AS INTEGER) < 10) AS pcs10
                       FROM rpt_pts AS p JOIN rpt_labels AS l USING (label) ORDER BY p.rn))))) || ')'
  FROM rpt_model;
