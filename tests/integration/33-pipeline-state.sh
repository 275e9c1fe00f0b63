#!/usr/bin/env bash
# The pipeline's working directory and state database (sql/pipeline.sql on a
# few classes of ../shared/data/fruits360):
#  1. untrusted state databases are refused before anything is written: a
#     CHECK constraint, a trigger or a view calling s3_put, an extra index,
#     an extra table, the previous version's schema;
#     each run fails naming the object, the file s3_put would write does not
#     appear, the database keeps its bytes (no WAL, no settings row); a
#     database holding part of the pipeline's own schema is completed
#  2. a symlink planted in the working directory is never written through,
#     and the run leaves the working directory as it found it
#  3. two pipelines started at once from one directory on two state
#     databases both finish, with the same CSV bytes
#  4. make install: the installed pipeline runs from $PREFIX/share/imgpca with
#     the installed extension and gives the same CSV bytes
# Last line: the measured figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
data=$root/../shared/data/fruits360
[ -d "$data/Training" ] || { echo "missing test data $data"; exit 1; }
T=$(mktemp -d /tmp/imgpca-it32.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

mkdir -p "$T/src/Training" "$T/src/Test"
for c in "Apple Braeburn 1" "Banana 1" "Kiwi 1" "Lemon 1"; do
  cp -r "$data/Training/$c" "$T/src/Training/"; cp -r "$data/Test/$c" "$T/src/Test/"
done
n=$(find "$T/src" -name '*.jpg' | wc -l)

run() { # DB OUT WORKDIR [extra args]: the pipeline from WORKDIR (which has sql/)
  local db=$1 out=$2 wd=$3; shift 3
  (cd "$wd" && sqlite3 -batch -cmd ".load $root/dist/imgpca" -cmd ".parameter set \$source '$T/src'" \
     -cmd ".parameter set \$out '$out'" -cmd '.parameter set $batch 20' "$@" "$db" < sql/pipeline.sql)
}

# ---- 1. untrusted state databases -------------------------------------------
# Each case: SQL making the database, the object the refusal must name.
refused=0
check_refused() { # NAME SQL EXPECTED-MESSAGE
  local name=$1 sql=$2 want=$3 db="$T/evil-$1.db"
  rm -f "$T/pwned"
  sqlite3 -batch -cmd ".load $root/dist/imgpca" "$db" "$sql" > /dev/null || fail "$name: could not make the database"
  local before; before=$(sha256sum < "$db")
  if run "$db" "$T/out-evil" "$root" > "$T/evil.log" 2>&1; then
    cat "$T/evil.log"; fail "$name: the pipeline accepted a foreign schema"
  fi
  [ ! -e "$T/pwned" ] || fail "$name: the database's schema wrote a file through s3_put"
  [ "$(sha256sum < "$db")" = "$before" ] || fail "$name: the refused database was modified"
  [ ! -e "$db-wal" ] || fail "$name: the refused database was switched to WAL"
  [ ! -e "$T/out-evil" ] || fail "$name: outputs were written"
  grep -qF "$want" "$T/evil.log" || { cat "$T/evil.log"; fail "$name: no message naming the object ('$want')"; }
  grep -q "refusing the state database" "$T/evil.log" || { cat "$T/evil.log"; fail "$name: no refusal message"; }
  refused=$((refused + 1))
}
check_refused check "CREATE TABLE settings(key TEXT PRIMARY KEY,
    value ANY CHECK (s3_put('$T/pwned', 'x') IS NOT NULL)) WITHOUT ROWID" \
  "state database '$T/evil-check.db': table 'settings' differs from the one this pipeline creates"
# a valid pipeline database plus one object
run "$T/good.db" "$T/out-good" "$root" > "$T/good.log" 2>&1 || { cat "$T/good.log"; fail "run on a new database failed"; }
for extra in "trigger|t1|CREATE TRIGGER t1 AFTER INSERT ON runs BEGIN SELECT s3_put('$T/pwned', 'x'); END" \
             "index|i1|CREATE INDEX i1 ON runs(started)" \
             "table|stolen|CREATE TABLE stolen(x)"; do
  IFS='|' read -r type name sql <<< "$extra"
  cp "$T/good.db" "$T/evil-$name.db"
  check_refused "$name" "PRAGMA journal_mode = DELETE; $sql" "unexpected $type '$name'"
done
cp "$T/good.db" "$T/evil-view.db"
check_refused view "PRAGMA journal_mode = DELETE; DROP VIEW accuracy;
  CREATE VIEW accuracy AS SELECT s3_put('$T/pwned', 'x') AS tested, 0 AS correct, 0 AS percent" \
  "view 'accuracy' differs from the one this pipeline creates"
