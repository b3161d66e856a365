#!/usr/bin/env bash
# Runs an MPI program across the netns hosts of cluster/netns/up.sh:
#   cluster/netns/run.sh -np 3 build/digitnet-train --data data/mnist ...
# Every argument goes to mpirun, after the cluster's own (hostfile, rsh-agent, TCP on
# the private subnet only, no shared memory, --bind-to none, one rank per host first:
# --map-by node). mpirun itself runs in the switch namespace, so every rank is
# started through cluster/netns/rsh-agent on its host. Exit status: mpirun's.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
netns_need_root
netns_load
export DIGITNET_NETNS_DIR=$NETNS_DIR
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
exec ip netns exec "$DIGITNET_NETNS_HEAD" mpirun "${DIGITNET_NETNS_MPIRUN_ARGS[@]}" "$@"
