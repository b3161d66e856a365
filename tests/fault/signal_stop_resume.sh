# Preemption without a scheduler: SIGUSR1 to mpirun (which forwards it to every
# rank) stops all ranks after the same step with a checkpoint and exit status 75;
# --resume latest then ends bitwise where an uninterrupted run ends. A second
# signal ends a rank at once and the last good checkpoint stays intact.
source "$(dirname "$0")/lib.sh" "$@"
args=(--data "$DATA" --epochs 2 --batch-size 128 --seed 3 --keep 0)

mpi_train 2 "${args[@]}" --checkpoint-dir "$TMP/whole" --quiet >/dev/null
whole=$(newest_checkpoint "$TMP/whole")
[[ $(basename "$whole") == ckpt-00000938.pb ]] || fail "uninterrupted run ended at $whole"

start_job "$TMP/run.log" "${args[@]}" --checkpoint-dir "$TMP/ckpt"
wait_for 60 "the first checkpoint" have_checkpoint "$TMP/ckpt"
kill -USR1 "$(mpirun_pid)" || fail "mpirun not found"
status=$(job_status "$TMP/run.log")
[[ $status == 75 ]] || { cat "$TMP/run.log"; fail "stopped job exited $status, expected 75"; }
grep -q "stopped by signal 10" "$TMP/run.log" || fail "no stop message"
stopped=$(newest_checkpoint "$TMP/ckpt")
step=$((10#$(basename "$stopped" .pb | cut -d- -f2)))
((step > 469 && step < 938)) || fail "stopped at step $step, expected inside epoch 2"
score "$stopped" --data "$DATA" >/dev/null || fail "the stop checkpoint does not verify"
pass "SIGUSR1: all ranks stopped after step $step, exit 75, checkpoint verifies"

mpi_train 2 "${args[@]}" --checkpoint-dir "$TMP/ckpt" --resume latest --quiet >/dev/null
final=$(newest_checkpoint "$TMP/ckpt")
[[ $(basename "$final") == ckpt-00000938.pb ]] || fail "resumed run ended at $final"
[[ $(params_sha "$final") == $(params_sha "$whole") ]] || fail "stopped+resumed parameters differ from the uninterrupted run"
pass "resumed after the signal: final parameters bitwise equal to the uninterrupted run"

# Second signal: the rank ends at once (killed by the signal), the job ends, and
# the newest checkpoint still verifies.
start_job "$TMP/twice.log" "${args[@]}" --checkpoint-dir "$TMP/twice"
wait_for 60 "the first checkpoint" have_checkpoint "$TMP/twice"
pid=$(rank_pid 1) || fail "rank 1 not found"
kill -USR1 "$pid"
# The kernel merges a signal into one still pending: send the second only once
# the first has been delivered (its bit gone from the pending masks).
usr1_pending() {
  local name mask
  while read -r name mask; do
    [[ $name == SigPnd: || $name == ShdPnd: ]] && (( 16#$mask & 512 )) && return 0
  done <"/proc/$pid/status"
  return 1
}
for _ in $(seq 100); do usr1_pending || break; sleep 0.01; done
kill -USR1 "$pid"
status=$(job_status "$TMP/twice.log")
[[ $status != 0 && $status != 75 ]] || fail "after two signals the job exited $status"
score "$(newest_checkpoint "$TMP/twice")" --data "$DATA" >/dev/null || fail "newest checkpoint broken after two signals"
pass "two signals: job ended at once (status $status), newest checkpoint intact"
