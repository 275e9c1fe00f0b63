-- ---------------------------------------------------------------------------
-- 3. Fetch + features, only for new or changed images (key, etag, spec)
-- ---------------------------------------------------------------------------
-- The queue: what to do, in key order (an image whose thumbnail is missing
-- too: the thumbnail is made from the same fetched bytes as the features).  Nothing of it is kept: after a crash
-- the next run builds it again from what the state database lacks.
CREATE TEMP TABLE queue(
  seq INTEGER PRIMARY KEY, key TEXT, url TEXT, label TEXT, split TEXT, etag TEXT);
INSERT INTO queue(key, url, label, split, etag)
SELECT l.key, l.url, l.label, l.split, l.etag
FROM listing AS l LEFT JOIN images AS i USING (key)
WHERE i.key IS NULL OR i.etag IS NOT l.etag OR i.spec IS NOT (SELECT spec FROM cfg)
   OR NOT EXISTS (SELECT 1 FROM thumbs AS t WHERE t.key = l.key)  -- a state from before thumbnails
ORDER BY l.key;
-- the rows of the batch being written (31-batch.sql)
CREATE TEMP TABLE batch_rows(key TEXT, features BLOB, error TEXT, thumb BLOB);
CREATE INDEX temp.queue_url ON queue(url);
-- One batch = one committed statement; the batch file below is read 1024
-- times, so a batch holds max($batch, ceil(images to do / 1024)) images.
CREATE TEMP TABLE cursor AS
SELECT 0 AS done, count(*) AS total, max(cfg.batch, (count(*) + 1023) / 1024) AS size,
       0 AS batches, julianday('now') AS t0, julianday('now') AS t1
FROM queue, cfg;
SELECT printf('to process: %d images (%d already done)%s', total, (SELECT images FROM listed) - total,
              CASE WHEN total > size THEN printf(', in %d batches of %d', (total + size - 1) / size, size) ELSE '' END)
FROM cursor;
UPDATE runs SET processed = (SELECT total FROM cursor) WHERE id = (SELECT id FROM temp.this_run);
-- a changed image loses its old projection (and its error, when replaced)
DELETE FROM projections WHERE key IN (SELECT key FROM queue);

-- The batch loop: 32-batch-loop.sql reads 31-batch.sql 1024 times, each read
-- processing the next batch of the queue.
.read sql/stages/32-batch-loop.sql
CREATE TEMP TABLE queue_guard(
  left_over INTEGER CONSTRAINT "pipeline: images left in the queue after 1024 batches" CHECK (left_over = 0));
INSERT INTO queue_guard SELECT total - done FROM cursor;
SELECT printf('features: %d images in %.1f s (%.0f images/s)%s', total, secs, total / max(secs, 0.001),
              CASE WHEN failed > 0 THEN printf(', %d without features', failed) ELSE '' END)
FROM (SELECT *, (t1 - t0) * 86400 AS secs,
             (SELECT count(*) FROM images WHERE key IN (SELECT key FROM queue) AND error IS NOT NULL) AS failed
      FROM cursor) WHERE total > 0;
SELECT printf('errors: %d image(s) without features in the state database, see the view errors', count(*))
FROM errors HAVING count(*) > 0;
