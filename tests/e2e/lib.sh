# Shared helpers of the end-to-end tests. Usage in a test: source lib.sh "$@"
# Arguments: BIN_DIR (holding digitnet-train, digitnet-score) and MNIST_DIR.
set -euo pipefail
BIN=${1:?usage: $0 BIN_DIR MNIST_DIR}
DATA=${2:?usage: $0 BIN_DIR MNIST_DIR}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# Open MPI refuses to run as root unless told; tests may run as root.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
TMP=$(mktemp -d /tmp/digitnet-e2e.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

[[ -f "$DATA/train-images-idx3-ubyte" || -f "$DATA/train-images-idx3-ubyte.gz" ]] ||
  { echo "FAIL: no MNIST in $DATA (run scripts/fetch-mnist.sh $DATA)" >&2; exit 1; }

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

train() { "$BIN/digitnet-train" "$@"; }
score() { "$BIN/digitnet-score" "$@"; }
# mpirun with NP ranks; --bind-to none so a rank may use both cores' threads.
mpi_train() { local np=$1; shift; mpirun -np "$np" --oversubscribe --bind-to none "$BIN/digitnet-train" "$@"; }
# A JSON field of stdin, e.g. json '["results"][0]["accuracy"]'.
json() { /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
params_sha() { "$ROOT/scripts/read_checkpoint.py" "$1" | json '["params_sha256"]'; }

# expect_error STATUS PATTERN CMD...: CMD must exit with STATUS, and its stderr must
# be a single line matching PATTERN (mpirun may add its own lines after ours).
expect_error() {
  local want=$1 pattern=$2; shift 2
  local status=0
  "$@" >"$TMP/out" 2>"$TMP/err" || status=$?
  [[ $status == "$want" ]] || { cat "$TMP/err" >&2; fail "'$*' exited $status, expected $want"; }
  grep -Eq -e "$pattern" "$TMP/err" || { cat "$TMP/err" >&2; fail "'$*': stderr does not match '$pattern'"; }
  local ours
  ours=$(grep -c '^digitnet-' "$TMP/err" || true)
  [[ $ours == 1 ]] || { cat "$TMP/err" >&2; fail "'$*': expected one error line, got $ours"; }
  pass "'$*' -> status $status: $(grep -m1 '^digitnet-' "$TMP/err")"
}