# part of the pipeline's own schema (a version with fewer objects): completed
cp "$T/good.db" "$T/part.db"
sqlite3 "$T/part.db" "DROP VIEW confusions; DROP TABLE classified" > /dev/null
run "$T/part.db" "$T/out-part" "$root" > "$T/part.log" 2>&1 || { cat "$T/part.log"; fail "a database with part of the schema was refused"; }
[ "$(sqlite3 "$T/part.db" "SELECT count(*) FROM sqlite_schema WHERE name IN ('confusions', 'classified')")" = 2 ] ||
  fail "the missing objects were not created"
# the previous version's schema: a clear message telling to start a new one
check_refused older "CREATE TABLE images(
  key      TEXT PRIMARY KEY,   -- object key / path as listed
  url      TEXT NOT NULL,      -- where it was fetched from
  label    TEXT, split TEXT NOT NULL, etag TEXT, spec TEXT NOT NULL, features BLOB)" \
  "was created by an earlier version of the pipeline (table images has a url column); this version keeps a smaller state: start a new state database"
# the good database still runs (its schema is exactly the created one)
run "$T/good.db" "$T/out-good" "$root" > "$T/good2.log" 2>&1 || { cat "$T/good2.log"; fail "rerun on the pipeline's own database failed"; }
[ "$(sqlite3 "$T/good.db" "SELECT processed FROM runs ORDER BY id DESC LIMIT 1")" = 0 ] || fail "rerun processed images"

# ---- 2. a symlink planted in the working directory --------------------------
# The working directory holds sql/ (a symlink to the repository's) and links
# under every name a pipeline could think of writing; all point to a victim.
wd=$T/wd
mkdir -p "$wd"
ln -s "$root/sql" "$wd/sql"
echo "victim" > "$T/victim"
for f in .imgpca-batches.sql .imgpca-batch.sql batches.sql pca.csv out state.db-journal stderr stdout; do
  ln -s "$T/victim" "$wd/$f"
done
listing() { (cd "$wd" && find . -printf '%p %y %l %s\n' | sort); }
before=$(listing)
run "$T/wd.db" "$T/out-wd" "$wd" > "$T/wd.log" 2>&1 || { cat "$T/wd.log"; fail "run from the planted directory failed"; }
[ "$(cat "$T/victim")" = victim ] || fail "the pipeline wrote through a symlink of its working directory"
[ "$(listing)" = "$before" ] || { diff <(echo "$before") <(listing); fail "the pipeline changed its working directory"; }
cmp -s "$T/out-wd/pca.csv" "$T/out-good/pca.csv" || fail "the run from the planted directory made another CSV"

# ---- 3. two pipelines at once from one directory ----------------------------
run "$T/c1.db" "$T/out-c1" "$root" > "$T/c1.log" 2>&1 & p1=$!
run "$T/c2.db" "$T/out-c2" "$root" > "$T/c2.log" 2>&1 & p2=$!
wait "$p1" || { cat "$T/c1.log"; fail "first of two concurrent pipelines failed"; }
wait "$p2" || { cat "$T/c2.log"; fail "second of two concurrent pipelines failed"; }
for c in c1 c2; do
  [ "$(sqlite3 "$T/$c.db" "SELECT processed FROM runs")" = "$n" ] || fail "$c processed $(sqlite3 "$T/$c.db" "SELECT processed FROM runs")"
  cmp -s "$T/out-$c/pca.csv" "$T/out-good/pca.csv" || fail "$c: CSV differs from the single run's"
done

# ---- 4. the installed pipeline ----------------------------------------------
make -s install DESTDIR="$T/inst" PREFIX=/usr/local > "$T/install.log" 2>&1 || { cat "$T/install.log"; fail "make install failed"; }
share=$T/inst/usr/local/share/imgpca
[ -f "$share/sql/pipeline.sql" ] && [ -f "$share/sql/stages/31-batch.sql" ] || fail "make install did not install the pipeline under share/imgpca"
(cd "$share" && sqlite3 -batch -cmd ".load $T/inst/usr/local/lib/imgpca" -cmd ".parameter set \$source '$T/src'" \
   -cmd ".parameter set \$out '$T/out-inst'" "$T/inst.db" < sql/pipeline.sql) > "$T/inst.log" 2>&1 ||
  { cat "$T/inst.log"; fail "the installed pipeline failed"; }
cmp -s "$T/out-inst/pca.csv" "$T/out-good/pca.csv" || fail "the installed pipeline made another CSV"

echo "pipeline state: $refused untrusted state databases refused unchanged (no file written), planted symlinks untouched, 2 concurrent pipelines in one directory and the installed pipeline: identical CSVs of $n rows"
