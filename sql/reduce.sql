-- imgpca scale-out, stage 2 (reduce): merges the N partial PCA states into the model.
--
-- Parameters (see map.sql; run from the repository root): $run, $spec, $out, $nshard,
-- $pca_options, and
--   $k            number of components (integer >= 1) or explained-variance fraction in (0, 1)
--
-- Refuses (prints every problem, then fails) unless all $nshard manifests exist, are for this
-- run, spec and shard count, and every state matches the SHA3-256 its manifest recorded.
-- The states hold the shards' 'train' rows.  The merge is exact: pca_fit over mergeable states equals a one-process fit.
-- Writes $out/model/model.pca (pca_fit model) and then $out/model/model.json (metadata:
-- run, spec, rows, model_sha3, shards, pca_info); the JSON marks a published model.
.bail on
-- withdraw a model published earlier for this output prefix: after a failed reduce, none is left
CREATE TEMP TABLE withdrawn AS SELECT s3_delete($out || '/model/model.json') AS n;
CREATE TEMP TABLE shards AS
  WITH RECURSIVE i(shard) AS (SELECT 0 UNION ALL SELECT shard + 1 FROM i WHERE shard + 1 < $nshard)
  SELECT shard,
         printf('%s/manifest/map-%05d-of-%05d.json', $out, shard, $nshard) AS manifest_url,
         CAST(s3_fetch_or_null(printf('%s/manifest/map-%05d-of-%05d.json', $out, shard, $nshard))
              AS TEXT) AS manifest
    FROM i;
-- after the problems are printed, the guard aborts the script (no model written)
.read sql/shard-guard.sql
CREATE TEMP TABLE problems AS
  SELECT printf('reduce: problem: shard %d of %d has no manifest at %s (its map task did not finish)',
                shard, $nshard, manifest_url) AS msg
    FROM shards WHERE manifest IS NULL
  UNION ALL
  SELECT printf('reduce: problem: shard %d: manifest %s is not valid JSON', shard, manifest_url)
    FROM shards WHERE manifest IS NOT NULL AND NOT json_valid(manifest)
  UNION ALL
  SELECT printf('reduce: problem: shard %d: manifest is for run ''%s'', spec ''%s'', shard %s of %s; expected run ''%s'', spec ''%s'', shard %d of %d',
                shard, manifest ->> 'run', manifest ->> 'spec', manifest ->> 'shard', manifest ->> 'nshard',
                $run, $spec, shard, $nshard)
    FROM shards
   WHERE manifest IS NOT NULL AND json_valid(manifest)
     AND (manifest ->> 'run' IS NOT $run OR manifest ->> 'spec' IS NOT $spec
          OR manifest ->> 'shard' IS NOT shard OR manifest ->> 'nshard' IS NOT $nshard);
SELECT imgpca_printable(msg) FROM problems;
INSERT INTO guard SELECT NOT EXISTS (SELECT 1 FROM problems);

CREATE TEMP TABLE states AS
  SELECT shard, state_url, want, s3_fetch(state_url) AS state
    FROM (SELECT shard, manifest ->> 'state_sha3' AS want,
                 printf('%s/states/shard-%05d-of-%05d.pca', $out, shard, $nshard) AS state_url
            FROM shards WHERE manifest ->> 'fit_rows' > 0);
SELECT printf('reduce: problem: shard %d: state %s has SHA3-256 %s, its manifest says %s',
              shard, state_url, lower(hex(sha3(state, 256))), want)
  FROM states WHERE lower(hex(sha3(state, 256))) IS NOT want;
SELECT 'reduce: problem: no shard has images to fit (no ''train'' rows)' WHERE NOT EXISTS (SELECT 1 FROM states);
INSERT INTO guard SELECT count(*) > 0 AND NOT EXISTS
  (SELECT 1 FROM states WHERE lower(hex(sha3(state, 256))) IS NOT want) FROM states;

CREATE TEMP TABLE model AS
  SELECT pca_fit(state, $k, $pca_options) AS m,
         (SELECT sum(manifest ->> 'fit_rows') FROM shards) AS nrows,
         (SELECT sum(manifest ->> 'rows') FROM shards) AS nimages
    FROM (SELECT state FROM states ORDER BY shard);
SELECT 'reduce: wrote ' || $out || '/model/model.pca (' || s3_put($out || '/model/model.pca', m) || ')'
  FROM model;
SELECT 'reduce: wrote ' || $out || '/model/model.json (' || s3_put($out || '/model/model.json', json_object(
         'stage', 'reduce', 'run', $run, 'spec', $spec, 'nshard', $nshard, 'rows', nrows, 'images', nimages,
         'k', $k, 'pca_options', json($pca_options),
         'model', $out || '/model/model.pca',
         'model_sha3', lower(hex(sha3(m, 256))),
         'shards', (SELECT json_group_array(json(manifest)) FROM (SELECT manifest FROM shards ORDER BY shard)),
         'info', json(pca_info(m)),
         'written', strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))) || ')'
  FROM model;
SELECT printf('reduce: model of %d images (of %d) from %d shards', nrows, nimages, $nshard) FROM model;
