#!/usr/bin/env bash
# Installs the Debian packages imgpca needs, only those that are missing.
# Quiet when everything is present.  Usage: scripts/install-deps.sh [build|demo|test|all]
set -euo pipefail
what=${1:-build}
build_pkgs="gcc make pkg-config sqlite3 libsqlite3-dev libjpeg62-turbo-dev libturbojpeg0-dev libpng-dev
  libopenblas-dev liblapacke-dev libcurl4-openssl-dev libexpat1-dev
  libprotobuf-c-dev protobuf-c-compiler libonnx-dev"
test_pkgs="clang-format python3 python3-pil python3-numpy python3-sklearn python3-pandas awscli clang libclang-rt-14-dev
  radosgw ceph-mon ceph-osd ceph-common slurm-wlm munge procps valgrind time openssl
  chromium librsvg2-bin fonts-dejavu-core nodejs
  python3-onnx python3-torch python3-torchvision python3-opencv libonnx-testdata protobuf-c-compiler libprotobuf-c-dev libonnx-dev"
case "$what" in
  build) pkgs="$build_pkgs" ;;
  demo) pkgs="$build_pkgs python3 python3-pil" ;;
  test|all) pkgs="$build_pkgs $test_pkgs" ;;
  *) echo "install-deps: unknown set '$what'" >&2; exit 2 ;;
esac
missing=()
for p in $pkgs; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/imgpca-apt.log 2>&1; then
  $sudo apt-get update -q >>/tmp/imgpca-apt.log 2>&1
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/imgpca-apt.log 2>&1 || {
    tail -20 /tmp/imgpca-apt.log >&2; echo "install-deps: apt-get failed" >&2; exit 1; }
fi
