#!/usr/bin/python3
"""Checks a digitnet-train --timeline file (Chrome trace JSON) and prints a summary.

usage: check_timeline.py TRACE --ranks N --every-rank NAME,... [--rank0 NAME,...]
                         [--prefetch] [--steps N]

Fails (exit 1, one line per problem) unless: the file parses; every rank 0..N-1 has
its process_name "rank R (host)"; every rank has a span of each --every-rank name and
rank 0 one of each --rank0 name; on every thread track the spans other than "step"
never overlap; every span of a step lies inside that step's "step" span; the steps
are 0..N-1 (--steps) once per rank; the ranks' collectives of a step (each bucket's
reduce and allgather on its own track, from start to completion, and "agree") overlap
in time up to the clocks' alignment bounds the trace states (none can leave one
before all have entered: this checks the alignment); with
--prefetch the prefetch thread's track holds the gathers.
"""
import argparse
import collections
import json
import statistics
import sys

STEP_PARTS = {"gather", "batch wait", "forward", "backward", "reduce", "agree", "optimizer", "allgather"}
BUCKET_TRACK0 = 2      # tid of bucket 0's track
# Spans that cover a whole collective, from the call that starts it to its
# completion: the buckets' exchanges on their tracks, and the stop agreement.
# ("reduce" and "allgather" on the main track are only the waits for them.)
BUCKET_COLLECTIVES = ("reduce", "allgather")
ROUNDING_US = 0.002  # times are printed with 3 decimals of a microsecond

problems = []


def problem(text):
    problems.append(text)


def load(path):
    with open(path) as f:
        trace = json.load(f)
    if not isinstance(trace.get("traceEvents"), list):
        sys.exit(f"{path}: no traceEvents list")
    return trace


def check_processes(meta, ranks):
    names = {e["pid"]: e["args"]["name"] for e in meta if e["name"] == "process_name"}
    for r in range(ranks):
        if not names.get(r, "").startswith(f"rank {r} ("):
            problem(f"rank {r}: no process_name 'rank {r} (host)' (got {names.get(r)!r})")
    if set(names) != set(range(ranks)):
        problem(f"processes {sorted(names)}, expected ranks 0..{ranks - 1}")


def check_names(spans, ranks, every_rank, rank0):
    for r in range(ranks):
        have = {e["name"] for e in spans if e["pid"] == r}
        want = set(every_rank) | (set(rank0) if r == 0 else set())
        for name in sorted(want - have):
            problem(f"rank {r}: no '{name}' span")


def check_tracks(spans):
    tracks = collections.defaultdict(list)
    for e in spans:
        if e["name"] != "step":
            tracks[(e["pid"], e["tid"])].append(e)
    for (pid, tid), events in tracks.items():
        events.sort(key=lambda e: e["ts"])
        for a, b in zip(events, events[1:]):
            if b["ts"] < a["ts"] + a["dur"] - ROUNDING_US:
                problem(f"rank {pid} thread {tid}: '{b['name']}' at {b['ts']} us starts inside "
                        f"'{a['name']}' ({a['ts']} + {a['dur']} us)")
                break


def check_steps(spans, ranks, steps):
    for r in range(ranks):
        main = [e for e in spans if e["pid"] == r and e["tid"] == 0]
        step_spans = {}
        for e in main:
            if e["name"] == "step":
                k = e["args"]["step"]
                if k in step_spans:
                    problem(f"rank {r}: step {k} twice")
                step_spans[k] = e
        if steps is not None and sorted(step_spans) != list(range(steps)):
            problem(f"rank {r}: steps {sorted(step_spans)[:5]}... ({len(step_spans)}), expected 0..{steps - 1}")
        for e in main:
            if e["name"] not in STEP_PARTS:
                continue
            outer = step_spans.get(e["args"]["step"])
            if outer is None:
                problem(f"rank {r}: '{e['name']}' of step {e['args']['step']} outside any step span")
            elif e["ts"] < outer["ts"] - ROUNDING_US or \
                    e["ts"] + e["dur"] > outer["ts"] + outer["dur"] + ROUNDING_US:
                problem(f"rank {r}: '{e['name']}' of step {e['args']['step']} sticks out of its step span")


