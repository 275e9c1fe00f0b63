-- Regression tests of the third hardening review (docs/RELIABILITY.md,
-- "Hardening review, round 3"); the item number of the review in brackets.
-- cwd is tests/sql.
.bail off

-- [2] OR plans (MULTI-INDEX OR: one cursor per branch, merged by rowid)
-- keep every row of every table-valued function
SELECT count(*) FROM s3_fetch_many WHERE url = 'core.sql' OR url = 'csv.sql' OR url = 'nosuch.jpg';
SELECT count(*) FROM s3_fetch_many WHERE url IN ('core.sql', 'csv.sql', 'nosuch.jpg');
SELECT count(*) FROM s3_fetch_many WHERE urls = '["core.sql"]' OR urls = '["csv.sql", "core.sql"]';
SELECT query_id, rank, ref_id FROM knn_search
 WHERE (queries = 'SELECT 1, fvec(0, 0)' AND refs = 'SELECT 7, fvec(0, 1)')
    OR (queries = 'SELECT 2, fvec(1, 1)' AND refs = 'SELECT 8, fvec(2, 2)') ORDER BY 1;
SELECT count(*) FROM s3_list WHERE pattern = 'core.*' OR (pattern = 'csv.*' AND key > '');
SELECT count(*) FROM pca_components
 WHERE model = (SELECT pca_fit(v, 2) FROM (SELECT fvec(1, 2, 0) v UNION ALL SELECT fvec(3, 1, 1) UNION ALL SELECT fvec(0, 5, 2)))
    OR (model = (SELECT pca_fit(v, 1) FROM (SELECT fvec(1, 2) v UNION ALL SELECT fvec(3, 1) UNION ALL SELECT fvec(0, 5))) AND idx > 0);

-- [8] empty ids ('' and x'') are returned as such (were NULL; memcmp on a NULL pointer)
SELECT quote(ref_id), rank FROM knn_search(fvec(0, 0), 'SELECT '''', fvec(1, 0) UNION ALL SELECT x'''', fvec(0, 1) UNION ALL SELECT ''a'', fvec(1, 0)', 3);
SELECT quote(query_id), quote(ref_id) FROM knn_search('SELECT x'''', fvec(0, 0)', 'SELECT x'''', fvec(1, 0) UNION ALL SELECT '''', fvec(1, 0)', 2);
