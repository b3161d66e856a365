#!/usr/bin/python3
"""Draw the same images through two preprocessings side by side: input, before, after.

Usage: scripts/plot_before_after.py BEFORE.json AFTER.json -o OUT.png [--count 12] [--labels 0,9]

BEFORE.json and AFTER.json are `digitnet-score CKPT --images DIR --json` of the same
labelled directory, scored by two builds (for example the commit before a fix and the
fix). The picture shows, per column, an image that BEFORE got wrong and AFTER right
(the digits of --labels in equal numbers first), then one that both get wrong, each with the 28x28
pixels the network saw and its prediction.
"""
import argparse
import json

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image


def images(path):
    return {im["file"]: im for im in json.load(open(path))["results"][0]["images"]}


def pick(before, after, count, labels):
    fixed = [f for f in sorted(after) if before[f]["predicted"] != before[f]["label"]
             and after[f]["predicted"] == after[f]["label"]]
    per_label = (count - 1) // max(1, len(labels))
    chosen = [f for l in sorted(labels) for f in [f for f in fixed if after[f]["label"] == l][:per_label]]
    fixed = chosen + [f for f in fixed if f not in chosen][:count - 1 - len(chosen)]
    # An honest column: one that neither pipeline reads.
    still = [f for f in sorted(after) if before[f]["predicted"] != before[f]["label"]
             and after[f]["predicted"] != after[f]["label"]]
    return fixed + still[:1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--count", type=int, default=12)
    ap.add_argument("--labels", default="0,9", help="digits shown first (default 0,9)")
    a = ap.parse_args()
    before, after = images(a.before), images(a.after)
    files = pick(before, after, a.count, {int(x) for x in a.labels.split(",")})
    fig, axes = plt.subplots(3, len(files), figsize=(0.85 * len(files), 3.2), squeeze=False)
    for c, f in enumerate(files):
        rows = [(np.asarray(Image.open(f).convert("L")), f"label {after[f]['label']}", "black")]
        for name, run in (("before", before), ("after", after)):
            im = run[f]
            ok = im["predicted"] == im["label"]
            rows.append((np.array(im["pixels"], np.uint8).reshape(28, 28),
                         f"{name}: {im['predicted']} {'✓' if ok else '✗'}", "green" if ok else "red"))
        for r, (pixels, text, colour) in enumerate(rows):
            ax = axes[r][c]
            ax.imshow(pixels, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(text, fontsize=7, color=colour, pad=2)
    axes[0][0].set_ylabel("input", fontsize=7)
    axes[1][0].set_ylabel("before", fontsize=7)
    axes[2][0].set_ylabel("after", fontsize=7)
    fig.tight_layout(pad=0.3)
    fig.savefig(a.output, dpi=80)
    print(f"{a.output}: {len(files)} images")


if __name__ == "__main__":
    main()
