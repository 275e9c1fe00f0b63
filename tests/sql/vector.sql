-- Vector helpers: float32 LE blobs, JSON round trip, distances, errors.
SELECT hex(fvec(1, 2));
SELECT fvec_to_json(fvec_from_json('[1, 2.5, -3]'));
SELECT fvec_dims('[1,2,3,4]'), fvec_at(fvec(5, 6, 7), 2);
SELECT fvec_to_json(fvec_slice('[0,1,2,3,4]', 1, 3));
SELECT fvec_to_json(fvec_concat('[1]', fvec(2, 3)));
SELECT fvec_l2('[0,0]', '[3,4]'), fvec_cosine('[1,0]', '[0,1]'), fvec_dot('[1,2]', '[3,4]');
SELECT fvec_norm('[3,4]'), fvec_to_json(fvec_normalize('[3,4]'));
SELECT fvec_to_json(fvec_add('[1,2]', '[3,4]')), fvec_to_json(fvec_sub('[1,2]', '[3,4]')), fvec_to_json(fvec_scale('[1,2]', 0.5));
SELECT fvec_to_json(fvec_avg(v)) FROM (SELECT fvec(1, 2) AS v UNION ALL SELECT fvec(3, 6));
SELECT fvec_dims(NULL) IS NULL, fvec_l2(NULL, '[1]') IS NULL, fvec_to_json(NULL) IS NULL;
SELECT fvec_dims(x'0000803f00');
SELECT fvec_dims(x'0000c07f');
SELECT fvec_l2('[1,2]', '[1,2,3]');
SELECT fvec_from_json('[1,,2]');
SELECT fvec_dims(42);
SELECT fvec_slice('[1,2,3]', 2, 5);
SELECT fvec('a');
SELECT fvec_cosine('[0,0]', '[1,1]');
SELECT fvec_dims(x'');
-- Distances of two blobs are read in place; invalid blobs still get named.
SELECT fvec_l2(fvec(0, 0), fvec(3, 4)), fvec_dot(fvec(1, 2), fvec(3, 4)), round(fvec_cosine(fvec(1, 0), fvec(1, 1)), 6);
SELECT fvec_l2(x'0000c07f', fvec(1));
SELECT fvec_dot(fvec(1, 2), fvec(1));
SELECT fvec_cosine(fvec(0, 0), fvec(1, 1));
SELECT fvec_l2(x'000000', x'000000');
-- fvec_argmax: 0-based index of the largest element, the first of equal ones.
SELECT fvec_argmax('[0.5, 2, -1, 2]'), fvec_argmax(fvec(-3)), fvec_argmax(NULL) IS NULL;
SELECT fvec_argmax('[1, "x"]');
