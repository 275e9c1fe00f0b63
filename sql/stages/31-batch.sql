-- One batch of stage 3 (read 1024 times by 32-batch-loop.sql): the next
-- cursor.size images of the queue, fetched and turned into features and a
-- 48-pixel thumbnail by s3_fetch_many (s3.max_inflight requests in flight,
-- imgpca.threads decoders, each image decoded from the bytes in memory),
-- written in one transaction.  An unreadable or undecodable image gets NULL
-- features and its error.  Queue done: nothing happens.
BEGIN IMMEDIATE; -- the write lock now: a deferred BEGIN upgraded later fails at once when another run wrote meanwhile
INSERT INTO batch_rows(key, features, error, thumb)
SELECT q.key, f.features, f.error, f.thumbnail
FROM s3_fetch_many AS f CROSS JOIN queue AS q ON q.url = f.url
WHERE f.url IN (SELECT q.url FROM queue AS q, cursor AS c
                WHERE q.seq > c.done AND q.seq <= c.done + c.size)
  AND f.spec = (SELECT spec FROM cfg);
INSERT OR REPLACE INTO images(key, label, split, etag, spec, features, error)
SELECT q.key, q.label, q.split, q.etag, c.spec, b.features,
       CASE WHEN b.features IS NULL THEN coalesce(b.error, 'no features with spec ' || quote(c.spec)) END
FROM batch_rows AS b JOIN queue AS q USING (key) CROSS JOIN cfg AS c;
INSERT OR REPLACE INTO thumbs(key, thumb) SELECT key, thumb FROM batch_rows;
DELETE FROM batch_rows;
COMMIT;
UPDATE cursor SET done = min(done + size, total), batches = batches + 1, t1 = julianday('now')
WHERE done < total;
-- progress on stderr: done/total, rate, time left
.output stderr
SELECT printf('features: %d/%d images (%.0f %%), %.0f images/s, %s left', done, total, 100.0 * done / total,
              done / secs, CASE WHEN left_s >= 60 THEN printf('%dm%02ds', left_s / 60, left_s % 60)
                                ELSE printf('%ds', left_s) END)
FROM (SELECT *, max((julianday('now') - t0) * 86400, 0.001) AS secs,
             CAST(round((total - done) * max((julianday('now') - t0) * 86400, 0.001) / done) AS INTEGER) AS left_s
      FROM cursor)
WHERE changes() > 0;
.output stdout
