#!/usr/bin/env bash
# Scaling across "hosts" with emulated links: network namespaces on this machine
# (cluster/netns), 1 rank x THREADS thread(s) per host, MPI over TCP on the virtual
# links, each link shaped with tc tbf to RATE (full duplex; bandwidth only: this kernel
# has no netem, so there is no added latency). For every link speed and host count it
# trains EPOCHS epochs and reports the median over epochs 2.. (epoch 1 is warm-up):
# seconds per epoch, samples/s, speed-up over 1 host, the allreduce's share of the
# epoch and its ms per step, the most any host sent per step (link counters), and the
# link floor: the time that host's bytes take at the link's rate.
# "shm" rows are plain mpirun on this machine (shared memory, no namespaces).
# It also measures what the scaling model needs: each link's latency (a TCP ping-pong
# between two hosts) and the compute of one step split into forward+backward and Adam
# (digitnet-bench-gemm, for every local batch 128, 64, ..., 1). Everything goes to a
# JSON file, and scripts/scaling_model.py reads it and prints its predictions.
#
# usage: scripts/bench-cluster.sh [EPOCHS]          (default 2; needs root)
# Environment: RATES (default "shm none 10gbit 1gbit"; none = unshaped veth),
#   HOSTS (default "1 2 3"), THREADS (default 1), HIDDEN (512,512), BATCH (128),
#   DATA (data/mnist), BUILD=0 skips the build, OUT (runs/bench-cluster.json: the
#   measurements), EXCHANGE (rs-ag: how the trainer exchanges gradients, for the
#   model: rs-ag for reduce-scatter + allgather with sharded Adam, as digitnet-train
#   does since the sharded optimizer; allreduce for measurements of older versions),
#   WIRE (f32 or bf16: the trainer's --grad-wire), PROGRESS (poll or thread: its --progress).
# Every host shares this machine's cores: with more ranks x threads than cores, the
# ranks compete for CPU, which real hosts would not; the table says so.
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=${1:-2}
rates=${RATES:-shm none 10gbit 1gbit}
hosts=${HOSTS:-1 2 3}
threads=${THREADS:-1}
hidden=${HIDDEN:-512,512}
batch=${BATCH:-128}
data=${DATA:-data/mnist}
out=${OUT:-runs/bench-cluster.json}
exchange=${EXCHANGE:-rs-ag}
wire=${WIRE:-f32}
progress=${PROGRESS:-poll}
[[ $(id -u) == 0 ]] || { echo "bench-cluster.sh: needs root (network namespaces)" >&2; exit 1; }
(( epochs >= 2 )) || { echo "bench-cluster.sh: EPOCHS must be at least 2 (epoch 1 is warm-up)" >&2; exit 1; }
[[ $exchange == allreduce || $exchange == rs-ag ]] || { echo "bench-cluster.sh: EXCHANGE must be allreduce or rs-ag" >&2; exit 1; }

if [[ ${BUILD:-1} != 0 ]]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build -j"$(nproc)" --target digitnet-train digitnet-bench-gemm >/dev/null
fi
scripts/fetch-mnist.sh "$data" >/dev/null
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

tmp=$(mktemp -d /tmp/digitnet-bench-cluster.XXXXXX)
export DIGITNET_NETNS_DIR=$tmp/netns DIGITNET_NETNS_PREFIX=dnbench$$
trap 'cluster/netns/down.sh >/dev/null || true; rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# a private copy of the trainer, so a rebuild during the benchmark cannot disturb it
cp build/digitnet-train build/digitnet-bench-gemm "$tmp/"
maxh=0; for h in $hosts; do (( h > maxh )) && maxh=$h; done
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
if awk -v cores="$(nproc)" '{ exit !($1 > cores) }' /proc/loadavg; then
  echo "bench-cluster.sh: warning: load average ${load_start%% *} on $(nproc) cores: others are using this machine," \
       "so compute and exchange times will be inflated, and the scaling model fitted to them too" >&2
fi

