#!/usr/bin/env bash
# Start a real Slurm cluster on this machine: munged, slurmctld and slurmd, started by hand,
# with everything in ONE state directory. Two shapes:
#  - single node (the default): the daemons talk over 127.0.0.1, node = this machine;
#  - one node per host of a cluster/netns cluster (DIGITNET_SLURM_NETNS=its state
#    directory): munged and slurmctld in the switch namespace (SUBNET.254), one slurmd per
#    host namespace (node name = namespace name, NodeAddr = SUBNET.I), each daemon with its
#    own hostname. A host whose link goes down is a lost node. Clients reach slurmctld only
#    from inside the namespaces: ip netns exec PREFIX-sw sbatch ...
#
#   $DIGITNET_SLURM_DIR (default /tmp/digitnet-slurm; with netns hosts always NETNS/slurm)
#     slurm.conf        generated: the nodes' real CPUs and memory, partition "debug"
#     env.sh            `source` it: exports SLURM_CONF (every Slurm client needs it)
#     munge/            munge.key (0400), munge.socket.2, munged.out (its log), seed, pid
#     pids/             the pids this script started (munged, slurmctld, slurmd-NODE)
#     ctl-netns         with netns: the namespace where slurmctld (and the clients) run
#     state/            slurmctld's StateSaveLocation
#     spool/NODE tmp/NODE  each slurmd's SlurmdSpoolDir and TmpFS (PMIx's directories)
#     log/              slurmctld.log, slurmd-NODE.log, jobcomp.log (one line per finished job)
#
# Usage: cluster/local-slurm/up.sh        (then: source /tmp/digitnet-slurm/env.sh)
#        cluster/local-slurm/down.sh      stops exactly what this script started
#        DIGITNET_SLURM_NETNS=/tmp/digitnet-netns cluster/local-slurm/up.sh   (after
#        cluster/netns/up.sh N; then source /tmp/digitnet-netns/slurm/env.sh;
#        cluster/netns/down.sh stops both)
# Environment: DIGITNET_SLURM_DIR (state directory), DIGITNET_SLURM_PORT (slurmctld's
# port, default 6817; slurmd uses the next one), DIGITNET_SLURM_NETNS.
#
# Idempotent: when the cluster is already up and healthy, it only prints the exports.
# A half-up cluster (a daemon died) is stopped and started again. Job state (queued
# jobs, the job id counter) is kept across down/up in state/, like a real cluster's.
# Must run as root: slurmd starts jobs as their users.
set -euo pipefail
umask 022

NETNS=${DIGITNET_SLURM_NETNS:-}
DIR=${DIGITNET_SLURM_DIR:-/tmp/digitnet-slurm}
[[ -z $NETNS ]] || DIR=$NETNS/slurm   # where cluster/netns/down.sh finds it
export DIGITNET_SLURM_DIR=$DIR        # for down.sh, which this script may call
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
export SLURM_CONF=$CONF
source "$HERE/lib.sh"

# The nodes, one "NAME ADDRESS NAMESPACE" line each (NAMESPACE - = this machine's own),
# and slurmctld's name, address and namespace (CTL_NS, empty = this machine's own).
if [[ -n $NETNS ]]; then
  [[ -s $NETNS/env && -s $NETNS/hosts ]] || die "no netns cluster in $NETNS (run cluster/netns/up.sh N first)"
  # shellcheck source=/dev/null
  source "$NETNS/env"
  CTL_NAME=$DIGITNET_NETNS_HEAD CTL_ADDR=$DIGITNET_NETNS_SUBNET.254 CTL_NS=$DIGITNET_NETNS_HEAD
  mapfile -t NODES < <(awk '{ print $2, $1, $2 }' "$NETNS/hosts")
else
  CTL_NAME=$(hostname -s) CTL_ADDR=127.0.0.1 CTL_NS=
  NODES=("$CTL_NAME 127.0.0.1 -")
fi
NODE_NAMES=$(for n in "${NODES[@]}"; do echo "${n%% *}"; done | paste -sd,)

