# Checkpoints on a cadence. --checkpoint-every-steps N writes one every N steps
# inside epochs, so a SIGKILL of every rank at once (no handler runs, nothing is
# flushed) loses at most N steps, and --resume latest then ends bitwise where an
# uninterrupted run ends. --checkpoint-every-seconds S writes them by rank 0's
# clock, agreed by all ranks inside the step.
source "$(dirname "$0")/lib.sh" "$@"
args=(--data "$DATA" --epochs 2 --batch-size 128 --seed 5 --hidden 256,256)  # 469 steps an epoch

mpi_train 2 "${args[@]}" --checkpoint-dir "$TMP/whole" --quiet >/dev/null
whole=$(newest_checkpoint "$TMP/whole")
[[ $(basename "$whole") == ckpt-00000938.pb ]] || fail "uninterrupted run ended at $whole"

step_of() { echo $((10#$(basename "$1" .pb | cut -d- -f2))); }
past_step() { local f; f=$(newest_checkpoint "$1" 2>/dev/null) && (($(step_of "$f") > $2)); }

start_job "$TMP/run.log" "${args[@]}" --checkpoint-dir "$TMP/ckpt" --checkpoint-every-steps 40 --keep 3
wait_for 90 "a checkpoint inside epoch 2" past_step "$TMP/ckpt" 520
pids="$(rank_pid 0) $(rank_pid 1)" || fail "ranks not found"
kill -KILL $pids
status=$(job_status "$TMP/run.log")
[[ $status != 0 ]] || fail "job exited 0 after every rank was killed"
mapfile -t kept < <(ls "$TMP/ckpt"/ckpt-*.pb | sort)
((${#kept[@]} == 3)) || fail "--keep 3 left ${#kept[@]} checkpoints"
for ((i = 1; i < 3; ++i)); do
  gap=$(($(step_of "${kept[i]}") - $(step_of "${kept[i - 1]}")))
  ((gap > 0 && gap <= 40)) || fail "checkpoints $(basename "${kept[i - 1]}") and $(basename "${kept[i]}") are $gap steps apart, expected at most 40"
done
newest=${kept[2]}
score "$newest" --data "$DATA" >/dev/null || fail "newest checkpoint $newest does not verify"
grep -q "checkpoint inside the epoch: .* MB in [0-9]* ms" "$TMP/run.log" || { cat "$TMP/run.log"; fail "no line with the checkpoint's cost"; }
pass "every rank killed after step $(step_of "$newest")+: checkpoints every 40 steps ($(grep -o '[0-9.]* MB in [0-9]* ms' "$TMP/run.log"))"

mpi_train 2 "${args[@]}" --checkpoint-dir "$TMP/ckpt" --resume latest --quiet >/dev/null
final=$(newest_checkpoint "$TMP/ckpt")
[[ $(basename "$final") == ckpt-00000938.pb ]] || fail "resumed run ended at $final"
[[ $(params_sha "$final") == $(params_sha "$whole") ]] || fail "killed+resumed parameters differ from the uninterrupted run"
pass "resumed from $(basename "$newest"): final parameters bitwise equal to the uninterrupted run"

# By the clock: rank 0 decides, every rank writes nothing but rank 0, and the
# checkpoints fall between epoch ends.
mpi_train 2 --data "$DATA" --epochs 1 --seed 5 --checkpoint-dir "$TMP/clock" --checkpoint-every-seconds 0.7 \
  >"$TMP/clock.log"
inside=0
for f in "$TMP/clock"/ckpt-*.pb; do (($(step_of "$f") % 469 != 0)) && inside=$((inside + 1)); done
((inside >= 2)) || { cat "$TMP/clock.log"; fail "--checkpoint-every-seconds 0.7 wrote $inside checkpoints inside a 3 s epoch"; }
grep -q "checkpoints inside epochs, [0-9]* ms each" "$TMP/clock.log" || fail "no summary of the checkpoints' cost"
pass "--checkpoint-every-seconds 0.7: $inside checkpoints inside the epoch ($(grep -o '[0-9]* ms each' "$TMP/clock.log"))"
