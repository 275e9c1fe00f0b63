#!/usr/bin/env bash
# The sharded path's keys and report (scripts/imgpca-worker.sh plan, map, reduce, project,
# publish), on a small set with hostile names: a label holding a TAB and a key holding a
# newline and commas (which a CSV split on LF would turn into a fake labelled point).
#   - local folder and RGW bucket: keys relative to the folder part of IMGPCA_SOURCE, so the two
#     published projection.csv files are byte-identical; header key,label,split,pc1..;
#   - report.html: one point per row (no fake point, every label exact), the split, the
#     thumbnails, 1-NN classification of every test row checked against a brute-force
#     nearest neighbour computed here from the published CSV (Python csv module), 0 errors;
#   - on RGW, behind a counting proxy: publish GETs each file under parts/ at most once (a CSV
#     part below the 5 MiB minimum of a server-side part copy is streamed once by s3_concat),
#     and the bytes the report GETs of the projections (points files) are at most 1.2x the
#     published CSV's size.
. "$(dirname "$0")/lib.sh"
it_setup it35
data=$root/../shared/data/fruits360
py=/usr/bin/python3
src=$work/src
for c in "Apple 6" "Banana 1" "Kiwi 1"; do
  for s in Training Test; do
    mkdir -p "$src/$s/$c"
    find "$data/$s/$c" -name '*.jpg' | sort | sed -n 1,10p | while IFS= read -r f; do cp "$f" "$src/$s/$c/"; done
  done
done
tabl=$(printf 'Lem\ton')
for s in Training Test; do
  mkdir -p "$src/$s/$tabl"
  find "$data/$s/Lemon 1" -name '*.jpg' | sort | sed -n 1,6p | while IFS= read -r f; do cp "$f" "$src/$s/$tabl/"; done
done
evil="$src/Test/Kiwi 1/evil
Fake,Fake,1,2.jpg"
cp "$(find "$data/Test/Kiwi 1" -name '*.jpg' | sort | sed -n 12p)" "$evil"
nimg=$(find "$src" -name '*.jpg' -printf x | wc -c)
ntest=$(find "$src/Test" -name '*.jpg' -printf x | wc -c)
stages() { # OUT SRC -> runs every stage with 2 shards
  local s
  export IMGPCA_RUN=it35 IMGPCA_SOURCE=$2 IMGPCA_OUT=$1 IMGPCA_SPEC='hist:bins=8,sqrt' IMGPCA_K=8 IMGPCA_NSHARD=2
  scripts/imgpca-worker.sh plan && for s in 0 1; do scripts/imgpca-worker.sh map $s 2 || return 1; done &&
    scripts/imgpca-worker.sh reduce && for s in 0 1; do scripts/imgpca-worker.sh project $s 2 || return 1; done
}
check_report() { # WHAT HTML CSV
  local r
  r=$($py - "$2" "$3" <<'PY'
import csv, json, re, sys
html = open(sys.argv[1], encoding="utf-8").read()
d = json.loads(re.search(r"const DATA = (.*?);\n", html, re.S).group(1))
rows = list(csv.reader(open(sys.argv[2], newline="", encoding="utf-8")))
hdr, rows = rows[0], rows[1:]
by = {r[0]: r for r in rows}
out = []
out.append("header=%s" % (",".join(hdr[:4]) == "key,label,split,pc1"))
pts = {p[0]: p for p in d["points"]}
out.append("points=%s" % (len(d["points"]) == len(rows) and set(pts) == set(by)))
out.append("labels=%s" % (all(d["labels"][p[1]] == by[k][1] for k, p in pts.items())))
out.append("split=%s" % (all((p[2] == 1) == (by[k][2] == "test") for k, p in pts.items())))
out.append("thumbs=%s" % (sum(1 for p in d["points"] if p[4]) == len(rows)))
vec = {k: [float(x) for x in r[3:]] for k, r in by.items()}
train = [k for k in by if by[k][2] == "train"]
wrong, tested = 0, 0
for k in by:
    if by[k][2] != "test":
        continue
    tested += 1
    nn = min(train, key=lambda t: (sum((a - b) ** 2 for a, b in zip(vec[k], vec[t])), t))
    wrong += by[nn][1] != by[k][1]
s = d["summary"]
out.append("classified=%s" % (s["tested"] == tested and s["correct"] == tested - wrong))
out.append("errors=%s" % (s["errors"] == 0 and d["errors"] == []))
out.append("counts=%s" % (s["images"] == len(rows) and s["test"] == tested and s["train"] == len(train)))
out.append("runtime=%s" % (isinstance(s.get("seconds"), (int, float)) and 0 <= s["seconds"] < 3600))
print(" ".join(out))
PY
) || { bad "$1: report readable" "$r"; return; }
  local c
  for c in header points labels split thumbs classified errors counts runtime; do
    case " $r " in *" $c=True "*) ok "$1: report $c" ;; *) bad "$1: report $c" "$r" ;; esac
  done
}

