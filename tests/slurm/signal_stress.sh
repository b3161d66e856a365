#!/usr/bin/env bash
# Stop signals at random moments under srun: each round starts 2 ranks with
# `srun --mpi=pmix`, waits a random 0.8-3 s (data loading, first steps, mid-epoch),
# then `scancel --signal=USR1`. Every round must end with status 75, a checkpoint
# that verifies, and no abort. An asynchronous signal handler once let glibc abort
# with heap corruption in about 1 run of 3 here; the rounds would catch its return.
# DIGITNET_STRESS_ROUNDS sets the number of rounds (default 6).
source "$(dirname "$0")/lib.sh" "$@"
rounds=${DIGITNET_STRESS_ROUNDS:-6}

for r in $(seq "$rounds"); do
  dir=$TMP/round$r
  srun --job-name="$JOB_NAME" -n 2 --cpus-per-task=1 --mpi=pmix "$BIN/digitnet-train" --data "$DATA" \
    --hidden 512,512 --epochs 40 --seed 3 --checkpoint-dir "$dir" >"$TMP/out.$r" 2>&1 &
  pid=$!
  sleep "$(awk -v s="$RANDOM" 'BEGIN { srand(s); printf "%.2f", 0.8 + 2.2 * rand() }')"
  job=$(squeue -h -n "$JOB_NAME" -o %A | head -n 1)
  [[ -n $job ]] || { cat "$TMP/out.$r" >&2; fail "round $r: the srun job is not in the queue"; }
  scancel --signal=USR1 "$job"
  status=0
  wait "$pid" || status=$?
  if grep -qiE 'corrupt|double free|invalid pointer|Segmentation|Aborted' "$TMP/out.$r" || [[ $status != 75 ]]; then
    cat "$TMP/out.$r" >&2
    fail "round $r: srun ended with status $status, expected 75 and no abort"
  fi
  grep -q "stopped by signal 10" "$TMP/out.$r" || fail "round $r: no stop message"
  ckpt=$(ls "$dir"/ckpt-*.pb | sort | tail -n 1)
  score "$ckpt" --data "$DATA" >/dev/null || fail "round $r: $ckpt does not verify"
  echo "round $r: stopped at $(basename "$ckpt"), status 75"
done
pass "$rounds rounds of SIGUSR1 at random moments under srun: every one stopped cleanly with a checkpoint"
