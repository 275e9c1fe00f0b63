-- ---------------------------------------------------------------------------
-- 1. List: every .jpg/.jpeg/.png under the source (lazy, paged for S3)
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE listing AS
SELECT l.key, l.url, l.parent AS label, l.etag,
       CASE WHEN '/' || l.key LIKE '%/test/%' THEN 'test' ELSE 'train' END AS split,
       substr(l.url, 1, length(l.url) - length(l.name)) AS dir   -- folder URL, ends in '/'
FROM cfg, s3_list(rtrim(cfg.source, '/') || '/**/*') AS l
WHERE lower(l.name) LIKE '%.jpg' OR lower(l.name) LIKE '%.jpeg' OR lower(l.name) LIKE '%.png';
CREATE UNIQUE INDEX temp.listing_key ON listing(key);
CREATE INDEX temp.listing_url ON listing(url);
UPDATE runs SET listed = (SELECT count(*) FROM listing) WHERE id = (SELECT max(id) FROM runs);
SELECT printf('listed: %d images', count(*)) FROM listing;
