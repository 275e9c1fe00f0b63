-- Report helpers: img_encode, img_thumbnail, img_from_fvec, imgpca_base64,
-- imgpca_report_html.  Every encoded image is decoded back with img_info /
-- img_pixels.  Data: ../../../shared/data (cwd is tests/sql).
CREATE TEMP TABLE f(name TEXT, img BLOB);
INSERT INTO f VALUES
  ('apple', readfile('../../../shared/data/fruits360/Test/Apple Red 1/324_100.jpg')),
  ('exif6', readfile('../../../shared/data/images-edge/photos/Portrait_6.jpg')),
  ('png16', readfile('../../../shared/data/images-edge/pngsuite/png/basn2c16.png')),
  ('truncated', substr(readfile('../../../shared/data/fruits360/Test/Apple Red 1/324_100.jpg'), 1, 2000));

-- a 4x2 RGB gradient: PNG is lossless, so decoding gives the same bytes back
CREATE TEMP TABLE px(p BLOB);
INSERT INTO px VALUES (x'000000102030405060708090A0B0C0D0E0F0FF000000FF00');
SELECT 'png rgb roundtrip', img_pixels(img_encode(p, 4, 2, 3, 'png')) = p,
       json_extract(img_info(img_encode(p, 4, 2, 3, 'png')), '$.format', '$.width', '$.height', '$.color') FROM px;
-- grey: 8 bytes -> 8 grey pixels, decoded to RGB with R = G = B
SELECT 'png grey roundtrip', hex(img_pixels(img_encode(x'00204060809FBFFF', 4, 2, 1, 'png'))),
       json_extract(img_info(img_encode(x'00204060809FBFFF', 4, 2, 1, 'png')), '$.color');
-- RGBA: alpha composited on white by the decoder (alpha 0 -> white)
SELECT 'png rgba', hex(img_pixels(img_encode(x'FF0000FF00FF0000', 2, 1, 4, 'png')));
-- JPEG: lossy; a flat colour survives within a few levels
SELECT 'jpeg flat', json_extract(img_info(j), '$.format', '$.width', '$.height'),
       (SELECT max(abs(value * 255 - 120)) <= 3 FROM json_each(fvec_to_json(img_features(j, 'pixels:size=2x2')))),
       length(j) > 100
FROM (SELECT img_encode(CAST(replace(hex(zeroblob(192)), '0', 'x') AS BLOB), 16, 8, 3, 'jpeg') AS j);
SELECT 'jpeg grey', json_extract(img_info(img_encode(randomblob(64), 8, 8, 1, 'jpeg', 90)), '$.format', '$.color');
SELECT 'quality changes size', length(img_encode(img_pixels(img), 100, 100, 3, 'jpeg', 95)) > length(img_encode(img_pixels(img), 100, 100, 3, 'jpeg', 20)) FROM f WHERE name = 'apple';
SELECT 'jpg alias', img_encode(x'7F', 1, 1, 1, 'jpg') = img_encode(x'7F', 1, 1, 1, 'jpeg');
SELECT 'null pixels', img_encode(NULL, 1, 1, 1, 'png') IS NULL;

-- errors name the function and the cause
SELECT img_encode(x'0000', 1, 1, 3, 'png');
SELECT img_encode(x'00', 1, 1, 1, 'gif');
SELECT img_encode(x'00', 1, 1, 1, NULL);
SELECT img_encode(x'00', 0, 1, 1, 'png');
SELECT img_encode(x'00', 1, 1, 5, 'png');
SELECT img_encode(x'0000', 1, 1, 2, 'jpeg');
SELECT img_encode(x'00', 1, 1, 1, 'jpeg', 0);
SELECT img_encode(x'00', '1', 1, 1, 'png');
SELECT img_encode('abc', 3, 1, 1, 'png');

-- thumbnails fit the box, keep the aspect ratio, never enlarge; EXIF
-- orientation applied (Portrait_6 is 1800x1200 stored, upright 1200x1800)
SELECT name, json_extract(img_info(img_thumbnail(img, 48)), '$.format', '$.width', '$.height'),
       json_extract(img_info(img_thumbnail(img, 64, 'png')), '$.format', '$.width', '$.height'),
       json_extract(img_info(img_thumbnail(img, 500)), '$.width', '$.height')
