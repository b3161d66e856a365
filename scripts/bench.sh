#!/usr/bin/env bash
# Training speed, measured: oneDNN GEMM ceiling for the model's shapes, then
# digitnet-train seconds/epoch and samples/s on 1 rank and on 2 ranks, all in
# the same run on the same machine. Medians over the epochs of each run.
# Usage: scripts/bench.sh [EPOCHS]   (default 4; the first epoch is left out as warm-up)
# PEERS=1 also installs Debian's PyTorch and runs the same job in it (scripts/peer_pytorch.py).
# As root, it also runs 2 "hosts" over emulated links (network namespaces, cluster/netns):
# 10 Gbit/s against the 2 ranks on shared memory, and 1 Gbit/s with the f32 and the bf16
# gradient wire (HOSTS=0 skips them; scripts/bench-cluster.sh has the full table).
# ROUNDS=N (default 1) repeats the two ratio targets N times in turn (1 rank, 2 ranks, and
# PyTorch with PEERS=1) and prints each round's ratio and their median: this machine's
# speed drifts between runs, and a ratio of jobs run one after the other is steadier.
# Environment: HIDDEN (default 512,512), BATCH (default 128), DATA (default data/mnist).
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=${1:-4}
hidden=${HIDDEN:-512,512}
batch=${BATCH:-128}
data=${DATA:-data/mnist}

peers=${PEERS:-0}
if [[ $peers == 1 ]]; then scripts/install-deps.sh --peers >/dev/null; else scripts/install-deps.sh >/dev/null; fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target digitnet-train digitnet-score digitnet-bench-gemm >/dev/null
scripts/fetch-mnist.sh "$data" >/dev/null
if [[ $(id -u) == 0 ]]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "== oneDNN GEMM ceiling for 784-${hidden//,/-}-10, batch $batch =="
build/digitnet-bench-gemm --hidden "$hidden" --batch "$batch"

# median of column COL of a metrics CSV, epochs 2.. (epoch 1 includes warm-up)
median() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))[1:] or list(csv.DictReader(open(sys.argv[1])))
print(statistics.median(float(r[sys.argv[2]]) for r in rows))
PY
}

report() {  # report LABEL METRICS_CSV: medians, and the samples/s into $last_sps
  local sec sps total exposed steps
  sec=$(median "$2" seconds); sps=$(median "$2" samples_per_second)
  total=$(median "$2" comm_total_fraction); exposed=$(median "$2" allreduce_fraction)
  steps=$(( (60000 + batch - 1) / batch ))
  printf '%-44s %7.3f s/epoch %8.0f samples/s   comm %4.1f%% of the epoch, exposed %4.1f%% (%.2f ms/step)\n' "$1" \
    "$sec" "$sps" "$(/usr/bin/python3 -c "print(100*$total)")" "$(/usr/bin/python3 -c "print(100*$exposed)")" \
    "$(/usr/bin/python3 -c "print(1e3*$exposed*$sec/$steps)")"
  last_sps=$sps
}
ratio() { /usr/bin/python3 -c "print('%.2f' % ($1 / $2))"; }

common=(--data "$data" --hidden "$hidden" --batch-size "$batch" --epochs "$epochs" --seed 1)
# The jobs the ratio targets compare (again in ROUNDS): OPTIONS... go to digitnet-train.
one_rank() { build/digitnet-train "${common[@]}" "$@"; }
two_ranks() { mpirun -np 2 --bind-to none build/digitnet-train "${common[@]}" --threads 1 "$@"; }
# PASSIVE: idle OpenMP threads sleep instead of spinning (PyTorch's best setting here).
pytorch() { OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 scripts/peer_pytorch.py --data "$data" --hidden "$hidden" \
  --batch "$batch" --epochs "$epochs" --threads "$(nproc)"; }
