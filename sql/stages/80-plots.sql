-- ---------------------------------------------------------------------------
-- 8. Plots: SVG built with string aggregation, written with s3_put (local or S3)
-- ---------------------------------------------------------------------------
-- Scree plot: explained variance ratio per component (bars) and cumulative (line).
SELECT printf('plot: %s/scree.svg, %d bytes', out, length(CAST(svg AS BLOB))) FROM cfg, (
  WITH c AS (SELECT row_number() OVER (ORDER BY idx) AS i, ratio, cumulative
             FROM model AS m, pca_components(m.model)),
       g AS (SELECT count(*) AS n, 560.0 / count(*) AS w FROM c)
  SELECT '<svg xmlns="http://www.w3.org/2000/svg" width="640" height="360" font-family="sans-serif" font-size="12">'
    || '<rect width="640" height="360" fill="white"/>'
    || '<text x="320" y="20" text-anchor="middle" font-size="15">Explained variance per principal component</text>'
    || '<line x1="50" y1="320" x2="615" y2="320" stroke="black"/><line x1="50" y1="40" x2="50" y2="320" stroke="black"/>'
    || (SELECT group_concat(printf('<line x1="46" y1="%.1f" x2="615" y2="%.1f" stroke="#ddd"/><text x="42" y="%.1f" text-anchor="end">%d%%</text>',
                                   320 - 2.8 * v, 320 - 2.8 * v, 324 - 2.8 * v, v), '')
        FROM (SELECT 0 AS v UNION ALL SELECT 25 UNION ALL SELECT 50 UNION ALL SELECT 75 UNION ALL SELECT 100))
    || group_concat(printf('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#4477aa"><title>PC%d: %.2f%%</title></rect>',
                           52 + (c.i - 1) * g.w, 320 - 280 * c.ratio, max(g.w - 1, 0.5), 280 * c.ratio, c.i, 100 * c.ratio), '')
    || '<polyline fill="none" stroke="#cc6677" stroke-width="2" points="'
    || group_concat(printf('%.1f,%.1f', 52 + (c.i - 0.5) * g.w, 320 - 280 * c.cumulative), ' ') || '"/>'
    || printf('<text x="332" y="345" text-anchor="middle">component (1..%d)</text>', g.n)
    || '<rect x="420" y="50" width="12" height="12" fill="#4477aa"/><text x="437" y="60">explained ratio</text>'
    || '<line x1="420" y1="76" x2="432" y2="76" stroke="#cc6677" stroke-width="2"/><text x="437" y="80">cumulative</text>'
    || '</svg>' AS svg
  FROM c, g)
WHERE s3_put(out || '/scree.svg', svg) IS NOT NULL;

-- Scatter plot of the first two components, coloured by label (at most
-- $plot_max points, an even sample in key order).
SELECT printf('plot: %s/scatter.svg, %d bytes', out, length(CAST(svg AS BLOB))) FROM cfg, (
  WITH p AS (SELECT i.label, fvec_at(p.pc, 0) AS x, fvec_at(p.pc, 1) AS y,
                    row_number() OVER (ORDER BY p.key) AS rn, count(*) OVER () AS n
             FROM projections AS p JOIN images AS i USING (key)),
       s AS (SELECT * FROM p, cfg WHERE (rn - 1) % max(1, (n + cfg.plot_max - 1) / cfg.plot_max) = 0),
       pal(i, c) AS (VALUES (0, '#4477aa'), (1, '#ee6677'), (2, '#228833'), (3, '#ccbb44'), (4, '#66ccee'),
                            (5, '#aa3377'), (6, '#ee8866'), (7, '#222255'), (8, '#99ddff'), (9, '#bbbbbb')),
       lab0 AS (SELECT label, row_number() OVER (ORDER BY label) - 1 AS li, count(*) OVER () AS nl
                FROM (SELECT DISTINCT label FROM s)),
       -- a qualitative palette for up to 10 labels, spread hues beyond
       lab AS (SELECT label, li, nl,
                      CASE WHEN nl <= 10 THEN (SELECT c FROM pal WHERE i = li)
                           ELSE printf('hsl(%d,70%%,%d%%)', (li * 360 / nl + (li % 3) * 7) % 360, 35 + (li % 3) * 12) END AS col
               FROM lab0),
       b AS (SELECT min(x) AS x0, max(x) - min(x) + 1e-9 AS dx, min(y) AS y0, max(y) - min(y) + 1e-9 AS dy FROM s)
  SELECT '<svg xmlns="http://www.w3.org/2000/svg" width="720" height="560" font-family="sans-serif" font-size="11">'
    || '<rect width="720" height="560" fill="white"/>'
    || printf('<text x="280" y="20" text-anchor="middle" font-size="15">PC1 vs PC2, %d images, %d labels</text>', count(*), max(lab.nl))
    || '<rect x="30" y="30" width="500" height="500" fill="none" stroke="#999"/>'
    || '<text x="280" y="548" text-anchor="middle">PC1</text><text x="14" y="280" transform="rotate(-90 14 280)" text-anchor="middle">PC2</text>'
    || group_concat(printf('<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s" fill-opacity="0.75"/>',
                           35 + 490 * (s.x - b.x0) / b.dx, 525 - 490 * (s.y - b.y0) / b.dy, lab.col), '')
    || (SELECT group_concat(printf('<circle cx="548" cy="%d" r="4" fill="%s"/><text x="556" y="%d">%s</text>',
                                   40 + li * 13, col, 44 + li * 13,
                                   replace(replace(replace(label, '&', '&amp;'), '<', '&lt;'), '>', '&gt;')), '')
        FROM lab WHERE li < 38)
    || (SELECT CASE WHEN max(nl) > 38 THEN printf('<text x="548" y="%d">... %d more</text>', 44 + 38 * 13, max(nl) - 38) ELSE '' END FROM lab)
    || '</svg>' AS svg
  FROM s JOIN lab USING (label), b)
WHERE s3_put(out || '/scatter.svg', svg) IS NOT NULL;
