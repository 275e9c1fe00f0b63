-- ---------------------------------------------------------------------------
-- 8. Plots: static SVGs for READMEs and slides, built with string aggregation
--    and written with s3_put (local or S3).  Legible with any number of labels:
--    axes with tick values, "% of variance" on the axis titles, and a legend
--    of 12 classes (the others drawn grey as "other (N classes)"): those named
--    by $plot_labels (comma-separated, in that order), then the most
--    separated ones -- the labels whose mean point lies farthest from the
--    mean of all points (each axis scaled to the plotted range).
--    The interactive view is report.html (90-report.sql).
-- ---------------------------------------------------------------------------
-- Scree plot: explained variance ratio per component (bars), cumulative (line).
SELECT printf('plot: %s/scree.svg, %d bytes', imgpca_printable(out), length(CAST(svg AS BLOB))) FROM cfg, (
  WITH c AS (SELECT row_number() OVER (ORDER BY idx) AS i, ratio, cumulative
             FROM model AS m, pca_components(m.model)),
       g AS (SELECT count(*) AS n, 560.0 / count(*) AS w,
                    max(1, CAST(ceil(count(*) / 10.0) AS INTEGER)) AS xs FROM c)
  SELECT '<svg xmlns="http://www.w3.org/2000/svg" width="680" height="380" font-family="DejaVu Sans, sans-serif" font-size="12">'
    || '<rect width="680" height="380" fill="white"/>'
    || '<text x="340" y="22" text-anchor="middle" font-size="15">Explained variance per principal component</text>'
    || (SELECT group_concat(printf('<line x1="66" y1="%.1f" x2="630" y2="%.1f" stroke="#e4e4e4"/><text x="62" y="%.1f" text-anchor="end">%d %%</text>',
                                   320 - 2.7 * v, 320 - 2.7 * v, 324 - 2.7 * v, v), '')
        FROM (SELECT 0 AS v UNION ALL SELECT 20 UNION ALL SELECT 40 UNION ALL SELECT 60 UNION ALL SELECT 80 UNION ALL SELECT 100))
    || '<line x1="70" y1="320" x2="630" y2="320" stroke="black"/><line x1="70" y1="50" x2="70" y2="320" stroke="black"/>'
    || group_concat(printf('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#4477aa"><title>PC%d: %.2f %%</title></rect>',
                           70 + (c.i - 1) * g.w + 0.1 * g.w, 320 - 270 * c.ratio, max(0.8 * g.w, 0.5), 270 * c.ratio, c.i, 100 * c.ratio), '')
    || '<polyline fill="none" stroke="#cc3355" stroke-width="2" points="'
    || group_concat(printf('%.1f,%.1f', 70 + (c.i - 0.5) * g.w, 320 - 270 * c.cumulative), ' ') || '"/>'
    || group_concat(CASE WHEN (c.i - 1) % g.xs = 0 OR c.i = g.n
                         THEN printf('<line x1="%.1f" y1="320" x2="%.1f" y2="325" stroke="black"/><text x="%.1f" y="338" text-anchor="middle">%d</text>',
                                     70 + (c.i - 0.5) * g.w, 70 + (c.i - 0.5) * g.w, 70 + (c.i - 0.5) * g.w, c.i)
                         ELSE '' END, '')
    || printf('<text x="350" y="364" text-anchor="middle" font-size="13">principal component (1..%d)</text>', g.n)
    || '<text x="18" y="185" transform="rotate(-90 18 185)" text-anchor="middle" font-size="13">% of variance</text>'
    || '<rect x="400" y="190" width="12" height="12" fill="#4477aa"/><text x="418" y="200">explained by the component</text>'
    || printf('<line x1="400" y1="218" x2="412" y2="218" stroke="#cc3355" stroke-width="2"/><text x="418" y="222">cumulative (%.1f %% with %d)</text>',
              100 * max(c.cumulative), g.n)
    || '</svg>' AS svg
  FROM c, g)
WHERE s3_put(out || '/scree.svg', svg) IS NOT NULL;

