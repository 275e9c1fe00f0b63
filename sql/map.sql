-- imgpca scale-out, stage 1 (map) for shard $shard of $nshard.  See docs/SCALING.md.
--
-- Run by scripts/imgpca-worker.sh map, or by hand in the sqlite3 shell from the repository
-- root with the extension loaded and these parameters set (.parameter set $NAME VALUE):
--   $run          run id (text); every output of the run carries it
--   $source       source URL glob the plan was made from (checked against the plan)
--   $spec         img_features spec, e.g. 'hist:bins=8,sqrt'
--   $out          output prefix of the run (local folder or s3://bucket/prefix)
--   $shard, $nshard   this shard and the number of shards (integers, 0 <= $shard < $nshard)
--   $pca_options  JSON options for pca_partial ('{}' for the defaults)
--   $tmp          local scratch folder for the shard database before it is uploaded
--
-- Requires the run's plan (sql/plan.sql): the shard's key list is read from
-- $out/plan/shard-SSSSS-of-NNNNN.json (checked against the SHA3-256 in _plan.json); the
-- source is not listed again.  The listed objects are fetched and their features computed
-- by s3_fetch_many(urls, $spec): s3.max_inflight requests in flight, imgpca.threads workers
-- decoding (the CPUs the task may use); features are the bytes img_features would give.  An
-- object that cannot be fetched or decoded is printed as a problem and fails the shard.
-- Writes, each atomically (s3_put), the manifest last so that it marks a finished shard:
--   $out/features/shard-SSSSS-of-NNNNN.db    SQLite database, table features(key, label, split, feature,
--                                            thumb)
--   $out/states/shard-SSSSS-of-NNNNN.pca     pca_partial state of the shard's 'train' features
--   $out/manifest/map-SSSSS-of-NNNNN.json    {run, spec, shard, nshard, rows, fit_rows, state_sha3, ...}
-- Re-running a shard rewrites the same three objects (idempotent); it first deletes the old
-- manifest, so an interrupted re-run leaves the shard unfinished rather than stale.
.bail on
-- a re-run first withdraws the shard's manifest: if it fails, the shard counts as unfinished
CREATE TEMP TABLE withdrawn AS
  SELECT s3_delete(printf('%s/manifest/map-%05d-of-%05d.json', $out, $shard, $nshard)) AS n;
.read sql/shard-guard.sql
CREATE TEMP TABLE meta AS
  SELECT CAST(s3_fetch_or_null($out || '/plan/_plan.json') AS TEXT) AS plan,
         printf('%s/plan/shard-%05d-of-%05d.json', $out, $shard, $nshard) AS list_url;
CREATE TEMP TABLE problems AS
  SELECT printf('map: problem: no plan at %s/plan/_plan.json (run the plan stage first)', $out) AS msg
    FROM meta WHERE plan IS NULL
  UNION ALL
  SELECT printf('map: problem: the plan is for run ''%s'', source ''%s'', %s shards; expected run ''%s'', source ''%s'', %d shards',
                plan ->> 'run', plan ->> 'source', plan ->> 'nshard', $run, $source, $nshard)
    FROM meta WHERE plan IS NOT NULL
     AND (plan ->> 'run' IS NOT $run OR plan ->> 'source' IS NOT $source OR plan ->> 'nshard' IS NOT $nshard);
SELECT imgpca_printable(msg) FROM problems;
INSERT INTO guard SELECT NOT EXISTS (SELECT 1 FROM problems);
CREATE TEMP TABLE keylist AS
  SELECT CAST(s3_fetch(list_url) AS TEXT) AS body, list_url,
         (SELECT json_group_array(k.value ->> 1)
            FROM json_each(CAST(s3_fetch(list_url) AS TEXT)) AS k) AS urls,
         (SELECT value ->> 'sha3' FROM json_each(plan, '$.shards') WHERE value ->> 'shard' = $shard) AS want
    FROM meta;
SELECT printf('map: problem: shard %d: key list %s has SHA3-256 %s, the plan says %s',
              $shard, list_url, lower(hex(sha3(body, 256))), want)
  FROM keylist WHERE lower(hex(sha3(body, 256))) IS NOT want;
INSERT INTO guard SELECT lower(hex(sha3(body, 256))) IS want AND json_valid(body) FROM keylist;

ATTACH $tmp || '/features.db' AS shard;
-- a scratch file, uploaded once complete: no journal, no fsync
.output /dev/null
PRAGMA shard.journal_mode = OFF;
.output stdout
PRAGMA shard.synchronous = OFF;
DROP TABLE IF EXISTS shard.features;
CREATE TABLE shard.features(
  key TEXT PRIMARY KEY,   -- object key as listed by s3_list
  label TEXT,             -- name of the folder holding the object (Fruits-360: the class)
  split TEXT NOT NULL,    -- 'train' or 'test' (a folder named test in the key, any case)
  feature BLOB NOT NULL,  -- img_features(content, $spec), float32 vector
  thumb BLOB              -- 48-pixel JPEG made from the same fetched bytes (the report's thumbnails)
);
CREATE TEMP TABLE fetched AS
  SELECT f.url, f.features, f.error, f.thumbnail FROM keylist, s3_fetch_many(keylist.urls, $spec) AS f;
CREATE UNIQUE INDEX temp.fetched_url ON fetched(url);
SELECT imgpca_printable(printf('map: problem: shard %d: %s', $shard, error)) FROM fetched WHERE error IS NOT NULL LIMIT 20;
SELECT printf('map: problem: shard %d: %d objects could not be read or decoded', $shard, count(*))
  FROM fetched WHERE error IS NOT NULL HAVING count(*) > 20;
INSERT INTO guard SELECT NOT EXISTS (SELECT 1 FROM fetched WHERE error IS NOT NULL OR features IS NULL)
                         AND (SELECT count(*) FROM fetched) = json_array_length(urls) FROM keylist;
INSERT INTO shard.features(key, label, split, feature, thumb)
  SELECT k.value ->> 0, k.value ->> 2, k.value ->> 3, f.features, f.thumbnail
    FROM keylist, json_each(keylist.body) AS k JOIN fetched AS f ON f.url = k.value ->> 1
   ORDER BY k.id;
-- the partial PCA state (of the training rows, as in sql/pipeline.sql) and the manifest,
-- computed before the database is closed
CREATE TEMP TABLE result AS
  SELECT count(*) AS nrows,
         count(*) FILTER (WHERE split = 'train') AS nfit,
         pca_partial(feature, $pca_options) FILTER (WHERE split = 'train') AS state,
         (SELECT sha3(group_concat(key, char(10)), 256)
            FROM (SELECT key FROM shard.features ORDER BY key)) AS keys_sha3
    FROM shard.features;
DETACH shard;
CREATE TEMP TABLE names AS
  SELECT printf('%s/features/shard-%05d-of-%05d.db', $out, $shard, $nshard) AS features_url,
         printf('%s/states/shard-%05d-of-%05d.pca', $out, $shard, $nshard) AS state_url,
         printf('%s/manifest/map-%05d-of-%05d.json', $out, $shard, $nshard) AS manifest_url;
CREATE TEMP TABLE fdb AS SELECT s3_fetch($tmp || '/features.db') AS db;
SELECT 'map: wrote ' || features_url || ' (' || s3_put(features_url, db) || ')' FROM names, fdb;
SELECT 'map: wrote ' || state_url || ' (' || s3_put(state_url, state) || ')'
  FROM names, result WHERE nfit > 0;
SELECT 'map: wrote ' || manifest_url || ' (' || s3_put(manifest_url, json_object(
         'stage', 'map', 'run', $run, 'spec', $spec, 'shard', $shard, 'nshard', $nshard,
         'rows', nrows, 'fit_rows', nfit,
         'state', iif(nfit > 0, state_url, NULL),
         'state_sha3', iif(nfit > 0, lower(hex(sha3(state, 256))), NULL),
         'keys_sha3', lower(hex(keys_sha3)),
         'plan_sha3', (SELECT want FROM keylist),
         'features', features_url,
         'features_sha3', (SELECT lower(hex(sha3(db, 256))) FROM fdb),
         'pca_options', json($pca_options),
         'source', $source,
         'written', strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))) || ')' AS manifest
  FROM names, result;
SELECT printf('map: shard %d of %d done: %d images (%d for the fit)', $shard, $nshard, nrows, nfit) FROM result;
