#!/usr/bin/env bash
# A wrong launch under Slurm is refused: srun without PMIx (--mpi=none, or pmi2, which
# this Open MPI lacks) would start N singletons, each "rank 0 of 1". digitnet-train must
# exit non-zero with one line of its own that names srun and --mpi=pmix, and write nothing.
source "$(dirname "$0")/lib.sh" "$@"

for mpi in none pmi2; do
  status=0
  timeout 120 srun --job-name="$JOB_NAME" -n 2 --mpi=$mpi "$BIN/digitnet-train" --data "$DATA" \
    --max-steps 5 --checkpoint-dir "$TMP/wrong" >"$TMP/out" 2>"$TMP/err" || status=$?
  ((status != 0)) || fail "srun --mpi=$mpi: digitnet-train exited 0"
  grep -q '^digitnet-train: .*srun.*--mpi=pmix' "$TMP/err" ||
    { cat "$TMP/err" >&2; fail "srun --mpi=$mpi (status $status): no digitnet-train message naming srun and --mpi=pmix"; }
  lines=$(grep -c '^digitnet-train:' "$TMP/err")
  [[ $lines == 1 ]] || { cat "$TMP/err" >&2; fail "srun --mpi=$mpi: $lines digitnet-train lines, expected one"; }
  ! compgen -G "$TMP/wrong/ckpt-*" >/dev/null || fail "srun --mpi=$mpi: a checkpoint was written"
  pass "srun --mpi=$mpi refused (status $status): $(grep -m1 '^digitnet-train:' "$TMP/err")"
done