FROM f WHERE name <> 'truncated';
-- a partly decodable image still gets a thumbnail
SELECT 'truncated', json_extract(img_info(img_thumbnail(img, 32)), '$.width', '$.height') FROM f WHERE name = 'truncated';
-- the thumbnail is the area average of the full-size image (its lossless
-- copy as reference: pixel features use DCT scaling): mean colour within 1 %
SELECT 'thumb colour', (SELECT max(abs(a.value - b.value)) < 0.01
   FROM json_each(fvec_to_json(img_features(img_encode(img_pixels(img), 100, 100, 3, 'png'), 'pixels:size=1x1'))) AS a
   JOIN json_each(fvec_to_json(img_features(img_thumbnail(img, 40, 'png'), 'pixels:size=1x1'))) AS b USING (key))
FROM f WHERE name = 'apple';
SELECT 'null', img_thumbnail(NULL, 10) IS NULL;
SELECT img_thumbnail(x'00010203', 10);
SELECT img_thumbnail(img, 0) FROM f WHERE name = 'apple';
SELECT img_thumbnail(img, 10, 'bmp') FROM f WHERE name = 'apple';
SELECT img_thumbnail('text', 10);

-- img_from_fvec: own range, given range (clamped), constant, NaN
SELECT 'from_fvec', hex(img_from_fvec(fvec(0, 0.5, 1))), hex(img_from_fvec(fvec(-1, 0, 1, 2), -1, 1)),
       hex(img_from_fvec(fvec(3, 3))), hex(img_from_fvec(fvec(-2, 6)));
SELECT 'from_fvec nan', hex(img_from_fvec(x'0000C07F0000803F', 0, 1));
SELECT img_from_fvec(x'000000', 0, 1);
SELECT img_from_fvec(fvec(1), 1, 1);
SELECT img_from_fvec(fvec(1), 'a', 1);
SELECT img_from_fvec('abc');
-- pixel features -> bytes -> PNG -> pixel features again
SELECT 'features roundtrip', (SELECT max(abs(a.value - b.value)) <= 0.5 / 255 + 1e-6
   FROM json_each(fvec_to_json(v)) AS a
   JOIN json_each(fvec_to_json(img_features(img_encode(img_from_fvec(v, 0, 1), 8, 6, 3, 'png'), 'pixels:size=8x6'))) AS b USING (key))
FROM (SELECT img_features(img, 'pixels:size=8x6') AS v FROM f WHERE name = 'apple');

-- base64 (RFC 4648 test vectors)
SELECT 'b64', imgpca_base64(''), imgpca_base64('f'), imgpca_base64('fo'), imgpca_base64('foo'),
       imgpca_base64('foob'), imgpca_base64('fooba'), imgpca_base64('foobar'), imgpca_base64(x'FFFEFD00'),
       imgpca_base64(NULL) IS NULL, imgpca_base64(42);
SELECT 'b64 length', length(imgpca_base64(randomblob(1000))), length(imgpca_base64(randomblob(1001)));

-- report page: data goes in once, '<' escaped so a label cannot end the script
SELECT 'html', instr(h, '<!DOCTYPE html>') = 1, instr(h, '__IMGPCA_REPORT_DATA__') = 0,
       instr(h, '"</script>') = 0, instr(h, '"\u003c/script>"') > 0, instr(h, 'Content-Security-Policy') > 0
FROM (SELECT imgpca_report_html(json_object('labels', json_array('</script>'))) AS h);
SELECT 'custom template', imgpca_report_html('[1,"<b>"]', 'data=__IMGPCA_REPORT_DATA__;');
SELECT imgpca_report_html('{}', 'no marker');
SELECT imgpca_report_html('{}', '__IMGPCA_REPORT_DATA__ __IMGPCA_REPORT_DATA__');
SELECT imgpca_report_html(x'00');
SELECT 'null', imgpca_report_html(NULL) IS NULL;
