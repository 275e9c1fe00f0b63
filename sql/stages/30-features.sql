-- ---------------------------------------------------------------------------
-- 3. Fetch + features, only for new or changed images (key, etag, spec)
-- ---------------------------------------------------------------------------
CREATE TEMP VIEW todo AS
SELECT l.* FROM listing AS l LEFT JOIN images AS i USING (key)
WHERE i.key IS NULL OR i.etag IS NOT l.etag OR i.spec IS NOT (SELECT spec FROM cfg);
CREATE TEMP TABLE todo_total AS SELECT count(*) AS n FROM todo;
SELECT printf('to process: %d images (%d already done)', n, (SELECT count(*) FROM listing) - n) FROM todo_total;
UPDATE runs SET processed = (SELECT n FROM todo_total) WHERE id = (SELECT max(id) FROM runs);
-- a changed image loses its old projection and error
DELETE FROM projections WHERE key IN (SELECT key FROM todo);
DELETE FROM errors      WHERE key IN (SELECT key FROM todo);

-- The batch loop: one committed INSERT per folder (or per $batch images of a
-- folder with more than 2 x $batch to do), so that a crash loses at most one
-- batch.  A folder's objects are fetched through its listing's content
-- column, which keeps s3.max_inflight requests in flight (S3 latency
-- overlaps); big folders go by $batch keys with s3_fetch_or_null.  The shell
-- has no loop, so the statements are generated into a file and read back.
CREATE TEMP TABLE todo_dirs AS
SELECT dir, count(*) AS n FROM todo GROUP BY dir ORDER BY dir;
CREATE TEMP TABLE batches AS
WITH RECURSIVE part(dir, n, i, parts) AS (
  SELECT dir, n, 1, CASE WHEN n <= 2 * cfg.batch THEN 1 ELSE (n + cfg.batch - 1) / cfg.batch END
  FROM todo_dirs, cfg
  UNION ALL SELECT dir, n, i + 1, parts FROM part WHERE i < parts)
SELECT dir, parts, i,
       CASE WHEN parts = 1 THEN n ELSE min(cfg.batch, n - (i - 1) * cfg.batch) END AS m,
       row_number() OVER (ORDER BY dir, i) AS seq
FROM part, cfg;
.output .imgpca-batches.sql
SELECT CASE WHEN b.parts = 1 THEN
  -- the whole folder, bodies prefetched concurrently by its listing
  printf('INSERT OR REPLACE INTO images(key, url, label, split, etag, spec, features)
  SELECT t.key, t.url, t.label, t.split, t.etag, cfg.spec, img_features_or_null(l.content, cfg.spec)
  FROM s3_list(%Q) AS l CROSS JOIN todo AS t ON t.url = l.url CROSS JOIN cfg;',
         replace(replace(replace(replace(b.dir, '\', '\\'), '*', '\*'), '?', '\?'), '[', '\[') || '*')
ELSE
  -- $batch keys of a big folder, fetched one by one
  printf('INSERT OR REPLACE INTO images(key, url, label, split, etag, spec, features)
  SELECT t.key, t.url, t.label, t.split, t.etag, cfg.spec,
         img_features_or_null(s3_fetch_or_null(t.url), cfg.spec)
  FROM (SELECT * FROM todo WHERE dir = %Q ORDER BY key LIMIT %d) AS t, cfg;', b.dir, cfg.batch)
END
  -- progress about every $batch images
  || CASE WHEN b.done / cfg.batch > (b.done - b.m) / cfg.batch OR b.seq = (SELECT max(seq) FROM batches)
     THEN printf('
SELECT ''features: %d/%d'';', b.done, (SELECT n FROM todo_total)) ELSE '' END
FROM (SELECT *, sum(m) OVER (ORDER BY seq) AS done FROM batches) AS b, cfg ORDER BY b.seq;
.output stdout
.read .imgpca-batches.sql
.shell rm -f .imgpca-batches.sql
-- Whatever the folder listings did not return (an object deleted meanwhile,
-- or a URL spelled differently) is fetched by URL; usually nothing.
INSERT OR REPLACE INTO images(key, url, label, split, etag, spec, features)
SELECT t.key, t.url, t.label, t.split, t.etag, cfg.spec,
       img_features_or_null(s3_fetch_or_null(t.url), cfg.spec)
FROM todo AS t, cfg;

-- Record why the undecodable ones failed (img_info names the decoder's complaint).
INSERT OR REPLACE INTO errors(key, url, error)
SELECT key, url, coalesce(json_extract(img_info(s3_fetch_or_null(url)), '$.error'),
                          'not decodable with spec ' || spec)
FROM images WHERE features IS NULL AND key NOT IN (SELECT key FROM errors);
SELECT printf('errors: %d undecodable image(s), see table errors', count(*)) FROM errors;
