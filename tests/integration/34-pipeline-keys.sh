#!/usr/bin/env bash
# Keys, split and label of sql/pipeline.sql, local and on S3 (Ceph RGW):
#   - the key is the path relative to $source, the same for a folder and for a
#     bucket prefix, so the two runs write byte-identical pca.csv files
#     (header key,label,split,pc1..), and an image's URL is $source/key;
#   - the split rule looks at that relative key only: a source under folders
#     named Test (local) or test (S3) is not all test images;
#   - $source is a folder or prefix, never a glob: 'photos[2024]' does not
#     read the sibling 'photos2' (nor 'photos[2024]-old');
#   - a label holding C0 control characters gives a well-formed scatter.svg
#     (xmllint, rsvg-convert);
#   - thumbnails come from the state database: behind a counting proxy, the
#     first S3 run GETs each image once and nothing else of the source, a
#     rerun GETs nothing, and report.html has the thumbnails.
. "$(dirname "$0")/lib.sh"
it_setup it34
data=$root/../shared/data/fruits360
py=/usr/bin/python3
ctl=$(printf 'Kiwi\001\033[31m')   # a label with C0 control characters
src="$work/Test/photos[2024]"
mk() { # class count split-folder dest-root
  mkdir -p "$4/$3/$1"
  find "$data/$3/$(basename "$5")" -name '*.jpg' | sort | sed -n "1,$2p" | while IFS= read -r f; do cp "$f" "$4/$3/$1/"; done
}
mk "Apple" 12 Training "$src" "Apple 6"; mk "Apple" 5 Test "$src" "Apple 6"
mk "Banana" 12 Training "$src" "Banana 1"; mk "Banana" 5 Test "$src" "Banana 1"
mk "$ctl" 12 Training "$src" "Kiwi 1"; mk "$ctl" 5 Test "$src" "Kiwi 1"
mk "Lemon" 7 Training "$work/Test/photos2" "Lemon 1"              # matched by the glob photos[2024]
mk "Lemon" 7 Training "$work/Test/photos[2024]-old" "Lemon 1"     # a sibling sharing the prefix
ntrain=36; ntest=15
sq() { sqlite3 -batch "$@"; }
run() { # DB SOURCE OUT
  sqlite3 -batch -cmd ".load $root/dist/imgpca" -cmd ".parameter set \$source '${2//\'/\'\'}'" \
    -cmd ".parameter set \$out '${3//\'/\'\'}'" -cmd '.parameter set $k 4' "$1" < sql/pipeline.sql
}
checks() { # WHAT DB CSV SVG
  local what=$1 db=$2
  expect_eq "$what: images listed from the source only (not photos2/, photos[2024]-old/)" \
    "$(sq "$db" "SELECT count(*) FROM images")" $((ntrain + ntest))
  expect_eq "$what: split from the key relative to the source (train|test)" \
    "$(sq "$db" "SELECT sum(split = 'train') || '|' || sum(split = 'test') FROM images")" "$ntrain|$ntest"
  expect_eq "$what: keys relative to the source (Training/... or Test/...)" \
    "$(sq "$db" "SELECT count(*) FROM images WHERE key GLOB 'Training/*/*.jpg' OR key GLOB 'Test/*/*.jpg'")" $((ntrain + ntest))
  expect_eq "$what: CSV header" "$(sed -n 1p "$3")" "key,label,split,pc1,pc2,pc3,pc4"
  expect_eq "$what: CSV split column = folder under the source" \
    "$($py -c 'import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
print(sum(r["split"] == ("test" if r["key"].startswith("Test/") else "train") for r in rows), len(rows))' "$3")" \
    "$((ntrain + ntest)) $((ntrain + ntest))"
  if xmllint --noout "$4" 2>"$work/xmllint.err"; then ok "$what: scatter.svg well-formed with a control character in a label"
  else bad "$what: scatter.svg well-formed with a control character in a label" "$(head -c 300 "$work/xmllint.err")"; fi
  if rsvg-convert -o "$work/scatter.png" "$4" 2>/dev/null; then ok "$what: rsvg-convert renders scatter.svg"
  else bad "$what: rsvg-convert renders scatter.svg"; fi
  expect_eq "$what: the label is drawn with control pictures" \
    "$(grep -c $'Kiwi\u2401\u241b\\[31m' "$4")" 1
}

