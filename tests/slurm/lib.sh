# shellcheck shell=bash
# Shared helpers of the Slurm tests. Usage in a test: source "$(dirname "$0")/lib.sh" "$@"
# Arguments: BIN_DIR MNIST_DIR. Needs the local cluster (cluster/local-slurm/up.sh; the
# CTest fixture slurm_cluster_up starts it before these tests, slurm_cluster_down after).
# Every job a test submits carries the job name in $JOB_NAME; on exit - pass, fail or
# interrupt - the test cancels them, waits until they are gone, then removes $TMP.
# shellcheck source=../e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh" "$@"

SLURM_DIR=${DIGITNET_SLURM_DIR:-/tmp/digitnet-slurm}
[[ -f $SLURM_DIR/env.sh ]] || fail "no local Slurm cluster in $SLURM_DIR (run cluster/local-slurm/up.sh)"
# shellcheck source=/dev/null
source "$SLURM_DIR/env.sh"
timeout 10 sinfo -h >/dev/null 2>&1 || fail "the Slurm cluster in $SLURM_DIR does not answer (run cluster/local-slurm/up.sh)"

JOB_NAME=digitnet-test-$$
export CLUSTER_SCRIPTS=$ROOT/cluster/slurm
# The job scripts find the programs and the data through these (absolute: the jobs
# run in $TMP).
BIN=$(cd "$BIN" && pwd) DATA=$(cd "$DATA" && pwd)
export DIGITNET_BIN=$BIN DATA

# Cancel this test's jobs and wait (up to 30 s) until they have left the queue, so that
# none of their processes still writes into $TMP; then remove $TMP.
slurm_cleanup() {
  local status=$?
  if [[ -n $(squeue -h -n "$JOB_NAME" -o %A 2>/dev/null) ]]; then
    scancel -n "$JOB_NAME" 2>/dev/null || true
    for _ in $(seq 300); do
      [[ -z $(squeue -h -n "$JOB_NAME" -o %A 2>/dev/null) ]] && break
      sleep 0.1
    done
  fi
  rm -rf "$TMP"
  exit "$status"
}
trap slurm_cleanup EXIT
trap 'exit 130' INT TERM

# submit SBATCH_ARGS... SCRIPT: sbatch as this test's job, working directory $TMP;
# prints the job id.
submit() {
  sbatch --parsable --job-name="$JOB_NAME" --chdir="$TMP" "$@" | cut -d';' -f1
}

# job_field JOBID FIELD: a field of `scontrol show job` (e.g. JobState, ExitCode,
# Restarts). For an array job: the field of every task, one per line.
# Completed jobs stay known for MinJobAge (600 s on the local cluster).
job_field() {
  scontrol -o show job "$1" | grep -o "\b$2=[^ ]*" | cut -d= -f2-
}

# wait_job JOBID SECONDS: poll squeue until the job (all tasks of an array) has left
# the queue. A requeued job stays in the queue (PENDING) until its last run ends.
wait_job() {
  local id=$1 limit=$2 start=$SECONDS
  while [[ -n $(squeue -h -j "$id" -o %A 2>/dev/null) ]]; do
    ((SECONDS - start < limit)) || fail "job $id still in the queue after $limit s: $(squeue -h -j "$id" -o '%A %T %R' | tr '\n' ' ')"
    sleep 0.25
  done
}

# wait_file GLOB JOBID SECONDS: wait until a file matching GLOB exists (while the job runs).
wait_file() {
  local glob=$1 id=$2 limit=$3 start=$SECONDS
  until compgen -G "$glob" >/dev/null; do
    [[ -n $(squeue -h -j "$id" -o %A 2>/dev/null) ]] || fail "job $id ended before $glob appeared"
    ((SECONDS - start < limit)) || fail "no $glob after $limit s"
    sleep 0.1
  done
}

# expect_completed JOBID OUTFILE: the job ended COMPLETED with exit code 0:0, as
# slurmctld and the job completion log (no accounting here: sacct does not work) say.
expect_completed() {
  local id=$1 out=$2 state code
  state=$(job_field "$id" JobState | sort -u | tr '\n' ' ')
  code=$(job_field "$id" ExitCode | sort -u | tr '\n' ' ')
  [[ $state == "COMPLETED " && $code == "0:0 " ]] ||
    { tail -n 30 "$out" >&2; fail "job $id: JobState $state, ExitCode $code (expected COMPLETED, 0:0)"; }
  if [[ -f $SLURM_DIR/log/jobcomp.log ]]; then
    grep -q "^JobId=$id .*JobState=COMPLETED .*ExitCode=0:0" "$SLURM_DIR/log/jobcomp.log" ||
      fail "job $id: no COMPLETED record in $SLURM_DIR/log/jobcomp.log"
  fi
  pass "job $id COMPLETED, exit code 0:0"
}

# no_leftovers JOBID: no process of the job survives it (proctrack/linuxproc does not
# catch children that leave their parent; the job scripts must end them).
no_leftovers() {
  local id=$1 env p found=()
  for env in /proc/[0-9]*/environ; do
    p=${env#/proc/}; p=${p%/environ}
    tr '\0' '\n' 2>/dev/null <"$env" | grep -qx "SLURM_JOB_ID=$id" && found+=("$p $(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline")")
  done
  ((${#found[@]} == 0)) || fail "job $id left processes behind: ${found[*]}"
  pass "job $id left no processes behind"
}
