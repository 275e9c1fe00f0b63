-- imgpca pipeline: images -> features -> PCA -> CSV (+ plots, + classification)
--
-- Run with the stock sqlite3 shell on a persistent state database:
--
--   sqlite3 state.db -cmd '.load dist/imgpca' \
--     -cmd ".parameter set \$source '/data/fruits360'" \
--     -cmd ".parameter set \$out 'out'" < sql/pipeline.sql
--
-- Parameters (.parameter set $name value); an unset parameter keeps the value
-- stored by the previous run in the table "settings", else the default:
--   $source  folder, file:// URL or s3://bucket/prefix of the images (required)
--   $out     folder or s3:// prefix for pca.csv, scree.svg, scatter.svg
--   $spec    feature spec of img_features           default 'hist:bins=8,sqrt'
--   $k       number of principal components          default 50
--   $refit   1 = fit the model again now             default 0 (fit only when
--            there is no model yet for this source, spec and k)
--   $batch   images per committed batch of a big folder  default 500
--            (smaller folders are one batch each)
--   $plot_max  most points drawn in scatter.svg      default 5000
--   $classify  1 = label the test images by 1-NN     default 1 (its cost grows
--            with test x training images; 0 skips it on very large sets)
--
-- Incremental and resumable: the state database keeps (key, etag) -> features.
-- Every stage is one statement (feature extraction: one statement per folder
-- or batch, each committed), so a run killed at any point is resumed by running this
-- script again; it only does what is missing and ends in the same result.
-- Images added or changed since the last run are the only ones decoded.
-- Undecodable images are kept with NULL features and listed in "errors".
--
-- The working directory must be writable: the batch loop is a generated
-- script, .imgpca-batches.sql, read and then removed.

.bail on
.headers off
.mode list
.print '== imgpca pipeline'
-- WAL: a commit per batch costs no fsync (synchronous=NORMAL keeps every
-- committed batch across a killed process; only a power cut may lose the
-- last ones, which the next run redoes), and readers can watch progress.
.output /dev/null
PRAGMA journal_mode = WAL;
.output stdout
PRAGMA synchronous = NORMAL;