# ---- local ----
( stages "$work/out" "$src/**/*.jpg" && scripts/imgpca-worker.sh publish ) >"$work/local.log" 2>&1 ||
  { cat "$work/local.log"; bad "local sharded run"; echo "shard report: $((n-fail))/$n checks passed"; exit 1; }
expect_eq "local: published rows (Python csv)" \
  "$($py -c 'import csv, sys; print(len(list(csv.reader(open(sys.argv[1], newline="")))) - 1)' "$work/out/projection.csv")" "$nimg"
check_report local "$work/out/report.html" "$work/out/projection.csv"
# incremental: the same run again reuses both shards (nothing fetched); after one image is
# replaced, only its shard is mapped again, and the published CSV has its new projection
cp "$work/out/projection.csv" "$work/first.csv"
( stages "$work/out" "$src/**/*.jpg" && scripts/imgpca-worker.sh publish ) >"$work/again.log" 2>&1 ||
  { cat "$work/again.log"; bad "local sharded rerun"; }
expect_eq "rerun: both shards reused" "$(grep -c 'unchanged since its manifest.*reused' "$work/again.log")" 2
if cmp -s "$work/first.csv" "$work/out/projection.csv"; then ok "rerun: same CSV"; else bad "rerun: same CSV"; fi
# the former names of the source parameter still work, with a warning: IMGPCA_SRC (the worker;
# the shard is reused, so the source is the same) and $src (sql/plan.sql: the same key lists)
( export IMGPCA_RUN=it35 IMGPCA_SRC="$src/**/*.jpg" IMGPCA_OUT="$work/out" IMGPCA_SPEC='hist:bins=8,sqrt' IMGPCA_NSHARD=2
  unset IMGPCA_SOURCE; scripts/imgpca-worker.sh plan && scripts/imgpca-worker.sh map 0 2 ) >"$work/alias.log" 2>&1 ||
  bad "run with IMGPCA_SRC" "$(cat "$work/alias.log")"
expect_has "IMGPCA_SRC: a deprecation warning" "$(cat "$work/alias.log")" \
  "imgpca-worker: warning: IMGPCA_SRC is deprecated: set IMGPCA_SOURCE (the same source glob)"
expect_eq "IMGPCA_SRC: the same source (shard reused)" "$(grep -c 'unchanged since its manifest.*reused' "$work/alias.log")" 1
alias_out=$(sqlite3 -batch -cmd ".load $root/dist/imgpca" -cmd ".parameter set \$run it35" \
  -cmd ".parameter set \$src '$src/**/*.jpg'" -cmd ".parameter set \$out '$work/alias'" -cmd ".parameter set \$nshard 2" \
  :memory: < sql/plan.sql 2>&1) || bad "sql/plan.sql with \$src" "$alias_out"
expect_has "sql/plan.sql with \$src: a deprecation warning" "$alias_out" 'warning: parameter $src is deprecated: set $source'
if cmp -s "$work/alias/plan/shard-00001-of-00002.json" "$work/out/plan/shard-00001-of-00002.json"; then
  ok "sql/plan.sql with \$src: the same key list"; else bad "sql/plan.sql with \$src: the same key list"; fi
