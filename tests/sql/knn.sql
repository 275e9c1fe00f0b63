-- knn_search: exact k-NN, ties by ref id, one query or a query of queries,
-- metrics, hidden arguments, errors naming the function and the row.
.mode list
CREATE TABLE r(id INTEGER PRIMARY KEY, v BLOB);
INSERT INTO r VALUES (1, fvec(0, 0)), (2, fvec(1, 0)), (3, fvec(0, 2)), (4, fvec(1, 0)), (5, fvec(3, 3)), (6, fvec(-1, 0));
CREATE TABLE q(key TEXT, v BLOB);
INSERT INTO q VALUES ('b', fvec(0.9, 0.1)), ('a', fvec(0, 0));
-- queries in their own order; equal distances (ids 2, 4 and 6 from 'a') by ref id
SELECT query_id, rank, ref_id, round(distance, 6) FROM knn_search('SELECT key, v FROM q', 'SELECT id, v FROM r', 3);
-- the same with the refs in reverse order and in a query of the queries
SELECT query_id, rank, ref_id FROM knn_search('SELECT key, v FROM q ORDER BY key', 'SELECT id, v FROM r ORDER BY id DESC', 4);
-- one vector: query_id is NULL; default k = 1
SELECT quote(query_id), rank, ref_id, distance FROM knn_search(fvec(2.9, 3), 'SELECT id, v FROM r');
-- k larger than the reference set: every reference once
SELECT count(*), max(rank) FROM knn_search(fvec(0, 0), 'SELECT id, v FROM r', 100);
-- metrics: cosine (1 - cos), dot (negative inner product, largest first)
SELECT rank, ref_id, round(distance, 6) FROM knn_search(fvec(1, 1), 'SELECT id, v FROM r WHERE id > 1', 2, 'cosine');
SELECT rank, ref_id, distance FROM knn_search(fvec(1, 1), 'SELECT id, v FROM r', 2, 'DOT');
-- text and mixed ids: ties by SQLite's order of values (numbers before text)
SELECT rank, quote(ref_id) FROM knn_search(fvec(0), 'SELECT ''b'', fvec(1) UNION ALL SELECT ''a'', fvec(-1) UNION ALL SELECT 7, fvec(1) UNION ALL SELECT 2.5, fvec(1)', 4);
-- the hidden columns work as constraints too
SELECT ref_id FROM knn_search WHERE queries = fvec(0, 1.9) AND refs = 'SELECT id, v FROM r' AND k = 1;
SELECT k, metric FROM knn_search(fvec(0, 1.9), 'SELECT id, v FROM r WHERE id > 1', 2, 'cosine') LIMIT 1;
-- a join with the queries' table
SELECT q.key, n.ref_id FROM q, knn_search(q.v, 'SELECT id, v FROM r') AS n ORDER BY q.key;
-- no query: no row
SELECT count(*) FROM knn_search('SELECT key, v FROM q WHERE 0', 'SELECT id, v FROM r', 2);
-- cross-check against fvec_l2 over a 300 x 3,000 set (blocks of 1,024
-- references and more): same neighbours and distances for k = 5
CREATE TABLE big(id INTEGER PRIMARY KEY, v BLOB);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
INSERT INTO big SELECT i, fvec((i * 7919) % 1000 / 100.0, (i * 104729) % 997 / 100.0, (i * 31) % 101 / 10.0) FROM n;
CREATE TABLE knn AS SELECT * FROM knn_search('SELECT id, v FROM big WHERE id % 10 = 0', 'SELECT id, v FROM big', 5);
CREATE TABLE brute AS SELECT * FROM (
  SELECT a.id AS query_id, row_number() OVER (PARTITION BY a.id ORDER BY fvec_l2(a.v, b.v), b.id) AS rank,
         b.id AS ref_id, fvec_l2(a.v, b.v) AS distance
  FROM big AS a, big AS b WHERE a.id % 10 = 0) WHERE rank <= 5;
