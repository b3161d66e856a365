# digitnet-score on image files: MNIST's test set as PNG files scores exactly as
# the IDX files do; --read gets numbers off strips of digits; bad images are
# refused one by one while the rest are scored; the plotting scripts draw the run.
source "$(dirname "$0")/lib.sh" "$@"

mpi_train 2 --data "$DATA" --epochs 2 --batch-size 128 --lr 1e-3 --seed 1 \
  --checkpoint-dir "$TMP/ckpt" --metrics "$TMP/metrics.csv" >/dev/null
"$(dirname "$0")/make_images.py" "$DATA" "$TMP/img"

# 1. The same 10,000 digits as PNG files: the same accuracy, to the last image.
score "$TMP/ckpt" --data "$DATA" --json >"$TMP/idx.json"
score "$TMP/ckpt" --images "$TMP/img/mnist" --json >"$TMP/png.json"
idx_correct=$(json '["results"][-1]["correct"]' <"$TMP/idx.json")
png_correct=$(json '["results"][0]["correct"]' <"$TMP/png.json")
png_count=$(json '["results"][0]["count"]' <"$TMP/png.json")
[[ $png_count == 10000 ]] || fail "scored $png_count PNG files, expected 10000"
[[ $idx_correct == "$png_correct" ]] || fail "PNG files: $png_correct correct, IDX files: $idx_correct"
pass "MNIST test set as PNG: $png_correct/10000 correct, as in the IDX path"
[[ $(json '["results"][0]["misclassified"].__len__()' <"$TMP/png.json") -gt 0 ]] || fail "no misclassified list"

# 2. Numbers: every strip splits into its digits, and nearly all numbers are read right.
score "$TMP/ckpt" --images "$TMP/img/strips" --read --csv >"$TMP/read.csv"
/usr/bin/python3 - "$TMP/read.csv" <<'PY' || fail "--read"
import csv, os, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 40, "expected 40 strips, got %d" % len(rows)
right = 0
for r in rows:
    truth = os.path.basename(r["file"]).split("_")[0]
    assert len(r["number"]) == len(truth), "%s read as %s: wrong number of digits" % (r["file"], r["number"])
    right += r["number"] == truth
print("ok: --read: %d of 40 numbers exactly right, every strip split into the right number of digits" % right)
# The model of this test trains 2 epochs (98% per digit): about 33 of 40 strips of 3-5 digits.
assert right >= 30, "only %d of 40 numbers right" % right
PY

# 3. A batch with bad files: each refused on one line, the good ones scored, exit 3.
mkdir -p "$TMP/mixed"
cp "$TMP/img/mnist/7/00000.png" "$TMP/mixed/good.png"
echo "not an image" >"$TMP/mixed/text.png"
head -c 200 "$TMP/img/mnist/2/00001.png" >"$TMP/mixed/cut.png"
: >"$TMP/mixed/empty.jpg"
/usr/bin/python3 -c "from PIL import Image; Image.new('L', (300, 200), 230).save('$TMP/mixed/blank.jpg')"
status=0
score "$TMP/ckpt" --images "$TMP/mixed" "$TMP/mixed/missing.png" >"$TMP/out" 2>"$TMP/err" || status=$?
[[ $status == 3 ]] || fail "a batch with bad images exited $status, expected 3"
[[ $(grep -c '^digitnet-score: ' "$TMP/err") == 5 ]] || { cat "$TMP/err"; fail "expected 5 error lines"; }
grep -q 'blank.jpg: no ink' "$TMP/err" || fail "blank image not named"
grep -q 'missing.png: no such file' "$TMP/err" || fail "missing file not named"
grep -Eq '^7 .*good.png' "$TMP/out" || { cat "$TMP/out"; fail "the good image was not scored as 7"; }
pass "bad images refused one by one: $(tr '\n' ' ' <"$TMP/err")"

# 4. What the network saw: text art and PNG files.
score "$TMP/ckpt" --images "$TMP/img/strips/$(ls "$TMP/img/strips" | head -1)" --show --save-preprocessed "$TMP/seen" >"$TMP/show"
grep -q '@@' "$TMP/show" || fail "--show printed no ink"
[[ $(ls "$TMP/seen"/*.png | wc -l) -ge 1 ]] || fail "--save-preprocessed wrote nothing"
pass "--show and --save-preprocessed"

# 5. Pictures of the run: training curves and the results of the PNG test set.
"$ROOT/scripts/plot_training.py" "$TMP/metrics.csv" -o "$TMP/training.png"
"$ROOT/scripts/plot_results.py" "$TMP/png.json" -o "$TMP/plots"
for png in "$TMP/training.png" "$TMP/plots/"{confusion,precision_recall,misclassified,images}.png; do
  [[ -s $png && $(head -c 4 "$png" | tail -c 3) == PNG ]] || fail "$png is missing or not a PNG"
done
pass "plots: $(cd "$TMP" && ls training.png plots/*.png | tr '\n' ' ')"
