#!/usr/bin/env bash
# Three "hosts" on this machine (network namespaces joined by veth pairs to a bridge,
# cluster/netns/up.sh) train with mpirun over TCP on their private subnet. Checks:
#  - the ranks really run in the three host namespaces;
#  - the 3-host run completes and checkpoints;
#  - the gradients crossed the virtual links: the byte counters of every host's link
#    grew by at least the traffic that any allreduce algorithm must move. Each rank
#    must send (and receive) at least one full gradient: every element of its
#    contribution, or of the sum it computed, has to leave it once. That is steps x
#    669,706 floats x 4 B = 2.68 MB per step per host. The sharded exchange (reduce-
#    scatter, then allgather of the updated slices) moves 2 x (W-1)/W = 4/3 of that;
#  - the final parameters equal those of the same run over shared memory (mpirun
#    -np 3 without namespaces). They are bitwise equal: Open MPI picks the reduction
#    algorithm, hence the order of the additions, from the communicator and message
#    size, not from the transport. The check reports the differences if not.
# The namespaces are this test's own (prefix dntest<PID>, state in its temp dir) and
# are deleted on exit, also on failure; namespaces left by a killed earlier run of
# this test (whose PID is gone) are deleted first.
source "$(dirname "$0")/../e2e/lib.sh" "$@"
NETNS=$ROOT/cluster/netns
[[ $(id -u) == 0 ]] || fail "needs root to create network namespaces"

# leftovers of an earlier run of this test that was killed (e.g. by a CTest timeout)
for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
  [[ $ns =~ ^dntest([0-9]+)-(sw|h[0-9]+)$ ]] || continue
  kill -0 "${BASH_REMATCH[1]}" 2>/dev/null && continue
  pids=$(ip netns pids "$ns" || true)
  [[ -z $pids ]] || kill -9 $pids 2>/dev/null || true
  ip netns del "$ns" && echo "deleted $ns, left by an earlier run of this test"
done

export DIGITNET_NETNS_DIR=$TMP/netns DIGITNET_NETNS_PREFIX=dntest$$
cleanup() {
  "$NETNS/down.sh" || echo "WARNING: $NETNS/down.sh failed" >&2
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

W=3 STEPS=200 PARAMS=669706
"$NETNS/up.sh" $W

# the ranks run inside the host namespaces (and hostnames), rank i on host i+1
ranks=$(timeout 60 "$NETNS/run.sh" -np $W sh -c 'echo "$OMPI_COMM_WORLD_RANK $(ip netns identify $$) $(hostname)"' \
          2>"$TMP/ranks.err" | sort) || { cat "$TMP/ranks.err" >&2; fail "mpirun across the $W hosts failed"; }
want=$(for ((i = 0; i < W; i++)); do echo "$i dntest$$-h$((i + 1)) dntest$$-h$((i + 1))"; done)
[[ $ranks == "$want" ]] || fail "ranks ran in [$ranks] (rank, namespace, hostname), expected [$want]"
pass "ranks 0..$((W - 1)) run in namespaces dntest$$-h1..h$W"

args=(--data "$DATA" --hidden 512,512 --batch-size 128 --seed 1 --max-steps "$STEPS" --threads 1)
"$NETNS/counters.sh" >"$TMP/before"
start=$(date +%s.%N)
timeout -k 10 300 "$NETNS/run.sh" -np $W "$BIN/digitnet-train" "${args[@]}" --checkpoint-dir "$TMP/net" \
  >"$TMP/net.out" 2>&1 || { cat "$TMP/net.out" >&2; fail "the $W-host training run failed"; }
secs=$(/usr/bin/python3 -c "import time; print(f'{time.time() - $start:.1f}')")
"$NETNS/counters.sh" >"$TMP/after"
ckpt=$(printf 'ckpt-%08d.pb' $STEPS)
[[ -f $TMP/net/$ckpt ]] || { cat "$TMP/net.out" >&2; fail "no $ckpt after the $W-host run"; }
pass "$W-host run over TCP on the veth links: $STEPS steps in $secs s, $(grep -o 'test accuracy [0-9.]*%' "$TMP/net.out")"

# traffic per host: at least one gradient sent and received per step (5% slack)
need=$(( STEPS * PARAMS * 4 * 95 / 100 ))
grad=$(( PARAMS * 4 ))
total=0
while read -r ns ip tx0 rx0 _ _ tx1 rx1; do
  tx=$((tx1 - tx0)) rx=$((rx1 - rx0))
  total=$((total + tx))
  printf '  %-16s %-12s sent %5d MB (%.2f gradients/step)  received %5d MB (%.2f gradients/step)\n' "$ns" "$ip" \
    $((tx / 1000000)) "$(/usr/bin/python3 -c "print($tx / $STEPS / $grad)")" \
    $((rx / 1000000)) "$(/usr/bin/python3 -c "print($rx / $STEPS / $grad)")"
  (( tx >= need && rx >= need )) ||
    fail "$ns moved tx $tx / rx $rx bytes, less than the $need an allreduce of $STEPS gradients needs"
done < <(paste "$TMP/before" "$TMP/after")
pass "every host's link carried at least $STEPS x $grad B each way ($((total / 1000000)) MB sent in all)"

# the same run over shared memory, no namespaces
timeout -k 10 300 mpirun -np $W --oversubscribe --bind-to none "$BIN/digitnet-train" "${args[@]}" \
  --checkpoint-dir "$TMP/shm" >"$TMP/shm.out" 2>&1 || { cat "$TMP/shm.out" >&2; fail "the shared-memory run failed"; }
[[ -f $TMP/shm/$ckpt ]] || fail "no $ckpt after the shared-memory run"
cmp=$(/usr/bin/python3 "$(dirname "$0")/compare_params.py" "$TMP/net/$ckpt" "$TMP/shm/$ckpt") ||
  fail "cannot compare the checkpoints"
echo "  netns vs shared memory: $cmp"
[[ $(json '["bitwise_equal"]' <<<"$cmp") == True ]] ||
  fail "the $W-host run's parameters differ from the shared-memory run's (max abs diff $(json '["max_abs_diff"]' <<<"$cmp")); did Open MPI pick a different allreduce algorithm?"
pass "the $W-host run's final parameters equal the shared-memory run's bitwise"
