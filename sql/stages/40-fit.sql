-- ---------------------------------------------------------------------------
-- 4. Fit: PCA on the training features, only when asked ($refit = 1) or when
--    no model exists yet for this source, spec and k.  Rows in key order, so the same
--    rows always give the same model bytes.
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE models_before AS SELECT coalesce(max(id), 0) AS id FROM models;
INSERT INTO models(source, spec, k, n, model, fitted)
SELECT cfg.source, cfg.spec, cfg.k, count(*), pca_fit(f.features, cfg.k), datetime('now')
FROM cfg, (SELECT features FROM images
           WHERE split = 'train' AND features IS NOT NULL ORDER BY key) AS f
WHERE cfg.refit = 1
   OR NOT EXISTS (SELECT 1 FROM models AS m
                  WHERE m.source = cfg.source AND m.spec = cfg.spec AND m.k = cfg.k)
GROUP BY cfg.spec, cfg.k;   -- no input row -> no group -> pca_fit is not called

CREATE TEMP VIEW model AS
SELECT m.* FROM models AS m, cfg
WHERE m.source = cfg.source AND m.spec = cfg.spec AND m.k = cfg.k ORDER BY m.id DESC LIMIT 1;
SELECT printf('model #%d: %s on %d training images with features, %d -> %d dimensions, %.1f %% of the variance',
              id, CASE WHEN id > (SELECT id FROM models_before) THEN 'fitted now'
                       ELSE printf('kept (fitted %s; $refit = 1 fits again)', imgpca_printable(fitted)) END,
              n, json_extract(pca_info(model), '$.d'), k,
              100.0 * json_extract(pca_info(model), '$.cumulative[#-1]')) FROM model;
