-- ---------------------------------------------------------------------------
-- 0. Setup: refuse a state database this pipeline did not create, then the
--    schema (created once, in one transaction) and the settings of this run.
-- ---------------------------------------------------------------------------
.headers off
.mode list
-- Functions with side effects are never run from the database's own schema
-- (views, triggers, CHECK and DEFAULT expressions).
PRAGMA trusted_schema = OFF;
.print '== imgpca pipeline'
CREATE TEMP TABLE clock AS SELECT julianday('now') AS t0;

-- The state database may only hold objects of the schema below, each with
-- exactly its text as stored in sqlite_schema: a database made elsewhere
-- could run code through its own constraints, triggers, indexes or views
-- when the pipeline writes to it.  Checked before anything is written.
-- Objects of the schema that are missing (a database from a version with
-- fewer of them) are created below.
-- (Changing the schema: change schema_want and the CREATE statements below
-- together; the rerun in tests/integration/30-pipeline.sh fails otherwise.)
CREATE TEMP TABLE schema_want(type TEXT, name TEXT, sql TEXT);
INSERT INTO schema_want(type, name, sql) VALUES
  ('table', 'settings',
   'CREATE TABLE settings(key TEXT PRIMARY KEY, value ANY CONSTRAINT "pipeline: parameter $source is required (a folder or s3:// prefix)" CHECK (key <> ''source'' OR value IS NOT NULL)) WITHOUT ROWID'),
  ('table', 'images',
   'CREATE TABLE images(key TEXT PRIMARY KEY, label TEXT, split TEXT NOT NULL, etag TEXT, spec TEXT NOT NULL, features BLOB, error TEXT) WITHOUT ROWID'),
  ('table', 'models',
   'CREATE TABLE models(id INTEGER PRIMARY KEY, source TEXT NOT NULL, spec TEXT NOT NULL, k INTEGER NOT NULL, n INTEGER NOT NULL, model BLOB NOT NULL, fitted TEXT NOT NULL)'),
  ('table', 'projections',
   'CREATE TABLE projections(key TEXT PRIMARY KEY, model_id INTEGER NOT NULL, pc BLOB NOT NULL) WITHOUT ROWID'),
  ('table', 'predictions',
   'CREATE TABLE predictions(key TEXT PRIMARY KEY, model_id INTEGER NOT NULL, predicted TEXT, neighbour TEXT, distance REAL) WITHOUT ROWID'),
  ('table', 'runs',
   'CREATE TABLE runs(id INTEGER PRIMARY KEY, started TEXT, listed INTEGER, processed INTEGER, finished TEXT)'),
  ('table', 'classified',
   'CREATE TABLE classified(id INTEGER PRIMARY KEY CHECK (id = 1), model_id INTEGER, knn INTEGER)'),
  ('table', 'thumbs',
   'CREATE TABLE thumbs(key TEXT PRIMARY KEY, thumb BLOB) WITHOUT ROWID'),
  ('view', 'errors',
   'CREATE VIEW errors AS SELECT key, error FROM images WHERE error IS NOT NULL'),
  ('view', 'accuracy',
   'CREATE VIEW accuracy AS SELECT count(*) AS tested, sum(p.predicted = i.label) AS correct, round(100.0 * avg(p.predicted = i.label), 2) AS percent FROM predictions AS p JOIN images AS i USING (key)'),
  ('view', 'accuracy_by_label',
   'CREATE VIEW accuracy_by_label AS SELECT i.label, count(*) AS tested, sum(p.predicted = i.label) AS correct, round(100.0 * avg(p.predicted = i.label), 2) AS percent FROM predictions AS p JOIN images AS i USING (key) GROUP BY i.label'),
  ('view', 'confusions',
   'CREATE VIEW confusions AS WITH e AS (SELECT i.label, p.predicted, p.key, row_number() OVER (PARTITION BY i.label, p.predicted ORDER BY p.key) AS n FROM predictions AS p JOIN images AS i USING (key) WHERE p.predicted IS NOT i.label) SELECT e.label, e.predicted, count(*) AS errors, round(100.0 * count(*) / (SELECT count(*) FROM predictions AS p JOIN images AS i USING (key) WHERE i.label = e.label), 2) AS percent, json_group_array(e.key) FILTER (WHERE e.n <= 3) AS examples FROM e GROUP BY e.label, e.predicted ORDER BY errors DESC, e.label, e.predicted');
