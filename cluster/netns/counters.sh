#!/usr/bin/env bash
# Prints the byte counters of every netns host's link (its eth0 inside the namespace):
#   NAMESPACE IP TX_BYTES RX_BYTES      (tx = sent by the host, rx = received)
# usage: cluster/netns/counters.sh          (state: $DIGITNET_NETNS_DIR, default /tmp/digitnet-netns)
# Take it before and after a run; the differences are the run's traffic.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
netns_need_root
netns_load
netns_counters
