-- ---------------------------------------------------------------------------
-- 7. Export + upload: key,label,pc1..pck as CSV (atomic; multipart on S3)
-- ---------------------------------------------------------------------------
SELECT imgpca_printable(printf('csv: %s/pca.csv, %d rows', out,
  csv_export(out || '/pca.csv',
    'SELECT p.key, i.label, p.pc AS pc
     FROM projections AS p JOIN images AS i USING (key) ORDER BY p.key')))
FROM cfg;
