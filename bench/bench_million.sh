#!/usr/bin/env bash
# Pipeline at scale: sql/pipeline.sql on the shared Fruits-360 sample
# (9,165 images) replicated with hard links to N files, in two layouts:
#   flat     all N files in one folder (one S3-style prefix, no subfolders)
#   folders  the sample's own tree (Training|Test/<class>/) repeated N / 9,165 times
# Fresh state database each run, classification off ($classify 0: 1-NN is
# quadratic), PCA k = 50 on 512-dimension hist features.  Reports wall time,
# µs per image, CPU, peak RSS (/usr/bin/time -v) and state database bytes per
# image, and the µs-per-image ratio of the largest size to the smallest.
#   BENCH_MILLION_RUNS  the runs, LAYOUT:N each (default "flat:10000 flat:100000
#                       folders:10000 folders:100000"; add flat:1000000 for the 1M
#                       figure: about 2.6 GB of state, a 0.5 GB CSV and a long run)
# Prints a markdown section.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
data=$root/../shared/data/fruits360
runs=${BENCH_MILLION_RUNS:-flat:10000 flat:100000 folders:10000 folders:100000}
W=$(mktemp -d /tmp/imgpca-bench-million.XXXXXX)
trap 'rm -rf "$W"' EXIT
make -s all >/dev/null

# make_tree LAYOUT N DIR: N hard links to the sample's images
make_tree() {
  /usr/bin/python3 - "$data" "$1" "$2" "$3" <<'PY'
import os, sys
data, layout, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
files = sorted(os.path.relpath(os.path.join(d, f), data)
               for d, _, fs in os.walk(data) for f in fs if f.lower().endswith((".jpg", ".png")))
made = set()
for i in range(n):
    rel = files[i % len(files)]
    if layout == "flat":
        dst = os.path.join(out, "%07d-%s" % (i, rel.replace("/", "_")))
    else:
        dst = os.path.join(out, "c%04d" % (i // len(files)), rel)
    d = os.path.dirname(dst)
    if d not in made:
        os.makedirs(d, exist_ok=True)
        made.add(d)
    os.link(os.path.join(data, rel), dst)
PY
}

echo "## Pipeline at scale (bench_million.sh)"
echo
echo "\`sql/pipeline.sql\` on the $(find "$data" -type f -name '*.jpg' | wc -l) shared Fruits-360 images replicated with hard"
echo "links (decoding work is real and identical per copy): **flat** = every file in one folder,"
echo "**folders** = the sample's \`Training|Test/<class>/\` tree repeated. Fresh state database per run,"
echo "spec \`hist:bins=8,sqrt\` (512 dims), k = 50, classification off, CSV and plots written."
echo "Peak RSS from \`/usr/bin/time -v\`; state = the state database's bytes per image after the run."
echo
echo "| layout | images | wall (s) | µs per image | CPU (s) | CPU µs per image | peak RSS (MiB) | state (bytes per image) | batches |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
declare -A us cus sizes
for run in $runs; do
    layout=${run%%:*} n=${run##*:}
    sizes[$layout]="${sizes[$layout]:-} $n"
    rm -rf "$W/src" "$W/out" "$W/state.db"*
    mkdir -p "$W/src"
    make_tree "$layout" "$n" "$W/src"
    /usr/bin/time -v -o "$W/time" sqlite3 -batch -cmd ".load $root/dist/imgpca" \
      -cmd ".parameter set \$source '$W/src'" -cmd ".parameter set \$out '$W/out'" \
      -cmd '.parameter set $classify 0' "$W/state.db" < sql/pipeline.sql > "$W/log" 2> "$W/err" ||
      { tail -5 "$W/log" "$W/err" >&2; exit 1; }
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }' "$W/time")
    cpu=$(awk -F': ' '/User time/ { u = $2 } /System time/ { s = $2 } END { printf "%.1f", u + s }' "$W/time")
    rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$W/time")
    m=$(sqlite3 "$W/state.db" "SELECT count(*) FROM images")
    [ "$m" = "$n" ] || { echo "bench_million: $layout $n: $m images in the state database" >&2; exit 1; }
    bytes=$(( $(stat -c %s "$W/state.db") / n ))
    batches=$(sed -n 's/^to process: .*, in \([0-9]* batches of [0-9]*\)$/\1/p' "$W/log")
    u=$(awk -v w="$wall" -v n="$n" 'BEGIN { printf "%.0f", 1e6 * w / n }')
    cu=$(awk -v w="$cpu" -v n="$n" 'BEGIN { printf "%.0f", 1e6 * w / n }')
    us[$layout.$n]=$u cus[$layout.$n]=$cu
    echo "| $layout | $n | $wall | $u | $cpu | $cu | $rss | $bytes | ${batches:-1} |"
    rm -rf "$W/src" "$W/out" "$W/state.db"*
done
echo
# per layout: the two largest sizes
for layout in "${!sizes[@]}"; do
  two=$(tr ' ' '\n' <<< "${sizes[$layout]}" | grep . | sort -n | tail -2 | tr '\n' ' ')
  a=${two%% *} b=$(echo $two | cut -d' ' -f2)
  [ -n "$b" ] && [ "$a" != "$b" ] || continue
  pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f %%", 100 * (b - a) / a }'; }
  echo "- $layout: µs per image at $b vs $a images: wall $(pct "${us[$layout.$a]}" "${us[$layout.$b]}"), CPU $(pct "${cus[$layout.$a]}" "${cus[$layout.$b]}") (goal: within 15 %)."
done
echo "- Goals: peak RSS <= 64 MiB, state <= 3,000 bytes per image at 512 dimensions."
echo "- Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores (other processes inflate wall times)."
