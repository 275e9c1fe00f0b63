-- pca_* functions: small exact cases and every error message.
.mode list
.bail off
CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB);
INSERT INTO t(v) VALUES (fvec(1,2,3)), (fvec(2,4,6.5)), (fvec(0,1,1)), (fvec(5,3,2)), (fvec(1,1,1)), (NULL);
CREATE TABLE m AS SELECT pca_fit(v, 2) AS model FROM t;
-- Two points on a line: one component along (1,1)/sqrt(2), eigenvalue 2 (n-1 = 1).
SELECT idx, eigenvalue, ratio, cumulative, fvec_to_json(component)
  FROM pca_components((SELECT pca_fit(v, 1) FROM (SELECT fvec(0,0) AS v UNION ALL SELECT fvec(1,1) UNION ALL SELECT fvec(2,2))));
SELECT json_extract(pca_info(model), '$.n', '$.d', '$.k', '$.solver', '$.standardize') FROM m;
SELECT printf('%.6f', json_extract(pca_info(model), '$.ratio[0]')) FROM m;
SELECT fvec_to_json(pca_mean(model)), fvec_to_json(pca_std(model)) FROM m;
SELECT fvec_dims(pca_project(model, v)), fvec_dims(pca_project(model, v, 1)) FROM m, t WHERE id = 1;
SELECT pca_project(model, NULL) IS NULL, pca_project(NULL, fvec(1,2,3)) IS NULL FROM m;
SELECT round(fvec_l2(pca_reconstruct(model, pca_project(model, v)), v), 2) FROM m, t WHERE id = 4;
-- JSON vectors are accepted too
SELECT json_extract(pca_info(pca_fit(v, 1)), '$.n') FROM (SELECT '[1,2]' AS v UNION ALL SELECT '[3,5]' UNION ALL SELECT '[0,1]');
-- a variance fraction picks the smallest k above it
SELECT json_extract(pca_info(pca_fit(v, 0.5)), '$.k'), json_extract(pca_info(pca_fit(v, 0.99)), '$.k') FROM t;
-- partial states merge to the same model
SELECT abs(json_extract(pca_info(pca_fit(s, 2)), '$.explained_variance[1]') / json_extract(pca_info((SELECT model FROM m)), '$.explained_variance[1]') - 1) < 1e-12
  FROM (SELECT pca_partial(v) AS s FROM t GROUP BY id % 2);
SELECT length(pca_merge(s)) > 0 FROM (SELECT pca_partial(v) AS s FROM t GROUP BY id % 3);
SELECT pca_partial(v) IS NULL, pca_merge(v) IS NULL FROM t WHERE 0;
SELECT json_extract(pca_info(pca_fit(v, 1, '{"solver":"streaming","sketch":4}')), '$.solver', '$.options.sketch') FROM t;
SELECT json_extract(pca_info(pca_fit(v, 1, '{"standardize":true,"seed":7,"memory_mb":16}')), '$.standardize', '$.options.seed') FROM t;

-- a model from a column is parsed once per connection while its bytes stay
-- the same; a different model, or a copy with one byte changed, is parsed afresh
CREATE TABLE ms(id INTEGER PRIMARY KEY, model BLOB);
INSERT INTO ms(model) SELECT pca_fit(v, 1) FROM t;
INSERT INTO ms(model) SELECT pca_fit(v, 3, '{"standardize":true}') FROM t;
INSERT INTO ms(model) SELECT model FROM ms WHERE id = 1;
SELECT group_concat(ms.id || ':' || fvec_dims(pca_project(ms.model, t.v)), ' ') FROM t CROSS JOIN ms WHERE t.id <= 2;
SELECT count(*) FROM t CROSS JOIN ms a CROSS JOIN ms b
  WHERE a.id = 1 AND b.id = 3 AND pca_project(a.model, t.v) = pca_project(b.model, t.v);
SELECT count(*) FROM t CROSS JOIN ms a CROSS JOIN ms b
  WHERE a.id = 1 AND b.id = 2 AND pca_project(a.model, t.v) <> pca_project(b.model, t.v, 1);
