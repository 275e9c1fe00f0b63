-- Security: every function or table with a side effect (configuration,
-- network, files) is SQLITE_DIRECTONLY, so a view, trigger or constraint
-- stored in a database schema -- which an attacker may have written -- cannot
-- call it, whatever PRAGMA trusted_schema says.  Pure functions stay usable.
.bail off

-- 1. Coverage: every DIRECTONLY function registered by imgpca is exercised
--    below; a new side-effect function shows up here until a case is added.
SELECT 'untested directonly function: ' || name FROM pragma_function_list
 WHERE flags & 0x80000
   AND (name GLOB 'imgpca_*' OR name GLOB 'fvec*' OR name GLOB 'img_*' OR name GLOB 'pca_*'
        OR name GLOB 's3_*' OR name GLOB 'csv_*')
   AND name NOT IN ('imgpca_config', 's3_fetch', 's3_fetch_or_null', 's3_put', 's3_delete', 's3_config', 's3_concat', 'csv_export',
                    'img_model_info');
--    ... and every function named like a side effect is DIRECTONLY.
SELECT 'side-effect function without DIRECTONLY: ' || name || '/' || narg FROM pragma_function_list
 WHERE (name GLOB 's3_*' OR name GLOB 'csv_*' OR name = 'imgpca_config')
   AND NOT flags & 0x80000;

-- 2. The untrusted schema: written through one attachment of a shared
--    in-memory database, then read back through a second attachment, so
--    that SQLite parses it from the database like any schema on disk.
ATTACH 'file:/imgpca-security?vfs=memdb' AS w;
CREATE TABLE w.log(x);
CREATE TABLE w.dflt(x, y DEFAULT (imgpca_config('s3.region')));
CREATE VIEW w.v_config0 AS SELECT imgpca_config() AS c;
CREATE VIEW w.v_config1 AS SELECT imgpca_config('s3.endpoint') AS c;
CREATE VIEW w.v_config2 AS SELECT imgpca_config('s3.endpoint', 'http://attacker.example') AS c;
CREATE TRIGGER w.t_config AFTER INSERT ON log BEGIN
  SELECT imgpca_config('s3.endpoint', 'http://attacker.example');
END;
-- storage: every function at every arity, and the s3_list table
CREATE VIEW w.v_fetch1 AS SELECT s3_fetch('security.sql') AS c;
CREATE VIEW w.v_fetch2 AS SELECT s3_fetch('security.sql', 0) AS c;
CREATE VIEW w.v_fetch3 AS SELECT s3_fetch('security.sql', 0, 10) AS c;
CREATE VIEW w.v_fornull1 AS SELECT s3_fetch_or_null('security.sql') AS c;
CREATE VIEW w.v_fornull2 AS SELECT s3_fetch_or_null('security.sql', 0) AS c;
CREATE VIEW w.v_fornull3 AS SELECT s3_fetch_or_null('security.sql', 0, 10) AS c;
CREATE VIEW w.v_put AS SELECT s3_put('security-canary.tmp', 'written by a view') AS c;
CREATE VIEW w.v_delete AS SELECT s3_delete('security-victim.tmp') AS c;
CREATE VIEW w.v_s3config AS SELECT s3_config() AS c;
CREATE VIEW w.v_concat AS SELECT s3_concat('security-canary.tmp', '["security.sql"]') AS c;
CREATE VIEW w.v_list AS SELECT name AS c FROM s3_list('.');
CREATE VIEW w.v_model1 AS SELECT img_model_info('security.sql') AS c;
CREATE VIEW w.v_model2 AS SELECT img_model_info('security.sql', 'size=8x8') AS c;
CREATE VIEW w.v_csv2 AS SELECT csv_export('security-canary.tmp', 'SELECT 1') AS c;
CREATE VIEW w.v_csv3 AS SELECT csv_export('security-canary.tmp', 'SELECT 1', '{}') AS c;
CREATE TRIGGER w.t_csv AFTER INSERT ON log BEGIN SELECT csv_export('security-canary.tmp', 'SELECT 1'); END;
CREATE TRIGGER w.t_put AFTER INSERT ON log BEGIN SELECT s3_put('security-canary.tmp', 'written by a trigger'); END;
CREATE TRIGGER w.t_delete AFTER INSERT ON log BEGIN SELECT s3_delete('security-victim.tmp'); END;
CREATE VIEW w.v_pure AS SELECT fvec_to_json(fvec_add('[1,2]', '[3,4]')) AS j, imgpca_version() IS NOT NULL AS ok,
  img_info(NULL) IS NULL AS img, pca_info(NULL) IS NULL AS pca;
