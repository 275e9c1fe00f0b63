-- ---------------------------------------------------------------------------
-- 5. Project every decodable image with the current model (missing ones only)
-- ---------------------------------------------------------------------------
DELETE FROM projections WHERE model_id IS NOT (SELECT id FROM model);
-- The model goes in as a bound parameter, parsed once; pca_project_rows
-- projects the rows of its query in batches (BLAS tiles on imgpca.threads
-- threads, same bytes for any thread count) and keeps the query's key order.
.parameter set $model "(SELECT model FROM temp.model)"
CREATE TEMP TABLE projected_before AS SELECT count(*) AS n FROM projections;
INSERT INTO projections(key, model_id, pc)
SELECT p.key, (SELECT id FROM model), p.pc
FROM pca_project_rows($model,
       'SELECT key, features FROM main.images
        WHERE features IS NOT NULL AND key NOT IN (SELECT key FROM main.projections)
        ORDER BY key') AS p;
SELECT printf('projected: %d images this run, %d in total with model #%d',
              count(*) - (SELECT n FROM projected_before), count(*), (SELECT id FROM model)) FROM projections;