SELECT sum(ms.id = 2 AND round(fvec_l2(pca_reconstruct(ms.model, pca_project(ms.model, t.v)), t.v), 4) = 0),
       sum(ms.id = 1 AND fvec_dims(pca_reconstruct(ms.model, pca_project(ms.model, t.v))) = 3)
  FROM t CROSS JOIN ms WHERE ms.id IN (1, 2);
SELECT x.id, fvec_dims(pca_project(x.model, t.v)) FROM t CROSS JOIN
  (SELECT 1 AS id, model FROM ms WHERE id = 1
   UNION ALL SELECT 2, CAST(substr(model, 1, 60) || CASE WHEN substr(model, 61, 1) = x'00' THEN x'01' ELSE x'00' END
                            || substr(model, 62) AS BLOB) FROM ms WHERE id = 1) x
  WHERE t.id = 1;
SELECT length(m.model) = length(c.model), m.model = c.model FROM ms m,
  (SELECT CAST(substr(model, 1, 60) || CASE WHEN substr(model, 61, 1) = x'00' THEN x'01' ELSE x'00' END
               || substr(model, 62) AS BLOB) AS model FROM ms WHERE id = 1) c WHERE m.id = 1;

-- errors ----------------------------------------------------------------
SELECT pca_fit(v, 5) FROM t;
SELECT pca_fit(v, 0) FROM t;
SELECT pca_fit(v, -1) FROM t;
SELECT pca_fit(v, 1.5) FROM t;
SELECT pca_fit(v, 'two') FROM t;
SELECT pca_fit(v) FROM t WHERE id = 1;
SELECT pca_fit(v) FROM t WHERE 0;
SELECT pca_fit(v) FROM (SELECT fvec(1,2) AS v UNION ALL SELECT fvec(1,2,3));
SELECT pca_fit(v) FROM (SELECT fvec(1,2) AS v UNION ALL SELECT x'0000c07f0000803f');
SELECT pca_fit(v) FROM (SELECT fvec(1,2) AS v UNION ALL SELECT '[1, 1e99]');
SELECT pca_fit(v) FROM (SELECT fvec(1,2) AS v UNION ALL SELECT 42);
SELECT pca_fit(v) FROM (SELECT fvec(1,2) AS v UNION ALL SELECT x'010203');
SELECT pca_fit(v) FROM (SELECT v FROM t WHERE id < 3 UNION ALL SELECT pca_partial(v) FROM t);
SELECT pca_fit(v) FROM (SELECT pca_partial(v) AS v FROM t UNION ALL SELECT v FROM t WHERE id = 2);
SELECT pca_fit(v) FROM (SELECT v FROM t UNION ALL SELECT model FROM m);
SELECT pca_fit(s) FROM (SELECT pca_partial(v) AS s FROM t UNION ALL SELECT pca_partial(fvec(1,2)) FROM t);
SELECT pca_fit(s) FROM (SELECT pca_partial(v) AS s FROM t UNION ALL SELECT pca_partial(v, '{"solver":"streaming"}') FROM t);
SELECT pca_fit(v, 1, '{"solver":"fast"}') FROM t;
SELECT pca_fit(v, 1, '{"standardize":"yes"}') FROM t;
SELECT pca_fit(v, 1, '{"memory_mb":0}') FROM t;
SELECT pca_fit(v, 1, '{"sketch":1.5}') FROM t;
SELECT pca_fit(v, 1, '{"k":2}') FROM t;
SELECT pca_fit(v, 1, '[1,2]') FROM t;
SELECT pca_fit(v, 1, '{oops') FROM t;
SELECT pca_fit(v, 1, 7) FROM t;
SELECT pca_fit(v, 1, '{"solver":"exact","memory_mb":1}') FROM (SELECT zeroblob(4000) AS v);
SELECT pca_partial(s) FROM (SELECT pca_partial(v) AS s FROM t);
SELECT pca_merge(v) FROM t;
SELECT pca_merge(model) FROM m;
SELECT pca_merge(x'495043412d535441') FROM t;
SELECT pca_project(model, fvec(1,2)) FROM m;
SELECT pca_project(model, fvec(1,2,3), 3) FROM m;
SELECT pca_project(model, fvec(1,2,3), 0) FROM m;
SELECT pca_project(model, fvec(1,2,3), 1, 2) FROM m;
SELECT pca_project(model, fvec(1,2,3), 1, '{"whiten":1}') FROM m;
SELECT pca_project(model, fvec(1,2,3), 1, '{"white":true}') FROM m;
SELECT pca_project(model, 5) FROM m;
SELECT pca_project('model', fvec(1,2,3));
SELECT pca_project(x'00112233', fvec(1,2,3));
SELECT pca_project(substr(model, 1, 100), fvec(1,2,3)) FROM m;
SELECT pca_info(substr(model, 1, length(model) - 1)) FROM m;
SELECT pca_info(CAST(model || x'00' AS BLOB)) FROM m;
SELECT pca_info(CAST(substr(model, 1, 200) || x'ff' || substr(model, 202) AS BLOB)) FROM m;
SELECT pca_info(CAST(substr(model, 1, 8) || x'02000000' || substr(model, 13) AS BLOB)) FROM m;
SELECT pca_info(CAST(substr(model, 1, 96) || x'000000000000f87f' || substr(model, 105) AS BLOB)) FROM m;
SELECT pca_info(CAST(substr(model, 1, length(model) - 8) || x'0000000000000000' AS BLOB)) FROM m;
SELECT pca_info(CAST(substr(model, 1, 16) || x'08000000' || substr(model, 21) AS BLOB)) FROM m;
SELECT pca_fit(s) FROM (SELECT substr(pca_partial(v), 1, 150) AS s FROM t);
SELECT pca_reconstruct(model, fvec(1,2,3)) FROM m;
SELECT pca_mean(fvec(1,2));
SELECT * FROM pca_components;
SELECT * FROM pca_components(42);
SELECT count(*) FROM pca_components(NULL);
-- pca_project_rows: the query's rows projected in batches, in the query's
-- order, NULL vectors kept as NULL; agrees with pca_project row by row.
SELECT count(*), sum(p.pc = pca_project(m.model, t.v)), sum(p.pc IS NULL), group_concat(p.key, ',')
  FROM m, pca_project_rows(m.model, 'SELECT id, v FROM t ORDER BY id DESC') AS p LEFT JOIN t ON t.id = p.key;
