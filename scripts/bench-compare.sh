#!/usr/bin/env bash
# Same-run comparison of this build against another version's: 1 rank x 2 threads and
# 2 ranks x 1 thread for both, then this version's exchange variants (--progress
# thread, --timeline on). Medians over epochs 2..EPOCHS of each run, ROUNDS rounds.
# usage: scripts/bench-compare.sh OTHER_BUILD_DIR [EPOCHS] [ROUNDS]   (defaults 4, 2)
# e.g.   git worktree add /tmp/old 779a66f && cmake -S /tmp/old -B /tmp/old/build -DCMAKE_BUILD_TYPE=Release \
#          && cmake --build /tmp/old/build --target digitnet-train && scripts/bench-compare.sh /tmp/old/build
set -euo pipefail
cd "$(dirname "$0")/.."
other=${1:?usage: scripts/bench-compare.sh OTHER_BUILD_DIR [EPOCHS] [ROUNDS]}
epochs=${2:-4}
rounds=${3:-2}
[[ -x $other/digitnet-train ]] || { echo "bench-compare.sh: no $other/digitnet-train" >&2; exit 1; }
cmake --build build -j"$(nproc)" --target digitnet-train >/dev/null
if [[ $(id -u) == 0 ]]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
common=(--data data/mnist --hidden 512,512 --batch-size 128 --epochs "$epochs" --seed 1 --quiet)
row() {  # LABEL CSV: median s/epoch, samples/s and exposed exchange share
  /usr/bin/python3 - "$1" "$2" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[2])))[1:]
med = lambda k: statistics.median(float(r[k]) for r in rows)
print("%-44s %6.3f s/epoch %7.0f samples/s  exposed %4.1f%%" % (sys.argv[1], med("seconds"), med("samples_per_second"),
                                                             100 * med("allreduce_fraction")))
PY
}
mpi2() { mpirun -np 2 --bind-to none "$@"; }
for ((i = 1; i <= rounds; ++i)); do
  echo "== round $i"
  "$other/digitnet-train" "${common[@]}" --metrics "$tmp/o1.$i.csv" >/dev/null; row "other: 1 rank x 2 threads" "$tmp/o1.$i.csv"
  mpi2 "$other/digitnet-train" "${common[@]}" --threads 1 --metrics "$tmp/o2.$i.csv" >/dev/null
  row "other: 2 ranks x 1 thread" "$tmp/o2.$i.csv"
  build/digitnet-train "${common[@]}" --metrics "$tmp/n1.$i.csv" >/dev/null; row "this: 1 rank x 2 threads" "$tmp/n1.$i.csv"
  mpi2 build/digitnet-train "${common[@]}" --threads 1 --metrics "$tmp/n2.$i.csv" >/dev/null
  row "this: 2 ranks x 1 thread (polling)" "$tmp/n2.$i.csv"
  mpi2 build/digitnet-train "${common[@]}" --threads 1 --progress thread --metrics "$tmp/n3.$i.csv" >/dev/null
  row "this: 2 ranks x 1 thread (--progress thread)" "$tmp/n3.$i.csv"
  mpi2 build/digitnet-train "${common[@]}" --threads 1 --timeline "$tmp/t.json" --metrics "$tmp/n4.$i.csv" >/dev/null
  row "this: 2 ranks x 1 thread, --timeline on" "$tmp/n4.$i.csv"
done