print_env() {
  echo "export SLURM_CONF=$CONF"
  echo "export DIGITNET_SLURM_DIR=$DIR"
  echo "export DIGITNET_MUNGE_SOCKET=$SOCKET"
  if [[ -n $CTL_NS ]]; then
    # MPI between the hosts over TCP on their links only (no shared memory, no UCX),
    # as cluster/netns/run.sh does for mpirun; srun passes these on to the ranks.
    echo "export OMPI_MCA_pml=ob1 OMPI_MCA_btl=tcp,self"
    echo "# slurmctld is reachable only in its namespace: ip netns exec $CTL_NS sbatch|srun|squeue ..."
  fi
}

# is_ours NAME: the recorded daemon NAME is alive and ours.
is_ours() { pid_of "$1" >/dev/null; }
# daemons: every daemon of this cluster, in start order.
daemons() {
  echo munged slurmctld
  for n in "${NODES[@]}"; do echo "slurmd-${n%% *}"; done
}

node_state() { { ctl sinfo -h -n "$1" -o %t 2>/dev/null || true; } | head -n1; }
# all_usable: every node is idle (or running jobs); prints the states.
all_usable() {
  local n state ok=0
  for n in "${NODES[@]}"; do
    state=$(node_state "${n%% *}")
    echo -n "${n%% *} ${state:-?} "
    [[ $state =~ ^(idle|mix|alloc|comp)$ ]] || ok=1
  done
  return $ok
}

# Already up and healthy: nothing to do.
healthy=1
for d in $(daemons); do is_ours "$d" || healthy=; done
if [[ -n $healthy ]] && states=$(all_usable); then
  echo "up.sh: cluster already up in $DIR (nodes $states)" >&2
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
  if ctl bash -c "exec 3<>/dev/tcp/$CTL_ADDR/$port" 2>/dev/null; then
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
mkdir -p "$DIR" "$DIR/pids" "$DIR/state" "$DIR/spool" "$DIR/tmp" "$DIR/log" "$DIR/run"
mkdir -p "$DIR/munge"
chmod 0755 "$DIR" "$DIR/munge"   # munged refuses a group/world-writable socket directory
for n in "${NODES[@]}"; do
  mkdir -p "$DIR/spool/${n%% *}" "$DIR/tmp/${n%% *}"
  chmod 1777 "$DIR/tmp/${n%% *}"
done
if [[ -n $CTL_NS ]]; then echo "$CTL_NS" >"$DIR/ctl-netns"; else rm -f "$DIR/ctl-netns"; fi

# start_daemon NAME NAMESPACE PROGRAM ARGS...: starts a daemon in the foreground of its
# own session (so $! is the daemon: nsenter, unshare and sh all exec), with closed stdio
# so that nobody waiting on our output (ctest) waits for the daemons too, and records
# its pid. In a host namespace (not -) it also gets its own hostname, the namespace's
# name: Slurm, PMIx and Open MPI key files by hostname, and real hosts differ.
start_daemon() {
  local name=$1 ns=$2 out=$DIR/log/$1.out
  shift 2
  [[ $name == munged ]] && out=$DIR/munge/munged.out
  if [[ $ns == - ]]; then
    setsid "$@" </dev/null >>"$out" 2>&1 &
  else
    setsid nsenter --net="/run/netns/$ns" unshare --uts /bin/sh -c 'hostname "$1" && shift && exec "$@"' \
      sh "$ns" "$@" </dev/null >>"$out" 2>&1 &
  fi
  local pid=$!
  echo "$pid" >"$DIR/pids/$name.pid"
  # until it has exec'd the daemon (is_ours checks the command line), or died
  for _ in $(seq 250); do
    is_ours "$name" && return 0
    [[ -e /proc/$pid ]] || break
    sleep 0.02
  done
  die "$name did not start: $(tail -n1 "$out" 2>/dev/null)"
}

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
# -F: stay in the foreground. With netns hosts it runs in the switch namespace, where
# nothing waits on a name lookup (the namespaces have no route to a name server).
start_daemon munged "${CTL_NS:--}" munged -F --force --socket="$SOCKET" --key-file="$KEY" \
  --pid-file="$DIR/munge/munged.pid" --seed-file="$DIR/munge/munged.seed"