CREATE TABLE big AS WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 5000)
  SELECT i, fvec(i % 7, (i * 13) % 11, sin(i)) AS v FROM s;
SELECT count(*), sum(p.pc = pca_project(m.model, b.v)), sum(abs(fvec_l2(p.pc, pca_project(m.model, b.v))) < 1e-5)
  FROM m, pca_project_rows(m.model, 'SELECT i, v FROM big') AS p JOIN big AS b ON b.i = p.key;
SELECT count(*), sum(abs(fvec_l2(p.pc, pca_project(ms.model, b.v))) < 1e-5)
  FROM (SELECT pca_fit(v, 2, '{"standardize":true}') AS model FROM big) AS ms,
       pca_project_rows(ms.model, 'SELECT i, v FROM big') AS p JOIN big AS b ON b.i = p.key;
SELECT count(*) FROM pca_project_rows(NULL, 'SELECT 1, NULL');
SELECT * FROM pca_project_rows;
SELECT * FROM pca_project_rows(x'00', 'SELECT 1, NULL');
SELECT * FROM pca_project_rows(42, 'SELECT 1, NULL');
SELECT * FROM m, pca_project_rows(m.model, 'SELECT 1, fvec(1,2)');
SELECT * FROM m, pca_project_rows(m.model, 'SELECT 1, x''000000''');
SELECT * FROM m, pca_project_rows(m.model, 'SELECT 1, ''text''');
SELECT * FROM m, pca_project_rows(m.model, 'SELECT 1');
SELECT * FROM m, pca_project_rows(m.model, 'DELETE FROM t RETURNING id, v');
SELECT * FROM m, pca_project_rows(m.model, 'SELECT 1, NULL; SELECT 2, NULL');
SELECT * FROM m, pca_project_rows(m.model, 'SELECT nope');
SELECT * FROM m, pca_project_rows(m.model, 42);
CREATE VIEW vp AS SELECT * FROM m, pca_project_rows(m.model, 'SELECT id, v FROM t');
SELECT count(*) FROM vp;
