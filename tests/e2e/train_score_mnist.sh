# End to end on real MNIST: 2 ranks under mpirun train the default model briefly,
# digitnet-score scores the checkpoints, an independent protobuf reader agrees.
source "$(dirname "$0")/lib.sh" "$@"

mpi_train 2 --data "$DATA" --epochs 3 --batch-size 128 --lr 1e-3 --seed 1 \
  --checkpoint-dir "$TMP/ckpt" --keep 2 --metrics "$TMP/metrics.csv" --check-replicas | tee "$TMP/train.log"

ls "$TMP/ckpt"
kept=$(ls "$TMP/ckpt"/ckpt-*.pb | wc -l)
[[ $kept == 2 ]] || fail "--keep 2 left $kept checkpoints"
[[ -f "$TMP/ckpt/best.pb" ]] || fail "no best.pb beside the newest checkpoints"
final="$TMP/ckpt/ckpt-00001407.pb"   # 3 epochs x 469 steps
[[ -f $final ]] || fail "missing $final"
[[ $(wc -l <"$TMP/metrics.csv") == 4 ]] || fail "metrics CSV should have a header and 3 rows"
grep -q 'epoch   3/3' "$TMP/train.log" || fail "no progress line for epoch 3"

score "$TMP/ckpt" --data "$DATA" --json >"$TMP/score.json"
acc=$(json '["results"][-1]["accuracy"]' <"$TMP/score.json")
step=$(json '["results"][-1]["step"]' <"$TMP/score.json")
[[ $step == 1407 ]] || fail "scored step $step, expected 1407"
/usr/bin/python3 -c "import sys; sys.exit(0 if $acc >= 0.97 else 1)" || fail "accuracy $acc < 0.97"
pass "digitnet-score: accuracy $acc at step $step"
# DESIGN.md's JSON contract
for key in checkpoint step epoch accuracy loss confusion; do
  json "['results'][-1]['$key']" <"$TMP/score.json" >/dev/null || fail "JSON lacks $key"
done
[[ $(json '["results"][-1]["confusion"].__len__()' <"$TMP/score.json") == 10 ]] || fail "confusion is not 10x10"

# The readable table names the checkpoint and the accuracy.
score "$final" --data "$DATA" | grep -q "accuracy" || fail "table output lacks accuracy"

# An independent reader (Python protobuf + numpy, DESIGN.md fields only) agrees.
indep=$("$ROOT/scripts/read_checkpoint.py" "$final" --data "$DATA" | json '["accuracy"]')
/usr/bin/python3 -c "import sys; sys.exit(0 if abs($indep - $acc) < 1e-9 else 1)" ||
  fail "independent reader says $indep, digitnet-score $acc"
pass "independent reader: accuracy $indep"
