#!/usr/bin/env bash
# Crash safety of the pipeline (sql/pipeline.sql): kill -9 at random points,
# several seeds, several kills per seed, then a run to completion.
#   - the final outputs (pca.csv, scree.svg, scatter.svg) are byte-identical
#     to those of an uninterrupted run;
#   - a watcher polls the output folder the whole time: pca.csv is either
#     absent or complete (equal to the reference) -- never partial.
# Data: every other class of ../shared/data/fruits360 (Training + Test) copied to a
# temporary folder; small batches so that there are many commit points.
# Env: IMGPCA_CRASH_SEEDS (default 5), IMGPCA_CRASH_KILLS (kills per seed, default 4).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
data=$root/../shared/data/fruits360
[ -d "$data/Training" ] || { echo "FAIL: missing test data $data"; exit 1; }
[ -f sql/pipeline.sql ] || { echo "FAIL: sql/pipeline.sql (pipeline branch) is missing"; exit 1; }
T=$(mktemp -d /tmp/imgpca-crash.XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/src/Training" "$T/src/Test"
ls "$data/Training" | sort | awk 'NR % 2 == 1' | while read -r c; do
  cp -r "$data/Training/$c" "$T/src/Training/"
  [ -d "$data/Test/$c" ] && cp -r "$data/Test/$c" "$T/src/Test/"
done
export T root
/usr/bin/python3 - <<'PY'
import os, random, subprocess, sys, threading, time

T, root = os.environ["T"], os.environ["root"]
seeds = int(os.environ.get("IMGPCA_CRASH_SEEDS", "5"))
kills_per_seed = int(os.environ.get("IMGPCA_CRASH_KILLS", "4"))
OUTS = ("pca.csv", "scree.svg", "scatter.svg")


def start(db, out):
    args = ["sqlite3", "-batch", "-cmd", ".load %s/dist/imgpca" % root,
            "-cmd", ".parameter set $source '%s/src'" % T, "-cmd", ".parameter set $out '%s'" % out,
            "-cmd", ".parameter set $batch 25", "-cmd", ".parameter set $k 12", db]
    return subprocess.Popen(args, stdin=open(root + "/sql/pipeline.sql"), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, cwd=root)


class Watcher(threading.Thread):
    """Polls out/pca.csv: absent or complete, never anything else."""
    def __init__(self, out, ref):
        super().__init__(daemon=True)
        self.out, self.ref, self.stop, self.bad, self.polls = out, ref, False, [], 0

    def run(self):
        path = os.path.join(self.out, "pca.csv")
        while not self.stop:
            self.polls += 1
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except FileNotFoundError:
                data = None
            if data is not None and self.ref is not None and data != self.ref:
                self.bad.append(len(data))
            time.sleep(0.002)


def read_outs(out):
    return {n: open(os.path.join(out, n), "rb").read() for n in OUTS}


# the reference: one uninterrupted run
os.makedirs(T + "/ref", exist_ok=True)
t0 = time.time()
p = start(T + "/ref/state.db", T + "/ref/out")
log = p.communicate()[0].decode(errors="replace")
ref_secs = time.time() - t0
if p.returncode != 0:
    print(log)
    print("FAIL: reference run failed")
    sys.exit(1)
ref = read_outs(T + "/ref/out")
fails, kills, resumes, polls = [], 0, 0, 0
for seed in range(1, seeds + 1):
    rnd = random.Random(seed)
    d = "%s/s%d" % (T, seed)
    os.makedirs(d)
    out = d + "/out"
    w = Watcher(out, ref["pca.csv"])
    w.start()
    for k in range(kills_per_seed):
        p = start(d + "/state.db", out)
        delay = rnd.uniform(0.01, 0.6) * ref_secs
        try:
            p.wait(timeout=delay)
            resumes += 1  # finished before the kill: nothing left to kill
        except subprocess.TimeoutExpired:
            p.kill()      # SIGKILL
            p.wait()
            kills += 1
        p.stdout.close()
    p = start(d + "/state.db", out)
    log = p.communicate()[0].decode(errors="replace")
    w.stop = True
    w.join()
    polls += w.polls
    if p.returncode != 0:
        fails.append("seed %d: final run failed: %s" % (seed, log[-500:]))
        continue
    got = read_outs(out)
    for n in OUTS:
        if got[n] != ref[n]:
            fails.append("seed %d: %s differs from the uninterrupted run (%d vs %d bytes)" % (seed, n, len(got[n]), len(ref[n])))
    if w.bad:
        fails.append("seed %d: a partial pca.csv was visible (sizes %s, complete %d)" % (seed, sorted(set(w.bad))[:5], len(ref["pca.csv"])))
    left = [f for f in os.listdir(out) if f not in OUTS]
    if left:
        print("note: seed %d left %d temporary file(s) of killed writers in the output folder: %s" % (seed, len(left), left[:3]))
for f in fails:
    print("FAIL: " + f)
if fails:
    sys.exit(1)
print("crash: %d seeds, %d kill -9 survived (%d runs ended before their kill), outputs byte-identical, "
      "pca.csv never partial in %d polls; reference run %.1fs, %d CSV bytes"
      % (seeds, kills, resumes, polls, ref_secs, len(ref["pca.csv"])))
PY
