#!/usr/bin/env bash
# cluster/slurm/sweep.sbatch as a 4-task job array (lr {1e-3,3e-3} x hidden
# {256,256; 512,512}, 100 steps each), then cluster/slurm/gather_sweep.py: every task
# completes and writes its result, the table has one row per task, best first.
source "$(dirname "$0")/lib.sh" "$@"

SWEEP=$TMP/sweep
job=$(SWEEP_DIR=$SWEEP EPOCHS=1 EXTRA_ARGS="--max-steps 100" \
        submit --array=0-3 --output="$TMP/sweep-%A_%a.out" "$CLUSTER_SCRIPTS/sweep.sbatch")
[[ $job =~ ^[0-9]+$ ]] || fail "sbatch did not return a job id: '$job'"
pass "submitted array job $job (tasks 0-3)"
wait_job "$job" 300

states=$(job_field "$job" JobState | sort | uniq -c | xargs)
codes=$(job_field "$job" ExitCode | sort | uniq -c | xargs)
[[ $states == "4 COMPLETED" && $codes == "4 0:0" ]] ||
  { tail -n 5 "$TMP"/sweep-*.out >&2; fail "array job $job: states '$states', exit codes '$codes'"; }
pass "all 4 array tasks COMPLETED with exit code 0:0"
for id in $(job_field "$job" JobId); do no_leftovers "$id"; done

ls "$SWEEP"/result-{0,1,2,3}.json >/dev/null || fail "missing result files: $(ls "$SWEEP")"
"$ROOT/cluster/slurm/gather_sweep.py" "$SWEEP" >"$TMP/table" || { cat "$TMP/table"; fail "gather_sweep.py failed"; }
cat "$TMP/table"
[[ $(wc -l <"$TMP/table") == 5 ]] || fail "expected a header and 4 rows"
"$ROOT/cluster/slurm/gather_sweep.py" "$SWEEP" --csv >"$TMP/table.csv" || fail "gather_sweep.py --csv failed"
/usr/bin/python3 - "$TMP/table.csv" <<'PY' || fail "the gathered table is wrong"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 4, f"{len(rows)} rows, expected 4"
assert sorted(int(r["task"]) for r in rows) == [0, 1, 2, 3], "not one row per task"
acc = [float(r["accuracy"]) for r in rows]
assert acc == sorted(acc, reverse=True), f"not sorted best first: {acc}"
grid = {0: ("1e-3", "256,256"), 1: ("3e-3", "256,256"), 2: ("1e-3", "512,512"), 3: ("3e-3", "512,512")}
for r in rows:
    t = int(r["task"])
    assert (r["lr"], r["hidden"]) == grid[t], f"task {t}: lr {r['lr']} hidden {r['hidden']}"
    assert int(r["steps"]) == 100, f"task {t}: {r['steps']} steps"
    assert 0.8 < float(r["accuracy"]) <= 1, f"task {t}: accuracy {r['accuracy']}"
PY
pass "one row per task, grid points right, sorted by accuracy (best $(sed -n 2p "$TMP/table" | awk '{print $5}'))"

# A missing task is reported (exit status 1), the rest still tabulated.
rm "$SWEEP/result-2.json"
status=0
"$ROOT/cluster/slurm/gather_sweep.py" "$SWEEP" >"$TMP/table" 2>"$TMP/err" || status=$?
if [[ $status != 1 || $(wc -l <"$TMP/table") != 4 ]] || ! grep -q 'no result yet for 1 of 4 tasks: 2' "$TMP/err"; then
  fail "a missing result was not reported (status $status: $(cat "$TMP/err"))"
fi
pass "a missing task is reported: $(cat "$TMP/err")"
