-- imgpca scale-out, stage 1 (map) for shard :shard of :nshard.  See docs/SCALING.md.
--
-- Run by scripts/imgpca-worker.sh map, or by hand in the sqlite3 shell with the
-- extension loaded and these parameters set (.parameter set NAME VALUE):
--   :run          run id (text); every output of the run carries it
--   :src          source URL glob for s3_list (local folder or s3://bucket/prefix/...)
--   :spec         img_features spec, e.g. 'hist:bins=8,sqrt'
--   :out          output prefix of the run (local folder or s3://bucket/prefix)
--   :shard, :nshard   this shard and the number of shards (integers, 0 <= :shard < :nshard)
--   :pca_options  JSON options for pca_partial ('{}' for the defaults)
--   :tmp          local scratch folder for the shard database before it is uploaded
--
-- The shard of an object is imgpca_shard(key, :nshard) (FNV-1a 64 of the key, mod N).
-- Writes, each atomically (s3_put), the manifest last so that it marks a finished shard:
--   :out/features/shard-SSSSS-of-NNNNN.db    SQLite database, table features(key, label, feature)
--   :out/states/shard-SSSSS-of-NNNNN.pca     pca_partial state of the shard's features
--   :out/manifest/map-SSSSS-of-NNNNN.json    {run, spec, shard, nshard, rows, state_sha3, ...}
-- Re-running a shard rewrites the same three objects (idempotent); it first deletes the old
-- manifest, so an interrupted re-run leaves the shard unfinished rather than stale.
.bail on
-- a re-run first withdraws the shard's manifest: if it fails, the shard counts as unfinished
CREATE TEMP TABLE withdrawn AS
  SELECT s3_delete(printf('%s/manifest/map-%05d-of-%05d.json', :out, :shard, :nshard)) AS n;
ATTACH :tmp || '/features.db' AS shard;
-- a scratch file, uploaded once complete: no journal, no fsync
.output /dev/null
PRAGMA shard.journal_mode = OFF;
.output stdout
PRAGMA shard.synchronous = OFF;
DROP TABLE IF EXISTS shard.features;
CREATE TABLE shard.features(
  key TEXT PRIMARY KEY,   -- object key as listed by s3_list
  label TEXT,             -- name of the folder holding the object (Fruits-360: the class)
  feature BLOB NOT NULL   -- img_features(content, :spec), float32 vector
);
-- label: the last folder name of the URL (computed from the URL alone, so it does not
-- depend on how s3_list spells keys for local folders and for S3).
INSERT INTO shard.features(key, label, feature)
  WITH listed AS (
    SELECT key, url, content,
           rtrim(url, replace(url, '/', '')) AS d   -- url up to and including its last '/'
      FROM s3_list(:src)
     WHERE imgpca_shard(key, :nshard) = :shard
  ), folders AS (
    SELECT key, content, substr(d, 1, length(d) - 1) AS folder FROM listed
  )
  SELECT key,
         substr(folder, length(rtrim(folder, replace(folder, '/', ''))) + 1),
         img_features(content, :spec)
    FROM folders;
-- the partial PCA state and the manifest, computed before the database is closed
CREATE TEMP TABLE result AS
  SELECT count(*) AS nrows,
         pca_partial(feature, :pca_options) AS state,
         (SELECT sha3(group_concat(key, char(10)), 256)
            FROM (SELECT key FROM shard.features ORDER BY key)) AS keys_sha3
    FROM shard.features;
DETACH shard;
CREATE TEMP TABLE names AS
  SELECT printf('%s/features/shard-%05d-of-%05d.db', :out, :shard, :nshard) AS features_url,
         printf('%s/states/shard-%05d-of-%05d.pca', :out, :shard, :nshard) AS state_url,
         printf('%s/manifest/map-%05d-of-%05d.json', :out, :shard, :nshard) AS manifest_url;
CREATE TEMP TABLE fdb AS SELECT s3_fetch(:tmp || '/features.db') AS db;
SELECT 'map: wrote ' || features_url || ' (' || s3_put(features_url, db) || ')' FROM names, fdb;
SELECT 'map: wrote ' || state_url || ' (' || s3_put(state_url, state) || ')'
  FROM names, result WHERE nrows > 0;
SELECT 'map: wrote ' || manifest_url || ' (' || s3_put(manifest_url, json_object(
         'stage', 'map', 'run', :run, 'spec', :spec, 'shard', :shard, 'nshard', :nshard,
         'rows', nrows,
         'state', iif(nrows > 0, state_url, NULL),
         'state_sha3', iif(nrows > 0, lower(hex(sha3(state, 256))), NULL),
         'keys_sha3', lower(hex(keys_sha3)),
         'features', features_url,
         'features_sha3', (SELECT lower(hex(sha3(db, 256))) FROM fdb),
         'pca_options', json(:pca_options),
         'source', :src,
         'written', strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))) || ')' AS manifest
  FROM names, result;
SELECT printf('map: shard %d of %d done: %d images', :shard, :nshard, nrows) FROM result;