ATTACH 'file:/imgpca-security?vfs=memdb' AS s;
SELECT s3_put('security-victim.tmp', 'must survive');

PRAGMA trusted_schema = OFF;
SELECT 'off', c FROM s.v_config0;
SELECT 'off', c FROM s.v_config1;
SELECT 'off', c FROM s.v_config2;
SELECT 'off', c FROM s.v_fetch1;
SELECT 'off', c FROM s.v_fetch2;
SELECT 'off', c FROM s.v_fetch3;
SELECT 'off', c FROM s.v_fornull1;
SELECT 'off', c FROM s.v_fornull2;
SELECT 'off', c FROM s.v_fornull3;
SELECT 'off', c FROM s.v_put;
SELECT 'off', c FROM s.v_delete;
SELECT 'off', c FROM s.v_s3config;
SELECT 'off', c FROM s.v_concat;
SELECT 'off', c FROM s.v_list;
SELECT 'off', c FROM s.v_model1;
SELECT 'off', c FROM s.v_model2;
SELECT 'off', c FROM s.v_csv2;
SELECT 'off', c FROM s.v_csv3;
INSERT INTO s.log VALUES (1);
INSERT INTO s.dflt(x) VALUES (1);
SELECT 'off', * FROM s.v_pure;

PRAGMA trusted_schema = ON;
SELECT 'on', c FROM s.v_config0;
SELECT 'on', c FROM s.v_config1;
SELECT 'on', c FROM s.v_config2;
SELECT 'on', c FROM s.v_fetch1;
SELECT 'on', c FROM s.v_fetch2;
SELECT 'on', c FROM s.v_fetch3;
SELECT 'on', c FROM s.v_fornull1;
SELECT 'on', c FROM s.v_fornull2;
SELECT 'on', c FROM s.v_fornull3;
SELECT 'on', c FROM s.v_put;
SELECT 'on', c FROM s.v_delete;
SELECT 'on', c FROM s.v_s3config;
SELECT 'on', c FROM s.v_concat;
SELECT 'on', c FROM s.v_list;
SELECT 'on', c FROM s.v_model1;
SELECT 'on', c FROM s.v_model2;
SELECT 'on', c FROM s.v_csv2;
SELECT 'on', c FROM s.v_csv3;
INSERT INTO s.log VALUES (2);
INSERT INTO s.dflt(x) VALUES (2);
SELECT 'on', * FROM s.v_pure;

-- 3. Nothing was changed by the refused calls; direct calls still work.
SELECT 'rows', (SELECT count(*) FROM s.log), (SELECT count(*) FROM s.dflt);
SELECT 'endpoint unchanged', imgpca_config('s3.endpoint') IS NOT 'http://attacker.example';
SELECT imgpca_config('s3.region', 'eu-central-1');
SELECT 'canary not written', s3_fetch_or_null('security-canary.tmp') IS NULL;
SELECT 'victim not deleted', CAST(s3_fetch('security-victim.tmp') AS TEXT);
SELECT s3_delete('security-victim.tmp');

-- 4. Known limitation of SQLite 3.40.1 (Debian 12), not of imgpca: a CHECK
--    constraint read from the schema is evaluated without the DIRECTONLY
--    (and trusted_schema) restriction, so it CAN call a side-effect function.
--    docs/RELIABILITY.md tells users not to write into tables of untrusted
--    databases with imgpca loaded.  When SQLite enforces the documented rule,
--    this output changes from "1 ... attacker" to an "unsafe use" error.
CREATE TABLE w.chk(x CHECK (imgpca_config('s3.region', 'attacker') IS NOT NULL));
ATTACH 'file:/imgpca-security?vfs=memdb' AS s2;
PRAGMA trusted_schema = OFF;
INSERT INTO s2.chk VALUES (1);
SELECT 'check constraint ran', count(*), imgpca_config('s3.region') FROM s2.chk;