def clock_errors(meta, ranks):
    """Each rank's bound of its clock alignment to rank 0 (us), from its process_labels."""
    errors = {e["pid"]: e["args"].get("clock_error_us") for e in meta if e["name"] == "process_labels"}
    for r in range(ranks):
        if not isinstance(errors.get(r), (int, float)) or errors[r] < 0:
            problem(f"rank {r}: no clock_error_us in its process_labels")
            errors[r] = 0.0
    if errors.get(0):
        problem(f"rank 0: clock error {errors[0]} us, expected 0 (it is the reference)")
    return errors


def check_collectives(spans, ranks, errors):
    """Returns the smallest margin (us) by which the ranks' collectives overlapped,
    beyond what the clocks' alignment errors allow."""
    calls = collections.defaultdict(dict)
    for e in spans:
        whole = e["name"] == "agree" or (e["name"] in BUCKET_COLLECTIVES and e["tid"] >= BUCKET_TRACK0)
        if whole:
            calls[(e["name"], e["args"]["step"], e["args"].get("bucket"))][e["pid"]] = e
    margin = float("inf")
    for key, by_rank in calls.items():
        if len(by_rank) != ranks:
            problem(f"{key[0]} of step {key[1]}: on ranks {sorted(by_rank)} only")
            continue
        last_in = max(by_rank, key=lambda r: by_rank[r]["ts"])
        first_out = min(by_rank, key=lambda r: by_rank[r]["ts"] + by_rank[r]["dur"])
        overlap = by_rank[first_out]["ts"] + by_rank[first_out]["dur"] - by_rank[last_in]["ts"]
        slack = errors[last_in] + errors[first_out] + 2 * ROUNDING_US
        margin = min(margin, overlap + slack)
        if overlap + slack < 0:
            problem(f"{key[0]} of step {key[1]}: rank {first_out} left {-overlap:.1f} us before rank {last_in} "
                    f"entered (clock errors allow {slack:.1f} us): clocks not aligned")
    return margin


def check_prefetch(trace, spans):
    threads = {(e["pid"], e.get("tid")): e["args"]["name"] for e in trace["traceEvents"]
               if e.get("ph") == "M" and e["name"] == "thread_name"}
    if threads.get((0, 1)) != "prefetch":
        problem("rank 0: no thread named 'prefetch' (tid 1)")
    if not any(e["tid"] == 1 and e["name"] == "gather" for e in spans):
        problem("no 'gather' span on the prefetch track")
    if any(e["tid"] == 0 and e["name"] == "gather" for e in spans):
        problem("a 'gather' span on the main track while prefetching")


def summary(spans, ranks):
    for r in range(ranks):
        by_name = collections.defaultdict(list)
        for e in spans:
            if e["pid"] == r:
                by_name[e["name"]].append(e["dur"])
        parts = [f"{name} {len(d)}x {statistics.median(d) / 1000:.3f} ms" for name, d in sorted(by_name.items())]
        print(f"rank {r}: median " + ", ".join(parts))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("trace")
    ap.add_argument("--ranks", type=int, required=True)
    ap.add_argument("--every-rank", required=True)
    ap.add_argument("--rank0", default="")
    ap.add_argument("--prefetch", action="store_true")
    ap.add_argument("--steps", type=int)
    a = ap.parse_args()
    trace = load(a.trace)
    events = trace["traceEvents"]
    meta = [e for e in events if e.get("ph") == "M"]
    spans = [e for e in events if e.get("ph") == "X"]
    if trace.get("otherData", {}).get("events_dropped") != 0:
        problem(f"events dropped: {trace.get('otherData')}")
    check_processes(meta, a.ranks)
    check_names(spans, a.ranks, a.every_rank.split(","), [n for n in a.rank0.split(",") if n])
    check_tracks(spans)
    check_steps(spans, a.ranks, a.steps)
    errors = clock_errors(meta, a.ranks)
    margin = check_collectives(spans, a.ranks, errors) if a.ranks > 1 else None
    if a.prefetch:
        check_prefetch(trace, spans)
    for p in problems:
        print(f"check_timeline: {a.trace}: {p}", file=sys.stderr)
    if problems:
        sys.exit(1)
    summary(spans, a.ranks)
    if margin is not None:
        print(f"collectives: every rank was inside each one together (smallest margin {margin:.1f} us; "
              f"clock error bounds {', '.join(f'{errors[r]:.1f}' for r in range(a.ranks))} us)")


if __name__ == "__main__":
    main()