-- ---------------------------------------------------------------------------
-- 0. Schema (idempotent) and settings
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS settings(
  key   TEXT PRIMARY KEY,
  value ANY CONSTRAINT "pipeline: parameter $source is required (a folder or s3:// prefix)"
        CHECK (key <> 'source' OR value IS NOT NULL)
);
-- one row per listed image; features NULL = not decodable (see errors)
CREATE TABLE IF NOT EXISTS images(
  key      TEXT PRIMARY KEY,   -- object key / path as listed
  url      TEXT NOT NULL,      -- where it was fetched from
  label    TEXT,               -- parent folder name (the class)
  split    TEXT NOT NULL,      -- 'train' or 'test' (a Test/ folder in the key)
  etag     TEXT,               -- change detector from the listing
  spec     TEXT NOT NULL,      -- feature spec the features were computed with
  features BLOB                -- float32 vector, NULL when not decodable
);
CREATE TABLE IF NOT EXISTS errors(
  key   TEXT PRIMARY KEY,
  url   TEXT,
  error TEXT
);
CREATE TABLE IF NOT EXISTS models(
  id      INTEGER PRIMARY KEY,
  source  TEXT NOT NULL,       -- the $source it was fitted for
  spec    TEXT NOT NULL,
  k       INTEGER NOT NULL,
  n       INTEGER NOT NULL,    -- training rows it was fitted on
  model   BLOB NOT NULL,       -- pca_fit() result
  fitted  TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE TABLE IF NOT EXISTS projections(
  key      TEXT PRIMARY KEY REFERENCES images(key),
  model_id INTEGER NOT NULL,
  pc       BLOB NOT NULL       -- pca_project() of the features
);
CREATE TABLE IF NOT EXISTS predictions(
  key       TEXT PRIMARY KEY,  -- a test image
  model_id  INTEGER NOT NULL,
  predicted TEXT,              -- label of the nearest training image in PCA space
  neighbour TEXT,              -- its key
  distance  REAL
);
CREATE TABLE IF NOT EXISTS runs(
  id INTEGER PRIMARY KEY, started TEXT, listed INTEGER, processed INTEGER, finished TEXT
);

-- Parameters override stored settings; stored settings override defaults.
INSERT INTO settings(key, value)
SELECT p.key, coalesce(p.value, s.value, p.dflt)
FROM (SELECT 'source' AS key, $source AS value, NULL AS dflt
      UNION ALL SELECT 'out', $out, 'out'
      UNION ALL SELECT 'spec', $spec, 'hist:bins=8,sqrt'
      UNION ALL SELECT 'k', CAST($k AS INTEGER), 50
      UNION ALL SELECT 'refit', CAST($refit AS INTEGER), 0
      UNION ALL SELECT 'batch', CAST($batch AS INTEGER), 500
      UNION ALL SELECT 'plot_max', CAST($plot_max AS INTEGER), 5000
      UNION ALL SELECT 'classify', CAST($classify AS INTEGER), 1) AS p
LEFT JOIN settings AS s USING (key)
WHERE true
ON CONFLICT(key) DO UPDATE SET value = excluded.value;
-- $refit applies to this run only
UPDATE settings SET value = 0 WHERE key = 'refit' AND $refit IS NULL;

CREATE TEMP VIEW cfg AS
SELECT (SELECT value FROM settings WHERE key = 'source')   AS source,
       rtrim((SELECT value FROM settings WHERE key = 'out'), '/') AS out,
       (SELECT value FROM settings WHERE key = 'spec')     AS spec,
       (SELECT value FROM settings WHERE key = 'k')        AS k,
       (SELECT value FROM settings WHERE key = 'refit')    AS refit,
       (SELECT value FROM settings WHERE key = 'batch')    AS batch,
       (SELECT value FROM settings WHERE key = 'plot_max') AS plot_max,
       (SELECT value FROM settings WHERE key = 'classify') AS classify;

INSERT INTO runs(started) VALUES (datetime('now'));
SELECT printf('source %s, spec ''%s'', k = %d, output %s', source, spec, k, out) FROM cfg;

-- ---------------------------------------------------------------------------
-- 1. List: every .jpg/.jpeg/.png under the source (lazy, paged for S3)
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE listing AS
SELECT l.key, l.url, l.parent AS label, l.etag,
       CASE WHEN '/' || l.key LIKE '%/test/%' THEN 'test' ELSE 'train' END AS split,
       substr(l.url, 1, length(l.url) - length(l.name)) AS dir   -- folder URL, ends in '/'
FROM cfg, s3_list(rtrim(cfg.source, '/') || '/**/*') AS l
WHERE lower(l.name) LIKE '%.jpg' OR lower(l.name) LIKE '%.jpeg' OR lower(l.name) LIKE '%.png';
CREATE UNIQUE INDEX temp.listing_key ON listing(key);
CREATE INDEX temp.listing_url ON listing(url);
UPDATE runs SET listed = (SELECT count(*) FROM listing) WHERE id = (SELECT max(id) FROM runs);
SELECT printf('listed: %d images', count(*)) FROM listing;

-- ---------------------------------------------------------------------------
-- 2. Forget images that disappeared from the source
-- ---------------------------------------------------------------------------
DELETE FROM projections WHERE key NOT IN (SELECT key FROM listing);
DELETE FROM predictions WHERE key NOT IN (SELECT key FROM listing);
DELETE FROM errors      WHERE key NOT IN (SELECT key FROM listing);
DELETE FROM images      WHERE key NOT IN (SELECT key FROM listing);

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

-- ---------------------------------------------------------------------------
-- 4. Fit: PCA on the training features, only when asked ($refit = 1) or when
--    no model exists yet for this source, spec and k.  Rows in key order, so the same
--    rows always give the same model bytes.
-- ---------------------------------------------------------------------------
INSERT INTO models(source, spec, k, n, model)
SELECT cfg.source, cfg.spec, cfg.k, count(*), pca_fit(f.features, cfg.k)
FROM cfg, (SELECT features FROM images
           WHERE split = 'train' AND features IS NOT NULL ORDER BY key) AS f
WHERE cfg.refit = 1
   OR NOT EXISTS (SELECT 1 FROM models AS m
                  WHERE m.source = cfg.source AND m.spec = cfg.spec AND m.k = cfg.k)
GROUP BY cfg.spec, cfg.k;   -- no input row -> no group -> pca_fit is not called

CREATE TEMP VIEW model AS
SELECT m.* FROM models AS m, cfg
WHERE m.source = cfg.source AND m.spec = cfg.spec AND m.k = cfg.k ORDER BY m.id DESC LIMIT 1;
SELECT printf('model #%d: %d training rows, %d -> %d dimensions, %.1f %% of the variance',
              id, n, json_extract(pca_info(model), '$.d'), k,
              100.0 * json_extract(pca_info(model), '$.cumulative[#-1]')) FROM model;

-- ---------------------------------------------------------------------------
-- 5. Project every decodable image with the current model (missing ones only)
-- ---------------------------------------------------------------------------
DELETE FROM projections WHERE model_id IS NOT (SELECT id FROM model);
-- The model goes in as a bound parameter: pca_project parses a constant
-- argument once per statement instead of once per row.
.parameter set $model "(SELECT model FROM temp.model)"
INSERT INTO projections(key, model_id, pc)
SELECT i.key, m.id, pca_project($model, i.features)
FROM images AS i, model AS m
WHERE i.features IS NOT NULL AND i.key NOT IN (SELECT key FROM projections)
ORDER BY i.key;
SELECT printf('projected: %d images', count(*)) FROM projections;

-- ---------------------------------------------------------------------------
-- 6. Classify: each test image gets the label of its nearest training image
--    in PCA space (1-NN, Euclidean distance, ties broken by key).
-- ---------------------------------------------------------------------------
DELETE FROM predictions WHERE model_id IS NOT (SELECT id FROM model);
CREATE TEMP TABLE train_pc AS
SELECT p.key, i.label, p.pc FROM projections AS p JOIN images AS i USING (key)
WHERE i.split = 'train' ORDER BY p.key;
-- (SQLite: the row of min() supplies the bare columns; train_pc is in key
-- order, so ties go to the smallest key)
-- (MATERIALIZED: the search runs once per test image, not once per use of nn)
WITH q AS MATERIALIZED (
  SELECT q.key, q.model_id,
         (SELECT json_array(r.key, r.label, min(fvec_l2(r.pc, q.pc))) FROM train_pc AS r) AS nn
  FROM projections AS q JOIN images AS qi USING (key)
  WHERE qi.split = 'test' AND q.key NOT IN (SELECT key FROM predictions)
    AND (SELECT classify FROM cfg) = 1)
INSERT INTO predictions(key, model_id, predicted, neighbour, distance)
SELECT key, model_id, json_extract(nn, '$[1]'), json_extract(nn, '$[0]'), json_extract(nn, '$[2]')
FROM q;
CREATE VIEW IF NOT EXISTS accuracy AS
SELECT count(*) AS tested, sum(p.predicted = i.label) AS correct,
       round(100.0 * avg(p.predicted = i.label), 2) AS percent
FROM predictions AS p JOIN images AS i USING (key);
CREATE VIEW IF NOT EXISTS accuracy_by_label AS
SELECT i.label, count(*) AS tested, sum(p.predicted = i.label) AS correct,
       round(100.0 * avg(p.predicted = i.label), 2) AS percent
FROM predictions AS p JOIN images AS i USING (key) GROUP BY i.label;
SELECT printf('classified: %d test images, 1-NN accuracy %.2f %% (%d correct)', tested, percent, correct)
FROM accuracy WHERE tested > 0;

-- ---------------------------------------------------------------------------
-- 7. Export + upload: path,label,pc1..pck as CSV (atomic; multipart on S3)
-- ---------------------------------------------------------------------------
SELECT printf('csv: %d rows -> %s/pca.csv',
  csv_export(out || '/pca.csv',
    'SELECT p.key AS path, i.label, p.pc AS pc
     FROM projections AS p JOIN images AS i USING (key) ORDER BY p.key'), out)
FROM cfg;

.read sql/stages/80-plots.sql
.read sql/stages/90-report.sql

UPDATE runs SET finished = datetime('now') WHERE id = (SELECT max(id) FROM runs);
.print '== done'
