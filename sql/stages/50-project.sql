-- ---------------------------------------------------------------------------
-- 5. Project every decodable image with the current model (missing ones only)
-- ---------------------------------------------------------------------------
DELETE FROM projections WHERE model_id IS NOT (SELECT id FROM model);
-- The model goes in as a bound parameter: pca_project parses a constant
-- argument once per statement instead of once per row.
.parameter set $model "(SELECT model FROM temp.model)"
CREATE TEMP TABLE projected_before AS SELECT count(*) AS n FROM projections;
INSERT INTO projections(key, model_id, pc)
SELECT i.key, m.id, pca_project($model, i.features)
FROM images AS i, model AS m
WHERE i.features IS NOT NULL AND i.key NOT IN (SELECT key FROM projections)
ORDER BY i.key;
SELECT printf('projected: %d images this run, %d in total with model #%d',
              count(*) - (SELECT n FROM projected_before), count(*), (SELECT id FROM model)) FROM projections;