echo "== digitnet-train, $epochs epochs per run, median over epochs 2..$epochs =="
one_rank --quiet --metrics "$tmp/r1.csv" >/dev/null
report "1 rank x $(nproc) threads" "$tmp/r1.csv"; sps1=$last_sps
two_ranks --metrics "$tmp/r2.csv" >"$tmp/r2.out"
report "2 ranks x 1 thread (mpirun -np 2)" "$tmp/r2.csv"; sps2=$last_sps
two_ranks --bucket-mb 0 --quiet --metrics "$tmp/r2b.csv" >/dev/null
report "2 ranks x 1 thread, one bucket (no overlap)" "$tmp/r2b.csv"
echo "2 ranks x 1 thread / 1 rank x $(nproc) threads: $(ratio "$sps2" "$sps1")x the samples/s (target >= 0.9)"
grep -o 'Adam state .*' "$tmp/r2.out" | sed 's/^/2 ranks: /'

# ---- bf16 GEMMs (--precision bf16): the GEMM ceiling and digitnet's step with bf16
# inputs, then digitnet-train in bf16 beside the f32 run above (same seed, same epochs) ----
echo "== bf16: oneDNN GEMM ceiling and digitnet's step with bf16 GEMM inputs =="
build/digitnet-bench-gemm --hidden "$hidden" --batch "$batch" --precision bf16
echo "== digitnet-train --precision bf16, $epochs epochs, median over epochs 2..$epochs =="
build/digitnet-train "${common[@]}" --precision bf16 --metrics "$tmp/r1-bf16.csv" >/dev/null
report "1 rank x $(nproc) threads, bf16" "$tmp/r1-bf16.csv"
/usr/bin/python3 - "$tmp/r1.csv" "$tmp/r1-bf16.csv" <<'PY'
import csv, statistics, sys
f32, bf16 = ([r for r in csv.DictReader(open(p))] for p in sys.argv[1:3])
sec = lambda rows: statistics.median(float(r["seconds"]) for r in (rows[1:] or rows))
acc = lambda rows: 100 * float(rows[-1]["test_accuracy"])
print(f"bf16 / f32 seconds per epoch: {sec(bf16) / sec(f32):.2f}   "
      f"test accuracy after {len(f32)} epochs: f32 {acc(f32):.2f}%, bf16 {acc(bf16):.2f}% ({acc(bf16) - acc(f32):+.2f} pp)")
PY
# ---- end of bf16 ----

# ---- 2 hosts over emulated links: 1 rank x 1 thread per network namespace, MPI over TCP ----
if [[ ${HOSTS:-1} == 0 ]]; then
  echo "== 2 hosts over emulated links: skipped (HOSTS=0)"
elif [[ $(id -u) != 0 ]]; then
  echo "== 2 hosts over emulated links: skipped (network namespaces need root; scripts/bench-cluster.sh as root has them)"
else
  export DIGITNET_NETNS_DIR=$tmp/netns DIGITNET_NETNS_PREFIX=dnbench$$
  trap 'cluster/netns/down.sh >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
  echo "== 2 hosts over emulated links (tc-shaped veth pairs, MPI over TCP), $epochs epochs, median over epochs 2..$epochs =="
  hosts_run() {  # hosts_run RATE WIRE CSV
    cluster/netns/up.sh 2 "$1" >/dev/null
    cluster/netns/run.sh -np 2 build/digitnet-train "${common[@]}" --threads 1 --grad-wire "$2" --quiet --metrics "$3" >/dev/null
  }
  hosts_run 10gbit f32 "$tmp/h10.csv"
  report "2 hosts at 10 Gbit/s" "$tmp/h10.csv"
  echo "2 hosts at 10 Gbit/s / 2 ranks on shared memory: $(ratio "$(median "$tmp/h10.csv" seconds)" "$(median "$tmp/r2.csv" seconds)")x the epoch (target <= 1.15)"
  hosts_run 1gbit f32 "$tmp/h1.csv"
  report "2 hosts at 1 Gbit/s, f32 wire" "$tmp/h1.csv"
  hosts_run 1gbit bf16 "$tmp/h1-bf16.csv"
  report "2 hosts at 1 Gbit/s, --grad-wire bf16" "$tmp/h1-bf16.csv"
  /usr/bin/python3 - "$tmp/h1.csv" "$tmp/h1-bf16.csv" "$(( (60000 + batch - 1) / batch ))" <<'PY'