-- Scatter plot of the first two components (at most $plot_max points, an even
-- sample in key order).  12 labels get distinct colours and a legend entry
-- ($plot_labels first, then the most separated), the others are grey
-- underneath.
SELECT printf('plot: %s/scatter.svg, %d bytes', imgpca_printable(out), length(CAST(svg AS BLOB))) FROM cfg, (
  WITH p AS (SELECT i.label, fvec_at(p.pc, 0) AS x, CASE WHEN fvec_dims(p.pc) > 1 THEN fvec_at(p.pc, 1) ELSE 0.0 END AS y,  -- k = 1: a line
                    row_number() OVER (ORDER BY p.key) AS rn, count(*) OVER () AS n
             FROM projections AS p JOIN images AS i USING (key)),
       s AS (SELECT p.* FROM p, cfg WHERE (rn - 1) % max(1, (n + cfg.plot_max - 1) / cfg.plot_max) = 0),
       -- Paul Tol's "bright" + "muted" qualitative colours (distinct, colour-blind safe pairs)
       pal(i, c) AS (VALUES (1, '#4477aa'), (2, '#ee6677'), (3, '#228833'), (4, '#ccbb44'), (5, '#66ccee'),
                            (6, '#aa3377'), (7, '#332288'), (8, '#ddcc77'), (9, '#117733'), (10, '#882255'),
                            (11, '#44aa99'), (12, '#999933')),
       -- $plot_labels: 'Banana 1, Kiwi 1' -> (Banana 1, 1), (Kiwi 1, 2)
       named(label, pos, rest) AS (
         SELECT NULL, 0, $plot_labels || ',' WHERE $plot_labels IS NOT NULL
         UNION ALL SELECT trim(substr(rest, 1, instr(rest, ',') - 1)), pos + 1, substr(rest, instr(rest, ',') + 1)
         FROM named WHERE rest <> '' AND pos < 100),
       r AS (SELECT min(x) AS x0, max(x) AS x1, min(y) AS y0, max(y) AS y1, avg(x) AS mx, avg(y) AS my FROM s),
       cnt AS (SELECT s.label, count(*) AS n,
                      row_number() OVER (ORDER BY (SELECT min(pos) FROM named WHERE named.label = s.label) IS NULL,
                                                  (SELECT min(pos) FROM named WHERE named.label = s.label),
                                                  pow((avg(s.x) - r.mx) / max(r.x1 - r.x0, 1e-30), 2)
                                                  + pow((avg(s.y) - r.my) / max(r.y1 - r.y0, 1e-30), 2) DESC,
                                                  count(*) DESC, s.label) AS rk,
                      count(*) OVER () AS nl FROM s, r GROUP BY s.label),
       lab AS (SELECT cnt.*, coalesce(pal.c, '#c8c8c8') AS col FROM cnt LEFT JOIN pal ON pal.i = cnt.rk),
       a AS (SELECT x0 - 0.03 * (x1 - x0) - 1e-9 AS x0, x1 + 0.03 * (x1 - x0) + 1e-9 AS x1,
                    y0 - 0.03 * (y1 - y0) - 1e-9 AS y0, y1 + 0.03 * (y1 - y0) + 1e-9 AS y1 FROM r),
       -- tick step: the 1, 2 or 5 x 10^e nearest to a sixth of the range
       st AS (SELECT a.*, pow(10, floor(log10((x1 - x0) / 6))) AS mx, pow(10, floor(log10((y1 - y0) / 6))) AS my FROM a),
       b AS (SELECT st.*,
                    mx * CASE WHEN (x1 - x0) / 6 / mx < 1.5 THEN 1 WHEN (x1 - x0) / 6 / mx < 3.5 THEN 2 WHEN (x1 - x0) / 6 / mx < 7.5 THEN 5 ELSE 10 END AS sx,
                    my * CASE WHEN (y1 - y0) / 6 / my < 1.5 THEN 1 WHEN (y1 - y0) / 6 / my < 3.5 THEN 2 WHEN (y1 - y0) / 6 / my < 7.5 THEN 5 ELSE 10 END AS sy
             FROM st),
       tx(v) AS (SELECT ceil(x0 / sx) * sx FROM b UNION ALL SELECT v + sx FROM tx, b WHERE v + sx <= x1),
       ty(v) AS (SELECT ceil(y0 / sy) * sy FROM b UNION ALL SELECT v + sy FROM ty, b WHERE v + sy <= y1),
       v AS (SELECT json_extract(pca_info(model), '$.ratio[0]') AS r1, json_extract(pca_info(model), '$.ratio[1]') AS r2 FROM model),
       -- grey points first, coloured ones on top
       d AS (SELECT s.x, s.y, lab.col, lab.rk FROM s JOIN lab USING (label) ORDER BY lab.rk > 12 DESC, lab.rk DESC)
  SELECT '<svg xmlns="http://www.w3.org/2000/svg" width="900" height="600" font-family="DejaVu Sans, sans-serif" font-size="12">'
    || '<rect width="900" height="600" fill="white"/>'
    || printf('<text x="330" y="24" text-anchor="middle" font-size="15">PC1 vs PC2: %d images, %d labels</text>',
              (SELECT count(*) FROM s), (SELECT count(*) FROM lab))
    || (SELECT group_concat(printf('<line x1="%.1f" y1="40" x2="%.1f" y2="535" stroke="#ececec"/><text x="%.1f" y="550" text-anchor="middle">%s</text>',
                                   70 + 520 * (tx.v - b.x0) / (b.x1 - b.x0), 70 + 520 * (tx.v - b.x0) / (b.x1 - b.x0),
                                   70 + 520 * (tx.v - b.x0) / (b.x1 - b.x0),
                                   printf('%.*f', max(0, -CAST(floor(log10(b.sx) + 1e-9) AS INTEGER)), iif(abs(tx.v) < 1e-6 * b.sx, 0.0, tx.v))), '') FROM tx, b)
    || (SELECT group_concat(printf('<line x1="65" y1="%.1f" x2="590" y2="%.1f" stroke="#ececec"/><text x="61" y="%.1f" text-anchor="end">%s</text>',
                                   530 - 490 * (ty.v - b.y0) / (b.y1 - b.y0), 530 - 490 * (ty.v - b.y0) / (b.y1 - b.y0),
                                   534 - 490 * (ty.v - b.y0) / (b.y1 - b.y0),
                                   printf('%.*f', max(0, -CAST(floor(log10(b.sy) + 1e-9) AS INTEGER)), iif(abs(ty.v) < 1e-6 * b.sy, 0.0, ty.v))), '') FROM ty, b)
    || '<rect x="70" y="40" width="520" height="490" fill="none" stroke="#777"/>'
    || printf('<text x="330" y="574" text-anchor="middle" font-size="13">PC1 (%.1f %% of variance)</text>', 100 * v.r1)
    || printf('<text x="18" y="285" transform="rotate(-90 18 285)" text-anchor="middle" font-size="13">PC2 (%.1f %% of variance)</text>', 100 * v.r2)
    || (SELECT group_concat(printf('<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s" fill-opacity="0.75"/>',
                                   70 + 520 * (d.x - b.x0) / (b.x1 - b.x0), 530 - 490 * (d.y - b.y0) / (b.y1 - b.y0), d.col), '') FROM d, b)
    || (SELECT group_concat(printf('<circle cx="616" cy="%d" r="5" fill="%s"/><text x="628" y="%d">%s (%d)</text>',
                                   52 + (rk - 1) * 20, col, 56 + (rk - 1) * 20,
                                   replace(replace(replace(shown,
                                                           '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), n), '')
        FROM (SELECT lab.*,
                     -- XML 1.0 allows no C0 control character (not even as a reference):
                     -- each is drawn as its Unicode control picture (U+2400 + code)
                     (WITH RECURSIVE t(l) AS (SELECT CASE WHEN length(label) > 28 THEN substr(label, 1, 27) || '…' ELSE label END),
                                     c(i, o) AS (SELECT 1, '' UNION ALL
                                                 SELECT i + 1, o || CASE WHEN unicode(substr(t.l, i, 1)) < 32
                                                                         THEN char(9216 + unicode(substr(t.l, i, 1)))
                                                                         ELSE substr(t.l, i, 1) END
                                                 FROM c, t WHERE i <= length(t.l))
                      SELECT o FROM c ORDER BY i DESC LIMIT 1) AS shown
              FROM lab WHERE rk <= 12 ORDER BY rk))
    || (SELECT CASE WHEN count(*) > 0 THEN printf('<circle cx="616" cy="%d" r="5" fill="#c8c8c8"/><text x="628" y="%d">other (%d classes, %d images)</text>',
                                                  52 + 12 * 20, 56 + 12 * 20, count(*), sum(n)) ELSE '' END FROM lab WHERE rk > 12)
    || '</svg>' AS svg
  FROM v)
WHERE s3_put(out || '/scatter.svg', svg) IS NOT NULL;
