#!/usr/bin/env bash
# Report tests (make test-report): runs the pipeline on the demo image set
# (histogram spec, and a pixel spec for the eigen-images) and on the shared
# Fruits-360 sample, then loads each report.html in headless Chromium
# (check-report.mjs, DevTools protocol) and judges what the browser saw
# against the state database (judge.py: console, network, points, tooltip,
# legend, search, sorting, screenshots, eigen-images vs scikit-learn).  The
# static SVGs are rendered with rsvg-convert and their legend text checked
# for overlaps (svgcheck.py).
# A sharded run (plan/map/reduce/project/publish by scripts/imgpca-worker.sh, two
# shards, no Slurm needed) is checked the same way against its published CSV.
#   tests/report/run.sh [demo|pixels|fruits|sharded ...]     default: all four
#   IMGPCA_REPORT_KEEP=DIR keeps the outputs (DIR/<case>/...)
#   IMGPCA_REPORT_SCREENSHOT=docs/img/report.png writes the README picture
#     (the fruits case's scatter section with a tooltip, 128 colours)
set -u
cd "$(dirname "$0")/../.."
root=$PWD
cases=("$@"); [ ${#cases[@]} -gt 0 ] || cases=(demo pixels fruits sharded)
work=${IMGPCA_REPORT_KEEP:-$(mktemp -d /tmp/imgpca-report.XXXXXX)}
mkdir -p "$work"
[ -n "${IMGPCA_REPORT_KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
for tool in /usr/bin/chromium /usr/bin/rsvg-convert node; do
  command -v "$tool" >/dev/null || { echo "FAIL report: $tool missing (make test-deps installs it)"; exit 1; }
done
if [ ! -f "$work/images/.complete" ]; then
  rm -rf "$work/images"
  /usr/bin/python3 scripts/make-demo-images.py "$work/images" >/dev/null 2>&1 && touch "$work/images/.complete" || exit 1
fi
fail=0
for c in "${cases[@]}"; do
  case $c in
    demo)   src=$work/images; spec='hist:bins=8,sqrt'; k=50 ;;
    pixels) src=$work/images; spec='pixels:size=16x16'; k=12 ;;
    fruits) src=$root/../shared/data/fruits360; spec='hist:bins=8,sqrt'; k=50 ;;
    sharded) src="$root/../shared/data/fruits360/Test/**/*.jpg"; spec='hist:bins=8,sqrt'; k=12 ;;
    *) echo "FAIL report: unknown case $c"; fail=1; continue ;;
  esac
  d=$work/$c; rm -rf "$d"; mkdir -p "$d/out"
  if [ "$c" = sharded ]; then
    if ! (export IMGPCA_RUN=report-test IMGPCA_OUT="$d/out" IMGPCA_SOURCE="$src" IMGPCA_SPEC="$spec" IMGPCA_K=$k
          scripts/imgpca-worker.sh plan 2 || exit 1
          for s in 0 1; do scripts/imgpca-worker.sh map $s 2 || exit 1; done
          scripts/imgpca-worker.sh reduce 2 && scripts/imgpca-worker.sh project 0 2 &&
            scripts/imgpca-worker.sh project 1 2 && scripts/imgpca-worker.sh publish 2) > "$d/pipeline.log" 2>&1; then
      echo "FAIL report $c: sharded run"; tail -20 "$d/pipeline.log"; fail=1; continue
    fi
    n=$(($(wc -l < "$d/out/projection.csv") - 1))
  elif ! (sqlite3 -batch -cmd ".load $root/dist/imgpca" -cmd ".parameter set \$source '$src'" \
          -cmd ".parameter set \$out '$d/out'" -cmd ".parameter set \$spec '$spec'" -cmd ".parameter set \$k $k" \
          "$d/state.db" < sql/pipeline.sql > "$d/pipeline.log" 2>&1); then
    echo "FAIL report $c: pipeline"; tail -20 "$d/pipeline.log"; fail=1; continue
  else
    n=$(sqlite3 "$d/state.db" "SELECT count(*) FROM projections")
  fi
  # hover an isolated point near the start, a third and two thirds of the points
  [ "$n" -le 10000 ] || n=10000
  if ! node --experimental-websocket --no-warnings tests/report/check-report.mjs "$d/out/report.html" "$d" 0 $((n / 3)) $((2 * n / 3)) \
       > "$d/browser.log" 2>&1; then
    echo "FAIL report $c: browser"; tail -20 "$d/browser.log"; fail=1; continue
  fi
  if out=$(/usr/bin/python3 tests/report/judge.py "$d" "$spec" 2>&1); then
    echo "ok   report $c: ${out##*$'\n'}"
  else
    echo "FAIL report $c"; echo "$out" | tail -30; fail=1
  fi
  if [ "$c" = fruits ] && [ -n "${IMGPCA_REPORT_SCREENSHOT:-}" ]; then
    /usr/bin/python3 -c 'import sys; from PIL import Image
Image.open(sys.argv[1]).convert("RGB").quantize(128, method=Image.Quantize.MEDIANCUT).save(sys.argv[2], optimize=True)' \
      "$d/hover.png" "$IMGPCA_REPORT_SCREENSHOT" && echo "     screenshot: $IMGPCA_REPORT_SCREENSHOT"
  fi
  [ "$c" != sharded ] || continue   # the sharded run draws no SVGs
  if out=$(/usr/bin/python3 tests/report/svgcheck.py "$d/out/scatter.svg" "$d/out/scree.svg" 2>&1); then
    echo "ok   report $c svg: ${out##*$'\n'}"
  else
    echo "FAIL report $c svg"; echo "$out" | tail -30; fail=1
  fi
done
exit $fail
