-- ---------------------------------------------------------------------------
-- The state database's schema, the only place it is written.  Read twice by
-- 00-setup.sql: into an empty in-memory database, whose sqlite_schema is what
-- the state database must hold (anything else is refused before anything is
-- written), then into the state database, where it creates what is missing.
-- SQLite stores each statement's text, without "IF NOT EXISTS", in
-- sqlite_schema: changing a statement here (even its spacing) makes existing
-- state databases "differ from the one this pipeline creates".
--
-- One row per image (features NULL = not decodable or not readable, error
-- says why; the view errors lists them); the image's URL is the source
-- followed by the key; split 'test' when a folder of the key is named Test,
-- else 'train'; label = the parent folder name.  Tables keyed by the image key
-- are WITHOUT ROWID: the key is stored once.  classified: the model and $knn
-- of the stored predictions (60-classify.sql); thresholds: per model, the
-- distance beyond which a photo is "unknown" (60-classify.sql); confusions:
-- the most confused (label, predicted) pairs with up to 3 example keys;
-- thumbs: a 48-pixel JPEG of each image (NULL: not decodable), made in stage 3
-- from the bytes fetched for the features, so the report fetches nothing.
-- ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS settings(key TEXT PRIMARY KEY, value ANY CONSTRAINT "pipeline: parameter $source is required (a folder or s3:// prefix)" CHECK (key <> 'source' OR value IS NOT NULL)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS images(key TEXT PRIMARY KEY, label TEXT, split TEXT NOT NULL, etag TEXT, spec TEXT NOT NULL, features BLOB, error TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS models(id INTEGER PRIMARY KEY, source TEXT NOT NULL, spec TEXT NOT NULL, k INTEGER NOT NULL, n INTEGER NOT NULL, model BLOB NOT NULL, fitted TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS projections(key TEXT PRIMARY KEY, model_id INTEGER NOT NULL, pc BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS predictions(key TEXT PRIMARY KEY, model_id INTEGER NOT NULL, predicted TEXT, neighbour TEXT, distance REAL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs(id INTEGER PRIMARY KEY, started TEXT, listed INTEGER, processed INTEGER, finished TEXT);
CREATE TABLE IF NOT EXISTS classified(id INTEGER PRIMARY KEY CHECK (id = 1), model_id INTEGER, knn INTEGER);
CREATE TABLE IF NOT EXISTS thumbs(key TEXT PRIMARY KEY, thumb BLOB) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS thresholds(model_id INTEGER PRIMARY KEY, distance REAL NOT NULL, loo REAL NOT NULL, quantile REAL NOT NULL, factor REAL NOT NULL, sample INTEGER NOT NULL);
CREATE VIEW IF NOT EXISTS errors AS SELECT key, error FROM images WHERE error IS NOT NULL;
CREATE VIEW IF NOT EXISTS accuracy AS SELECT count(*) AS tested, sum(p.predicted = i.label) AS correct, round(100.0 * avg(p.predicted = i.label), 2) AS percent FROM predictions AS p JOIN images AS i USING (key);
CREATE VIEW IF NOT EXISTS accuracy_by_label AS SELECT i.label, count(*) AS tested, sum(p.predicted = i.label) AS correct, round(100.0 * avg(p.predicted = i.label), 2) AS percent FROM predictions AS p JOIN images AS i USING (key) GROUP BY i.label;
CREATE VIEW IF NOT EXISTS confusions AS WITH e AS (SELECT i.label, p.predicted, p.key, row_number() OVER (PARTITION BY i.label, p.predicted ORDER BY p.key) AS n FROM predictions AS p JOIN images AS i USING (key) WHERE p.predicted IS NOT i.label) SELECT e.label, e.predicted, count(*) AS errors, round(100.0 * count(*) / (SELECT count(*) FROM predictions AS p JOIN images AS i USING (key) WHERE i.label = e.label), 2) AS percent, json_group_array(e.key) FILTER (WHERE e.n <= 3) AS examples FROM e GROUP BY e.label, e.predicted ORDER BY errors DESC, e.label, e.predicted;
