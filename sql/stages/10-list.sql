-- ---------------------------------------------------------------------------
-- 1. List: every file under the source (lazy, paged for S3); the images are
--    the .jpg/.jpeg/.png files, the other files are counted and left alone.
--    The source is a folder or prefix, never a pattern: its glob characters
--    (\ * ? [) are escaped before '/**/*' is appended.  The key is the path
--    relative to the source everywhere (local or S3), so an image's URL is the
--    source, '/', then the key; the split rule (a folder named test, any
--    case) and the label (the parent folder), written in sql/rules.sql, look
--    at that relative key only, never at the folders of the source itself.
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE src AS
SELECT rtrim(source, '/') AS dir,
       replace(replace(replace(replace(rtrim(source, '/'), '\', '\\'), '*', '\*'), '?', '\?'), '[', '\[') AS pattern,
       -- S3: the characters of the bucket's key before the relative key
       CASE WHEN source LIKE 's3://%' OR source LIKE 's3a://%'
            THEN (WITH r(rest) AS (SELECT substr(rtrim(source, '/'), instr(source, '://') + 3))
                  SELECT CASE WHEN instr(rest, '/') > 0 THEN length(substr(rest, instr(rest, '/') + 1)) + 1 ELSE 0 END FROM r)
            ELSE 0 END AS skip
FROM cfg;
-- (label and split: the view listing_rule of sql/rules.sql)
CREATE TEMP TABLE listing_input AS
SELECT substr(l.key, src.skip + 1) AS key, l.url, l.parent, l.etag,
       (lower(l.name) LIKE '%.jpg' OR lower(l.name) LIKE '%.jpeg' OR lower(l.name) LIKE '%.png') AS image
FROM src, s3_list(src.pattern || '/**/*') AS l;
CREATE TEMP TABLE listing AS SELECT key, url, label, etag, split, image FROM listing_rule;
DROP TABLE listing_input;
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
