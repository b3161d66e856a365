#!/usr/bin/env bash
# The model of the serve tests (a CTest fixture): digitnet-train on the real MNIST
# with the demo's kind of distortions (rotation, scale, shear, shift), so that it
# also reads digits drawn with a mouse. Two epochs of 784-256-256-10: about 20 s
# on an idle 2-core machine.
# Usage: train_model.sh BIN_DIR MNIST_DIR MODEL_DIR
set -euo pipefail
BIN=${1:?usage: $0 BIN_DIR MNIST_DIR MODEL_DIR}
DATA=${2:?}
MODEL=${3:?}
rm -rf "$MODEL"
SECONDS=0
"$BIN/digitnet-train" --data "$DATA" --hidden 256,256 --epochs 2 --batch-size 128 --lr 2e-3 --seed 1 \
  --rotate 12 --scale 0.12 --shear 0.15 --translate 2.5 --checkpoint-dir "$MODEL" --keep 1 --quiet
ls "$MODEL"/ckpt-*.pb >/dev/null || { echo "FAIL: no checkpoint in $MODEL" >&2; exit 1; }
echo "ok: model for the serve tests trained in ${SECONDS} s: $(ls "$MODEL")"
