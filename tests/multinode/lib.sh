# shellcheck shell=bash
# Shared by the lost-host tests. Usage: source "$(dirname "$0")/lib.sh" "$@", then
# netns_test_begin PREFIX. Arguments: BIN_DIR MNIST_DIR.
# shellcheck source=../e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh" "$@"
NETNS=$ROOT/cluster/netns

# netns_test_begin PREFIX: this test's own netns cluster (namespaces PREFIX<PID>-*, state
# in $TMP/netns), deleted on exit - pass, fail or interrupt - with a Slurm cluster on it
# (whose logs are shown first when the test fails). Namespaces that a killed earlier
# run of the test left behind (their PID is gone) are deleted now.
netns_test_begin() {
  local prefix=$1 ns pids
  [[ $(id -u) == 0 ]] || fail "needs root to create network namespaces"
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    [[ $ns =~ ^$prefix([0-9]+)-(sw|h[0-9]+)$ ]] || continue
    kill -0 "${BASH_REMATCH[1]}" 2>/dev/null && continue
    pids=$(ip netns pids "$ns" || true)
    [[ -z $pids ]] || kill -9 $pids 2>/dev/null || true
    ip netns del "$ns"
  done
  export DIGITNET_NETNS_DIR=$TMP/netns DIGITNET_NETNS_PREFIX=$prefix$$
  trap netns_test_end EXIT
  trap 'exit 143' TERM
  trap 'exit 130' INT
}

netns_test_end() {
  local status=$? log
  if ((status != 0)); then
    for log in "$DIGITNET_NETNS_DIR"/slurm/log/slurm*.log; do
      [[ -f $log ]] && { echo "--- end of ${log##*/}"; tail -n 15 "$log"; }
    done >&2
  fi
  "$NETNS/down.sh" >/dev/null || echo "WARNING: $NETNS/down.sh failed" >&2
  rm -rf "$TMP"
}
