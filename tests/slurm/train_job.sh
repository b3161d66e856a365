#!/usr/bin/env bash
# cluster/slurm/train.sbatch on the local Slurm cluster: 2 tasks on 1 node train MNIST
# for 2 epochs through srun --mpi=pmix; the job completes, rank 0's checkpoints are in
# the job directory, and the job's own scoring (digitnet-score) reports >= 97%.
source "$(dirname "$0")/lib.sh" "$@"

RUN=$TMP/run
job=$(RUN_DIR=$RUN EPOCHS=2 submit --nodes=1 --ntasks-per-node=2 --cpus-per-task=1 \
        --output="$TMP/train-%j.out" "$CLUSTER_SCRIPTS/train.sbatch")
[[ $job =~ ^[0-9]+$ ]] || fail "sbatch did not return a job id: '$job'"
out=$TMP/train-$job.out
pass "submitted job $job"
wait_job "$job" 300
expect_completed "$job" "$out"
no_leftovers "$job"

grep -q '2 ranks x 1 thread' "$out" || { cat "$out" >&2; fail "the job did not run 2 MPI ranks in one world"; }
[[ $(<"$RUN/status") == completed* ]] || fail "job status file says '$(<"$RUN/status")'"
for step in 469 938; do
  [[ -f $RUN/checkpoints/ckpt-00000$step.pb ]] || fail "no checkpoint for step $step in $RUN/checkpoints: $(ls "$RUN/checkpoints")"
done
[[ $(wc -l <"$RUN/metrics.csv") -ge 2 ]] || fail "metrics.csv has fewer than 2 rows"
pass "checkpoints $(cd "$RUN/checkpoints" && echo ckpt-*.pb) and metrics written"

acc=$(json '["results"][0]["accuracy"]' <"$RUN/score.json")
ck=$(json '["results"][0]["checkpoint"]' <"$RUN/score.json")
[[ $ck == "$RUN/checkpoints/ckpt-00000938.pb" ]] || fail "the job scored $ck, not the final checkpoint"
awk -v a="$acc" 'BEGIN { exit !(a >= 0.97) }' || fail "test accuracy $acc < 0.97"
grep -q "test accuracy $acc" "$out" || fail "the job output does not report accuracy $acc"
# The scorer run by hand agrees with the job's own scoring.
again=$(score "$ck" --data "$DATA" --json | json '["results"][0]["accuracy"]')
[[ $again == "$acc" ]] || fail "digitnet-score gives $again, the job reported $acc"
pass "final checkpoint ckpt-00000938.pb: test accuracy $acc >= 0.97"
