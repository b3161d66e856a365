#!/usr/bin/env bash
# Creates N "hosts" on this machine: network namespaces PREFIX-h1..PREFIX-hN, each
# joined by a veth pair to a bridge that lives in its own namespace PREFIX-sw, on a
# private /24 (host I = SUBNET.I, the switch = SUBNET.254). MPI between the hosts
# crosses real (virtual) links, each with its own byte counters.
#
# usage: cluster/netns/up.sh N [RATE]
#   RATE (e.g. 1gbit, 10gbit, 500mbit) shapes every link in both directions with a
#   token bucket (tc tbf) at the host's and at the switch's end of the veth pair: a
#   full-duplex link of that speed. No RATE (or "none"): unshaped. This kernel has no
#   netem, so bandwidth is emulated but latency is not.
#
# Idempotent: running it again with other N or RATE converges to that. It records
# every namespace it creates in $DIGITNET_NETNS_DIR/namespaces (default
# /tmp/digitnet-netns), and writes there:
#   hosts     "IP NAMESPACE hI" per host (read by rsh-agent)
#   hostfile  "IP slots=1" per host, for mpirun --hostfile
#   env       bash: DIGITNET_NETNS_* variables and DIGITNET_NETNS_MPIRUN_ARGS, the
#             mpirun arguments (sourced by run.sh)
# Environment: DIGITNET_NETNS_DIR, DIGITNET_NETNS_PREFIX (dn), DIGITNET_NETNS_SUBNET
# (10.213.0). cluster/netns/down.sh deletes it all.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

n=${1:?usage: up.sh N [RATE]}
rate=${2:-none}
[[ $n =~ ^[0-9]+$ && $n -ge 1 && $n -le 250 ]] || netns_die "N must be 1..250, got '$n'"
netns_need_root
# `ip netns exec` makes / a slave mount inside its own mount namespace ("mount
# --make-rslave /"), which fails where / is not a mount point (a chroot, some containers).
mountpoint -q / || netns_die "/ is not a mount point here (a chroot or a container without a root mount), and 'ip netns exec' needs one: run 'mount --bind / /' first, or use a VM"

prefix=${DIGITNET_NETNS_PREFIX:-dn}
subnet=${DIGITNET_NETNS_SUBNET:-10.213.0}
[[ $prefix =~ ^[A-Za-z0-9_.-]+$ ]] || netns_die "bad DIGITNET_NETNS_PREFIX '$prefix'"
[[ $subnet =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || netns_die "DIGITNET_NETNS_SUBNET must be like 10.213.0, got '$subnet'"

# tbf parameters for RATE: the bucket must hold at least one 64 KiB GSO packet (veth
# passes them whole) and about 200 us at line rate, or tbf falls short of the rate
# (measured: 1gbit with a 32 KiB bucket gave 0.79 Gbit/s, with 128 KiB 0.96 Gbit/s;
# 10gbit with 256 KiB 9.1 Gbit/s).
rate_bps=0
if [[ $rate != none ]]; then
  [[ ${rate,,} =~ ^([0-9]+)(bit|kbit|mbit|gbit)$ ]] || netns_die "RATE must be like 1gbit, 10gbit, 500mbit, got '$rate'"
  case ${BASH_REMATCH[2]} in bit) m=1 ;; kbit) m=1000 ;; mbit) m=1000000 ;; gbit) m=1000000000 ;; esac
  rate_bps=$(( BASH_REMATCH[1] * m ))
  (( rate_bps >= 1000000 )) || netns_die "RATE below 1mbit is not useful here"
  burst=$(( rate_bps / 8 / 5000 )); (( burst >= 131072 )) || burst=131072
fi

mkdir -p "$NETNS_DIR"
exec 9>"$NETNS_DIR/lock"
flock 9  # one up.sh/down.sh at a time per state directory
touch "$NETNS_DIR/namespaces"
if [[ -f $NETNS_DIR/env ]]; then
  old_prefix=$(source "$NETNS_DIR/env"; echo "$DIGITNET_NETNS_PREFIX")
  old_subnet=$(source "$NETNS_DIR/env"; echo "$DIGITNET_NETNS_SUBNET")
  [[ $old_prefix == "$prefix" && $old_subnet == "$subnet" ]] ||
    netns_die "$NETNS_DIR holds a cluster with prefix $old_prefix, subnet $old_subnet; run down.sh first"
fi

ours() { grep -qxF "$1" "$NETNS_DIR/namespaces"; }
# have_ns NS: true if NS exists (and is ours: one we did not create is refused)
have_ns() {
  netns_exists "$1" || return 1
  ours "$1" || netns_die "namespace $1 exists but was not created by this state ($NETNS_DIR); not touching it"
}
make_ns() {  # make_ns NS: creates NS and records it as ours
  ip netns add "$1"
  echo "$1" >>"$NETNS_DIR/namespaces"
  ip -n "$1" link set lo up
}
drop_ns() {  # drop_ns NS: ends the processes inside NS (by pid), deletes NS, forgets it
  local pids
  if netns_exists "$1"; then
    pids=$(ip netns pids "$1" || true)
    [[ -z $pids ]] || { kill $pids 2>/dev/null || true; sleep 0.5; kill -9 $pids 2>/dev/null || true; }
    ip netns del "$1"
  fi
  grep -vxF "$1" "$NETNS_DIR/namespaces" >"$NETNS_DIR/namespaces.new" || true
  mv "$NETNS_DIR/namespaces.new" "$NETNS_DIR/namespaces"
}
# shape NS DEV: the tbf (or none) on DEV's egress inside NS
shape() {
  if [[ $rate == none ]]; then
    ip netns exec "$1" tc qdisc del dev "$2" root 2>/dev/null || true
  else
    ip netns exec "$1" tc qdisc replace dev "$2" root tbf rate "$rate_bps"bit burst "$burst" latency 20ms
  fi
}

