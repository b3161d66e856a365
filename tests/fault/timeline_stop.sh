# --timeline after a stop signal: SIGUSR1 to mpirun stops every rank after the
# same step (exit 75), and rank 0 still writes the trace of every step up to it.
source "$(dirname "$0")/lib.sh" "$@"

start_job "$TMP/run.log" --data "$DATA" --train-limit 6000 --batch-size 64 --hidden 64 --epochs 50 \
  --checkpoint-dir "$TMP/ckpt" --checkpoint-every-steps 5 --timeline "$TMP/trace.json"
wait_for 60 "the first checkpoint" have_checkpoint "$TMP/ckpt"
kill -USR1 "$(mpirun_pid)" || fail "mpirun not found"
status=$(job_status "$TMP/run.log")
[[ $status == 75 ]] || { cat "$TMP/run.log"; fail "stopped job exited $status, expected 75"; }
grep -q "timeline: .* spans of every rank in $TMP/trace.json" "$TMP/run.log" || { cat "$TMP/run.log"; fail "no timeline line"; }
stopped=$(newest_checkpoint "$TMP/ckpt")
steps=$((10#$(basename "$stopped" .pb | cut -d- -f2)))
/usr/bin/python3 "$ROOT/tests/e2e/check_timeline.py" "$TMP/trace.json" --ranks 2 --steps "$steps" --rank0 checkpoint \
  --every-rank step,gather,forward,backward,reduce,agree,optimizer >"$TMP/check" || fail "trace after the stop"
pass "stopped by SIGUSR1 after step $steps (exit 75): the trace holds steps 0..$((steps - 1)) of both ranks"
