#!/usr/bin/env bash
# Installs onnxruntime-node (ONNX Runtime's CPU build for Node.js: the
# prebuilt linux-x64 library is inside the npm package, so --ignore-scripts
# is enough; the skipped install script only fetches optional CUDA/TensorRT
# files) into a cache folder under build/, once.  Used by the CNN
# cross-checks and benchmarks as an independent reference; never a
# dependency of the extension.  Prints the node_modules folder.
#   tests/cnn/ort-install.sh [DIR]      default build/cnntest/npm
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${1:-build/cnntest/npm}
ver=${ORT_NODE_VERSION:-1.31.1}
mod=$dir/node_modules/onnxruntime-node
if [ ! -f "$mod/package.json" ] || ! grep -q "\"version\": \"$ver\"" "$mod/package.json"; then
  mkdir -p "$dir"
  [ -f "$dir/package.json" ] || echo '{"private": true}' > "$dir/package.json"
  (cd "$dir" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error "onnxruntime-node@$ver" >&2)
fi
ls "$mod"/bin/napi-v*/linux/x64/onnxruntime_binding.node >/dev/null 2>&1 || {
  echo "ort-install: no prebuilt linux-x64 binding in onnxruntime-node $ver" >&2; exit 1; }
echo "$PWD/$dir/node_modules"
