#!/usr/bin/env bash
# Start-up cost of the extension: `sqlite3 :memory: '.load dist/imgpca' 'SELECT 1'`
# vs bare `sqlite3 :memory: 'SELECT 1'`, median (and minimum) of N runs each,
# interleaved so that machine load hits both alike.  Prints a markdown section.
#   env STARTUP_RUNS=N (default 41)
set -u
cd "$(dirname "$0")/.."
N=${STARTUP_RUNS:-41}
EXT=${IMGPCA_EXT:-dist/imgpca}
/usr/bin/python3 - "$N" "$EXT" <<'PY'
import os, statistics, subprocess, sys, time
n, ext = int(sys.argv[1]), sys.argv[2]
cmds = {"bare": ["sqlite3", ":memory:", "SELECT 1"],
        "load": ["sqlite3", ":memory:", f".load {ext}", "SELECT 1"],
        "load+s3": ["sqlite3", ":memory:", f".load {ext}", "SELECT length(imgpca_build_info())"]}
ts = {k: [] for k in cmds}
for _ in range(n):
    for k, c in cmds.items():
        t = time.perf_counter()
        subprocess.run(c, stdout=subprocess.DEVNULL, check=True)
        ts[k].append((time.perf_counter() - t) * 1000)
med = {k: statistics.median(v) for k, v in ts.items()}
mn = {k: min(v) for k, v in ts.items()}
needed = subprocess.run(["readelf", "-d", ext + ".so"], capture_output=True, text=True).stdout
libs = [l.split("[")[1].rstrip("]") for l in needed.splitlines() if "NEEDED" in l]
print("## Start-up (extension load)\n")
print(f"`sqlite3 :memory:` running `SELECT 1`, {n} interleaved runs each; machine load {os.getloadavg()[0]:.1f}.\n")
print("| command | median (ms) | min (ms) | extra over bare, median (ms) | ratio to bare |")
print("|---|---:|---:|---:|---:|")
labels = {"bare": "bare `sqlite3`", "load": "`.load dist/imgpca`",
          "load+s3": "`.load` + `imgpca_build_info()` (opens libcurl and OpenBLAS)"}
for k in cmds:
    print(f"| {labels[k]} | {med[k]:.1f} | {mn[k]:.1f} | {med[k] - med['bare']:+.1f} | {med[k] / med['bare']:.2f}x |")
print(f"\nGoal: `.load` < 5 ms over bare. Libraries linked (NEEDED): {', '.join(libs)}; "
      "libcurl and OpenBLAS/LAPACKE are opened at first use (ext/common/lazylib.c).")
PY
