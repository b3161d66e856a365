#!/usr/bin/env bash
# How well a model reads digit images that were not made from MNIST:
#   lowres: 1797 real 8x8 scans by 13 other writers (UCI optdigits, from python3-sklearn), both polarities
#   blurry: the same scans upscaled bilinearly to 64x64, dark on white (thick, blurred strokes)
#   photos: 1000 synthetic phone photos of digits in Debian's handwriting fonts (uneven paper,
#           shadows, blur, noise, any size and placement, colour or gray, PNG or JPEG)
# Usage: scripts/eval-images.sh CHECKPOINT_OR_DIR [OUT_DIR]   (default OUT_DIR runs/eval-images)
# Prints the accuracy per set, and that of the textbook pipeline (scripts/plain_pipeline.py:
# threshold, crop, resize, centre) with the same model; JSON and pictures land in OUT_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
ckpt=${1:?usage: scripts/eval-images.sh CHECKPOINT_OR_DIR [OUT_DIR]}
out=${2:-runs/eval-images}

scripts/install-deps.sh --eval >/dev/null
[[ -d "$out/images/photos" && -d "$out/images/blurry" ]] || scripts/make_eval_images.py "$out/images"
report() {  # JSON NAME: accuracy, refused images counted as wrong
  /usr/bin/python3 - "$1" "$2" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); r = j["results"][0]; refused = len(j["errors"])
total = r["count"] + refused
print("%-22s %5.1f%% of %d images right (%d refused, counted wrong); recall per class: %s"
      % (sys.argv[2], 100.0 * r["correct"] / total, total, refused, " ".join("%.2f" % x for x in r["recall"])))
PY
}
for set in photos blurry lowres; do
  build/digitnet-score "$ckpt" --images "$out/images/$set" --json >"$out/$set.json" 2>"$out/$set.errors" || true
  scripts/plot_results.py "$out/$set.json" -o "$out" --prefix "$set-" >/dev/null
  report "$out/$set.json" "$set"
  # The peer: the textbook pipeline (threshold, crop, resize, centre), same model.
  rm -rf "$out/plain/$set"
  scripts/plain_pipeline.py "$out/images/$set" "$out/plain/$set"
  build/digitnet-score "$ckpt" --images "$out/plain/$set" --preprocess none --json >"$out/$set-plain.json" 2>/dev/null || true
  report "$out/$set-plain.json" "$set, plain pipeline"
done
echo "JSON and pictures: $out"