# ---- local ----
run "$work/local.db" "$src" "$work/out" >"$work/local.log" 2>&1 || { cat "$work/local.log"; bad "local run"; exit 1; }
checks local "$work/local.db" "$work/out/pca.csv" "$work/out/scatter.svg"
expect_eq "local: an image's URL is \$source/key" \
  "$(sq -cmd ".load $root/dist/imgpca" "$work/local.db" "SELECT count(*) FROM images
     WHERE s3_fetch_or_null('${src//\'/\'\'}/' || key) IS NOT NULL")" $((ntrain + ntest))

# ---- S3, behind a counting proxy ----
it_start_rgw
export AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY AWS_REGION=$RGW_REGION \
       AWS_EC2_METADATA_DISABLED=true IMGPCA_S3_URL_STYLE=path
b=s3://$RGW_BUCKET
put() { sq -cmd ".load $root/dist/imgpca" :memory: "SELECT count(s3_put('$1/' || key, content)) FROM s3_list('$2/**/*')"; }
AWS_ENDPOINT_URL=$RGW_ENDPOINT put "$b/test/photos[2024]" "$(printf '%s' "$src" | sed 's/\[/\\[/')" >/dev/null
AWS_ENDPOINT_URL=$RGW_ENDPOINT put "$b/test/photos2" "$work/Test/photos2" >/dev/null
AWS_ENDPOINT_URL=$RGW_ENDPOINT put "$b/test/photos[2024]-old" "$(printf '%s' "$work/Test/photos[2024]-old" | sed 's/\[/\\[/')" >/dev/null
$py tests/faultproxy/faultproxy.py --listen 0 --upstream "${RGW_ENDPOINT#http://}" \
  --port-file "$work/proxy.port" >"$work/proxy.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/proxy.port" ] && break; sleep 0.1; done
proxy=http://127.0.0.1:$(cat "$work/proxy.port")
export AWS_ENDPOINT_URL=$proxy
curl -sf -X POST "$proxy/__fault/reset" >/dev/null || { bad "counting proxy" "$(cat "$work/proxy.log")"; exit 1; }
# GETs of the source's objects seen by the proxy since the last reset
gets() { curl -sf "$proxy/__fault/log" | $py -c 'import json, sys
print(sum(1 for e in json.load(sys.stdin) if e["method"] == "GET" and "/test/photos" in e["path"] and "list-type" not in e["query"]))'; }
run "$work/s3.db" "$b/test/photos[2024]" "$b/out" >"$work/s3.log" 2>&1 || { cat "$work/s3.log"; bad "S3 run"; exit 1; }
expect_eq "S3 first run: one GET per image, none for the report" "$(gets)" $((ntrain + ntest))
sq -cmd ".load $root/dist/imgpca" :memory: "SELECT s3_put('$work/s3.csv', s3_fetch('$b/out/pca.csv')),
  s3_put('$work/s3.svg', s3_fetch('$b/out/scatter.svg')), s3_put('$work/s3.html', s3_fetch('$b/out/report.html'))" >/dev/null
checks S3 "$work/s3.db" "$work/s3.csv" "$work/s3.svg"
if cmp -s "$work/s3.csv" "$work/out/pca.csv"; then ok "S3 and local pca.csv are byte-identical (same keys)"
else bad "S3 and local pca.csv are byte-identical (same keys)" "$(diff "$work/s3.csv" "$work/out/pca.csv" | head -4)"; fi
expect_eq "S3: report.html holds a thumbnail per image (from the state database)" \
  "$(grep -o 'data:image/jpeg;base64,' "$work/s3.html" | wc -l)" $((ntrain + ntest))
curl -sf -X POST "$proxy/__fault/reset" >/dev/null
run "$work/s3.db" "$b/test/photos[2024]" "$b/out" >"$work/s3b.log" 2>&1 || { cat "$work/s3b.log"; bad "S3 rerun"; exit 1; }
expect_eq "S3 rerun: no GET of any image" "$(gets)" 0
sq -cmd ".load $root/dist/imgpca" :memory: "SELECT s3_put('$work/s3b.html', s3_fetch('$b/out/report.html'))" >/dev/null
expect_eq "S3 rerun: report.html still holds every thumbnail" \
  "$(grep -o 'data:image/jpeg;base64,' "$work/s3b.html" | wc -l)" $((ntrain + ntest))
echo "pipeline keys: $((n-fail))/$n checks passed"; [ $fail -eq 0 ]
