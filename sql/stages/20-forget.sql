-- ---------------------------------------------------------------------------
-- 2. Forget images that disappeared from the source
-- ---------------------------------------------------------------------------
DELETE FROM projections WHERE key NOT IN (SELECT key FROM listing);
DELETE FROM predictions WHERE key NOT IN (SELECT key FROM listing);
DELETE FROM images      WHERE key NOT IN (SELECT key FROM listing);
DELETE FROM thumbs      WHERE key NOT IN (SELECT key FROM listing);