CREATE TEMP TABLE schema_problem AS
WITH have AS (SELECT type, name, sql FROM main.sqlite_schema),
     db AS (SELECT coalesce(nullif(file, ''), 'in memory') AS file FROM pragma_database_list WHERE name = 'main'),
     older AS (SELECT 1 FROM have WHERE type = 'table' AND name = 'images'
               AND sql LIKE '%url      TEXT NOT NULL%'),
     problem(o, msg) AS (
       SELECT 0, 'was created by an earlier version of the pipeline (table images has a url column); '
                 || 'this version keeps a smaller state: start a new state database (delete this file or use another one)'
       FROM older
       UNION ALL
       SELECT 1, CASE WHEN w.name IS NULL THEN printf('unexpected %s ''%s''', h.type, h.name)
                      ELSE printf('%s ''%s'' differs from the one this pipeline creates', h.type, h.name) END
       FROM have AS h LEFT JOIN schema_want AS w ON w.type = h.type AND w.name = h.name
       WHERE w.sql IS NOT h.sql AND NOT EXISTS (SELECT 1 FROM older)
)
SELECT printf('pipeline: state database ''%s'': %s', db.file, msg) AS msg FROM problem, db ORDER BY o, msg;
.output stderr
SELECT msg FROM schema_problem;
.output stdout
CREATE TEMP TABLE schema_guard(
  problems INTEGER CONSTRAINT "pipeline: refusing the state database (see the line above), nothing was written"
           CHECK (problems = 0));
INSERT INTO schema_guard SELECT count(*) FROM schema_problem;

-- A new database gets 16 KiB pages: a 512-dimension feature row (2 KiB)
-- then shares its page with six others instead of wasting half a 4 KiB page.
PRAGMA page_size = 16384;
-- WAL: a commit per batch costs no fsync (synchronous=NORMAL keeps every
-- committed batch across a killed process; only a power cut may lose the
-- last ones, which the next run redoes), and readers can watch progress.
.output /dev/null
PRAGMA journal_mode = WAL;
.output stdout
PRAGMA synchronous = NORMAL;

