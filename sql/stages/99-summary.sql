-- ---------------------------------------------------------------------------
-- 99. Summary: the run is finished; what the state database now holds, and
--     where each setting came from (parameter, stored value or default)
-- ---------------------------------------------------------------------------
-- The settings of this finished run are the ones an unset parameter keeps
-- next time (a run that failed stored none but $source, see 00-setup.sql).
INSERT INTO settings(key, value)
SELECT key, value FROM setting_origin WHERE true
ON CONFLICT(key) DO UPDATE SET value = excluded.value;
UPDATE runs SET finished = datetime('now') WHERE id = (SELECT id FROM temp.this_run);
.print '== summary'
SELECT printf('images        %s, %d with features%s',
              CASE WHEN files = images THEN printf('%d listed', images)
                   ELSE printf('%d listed (and %d other file%s left alone)', images, files - images,
                               CASE WHEN files - images > 1 THEN 's' ELSE '' END) END,
              (SELECT count(*) FROM images WHERE features IS NOT NULL),
              CASE WHEN (SELECT count(*) FROM errors) > 0
                   THEN printf(', %d without (view errors)', (SELECT count(*) FROM errors)) ELSE '' END)
FROM listed;
SELECT printf('split         %d training (%d with features), %d test (%d with features)',
              count(*) FILTER (WHERE split = 'train'), count(features) FILTER (WHERE split = 'train'),
              count(*) FILTER (WHERE split = 'test'), count(features) FILTER (WHERE split = 'test'))
FROM images;
SELECT printf('features      %d dimensions (spec ''%s'')', json_extract(pca_info(model), '$.d'), imgpca_printable(spec)) FROM model;
SELECT printf('model         #%d, fitted %s on %d training images, %d component%s explaining %.1f %% of the variance (PC1 %.1f %%%s)',
              id, imgpca_printable(fitted), n, json_extract(pca_info(model), '$.k'),
              CASE WHEN json_extract(pca_info(model), '$.k') = 1 THEN '' ELSE 's' END,
              100 * json_extract(pca_info(model), '$.cumulative[#-1]'), 100 * json_extract(pca_info(model), '$.ratio[0]'),
              CASE WHEN k > 1 THEN printf(', PC2 %.1f %%', 100 * json_extract(pca_info(model), '$.ratio[1]')) ELSE '' END)
FROM model;
SELECT CASE
  WHEN tested > 0 THEN printf('accuracy      %.2f %% (%d of %d test images, %s in PCA space)', percent, correct, tested,
                              CASE (SELECT knn FROM cfg) WHEN 1 THEN '1-nearest neighbour'
                                   ELSE printf('vote of the %d nearest neighbours', (SELECT knn FROM cfg)) END)
  WHEN (SELECT classify FROM cfg) = 0 THEN 'accuracy      not measured: classification is off ($classify = 0)'
  WHEN NOT EXISTS (SELECT 1 FROM images WHERE split = 'test' AND features IS NOT NULL)
    THEN 'accuracy      not measured: no test images (no folder named Test under the source)'
  ELSE 'accuracy      not measured: no test image was classified' END
FROM accuracy;
SELECT imgpca_printable(printf('outputs       %s/pca.csv, %s/scree.svg, %s/scatter.svg, %s/report.html (open it in a browser)',
              out, out, out, out)) FROM cfg;
SELECT imgpca_printable(printf('settings      %s', group_concat(printf('%s %s (%s)', key,
                CASE WHEN typeof(value) = 'text' THEN quote(value) ELSE value END, origin), ', ')))
FROM (SELECT * FROM setting_origin ORDER BY ord);
SELECT imgpca_printable(printf('state         %s (a rerun processes only new or changed images)', file))
FROM pragma_database_list WHERE name = 'main';
SELECT printf('time          %.1f s this run (%d images processed)', (julianday('now') - t0) * 86400,
              (SELECT total FROM cursor))
FROM clock;
