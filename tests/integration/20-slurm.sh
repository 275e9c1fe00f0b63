#!/usr/bin/env bash
# Slurm scale-out end to end, on a local two-node Slurm cluster (scripts/slurm-cluster.sh):
#   1. a single-process reference: features of the Fruits-360 Training sample, pca_fit, projection CSV;
#   2. the same through scripts/imgpca-submit.sh with 4 shards, output to a local folder:
#      model equal to the reference (eigenvalues within 1e-9 relative, components up to sign),
#      CSV rows equal to the reference CSV (order-insensitive, labels = folder names);
#   3. a run to the project's RGW (S3) in which shard 2 fails on purpose: the run fails with a
#      message naming the shard and no model is published; resubmitting with --resume runs
#      shard 2 alone and completes the run, again equal to the reference.
# Env: IMGPCA_SLURM_PORT (default 6937) for the test cluster; IMGPCA_SQLITE3 (default sqlite3).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
ext=${IMGPCA_EXT:-$root/dist/imgpca}
py=/usr/bin/python3
sqlite=${IMGPCA_SQLITE3:-sqlite3}
data=$(cd "$root/../shared/data/fruits360" && pwd)
src="$data/Training/**/*.jpg"
spec='hist:bins=8,sqrt'
k=8
opts='{"solver":"exact"}'
n=4
work=$(mktemp -d /tmp/imgpca-it-slurm.XXXXXX)
chmod 755 "$work"
export IMGPCA_SLURM_DIR=$work/slurm IMGPCA_SLURM_PORT=${IMGPCA_SLURM_PORT:-6937}
rgw=""
cleanup() {
  scripts/slurm-cluster.sh stop || true
  [ -z "$rgw" ] || scripts/rgw-stop.sh "$rgw" || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
sql() { "$sqlite" -batch -bail -cmd ".load $ext" :memory: "$@"; }
t0=$(date +%s)

# ---- 1. single-process reference ------------------------------------------------------------
"$sqlite" -batch -bail -cmd ".load $ext" "$work/ref.db" "
  CREATE TABLE f AS SELECT key, img_features(content, '$spec') AS feature FROM s3_list('$src');
  CREATE TABLE m AS SELECT pca_fit(feature, $k, '$opts') AS model, count(*) AS n FROM f;
  SELECT csv_export('$work/ref.csv',
    'SELECT key, pca_project((SELECT model FROM m), feature) AS pc FROM f ORDER BY key');" >/dev/null
nimg=$("$sqlite" "$work/ref.db" "SELECT n FROM m")
[ "$nimg" -gt 1000 ] || fail "reference: only $nimg images listed from $src"
t1=$(date +%s)

# Compares a model URL with the reference; prints "max_rel_eig max_comp_dist k".
compare_model() {
  "$sqlite" -batch -bail -cmd ".load $ext" "$work/ref.db" "
    WITH mm AS (SELECT (SELECT model FROM m) AS m1, s3_fetch('$1') AS m2)
    SELECT printf('%.3e %.3e %d %d', max(abs(a.eigenvalue - b.eigenvalue) / abs(a.eigenvalue)),
                  max(min(fvec_l2(a.component, b.component),
                          fvec_l2(a.component, fvec_scale(b.component, -1)))),
                  count(*), (SELECT pca_info(m2) ->> 'n' FROM mm))
      FROM mm, pca_components(mm.m1) AS a, pca_components(mm.m2) AS b
     WHERE a.idx = b.idx;"
}
check_model() { # url label
  local r eig comp cnt nn
  r=$(compare_model "$1") || fail "$2: cannot compare the model $1"
  read -r eig comp cnt nn <<<"$r"
  [ "$cnt" = "$k" ] || fail "$2: model has $cnt components in common with the reference, expected $k"
  [ "$nn" = "$nimg" ] || fail "$2: model fitted on $nn images, reference on $nimg"
  $py -c "import sys; e, c = float('$eig'), float('$comp'); sys.exit(0 if e <= 1e-9 and c <= 1e-5 else 1)" ||
    fail "$2: model differs from the single-process model: eigenvalues rel $eig (max 1e-9), components $comp (max 1e-5)"
  echo "$eig $comp"
}
# Compares a CSV with the reference: same keys, label = folder of the key, values equal.
check_csv() { # file label
  $py - "$work/ref.csv" "$1" "$2" <<'PY'
import csv, math, os, sys
ref_path, got_path, what = sys.argv[1:4]
def load(p):
    with open(p, newline='') as f:
        r = csv.reader(f)
        return next(r), list(r)
rh, rrows = load(ref_path)
gh, grows = load(got_path)
if gh != ['key', 'label'] + rh[1:]:
    sys.exit(f"FAIL: {what}: header {gh[:4]}... does not match the reference {rh[:3]}...")
ref = {r[0]: r[1:] for r in rrows}
got = {r[0]: r for r in grows}
if len(grows) != len(rrows) or len(got) != len(grows) or set(got) != set(ref):
    sys.exit(f"FAIL: {what}: {len(grows)} rows ({len(got)} keys), reference {len(rrows)} rows; "
             f"missing {sorted(set(ref) - set(got))[:3]}, extra {sorted(set(got) - set(ref))[:3]}")
worst, same = 0.0, 0
for key, r in ref.items():
    g = got[key]
    label = os.path.basename(os.path.dirname(key))
    if g[1] != label:
        sys.exit(f"FAIL: {what}: key {key!r} has label {g[1]!r}, expected {label!r}")
    if g[2:] == r:
        same += 1
    for a, b in zip(r, g[2:]):
        a, b = float(a), float(b)
        worst = max(worst, abs(a - b) / (1e-3 + abs(a)))
if worst > 1e-5:
    sys.exit(f"FAIL: {what}: projected values differ from the reference by {worst:.3e} (relative, max 1e-5)")
print(f"{len(grows)} {same} {worst:.2e}")
PY
}

# ---- 2. four shards on Slurm, output to a local folder ----------------------------------------
. "$(scripts/slurm-cluster.sh start)"
args=(--src "$src" --spec "$spec" --shards "$n" --k "$k" --pca-options "$opts")
scripts/imgpca-submit.sh --run it-local "${args[@]}" --out "$work/out" >"$work/local.log" 2>&1 ||
  { cat "$work/local.log"; fail "local run failed"; }
r=$(check_model "$work/out/model/model.pca" "local run")
read -r eig1 comp1 <<<"$r"
r=$(check_csv "$work/out/projection.csv" "local run")
read -r rows1 same1 diff1 <<<"$r"
[ "$(sql "SELECT CAST(s3_fetch('$work/out/parts/_manifest.json') AS TEXT) ->> 'rows'")" = "$nimg" ] ||
  fail "local run: parts manifest does not count $nimg rows"
# The same worker under the AWS Batch and Kubernetes index variables writes the same shard
# (same keys, byte-identical partial state) as the Slurm array task did.
export IMGPCA_RUN=it-local IMGPCA_SRC=$src IMGPCA_SPEC=$spec IMGPCA_PCA_OPTIONS=$opts IMGPCA_NSHARD=$n IMGPCA_EXT=$ext
AWS_BATCH_JOB_ARRAY_INDEX=1 IMGPCA_OUT=$work/batch scripts/imgpca-worker.sh map >"$work/batch.log" 2>&1 ||
  { cat "$work/batch.log"; fail "worker with AWS_BATCH_JOB_ARRAY_INDEX failed"; }
JOB_COMPLETION_INDEX=3 IMGPCA_OUT=$work/k8s scripts/imgpca-worker.sh map >"$work/k8s.log" 2>&1 ||
  { cat "$work/k8s.log"; fail "worker with JOB_COMPLETION_INDEX failed"; }
same_shard() { # dir shard
  sql "SELECT (a ->> 'keys_sha3') = (b ->> 'keys_sha3') AND (a ->> 'state_sha3') = (b ->> 'state_sha3')
         FROM (SELECT CAST(s3_fetch(printf('%s/manifest/map-%05d-of-00004.json', '$1', $2)) AS TEXT) AS a,
                      CAST(s3_fetch(printf('%s/manifest/map-%05d-of-00004.json', '$work/out', $2)) AS TEXT) AS b)"
}
[ "$(same_shard "$work/batch" 1)" = 1 ] || fail "AWS Batch index 1 did not reproduce Slurm shard 1"
[ "$(same_shard "$work/k8s" 3)" = 1 ] || fail "Kubernetes index 3 did not reproduce Slurm shard 3"
if AWS_BATCH_JOB_ARRAY_INDEX=1 IMGPCA_NSHARD='' IMGPCA_OUT=$work/x scripts/imgpca-worker.sh map 2>"$work/x.log"; then
  fail "worker ran without IMGPCA_NSHARD under AWS Batch"
fi
grep -q "IMGPCA_NSHARD is not" "$work/x.log" || fail "no clear message for a missing IMGPCA_NSHARD: $(cat "$work/x.log")"
# reduce refuses states of another spec and a state that does not match its manifest's hash
mkdir -p "$work/bad" && cp -r "$work/out/manifest" "$work/out/states" "$work/bad/"
if IMGPCA_SPEC='hist:bins=4' IMGPCA_OUT=$work/bad scripts/imgpca-worker.sh reduce >"$work/bad.log" 2>&1; then
  fail "reduce merged states of another spec"
fi
grep -q "manifest is for run 'it-local', spec '$spec'" "$work/bad.log" || { cat "$work/bad.log"; fail "no clear message for a spec mismatch"; }
printf 'x' >> "$work/bad/states/shard-00001-of-00004.pca"
if IMGPCA_OUT=$work/bad scripts/imgpca-worker.sh reduce >"$work/bad.log" 2>&1; then fail "reduce merged a corrupted state"; fi
grep -q "shard 1: state .* has SHA3-256" "$work/bad.log" || { cat "$work/bad.log"; fail "no clear message for a corrupted state"; }
[ ! -e "$work/bad/model" ] || fail "reduce wrote a model although it refused"
unset IMGPCA_RUN IMGPCA_SRC IMGPCA_SPEC IMGPCA_PCA_OPTIONS IMGPCA_NSHARD
t2=$(date +%s)

# ---- 3. output to RGW; shard 2 fails, then is resubmitted alone -------------------------------
if [ -x scripts/rgw-start.sh ]; then
  rgw=$(scripts/rgw-start.sh "$work/rgw")
  . "$rgw/env"
  export AWS_ENDPOINT_URL=$RGW_ENDPOINT AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY \
         AWS_REGION=$RGW_REGION AWS_EC2_METADATA_DISABLED=true IMGPCA_S3_URL_STYLE=path
  out=s3://$RGW_BUCKET/runs/it-s3
  where="RGW"
else
  out=$work/out-fail
  where="local folder (scripts/rgw-start.sh not present)"
fi
set +e
IMGPCA_FAIL_SHARD=2 scripts/imgpca-submit.sh --run it-s3 "${args[@]}" --out "$out" --logs "$work/logs-s3" \
  >"$work/fail.log" 2>&1
rc=$?
set -e
[ $rc != 0 ] || { cat "$work/fail.log"; fail "a run with a failing shard exited 0"; }
grep -q "map shard 2 of 4 (job [0-9_]*) FAILED" "$work/fail.log" || { cat "$work/fail.log"; fail "the failing shard is not named"; }
grep -q "failing on purpose" "$work/fail.log" || { cat "$work/fail.log"; fail "the shard's log is not shown"; }
grep -q "no model published" "$work/fail.log" || { cat "$work/fail.log"; fail "no 'no model published' message"; }
[ "$(sql "SELECT s3_fetch_or_null('$out/model/model.json') IS NULL AND s3_fetch_or_null('$out/model/model.pca') IS NULL")" = 1 ] ||
  fail "a model was published although shard 2 failed"
[ "$(sql "SELECT s3_fetch_or_null('$out/manifest/map-00002-of-00004.json') IS NULL
                AND s3_fetch_or_null('$out/manifest/map-00003-of-00004.json') IS NOT NULL")" = 1 ] ||
  fail "after the failure, the manifests of shards 2 (absent) and 3 (present) are wrong"
scripts/imgpca-submit.sh --run it-s3 "${args[@]}" --out "$out" --logs "$work/logs-s3" --resume \
  >"$work/resume.log" 2>&1 || { cat "$work/resume.log"; fail "resubmitting shard 2 did not complete the run"; }
grep -q "to run: 2$" "$work/resume.log" || { cat "$work/resume.log"; fail "--resume did not resubmit shard 2 alone"; }
r=$(check_model "$out/model/model.pca" "resumed run")
read -r eig2 comp2 <<<"$r"
sql "SELECT s3_put('$work/s3.csv', s3_fetch('$out/projection.csv'))" >/dev/null
r=$(check_csv "$work/s3.csv" "resumed run")
read -r rows2 same2 diff2 <<<"$r"
t3=$(date +%s)
echo "slurm: $nimg images, $n shards; AWS Batch/Kubernetes indexes reproduce shards, reduce refuses a wrong spec and a corrupted state; local: eig rel $eig1, comp $comp1, $rows1 CSV rows ($same1 identical text, max rel $diff1); $where: failing shard 2 refused, --resume ok, eig rel $eig2, comp $comp2, $rows2 CSV rows ($same2 identical text, max rel $diff2); time ref $((t1 - t0))s, local $((t2 - t1))s, fail+resume $((t3 - t2))s"
