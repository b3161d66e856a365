#!/usr/bin/env bash
# The whole product on a fresh Debian 12 machine, in one command: installs the
# Debian packages, builds, fetches and verifies MNIST, trains the default model
# (784-512-512-10, Adam, on randomly distorted images: affine and elastic, so that
# it also reads digits that were not made the MNIST way) with 2 MPI ranks,
# scores the final checkpoint on the
# 10,000 test images, prints the test accuracy and draws pictures of the run
# (training curves, confusion matrix, per-class precision/recall, the
# misclassified test digits) into RUN_DIR/pictures.
# Environment: RANKS (default 2), EPOCHS (default 30), RUN_DIR (default runs/demo).
set -euo pipefail
cd "$(dirname "$0")/.."
ranks=${RANKS:-2}
epochs=${EPOCHS:-30}
run=${RUN_DIR:-runs/demo}

scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target digitnet-train digitnet-score
scripts/fetch-mnist.sh data/mnist

# Open MPI refuses to start as root unless told; many containers run as root.
if [[ $(id -u) == 0 ]]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi

rm -rf "$run"   # the demo's own directory: every demo starts from scratch
mkdir -p "$run"
echo "== training: mpirun -np $ranks digitnet-train ($epochs epochs) =="
start=$SECONDS
mpirun -np "$ranks" build/digitnet-train --data data/mnist --hidden 512,512 --epochs "$epochs" \
  --batch-size 128 --lr 1e-3 --seed 1 --rotate 12 --scale 0.12 --shear 0.15 --translate 2.5 \
  --elastic-alpha 34 --elastic-sigma 6 --checkpoint-dir "$run/checkpoints" --metrics "$run/metrics.csv"
seconds=$((SECONDS - start))

final=$(ls "$run"/checkpoints/ckpt-*.pb | sort | tail -n 1)
echo "== scoring $final on the MNIST test set =="
build/digitnet-score "$final" --data data/mnist | tee "$run/score.txt"
build/digitnet-score "$final" --data data/mnist --json >"$run/score.json"
accuracy=$(/usr/bin/python3 -c "import json; print('%.2f' % (100 * json.load(open('$run/score.json'))['results'][0]['accuracy']))")
printf '\nTest accuracy: %s%% (model 784-512-512-10, %s ranks, %s epochs, training took %s s)\n' \
  "$accuracy" "$ranks" "$epochs" "$seconds"
echo "== pictures =="
scripts/plot_training.py "$run/metrics.csv" -o "$run/pictures/training.png"
scripts/plot_results.py "$run/score.json" -o "$run/pictures"
echo "Checkpoints: $run/checkpoints   metrics: $run/metrics.csv   scores: $run/score.json   pictures: $run/pictures/"
echo "Try your own handwriting: build/digitnet-score $run/checkpoints --images YOUR_PHOTO.jpg --show"
