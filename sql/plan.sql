-- imgpca scale-out, stage 0 (plan): lists the source once and writes one key list per shard.
-- See docs/SCALING.md.
--
-- Run by scripts/imgpca-worker.sh plan, or by hand in the sqlite3 shell from the repository
-- root with the extension loaded and these parameters set (.parameter set $NAME VALUE):
--   $run      run id (text); every output of the run carries it
--   $source   source URL glob for s3_list (local folder or s3://bucket/prefix/...)
--   $out      output prefix of the run (local folder or s3://bucket/prefix)
--   $nshard   number of shards (integer >= 1)
--
-- One listing of $source (one LIST request per 1,000 keys on S3); the shard of a key is
-- imgpca_shard(key, $nshard).  Writes, each atomically, the plan manifest last:
--   $out/plan/shard-SSSSS-of-NNNNN.json   JSON array of [key, url, label, split, etag] in key order
--                                         (the etag makes the list's SHA3-256 change when an
--                                         object changes: a map task whose list is unchanged
--                                         since its manifest is reused, scripts/imgpca-worker.sh)
--                                         (key = path relative to the folder part of $source,
--                                         label = the parent folder's name, split = 'test'
--                                         when a folder of that key is named test, any case,
--                                         else 'train': the rule of sql/rules.sql, as in
--                                         sql/pipeline.sql)
--   $out/plan/_plan.json                  {run, source, nshard, keys, shards: [{shard, url,
--                                         keys, sha3}]}
-- The map tasks read their list instead of listing the source, so every shard sees the same
-- listing.  Re-running the plan first withdraws _plan.json.
.bail on
.read sql/shard-guard.sql
CREATE TEMP TABLE withdrawn AS SELECT s3_delete($out || '/plan/_plan.json') AS n;
-- The key is the path relative to the folder part of $source (the part before the first glob
-- character, up to its last '/'), as in sql/pipeline.sql: s3_list gives local paths relative
-- to it already, S3 object keys in full, so the bucket's key prefix is cut from those.  The
-- split rule looks at that relative key only (a source under a folder named test is not
-- all test images).
CREATE TEMP TABLE src AS
  WITH u(rest) AS (SELECT CASE WHEN $source LIKE 's3://%' OR $source LIKE 's3a://%'
                               THEN substr($source, instr($source, '://') + 3) END),
       k(pat) AS (SELECT CASE WHEN instr(rest, '/') > 0 THEN substr(rest, instr(rest, '/') + 1) ELSE '' END FROM u),
       -- the literal part before the first of * ? [
       l(lit) AS (SELECT substr(pat, 1, min(coalesce(nullif(instr(pat, '*'), 0), length(pat) + 1),
                                            coalesce(nullif(instr(pat, '?'), 0), length(pat) + 1),
                                            coalesce(nullif(instr(pat, '['), 0), length(pat) + 1)) - 1) FROM k)
  -- rtrim by the set of its non-'/' characters keeps lit up to its last '/'
  SELECT CASE WHEN (SELECT rest FROM u) IS NULL THEN 0 ELSE length(rtrim(lit, replace(lit, '/', ''))) END AS skip
    FROM l;
.read sql/rules.sql
CREATE TEMP TABLE listing_input AS
  SELECT substr(l.key, src.skip + 1) AS key, l.url, l.parent, l.etag FROM src, s3_list($source) AS l;
CREATE TEMP TABLE listing AS
  SELECT imgpca_shard(key, $nshard) AS shard, key, url, label, split, etag FROM listing_rule;
DROP TABLE listing_input;
CREATE INDEX temp.listing_shard ON listing(shard, key);
CREATE TEMP TABLE lists AS
  WITH RECURSIVE i(shard) AS (SELECT 0 UNION ALL SELECT shard + 1 FROM i WHERE shard + 1 < $nshard)
  SELECT shard, printf('%s/plan/shard-%05d-of-%05d.json', $out, shard, $nshard) AS url,
         (SELECT count(*) FROM listing AS l WHERE l.shard = i.shard) AS keys,
         (SELECT json_group_array(json_array(key, url, label, split, etag))
            FROM (SELECT key, url, label, split, etag FROM listing AS l WHERE l.shard = i.shard ORDER BY key)) AS body
    FROM i;
SELECT printf('plan: wrote %s (%d keys)', url, keys) FROM lists WHERE s3_put(url, body) IS NOT NULL ORDER BY shard;
SELECT 'plan: wrote ' || $out || '/plan/_plan.json (' || s3_put($out || '/plan/_plan.json', json_object(
         'stage', 'plan', 'run', $run, 'source', $source, 'nshard', $nshard,
         'keys', (SELECT count(*) FROM listing),
         'shards', (SELECT json_group_array(json_object('shard', shard, 'url', url, 'keys', keys,
                                                        'sha3', lower(hex(sha3(body, 256)))))
                      FROM (SELECT * FROM lists ORDER BY shard)),
         'written', strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))) || ')';
SELECT printf('plan: %d keys listed once into %d shards', count(*), $nshard) FROM listing;
