#!/usr/bin/env bash
# Stop the Slurm cluster that cluster/local-slurm/up.sh started:
#   1. cancel its jobs (they would otherwise be recovered, and requeued, by the next up.sh),
#   2. stop exactly the daemons up.sh started, by their recorded pids
#      (SIGTERM, then SIGKILL after a timeout): the slurmds, slurmctld, munged,
#   3. end job processes of this cluster that are left over. With proctrack/linuxproc
#      a job's background children can outlive the job; they are recognised by their
#      environment (SLURM_CONF=<this cluster's slurm.conf> together with SLURM_JOB_ID),
#      and job step daemons (slurmstepd) by SLURM_CONF=<this cluster's slurm.conf>.
# The state directory (logs, job state) is kept; delete it by hand if you like.
# Idempotent: fine when nothing is running. Environment: DIGITNET_SLURM_DIR (a cluster
# on netns hosts: cluster/netns/down.sh calls this with its own directory).
set -euo pipefail

DIR=${DIGITNET_SLURM_DIR:-/tmp/digitnet-slurm}
CONF=$DIR/slurm.conf
TIMEOUT=${DIGITNET_SLURM_STOP_TIMEOUT:-10}   # seconds between SIGTERM and SIGKILL
die() { echo "down.sh: $*" >&2; exit 1; }

[[ $DIR == /* ]] || die "DIGITNET_SLURM_DIR must be an absolute path, got '$DIR'"
if [[ ! -d $DIR/pids ]]; then
  echo "down.sh: nothing to stop (no cluster state in $DIR)" >&2
  exit 0
fi
export SLURM_CONF=$CONF

source "$(dirname "$0")/lib.sh"
CTL_NS=$(cat "$DIR/ctl-netns" 2>/dev/null || true)
[[ -z $CTL_NS || -e /run/netns/$CTL_NS ]] || CTL_NS=  # its namespace is gone: so is slurmctld

# stop_pids PID...: SIGTERM, wait up to $TIMEOUT s, then SIGKILL what is left.
stop_pids() {
  (($#)) || return 0
  kill -TERM "$@" 2>/dev/null || true
  local deadline=$((SECONDS + TIMEOUT)) alive
  while :; do
    alive=()
    for p in "$@"; do [[ -e /proc/$p ]] && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null && alive+=("$p"); done
    ((${#alive[@]})) || return 0
    ((SECONDS < deadline)) || break
    sleep 0.1
  done
  echo "down.sh: SIGKILL to pid(s) ${alive[*]} after ${TIMEOUT} s" >&2
  kill -KILL "${alive[@]}" 2>/dev/null || true
}

# 1. Cancel the cluster's jobs while slurmctld still answers.
if pid_of slurmctld >/dev/null && jobs=$(ctl timeout 10 squeue -h -o %A 2>/dev/null) && [[ -n $jobs ]]; then
  # shellcheck disable=SC2086
  ctl timeout 10 scancel $jobs 2>/dev/null || true
  # Completing jobs (CG) are over; one on a lost node stays CG until the node is back.
  for _ in $(seq $((TIMEOUT * 10 + 50))); do
    [[ -z $(ctl timeout 10 squeue -h -o '%A %t' 2>/dev/null | awk '$2 != "CG"') ]] && break
    sleep 0.1
  done
fi

# 2. The daemons, by recorded pid: the slurmds first (they own the job steps), munged last.
stopped=()
for d in $(cd "$DIR/pids" && ls slurmd*.pid 2>/dev/null | sed 's/\.pid$//') slurmctld munged; do
  if pid=$(pid_of "$d"); then
    stop_pids "$pid"
    stopped+=("$d($pid)")
  fi
  rm -f "$DIR/pids/$d.pid"
done

# 3. Leftover job processes of this cluster (never this script or its ancestors).
keep=" $$ "
p=$$
while [[ $p -gt 1 ]]; do
  p=$(awk '/^PPid:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 1)
  keep+="$p "
done
leftover=()
for env in /proc/[0-9]*/environ; do
  p=${env#/proc/}; p=${p%/environ}
  [[ $keep == *" $p "* ]] && continue
  e=$(tr '\0' '\n' 2>/dev/null <"$env") || continue
  grep -qxF "SLURM_CONF=$CONF" <<<"$e" || continue
  comm=$(cat "/proc/$p/comm" 2>/dev/null) || continue
  if [[ $comm == slurmstepd ]] || grep -q '^SLURM_JOB_ID=' <<<"$e"; then
    leftover+=("$p")
  fi
done
if ((${#leftover[@]})); then
  echo "down.sh: ending ${#leftover[@]} leftover job process(es): ${leftover[*]}" >&2
  TIMEOUT=3 stop_pids "${leftover[@]}"
fi
rm -f "$DIR/munge/munge.socket.2" "$DIR/munge/munge.socket.2.lock"

if ((${#stopped[@]})); then
  echo "down.sh: stopped ${stopped[*]}" >&2
else
  echo "down.sh: nothing was running" >&2
fi
