-- ---------------------------------------------------------------------------
-- 0. Setup: refuse a state database this pipeline did not create, then the
--    schema (created once, in one transaction) and the settings of this run.
-- ---------------------------------------------------------------------------
.headers off
.mode list
-- Functions with side effects are never run from the database's own schema
-- (views, triggers, CHECK and DEFAULT expressions).
PRAGMA trusted_schema = OFF;
-- Another pipeline on the same state database: wait for its writes (each
-- batch is one short transaction) instead of failing with "database is
-- locked"; stage 0 says when a run has not finished.
.output /dev/null
PRAGMA busy_timeout = 600000;
.output stdout
.print '== imgpca pipeline'
CREATE TEMP TABLE clock AS SELECT julianday('now') AS t0;

-- The state database may only hold objects of the pipeline's schema
-- (sql/stages/01-schema.sql), each with exactly its text as stored in
-- sqlite_schema: a database made elsewhere could run code through its own
-- constraints, triggers, indexes or views when the pipeline writes to it.
-- Checked before anything is written.  Objects of the schema that are missing
-- (a database from a version with fewer of them) are created below.
-- The expected objects are not written here a second time: 01-schema.sql is
-- read into an empty in-memory database on a second connection of the shell
-- (.connection 1, a memdb database that every connection of this process
-- can attach by its name), whose sqlite_schema is then compared with the
-- state database's.  SQLite stores a CREATE statement's text without its
-- "IF NOT EXISTS", so both hold the same text.
.connection 1
.open file:/imgpca-schema-want?vfs=memdb
.read sql/stages/01-schema.sql
.connection 0
ATTACH 'file:/imgpca-schema-want?vfs=memdb' AS want;
CREATE TEMP TABLE schema_want AS SELECT type, name, sql FROM want.sqlite_schema;
DETACH want;
.connection close 1
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
SELECT imgpca_printable(msg) FROM schema_problem; -- names of objects and files are untrusted text
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
-- (Two pipelines started at once on a new database: the switch to WAL does
-- not wait for the other's read lock, SQLite fails it at once; scripts/imgpca
-- switches a new database to WAL before running this script, retrying.)
.output /dev/null
PRAGMA journal_mode = WAL;
.output stdout
PRAGMA synchronous = NORMAL;

-- The schema (missing objects only; see 01-schema.sql), in one transaction.
BEGIN IMMEDIATE;
.read sql/stages/01-schema.sql
COMMIT;

-- Settings: a parameter wins, else the value stored by the previous run, else
-- the default; setting_origin says which one for the summary.  Every value is
-- checked (type and range) before anything is stored, whatever its origin: a
-- state database may have been edited by someone else.  Only $source is
-- stored now (it says whose images the database holds); the other settings
-- are stored by 99-summary.sql when the run has finished, so a value that
-- fails (a spec, a k too large for the data) never sticks.  $refit applies
-- to this run only.
-- One row per parameter: its kind (text, spec, k, bool, or int from lo to
-- hi) and its default.
CREATE TEMP TABLE setting_raw AS
SELECT p.ord, p.key, p.kind, p.lo, p.hi, p.value AS param,
       CASE WHEN p.key <> 'refit' THEN s.value END AS stored, p.dflt
FROM (SELECT 1 AS ord, 'source' AS key, 'text' AS kind, NULL AS lo, NULL AS hi, $source AS value, NULL AS dflt
      UNION ALL SELECT 2, 'out', 'text', NULL, NULL, $out, 'out'
      UNION ALL SELECT 3, 'spec', 'spec', NULL, NULL, $spec, 'hist:bins=8,sqrt'
      UNION ALL SELECT 4, 'k', 'k', NULL, NULL, $k, 50
      UNION ALL SELECT 5, 'refit', 'bool', NULL, NULL, $refit, 0
      UNION ALL SELECT 6, 'batch', 'int', 1, 1000000, $batch, 500
      UNION ALL SELECT 7, 'plot_max', 'int', 1, 10000000, $plot_max, 5000
      UNION ALL SELECT 8, 'classify', 'bool', NULL, NULL, $classify, 1
      UNION ALL SELECT 9, 'knn', 'int', 1, 1000, $knn, 1
      UNION ALL SELECT 10, 'report_points', 'int', 1, 10000000, $report_points, 10000
      UNION ALL SELECT 11, 'report_thumbs', 'int', 0, 10000000, $report_thumbs, 1500) AS p
