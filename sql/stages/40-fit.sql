-- ---------------------------------------------------------------------------
-- 4. Fit: PCA on the training features, only when asked ($refit = 1) or when
--    no model exists yet for this source, spec and k.  Rows in key order, so the same
--    rows always give the same model bytes.
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE models_before AS SELECT coalesce(max(id), 0) AS id FROM models;
-- the current model (view current_model of sql/rules.sql) is the one of this
-- run's source, spec and k
CREATE TEMP VIEW model_key AS SELECT source, spec, k FROM cfg;
-- Before fitting: training images to fit on, and $k within what they allow
-- (else a message saying what was found and the expected layout, exit 1).
CREATE TEMP TABLE fit_input AS
SELECT count(*) FILTER (WHERE split = 'train' AND features IS NOT NULL) AS usable,
       count(*) FILTER (WHERE split = 'train') AS train,
       count(*) FILTER (WHERE split = 'test') AS test,
       (SELECT fvec_dims(features) FROM images WHERE split = 'train' AND features IS NOT NULL LIMIT 1) AS d,
       (cfg.refit = 1 OR NOT EXISTS (SELECT 1 FROM current_model)) AS fitting
FROM images, cfg;
CREATE TEMP TABLE fit_problem AS
SELECT printf('pipeline: no training image with features under %s: found %d image%s, %d of them test images (in a folder named Test), %d training image%s without features (view errors); expected layout: %s/Training/<label>/*.jpg and %s/Test/<label>/*.jpg (images in a folder named Test are test images, all others are training images; the label is the parent folder)',
              quote(cfg.source), train + test, CASE WHEN train + test = 1 THEN '' ELSE 's' END, test,
              train - usable, CASE WHEN train - usable = 1 THEN '' ELSE 's' END,
              rtrim(cfg.source, '/'), rtrim(cfg.source, '/')) AS msg
FROM fit_input, cfg WHERE fitting AND usable = 0
UNION ALL
SELECT printf('pipeline: $k = %s (%s): at most %d here (min(training images with features - 1, feature dimensions) = min(%d, %d)); a fraction such as 0.95 keeps that share of the variance',
              s.shown, s.came, min(usable - 1, d), usable - 1, d)
FROM fit_input, cfg, setting_shown AS s
WHERE s.key = 'k' AND fitting AND usable > 0 AND cfg.k >= 1 AND cfg.k > min(usable - 1, d);
.output stderr
SELECT msg FROM fit_problem;
.output stdout
CREATE TEMP TABLE fit_guard(
  problems INTEGER CONSTRAINT "pipeline: cannot fit the model (see the line above); settings were not stored"
           CHECK (problems = 0));
INSERT INTO fit_guard SELECT count(*) FROM fit_problem;
INSERT INTO models(source, spec, k, n, model, fitted)
SELECT cfg.source, cfg.spec, cfg.k, count(*), pca_fit(f.features, cfg.k), datetime('now')
FROM cfg, (SELECT features FROM images
           WHERE split = 'train' AND features IS NOT NULL ORDER BY key) AS f
WHERE cfg.refit = 1 OR NOT EXISTS (SELECT 1 FROM current_model)
GROUP BY cfg.spec, cfg.k;   -- no input row -> no group -> pca_fit is not called

-- the later stages' name for it
CREATE TEMP VIEW model AS SELECT * FROM current_model;
SELECT printf('model #%d: %s on %d training images with features, %d -> %d dimensions, %.1f %% of the variance',
              id, CASE WHEN id > (SELECT id FROM models_before) THEN 'fitted now'
                       ELSE printf('kept (fitted %s; $refit = 1 fits again)', imgpca_printable(fitted)) END,
              n, json_extract(pca_info(model), '$.d'), json_extract(pca_info(model), '$.k'),
              100.0 * json_extract(pca_info(model), '$.cumulative[#-1]')) FROM model;
