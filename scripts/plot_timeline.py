#!/usr/bin/python3
"""Draw a digitnet-train --timeline trace: a Gantt chart of a few steps, a row per
rank and thread, and below it how late each rank reached every step's reduce.

usage: plot_timeline.py TRACE.json [-o OUT.png] [--steps FIRST,COUNT]

The Gantt shows which rank is late: the others wait for it in "reduce", whose
bars are the communication left exposed. --steps picks the steps drawn (default:
3 steps from the middle of the run). OUT.png defaults to TRACE with .png instead of
.json. Bad input: one line on stderr, exit 2. (Interactive: open TRACE.json in
ui.perfetto.dev or chrome://tracing.)
"""
import argparse
import collections
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

COLOURS = {
    "gather": "#8c564b", "batch wait": "#c7c7c7", "forward": "#1f77b4", "backward": "#17becf",
    "reduce": "#d62728", "agree": "#ff7f0e", "allgather": "#9467bd", "optimizer": "#2ca02c",
    "evaluate": "#bcbd22", "checkpoint": "#000000",
}


def die(msg):
    print(f"plot_timeline.py: {msg}", file=sys.stderr)
    sys.exit(2)


def trace_read(path):
    """Returns (complete events, track labels {(pid, tid): label})."""
    try:
        with open(path) as f:
            trace = json.load(f)
    except FileNotFoundError:
        die(f"{path}: no such file")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        die(f"{path}: not a Chrome trace ({type(e).__name__})")
    events = trace.get("traceEvents") if isinstance(trace, dict) else None
    if not isinstance(events, list):
        die(f"{path}: not a Chrome trace (no traceEvents list)")
    try:
        spans = [e for e in events if e.get("ph") == "X" and float(e["dur"]) >= 0 and float(e["ts"]) > -1e15]
        meta = [e for e in events if e.get("ph") == "M"]
        processes = {e["pid"]: e["args"]["name"] for e in meta if e["name"] == "process_name"}
        threads = {(e["pid"], e["tid"]): e["args"]["name"] for e in meta if e["name"] == "thread_name"}
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        die(f"{path}: not a digitnet timeline ({type(e).__name__} {e})")
    if not any(e.get("name") == "step" for e in spans):
        die(f"{path}: no step spans (not a digitnet-train --timeline trace, or a run without steps)")
    tracks = sorted({(e["pid"], e.get("tid", 0)) for e in spans})
    labels = {t: f"{processes.get(t[0], f'pid {t[0]}')}\n{threads.get(t, f'thread {t[1]}')}" for t in tracks}
    return spans, labels


