#!/usr/bin/env bash
# Local listing: a whole `sqlite3` process running
#   SELECT count(*) FROM s3_list('<tree>/**/*.jpg')
# vs a whole Python process running glob.glob('<tree>/**/*.jpg', recursive=True)
# (sorted), on the Fruits-360 sample (9,166 files) and on a 23,619-file tree
# built from it with hard links.  Median of N runs, interleaved.  Prints a
# markdown section.   env LIST_RUNS=N (default 15)
set -u
cd "$(dirname "$0")/.."
N=${LIST_RUNS:-15}
EXT=${IMGPCA_EXT:-dist/imgpca}
DATA=$(cd ../shared/data && pwd)
WORK=bench/work/list
rm -rf "$WORK"; mkdir -p "$WORK"
big="$WORK/big"
# 23,619 files: the sample (9,166 files) hard-linked twice, plus 5,287
# Training files hard-linked a third time.
mkdir -p "$big"
cp -al "$DATA/fruits360" "$big/a"
cp -al "$DATA/fruits360" "$big/b"
/usr/bin/python3 - "$DATA/fruits360/Training" "$big/c" <<'PY'
import os, sys
src, dst = sys.argv[1], sys.argv[2]
files = sorted(os.path.join(c, f) for c in os.listdir(src) for f in os.listdir(os.path.join(src, c)))
for rel in files[:5287]:
    os.makedirs(os.path.join(dst, os.path.dirname(rel)), exist_ok=True)
    os.link(os.path.join(src, rel), os.path.join(dst, rel))
PY
/usr/bin/python3 - "$N" "$EXT" "$DATA/fruits360" "$(cd "$big" && pwd)" <<'PY'
import os, statistics, subprocess, sys, time
n, ext, small, big = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
def files(root):
    return sum(len(fs) for _, _, fs in os.walk(root))
print("## Local listing (s3_list vs Python glob)\n")
print(f"Whole processes, median of {n} interleaved runs; machine load {os.getloadavg()[0]:.1f}.\n")
print("| tree | files | `.jpg` rows | sqlite3 + `s3_list` (ms) | python3 + `glob` (ms) | imgpca / glob |")
print("|---|---:|---:|---:|---:|---:|")
for name, root in (("Fruits-360 sample", small), ("hard-linked copy", big)):
    pat = root + "/**/*.jpg"
    a = ["sqlite3", ":memory:", f".load {ext}", f"SELECT count(*) FROM s3_list('{pat}')"]
    b = ["/usr/bin/python3", "-c", "import glob,sys; print(len(sorted(glob.glob(sys.argv[1], recursive=True))))", pat]
    ta, tb, outs = [], [], set()
    for _ in range(n):
        for cmd, ts in ((a, ta), (b, tb)):
            t = time.perf_counter()
            r = subprocess.run(cmd, capture_output=True, text=True, check=True)
            ts.append((time.perf_counter() - t) * 1000)
            outs.add(r.stdout.strip())
    assert len(outs) == 1, outs
    ma, mb = statistics.median(ta), statistics.median(tb)
    print(f"| {name} | {files(root):,} | {int(outs.pop()):,} | {ma:.1f} | {mb:.1f} | {ma / mb:.2f}x |")
print("\nBoth list the same files in sorted order (count checked equal each run). "
      "Goal: imgpca / glob <= 1.00x.")
PY
rm -rf "$WORK"
