#!/usr/bin/env bash
# Installs ONNX Runtime for Node.js (npm package onnxruntime-node, whose CPU binaries
# for Linux, macOS and Windows are inside the package) into DIR, to run the models of
# digitnet-export outside digitnet (tests/e2e/export_onnx.sh; README "Export to ONNX").
# Usage: scripts/install-onnxruntime.sh [DIR]
#   DIR defaults to ~/.cache/digitnet/onnxruntime-node-VERSION. Prints DIR; use it as
#   NODE_PATH=DIR/node_modules node your_script.js
# Idempotent: a complete install of this version in DIR is kept as it is. The install
# goes to a temporary directory beside DIR and is renamed into place, so an
# interrupted install never looks complete.
set -euo pipefail
VERSION=1.20.1   # ships its CPU binaries in the package; works on Node.js 20
dir=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/digitnet/onnxruntime-node-$VERSION}
package=$dir/node_modules/onnxruntime-node/package.json

installed() {
  [[ -f $package ]] && [[ $(node -p "require('$package').version" 2>/dev/null) == "$VERSION" ]]
}
if installed; then echo "$dir"; exit 0; fi

command -v npm >/dev/null || { echo "install-onnxruntime: npm not found (scripts/install-deps.sh installs it)" >&2; exit 1; }
mkdir -p "$(dirname "$dir")"
tmp=$(mktemp -d "$dir.partial.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "install-onnxruntime: npm install onnxruntime-node@$VERSION into $dir" >&2
# --ignore-scripts: its install script only downloads the CUDA provider; the CPU runtime is in the package.
npm install --prefix "$tmp" --ignore-scripts --no-audit --no-fund --loglevel=error "onnxruntime-node@$VERSION" >&2
rm -rf "$dir"
mv -T "$tmp" "$dir"
installed || { echo "install-onnxruntime: $package missing after the install" >&2; exit 1; }
echo "$dir"
