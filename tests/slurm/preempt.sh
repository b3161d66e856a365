#!/usr/bin/env bash
# Preemption on the local Slurm cluster: job A (train.sbatch, 2 tasks, 3 epochs of
# 784-256-256-10) gets SIGUSR1 in its batch shell - what --signal=B:USR1@N does before a
# time limit, sent here deterministically with scancel --batch --signal=USR1. The shell
# forwards it to the ranks through srun; they checkpoint at an agreed step and exit 75;
# the script requeues the job; the requeued run resumes (--resume auto) and completes.
# Job B, the same configuration never interrupted, must end at the same step with
# bitwise equal parameters.
source "$(dirname "$0")/lib.sh" "$@"

A=$TMP/a B=$TMP/b
a=$(RUN_DIR=$A EPOCHS=3 HIDDEN=256,256 submit --nodes=1 --ntasks-per-node=2 --cpus-per-task=1 \
      --output="$TMP/a-%j.out" "$CLUSTER_SCRIPTS/train.sbatch")
[[ $a =~ ^[0-9]+$ ]] || fail "sbatch did not return a job id: '$a'"
aout=$TMP/a-$a.out
# The uninterrupted twin, queued behind A (both need the node's 2 cores).
b=$(RUN_DIR=$B EPOCHS=3 HIDDEN=256,256 submit --nodes=1 --ntasks-per-node=2 --cpus-per-task=1 \
      --output="$TMP/b-%j.out" "$CLUSTER_SCRIPTS/train.sbatch")
[[ $b =~ ^[0-9]+$ ]] || fail "sbatch did not return a job id: '$b'"
bout=$TMP/b-$b.out
pass "submitted job $a (to be preempted) and job $b (uninterrupted)"

# Signal A once it has made progress (its first checkpoint, after epoch 1).
wait_file "$A/checkpoints/ckpt-*.pb" "$a" 120
[[ $(job_field "$a" JobState) == RUNNING ]] || fail "job $a is $(job_field "$a" JobState), expected RUNNING"
scancel --batch --signal=USR1 "$a" || fail "scancel --batch --signal=USR1 $a failed"
pass "sent SIGUSR1 to the batch shell of job $a after $(cd "$A/checkpoints" && echo ckpt-*.pb)"

wait_job "$a" 300
wait_job "$b" 300
expect_completed "$a" "$aout"
expect_completed "$b" "$bout"
no_leftovers "$a"
no_leftovers "$b"

# A stopped, checkpointed, was requeued and resumed where it stopped.
restarts=$(job_field "$a" Restarts)
[[ $restarts == 1 ]] || { cat "$aout" >&2; fail "job $a: Restarts=$restarts, expected 1"; }
grep -q 'got SIGUSR1' "$aout" || { cat "$aout" >&2; fail "the batch shell of job $a did not get SIGUSR1"; }
stop=$(sed -n 's/^digitnet-train: stopped by signal 10 .* after step \([0-9]*\),.*/\1/p' "$aout")
[[ -n $stop ]] || { cat "$aout" >&2; fail "the trainer of job $a did not report a stop by SIGUSR1"; }
((stop < 1407)) || fail "job $a stopped at step $stop, after the end of training: signal too late"
grep -q "exit code 75" "$aout" || { cat "$aout" >&2; fail "the ranks of job $a did not exit with status 75"; }
grep -q "requeueing job $a" "$aout" || { cat "$aout" >&2; fail "job $a did not requeue itself"; }
grep -q "resumed from $A/checkpoints/ckpt-$(printf %08d "$stop").pb at step $stop " "$aout" ||
  { cat "$aout" >&2; fail "the requeued job $a did not resume from step $stop"; }
[[ $(grep -c 'run [01] on 1 node' "$aout") == 2 ]] || fail "expected two runs of job $a in its output"
pass "job $a: stopped after step $stop (exit 75), requeued (Restarts=1), resumed at step $stop, completed"

# The same end as the uninterrupted run: step count and parameters, bitwise.
fa=$A/checkpoints/ckpt-00001407.pb fb=$B/checkpoints/ckpt-00001407.pb
[[ -f $fa && -f $fb ]] || fail "final checkpoints missing: $(ls "$A/checkpoints") | $(ls "$B/checkpoints")"
sa=$("$ROOT/scripts/read_checkpoint.py" "$fa" | json '["step"]')
sb=$("$ROOT/scripts/read_checkpoint.py" "$fb" | json '["step"]')
[[ $sa == 1407 && $sb == 1407 ]] || fail "final steps $sa (preempted) and $sb (uninterrupted), expected 1407"
ha=$(params_sha "$fa") hb=$(params_sha "$fb")
[[ $ha == "$hb" ]] || fail "final parameters differ: preempted $ha, uninterrupted $hb"
pass "final step $sa in both runs, parameters bitwise equal (sha256 ${ha:0:16}...)"
acc_a=$(json '["results"][0]["accuracy"]' <"$A/score.json")
acc_b=$(json '["results"][0]["accuracy"]' <"$B/score.json")
[[ $acc_a == "$acc_b" ]] || fail "test accuracy $acc_a (preempted) vs $acc_b (uninterrupted)"
pass "both score $acc_a"
