#!/usr/bin/env bash
# Deletes the netns cluster of cluster/netns/up.sh: exactly the namespaces recorded in
# $DIGITNET_NETNS_DIR/namespaces (default /tmp/digitnet-netns), which takes their veth
# pairs and the bridge with them. A Slurm cluster on the hosts (NETNS_DIR/slurm) is
# stopped first; processes still running inside the namespaces are ended, by pid.
# Idempotent; does nothing when nothing exists.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
[[ -d $NETNS_DIR ]] || exit 0
netns_need_root
exec 9>"$NETNS_DIR/lock"
flock 9
# A Slurm cluster on these hosts (cluster/local-slurm/up.sh with DIGITNET_SLURM_NETNS):
# stop its daemons while they can still be told, then forget it with the hosts.
if [[ -d $NETNS_DIR/slurm ]]; then
  DIGITNET_SLURM_DIR=$NETNS_DIR/slurm "$NETNS_BIN/../local-slurm/down.sh" || echo "${0##*/}: stopping Slurm failed" >&2
  rm -rf "$NETNS_DIR/slurm"
fi
deleted=0
if [[ -f $NETNS_DIR/namespaces ]]; then
  mapfile -t namespaces <"$NETNS_DIR/namespaces"
  for ns in "${namespaces[@]}"; do
    [[ -n $ns ]] && netns_exists "$ns" || continue
    pids=$(ip netns pids "$ns" || true)
    if [[ -n $pids ]]; then
      kill $pids 2>/dev/null || true
      for _ in 1 2 3 4 5 6 7 8 9 10; do
        pids=$(ip netns pids "$ns" || true); [[ -n $pids ]] || break; sleep 0.2
      done
      [[ -z $pids ]] || kill -9 $pids 2>/dev/null || true
    fi
    ip netns del "$ns"
    deleted=$((deleted + 1))
  done
fi
rm -f "$NETNS_DIR"/{namespaces,hosts,hostfile,env,lock} "$NETNS_DIR"/*.new
rmdir "$NETNS_DIR" 2>/dev/null || true
echo "netns cluster: deleted $deleted namespaces"
