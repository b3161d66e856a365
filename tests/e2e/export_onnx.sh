# digitnet-export on real MNIST: models trained here are exported to ONNX, checked by
# the ONNX checker (python3-onnx), and run on every test image in ONNX Runtime for
# Node.js (onnxruntime-node, installed by scripts/install-onnxruntime.sh). Their
# probabilities must equal digitnet-score's within 1e-5 and their accuracy be the same.
# Two shapes: 784-37-23-10 on MNIST, and 196-5 (no hidden layer) on 14x14 digits 0-4.
source "$(dirname "$0")/lib.sh" "$@"
HERE=$(cd "$(dirname "$0")" && pwd)

ORT=$("$ROOT/scripts/install-onnxruntime.sh")
export NODE_PATH=$ORT/node_modules
idx_file() { [[ -f $1 ]] && echo "$1" || echo "$1.gz"; }
below() { /usr/bin/python3 -c "import sys; sys.exit(0 if $1 < $2 else 1)"; }

# export_and_compare NAME DATA_DIR ROWS COLS CLASSES HIDDEN: trains one epoch, exports,
# checks the graph, runs it in ONNX Runtime and compares with digitnet-score.
export_and_compare() {
  local name=$1 data=$2 rows=$3 cols=$4 classes=$5 hidden=$6
  # 100 steps on 12,800 images: a model far from random, in a few seconds
  train --data "$data" --hidden "$hidden" --epochs 1 --train-limit 12800 --batch-size 128 --threads 2 \
    --checkpoint-dir "$TMP/$name" --quiet
  "$BIN/digitnet-export" "$TMP/$name" --onnx "$TMP/$name.onnx"
  "$HERE/onnx_check.py" "$TMP/$name.onnx" "$rows" "$cols" "$classes" "$hidden" || fail "$name: the ONNX graph"
  score "$TMP/$name" --data "$data" --probabilities "$TMP/$name.csv" --json >"$TMP/$name.json"
  node "$HERE/onnx_run.js" "$TMP/$name.onnx" "$(idx_file "$data/t10k-images-idx3-ubyte")" \
    "$(idx_file "$data/t10k-labels-idx1-ubyte")" "$TMP/$name.csv" >"$TMP/$name.run.json"
  local r="$TMP/$name.run.json" count correct
  count=$(json '["results"][0]["count"]' <"$TMP/$name.json")
  correct=$(json '["results"][0]["correct"]' <"$TMP/$name.json")
  echo "$name: onnxruntime-node: $(cat "$r")"
  [[ $(json '["images"]' <"$r") == "$count" && $(json '["digitnet_rows"]' <"$r") == "$count" ]] ||
    fail "$name: ONNX Runtime ran $(json '["images"]' <"$r") images, digitnet-score scored $count"
  [[ $(json '["output_dims"]' <"$r") == "[1, $classes]" ]] || fail "$name: output of one image is not [1, $classes]"
  [[ $(json '["label_mismatches"]' <"$r") == 0 ]] || fail "$name: the CSV's labels differ from the IDX labels"
  below "$(json '["max_abs_diff"]' <"$r")" 1e-5 ||
    fail "$name: max |onnx - digitnet| = $(json '["max_abs_diff"]' <"$r") over $count x $classes probabilities, limit 1e-5"
  below "$(json '["single_image_max_abs_diff"]' <"$r")" 1e-5 || fail "$name: a batch of one differs"
  [[ $(json '["onnx_correct"]' <"$r") == "$correct" && $(json '["digitnet_correct"]' <"$r") == "$correct" ]] ||
    fail "$name: ONNX Runtime has $(json '["onnx_correct"]' <"$r") correct, digitnet-score $correct"
  [[ $(json '["argmax_disagreements"]' <"$r") == 0 ]] || fail "$name: some images get another class"
  pass "$name: ONNX Runtime = digitnet-score on $count images x $classes classes:" \
    "$(json '["max_abs_diff"]' <"$r") max abs diff, $correct correct both," \
    "ONNX Runtime $(json '["onnx_images_per_second"].__round__()' <"$r") images/s (noisy: shared machine)"
}

export_and_compare mnist-37-23 "$DATA" 28 28 10 37,23
"$HERE/make_small_idx.py" "$DATA" "$TMP/small"
export_and_compare small-none "$TMP/small" 14 14 5 none

# --help, and bad input: one line, a distinct status, no output file left behind.
"$BIN/digitnet-export" --help | grep -q -- '--onnx' || fail "digitnet-export --help lacks --onnx"
good="$TMP/mnist-37-23/ckpt-00000100.pb"
head -c 500 "$good" >"$TMP/truncated.pb"
out="$TMP/dest/model.onnx"
mkdir "$TMP/dest"
expect_error 2 'no checkpoint given' "$BIN/digitnet-export" --onnx "$out"
expect_error 2 '--onnx OUT.onnx is required' "$BIN/digitnet-export" "$good"
expect_error 4 'absent.pb: cannot open' "$BIN/digitnet-export" "$TMP/absent.pb" --onnx "$out"
expect_error 4 'truncated.pb: not a digitnet checkpoint' "$BIN/digitnet-export" "$TMP/truncated.pb" --onnx "$out"
expect_error 4 'holds no ckpt' "$BIN/digitnet-export" "$TMP/dest" --onnx "$out"
expect_error 2 'is not an existing directory' "$BIN/digitnet-export" "$good" --onnx "$TMP/nowhere/model.onnx"
expect_error 2 'is a directory' "$BIN/digitnet-export" "$good" --onnx "$TMP/dest"
touch "$TMP/file"
expect_error 2 'is not an existing directory' "$BIN/digitnet-export" "$good" --onnx "$TMP/file/model.onnx"
[[ -z $(ls -A "$TMP/dest") ]] || fail "a failed export left files: $(ls -A "$TMP/dest")"
# A failed export leaves a previous file as it was.
cp "$TMP/mnist-37-23.onnx" "$out"
expect_error 4 'truncated.pb' "$BIN/digitnet-export" "$TMP/truncated.pb" --onnx "$out"
cmp -s "$out" "$TMP/mnist-37-23.onnx" || fail "a failed export changed the existing output"
[[ $(ls -A "$TMP/dest") == model.onnx ]] || fail "a failed export left files: $(ls -A "$TMP/dest")"
expect_error 2 'takes one checkpoint' score "$TMP/mnist-37-23" "$good" --data "$DATA" --probabilities "$TMP/p.csv"
pass "digitnet-export refuses bad input cleanly"
