#!/usr/bin/env bash
# Preemption through a real Slurm time limit, N times in a row (default 10).
#
#   cluster/slurm/stress-time-limit.sh [N]      (needs a cluster: cluster/local-slurm/up.sh)
#
# Submits cluster/slurm/train.sbatch (2 tasks, 784-256-256-10, 6,000 images) with `--time=2` and
# `--signal=B:USR1@90`: Slurm itself, not scancel, sends SIGUSR1 to the batch shell
# 90 s before the limit (30 s into each run, or up to a minute earlier). Every run must
# stop at a checkpoint (status 75), requeue, and the next run must resume at the step
# where the last one stopped. After N requeues the script lifts the time limit so the
# job can finish; then it trains the same configuration without interruption and
# compares: the same last step and bitwise equal parameters. Exit 0 when all holds.
# Takes about N + 8 minutes on 2 cores.
set -euo pipefail
N=${1:-10}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SLURM_DIR=${DIGITNET_SLURM_DIR:-/tmp/digitnet-slurm}
die() { echo "stress-time-limit: FAIL: $*" >&2; exit 1; }
say() { echo "stress-time-limit: $*"; }
[[ -f $SLURM_DIR/env.sh ]] || die "no local Slurm cluster in $SLURM_DIR (run cluster/local-slurm/up.sh)"
source "$SLURM_DIR/env.sh"
export DIGITNET_BIN=${DIGITNET_BIN:-$ROOT/build} DATA=${DATA:-$ROOT/data/mnist}
[[ -x $DIGITNET_BIN/digitnet-train ]] || die "no $DIGITNET_BIN/digitnet-train (build first, or set DIGITNET_BIN)"
TMP=$(mktemp -d /tmp/stress-time-limit.XXXXXX)
# Short epochs (the first 6,000 images), enough of them for N runs of up to about 40 s.
export HIDDEN=256,256 EPOCHS=$((100 * N)) EXTRA_ARGS="--seed 3 --train-limit 6000 --eval-every 1000 --keep 5"
field() { scontrol -o show job "$1" | grep -o "\b$2=[^ ]*" | cut -d= -f2-; }

job=$(RUN_DIR=$TMP/a sbatch --parsable --chdir="$TMP" --job-name=stress-time-limit --time=2 --signal=B:USR1@90 \
        --nodes=1 --ntasks-per-node=2 --cpus-per-task=1 --output="$TMP/a.out" "$ROOT/cluster/slurm/train.sbatch")
trap 'scancel "$job" 2>/dev/null || true' EXIT
say "job $job: time limit 2 min, SIGUSR1 90 s before it; output $TMP/a.out"
start=$SECONDS
while :; do
  restarts=$(field "$job" Restarts) state=$(field "$job" JobState)
  [[ $state =~ ^(FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY)$ ]] && { tail -n 40 "$TMP/a.out" >&2; die "job $job ended $state after $restarts requeues"; }
  [[ $state == COMPLETED ]] && die "job $job completed after only $restarts requeues (make EPOCHS larger)"
  if ((restarts >= N)); then
    scontrol update JobId="$job" TimeLimit=UNLIMITED
    say "$restarts requeues after $((SECONDS - start)) s: time limit lifted, letting job $job finish"
    break
  fi
  ((SECONDS - start < 300 * N)) || die "only $restarts requeues after $((SECONDS - start)) s"
  sleep 2
done
while [[ -n $(squeue -h -j "$job" -o %A 2>/dev/null) ]]; do sleep 2; done
[[ $(field "$job" JobState) == COMPLETED ]] || { tail -n 40 "$TMP/a.out" >&2; die "job $job ended $(field "$job" JobState)"; }

# Every stop was a clean one at a checkpoint, and the next run resumed exactly there.
mapfile -t stops < <(sed -n 's/^digitnet-train: stopped by signal 10 .* after step \([0-9]*\),.*/\1/p' "$TMP/a.out")
mapfile -t resumes < <(sed -n 's/^digitnet-train: resumed from .* at step \([0-9]*\) .*/\1/p' "$TMP/a.out")
((${#stops[@]} >= N)) || die "${#stops[@]} stops by SIGUSR1 in the output, expected $N"
[[ ${stops[*]} == "${resumes[*]}" ]] || die "stopped at steps (${stops[*]}) but resumed at (${resumes[*]})"
! grep -qiE 'corrupt|double free|invalid pointer|Segmentation|Aborted' "$TMP/a.out" || die "an abort in $TMP/a.out"
say "job $job: ${#stops[@]} time-limit stops at steps ${stops[*]}; each requeued run resumed at its step"

# The uninterrupted twin.
twin=$(RUN_DIR=$TMP/b sbatch --parsable --chdir="$TMP" --job-name=stress-time-limit-twin --nodes=1 \
         --ntasks-per-node=2 --cpus-per-task=1 --output="$TMP/b.out" "$ROOT/cluster/slurm/train.sbatch")
trap 'scancel "$job" "$twin" 2>/dev/null || true' EXIT
while [[ -n $(squeue -h -j "$twin" -o %A 2>/dev/null) ]]; do sleep 2; done
fa=$(ls "$TMP/a/checkpoints"/ckpt-*.pb | sort | tail -n 1)
fb=$(ls "$TMP/b/checkpoints"/ckpt-*.pb | sort | tail -n 1)
[[ $(basename "$fa") == "$(basename "$fb")" ]] || die "last checkpoints differ: $(basename "$fa") vs $(basename "$fb")"
sha() { /usr/bin/python3 "$ROOT/scripts/read_checkpoint.py" "$1" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["params_sha256"])'; }
[[ $(sha "$fa") == $(sha "$fb") ]] || die "final parameters differ from the uninterrupted run's"
say "PASS: $N time-limit preemptions in a row; final $(basename "$fa") bitwise equal to the uninterrupted run's ($((SECONDS - start)) s)"
rm -rf "$TMP"
