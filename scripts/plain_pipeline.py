#!/usr/bin/python3
"""The plain preprocessing digitnet-score is compared against: threshold, crop, resize, centre.

Usage: scripts/plain_pipeline.py IN_DIR OUT_DIR

Every image under IN_DIR (labelled sub-directories are kept) becomes a 28x28 PNG under
OUT_DIR, made the textbook way: gray; inverted when the mean is light (dark ink on light
paper); Otsu's threshold; crop to the ink; longest side scaled to 20 px (area-averaging,
PIL's BOX filter); placed in 28x28 with the centre of mass at the centre. No background
removal, no stroke-width normalisation. digitnet-score passes such images through
unchanged (--preprocess auto), so scoring OUT_DIR measures this pipeline with the same model.
"""
import os
import sys

import numpy as np
from PIL import Image


def otsu(gray):
    hist = np.bincount(gray.ravel(), minlength=256).astype(np.float64)
    total, levels = hist.sum(), np.arange(256)
    best, best_t = -1.0, 128
    for t in range(1, 256):
        w0, w1 = hist[:t].sum(), hist[t:].sum()
        if w0 == 0 or w1 == 0:
            continue
        m0, m1 = (hist[:t] * levels[:t]).sum() / w0, (hist[t:] * levels[t:]).sum() / w1
        between = w0 * w1 * (m0 - m1) ** 2 / total ** 2
        if between > best:
            best, best_t = between, t
    return best_t


def plain(path):
    gray = np.asarray(Image.open(path).convert("L"), dtype=np.uint8)
    if gray.mean() > 127:
        gray = 255 - gray
    ink = gray >= otsu(gray)
    ys, xs = np.nonzero(ink)
    if len(xs) == 0:
        return np.zeros((28, 28), np.uint8)
    crop = np.where(ink, gray, 0)[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    h, w = crop.shape
    f = 20.0 / max(h, w)
    small = np.asarray(Image.fromarray(crop).resize((max(1, round(w * f)), max(1, round(h * f))), Image.BOX),
                       dtype=np.float64)
    mass = small.sum()
    cy = (small.sum(1) * np.arange(small.shape[0])).sum() / mass
    cx = (small.sum(0) * np.arange(small.shape[1])).sum() / mass
    out = np.zeros((28, 28))
    oy, ox = round(14 - cy), round(14 - cx)
    for y in range(small.shape[0]):
        for x in range(small.shape[1]):
            if 0 <= y + oy < 28 and 0 <= x + ox < 28:
                out[y + oy, x + ox] = small[y, x]
    return np.clip(out * 255.0 / max(out.max(), 1), 0, 255).astype(np.uint8)


def main():
    src, dst = sys.argv[1], sys.argv[2]
    for root, _, files in os.walk(src):
        for name in sorted(files):
            if not name.lower().endswith((".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm")):
                continue
            out_dir = os.path.join(dst, os.path.relpath(root, src))
            os.makedirs(out_dir, exist_ok=True)
            Image.fromarray(plain(os.path.join(root, name))).save(
                os.path.join(out_dir, os.path.splitext(name)[0] + ".png"))


if __name__ == "__main__":
    main()
