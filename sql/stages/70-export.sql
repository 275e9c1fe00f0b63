-- ---------------------------------------------------------------------------
-- 7. Export + upload: path,label,pc1..pck as CSV (atomic; multipart on S3)
-- ---------------------------------------------------------------------------
SELECT printf('csv: %d rows -> %s/pca.csv',
  csv_export(out || '/pca.csv',
    'SELECT p.key AS path, i.label, p.pc AS pc
     FROM projections AS p JOIN images AS i USING (key) ORDER BY p.key'), out)
FROM cfg;