for _ in $(seq 100); do [[ -S $SOCKET ]] && break; sleep 0.05; done
[[ -S $SOCKET ]] || die "munged did not start: $(tail -n1 "$DIR/munge/munged.out" 2>/dev/null)"

# --- slurm.conf ------------------------------------------------------------------------
# A node as slurmd sees this machine: CPUs, sockets, cores, threads, RealMemory (every
# netns host claims the whole machine).
HARDWARE=$(slurmd -C | head -n1)
[[ $HARDWARE == NodeName=*\ CPUs=* ]] || die "unexpected 'slurmd -C' output: $HARDWARE"
HARDWARE=${HARDWARE#NodeName=* }
cat >"$CONF.tmp" <<EOC
# Generated by cluster/local-slurm/up.sh: a test cluster on this machine. Do not edit;
# edit up.sh (this file is rewritten on every start).
ClusterName=digitnet
# Addresses, not names: the daemons find each other whether or not the names resolve.
SlurmctldHost=$CTL_NAME($CTL_ADDR)
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
# %n = the node: several slurmds share this filesystem (one per netns host).
SlurmdSpoolDir=$DIR/spool/%n
TmpFS=$DIR/tmp/%n
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd-%n.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd-%n.log
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
# Also how long srun waits for the tasks of a lost node after it killed a failed step
# (KillWait + 2 s, then "Timed out waiting for job step to complete").
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

$(for n in "${NODES[@]}"; do read -r name addr _ <<<"$n"; echo "NodeName=$name NodeAddr=$addr $HARDWARE State=UNKNOWN"; done)
PartitionName=debug Nodes=$NODE_NAMES Default=YES MaxTime=INFINITE State=UP
EOC
mv "$CONF.tmp" "$CONF"

{
  echo "# Generated by cluster/local-slurm/up.sh. Usage: source $DIR/env.sh"
  print_env
} >"$DIR/env.sh"

# --- slurmctld and slurmd ----------------------------------------------------------------
# -D: foreground, so $! is the daemon and the pid is known at start (slurmctld removes
# its own pid file when it exits). Job state in state/ is recovered, not cleared.
start_s=$(date +%s)
start_daemon slurmctld "${CTL_NS:--}" slurmctld -D -f "$CONF"
for n in "${NODES[@]}"; do
  read -r name _ ns <<<"$n"
  start_daemon "slurmd-$name" "$ns" slurmd -D -N "$name" -f "$CONF"
done

# registered NODE: its slurmd has registered with this slurmctld (a recovered node
# state alone says "idle" before that): the node's SlurmdStartTime is this start's.
registered() {
  local t
  t=$(ctl scontrol -o show node "$1" 2>/dev/null | grep -o 'SlurmdStartTime=[^ ]*' | cut -d= -f2) || return 1
  [[ -n $t && $t != None ]] && (( $(date -d "$t" +%s 2>/dev/null || echo 0) >= start_s ))
}

# Wait for every node to register and become usable.
states=
for _ in $(seq 300); do
  for d in $(daemons); do
    is_ours "$d" || {
      log=$DIR/log/$d.log; [[ $d == munged ]] && log=$DIR/munge/munged.out
      msg=$(grep -h -iE 'error|fatal' "$log" "${log%.*}.out" 2>/dev/null | tail -n1)
      die "$d exited during start-up: ${msg:-see $log}"
    }
  done
  waiting=
  states=
  for n in "${NODES[@]}"; do
    name=${n%% *}
    state=$(node_state "$name")
    states+="$name ${state:-?} "
    case $state in
      idle|mix|alloc) registered "$name" || waiting=1 ;;
      drain*|down*|drng*) # left drained/down by an earlier run: make it usable again
        ctl scontrol update NodeName="$name" State=RESUME >/dev/null 2>&1 || true; waiting=1 ;;
      *) waiting=1 ;;
    esac
  done
  [[ -z $waiting ]] && break
  sleep 0.1
done
[[ -z $waiting ]] || die "not every node became idle in 30 s (${states% }); see $DIR/log/"
echo "up.sh: cluster up in $DIR: nodes ${states% } after $(( ($(date +%s%N) - t0) / 1000000 )) ms" >&2
print_env
