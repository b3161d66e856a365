#!/usr/bin/env bash
# What --timeline costs: the same training run with and without it, in turn
# (A B A B ...), so that a machine whose speed drifts affects both alike.
# Prints each run's median seconds/epoch (epochs 2.., the first is warm-up), the
# median of the pairs' ratios, and the trace's size.
# Usage: scripts/bench-timeline.sh [ROUNDS] [EPOCHS]   (default 5 rounds of 3 epochs)
# Environment: NP (ranks, default 2), HIDDEN (512,512), BATCH (128), DATA (data/mnist),
# LIMIT (train on the first LIMIT images only; default 0: all 60,000).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
epochs=${2:-3}
np=${NP:-2}
data=${DATA:-data/mnist}
cmake --build build -j"$(nproc)" --target digitnet-train >/dev/null
if [[ $(id -u) == 0 ]]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run() {  # run NAME [EXTRA OPTIONS]: one training run, its metrics in $tmp/NAME.csv
  local name=$1; shift
  mpirun -np "$np" --oversubscribe --bind-to none build/digitnet-train --data "$data" --hidden "${HIDDEN:-512,512}" \
    --batch-size "${BATCH:-128}" --train-limit "${LIMIT:-0}" --epochs "$epochs" --seed 1 --quiet \
    --metrics "$tmp/$name.csv" "$@" >"$tmp/$name.log"
}

echo "== $np ranks, $epochs epochs per run, $rounds rounds (load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
for ((i = 1; i <= rounds; i++)); do
  run "off-$i"
  run "on-$i" --timeline "$tmp/trace-$i.json"
done

/usr/bin/python3 - "$tmp" "$rounds" <<'PY'
import csv, os, statistics, sys
tmp, rounds = sys.argv[1], int(sys.argv[2])
def per_epoch(name):  # median seconds/epoch of one run, epochs 2..
    rows = list(csv.DictReader(open(f"{tmp}/{name}.csv")))
    return statistics.median(float(r["seconds"]) for r in (rows[1:] or rows))
off = [per_epoch(f"off-{i}") for i in range(1, rounds + 1)]
on = [per_epoch(f"on-{i}") for i in range(1, rounds + 1)]
ratios = [b / a for a, b in zip(off, on)]
print("run  without   with      ratio")
for i, (a, b, r) in enumerate(zip(off, on, ratios), 1):
    print(f"{i:3d}  {a:6.3f} s  {b:6.3f} s  {r:.3f}")
print(f"median: without {statistics.median(off):.3f} s/epoch, with --timeline {statistics.median(on):.3f} s/epoch, "
      f"ratio with/without {statistics.median(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f})")
size = os.path.getsize(f"{tmp}/trace-1.json")
print(f"trace: {size / 1e6:.1f} MB for the run")
PY
grep -h "timeline:" "$tmp/on-1.log" || true
