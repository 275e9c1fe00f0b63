-- imgpca pipeline: images -> features -> PCA -> CSV (+ plots, + classification)
--
-- Run with the stock sqlite3 shell on a persistent state database, from the
-- folder that holds sql/ (the repository root, or $PREFIX/share/imgpca once
-- installed): the stages below are read relative to the working directory.
-- From any other folder: the `imgpca pipeline` command, or the single-file
-- $PREFIX/share/imgpca/pipeline.sql that make install writes (this file with
-- its stages inlined by scripts/pipeline-bundle.sh).
--
--   sqlite3 state.db -cmd '.load dist/imgpca' \
--     -cmd ".parameter set \$source '/data/fruits360'" \
--     -cmd ".parameter set \$out 'out'" < sql/pipeline.sql
--
-- Parameters (.parameter set $name value); an unset parameter keeps the value
-- stored by the previous run in the table "settings", else the default below:
--   $source  folder, file:// URL or s3://bucket/prefix of the images (required
--            on the first run)
--   $out     folder or s3:// prefix for pca.csv, scree.svg, scatter.svg
--   $spec    feature spec of img_features           default 'hist:bins=8,sqrt'
--   $k       number of principal components          default 50
--   $refit   1 = fit the model again now             default 0 (fit only when
--            there is no model yet for this source, spec and k)
--   $batch   images per committed batch             default 500 (grows to
--            ceil(images to do / 1024) beyond 1024 x $batch images)
--   $plot_max  most points drawn in scatter.svg      default 5000
--   $classify  1 = label the test images by k-NN     default 1 (its cost grows
--            with test x training images; 0 skips it on very large sets)
--   $knn     neighbours that vote for a test image's label  default 1
--   $report_points  most points in report.html's scatter  default 10000
--   $report_thumbs  most hover thumbnails in report.html  default 1500 (0: none)
--
-- Unset parameters keep the value stored by the previous run (the summary
-- says where each setting came from: parameter, stored value or default).
--
-- Incremental and resumable: the state database keeps (key, etag) -> features.
-- Features are computed by batches of images, each fetched concurrently
-- (s3_fetch_many) and committed, so a run killed at any point is resumed by
-- running this script again: it loses at most one batch, does only what is
-- missing and ends in the same result.  Images added or changed since the
-- last run are the only ones decoded.  Undecodable images are kept with NULL
-- features and their error (view "errors").
--
-- Safety: the state database may only hold objects of this pipeline's schema,
-- each exactly as created here (checked before anything is written; missing
-- ones are created); PRAGMA trusted_schema is off.  Nothing is written in the
-- working directory; progress goes to stderr.

.bail on
-- A second pipeline on the same state database waits for the first one's
-- writes (see 00-setup.sql); run `sqlite3 -cmd '.timeout 600000' ...` so
-- that the shell's own -cmd lines wait too (scripts/imgpca does).
.timeout 600000
-- begin: only when reading stage files
CREATE TEMP TABLE stage_files(
  found INTEGER CONSTRAINT "pipeline: cannot find sql/stages/00-setup.sql from this working directory: run sql/pipeline.sql from the folder holding sql/ (the repository root or $PREFIX/share/imgpca), or run it from anywhere as `imgpca pipeline STATE.db source=...` or with the single-file $PREFIX/share/imgpca/pipeline.sql"
        CHECK (found));
INSERT INTO stage_files VALUES (readfile('sql/stages/00-setup.sql') IS NOT NULL);
DROP TABLE stage_files;
-- end: only when reading stage files
-- The domain rules shared with the other scripts (temp views), then the
-- stages, in order (each file starts with a comment describing it):
.read sql/rules.sql
.read sql/stages/00-setup.sql
.read sql/stages/10-list.sql
.read sql/stages/20-forget.sql
.read sql/stages/30-features.sql
.read sql/stages/40-fit.sql
.read sql/stages/50-project.sql
.read sql/stages/60-classify.sql
.read sql/stages/70-export.sql
.read sql/stages/80-plots.sql
.read sql/stages/90-report.sql
.read sql/stages/99-summary.sql