grad_bytes=$(/usr/bin/python3 - "$hidden" <<'PY'
import sys
sizes = [784] + [int(w) for w in sys.argv[1].split(",") if w and w != "none"] + [10]
print(4 * sum(a * b + b for a, b in zip(sizes, sizes[1:])))
PY
)
steps=$(( (60000 + batch - 1) / batch ))
echo "== $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== 784-${hidden//,/-}-10, global batch $batch, $steps steps/epoch, gradient $(( grad_bytes / 1000 )) kB;" \
     "$epochs epochs per run, median over epochs 2..$epochs; 1 rank x $threads thread(s) per host; --grad-wire $wire, --progress $progress"
printf '%-8s %5s %9s %10s %8s %10s %12s %15s %11s\n' link hosts s/epoch samples/s speedup allreduce "ms/step(ar)" \
  "MB/step(max tx)" "link floor"

# The compute of one step, for the scaling model: forward+backward at every local batch
# a rank may get (128, 64, ..., 1), and Adam over all parameters, on THREADS threads.
# Lines "BATCH FWD_BWD_MS ADAM_MS" in $tmp/compute.
for ((b = batch; b >= 1; b /= 2)); do
  "$tmp/digitnet-bench-gemm" --hidden "$hidden" --batch "$b" --threads "$threads" --reps 30 >"$tmp/gemm" 2>&1 ||
    { cat "$tmp/gemm" >&2; exit 1; }
  fb=$(sed -n 's/^digitnet forward+backward[^:]*: \([0-9.]*\) ms\/step.*/\1/p' "$tmp/gemm")
  adam=$(sed -n 's/^digitnet Adam step .*: \([0-9.]*\) ms\/step.*/\1/p' "$tmp/gemm")
  [[ -n $fb && -n $adam ]] || { echo "bench-cluster.sh: unexpected digitnet-bench-gemm output:" >&2; cat "$tmp/gemm" >&2; exit 1; }
  echo "$b $fb $adam" >>"$tmp/compute"
done
: >"$tmp/runs"; : >"$tmp/latency"

declare -A base
for rate in $rates; do
  if [[ $rate != shm ]]; then
    cluster/netns/up.sh "$maxh" "$rate" >/dev/null
    (( maxh < 2 )) || echo "$rate $(cluster/netns/latency.sh)" >>"$tmp/latency"
  fi
  for h in $hosts; do
    csv=$tmp/$rate-$h.csv
    common=("$tmp/digitnet-train" --data "$data" --hidden "$hidden" --batch-size "$batch" --epochs "$epochs"
            --seed 1 --threads "$threads" --grad-wire "$wire" --progress "$progress" --quiet --metrics "$csv")
    maxtx=0
    if [[ $rate == shm ]]; then
      mpirun -np "$h" --oversubscribe --bind-to none "${common[@]}" >"$tmp/out" 2>&1 ||
        { cat "$tmp/out" >&2; exit 1; }
    else
      cluster/netns/counters.sh >"$tmp/c0"
      # More ranks x threads than cores: let a rank waiting in MPI yield its core, as
      # Open MPI does by itself when it sees a node oversubscribed. Here each "host"
      # sees all the cores, so it cannot tell (measured, 3 hosts on 2 cores: 2x faster).
      yield=0; (( h * threads > $(nproc) )) && yield=1
      cluster/netns/run.sh -np "$h" --mca mpi_yield_when_idle $yield "${common[@]}" >"$tmp/out" 2>&1 ||
        { cat "$tmp/out" >&2; exit 1; }
      cluster/netns/counters.sh >"$tmp/c1"
      maxtx=$(paste "$tmp/c0" "$tmp/c1" | awk '{ d = $7 - $3; if (d > m) m = d } END { printf "%.0f\n", m }')
    fi
    row=$(/usr/bin/python3 - "$csv" "$steps" "$epochs" "$maxtx" "$rate" "$h" "$tmp/runs" <<'PY'
import csv, json, re, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))[1:]
med = lambda k: statistics.median(float(r[k]) for r in rows)
steps, epochs, maxtx = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
sec, sps, frac = med("seconds"), med("samples_per_second"), med("allreduce_fraction")
per_step = maxtx / (steps * epochs)
with open(sys.argv[7], "a") as runs:  # one JSON object per line, for the scaling model
    print(json.dumps({"link": sys.argv[5], "hosts": int(sys.argv[6]), "seconds_per_epoch": sec,
                      "samples_per_second": sps, "allreduce_ms_per_step": 1e3 * frac * sec / steps,
                      "max_tx_bytes_per_step": per_step if sys.argv[5] != "shm" else None}), file=runs)
