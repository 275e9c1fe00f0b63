-- Image functions: img_features / img_features_or_null / img_info / img_pixels.
-- Data: ../../../shared/data (cwd is tests/sql).
CREATE TEMP TABLE f(name TEXT, img BLOB);
INSERT INTO f VALUES
  ('apple', readfile('../../../shared/data/fruits360/Test/Apple Red 1/324_100.jpg')),
  ('png16', readfile('../../../shared/data/images-edge/pngsuite/png/basn2c16.png')),
  ('pal_trns', readfile('../../../shared/data/images-edge/pngsuite/png/tbbn3p08.png')),
  ('interlaced', readfile('../../../shared/data/images-edge/pngsuite/png/basi0g04.png')),
  ('ari', readfile('../../../shared/data/images-edge/jpeg-testimages/testimgari.jpg')),
  ('cmyk', readfile('../../../shared/data/images-edge/jpeg-bugs/8bit/testorig_rot180_cmyk_411_q50_opt_rst1B_test1icc.jpg')),
  ('exif6', readfile('../../../shared/data/images-edge/photos/Portrait_6.jpg')),
  ('truncated', substr(readfile('../../../shared/data/fruits360/Test/Apple Red 1/324_100.jpg'), 1, 2000)),
  ('crc', readfile('../../../shared/data/images-edge/pngsuite/png/xcsn0g01.png')),
  ('text', 'not an image'),
  ('empty', x''),
  ('null', NULL),
  ('huge_png', x'89504E470D0A1A0A0000000D49484452000186A0000186A0080200000027309C9F0000000B49444154789C6360800100000A00017F80745E0000000049454E44AE426082'),
  ('huge_jpeg', x'FFD8FFC0001108EA60EA6003012200021101031101FFDA000C03010002110311003F00FFD9');

-- img_info never raises for bad data
SELECT name, img_info(img) FROM f;

-- default spec = 'hist:bins=8,sqrt' (512 values, L2 norm 1 after sqrt of an L1 histogram)
SELECT fvec_dims(img_features(img)), round(fvec_norm(img_features(img)), 5),
       img_features(img) = img_features(img, 'hist:bins=8,sqrt'),
       img_features(img) = img_features(img, NULL)
  FROM f WHERE name = 'apple';
SELECT name, fvec_dims(img_features(img, 'pixels:size=32x32')),
       fvec_dims(img_features(img, 'pixels:size=8x4,color=grey;hist:bins=4x2x2,white=off;hog')),
       length(img_pixels(img)), length(img_pixels(img, 7, 5))
  FROM f WHERE name IN ('apple', 'png16', 'pal_trns', 'interlaced', 'ari', 'cmyk', 'exif6');
-- pixel values are in [0,1]
SELECT round(min(value), 3) >= 0, round(max(value), 3) FROM f, json_each(fvec_to_json(img_features(img, 'pixels:size=4x4')))
  WHERE name = 'apple';
-- a 1x1 resize is the mean colour
SELECT hex(img_pixels(img, 1, 1)) FROM f WHERE name = 'pal_trns';

-- NULL -> NULL
SELECT img_features(NULL) IS NULL, img_features(NULL, 'pixels') IS NULL, img_info(NULL) IS NULL,
       img_pixels(NULL) IS NULL, img_features_or_null(NULL) IS NULL;
-- _or_null: NULL for undecodable images, a value for good ones
SELECT name, fvec_dims(img_features_or_null(img, 'hist:bins=4')) FROM f WHERE name <> 'text';
SELECT count(*), count(img_features_or_null(img)) FROM f WHERE name <> 'text';

-- errors
SELECT img_features(img) FROM f WHERE name = 'truncated';
SELECT img_features(img) FROM f WHERE name = 'crc';
SELECT img_features(img) FROM f WHERE name = 'empty';
SELECT img_features(img) FROM f WHERE name = 'text';
SELECT img_features_or_null(img) FROM f WHERE name = 'text';
SELECT img_features(42);
SELECT img_features(img) FROM f WHERE name = 'huge_png';
SELECT img_features(img) FROM f WHERE name = 'huge_jpeg';
SELECT img_pixels(img) FROM f WHERE name = 'huge_jpeg';
SELECT img_pixels(img, 0, 5) FROM f WHERE name = 'apple';
SELECT img_pixels(img, 'a', 5) FROM f WHERE name = 'apple';
-- lenient decoding accepts the truncated stream (the rest is grey fill)
SELECT fvec_dims(img_features(img, 'hist;decode:warnings=ignore')) FROM f WHERE name = 'truncated';

-- bad specs name the bad token (also in the _or_null variant)
SELECT img_features(img, 'histo') FROM f WHERE name = 'apple';
SELECT img_features(img, 'hist:bins=0') FROM f WHERE name = 'apple';
SELECT img_features(img, 'hist:bins=8x8') FROM f WHERE name = 'apple';
SELECT img_features(img, 'hist:space=lab') FROM f WHERE name = 'apple';
SELECT img_features(img, 'hist:white=300') FROM f WHERE name = 'apple';
SELECT img_features(img, 'pixels:size=32x') FROM f WHERE name = 'apple';
SELECT img_features(img, 'pixels:size=2000') FROM f WHERE name = 'apple';
SELECT img_features(img, 'pixels:colour=cmyk') FROM f WHERE name = 'apple';
SELECT img_features(img, 'pixels:size') FROM f WHERE name = 'apple';
SELECT img_features(img, 'pixels:norm=l2') FROM f WHERE name = 'apple';
SELECT img_features(img, 'pixels:foo=1') FROM f WHERE name = 'apple';
SELECT img_features(img, 'pixels;;hist') FROM f WHERE name = 'apple';
SELECT img_features(img, '') FROM f WHERE name = 'apple';
SELECT img_features(img, 'decode:dct=off') FROM f WHERE name = 'apple';
SELECT img_features(img, 'hog:size=30,cell=8') FROM f WHERE name = 'apple';
SELECT img_features(img, 7) FROM f WHERE name = 'apple';
SELECT img_features_or_null(img, 'pixels:size=0') FROM f WHERE name = 'apple';
SELECT img_features_or_null(x'00', 'hist:bins=99') ;

-- the pixel limit (setting image.max_pixels)
SELECT imgpca_config('image.max_pixels', '9999');
SELECT img_features(img) FROM f WHERE name = 'apple';
SELECT img_features_or_null(img) IS NULL FROM f WHERE name = 'apple';
SELECT json_extract(img_info(img), '$.error') FROM f WHERE name = 'apple';
SELECT imgpca_config('image.max_pixels', '10000');
SELECT fvec_dims(img_features(img)) FROM f WHERE name = 'apple';