# the switch
sw=$prefix-sw
have_ns "$sw" || make_ns "$sw"
ip -n "$sw" link show br0 >/dev/null 2>&1 || ip -n "$sw" link add br0 type bridge
ip -n "$sw" link set br0 up
ip -n "$sw" addr replace "$subnet.254/24" dev br0

# the hosts
: >"$NETNS_DIR/hosts.new"
: >"$NETNS_DIR/hostfile.new"
for ((i = 1; i <= n; i++)); do
  h=$prefix-h$i ip=$subnet.$i
  if ! have_ns "$h"; then
    make_ns "$h"
  else
    # exists and is ours: keep it if its link is complete, else rebuild it
    # (no "ip | grep -q" under pipefail: grep's early exit can fail the pipeline)
    if [[ $(ip -n "$h" -4 -o addr show dev eth0 2>/dev/null) != *" inet $ip/24 "* ]] ||
       ! ip -n "$sw" link show "h$i" >/dev/null 2>&1; then
      drop_ns "$h"
      make_ns "$h"
    fi
  fi
  if ! ip -n "$h" link show eth0 >/dev/null 2>&1; then
    ip -n "$sw" link del "h$i" 2>/dev/null || true   # a dangling port of an earlier host
    ip -n "$h" link add eth0 type veth peer name "h$i" netns "$sw"
    ip -n "$h" addr add "$ip/24" dev eth0
  fi
  ip -n "$h" link set eth0 up
  ip -n "$sw" link set "h$i" master br0
  ip -n "$sw" link set "h$i" up
  shape "$h" eth0
  shape "$sw" "h$i"
  echo "$ip $h h$i" >>"$NETNS_DIR/hosts.new"
  echo "$ip slots=1" >>"$NETNS_DIR/hostfile.new"
done
# hosts beyond N from an earlier, larger cluster
while read -r ns; do
  [[ $ns =~ ^$prefix-h([0-9]+)$ ]] && (( BASH_REMATCH[1] > n )) || continue
  drop_ns "$ns"
  ip -n "$sw" link del "h${BASH_REMATCH[1]}" 2>/dev/null || true
done < <(cat "$NETNS_DIR/namespaces")
# a rebuilt host has a new MAC address: forget cached ones everywhere
for ((i = 1; i <= n; i++)); do ip -n "$prefix-h$i" neigh flush all; done
ip -n "$sw" neigh flush all
mv "$NETNS_DIR/hosts.new" "$NETNS_DIR/hosts"
mv "$NETNS_DIR/hostfile.new" "$NETNS_DIR/hostfile"

# every host reaches every other and the switch (TCP connect to a closed port:
# "connection refused" proves the path; no ping on a minimal system)
probe() {  # probe NS IP: exit 0 if IP answers from inside NS
  ip netns exec "$1" /usr/bin/python3 -c '
import socket, sys
s = socket.socket(); s.settimeout(2)
try: s.connect((sys.argv[1], 9))
except ConnectionRefusedError: pass
except OSError as e: sys.exit(f"{sys.argv[1]}: {e}")
' "$2"
}
for ((i = 1; i <= n; i++)); do
  probe "$sw" "$subnet.$i" || netns_die "switch cannot reach host $i ($subnet.$i)"
done
(( n < 2 )) || probe "$prefix-h1" "$subnet.$n" || netns_die "host 1 cannot reach host $n"

mpirun_args=(
  --hostfile "$NETNS_DIR/hostfile" --map-by node --bind-to none
  --mca plm_rsh_agent "$NETNS_BIN/rsh-agent" --mca plm_rsh_no_tree_spawn 1
  --mca pml ob1 --mca btl tcp,self
  --mca btl_tcp_if_include "$subnet.0/24" --mca oob_tcp_if_include "$subnet.0/24"
  # A lost host: mpirun notices its daemon is gone after about 5 + 3 x 2 s of silence
  # and ends the job (Open MPI's defaults, 300 + 9 x 20 s, leave mpirun hanging).
  --mca oob_tcp_keepalive_time 5 --mca oob_tcp_keepalive_intvl 2 --mca oob_tcp_keepalive_probes 3
)
{
  echo "# written by cluster/netns/up.sh; source it (bash)."
  echo "# mpirun runs in the switch namespace and starts every rank through rsh-agent:"
  echo "#   DIGITNET_NETNS_DIR=$NETNS_DIR ip netns exec $sw mpirun ${mpirun_args[*]} -np $n PROGRAM ..."
  printf 'DIGITNET_NETNS_DIR=%q\n' "$NETNS_DIR"
  printf 'DIGITNET_NETNS_PREFIX=%q\n' "$prefix"
  printf 'DIGITNET_NETNS_SUBNET=%q\n' "$subnet"
  printf 'DIGITNET_NETNS_HOSTS=%q\n' "$n"
  printf 'DIGITNET_NETNS_RATE=%q\n' "$rate"
  printf 'DIGITNET_NETNS_HEAD=%q\n' "$sw"
  printf 'DIGITNET_NETNS_MPIRUN_ARGS=('; printf ' %q' "${mpirun_args[@]}"; printf ' )\n'
} >"$NETNS_DIR/env.new"
mv "$NETNS_DIR/env.new" "$NETNS_DIR/env"
if [[ $rate == none ]]; then shaped="unshaped links"; else shaped="links shaped to $rate (tbf, burst $burst B)"; fi
echo "netns cluster: $n hosts $prefix-h1..$prefix-h$n ($subnet.1-$subnet.$n), switch $sw, $shaped; state $NETNS_DIR"
