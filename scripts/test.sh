#!/usr/bin/env bash
# Sets up everything on a fresh Debian 12 machine and runs every test:
# installs the Debian packages (with a headless Chromium), builds (Release, tests on), fetches and verifies
# MNIST into data/mnist, then runs the whole CTest suite (unit, MPI, end-to-end).
# Extra arguments go to ctest, e.g. scripts/test.sh -L unit
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --browser  # the browser: the drawing page's test (tests/serve/browser.py)
scripts/fetch-mnist.sh data/mnist
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DDIGITNET_BUILD_TESTS=ON -DDIGITNET_MNIST_DIR="$PWD/data/mnist"
cmake --build build -j"$(nproc)"
# Serial: the MPI and end-to-end tests use every core themselves.
ctest --test-dir build --output-on-failure "$@"
