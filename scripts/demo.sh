#!/usr/bin/env bash
# The main job (README command 1, via `make demo`): runs sql/pipeline.sql
# (through scripts/imgpca, which names the stage file of an error) on local
# files; the pipeline ends with a summary.
#
#   scripts/demo.sh                      generated demo image set (demo/images)
#   SOURCE=/path/to/fruits360 scripts/demo.sh       a real folder
#   SOURCE=s3://bucket/prefix OUT=s3://bucket/out scripts/demo.sh
#
# Variables: SOURCE, OUT (default demo/out), DB (default demo/state.db;
# delete it to start from scratch), SPEC, K (components, or a fraction of the
# variance such as 0.95), REFIT=1, BATCH, KNN, NEW_SOURCE=1 (allow a SOURCE
# other than the one whose images the state database holds: they are
# dropped), REPORT_POINTS, REPORT_THUMBS (size of report.html), PLOT_LABELS
# (comma-separated labels coloured first in scatter.svg).  An unset
# variable keeps the value stored in the state database by its last run.
# Relative paths are relative to the repository root.
# The state database makes reruns incremental: only new or changed images
# are processed.
set -euo pipefail
cd "$(dirname "$0")/.."
SQLITE3=${SQLITE3:-sqlite3}
export SQLITE3
DB=${DB:-demo/state.db}
# An unset SOURCE or OUT keeps what the state database stored (a mistyped
# variable never switches a database to the demo set); the demo set is only
# the default of a state database that has no source yet.
stored() { [ -f "$DB" ] && "$SQLITE3" -readonly "$DB" \
  "SELECT value FROM settings WHERE key = '$1' AND typeof(value) = 'text'" 2>/dev/null || true; }
if [ -z "${SOURCE:-}" ] && [ -z "$(stored source)" ]; then
  SOURCE=demo/images
  [ -n "${OUT:-}" ] || [ -n "$(stored out)" ] || OUT=demo/out
  if [ ! -f demo/.images-complete ]; then
    echo "demo: generating the synthetic demo image set in demo/images"
    rm -rf demo/images
    /usr/bin/python3 scripts/make-demo-images.py demo/images
    touch demo/.images-complete
  fi
fi
[ -n "${OUT:-}" ] || [ -n "$(stored out)" ] || OUT=demo/out
mkdir -p "$(dirname "$DB")"
# The demo's own state database from a version before the smaller schema:
# the pipeline refuses it, so the demo starts a new one (kept aside).
if [ "$DB" = demo/state.db ] && [ -f "$DB" ] &&
   [ "$("$SQLITE3" -readonly "$DB" "SELECT count(*) FROM sqlite_schema
        WHERE name = 'images' AND sql LIKE '%url      TEXT NOT NULL%'" 2>/dev/null)" = 1 ]; then
  echo "demo: demo/state.db has the schema of an earlier version: moved to demo/state.db.old, starting a new one"
  for f in "$DB" "$DB-wal" "$DB-shm"; do [ -e "$f" ] && mv "$f" "${f/state.db/state.db.old}"; done
fi
case "${OUT:-}" in s3://*|s3a://*|'') ;; *) mkdir -p "$OUT" ;; esac
args=()
[ -n "${SOURCE:-}" ] && args+=("source=$SOURCE")
[ -n "${OUT:-}" ] && args+=("out=$OUT")
[ -n "${SPEC:-}" ] && args+=("spec=$SPEC")
[ -n "${K:-}" ] && args+=("k=$K")
[ -n "${REFIT:-}" ] && args+=("refit=$REFIT")
[ -n "${BATCH:-}" ] && args+=("batch=$BATCH")
[ -n "${KNN:-}" ] && args+=("knn=$KNN")
[ -n "${NEW_SOURCE:-}" ] && args+=("new_source=$NEW_SOURCE")
[ -n "${REPORT_POINTS:-}" ] && args+=("report_points=$REPORT_POINTS")
[ -n "${REPORT_THUMBS:-}" ] && args+=("report_thumbs=$REPORT_THUMBS")
[ -n "${PLOT_LABELS:-}" ] && args+=("plot_labels=$PLOT_LABELS")
exec scripts/imgpca pipeline "$DB" "${args[@]}"