SELECT count(*), sum(k.ref_id = b.ref_id), sum(abs(k.distance - b.distance) <= 1e-12 * (b.distance + 1))
FROM knn AS k JOIN brute AS b USING (query_id, rank);
SELECT count(*) FROM knn;
-- order of the rows: queries in their order, ranks 1..k
SELECT count(*) FROM (SELECT query_id, rank, lag(query_id) OVER () AS pq, lag(rank) OVER () AS pr FROM knn)
WHERE pq IS NOT NULL AND NOT ((query_id = pq AND rank = pr + 1) OR (query_id > pq AND rank = 1));
-- threads: the 3,000 x 3,000 search split over 1, 2 and 3 threads gives the
-- same rows, and its every tenth query the rows above
.output /dev/null
SELECT imgpca_config('imgpca.threads', 1);
CREATE TABLE t1 AS SELECT * FROM knn_search('SELECT id, v FROM big', 'SELECT id, v FROM big', 5);
SELECT imgpca_config('imgpca.threads', 2);
CREATE TABLE t2 AS SELECT * FROM knn_search('SELECT id, v FROM big', 'SELECT id, v FROM big', 5);
SELECT imgpca_config('imgpca.threads', 3);
CREATE TABLE t3 AS SELECT * FROM knn_search('SELECT id, v FROM big', 'SELECT id, v FROM big', 5);
SELECT imgpca_config('imgpca.threads', 0);
.output stdout
SELECT count(*), sum(t1.ref_id = t2.ref_id AND t1.distance = t2.distance AND t1.ref_id = t3.ref_id AND t1.distance = t3.distance)
FROM t1 JOIN t2 USING (query_id, rank) JOIN t3 USING (query_id, rank);
SELECT count(*) FROM t1 JOIN knn USING (query_id, rank) WHERE t1.ref_id = knn.ref_id AND t1.distance = knn.distance;
-- errors
SELECT * FROM knn_search(fvec(1, 2), 'SELECT id, v FROM r WHERE 0');
SELECT * FROM knn_search(fvec(1, 2, 3), 'SELECT id, v FROM r');
SELECT * FROM knn_search('SELECT key, v FROM q', 'SELECT id, CASE id WHEN 5 THEN fvec(1) ELSE v END FROM r');
SELECT * FROM knn_search('SELECT key, v FROM q', 'SELECT id, CASE id WHEN 3 THEN NULL ELSE v END FROM r');
SELECT * FROM knn_search('SELECT key, v FROM q', 'SELECT id, CASE id WHEN 3 THEN x''0000c07f0000c07f'' ELSE v END FROM r');
SELECT * FROM knn_search('SELECT key, CASE key WHEN ''a'' THEN NULL ELSE v END FROM q', 'SELECT id, v FROM r');
-- JSON vectors are accepted (round 3, item 19)
SELECT * FROM knn_search('SELECT key, v FROM q', 'SELECT id, fvec_to_json(v) FROM r');
SELECT * FROM knn_search(fvec(1, 2), 'SELECT id, v FROM r', 0);
SELECT * FROM knn_search(fvec(1, 2), 'SELECT id, v FROM r', -3);
SELECT * FROM knn_search(fvec(1, 2), 'SELECT id, v FROM r', 'five');
SELECT * FROM knn_search(fvec(1, 2), 'SELECT id, v FROM r', 1, 'manhattan');
SELECT * FROM knn_search(fvec(1, 2), 'SELECT id, v FROM r', 1, 'cosine');
SELECT * FROM knn_search('SELECT key, v FROM q', 'SELECT id, v FROM r', 1, 'cosine');
SELECT * FROM knn_search(NULL, 'SELECT id, v FROM r');
SELECT * FROM knn_search(fvec(1, 2), NULL);
SELECT * FROM knn_search(fvec(1, 2), 'SELECT id FROM r');
SELECT * FROM knn_search(fvec(1, 2), 'SELECT id, v FROM nosuch');
SELECT * FROM knn_search(fvec(1, 2), 'SELECT id, v FROM r; SELECT 1, 2');
SELECT * FROM knn_search(fvec(1, 2), 'DELETE FROM r RETURNING id, v');
SELECT * FROM knn_search(fvec(1, 2));
SELECT * FROM knn_search;
-- DIRECTONLY: not from a view of the schema
CREATE VIEW nn AS SELECT * FROM knn_search(fvec(1, 2), 'SELECT id, v FROM r');
SELECT * FROM nn;
