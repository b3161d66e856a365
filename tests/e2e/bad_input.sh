# Bad input gets one clear line and a distinct non-zero status, never a crash or a hang,
# and loses nothing: the last good checkpoint stays intact.
source "$(dirname "$0")/lib.sh" "$@"

# Options (status 2)
expect_error 2 'unrecognised option|unrecognized option' train --data "$DATA" --bogus 1
expect_error 2 '--lr must be a positive number' train --data "$DATA" --lr 0
expect_error 2 '--epochs must be positive' train --data "$DATA" --epochs -3
expect_error 2 '--batch-size must be positive' train --data "$DATA" --batch-size 0
expect_error 2 '--hidden 512,x' train --data "$DATA" --hidden 512,x
expect_error 2 '--collective-timeout must be 0' train --data "$DATA" --collective-timeout -1
expect_error 2 '--resume auto needs --checkpoint-dir' train --data "$DATA" --resume auto
expect_error 2 '--data DIR is required' train --epochs 1
expect_error 2 'the argument .* is invalid|invalid' train --data "$DATA" --epochs many
expect_error 2 '--batch-size 1 is smaller than the 2 ranks' mpi_train 2 --data "$DATA" --batch-size 1
expect_error 2 '--lr-schedule wobbly: expected constant, cosine or step' train --data "$DATA" --lr-schedule wobbly
expect_error 2 '--resume latest needs --checkpoint-dir' train --data "$DATA" --resume latest
printf 'epochs = 1\nnonsense = 3\n' >"$TMP/bad.ini"
expect_error 2 'nonsense' train --data "$DATA" --config "$TMP/bad.ini"
expect_error 2 'cannot open' train --data "$DATA" --config "$TMP/missing.ini"

# Data (status 3)
expect_error 3 'no such directory' train --data "$TMP/nowhere"
mkdir "$TMP/bad-data"
cp "$DATA"/t10k-* "$TMP/bad-data/"
head -c 5000 "$DATA/train-images-idx3-ubyte" >"$TMP/bad-data/train-images-idx3-ubyte"
cp "$DATA/train-labels-idx1-ubyte" "$TMP/bad-data/"
expect_error 3 'train-images-idx3-ubyte: truncated' train --data "$TMP/bad-data"
# A failure on one rank only reaches the user, names the rank, and ends the job.
expect_error 3 'rank 1: .*no such directory' mpirun -np 2 --bind-to none bash -c \
  '[[ $OMPI_COMM_WORLD_RANK == 1 ]] && d='"$TMP/nowhere"' || d='"$DATA"'; exec '"$BIN"'/digitnet-train --data $d --epochs 1'

# Checkpoints (status 4), scorer: corrupt, truncated, foreign, empty, missing.
train --data "$DATA" --hidden 32 --epochs 1 --max-steps 20 --checkpoint-dir "$TMP/ck" --quiet
good="$TMP/ck/ckpt-00000020.pb"
sum_before=$(sha256sum "$good")
head -c 333 "$good" >"$TMP/truncated.pb"
cp "$good" "$TMP/flipped.pb"
printf '\xff' | dd of="$TMP/flipped.pb" bs=1 seek=2000 conv=notrunc status=none
head -c 4096 /dev/urandom >"$TMP/random.pb"
: >"$TMP/empty.pb"
cp "$DATA/t10k-labels-idx1-ubyte" "$TMP/foreign.pb"
for f in truncated flipped random empty foreign; do
  expect_error 4 "$f.pb: " score "$TMP/$f.pb" --data "$DATA"
done
expect_error 4 'cannot open' score "$TMP/absent.pb" --data "$DATA"
expect_error 4 'holds no ckpt' score "$TMP" --data "$DATA"
expect_error 2 'no checkpoint given' score --data "$DATA"
# One bad file among good ones: the good ones are still scored, the status says a file failed.
status=0
score "$good" "$TMP/truncated.pb" --data "$DATA" --json >"$TMP/mixed.json" 2>/dev/null || status=$?
[[ $status == 4 ]] || fail "mixed good/bad scoring exited $status, expected 4"
[[ $(json '["results"].__len__()' <"$TMP/mixed.json") == 1 ]] || fail "the good checkpoint was not scored"
[[ $(json '["errors"].__len__()' <"$TMP/mixed.json") == 1 ]] || fail "the bad checkpoint was not reported"
pass "mixed good and bad checkpoints: good scored, bad reported, status 4"
# Resuming from a corrupt file is refused; the good checkpoint is untouched.
expect_error 4 'corrupted|not a digitnet checkpoint' train --data "$DATA" --resume "$TMP/flipped.pb"
[[ $(sha256sum "$good") == "$sum_before" ]] || fail "the good checkpoint changed"
# An unwritable checkpoint directory fails cleanly.
touch "$TMP/file"
expect_error 2 'checkpoint-dir' train --data "$DATA" --checkpoint-dir "$TMP/file/sub" --epochs 1
pass "all bad inputs refused cleanly"
