-- The domain rules shared by the scripts of sql/, each written only here, as a TEMP VIEW
-- over an input that the reading script provides under the name given (a temp table or
-- view with the columns given, made before the rule's view is queried).  Read with
-- `.read sql/rules.sql` from the folder holding sql/ by sql/pipeline.sql, sql/plan.sql,
-- sql/classify.sql and sql/similar.sql (each process reads it; scripts/pipeline-bundle.sh
-- inlines it).

-- The label and the split of a listed image.  Input listing_input(key, parent, ...): key is
-- the path relative to the source (never the source's own folders), parent the name of the
-- folder holding the object.  The label is that folder's name; the split is 'test' when a
-- folder of the key is named test (any case), else 'train'.  Output: every column of the
-- input, then label and split.
CREATE TEMP VIEW listing_rule AS
SELECT *, parent AS label, CASE WHEN '/' || key LIKE '%/test/%' THEN 'test' ELSE 'train' END AS split
FROM listing_input;

-- The current model: the newest model fitted with the given source, spec and k.  Input
-- model_key(source, spec, k): the pipeline's settings of this run, or those the state
-- database stored.  Output: the row of table models, or none.
CREATE TEMP VIEW current_model AS
SELECT m.* FROM models AS m, model_key AS c
WHERE m.source = c.source AND m.spec = c.spec AND m.k = c.k ORDER BY m.id DESC LIMIT 1;

-- The k-NN vote: the label of most neighbours, then of the smallest summed distance, then
-- the first label.  Input knn_voters(query, label, distance): the neighbours that vote, for
-- each query.  Output: one row per query, its label, votes and summed distance.
CREATE TEMP VIEW knn_vote AS
SELECT query, label, votes, total
FROM (SELECT query, label, count(*) AS votes, sum(distance) AS total,
             row_number() OVER (PARTITION BY query ORDER BY count(*) DESC, sum(distance), label) AS place
      FROM knn_voters GROUP BY query, label)
WHERE place = 1;
