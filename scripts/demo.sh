#!/usr/bin/env bash
# The main job (README command 1, via `make demo`): runs sql/pipeline.sql
# (from the repository root: it reads its stages from sql/stages/) on local
# files; the pipeline ends with a summary.
#
#   scripts/demo.sh                      generated demo image set (demo/images)
#   SOURCE=/path/to/fruits360 scripts/demo.sh       a real folder
#   SOURCE=s3://bucket/prefix OUT=s3://bucket/out scripts/demo.sh
#
# Variables: SOURCE, OUT (default demo/out), DB (default demo/state.db;
# delete it to start from scratch), SPEC, K, REFIT=1, BATCH.
# The state database makes reruns incremental: only new or changed images
# are processed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
SQLITE3=${SQLITE3:-sqlite3}
DB=${DB:-demo/state.db}
OUT=${OUT:-demo/out}
if [ -z "${SOURCE:-}" ]; then
  SOURCE=demo/images
  if [ ! -f demo/.images-complete ]; then
    echo "demo: generating the synthetic demo image set in demo/images"
    rm -rf demo/images
    /usr/bin/python3 scripts/make-demo-images.py demo/images
    touch demo/.images-complete
  fi
fi
mkdir -p "$(dirname "$DB")"
# The demo's own state database from a version before the smaller schema:
# the pipeline refuses it, so the demo starts a new one (kept aside).
if [ "$DB" = demo/state.db ] && [ -f "$DB" ] &&
   [ "$("$SQLITE3" -readonly "$DB" "SELECT count(*) FROM sqlite_schema
        WHERE name = 'images' AND sql LIKE '%url      TEXT NOT NULL%'" 2>/dev/null)" = 1 ]; then
  echo "demo: demo/state.db has the schema of an earlier version: moved to demo/state.db.old, starting a new one"
  for f in "$DB" "$DB-wal" "$DB-shm"; do [ -e "$f" ] && mv "$f" "${f/state.db/state.db.old}"; done
fi
case "$OUT" in s3://*|s3a://*) ;; *) mkdir -p "$OUT" ;; esac
q() { printf "'%s'" "${1//\'/\'\'}"; }   # SQL string literal
args=(-cmd ".load $root/dist/imgpca" -cmd ".parameter set \$source $(q "$SOURCE")"
      -cmd ".parameter set \$out $(q "$OUT")")
[ -n "${SPEC:-}" ] && args+=(-cmd ".parameter set \$spec $(q "$SPEC")")
[ -n "${K:-}" ] && args+=(-cmd ".parameter set \$k $K")
[ -n "${REFIT:-}" ] && args+=(-cmd ".parameter set \$refit $REFIT")
[ -n "${BATCH:-}" ] && args+=(-cmd ".parameter set \$batch $BATCH")
"$SQLITE3" -batch "${args[@]}" "$DB" < sql/pipeline.sql
