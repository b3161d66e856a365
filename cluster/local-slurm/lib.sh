# shellcheck shell=bash
# Shared by up.sh and down.sh: which daemons are this cluster's own, and where its
# clients must run.

# pid_of NAME: the pid recorded for daemon NAME (in $DIR/pids; NAME is the program, or
# the program and a node, e.g. slurmd-dn-h1), if that process is alive and is that
# program with our state directory on its command line (guards against pid reuse).
# Fails otherwise.
pid_of() {
  local pidfile=$DIR/pids/$1.pid prog=${1%%-*} pid cmd
  [[ -s $pidfile ]] || return 1
  pid=$(<"$pidfile")
  cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  [[ $cmd == "$prog "*" $DIR/"* || $cmd == "$prog "*"=$DIR/"* ]] || return 1
  echo "$pid"
}

# ctl CMD...: runs a Slurm client (or anything that must reach slurmctld) where
# slurmctld is reachable: in its network namespace when the cluster spans netns hosts
# ($CTL_NS, recorded in $DIR/ctl-netns by up.sh), here otherwise.
ctl() {
  if [[ -n ${CTL_NS:-} ]]; then nsenter --net="/run/netns/$CTL_NS" "$@"; else "$@"; fi
}
