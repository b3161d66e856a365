# A rank killed mid-epoch (SIGKILL: no handler runs) ends the whole job promptly
# with a non-zero status and a message naming the rank; the newest checkpoint
# verifies and --resume latest finishes the run.
source "$(dirname "$0")/lib.sh" "$@"
args=(--data "$DATA" --epochs 3 --batch-size 128 --seed 1 --checkpoint-dir "$TMP/ckpt")

start_job "$TMP/run.log" "${args[@]}"
wait_for 60 "the first checkpoint" have_checkpoint "$TMP/ckpt"
sleep 0.5   # mid-epoch
pid=$(rank_pid 1) || fail "rank 1 not found"
killed_at=$SECONDS
kill -KILL "$pid"
status=$(job_status "$TMP/run.log")
took=$((SECONDS - killed_at))
[[ $status != 0 ]] || fail "job exited 0 after a rank was killed"
((took <= 30)) || fail "job took $took s to end after a rank died"
grep -Eq "rank 1 .*(signal 9|Killed)" "$TMP/run.log" || { cat "$TMP/run.log"; fail "no message naming rank 1"; }
pass "rank 1 killed: job ended in ${took} s with status $status: $(grep -Em1 'rank 1 ' "$TMP/run.log")"

newest=$(newest_checkpoint "$TMP/ckpt")
score "$newest" --data "$DATA" >/dev/null || fail "newest checkpoint $newest does not verify"
mpi_train 2 "${args[@]}" --resume latest --quiet >/dev/null
final=$(newest_checkpoint "$TMP/ckpt")
[[ $(basename "$final") == ckpt-00001407.pb ]] || fail "resumed run ended at $final"
pass "resumed from $(basename "$newest") and finished at $(basename "$final")"