def window(spans, steps):
    """The time range (us) of the steps drawn, and their numbers."""
    numbers = sorted({e["args"]["step"] for e in spans if e["name"] == "step"})
    if steps:
        first, count = steps
    else:
        count = min(3, len(numbers))
        first = numbers[max(0, len(numbers) // 2 - 1)]
    chosen = [e for e in spans if e["name"] == "step" and first <= e["args"]["step"] < first + count]
    if not chosen:
        die(f"no steps {first}..{first + count - 1} in the trace (it has {numbers[0]}..{numbers[-1]})")
    return min(e["ts"] for e in chosen), max(e["ts"] + e["dur"] for e in chosen), first, count


def gantt_draw(ax, spans, labels, begin, end, first, count):
    rows = {t: i for i, t in enumerate(reversed(list(labels)))}  # rank 0 on top
    for e in spans:
        t = (e["pid"], e.get("tid", 0))
        if e["ts"] + e["dur"] < begin or e["ts"] > end:
            continue
        x, w = (e["ts"] - begin) / 1e3, e["dur"] / 1e3
        if e["name"] == "step":  # a frame behind the step's parts
            ax.broken_barh([(x, w)], (rows[t] - 0.45, 0.9), facecolor="none", edgecolor="#555555", lw=0.8)
            if first <= e["args"]["step"] < first + count:  # not the neighbours cut by the window
                ax.text(x + w / 2, rows[t] + 0.47, f"step {e['args']['step']}", ha="center", va="bottom", fontsize=7)
        else:
            ax.broken_barh([(x, w)], (rows[t] - 0.35, 0.7), facecolor=COLOURS.get(e["name"], "#e377c2"))
    ax.set_yticks(list(rows.values()), [labels[t] for t in rows])
    ax.set_ylim(-0.6, len(rows) - 0.3)
    ax.set_xlim(0, (end - begin) / 1e3)
    ax.set_xlabel("ms")
    ax.set_title(f"steps {first}-{first + count - 1}: what each rank does (frames: steps)", fontsize=10)
    names = [n for n in COLOURS if any(e["name"] == n for e in spans)]
    ax.legend(handles=[Patch(color=COLOURS[n], label=n) for n in names], ncol=len(names), fontsize=7,
              loc="upper center", bbox_to_anchor=(0.5, -0.22), frameon=False)


def lateness_draw(ax, spans):
    """Per step: how late each rank reached the gradient reduce after the first
    one did (the others wait that long), and how long the reduce took once all
    were in (the transfer itself, exposed: nothing overlaps it)."""
    by_step = collections.defaultdict(dict)
    for e in spans:
        if e["name"] == "reduce":
            by_step[e["args"]["step"]].setdefault(e["pid"], []).append(e)
    steps = sorted(s for s, ranks in by_step.items() if len(ranks) > 1)
    if not steps:
        ax.text(0.5, 0.5, "one rank: no gradient reduce", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    ranks = sorted({pid for s in steps for pid in by_step[s]})
    late = {pid: [] for pid in ranks}
    together = []
    for s in steps:
        first_in = {pid: min(e["ts"] for e in es) for pid, es in by_step[s].items()}  # first bucket
        last_out = {pid: max(e["ts"] + e["dur"] for e in es) for pid, es in by_step[s].items()}
        for pid in ranks:
            late[pid].append((first_in.get(pid, min(first_in.values())) - min(first_in.values())) / 1e3)
        together.append(max(0.0, min(last_out.values()) - max(first_in.values())) / 1e3)
    for pid in ranks:
        mean = sum(late[pid]) / len(steps)
        ax.plot(steps, late[pid], ".", ms=3, alpha=0.7, label=f"rank {pid} arrives late: mean {mean:.2f} ms")
    ax.plot(steps, together, "-", color="#555555", lw=0.7,
            label=f"reduce once all are in: mean {sum(together) / len(steps):.2f} ms")
    ax.set_xlabel("step")
    ax.set_ylabel("ms")
    ax.set_ylim(bottom=0)
    ax.set_title("every step: how late each rank reaches the gradient reduce, after the first rank", fontsize=10)
    ax.legend(fontsize=8, loc="upper right")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trace")
    ap.add_argument("-o", "--out")
    ap.add_argument("--steps", help="FIRST,COUNT")
    a = ap.parse_args()
    steps = None
    if a.steps:
        try:
            steps = tuple(int(v) for v in a.steps.split(","))
            assert len(steps) == 2 and steps[0] >= 0 and steps[1] > 0
        except (ValueError, AssertionError):
            die(f"--steps {a.steps}: expected FIRST,COUNT like 10,3")
    spans, labels = trace_read(a.trace)
    begin, end, first, count = window(spans, steps)
    fig, (ax_gantt, ax_wait) = plt.subplots(2, 1, figsize=(13, 3.2 + 0.8 * len(labels)), layout="constrained",
                                            gridspec_kw={"height_ratios": [max(2, len(labels)), 2]})
    fig.suptitle(f"digitnet-train --timeline: {os.path.basename(a.trace)}")
    gantt_draw(ax_gantt, spans, labels, begin, end, first, count)
    lateness_draw(ax_wait, spans)
    out = a.out or os.path.splitext(a.trace)[0] + ".png"
    fig.savefig(out, dpi=110)
    print(out)


if __name__ == "__main__":
    main()
