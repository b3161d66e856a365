# Resume is exact (DESIGN.md invariant 4): stop at --max-steps and resume gives
# bitwise the final parameters of an uninterrupted run (2 ranks; 3 ranks with small
# buckets and the bf16 wire); 2-rank checkpoints resume on 1 and on 3 ranks; incompatible resumes are refused; a corrupt newest file is skipped.
source "$(dirname "$0")/lib.sh" "$@"
common=(--data "$DATA" --hidden 128,64 --epochs 2 --batch-size 100 --seed 7 --quiet)

mpi_train 2 "${common[@]}" --checkpoint-dir "$TMP/full"
mpi_train 2 "${common[@]}" --checkpoint-dir "$TMP/split" --max-steps 850
[[ -f $TMP/split/ckpt-00000850.pb ]] || fail "--max-steps 850 wrote no ckpt-00000850.pb"
[[ ! -f $TMP/split/ckpt-00001200.pb ]] || fail "--max-steps did not stop the run"
# Resume with nothing but the data and the directory: the rest comes from the checkpoint.
mpi_train 2 --data "$DATA" --checkpoint-dir "$TMP/split" --resume latest --quiet
a=$(params_sha "$TMP/full/ckpt-00001200.pb")
b=$(params_sha "$TMP/split/ckpt-00001200.pb")
[[ $a == "$b" ]] || fail "resumed run differs from the uninterrupted one ($a vs $b)"
pass "stop at 850 + resume == uninterrupted run, bitwise ($a)"
# The final step counts match too.
[[ $(score "$TMP/split/ckpt-00001200.pb" --data "$DATA" --json | json '["results"][0]["step"]') == 1200 ]] ||
  fail "resumed run ended at the wrong step"

# A 2-rank checkpoint continues on 1 rank (same global batch), to the same step count.
mkdir "$TMP/one" && cp "$TMP/split/ckpt-00000850.pb" "$TMP/one/"
train --data "$DATA" --checkpoint-dir "$TMP/one" --resume latest --quiet
[[ -f $TMP/one/ckpt-00001200.pb ]] || fail "1-rank resume did not reach step 1200"
acc=$(score "$TMP/one/ckpt-00001200.pb" --data "$DATA" --json | json '["results"][0]["accuracy"]')
/usr/bin/python3 -c "import sys; sys.exit(0 if $acc >= 0.95 else 1)" || fail "1-rank resume accuracy $acc"
pass "2-rank checkpoint resumed on 1 rank: accuracy $acc"

# ... and on 3 ranks: the sharded optimizer re-shards the moments (2 slices -> 3).
mkdir "$TMP/three" && cp "$TMP/split/ckpt-00000850.pb" "$TMP/three/"
mpi_train 3 --data "$DATA" --checkpoint-dir "$TMP/three" --resume latest --quiet
acc=$(score "$TMP/three/ckpt-00001200.pb" --data "$DATA" --json | json '["results"][0]["accuracy"]')
/usr/bin/python3 -c "import sys; sys.exit(0 if $acc >= 0.95 else 1)" || fail "3-rank resume accuracy $acc"
pass "2-rank checkpoint resumed on 3 ranks: accuracy $acc"

# Exact on 3 ranks too, with small buckets and the bf16 wire (uneven slices, 3 buckets).
wire=(--bucket-mb 0.1 --grad-wire bf16)
mpi_train 3 "${common[@]}" "${wire[@]}" --checkpoint-dir "$TMP/full3"
mpi_train 3 "${common[@]}" "${wire[@]}" --checkpoint-dir "$TMP/split3" --max-steps 700
mpi_train 3 --data "$DATA" "${wire[@]}" --checkpoint-dir "$TMP/split3" --resume latest --quiet
a=$(params_sha "$TMP/full3/ckpt-00001200.pb")
b=$(params_sha "$TMP/split3/ckpt-00001200.pb")
[[ $a == "$b" ]] || fail "3-rank bf16-wire resumed run differs from the uninterrupted one ($a vs $b)"
pass "3 ranks, --bucket-mb 0.1 --grad-wire bf16: stop at 700 + resume == uninterrupted run, bitwise ($a)"

# Incompatible configurations are refused, saying what differs.
expect_error 4 'layers are 784-128-64-10, --hidden asks for 784-256-10' \
  train --data "$DATA" --resume "$TMP/split/ckpt-00000850.pb" --hidden 256
expect_error 4 'global batch is 100, --batch-size asks for 64' \
  train --data "$DATA" --resume "$TMP/split/ckpt-00000850.pb" --batch-size 64

# A corrupt newest checkpoint is skipped with a warning; the last good one is used.
mkdir "$TMP/corrupt" && cp "$TMP/split/ckpt-00000850.pb" "$TMP/corrupt/"
head -c 1000 "$TMP/split/ckpt-00001200.pb" >"$TMP/corrupt/ckpt-00001200.pb"
train --data "$DATA" --checkpoint-dir "$TMP/corrupt" --resume latest --max-steps 851 2>"$TMP/warn" >/dev/null
grep -q 'warning: skipping .*ckpt-00001200.pb' "$TMP/warn" || fail "no warning about the corrupt checkpoint"
[[ -f $TMP/corrupt/ckpt-00000851.pb ]] || fail "did not resume from the last good checkpoint"
pass "corrupt newest checkpoint skipped"

# --resume auto (what requeued jobs use): fresh when the directory has no
# checkpoint, resumes when it has one.
train --data "$DATA" --hidden 32 --epochs 1 --max-steps 10 --checkpoint-dir "$TMP/auto" --resume auto >"$TMP/auto1.log"
grep -q "resumed from" "$TMP/auto1.log" && fail "--resume auto resumed from an empty directory"
[[ -f "$TMP/auto/ckpt-00000010.pb" ]] || fail "--resume auto (fresh) wrote no checkpoint at step 10"
train --data "$DATA" --epochs 1 --max-steps 20 --checkpoint-dir "$TMP/auto" --resume auto >"$TMP/auto2.log"
grep -q "resumed from $TMP/auto/ckpt-00000010.pb" "$TMP/auto2.log" || fail "--resume auto did not resume"
[[ -f "$TMP/auto/ckpt-00000020.pb" ]] || fail "--resume auto (resumed) did not reach step 20"
pass "--resume auto: fresh start, then resume"