-- The schema: one row per image (features NULL = not decodable or not
-- readable, error says why; the view errors lists them); the image's URL is
-- the source followed by the key; split 'test' when a folder of the key is
-- named Test, else 'train'; label = the parent folder name.  Tables keyed by
-- the image key are WITHOUT ROWID: the key is stored once.  classified: the
-- model and $knn of the stored predictions (60-classify.sql); confusions: the
-- most confused (label, predicted) pairs with up to 3 example keys; thumbs:
-- a 48-pixel JPEG of each image (NULL: not decodable), made in stage 3 from
-- the bytes fetched for the features, so the report fetches nothing.
BEGIN;
CREATE TABLE IF NOT EXISTS settings(key TEXT PRIMARY KEY, value ANY CONSTRAINT "pipeline: parameter $source is required (a folder or s3:// prefix)" CHECK (key <> 'source' OR value IS NOT NULL)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS images(key TEXT PRIMARY KEY, label TEXT, split TEXT NOT NULL, etag TEXT, spec TEXT NOT NULL, features BLOB, error TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS models(id INTEGER PRIMARY KEY, source TEXT NOT NULL, spec TEXT NOT NULL, k INTEGER NOT NULL, n INTEGER NOT NULL, model BLOB NOT NULL, fitted TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS projections(key TEXT PRIMARY KEY, model_id INTEGER NOT NULL, pc BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS predictions(key TEXT PRIMARY KEY, model_id INTEGER NOT NULL, predicted TEXT, neighbour TEXT, distance REAL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs(id INTEGER PRIMARY KEY, started TEXT, listed INTEGER, processed INTEGER, finished TEXT);
CREATE TABLE IF NOT EXISTS classified(id INTEGER PRIMARY KEY CHECK (id = 1), model_id INTEGER, knn INTEGER);
CREATE TABLE IF NOT EXISTS thumbs(key TEXT PRIMARY KEY, thumb BLOB) WITHOUT ROWID;
CREATE VIEW IF NOT EXISTS errors AS SELECT key, error FROM images WHERE error IS NOT NULL;
CREATE VIEW IF NOT EXISTS accuracy AS SELECT count(*) AS tested, sum(p.predicted = i.label) AS correct, round(100.0 * avg(p.predicted = i.label), 2) AS percent FROM predictions AS p JOIN images AS i USING (key);
CREATE VIEW IF NOT EXISTS accuracy_by_label AS SELECT i.label, count(*) AS tested, sum(p.predicted = i.label) AS correct, round(100.0 * avg(p.predicted = i.label), 2) AS percent FROM predictions AS p JOIN images AS i USING (key) GROUP BY i.label;
CREATE VIEW IF NOT EXISTS confusions AS WITH e AS (SELECT i.label, p.predicted, p.key, row_number() OVER (PARTITION BY i.label, p.predicted ORDER BY p.key) AS n FROM predictions AS p JOIN images AS i USING (key) WHERE p.predicted IS NOT i.label) SELECT e.label, e.predicted, count(*) AS errors, round(100.0 * count(*) / (SELECT count(*) FROM predictions AS p JOIN images AS i USING (key) WHERE i.label = e.label), 2) AS percent, json_group_array(e.key) FILTER (WHERE e.n <= 3) AS examples FROM e GROUP BY e.label, e.predicted ORDER BY errors DESC, e.label, e.predicted;
COMMIT;

-- Settings: a parameter wins, else the value stored by the previous run, else
-- the default; setting_origin says which one for the summary.
CREATE TEMP TABLE setting_origin AS
SELECT p.ord, p.key, coalesce(p.value, s.value, p.dflt) AS value,
       CASE WHEN p.value IS NOT NULL THEN 'parameter'
            WHEN s.value IS NOT NULL THEN 'stored by the previous run' ELSE 'default' END AS origin
FROM (SELECT 1 AS ord, 'source' AS key, $source AS value, NULL AS dflt
      UNION ALL SELECT 2, 'out', $out, 'out'
      UNION ALL SELECT 3, 'spec', $spec, 'hist:bins=8,sqrt'
      UNION ALL SELECT 4, 'k', CAST($k AS INTEGER), 50
      UNION ALL SELECT 5, 'refit', CAST($refit AS INTEGER), 0
      UNION ALL SELECT 6, 'batch', CAST($batch AS INTEGER), 500
      UNION ALL SELECT 7, 'plot_max', CAST($plot_max AS INTEGER), 5000
      UNION ALL SELECT 8, 'classify', CAST($classify AS INTEGER), 1
      UNION ALL SELECT 9, 'knn', CAST($knn AS INTEGER), 1) AS p
LEFT JOIN settings AS s USING (key);
-- $refit applies to this run only
UPDATE setting_origin SET value = 0, origin = 'default' WHERE key = 'refit' AND origin <> 'parameter';
CREATE TEMP TABLE setting_check(
  key TEXT, value ANY,
  CONSTRAINT "pipeline: $k, $batch, $plot_max and $knn must be integers >= 1, $refit and $classify 0 or 1"
  CHECK (key NOT IN ('k', 'batch', 'plot_max', 'knn') OR value >= 1)
  CHECK (key NOT IN ('refit', 'classify') OR value IN (0, 1)));
INSERT INTO setting_check SELECT key, value FROM setting_origin;
INSERT INTO settings(key, value)
SELECT key, value FROM setting_origin WHERE true
ON CONFLICT(key) DO UPDATE SET value = excluded.value;

-- (a table, not a view: the batch statements read it 1024 times)
CREATE TEMP TABLE cfg AS
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
