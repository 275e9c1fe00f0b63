-- Every edge-case file decodes or fails cleanly (also runs under ASan+UBSan):
-- libjpeg-turbo's bug proof-of-concept files, its test images and PngSuite.
-- Per file: img_info's error (or 'ok WxH'), strict features, and lenient
-- features (decode:warnings=ignore decodes corrupt streams as far as possible).
.mode list
SELECT substr(name, 34) AS file,
       coalesce(json_extract(img_info(data), '$.error'),
                'ok ' || json_extract(img_info(data), '$.width') || 'x' || json_extract(img_info(data), '$.height')),
       fvec_dims(img_features_or_null(data, 'pixels:size=16;hist:bins=4;hog:size=16')),
       fvec_dims(img_features_or_null(data, 'pixels:size=16;hist:bins=4;decode:warnings=ignore'))
  FROM fsdir('../../../shared/data/images-edge')
 WHERE data IS NOT NULL AND (name LIKE '%/jpeg-bugs/%' OR name LIKE '%/jpeg-testimages/%' OR name LIKE '%/pngsuite/png/%')
 ORDER BY name;
