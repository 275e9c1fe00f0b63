-- imgpca scale-out, stage 4 (publish): one CSV with a single header from the N parts.
--
-- Parameters (see map.sql; run from the repository root): $run, $out, $nshard, and
--   $dest         URL of the final CSV (local path or s3://bucket/key)
--
-- Refuses unless all N part manifests exist for this run with the same header.  Writes $dest
-- with s3_concat, in constant memory whatever the size: part 0 whole, then every other part
-- without its header line, each required to have the size its manifest recorded (a local
-- $dest is streamed through a temporary file; on S3 it is one multipart upload of server-side
-- copies, aborted on failure).  Then writes $out/parts/_manifest.json listing the parts (URL,
-- rows, bytes, SHA3-256), like the folder of parts + manifest Spark writes; readers that
-- prefer parts can use that folder instead of $dest.
-- The report page beside the CSV (docs/REPORT.md) is sql/publish-report.sql, run next in the
-- same session (it reads the temp table parts): scripts/imgpca-worker.sh publish appends it
-- unless IMGPCA_REPORT=0; by hand, .read it after this file.  This file alone writes the CSV in
-- constant memory; the report samples bounded windows of the parts (constant memory too).
.bail on
CREATE TEMP TABLE withdrawn AS SELECT s3_delete($out || '/parts/_manifest.json') AS n;
.read sql/shard-guard.sql
CREATE TEMP TABLE parts AS
  WITH RECURSIVE i(shard) AS (SELECT 0 UNION ALL SELECT shard + 1 FROM i WHERE shard + 1 < $nshard)
  SELECT shard,
         printf('%s/parts/part-%05d-of-%05d.json', $out, shard, $nshard) AS json_url,
         printf('%s/parts/part-%05d-of-%05d.csv', $out, shard, $nshard) AS csv_url,
         CAST(s3_fetch_or_null(printf('%s/parts/part-%05d-of-%05d.json', $out, shard, $nshard)) AS TEXT) AS manifest
    FROM i;
CREATE TEMP TABLE problems AS
  SELECT printf('publish: problem: part %d of %d has no manifest at %s (its project task did not finish)',
                shard, $nshard, json_url) AS msg
    FROM parts WHERE manifest IS NULL
  UNION ALL
  SELECT printf('publish: problem: part %d: manifest is for run ''%s'', %s shards; expected run ''%s'', %d shards',
                shard, manifest ->> 'run', manifest ->> 'nshard', $run, $nshard)
    FROM parts WHERE manifest IS NOT NULL
     AND (manifest ->> 'run' IS NOT $run OR manifest ->> 'nshard' IS NOT $nshard)
  UNION ALL
  SELECT printf('publish: problem: part %d: manifest %s lacks the part''s size or header', shard, json_url)
    FROM parts WHERE manifest IS NOT NULL
     AND (manifest ->> 'bytes' IS NULL OR manifest ->> 'header_bytes' IS NULL OR manifest ->> 'header' IS NULL)
  UNION ALL
  SELECT printf('publish: problem: part %d: header differs from part 0', shard)
    FROM parts WHERE shard > 0 AND manifest IS NOT NULL
     AND manifest ->> 'header' IS NOT (SELECT manifest ->> 'header' FROM parts WHERE shard = 0);
SELECT imgpca_printable(msg) FROM problems;
INSERT INTO guard SELECT NOT EXISTS (SELECT 1 FROM problems);

CREATE TEMP TABLE concat AS
  SELECT s3_concat($dest, (SELECT json_group_array(json_object(
                             'url', csv_url,
                             'offset', iif(shard = 0, 0, manifest ->> 'header_bytes'),
                             'size', manifest ->> 'bytes'))
                             FROM (SELECT * FROM parts ORDER BY shard))) AS stats;
SELECT printf('publish: wrote %s (%d bytes; %d copied by the server, %d streamed)', $dest,
              stats ->> 'bytes', stats ->> 'copied', stats ->> 'streamed') FROM concat;
SELECT 'publish: wrote ' || $out || '/parts/_manifest.json (' || s3_put($out || '/parts/_manifest.json',
         json_object('stage', 'publish', 'run', $run, 'nshard', $nshard, 'dest', $dest,
                     'rows', (SELECT sum(manifest ->> 'rows') FROM parts),
                     'bytes', (SELECT stats ->> 'bytes' FROM concat),
                     'header', (SELECT manifest ->> 'header' FROM parts WHERE shard = 0),
                     'parts', (SELECT json_group_array(json_object('url', csv_url, 'rows', manifest ->> 'rows',
                                                                   'bytes', manifest ->> 'bytes',
                                                                   'sha3', manifest ->> 'csv_sha3'))
                                 FROM (SELECT * FROM parts ORDER BY shard)),
                     'written', strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))) || ')';
SELECT printf('publish: %d rows from %d parts', sum(manifest ->> 'rows'), count(*)) FROM parts;
