# Helpers of the fault tests: start a training job in the background, find its
# ranks, wait for checkpoints. Usage in a test: source lib.sh "$@"
source "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh" "$@"

# Everything a test starts in the background, it stops, also when it fails.
BG_PIDS=()
descendants() {  # descendants PID: its children, their children, ...
  local c
  for c in $(pgrep -P "$1"); do echo "$c"; descendants "$c"; done
}
cleanup_bg() {
  local p
  for p in "${BG_PIDS[@]}"; do
    kill -KILL $(descendants "$p") "$p" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup_bg EXIT

# start_job LOG ARGS...: mpirun -np 2 digitnet-train ARGS in the background;
# sets JOB_PID (a subshell; mpirun_pid finds mpirun) and, when the job ends,
# writes its exit status to LOG.status.
start_job() {
  local log=$1; shift
  ( set +e; mpi_train 2 "$@" >"$log" 2>&1; echo $? >"$log.status" ) &
  JOB_PID=$!
  BG_PIDS+=("$JOB_PID")
}

mpirun_pid() { pgrep -P "$JOB_PID" -x mpirun; }

# rank_pid R: the pid of rank R of the job started last (from its environment).
rank_pid() {
  local p
  for p in $(pgrep -f "$BIN/digitnet-train"); do
    if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$1"; then echo "$p"; return 0; fi
  done
  return 1
}

# wait_for SECONDS DESCRIPTION CMD...: polls CMD every 0.2 s until it succeeds.
wait_for() {
  local limit=$1 what=$2; shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || fail "timed out after ${limit} s waiting for $what"
    sleep 0.2
  done
}

# job_status LOG: the exit status of a finished job, waiting up to 60 s for it.
job_status() {
  wait_for 60 "the job to end" test -f "$1.status"
  cat "$1.status"
}

have_checkpoint() { compgen -G "$1/ckpt-*.pb" >/dev/null; }
newest_checkpoint() { ls "$1"/ckpt-*.pb | sort | tail -n 1; }
