#!/usr/bin/python3
"""A data set of another shape from MNIST, for tests of shape-independent code
(Debian's python3-numpy): each image 2x2-averaged to 14x14, digits 0-4 only (5 classes).

make_small_idx.py MNIST_DIR OUT   writes OUT/{train,t10k}-{images-idx3,labels-idx1}-ubyte
"""
import gzip
import os
import sys

import numpy as np


def idx_read(path):
    opener, path = (open, path) if os.path.exists(path) else (gzip.open, path + ".gz")
    with opener(path, "rb") as f:
        data = f.read()
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(data[3])]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * len(dims)).reshape(dims)


def idx_write(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with open(path, "wb") as f:
        f.write(header + np.ascontiguousarray(array, np.uint8).tobytes())


def main():
    mnist, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    for split in ("train", "t10k"):
        images = idx_read(os.path.join(mnist, f"{split}-images-idx3-ubyte"))
        labels = idx_read(os.path.join(mnist, f"{split}-labels-idx1-ubyte"))
        keep = labels < 5
        n = int(keep.sum())
        small = images[keep].reshape(n, 14, 2, 14, 2).astype(np.float32).mean(axis=(2, 4))
        idx_write(os.path.join(out, f"{split}-images-idx3-ubyte"), np.rint(small))
        idx_write(os.path.join(out, f"{split}-labels-idx1-ubyte"), labels[keep])
        print(f"make_small_idx: {split}: {n} images 14x14, 5 classes")


if __name__ == "__main__":
    main()
