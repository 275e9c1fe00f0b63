-- ---------------------------------------------------------------------------
-- 1. List: every file under the source (lazy, paged for S3); the images are
--    the .jpg/.jpeg/.png files, the other files are counted and left alone.
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE listing AS
SELECT l.key, l.url, l.parent AS label, l.etag,
       CASE WHEN '/' || l.key LIKE '%/test/%' THEN 'test' ELSE 'train' END AS split,
       (lower(l.name) LIKE '%.jpg' OR lower(l.name) LIKE '%.jpeg' OR lower(l.name) LIKE '%.png') AS image
FROM cfg, s3_list(rtrim(cfg.source, '/') || '/**/*') AS l;
CREATE TEMP TABLE listed AS
SELECT count(*) AS files, count(*) FILTER (WHERE image) AS images FROM listing;
DELETE FROM listing WHERE NOT image;
CREATE UNIQUE INDEX temp.listing_key ON listing(key);
UPDATE runs SET listed = (SELECT images FROM listed) WHERE id = (SELECT id FROM temp.this_run);
SELECT CASE WHEN files = images THEN printf('listed: %d images', images)
            ELSE printf('listed: %d files: %d images, %d other file%s (not .jpg, .jpeg or .png) left alone',
                        files, images, files - images, CASE WHEN files - images > 1 THEN 's' ELSE '' END) END
FROM listed;
CREATE TEMP TABLE list_guard(
  images INTEGER CONSTRAINT "pipeline: no image (.jpg, .jpeg, .png) under $source" CHECK (images > 0));
INSERT INTO list_guard SELECT images FROM listed;