# the least time a step's allreduce can take on this link: the busiest host's bytes at line rate
m = re.fullmatch(r"(\d+)(bit|kbit|mbit|gbit)", sys.argv[5])
floor = "-"
if m and per_step > 1e5:  # 1 host: no allreduce, only a few kB of launch traffic
    bps = int(m[1]) * {"bit": 1, "kbit": 1e3, "mbit": 1e6, "gbit": 1e9}[m[2]]
    floor = f"{1e3 * 8 * per_step / bps:.2f}ms"
print(f"{sec:.2f} {sps:.0f} {100 * frac:.1f} {1e3 * frac * sec / steps:.2f} {per_step / 1e6:.2f} {floor}")
PY
)
    read -r sec sps frac ms mb floor <<<"$row"
    [[ $h == 1 || -z ${base[$rate]:-} ]] && base[$rate]=$sps
    speedup=$(/usr/bin/python3 -c "print(f'{$sps / ${base[$rate]}:.2f}x')")
    [[ $rate == shm ]] && mb=-
    printf '%-8s %5s %9s %10s %8s %9s%% %12s %15s %11s\n' "$rate" "$h" "$sec" "$sps" "$speedup" "$frac" "$ms" "$mb" "$floor"
  done
done
cores=$(nproc)
mkdir -p "$(dirname "$out")"
/usr/bin/python3 - "$tmp" "$out" "$hidden" "$batch" "$steps" "$threads" "$epochs" "$exchange" "$load_start" <<'PY'
import json, os, sys
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
tmp, out, hidden, batch, steps, threads, epochs, exchange, load_start = sys.argv[1:]
sizes = [784] + [int(w) for w in hidden.split(",") if w and w != "none"] + [10]
compute = [line.split() for line in open(f"{tmp}/compute")]
latency = dict(line.split() for line in open(f"{tmp}/latency"))
json.dump({
    "about": "scripts/bench-cluster.sh measurements; scripts/scaling_model.py reads them",
    "machine": {"cores": os.cpu_count(), "cpu": cpu,
                "load_average_start": load_start,
                "load_average_end": " ".join(open("/proc/loadavg").read().split()[:3])},
    "model": {"layers": sizes, "params": sum(a * b + b for a, b in zip(sizes, sizes[1:])),
              "global_batch": int(batch), "samples_per_epoch": 60000, "steps_per_epoch": int(steps)},
    "exchange": exchange, "threads_per_host": int(threads), "epochs_per_run": int(epochs),
    "compute_ms_per_step": [{"local_batch": int(b), "forward_backward": float(fb), "adam": float(adam)}
                            for b, fb, adam in compute],
    "latency_us": {link: float(us) for link, us in latency.items()},
    "runs": [json.loads(line) for line in open(f"{tmp}/runs")],
}, open(out, "w"), indent=1)
PY
echo "== measurements: $out"
for h in $hosts; do
  if (( h * threads > cores )); then
    echo "note: from $h hosts x $threads thread(s) on, ranks outnumber the $cores cores: they share cores (compute"
    echo "      slows too, unlike on real hosts); ranks waiting in MPI yield their core (mpi_yield_when_idle)"
    break
  fi
done
echo
scripts/scaling_model.py "$out" || echo "bench-cluster.sh: the scaling model could not use $out (above); the measurements are kept" >&2
