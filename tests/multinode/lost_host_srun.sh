#!/usr/bin/env bash
# A lost host under srun ends the job promptly and non-zero, with the checkpoints
# intact, and the run resumes on the node that is left. Two namespace hosts
# (cluster/netns) are the two nodes of a real Slurm cluster (cluster/local-slurm/up.sh
# with DIGITNET_SLURM_NETNS: slurmctld in the switch namespace, a slurmd per host).
# cluster/slurm/train.sbatch runs a 2-node job; host 2's link goes down mid-epoch.
# Rank 0 times out in its collective (COLLECTIVE_TIMEOUT 10 s) and exits; srun kills
# the step (--kill-on-bad-exit, then --wait=5's SIGKILL), waits KillWait + 2 s (12 s
# here) for host 2's rank, and the job script ends non-zero: 22-28 s after the link
# went down. The test allows the timeout + 30 s. Everything (daemons, jobs,
# namespaces) is deleted on exit, also on failure; the Slurm logs are shown on failure.
source "$(dirname "$0")/lib.sh" "$@"
netns_test_begin dsrun
export DIGITNET_NETNS_SUBNET=10.214.0
"$NETNS/up.sh" 2 >/dev/null
DIGITNET_SLURM_NETNS=$DIGITNET_NETNS_DIR "$ROOT/cluster/local-slurm/up.sh" >/dev/null
# shellcheck source=/dev/null
source "$DIGITNET_NETNS_DIR/slurm/env.sh"
H1=dsrun$$-h1 H2=dsrun$$-h2
ctl() { ip netns exec "dsrun$$-sw" "$@"; }  # slurmctld answers in the switch namespace
job_state() { ctl squeue -h -j "$1" -o %t 2>/dev/null; }
job_field() { ctl scontrol -o show job "$1" | grep -o "\b$2=[^ ]*" | cut -d= -f2-; }
now() { date +%s.%N; }

# train.sbatch finds the programs and the data through these (absolute: it runs in $TMP)
DIGITNET_BIN=$(cd "$BIN" && pwd) DATA=$(cd "$DATA" && pwd)
export DIGITNET_BIN DATA RUN_DIR=$TMP/run
export HIDDEN=256,256 EPOCHS=3 COLLECTIVE_TIMEOUT=10 EXTRA_ARGS="--seed 2 --checkpoint-every-steps 50"
submit() { ctl sbatch --parsable --chdir="$TMP" --output="$TMP/job-%j.out" "$@" "$ROOT/cluster/slurm/train.sbatch"; }

job=$(submit --nodes=2 --ntasks-per-node=1 --cpus-per-task=1)
for _ in $(seq 600); do
  compgen -G "$RUN_DIR/checkpoints/ckpt-*.pb" >/dev/null && break
  [[ -n $(job_state "$job") ]] || { cat "$TMP/job-$job.out" >&2; fail "job $job ended before its first checkpoint"; }
  sleep 0.1
done
compgen -G "$RUN_DIR/checkpoints/ckpt-*.pb" >/dev/null || { cat "$TMP/job-$job.out" >&2; fail "no checkpoint after 60 s"; }
sleep 1  # mid-epoch
down_at=$(now)
ip -n "$H2" link set eth0 down
limit=$((COLLECTIVE_TIMEOUT + 30))
while [[ $(job_state "$job") == R ]]; do
  /usr/bin/python3 -c "import sys; sys.exit(0 if $(now) - $down_at < $limit + 30 else 1)" ||
    { cat "$TMP/job-$job.out" >&2; fail "job $job still running $((limit + 30)) s after host 2 was lost"; }
  sleep 0.1
done
took=$(/usr/bin/python3 -c "print(f'{$(now) - $down_at:.1f}')")
out=$TMP/job-$job.out
code=$(job_field "$job" ExitCode)
[[ $code != 0:0 ]] || { cat "$out" >&2; fail "job $job ended with exit code 0:0 after host 2 was lost"; }
/usr/bin/python3 -c "import sys; sys.exit(0 if $took <= $limit else 1)" ||
  { cat "$out" >&2; fail "job $job took $took s to end after host 2 was lost (limit: the $COLLECTIVE_TIMEOUT s timeout + 30 s)"; }
grep -q "on 2 node(s) $DIGITNET_NETNS_PREFIX-h\[1-2\]" "$out" || { cat "$out" >&2; fail "job $job did not run on both hosts"; }
grep -q "rank 0 ($H1): .* has waited .* for the other ranks" "$out" ||
  { cat "$out" >&2; fail "rank 0 on host 1 did not time out waiting for host 2"; }
newest=$(ls "$RUN_DIR"/checkpoints/ckpt-*.pb | sort | tail -n 1)
score "$newest" --data "$DATA" >/dev/null || fail "newest checkpoint $newest does not verify"
pass "host 2 lost mid-epoch: the srun job ended in $took s (exit code $code, state $(job_state "$job" || true)); $(basename "$newest") verifies"

# Resume on the node that is left, while host 2 is still unreachable.
step=$((10#$(basename "$newest" .pb | cut -d- -f2)))
EXTRA_ARGS="$EXTRA_ARGS --max-steps $((step + 20))"
resumed=$(submit --nodes=1 --ntasks-per-node=1 --cpus-per-task=1 --nodelist="$H1")
for _ in $(seq 900); do [[ -n $(job_state "$resumed") ]] || break; sleep 0.1; done
[[ -z $(job_state "$resumed") ]] || { cat "$TMP/job-$resumed.out" >&2; fail "the resumed job $resumed still runs after 90 s"; }
[[ $(job_field "$resumed" JobState) == COMPLETED && $(job_field "$resumed" ExitCode) == 0:0 ]] ||
  { cat "$TMP/job-$resumed.out" >&2; fail "the resumed job $resumed: $(job_field "$resumed" JobState) $(job_field "$resumed" ExitCode)"; }
want=$(printf 'ckpt-%08d.pb' $((step + 20)))
grep -q "done: final checkpoint .*/$want" "$TMP/job-$resumed.out" ||
  { cat "$TMP/job-$resumed.out" >&2; fail "the resumed job did not end at $want"; }
pass "resumed from step $step on host 1 alone (host 2 still lost): $want, $(grep -m1 -o 'test accuracy [0-9.]*' "$TMP/job-$resumed.out")"