LEFT JOIN settings AS s USING (key);
CREATE TEMP TABLE setting_origin AS
WITH o AS (
  SELECT ord, key, kind, lo, hi,
         CASE WHEN param IS NOT NULL THEN param WHEN stored IS NOT NULL THEN stored ELSE dflt END AS raw,
         CASE WHEN param IS NOT NULL THEN 'parameter'
              WHEN stored IS NOT NULL THEN 'stored by the previous run' ELSE 'default' END AS origin
  FROM setting_raw),
-- integers: an integer, a whole real, or digits as text
n AS (
  SELECT *, CASE WHEN typeof(raw) = 'integer' THEN raw
                 WHEN typeof(raw) = 'real' AND raw = CAST(raw AS INTEGER) AND abs(raw) < 1e15 THEN CAST(raw AS INTEGER)
                 WHEN typeof(raw) = 'text' AND length(trim(raw)) BETWEEN 1 AND 15
                      AND trim(raw) NOT GLOB '*[^0-9]*' THEN CAST(trim(raw) AS INTEGER) END AS i,
            -- a fraction: a real, or digits with one '.' as text
            CASE WHEN typeof(raw) = 'real' THEN raw
                 WHEN typeof(raw) = 'text' AND length(trim(raw)) BETWEEN 1 AND 30
                      AND trim(raw) NOT GLOB '*[^0-9.]*' AND trim(raw) GLOB '*[0-9]*'
                      AND trim(raw) NOT GLOB '*.*.*' THEN CAST(trim(raw) AS REAL) END AS r
  FROM o)
SELECT ord, key, raw, origin,
       CASE WHEN kind IN ('text', 'spec') THEN raw
            WHEN kind = 'k' THEN coalesce(i, r)
            ELSE i END AS value,
       CASE
         WHEN raw IS NULL AND key = 'source'
           THEN 'is required on the first run of a state database (a folder, file:// URL or s3://bucket/prefix)'
         WHEN kind = 'text' AND (typeof(raw) <> 'text' OR trim(raw) = '')
           THEN printf('must be a folder, file:// URL or s3://bucket/prefix (got %s)', typeof(raw))
         WHEN kind = 'spec' AND typeof(raw) <> 'text'
           THEN printf('must be a feature spec such as ''hist:bins=8,sqrt'' (got %s)', typeof(raw))
         WHEN kind = 'spec' AND img_spec_check(raw) IS NOT NULL
           THEN img_spec_check(raw) || ' (see docs/IMAGES.md for the spec syntax)'
         WHEN kind = 'k' AND NOT coalesce(i >= 1 AND i <= 100000, 0) AND NOT coalesce(i IS NULL AND r > 0 AND r < 1, 0)
           THEN 'must be a number of components >= 1 or a fraction of the variance to keep in (0, 1), such as 0.95'
         WHEN kind = 'bool' AND i IS NOT 0 AND i IS NOT 1 THEN 'must be 0 or 1'
         WHEN kind = 'int' AND NOT coalesce(i >= lo AND i <= hi, 0)
           THEN printf('must be an integer from %d to %d', lo, hi)
       END AS problem
FROM n;
-- Values are shown with SQL quoting; text holding control characters is
-- shown as a hex BLOB literal so that nothing reaches the terminal raw.
CREATE TEMP VIEW setting_shown AS
SELECT *, CASE WHEN typeof(raw) = 'text'
                    AND raw GLOB '*[' || char(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
                                              20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 127) || ']*'
               THEN quote(CAST(raw AS BLOB)) ELSE quote(raw) END AS shown,
          CASE origin WHEN 'parameter' THEN 'parameter'
                      WHEN 'default' THEN 'default'
                      ELSE 'stored setting: table settings of the state database; set the parameter to replace it' END AS came
