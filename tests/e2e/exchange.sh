# Every way of running the gradient exchange trains the same network, bitwise:
# the owner of a slice sums the ranks' blocks in rank order and Adam is
# element-wise, so neither who moves the exchange (--progress poll or thread) nor
# how the gradient is cut into buckets (--bucket-mb) may change a bit. With
# clipping (every bucket waited for before the norm), polling and the exchange
# thread agree too. --check-replicas holds in every run. Three ranks: with two,
# a + b == b + a and an order that changed would go unseen.
source "$(dirname "$0")/lib.sh" "$@"
common=(--data "$DATA" --hidden 128,64 --epochs 1 --train-limit 12000 --batch-size 100 --seed 3 --quiet
        --check-replicas)

run() {  # run NAME NP OPTIONS...: trains into $TMP/NAME, prints the parameters' SHA-256
  local name=$1 np=$2
  shift 2
  mpi_train "$np" "${common[@]}" "$@" --checkpoint-dir "$TMP/$name" >/dev/null
  params_sha "$TMP/$name/ckpt-00000120.pb"
}

poll=$(run poll 3 --progress poll)
[[ $(run thread 3 --progress thread) == "$poll" ]] || fail "--progress thread differs from --progress poll"
[[ $(run one-bucket 3 --bucket-mb 0) == "$poll" ]] || fail "--bucket-mb 0 (one bucket) differs from the default buckets"
[[ $(run small-buckets 3 --bucket-mb 0.05 --progress thread) == "$poll" ]] ||
  fail "--bucket-mb 0.05 with the exchange thread differs from the default"
pass "3 ranks: polling, exchange thread, one bucket, small buckets: the same parameters ($poll)"

clip=(--clip-grad-norm 0.05)  # small enough to clip every step
a=$(run clip-poll 3 "${clip[@]}" --progress poll)
b=$(run clip-thread 3 "${clip[@]}" --progress thread)
[[ $a == "$b" ]] || fail "3 ranks with clipping: --progress thread differs from --progress poll ($a vs $b)"
[[ $a != "$(run plain3 3)" ]] || fail "--clip-grad-norm 0.05 changed nothing: the clipping path was not exercised"
pass "3 ranks with clipping: polling and exchange thread give the same parameters ($a)"
