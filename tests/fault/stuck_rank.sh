# A stopped (stuck) rank cannot freeze the job: the others wait at most
# --collective-timeout in a collective, then end the job with a message.
source "$(dirname "$0")/lib.sh" "$@"

start_job "$TMP/run.log" --data "$DATA" --epochs 3 --seed 1 --checkpoint-dir "$TMP/ckpt" --collective-timeout 5
wait_for 60 "the first checkpoint" have_checkpoint "$TMP/ckpt"
pid=$(rank_pid 1) || fail "rank 1 not found"
stopped_at=$SECONDS
kill -STOP "$pid"
status=$(job_status "$TMP/run.log")
took=$((SECONDS - stopped_at))
kill -KILL "$pid" 2>/dev/null || true
[[ $status != 0 ]] || fail "job exited 0 with a stopped rank"
((took <= 30)) || fail "job took $took s to end with a stopped rank (timeout 5 s)"
grep -q "rank 0 .*has waited .* for the other ranks.*--collective-timeout 5" "$TMP/run.log" ||
  { cat "$TMP/run.log"; fail "no watchdog message from rank 0"; }
pass "stopped rank 1: watchdog ended the job in ${took} s (status $status)"
score "$(newest_checkpoint "$TMP/ckpt")" --data "$DATA" >/dev/null || fail "newest checkpoint does not verify"
