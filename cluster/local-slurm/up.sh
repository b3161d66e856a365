#!/usr/bin/env bash
# Start a real single-node Slurm cluster on this machine: munged, slurmctld and slurmd,
# started by hand, with everything in ONE state directory:
#
#   $DIGITNET_SLURM_DIR (default /tmp/digitnet-slurm)
#     slurm.conf        generated: this node's real CPUs and memory, partition "debug"
#     env.sh            `source` it: exports SLURM_CONF (every Slurm client needs it)
#     munge/            munge.key (0400), munge.socket.2, munged.out (its log), seed, pid
#     pids/             the pids this script started (munged, slurmctld, slurmd)
#     state/ spool/     slurmctld's StateSaveLocation, slurmd's SlurmdSpoolDir
#     log/              slurmctld.log, slurmd.log, jobcomp.log (one line per finished job)
#
# Usage: cluster/local-slurm/up.sh        (then: source /tmp/digitnet-slurm/env.sh)
#        cluster/local-slurm/down.sh      stops exactly what this script started
# Environment: DIGITNET_SLURM_DIR (state directory), DIGITNET_SLURM_PORT (slurmctld's
# port, default 6817; slurmd uses the next one).
#
# Idempotent: when the cluster is already up and healthy, it only prints the exports.
# A half-up cluster (a daemon died) is stopped and started again. Job state (queued
# jobs, the job id counter) is kept across down/up in state/, like a real cluster's.
# Must run as root: slurmd starts jobs as their users.
set -euo pipefail
umask 022

DIR=${DIGITNET_SLURM_DIR:-/tmp/digitnet-slurm}
PORT=${DIGITNET_SLURM_PORT:-6817}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "up.sh: $*" >&2; exit 1; }

