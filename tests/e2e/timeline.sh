# --timeline FILE: a real 2-rank run writes one Chrome trace with both ranks'
# tracks and every span of every step (check_timeline.py says what is checked);
# a 1-rank run with augmentation shows the prefetch thread's track; an unwritable
# path is refused before training; scripts/plot_timeline.py draws the trace.
source "$(dirname "$0")/lib.sh" "$@"
check() { /usr/bin/python3 "$ROOT/tests/e2e/check_timeline.py" "$@"; }
small=(--data "$DATA" --train-limit 2048 --batch-size 256 --hidden 32 --seed 5)

# 2 epochs of 8 steps, stopped by --max-steps 12: an evaluation and a checkpoint at
# the end of epoch 1 and at the stop.
mpi_train 2 "${small[@]}" --epochs 2 --max-steps 12 --checkpoint-dir "$TMP/ckpt" --timeline "$TMP/trace.json" \
  >"$TMP/out" || { cat "$TMP/out"; fail "2-rank run with --timeline failed"; }
grep -q "timeline: .* spans of every rank in $TMP/trace.json" "$TMP/out" || { cat "$TMP/out"; fail "no timeline line"; }
check "$TMP/trace.json" --ranks 2 --steps 12 --rank0 checkpoint \
  --every-rank step,gather,forward,backward,reduce,agree,optimizer,evaluate || fail "2-rank trace"
pass "2 ranks, 12 steps: $(grep -o 'timeline: .*' "$TMP/out")"

# The same run without --timeline trains the same bits (the spans change nothing).
mpi_train 2 "${small[@]}" --epochs 2 --max-steps 12 --checkpoint-dir "$TMP/plain" --quiet >/dev/null
[[ $(params_sha "$TMP/ckpt/ckpt-00000012.pb") == $(params_sha "$TMP/plain/ckpt-00000012.pb") ]] ||
  fail "--timeline changed the trained parameters"
pass "the same parameters with and without --timeline"

# 1 rank x 1 thread with augmentation prefetches on a second thread (given a
# spare core): its own track.
if (($(nproc) >= 2)); then
  train "${small[@]}" --epochs 1 --threads 1 --rotate 10 --timeline "$TMP/prefetch.json" --quiet >/dev/null
  check "$TMP/prefetch.json" --ranks 1 --steps 8 --prefetch \
    --every-rank step,gather,"batch wait",forward,backward,optimizer,evaluate || fail "1-rank trace with prefetching"
  pass "1 rank with prefetching: gathers on the prefetch track"
else
  echo "skipped: the prefetch track (one core: no prefetching)"
fi

expect_error 2 "--timeline $TMP/no/such/dir/t.json: cannot write" \
  train "${small[@]}" --epochs 1 --timeline "$TMP/no/such/dir/t.json"

"$ROOT/scripts/plot_timeline.py" "$TMP/trace.json" -o "$TMP/trace.png" --steps 9,3 >/dev/null
[[ -s $TMP/trace.png ]] || fail "plot_timeline.py drew nothing"
expect_status() { local want=$1; shift; local s=0; "$@" 2>"$TMP/err" || s=$?; [[ $s == "$want" ]] || fail "'$*' exited $s"; }
expect_status 2 "$ROOT/scripts/plot_timeline.py" "$TMP/out" -o "$TMP/x.png"
grep -q "not a Chrome trace" "$TMP/err" || fail "plot_timeline.py on a non-trace: $(cat "$TMP/err")"
pass "plot_timeline.py draws the trace and refuses a non-trace in one line"
