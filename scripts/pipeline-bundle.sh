#!/usr/bin/env bash
# Writes a SQL script of the sqlite3 shell with its `.read sql/...` lines
# replaced by the files they read, recursively, so that it runs from any
# working directory (make install puts sql/pipeline.sql bundled this way in
# $PREFIX/share/imgpca/pipeline.sql).  Each inlined file is framed by the
# comment lines "-- >>> FILE" and "-- <<< FILE", which `scripts/imgpca`
# uses to turn the shell's "near line N" into the stage file and its line.
#
#   scripts/pipeline-bundle.sh sql/pipeline.sql > pipeline.sql
#
# Lines between "-- begin: only when reading stage files" and "-- end: only
# when reading stage files" are left out (the check that the stage files can
# be found).  Paths in .read lines are relative to the folder holding sql/ (the
# repository root), as the shell reads them there.
set -euo pipefail
[ $# = 1 ] || { echo "usage: $0 sql/SCRIPT.sql > bundled.sql" >&2; exit 2; }
top=$1
root=$(cd "$(dirname "$top")/.." && pwd)
rel=sql/$(basename "$top")
cd "$root"
[ -f "$rel" ] || { echo "pipeline-bundle: cannot read '$top'" >&2; exit 1; }
awk -v top="$rel" '
function include(file, depth,   line, path, skip) {
  if (depth > 20) { print "pipeline-bundle: .read nested too deeply at " file > "/dev/stderr"; exit 1 }
  if ((getline line < file) < 0) { print "pipeline-bundle: cannot read " file > "/dev/stderr"; exit 1 }
  print "-- >>> " file
  skip = 0
  do {
    if (line ~ /^-- begin: only when reading stage files/) skip = 1
    if (skip) { if (line ~ /^-- end: only when reading stage files/) skip = 0; continue }
    if (line ~ /^\.read[ \t]+sql\/[^ \t]+\.sql[ \t]*$/) {
      path = line; sub(/^\.read[ \t]+/, "", path); sub(/[ \t]+$/, "", path)
      include(path, depth + 1)
    } else {
      print line
    }
  } while ((getline line < file) > 0)
  close(file)
  print "-- <<< " file
}
BEGIN { include(top, 0) }'
