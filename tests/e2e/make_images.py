#!/usr/bin/python3
"""Test images from MNIST's IDX test set (Debian's python3-numpy and python3-pil).

make_images.py MNIST_DIR OUT
  OUT/mnist/<label>/<index>.png  the 10,000 test images as they are (white on black)
  OUT/strips/<number>_<k>.png    40 strips of 3-5 test digits, dark ink on light
                                 paper with a lighting gradient, each digit scaled
                                 and spaced differently; the file name holds the number
"""
import gzip
import os
import sys

import numpy as np
from PIL import Image


def idx(path):
    opener = gzip.open if not os.path.exists(path) else open
    path = path if os.path.exists(path) else path + ".gz"
    with opener(path, "rb") as f:
        data = f.read()
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(data[3])]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * len(dims)).reshape(dims)


def main():
    mnist, out = sys.argv[1], sys.argv[2]
    images = idx(os.path.join(mnist, "t10k-images-idx3-ubyte"))
    labels = idx(os.path.join(mnist, "t10k-labels-idx1-ubyte"))
    for label in range(10):
        os.makedirs(os.path.join(out, "mnist", str(label)), exist_ok=True)
    for i, (img, label) in enumerate(zip(images, labels)):
        Image.fromarray(img).save(os.path.join(out, "mnist", str(label), "%05d.png" % i))

    rng = np.random.default_rng(7)
    os.makedirs(os.path.join(out, "strips"))
    for k in range(40):
        picks = rng.choice(len(images), size=rng.integers(3, 6), replace=False)
        height = int(rng.integers(40, 120))
        pieces = []
        for p in picks:
            digit = Image.fromarray(images[p]).crop((2, 2, 26, 26)).resize((height, height), Image.BILINEAR)
            pieces.append(np.asarray(digit, np.float64))
            pieces.append(np.zeros((height, int(rng.integers(0, height // 3)))))
        ink = np.hstack(pieces[:-1])
        margin = height // 2
        canvas = np.zeros((ink.shape[0] + 2 * margin, ink.shape[1] + 2 * margin))
        canvas[margin:margin + ink.shape[0], margin:margin + ink.shape[1]] = ink / 255.0
        paper = 235 - 40 * np.linspace(0, 1, canvas.shape[1])[None, :]
        photo = paper * (1 - canvas) + 40 * canvas + rng.normal(0, 3, canvas.shape)
        number = "".join(str(labels[p]) for p in picks)
        Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8)).save(
            os.path.join(out, "strips", "%s_%02d.png" % (number, k)))


if __name__ == "__main__":
    main()
