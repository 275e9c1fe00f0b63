-- csv_export: header naming, vector expansion, quoting, options, errors.
.mode list
.parameter set $f '/tmp/imgpca-csv-sqltest.csv'
CREATE TABLE t(path TEXT, label TEXT, v BLOB, r REAL, i INTEGER);
INSERT INTO t VALUES
  ('Training/Apple 6/a.jpg', 'Apple 6', fvec(1.5, 0.1, -3), 0.1, 7),
  ('we,ird "name".jpg', 'x', fvec(0, 1e-8, 123456789), NULL, NULL),
  ('multi
line', '', NULL, -2.5, 0);
SELECT csv_export($f, 'SELECT path, label, v AS pc, r, i FROM t ORDER BY rowid');
SELECT CAST(readfile($f) AS TEXT);
-- options: names, delimiter, CRLF, no header
SELECT csv_export($f, 'SELECT path, v FROM t WHERE v IS NOT NULL', '{"names":["file","f"],"delimiter":";","line_ending":"crlf"}');
SELECT replace(CAST(readfile($f) AS TEXT), char(13), '<CR>');
SELECT csv_export($f, 'SELECT label, v FROM t WHERE rowid = 1', '{"header":false,"expand":false}');
SELECT CAST(readfile($f) AS TEXT);
-- empty result: header only
SELECT csv_export($f, 'SELECT path, label FROM t WHERE 0');
SELECT CAST(readfile($f) AS TEXT);
-- NULL arguments
SELECT csv_export(NULL, 'SELECT 1') IS NULL, csv_export($f, NULL) IS NULL;
-- errors (the previous file stays untouched)
SELECT csv_export($f, 'SELECT fvec(1,2) AS v UNION ALL SELECT fvec(1,2,3)');
SELECT csv_export($f, 'SELECT NULL AS v UNION ALL SELECT fvec(1,2)');
SELECT csv_export($f, 'SELECT x''010203'' AS b');
SELECT csv_export($f, 'SELECT 1; SELECT 2');
SELECT csv_export($f, 'DELETE FROM t');
SELECT csv_export($f, 'SELECT nope FROM t');
SELECT csv_export($f, '');
SELECT csv_export($f, 'SELECT 1', '{"delimiter":"ab"}');
SELECT csv_export($f, 'SELECT 1', '{"header":1}');
SELECT csv_export($f, 'SELECT 1', '{"names":[1]}');
SELECT csv_export($f, 'SELECT 1', '{"names":["a","b"]}');
SELECT csv_export($f, 'SELECT 1', '{"colour":"red"}');
SELECT csv_export($f, 'SELECT 1', '[]');
SELECT csv_export($f, 'SELECT 1', 'not json');
SELECT csv_export(1, 'SELECT 1');
SELECT csv_export($f, 'SELECT abs(-9223372036854775807 - 1)');
SELECT CAST(readfile($f) AS TEXT);
-- not usable from views or triggers (DIRECTONLY)
CREATE VIEW vv AS SELECT csv_export('/tmp/x.csv', 'SELECT 1');
SELECT * FROM vv;
.shell rm -f /tmp/imgpca-csv-sqltest.csv
