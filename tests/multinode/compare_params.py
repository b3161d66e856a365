#!/usr/bin/python3
"""Compares the parameters of two digitnet checkpoints.

Reads both files with Python protobuf from proto/digitnet/checkpoint.proto alone
(generated into a temporary directory, as scripts/read_checkpoint.py does), checks
their CRC and shapes, and prints one JSON object:
  step_a, step_b, count (parameters), bitwise_equal, max_abs_diff,
  frac_within_1e-5, frac_within_1e-6, max_abs_param (for scale).

usage: compare_params.py A.pb B.pb
"""
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zlib

import numpy as np

PROTO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "proto")


def load_proto_module():
    out = tempfile.mkdtemp(prefix="digitnet-pb-")
    try:
        subprocess.run(["protoc", f"--python_out={out}", f"-I{PROTO_DIR}",
                        os.path.join(PROTO_DIR, "digitnet", "checkpoint.proto")], check=True)
        sys.path.insert(0, out)
        return importlib.import_module("digitnet.checkpoint_pb2")
    finally:  # loaded; the generated source is not needed any more
        if out in sys.path:
            sys.path.remove(out)
        shutil.rmtree(out, ignore_errors=True)


def read(pb, path):
    """(step, shapes, flat float32 parameters: each layer's weight, then its bias)."""
    with open(path, "rb") as f:
        outer = pb.CheckpointFile.FromString(f.read())
    if zlib.crc32(outer.checkpoint) != outer.crc32:
        sys.exit(f"{path}: CRC32 mismatch")
    ck = pb.Checkpoint.FromString(outer.checkpoint)
    shapes = [(l.in_features, l.out_features) for l in ck.layers]
    flat = np.concatenate([np.concatenate([np.array(l.weight, dtype=np.float32),
                                           np.array(l.bias, dtype=np.float32)]) for l in ck.layers])
    return ck.training.step, shapes, flat


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: compare_params.py A.pb B.pb")
    pb = load_proto_module()
    step_a, shapes_a, a = read(pb, sys.argv[1])
    step_b, shapes_b, b = read(pb, sys.argv[2])
    if shapes_a != shapes_b:
        sys.exit(f"different models: {shapes_a} vs {shapes_b}")
    d = np.abs(a.astype(np.float64) - b.astype(np.float64))
    print(json.dumps({
        "step_a": step_a, "step_b": step_b, "count": int(a.size),
        "bitwise_equal": bool(a.tobytes() == b.tobytes()),
        "max_abs_diff": float(d.max()),
        "frac_within_1e-5": float(np.mean(d <= 1e-5)),
        "frac_within_1e-6": float(np.mean(d <= 1e-6)),
        "max_abs_param": float(np.abs(a).max()),
    }))


if __name__ == "__main__":
    main()
