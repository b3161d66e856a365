#!/usr/bin/env bash
# Usage: scripts/fuzz.sh SECONDS
# Coverage-guided fuzzing: runs every fuzz target of tests/fuzz (idx, checkpoint,
# image) for SECONDS each, one after the other on one core, and exits 0 only
# when nothing was found. Installs clang and libFuzzer (install-deps.sh --fuzz),
# builds the targets with -fsanitize=fuzzer,address,undefined in build-fuzz/
# (-DDIGITNET_FUZZ=ON; the normal g++ build is not touched), makes the seed
# corpora from MNIST and digitnet's own writers (tests/fuzz/regressions/TARGET
# are seeds too), then prints per target the executions, the coverage
# (libFuzzer's cov and ft) and the findings.
#
# A finding is a crash, a sanitizer report, a failed check of what a reader
# returned, a leak, a timeout (> 10 s for one input) or running out of memory
# (> 2 GiB); a digitnet::Error is the expected refusal of a bad input. Findings
# are kept in build-fuzz/fuzz/findings/TARGET/ (replay one with
# build-fuzz/tests/fuzz/fuzz_TARGET FILE); a target whose fuzzer stopped on one
# is started again until its SECONDS are used up. The corpora grow across runs
# in build-fuzz/fuzz/corpus/TARGET/ (delete it to start from the seeds again).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:?usage: scripts/fuzz.sh SECONDS}
[[ $seconds =~ ^[1-9][0-9]*$ ]] || { echo "fuzz: SECONDS must be a positive whole number, got '$seconds'" >&2; exit 2; }

scripts/install-deps.sh --fuzz
mnist=${DIGITNET_MNIST_DIR:-data/mnist}
scripts/fetch-mnist.sh "$mnist"

build=build-fuzz
cmake -S . -B "$build" -DDIGITNET_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j1  # one core: the fuzzers take one too, the other stays free

work=$build/fuzz
rm -rf "$work/seeds" "$work/logs"
mkdir -p "$work/logs"
"$build/tests/fuzz/fuzz_seeds" "$work/seeds" "$mnist"

# One process, one thread per fuzzer (what -jobs=1 -workers=1 would give, without
# the extra supervising process); OpenMP is not needed by the readers.
export OMP_NUM_THREADS=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
[[ -x /usr/lib/llvm-14/bin/llvm-symbolizer ]] && export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer

declare -A max_len=([idx]=4096 [checkpoint]=4096 [image]=8192)
# Value profiles (comparison operands as coverage) lead the checkpoint target to the
# limits its decoder compares against; they made idx 3x slower for nothing (most of
# its inputs claim large arrays and allocate a 64 MiB chunk), image cannot afford them.
declare -A extra=([idx]=-use_value_profile=0 [checkpoint]=-use_value_profile=1 [image]=-use_value_profile=0)
total_findings=0
summary=()
for target in idx checkpoint image; do
  corpus=$work/corpus/$target findings=$work/findings/$target
  mkdir -p "$corpus" "$findings"
  end=$((SECONDS + seconds)) runs=0 sessions=0 found=0 cov=0 ft=0
  # A fuzzer stops at its first finding; start it again (from the grown corpus)
  # while time is left, at most 20 times.
  while (( SECONDS < end && sessions < 20 )); do
    sessions=$((sessions + 1))
    log=$work/logs/$target-$sessions.log
    rc=0
    # new inputs go to the first directory; the seeds and the kept regressions are read only
    "$build/tests/fuzz/fuzz_$target" "$corpus" "$work/seeds/$target" "tests/fuzz/regressions/$target" -max_total_time=$((end - SECONDS)) \
      -timeout=10 -rss_limit_mb=2048 -max_len="${max_len[$target]}" -dict="tests/fuzz/$target.dict" \
      "${extra[$target]}" -print_final_stats=1 \
      -artifact_prefix="$findings/" >"$log" 2>&1 || rc=$?
    n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    runs=$((runs + ${n:-0}))
    # the last status line: "#1234  DONE   cov: 957 ft: 1184 corp: ..." (or the last pulse before a crash)
    last=$(grep -E '^#[0-9]+.*cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 || true)
    if [[ -n $last ]]; then
      cov=$(sed -E 's/.*cov: ([0-9]+).*/\1/' <<<"$last") ft=$(sed -E 's/.*ft: ([0-9]+).*/\1/' <<<"$last")
    fi
    if ((rc == 0)); then break; fi
    found=$((found + 1))
    echo "fuzz: $target: finding (exit $rc), see $log"
    grep -E '^(==[0-9]+==ERROR|SUMMARY|digitnet fuzz check failed|.*runtime error)' "$log" | head -3 | sed 's/^/  /' || true
  done
  total_findings=$((total_findings + found))
  line=$(printf '%-10s %12s executions  cov %5s  ft %6s  corpus %5s  findings %s' "$target" "$runs" "$cov" "$ft" \
         "$(find "$corpus" -type f | wc -l)" "$found")
  echo "fuzz: $line"
  summary+=("$line")
done

echo
echo "fuzz: $seconds s per target (logs in $work/logs)"
printf '  %s\n' "${summary[@]}"
if ((total_findings > 0)); then
  echo "fuzz: $total_findings finding(s), kept in $work/findings/"
  exit 1
fi
echo "fuzz: nothing found"
