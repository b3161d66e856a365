#!/usr/bin/python3
"""Plot a digitnet training run: loss, accuracy and throughput per epoch.

usage: plot_training.py METRICS.csv [-o OUT.png]

METRICS.csv is the trainer's metrics file (header epoch,step,train_loss,...).
OUT.png defaults to METRICS with .png instead of .csv. A resumed run may repeat
an epoch; the last row of each epoch wins. Bad input: one line on stderr, exit 2.
"""
import argparse
import os
import sys

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

COLUMNS = ["epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "samples_per_second"]


def die(msg):
    print(f"plot_training.py: {msg}", file=sys.stderr)
    sys.exit(2)


def metrics_read(path):
    """Returns one row per epoch (the last one written), sorted by epoch."""
    try:
        df = pd.read_csv(path)
    except FileNotFoundError:
        die(f"{path}: no such file")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        die(f"{path}: not a metrics CSV ({type(e).__name__})")
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        die(f"{path}: not a metrics CSV, missing column(s) {', '.join(missing)}")
    for c in COLUMNS:
        try:
            df[c] = pd.to_numeric(df[c])
        except (ValueError, TypeError):
            die(f"{path}: non-numeric value in column {c}")
    if df.empty:
        die(f"{path}: no epochs yet (header only)")
    if df["epoch"].isna().any():
        die(f"{path}: a row has no epoch number")
    return df.drop_duplicates("epoch", keep="last").sort_values("epoch")


def figure_draw(df, title):
    fig, (ax_loss, ax_acc, ax_speed) = plt.subplots(1, 3, figsize=(14, 5), layout="constrained")
    fig.suptitle(title)
    test = df.dropna(subset=["test_loss", "test_accuracy"])  # epochs that were evaluated

    ax_loss.plot(df["epoch"], df["train_loss"], "o-", label="train")
    ax_loss.plot(test["epoch"], test["test_loss"], "s-", label="test")
    if (df["train_loss"] > 0).all():
        ax_loss.set_yscale("log")  # train loss falls by orders of magnitude
    ax_loss.set(title="Loss", xlabel="epoch", ylabel="cross-entropy")

    ax_acc.plot(df["epoch"], 100 * df["train_accuracy"], "o-", label="train")
    ax_acc.plot(test["epoch"], 100 * test["test_accuracy"], "s-", label="test")
    if not test.empty:
        last = test.iloc[-1]
        ax_acc.annotate(f"final {100 * last['test_accuracy']:.2f}%", (last["epoch"], 100 * last["test_accuracy"]),
                        xytext=(0, -18), textcoords="offset points", ha="right", color="C1", weight="bold")
    ax_acc.set(title="Accuracy", xlabel="epoch", ylabel="%")

    ax_speed.bar(df["epoch"], df["samples_per_second"], color="C2")
    ax_speed.set(title="Throughput", xlabel="epoch", ylabel="samples / s")

    for ax in (ax_loss, ax_acc, ax_speed):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    ax_loss.legend()
    ax_acc.legend(loc="lower right")
    return fig


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("metrics", metavar="METRICS.csv")
    parser.add_argument("-o", "--out", metavar="OUT.png", help="default: METRICS with .png instead of .csv")
    args = parser.parse_args()
    out = args.out or os.path.splitext(args.metrics)[0] + ".png"

    df = metrics_read(args.metrics)
    fig = figure_draw(df, f"{args.metrics}  ({len(df)} epochs)")
    try:
        os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
        fig.savefig(out, dpi=100)
    except OSError as e:
        print(f"plot_training.py: cannot write {out}: {e.strerror}", file=sys.stderr)
        sys.exit(1)
    print(out)


if __name__ == "__main__":
    main()
