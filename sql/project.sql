-- imgpca scale-out, stage 3 (project) for shard $shard of $nshard: one CSV part per shard.
--
-- Parameters (see map.sql; run from the repository root): $run, $spec, $out, $shard, $nshard,
-- $tmp, and
--   $csv_options  JSON options for csv_export ('{}' for the defaults)
--
-- Requires the published model of this run ($out/model/model.json, same run and spec, model
-- SHA3-256 as recorded) and this shard's map manifest and features database (SHA3-256 as
-- recorded).  Files are read from $out by their conventional names.  Writes, atomically:
--   $out/parts/part-SSSSS-of-NNNNN.csv    header + rows key, label, split, pc1..pcK
--   $out/parts/part-SSSSS-of-NNNNN.points.json   [[key, label, split, [pc1..pcK]], ...] (the report)
--   $out/parts/part-SSSSS-of-NNNNN.thumbs.json   {key: base64 JPEG} of every step-th row (the report)
--   $out/parts/part-SSSSS-of-NNNNN.json   {run, shard, nshard, rows, bytes, header, header_bytes,
--                                          csv_sha3, ...} (written last; publish concatenates the
--                                          parts from these sizes without reading them)
.bail on
CREATE TEMP TABLE withdrawn AS
  SELECT s3_delete(printf('%s/parts/part-%05d-of-%05d.json', $out, $shard, $nshard)) AS n;
.read sql/shard-guard.sql
CREATE TEMP TABLE meta AS
  SELECT CAST(s3_fetch_or_null($out || '/model/model.json') AS TEXT) AS model_json,
         CAST(s3_fetch_or_null(printf('%s/manifest/map-%05d-of-%05d.json', $out, $shard, $nshard))
              AS TEXT) AS manifest;
CREATE TEMP TABLE problems AS
  SELECT 'project: problem: no published model at ' || $out || '/model/model.json' AS msg
    FROM meta WHERE model_json IS NULL
  UNION ALL
  SELECT printf('project: problem: model is for run ''%s'', spec ''%s''; expected run ''%s'', spec ''%s''',
                model_json ->> 'run', model_json ->> 'spec', $run, $spec)
    FROM meta WHERE model_json IS NOT NULL
     AND (model_json ->> 'run' IS NOT $run OR model_json ->> 'spec' IS NOT $spec)
  UNION ALL
  SELECT printf('project: problem: shard %d of %d has no map manifest', $shard, $nshard)
    FROM meta WHERE manifest IS NULL
  UNION ALL
  SELECT printf('project: problem: shard %d: map manifest is for run ''%s''', $shard, manifest ->> 'run')
    FROM meta WHERE manifest IS NOT NULL AND manifest ->> 'run' IS NOT $run;
SELECT imgpca_printable(msg) FROM problems;
INSERT INTO guard SELECT NOT EXISTS (SELECT 1 FROM problems);

CREATE TEMP TABLE model AS
  SELECT s3_fetch($out || '/model/model.pca') AS m, model_json ->> 'model_sha3' AS want FROM meta;
SELECT 'project: problem: model SHA3-256 differs from model.json' FROM model
 WHERE lower(hex(sha3(m, 256))) IS NOT want;
INSERT INTO guard SELECT lower(hex(sha3(m, 256))) IS want FROM model;

-- the shard database (copied to local scratch so that S3 and local outputs work alike)
SELECT 'project: fetched ' || features_url || ' (' ||
       s3_put($tmp || '/features.db', s3_fetch(features_url)) || ')'
  FROM (SELECT printf('%s/features/shard-%05d-of-%05d.db', $out, $shard, $nshard) AS features_url);
SELECT printf('project: problem: shard %d: features database has SHA3-256 %s, its manifest says %s',
              $shard, got, manifest ->> 'features_sha3')
  FROM meta, (SELECT lower(hex(sha3(s3_fetch($tmp || '/features.db'), 256))) AS got)
 WHERE got IS NOT manifest ->> 'features_sha3';
INSERT INTO guard SELECT lower(hex(sha3(s3_fetch($tmp || '/features.db'), 256))) IS manifest ->> 'features_sha3'
  FROM meta;
ATTACH $tmp || '/features.db' AS shard;
INSERT INTO guard SELECT (SELECT count(*) FROM shard.features) = manifest ->> 'rows' FROM meta;

CREATE TEMP TABLE names AS
  SELECT printf('%s/parts/part-%05d-of-%05d.csv', $out, $shard, $nshard) AS csv_url,
         printf('%s/parts/part-%05d-of-%05d.json', $out, $shard, $nshard) AS json_url;
CREATE TEMP TABLE result AS
  SELECT csv_export(csv_url,
           'SELECT p.key, f.label, f.split, p.pc
              FROM pca_project_rows((SELECT m FROM temp.model),
                     ''SELECT key, feature FROM shard.features ORDER BY key'') AS p
              CROSS JOIN shard.features AS f ON f.key = p.key', $csv_options) AS nrows
    FROM names;
SELECT 'project: wrote ' || csv_url || ' (' || nrows || ' rows)' FROM names, result;
CREATE TEMP TABLE written AS SELECT s3_fetch(csv_url) AS body FROM names;
-- For the report of the publish stage (sql/publish-report.sql), which reads these two files
-- once each instead of parsing the CSV parts: every row's key, label, split and projection
-- (JSON, so no text of a key or label can break a record), and the thumbnails of every
-- step-th row (about 1,500 over all shards).
SELECT 'project: wrote ' || points_url || ' (' || s3_put(points_url,
         (SELECT json_group_array(json_array(key, label, split,
                                             json(fvec_to_json(pca_project((SELECT m FROM temp.model), feature)))))
            FROM (SELECT * FROM shard.features ORDER BY key))) || ')'
  FROM (SELECT printf('%s/parts/part-%05d-of-%05d.points.json', $out, $shard, $nshard) AS points_url);
SELECT 'project: wrote ' || thumbs_url || ' (' || s3_put(thumbs_url,
         (SELECT json_group_object(key, imgpca_base64(thumb))
            FROM (SELECT key, thumb, row_number() OVER (ORDER BY key) - 1 AS i, count(*) OVER () AS n
                    FROM shard.features)
           WHERE thumb IS NOT NULL AND i % max(1, (n * $nshard + 1499) / 1500) = 0)) || ')'
  FROM (SELECT printf('%s/parts/part-%05d-of-%05d.thumbs.json', $out, $shard, $nshard) AS thumbs_url);
SELECT 'project: wrote ' || json_url || ' (' || s3_put(json_url, json_object(
         'stage', 'project', 'run', $run, 'spec', $spec, 'shard', $shard, 'nshard', $nshard,
         'rows', nrows, 'csv', csv_url,
         'bytes', length(body),
         'header', rtrim(substr(CAST(body AS TEXT), 1, instr(body, x'0a')), char(13, 10)),
         'header_bytes', instr(body, x'0a'),
         'csv_sha3', lower(hex(sha3(body, 256))),
         'model_sha3', (SELECT want FROM model),
         'written', strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))) || ')'
  FROM names, result, written;
