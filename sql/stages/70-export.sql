-- ---------------------------------------------------------------------------
-- 7. Export + upload: key,label,split,pc1..pck as CSV (atomic; multipart on
--    S3); key = path relative to the source, split = 'train' or 'test'
-- ---------------------------------------------------------------------------
SELECT imgpca_printable(printf('csv: %s/pca.csv, %d rows', out,
  csv_export(out || '/pca.csv',
    'SELECT p.key, i.label, i.split, p.pc AS pc
     FROM projections AS p JOIN images AS i USING (key) ORDER BY p.key')))
FROM cfg;
