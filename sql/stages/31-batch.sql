-- One batch of stage 3 (read 1024 times by 30-features.sql): the next
-- cursor.size images of the queue, fetched and turned into features by
-- s3_fetch_many (s3.max_inflight requests in flight, imgpca.threads decoders),
-- written by one statement (one transaction).  An unreadable or undecodable
-- image gets NULL features and its error.  Queue done: nothing happens.
INSERT OR REPLACE INTO images(key, label, split, etag, spec, features, error)
SELECT q.key, q.label, q.split, q.etag, c.spec, f.features,
       CASE WHEN f.features IS NULL THEN coalesce(f.error, 'no features with spec ' || quote(c.spec)) END
FROM s3_fetch_many AS f CROSS JOIN queue AS q ON q.url = f.url CROSS JOIN cfg AS c
WHERE f.url IN (SELECT q.url FROM queue AS q, cursor AS c
                WHERE q.seq > c.done AND q.seq <= c.done + c.size)
  AND f.spec = (SELECT spec FROM cfg);
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
