#!/usr/bin/python3
"""Plot digitnet-score --json output: confusion matrix, precision/recall, misclassified digits.

usage: plot_results.py SCORE.json [-o OUTDIR] [--prefix NAME] [--result I]

Writes <prefix>confusion.png, <prefix>precision_recall.png, <prefix>misclassified.png and,
for scored image files (digitnet-score --images), <prefix>images.png (each image beside
what the network saw, first 24 images) into OUTDIR (default: the JSON's directory) from results[I] (default 0), prints each path
written, and skips (with a note) a picture whose data is absent, e.g. for unlabelled
images. Bad input: one line on stderr, exit 2.
"""
import argparse
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import SymLogNorm  # noqa: E402

DPI = 120
MAX_DIGITS = 64


class BadInput(Exception):
    pass


def result_read(path, index):
    """Returns results[index] of the scorer's JSON."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except FileNotFoundError:
        raise BadInput("no such file")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadInput(f"not a JSON file ({type(e).__name__})")
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
        raise BadInput('not digitnet-score output (no "results" list)')
    results = doc["results"]
    if not results:
        errors = doc.get("errors") or []
        first = errors[0].get("error") if errors and isinstance(errors[0], dict) else None
        raise BadInput("no results" + (f"; the scorer reported: {first}" if first else ""))
    if not -len(results) <= index < len(results):
        raise BadInput(f"--result {index}: there are only {len(results)} result(s)")
    if not isinstance(results[index], dict):
        raise BadInput(f"results[{index}] is not an object")
    return results[index]


def confusion_get(r):
    """The confusion matrix as a square int array, or None when absent."""
    if not r.get("confusion"):
        return None
    n = len(r["confusion"])
    if any(len(row) != n for row in r["confusion"]):
        raise ValueError(f"confusion is not a square {n}x{n} matrix")
    return np.array(r["confusion"], dtype=np.int64)


def precision_recall_get(r):
    """(precision, recall) as float arrays in %, or None when absent."""
    if not r.get("precision") or not r.get("recall"):
        return None
    p, q = (100 * np.array(r[k], dtype=float) for k in ("precision", "recall"))  # null -> nan
    if p.ndim != 1 or p.shape != q.shape:
        raise ValueError(f"precision has {p.shape}, recall {q.shape} entries")
    return p, q


def misclassified_get(r):
    """(up to MAX_DIGITS (title, caption, image) triples, total count), or None when absent."""
    if not r.get("misclassified"):
        return None
    rows, cols = int(r["rows"]), int(r["cols"])
    digits = []
    for m in r["misclassified"][:MAX_DIGITS]:
        image = np.array(m["pixels"], dtype=np.int64)
        if image.shape != (rows * cols,) or image.min() < 0 or image.max() > 255:
            raise ValueError(f"pixels must be rows*cols = {rows * cols} ints 0..255")
        title = f"true {m['label']} → {m['predicted']} ({float(m['probability']):.2f})"
        where = f"#{m['index']}" if "index" in m else os.path.basename(str(m.get("file", "")))
        digits.append((title, where, image.reshape(rows, cols)))
    return digits, len(r["misclassified"])


def confusion_draw(m, title):
    n = len(m)
    fig, ax = plt.subplots(figsize=(10, 8.5), layout="constrained")
    # Log-like colours, or the diagonal would swamp every error.
    im = ax.imshow(m, cmap="Blues", norm=SymLogNorm(linthresh=1, vmin=0, vmax=max(m.max(), 1)))
    if n <= 20:
        for t in range(n):
            for p in range(n):
                dark = m[t, p] > math.sqrt(max(m.max(), 1))  # past the middle of the log scale
                ax.text(p, t, str(m[t, p]), ha="center", va="center", fontsize=10 if n <= 12 else 7,
                        color="white" if dark else ("black" if m[t, p] else "0.7"))
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set(xlabel="predicted class", ylabel="true class", title=title)
    fig.colorbar(im, ax=ax, shrink=0.8, label="count")
    return fig


def precision_recall_draw(pr, title):
    p, q = pr
    x = np.arange(len(p))
    fig, ax = plt.subplots(figsize=(12, 5), layout="constrained")
    ax.bar(x - 0.2, p, 0.4, label="precision")
    ax.bar(x + 0.2, q, 0.4, label="recall")
    low = np.nanmin(np.concatenate([p, q, [100]]))
    ax.set_ylim(max(0, 5 * math.floor(low / 5) - 5), 100.5)  # zoom: values sit near 100%
    ax.set_xticks(x)
    ax.set(xlabel="class", ylabel="% (axis does not start at 0)" if low > 10 else "%", title=title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1, 1))  # outside: bars reach the top
    return fig


def misclassified_draw(data, title):
    digits, total = data
    ncols = min(8, len(digits))
    nrows = math.ceil(len(digits) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(max(1.5 * ncols + 0.4, 8), 1.85 * nrows + 0.6),
                             layout="constrained", squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, (caption, where, image) in zip(axes.flat, digits):
        ax.imshow(image, cmap="gray_r", vmin=0, vmax=255)  # stored white-on-black; draw ink dark
        ax.set_title(caption, fontsize=9)
        short = where if len(where) <= 18 else where[:8] + "…" + where[-9:]  # long names would squeeze the digits
        ax.text(0.5, -0.04, short, transform=ax.transAxes, ha="center", va="top", fontsize=7, color="0.4")
    fig.suptitle(f"{title} — {len(digits)} of {total} misclassified shown" if total > len(digits) else title)
    return fig


def images_get(r):
    """(file, label, predicted, probability, 28x28 view) of the first scored image files, or None."""
    if not r.get("images") or r.get("read"):
        return None
    rows, cols = int(r["rows"]), int(r["cols"])
    shown = []
    for i in r["images"][:24]:
        view = np.array(i["pixels"], dtype=np.int64)
        if view.shape != (rows * cols,):
            raise ValueError(f"pixels must be rows*cols = {rows * cols} ints")
        shown.append((str(i["file"]), i.get("label"), int(i["predicted"]), float(i["probability"]),
                      view.reshape(rows, cols)))
    return shown


def images_draw(shown, title):
    from PIL import Image  # python3-pil, a dependency of matplotlib
    ncols = min(6, len(shown))
    nrows = math.ceil(len(shown) / ncols)
    fig, axes = plt.subplots(nrows, 2 * ncols, figsize=(2.3 * ncols, 1.35 * nrows + 0.6),
                             layout="constrained", squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for k, (path, label, predicted, probability, view) in enumerate(shown):
        photo_ax, view_ax = axes[k // ncols][2 * (k % ncols)], axes[k // ncols][2 * (k % ncols) + 1]
        try:
            with Image.open(path) as photo:
                photo.thumbnail((160, 160))
                photo_ax.imshow(np.asarray(photo.convert("RGB")))
        except OSError:
            photo_ax.text(0.5, 0.5, "(unreadable)", ha="center", va="center", fontsize=7)
        view_ax.imshow(view, cmap="gray", vmin=0, vmax=255)  # as the network sees it: white on black
        wrong = label is not None and label != predicted
        view_ax.set_title(f"{predicted} ({probability:.2f})" + (f" ✗ {label}" if wrong else ""), fontsize=9,
                          color="red" if wrong else "black")
    fig.suptitle(title + " — each image, then what the network saw")
    return fig


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("score", metavar="SCORE.json")
    parser.add_argument("-o", "--outdir", metavar="OUTDIR", help="default: the JSON's directory")
    parser.add_argument("--prefix", default="", metavar="NAME", help="prepended to each file name")
    parser.add_argument("--result", type=int, default=0, metavar="I", help="which entry of results (default 0)")
    args = parser.parse_args()
    outdir = args.outdir or os.path.dirname(args.score) or "."

    # Read and check everything before drawing, so bad input writes nothing.
    try:
        r = result_read(args.score, args.result)
        pictures = [("confusion", confusion_get, confusion_draw),
                    ("precision_recall", precision_recall_get, precision_recall_draw),
                    ("misclassified", misclassified_get, misclassified_draw),
                    ("images", images_get, images_draw)]
        data = []
        for name, get, _ in pictures:
            try:
                data.append(get(r))
            except (KeyError, TypeError, ValueError, OverflowError) as e:
                detail = f"missing {e}" if isinstance(e, KeyError) else str(e)
                raise BadInput(f"results[{args.result}]: malformed {name} data ({detail})")
    except BadInput as e:
        print(f"plot_results.py: {args.score}: {e}", file=sys.stderr)
        sys.exit(2)

    title = str(r.get("model", "model ?"))
    if isinstance(r.get("accuracy"), (int, float)):
        title += f" — accuracy {100 * r['accuracy']:.2f}%"
        if "correct" in r and "count" in r:
            title += f" ({r['correct']}/{r['count']})"
    for (name, _, draw), d in zip(pictures, data):
        if d is None:
            print(f"skipped {name}: no {name} data in results[{args.result}]")
            continue
        out = os.path.join(outdir, f"{args.prefix}{name}.png")
        fig = draw(d, title)
        try:
            os.makedirs(outdir, exist_ok=True)
            fig.savefig(out, dpi=DPI)
        except OSError as e:
            print(f"plot_results.py: cannot write {out}: {e.strerror}", file=sys.stderr)
            sys.exit(1)
        plt.close(fig)
        print(out)


if __name__ == "__main__":
    main()