import csv, statistics, sys
f32, bf16 = ([r for r in csv.DictReader(open(p))] for p in sys.argv[1:3])
steps = int(sys.argv[3])
med = lambda rows, f: statistics.median(f(r) for r in (rows[1:] or rows))
wire = lambda rows: med(rows, lambda r: 1e3 * float(r["allreduce_fraction"]) * float(r["seconds"]) / steps)
step = lambda rows: med(rows, lambda r: 1e3 * float(r["seconds"]) / steps)
acc = lambda rows: 100 * float(rows[-1]["test_accuracy"])
print(f"1 Gbit/s, bf16 / f32 wire: {wire(bf16) / wire(f32):.2f}x the exchange's ms/step "
      f"({wire(bf16):.2f} against {wire(f32):.2f}; target <= 0.55), {step(bf16) / step(f32):.2f}x the whole step; "
      f"test accuracy after {len(f32)} epochs: f32 {acc(f32):.2f}%, bf16 {acc(bf16):.2f}% ({acc(bf16) - acc(f32):+.2f} pp)")
PY
  cluster/netns/down.sh >/dev/null
fi

if [[ $peers == 1 ]]; then
  echo "== peer: the same job in PyTorch, data in memory, $(nproc) threads, median over epochs 2..$epochs =="
  pytorch | tee "$tmp/peer.out"
  peer_sec=$(awk '{print $1; exit}' "$tmp/peer.out")
  echo "digitnet 1 rank / PyTorch epoch time: $(ratio "$(median "$tmp/r1.csv" seconds)" "$peer_sec")x (target <= 0.5)"
fi

# ---- ROUNDS: the two ratios again, the jobs in turn; round 1 is the runs above ----
rounds=${ROUNDS:-1}
if (( rounds > 1 )); then
  echo "== $rounds rounds in turn (1 rank, 2 ranks$([[ $peers == 1 ]] && echo ", PyTorch")), $epochs epochs each, median over epochs 2..$epochs =="
  ranks_ratios=("$(ratio "$sps2" "$sps1")") peer_ratios=()
  [[ $peers == 1 ]] && peer_ratios=("$(ratio "$(median "$tmp/r1.csv" seconds)" "$peer_sec")")
  for ((i = 2; i <= rounds; ++i)); do
    one_rank --quiet --metrics "$tmp/q1.csv" >/dev/null
    two_ranks --quiet --metrics "$tmp/q2.csv" >/dev/null
    ranks_ratios+=("$(ratio "$(median "$tmp/q2.csv" samples_per_second)" "$(median "$tmp/q1.csv" samples_per_second)")")
    if [[ $peers == 1 ]]; then
      peer_ratios+=("$(ratio "$(median "$tmp/q1.csv" seconds)" "$(pytorch | awk '{print $1; exit}')")")
    fi
  done
  med() { /usr/bin/python3 -c 'import statistics, sys; print(statistics.median(map(float, sys.argv[1:])))' "$@"; }
  echo "2 ranks x 1 thread / 1 rank x $(nproc) threads, samples/s, by round: ${ranks_ratios[*]}; median $(med "${ranks_ratios[@]}")x (target >= 0.9)"
  if [[ $peers == 1 ]]; then
    echo "digitnet 1 rank / PyTorch epoch time, by round: ${peer_ratios[*]}; median $(med "${peer_ratios[@]}")x (target <= 0.5)"
  fi
fi
