# shellcheck shell=bash
# Shared by the cluster/netns scripts (source it): where the state lives, how hosts
# are named, and the byte counters of the hosts' links.
#
# A "cluster" is a set of Linux network namespaces on this machine:
#   PREFIX-sw      the switch: a bridge br0 with address SUBNET.254, where mpirun runs
#   PREFIX-hI      host I (1..N): interface eth0 = SUBNET.I/24, a veth pair whose other
#                  end is port hI of the bridge
# The root namespace's networking is never touched.
#
# Environment (all optional):
#   DIGITNET_NETNS_DIR     state directory (default /tmp/digitnet-netns): the list of
#                          namespaces created, hosts, hostfile, env
#   DIGITNET_NETNS_PREFIX  namespace name prefix (default dn), read by up.sh only
#   DIGITNET_NETNS_SUBNET  first three octets of the /24 (default 10.213.0), up.sh only

NETNS_DIR=${DIGITNET_NETNS_DIR:-/tmp/digitnet-netns}
# shellcheck disable=SC2034  # used by up.sh
NETNS_BIN=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

netns_die() { echo "${0##*/}: $*" >&2; exit 1; }

netns_need_root() {
  [[ $(id -u) == 0 ]] || netns_die "needs root (network namespaces); run it as root"
  command -v ip >/dev/null || netns_die "needs iproute2 ('ip')"
}

# netns_exists NS: is there a named network namespace NS?
netns_exists() { [[ -e /var/run/netns/$1 ]]; }

# netns_load: reads the env file of a running cluster, or fails.
netns_load() {
  [[ -f $NETNS_DIR/env ]] || netns_die "no cluster in $NETNS_DIR (run cluster/netns/up.sh N first)"
  # shellcheck source=/dev/null
  source "$NETNS_DIR/env"
}

# netns_counters: one line per host: "NS IP TX_BYTES RX_BYTES" of its eth0 (the
# host's end of its link to the switch; tx = sent by the host, rx = received).
netns_counters() {
  local ip ns tx rx
  while read -r ip ns _; do
    read -r tx rx < <(ip netns exec "$ns" cat /sys/class/net/eth0/statistics/tx_bytes \
                                             /sys/class/net/eth0/statistics/rx_bytes | paste -sd' ')
    echo "$ns $ip $tx $rx"
  done <"$NETNS_DIR/hosts"
}