victim=$(find "$src/Training/Banana 1" -name '*.jpg' | sort | sed -n 1p)
vkey=${victim#"$src/"}
cp "$(find "$data/Training/Kiwi 1" -name '*.jpg' | sort | sed -n 30p)" "$victim"
( stages "$work/out" "$src/**/*.jpg" && scripts/imgpca-worker.sh publish ) >"$work/changed.log" 2>&1 ||
  { cat "$work/changed.log"; bad "local sharded run after a change"; }
expect_eq "one image replaced: one shard reused, the other mapped again" \
  "$(grep -c 'unchanged since its manifest.*reused' "$work/changed.log")|$(grep -c '^map: shard [01] of 2 done' "$work/changed.log")" "1|1"
if [ "$(grep -F "$vkey," "$work/first.csv")" != "$(grep -F "$vkey," "$work/out/projection.csv")" ]; then
  ok "the replaced image's row changed"; else bad "the replaced image's row changed"; fi

# ---- RGW, behind a counting proxy ----
it_start_rgw
export AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY AWS_REGION=$RGW_REGION \
       AWS_EC2_METADATA_DISABLED=true IMGPCA_S3_URL_STYLE=path AWS_ENDPOINT_URL=$RGW_ENDPOINT
b=s3://$RGW_BUCKET
sqlite3 -batch -cmd ".load $root/dist/imgpca" :memory: "SELECT count(s3_put('$b/data/' || key, content)) FROM s3_list('$src/**/*')" >/dev/null
$py tests/faultproxy/faultproxy.py --listen 0 --upstream "${RGW_ENDPOINT#http://}" \
  --port-file "$work/proxy.port" >"$work/proxy.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/proxy.port" ] && break; sleep 0.1; done
proxy=http://127.0.0.1:$(cat "$work/proxy.port")
export AWS_ENDPOINT_URL=$proxy
stages "$b/out" "$b/data/**/*.jpg" >"$work/s3.log" 2>&1 || { cat "$work/s3.log"; bad "S3 sharded run"; exit 1; }
curl -sf -X POST "$proxy/__fault/reset" >/dev/null
scripts/imgpca-worker.sh publish >"$work/pub.log" 2>&1 || { cat "$work/pub.log"; bad "S3 publish"; exit 1; }
curl -sf "$proxy/__fault/log" >"$work/proxy.json"
sqlite3 -batch -cmd ".load $root/dist/imgpca" :memory: "SELECT s3_put('$work/s3.csv', s3_fetch('$b/out/projection.csv')),
  s3_put('$work/s3.html', s3_fetch('$b/out/report.html'))" >/dev/null
if cmp -s "$work/s3.csv" "$work/out/projection.csv"; then ok "S3 and local projection.csv are byte-identical (same keys)"
else bad "S3 and local projection.csv are byte-identical (same keys)" "$(diff "$work/s3.csv" "$work/out/projection.csv" | head -4)"; fi
check_report S3 "$work/s3.html" "$work/s3.csv"
csvb=$(stat -c %s "$work/s3.csv")
r=$($py - "$work/proxy.json" "$csvb" <<'PY'
import collections, json, sys
log = json.load(open(sys.argv[1])); csvb = int(sys.argv[2])
g = [e for e in log if e["method"] == "GET" and "/out/parts/" in e["path"] and "list-type" not in e["query"]]
per = collections.Counter(e["path"] for e in g)
pts = sum(e.get("bytes", 0) for e in g if e["path"].endswith(".points.json"))
csv = sum(e.get("bytes", 0) for e in g if e["path"].endswith(".csv"))
print("once=%s budget=%s points_bytes=%d csv_parts_bytes=%d csv_bytes=%d ratio=%.2f gets=%d" % (
    max(per.values(), default=0) <= 1, pts <= 1.2 * csvb, pts, csv, csvb, pts / csvb, len(g)))
PY
)
echo "     publish on RGW: $r"
case "$r" in *"once=True"*) ok "S3 publish: each file under parts/ GET at most once" ;; *) bad "S3 publish: each file GET at most once" "$r" ;; esac
case "$r" in *"budget=True"*) ok "S3 publish: projection bytes read <= 1.2x the CSV" ;; *) bad "S3 publish: projection bytes read <= 1.2x the CSV" "$r" ;; esac
echo "shard report: $((n-fail))/$n checks passed"
[ $fail -eq 0 ]