[[ $DIR == /* ]] || die "DIGITNET_SLURM_DIR must be an absolute path, got '$DIR'"
[[ $(id -u) == 0 ]] || die "must run as root (slurmd starts jobs as their users; munged and slurmd run as root here)"
for prog in munged slurmctld slurmd sinfo scontrol; do
  command -v "$prog" >/dev/null || die "$prog not found (apt-get install slurmctld slurmd slurm-client munge)"
done

CONF=$DIR/slurm.conf
SOCKET=$DIR/munge/munge.socket.2
HOST=$(hostname -s)
export SLURM_CONF=$CONF

print_env() {
  echo "export SLURM_CONF=$CONF"
  echo "export DIGITNET_SLURM_DIR=$DIR"
  echo "export DIGITNET_MUNGE_SOCKET=$SOCKET"
}

# is_ours NAME: the pid recorded for daemon NAME is alive and is that daemon with our
# state directory on its command line (guards against pid reuse).
is_ours() {
  local pidfile=$DIR/pids/$1.pid pid
  [[ -s $pidfile ]] || return 1
  pid=$(<"$pidfile")
  local cmd
  cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  [[ $cmd == "$1 "*" $DIR/"* || $cmd == "$1 "*"=$DIR/"* ]]
}

node_state() { { sinfo -h -n "$HOST" -o %t 2>/dev/null || true; } | head -n1; }

# Already up and healthy: nothing to do.
if is_ours munged && is_ours slurmctld && is_ours slurmd &&
   [[ $(node_state) =~ ^(idle|mix|alloc|comp)$ ]]; then
  echo "up.sh: cluster already up in $DIR (node $HOST $(node_state))" >&2
  print_env
  exit 0
fi
# Partly up (a daemon died, or a stale run): stop the rest, then start cleanly.
if compgen -G "$DIR/pids/*.pid" >/dev/null; then
  echo "up.sh: cluster in $DIR is only partly up; restarting it" >&2
  "$HERE/down.sh" >&2
fi

t0=$(date +%s%N)
# The ports must be free (another cluster - a second state directory, or a system
# Slurm - would answer our clients with the wrong munge key).
for port in "$PORT" $((PORT + 1)); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "port $port is already in use (another Slurm cluster?); stop it or set DIGITNET_SLURM_PORT"
  fi
done
# From here on, a failure stops whatever this script has started.
on_exit() {
  local status=$?
  ((status == 0)) || "$HERE/down.sh" >/dev/null 2>&1 || true
  exit "$status"
}
trap on_exit EXIT
mkdir -p "$DIR" "$DIR/pids" "$DIR/state" "$DIR/spool" "$DIR/log" "$DIR/run"
mkdir -p "$DIR/munge"
chmod 0755 "$DIR" "$DIR/munge"   # munged refuses a group/world-writable socket directory

# --- munge -----------------------------------------------------------------------------
KEY=$DIR/munge/munge.key
if [[ ! -s $KEY ]]; then
  rm -f "$KEY"
  if command -v mungekey >/dev/null; then
    mungekey --create --keyfile="$KEY" --bits=1024 >/dev/null 2>&1 ||
      dd if=/dev/urandom of="$KEY" bs=128 count=1 status=none
  else
    dd if=/dev/urandom of="$KEY" bs=128 count=1 status=none
  fi
fi
chmod 0400 "$KEY"
rm -f "$SOCKET" "$SOCKET.lock"
# -F: stay in the foreground, so $! is munged itself; setsid and closed stdio so that
# nobody waiting on our output (ctest) waits for the daemons too.
setsid munged -F --force --socket="$SOCKET" --key-file="$KEY" \
  --pid-file="$DIR/munge/munged.pid" \
  --seed-file="$DIR/munge/munged.seed" </dev/null >>"$DIR/munge/munged.out" 2>&1 &
echo $! >"$DIR/pids/munged.pid"
for _ in $(seq 100); do [[ -S $SOCKET ]] && break; sleep 0.05; done
[[ -S $SOCKET ]] || die "munged did not start: $(tail -n1 "$DIR/munge/munged.out" 2>/dev/null)"

# --- slurm.conf ------------------------------------------------------------------------
# This node as slurmd sees it: CPUs, sockets, cores, threads, RealMemory.
NODE=$(slurmd -C | head -n1)
[[ $NODE == NodeName=$HOST\ * ]] || die "unexpected 'slurmd -C' output: $NODE"
cat >"$CONF.tmp" <<EOF
# Generated by cluster/local-slurm/up.sh: a single-node test cluster. Do not edit;
# edit up.sh (this file is rewritten on every start).
ClusterName=digitnet
SlurmctldHost=$HOST
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# socket: our own munged. cred_expire: a requeued job waits this long before it may
# start again (default 120 s); 5 is Slurm's minimum.
AuthInfo=socket=$SOCKET,cred_expire=10

StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info

# No cgroups: processes are tracked through their parents, and not confined.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
SwitchType=switch/none

SchedulerType=sched/backfill
# Batch jobs start about a second after submission; requeued jobs are picked up fast.
SchedulerParameters=batch_sched_delay=0,bf_interval=1,sched_interval=2
SchedulerTimeSlice=5
ReturnToService=2
JobRequeue=1
# Finished jobs stay visible to scontrol/squeue for 10 minutes.
MinJobAge=600
KillWait=10
InactiveLimit=0
SlurmctldTimeout=60
SlurmdTimeout=120

# No accounting daemon: sacct does not work. Each finished job (and each requeued run)
# gets one line here with JobState= and ExitCode=.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.log

$NODE State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
mv "$CONF.tmp" "$CONF"

{
  echo "# Generated by cluster/local-slurm/up.sh. Usage: source $DIR/env.sh"
  print_env
} >"$DIR/env.sh"

# --- slurmctld and slurmd ----------------------------------------------------------------
# -D: foreground, so $! is the daemon and the pid is known at start (slurmctld removes
# its own pid file when it exits). Job state in state/ is recovered, not cleared.
start_s=$(date +%s)
setsid slurmctld -D -f "$CONF" </dev/null >>"$DIR/log/slurmctld.out" 2>&1 &
echo $! >"$DIR/pids/slurmctld.pid"
setsid slurmd -D -f "$CONF" </dev/null >>"$DIR/log/slurmd.out" 2>&1 &
echo $! >"$DIR/pids/slurmd.pid"

# slurmd has registered with this slurmctld (a recovered node state alone says "idle"
# before that): the node's SlurmdStartTime is this start's.
registered() {
  local t
  t=$(scontrol -o show node "$HOST" 2>/dev/null | grep -o 'SlurmdStartTime=[^ ]*' | cut -d= -f2) || return 1
  [[ -n $t && $t != None ]] && (( $(date -d "$t" +%s 2>/dev/null || echo 0) >= start_s ))
}

# Wait for the node to register and become usable.
state=
for _ in $(seq 300); do
  for d in munged slurmctld slurmd; do
    is_ours "$d" || {
      log=$DIR/log/$d.log; [[ $d == munged ]] && log=$DIR/munge/munged.out
      msg=$(grep -h -iE 'error|fatal' "$log" "${log%.*}.out" 2>/dev/null | tail -n1)
      die "$d exited during start-up: ${msg:-see $log}"
    }
  done
  state=$(node_state)
  case $state in
    idle|mix|alloc) registered && break ;;
    drain*|down*|drng*) # left drained/down by an earlier run: make it usable again
      scontrol update NodeName="$HOST" State=RESUME >/dev/null 2>&1 || true ;;
  esac
  sleep 0.1
done
if ! [[ $state =~ ^(idle|mix|alloc)$ ]] || ! registered; then
  die "node $HOST did not become idle in 30 s (state '${state:-no answer}'); see $DIR/log/"
fi
echo "up.sh: cluster up in $DIR: node $HOST $state after $(( ($(date +%s%N) - t0) / 1000000 )) ms" >&2
print_env
