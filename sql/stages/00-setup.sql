-- Stage 0 of sql/pipeline.sql: shell settings, schema of the state database
-- (idempotent), settings resolved from parameters, stored values and defaults.
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
  predicted TEXT,              -- label voted by its $knn nearest training images in PCA space
  neighbour TEXT,              -- key of the nearest one
  distance  REAL               -- its distance
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
      UNION ALL SELECT 'classify', CAST($classify AS INTEGER), 1
      UNION ALL SELECT 'knn', CAST($knn AS INTEGER), 1) AS p
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
       (SELECT value FROM settings WHERE key = 'classify') AS classify,
       (SELECT value FROM settings WHERE key = 'knn')      AS knn;

INSERT INTO runs(started) VALUES (datetime('now'));
SELECT printf('source %s, spec ''%s'', k = %d, output %s', source, spec, k, out) FROM cfg;