FROM setting_origin;
-- A new $source on a state database holding the images of another source
-- would drop them all (features, projections, predictions): refused unless
-- $new_source = 1.
UPDATE setting_origin SET problem = (SELECT printf('differs from the source of this state database, %s, whose %d images (%d with features) this run would drop with their projections and predictions (on S3 they are fetched again); set $new_source = 1 (make demo NEW_SOURCE=1) to switch to the new source, or use another state database (DB=...)',
              CASE WHEN s.value GLOB '*[' || char(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
                                                   20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 127) || ']*'
                   THEN quote(CAST(s.value AS BLOB)) ELSE quote(s.value) END,
              (SELECT count(*) FROM images), (SELECT count(features) FROM images))
  FROM settings AS s WHERE s.key = 'source')
WHERE key = 'source' AND origin = 'parameter' AND problem IS NULL
  AND (SELECT typeof(value) = 'text' AND rtrim(value, '/') IS NOT rtrim(setting_origin.raw, '/')
       FROM settings WHERE key = 'source')
  AND EXISTS (SELECT 1 FROM images)
  AND coalesce(CAST($new_source AS INTEGER), 0) <> 1;
.output stderr
SELECT printf('pipeline: $%s = %s (%s): %s', key, shown, came, problem)
FROM setting_shown WHERE problem IS NOT NULL ORDER BY ord;
.output stdout
CREATE TEMP TABLE setting_guard(
  problems INTEGER CONSTRAINT "pipeline: invalid settings (see the lines above), nothing was stored"
           CHECK (problems = 0));
INSERT INTO setting_guard SELECT count(*) FROM setting_origin WHERE problem IS NOT NULL;
-- Outputs or images named by the state database rather than by a parameter:
-- said before anything is written (the database may come from someone else).
SELECT printf('settings: %s taken from the state database (no parameter given): %s',
              group_concat('$' || key, ' and '),
              group_concat(printf('%s %s', key, shown), ', '))
FROM (SELECT * FROM setting_shown WHERE key IN ('source', 'out') AND origin <> 'parameter' AND origin <> 'default'
      ORDER BY ord)
HAVING count(*) > 0;
INSERT INTO settings(key, value)
SELECT key, value FROM setting_origin WHERE key = 'source'
ON CONFLICT(key) DO UPDATE SET value = excluded.value;

-- (a table, not a view: the batch statements read it 1024 times)
CREATE TEMP TABLE cfg AS
SELECT (SELECT value FROM setting_origin WHERE key = 'source')   AS source,
       rtrim((SELECT value FROM setting_origin WHERE key = 'out'), '/') AS out,
       (SELECT value FROM setting_origin WHERE key = 'spec')     AS spec,
       (SELECT value FROM setting_origin WHERE key = 'k')        AS k,
       (SELECT value FROM setting_origin WHERE key = 'refit')    AS refit,
       (SELECT value FROM setting_origin WHERE key = 'batch')    AS batch,
       (SELECT value FROM setting_origin WHERE key = 'plot_max') AS plot_max,
       (SELECT value FROM setting_origin WHERE key = 'classify') AS classify,
       (SELECT value FROM setting_origin WHERE key = 'knn')      AS knn,
       (SELECT value FROM setting_origin WHERE key = 'report_points') AS report_points,
       (SELECT value FROM setting_origin WHERE key = 'report_thumbs') AS report_thumbs;

SELECT printf('note: run #%d, started %s, has not finished: either another pipeline is working on this state database (this run waits for each of its writes) or it was stopped (this run resumes its work)', id, started)
FROM runs WHERE finished IS NULL ORDER BY id DESC LIMIT 1;
INSERT INTO runs(started) VALUES (datetime('now'));
-- this run's row (another pipeline on the database may add rows meanwhile)
CREATE TEMP TABLE this_run AS SELECT last_insert_rowid() AS id;
SELECT imgpca_printable(printf('source %s, spec ''%s'', k = %s, output %s', source, spec, k, out)) FROM cfg;
