# --precision bf16: training on MNIST reaches a sane accuracy as digitnet-score
# (f32) scores it; the precision is recorded in the checkpoint, a resume continues
# in bf16 bitwise as an uninterrupted run, --precision f32 on resume overrides it;
# 2 ranks stay bitwise equal in bf16; a bad value gets one line.
source "$(dirname "$0")/lib.sh" "$@"
common=(--data "$DATA" --hidden 128 --batch-size 100 --seed 3 --epochs 1)

train "${common[@]}" --precision bf16 --checkpoint-dir "$TMP/full" >"$TMP/full.log"
grep -q '^digitnet-train: bf16 GEMMs' "$TMP/full.log" || { cat "$TMP/full.log"; fail "no bf16 line in the header"; }
pass "$(grep -m1 'bf16 GEMMs' "$TMP/full.log")"
acc=$(score "$TMP/full/ckpt-00000600.pb" --data "$DATA" --json | json '["results"][0]["accuracy"]')
# f32 reaches 95.1% with these settings; broken bf16 gradients would be far below.
/usr/bin/python3 -c "import sys; sys.exit(0 if $acc >= 0.94 else 1)" || fail "bf16, 1 epoch of 784-128-10: accuracy $acc < 0.94"
pass "bf16 training, 1 epoch of 784-128-10: test accuracy $acc (digitnet-score, f32)"

# Stop at 300 and resume with nothing but the directory: the checkpoint says bf16.
train "${common[@]}" --precision bf16 --checkpoint-dir "$TMP/split" --max-steps 300 --quiet
train --data "$DATA" --checkpoint-dir "$TMP/split" --resume latest >"$TMP/resume.log"
grep -q '^digitnet-train: bf16 GEMMs' "$TMP/resume.log" || { cat "$TMP/resume.log"; fail "resume did not continue in bf16"; }
a=$(params_sha "$TMP/full/ckpt-00000600.pb")
b=$(params_sha "$TMP/split/ckpt-00000600.pb")
[[ $a == "$b" ]] || fail "bf16 resumed run differs from the uninterrupted one ($a vs $b)"
pass "bf16: stop at 300 + resume (precision from the checkpoint) == uninterrupted run, bitwise"

# The option does something: f32 ends elsewhere after the same 300 steps.
train "${common[@]}" --checkpoint-dir "$TMP/f32" --max-steps 300 --quiet
[[ $(params_sha "$TMP/f32/ckpt-00000300.pb") != $(params_sha "$TMP/split/ckpt-00000300.pb") ]] ||
  fail "f32 and bf16 runs gave the same parameters"

# --precision f32 on resume overrides the recorded bf16, and is recorded in turn.
mkdir "$TMP/over" && cp "$TMP/split/ckpt-00000300.pb" "$TMP/over/"
train --data "$DATA" --checkpoint-dir "$TMP/over" --resume latest --precision f32 --max-steps 301 >"$TMP/over.log"
train --data "$DATA" --checkpoint-dir "$TMP/over" --resume latest --max-steps 302 >"$TMP/over2.log"
if grep -q 'bf16' "$TMP/over.log" "$TMP/over2.log"; then fail "--precision f32 on resume did not override bf16"; fi
pass "--precision f32 on resume overrides the checkpoint's bf16, and the next resume keeps f32"

# Two ranks in bf16: the replicas are compared bitwise after every step.
mpi_train 2 "${common[@]}" --precision bf16 --max-steps 40 --check-replicas --quiet
pass "2 ranks in bf16 stay bitwise equal (--check-replicas)"

expect_error 2 '--precision fp16: expected f32 or bf16' train --data "$DATA" --precision fp16
