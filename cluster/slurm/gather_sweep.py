#!/usr/bin/python3
"""Gather the result files of a digitnet sweep (cluster/slurm/sweep.sbatch) into one
table, best first (highest test accuracy; ties: lower loss, then task number).

    cluster/slurm/gather_sweep.py runs/sweep-123          # plain-text table
    cluster/slurm/gather_sweep.py runs/sweep-123 --csv    # CSV with a header line

Reads DIR/result-*.json (one JSON object per array task). Problems - an unreadable
result file, or tasks of the grid without a result yet - are reported on stderr and
make the exit status 1; the table of the good results is printed anyway. Exit status 2:
bad arguments or no result at all.
"""
import argparse
import csv
import glob
import json
import os
import sys

COLUMNS = ["task", "lr", "hidden", "accuracy", "loss", "steps", "seconds"]
REQUIRED = ["task", "lr", "hidden", "accuracy", "steps"]


def load(directory):
    rows, problems = [], []
    for path in sorted(glob.glob(os.path.join(directory, "result-*.json"))):
        try:
            with open(path, encoding="utf-8") as f:
                row = json.load(f)
            if not isinstance(row, dict):
                raise ValueError("not a JSON object")
            missing = [k for k in REQUIRED if k not in row]
            if missing:
                raise ValueError("missing " + ", ".join(missing))
            row["accuracy"] = float(row["accuracy"])
            row["task"] = int(row["task"])
            row["_path"] = path
            rows.append(row)
        except (OSError, ValueError) as e:
            problems.append(f"{path}: {e}")
    return rows, problems


def sort_key(row):
    loss = row.get("loss")
    return (-row["accuracy"], loss if isinstance(loss, (int, float)) else float("inf"), row["task"])


def main():
    ap = argparse.ArgumentParser(description="Gather digitnet sweep results into one table, best first.")
    ap.add_argument("dir", help="the sweep directory (holding result-<task>.json files)")
    ap.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    args = ap.parse_args()
    if not os.path.isdir(args.dir):
        print(f"gather_sweep.py: {args.dir}: not a directory", file=sys.stderr)
        return 2
    rows, problems = load(args.dir)
    if not rows:
        print(f"gather_sweep.py: {args.dir}: no result-*.json files" +
              (f" ({len(problems)} unreadable)" if problems else ""), file=sys.stderr)
        for p in problems:
            print(f"gather_sweep.py: {p}", file=sys.stderr)
        return 2
    counts = {int(r["task_count"]) for r in rows if "task_count" in r}
    if counts:
        expected = set(range(max(counts)))
        missing = sorted(expected - {r["task"] for r in rows})
        if missing:
            problems.append(f"no result yet for {len(missing)} of {len(expected)} tasks: "
                            + " ".join(map(str, missing)))
    rows.sort(key=sort_key)

    if args.csv:
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(["rank"] + COLUMNS)
        for i, r in enumerate(rows, 1):
            w.writerow([i] + [r.get(c, "") for c in COLUMNS])
    else:
        table = [["rank", "task", "lr", "hidden", "accuracy", "loss", "steps", "seconds"]]
        for i, r in enumerate(rows, 1):
            loss = r.get("loss")
            table.append([str(i), str(r["task"]), str(r["lr"]), str(r["hidden"]),
                          f"{100 * r['accuracy']:.2f}%",
                          f"{loss:.4f}" if isinstance(loss, (int, float)) else "-",
                          str(r["steps"]), str(r.get("seconds", "-"))])
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
        for row in table:
            print("  ".join(c.ljust(w) if i in (2, 3) else c.rjust(w)
                            for i, (c, w) in enumerate(zip(row, widths))).rstrip())
    for p in problems:
        print(f"gather_sweep.py: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
