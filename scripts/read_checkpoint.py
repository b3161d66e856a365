#!/usr/bin/python3
"""Independent reader of digitnet checkpoints.

Rebuilds the network from the contract fields of DESIGN.md alone (InputSpec,
DenseLayer, num_classes inside a CRC-checked CheckpointFile) with numpy, and
scores it on a labelled IDX test set. Nothing of digitnet's C++ is used, so it
shows that any protobuf client can use a checkpoint.

usage: read_checkpoint.py CHECKPOINT [--data DIR] [--split t10k]
prints one JSON object: step, layers, accuracy (if --data), params_sha256.
"""
import argparse
import gzip
import hashlib
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.path.join(HERE, "..", "proto")


def load_proto_module():
    """Generates the Python protobuf module from proto/digitnet/checkpoint.proto."""
    out = tempfile.mkdtemp(prefix="digitnet-pb-")
    subprocess.run(["protoc", f"--python_out={out}", f"-I{PROTO_DIR}",
                    os.path.join(PROTO_DIR, "digitnet", "checkpoint.proto")], check=True)
    sys.path.insert(0, out)
    try:
        return importlib.import_module("digitnet.checkpoint_pb2")
    finally:  # the module is loaded; its generated source is not needed any more
        sys.path.remove(out)
        shutil.rmtree(out, ignore_errors=True)


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if data[:2] != b"\0\0" or data[2] != 8:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(data_dir, base):
    for name in (base, base + ".gz"):
        if os.path.exists(os.path.join(data_dir, name)):
            return os.path.join(data_dir, name)
    raise FileNotFoundError(os.path.join(data_dir, base))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--data")
    ap.add_argument("--split", default="t10k")
    args = ap.parse_args()

    pb = load_proto_module()
    with open(args.checkpoint, "rb") as f:
        outer = pb.CheckpointFile.FromString(f.read())
    if zlib.crc32(outer.checkpoint) != outer.crc32:
        sys.exit(f"{args.checkpoint}: CRC32 mismatch")
    ck = pb.Checkpoint.FromString(outer.checkpoint)

    layers, sha = [], hashlib.sha256()
    for layer in ck.layers:
        w = np.array(layer.weight, dtype=np.float32).reshape(layer.out_features, layer.in_features)
        b = np.array(layer.bias, dtype=np.float32)
        sha.update(w.tobytes())
        sha.update(b.tobytes())
        layers.append((w, b, layer.activation))
    result = {"checkpoint": args.checkpoint, "step": ck.training.step,
              "layers": [int(ck.layers[0].in_features)] + [int(l.out_features) for l in ck.layers],
              "params_sha256": sha.hexdigest()}

    if args.data:
        images = read_idx(find(args.data, f"{args.split}-images-idx3-ubyte"))
        labels = read_idx(find(args.data, f"{args.split}-labels-idx1-ubyte"))
        x = images.reshape(len(images), -1).astype(np.float64) / 255.0
        x = (x - ck.input.mean) / ck.input.std
        for w, b, act in layers:
            x = x @ w.T.astype(np.float64) + b
            if act == pb.RELU:
                x = np.maximum(x, 0)
        # softmax is monotone: the argmax of the logits is the prediction
        result["accuracy"] = float(np.mean(np.argmax(x, axis=1) == labels))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
