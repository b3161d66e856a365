#!/usr/bin/python3
"""The same training job in PyTorch, as a peer for scripts/bench.sh.

Model 784-H1-H2-10 (ReLU, softmax cross-entropy), Adam, the same global batch,
inputs standardised the same way, the whole data set in memory as tensors, so
that only the framework's training step is compared. Prints one line:
median seconds per epoch over epochs 2.. (epoch 1 is warm-up), samples/s and
the final test accuracy.

usage: peer_pytorch.py --data DIR [--hidden 512,512] [--batch 128] [--epochs 3] [--threads 2]
"""
import argparse
import gzip
import os
import statistics
import time

import numpy as np
import torch


def read_idx(path):
    for p in (path, path + ".gz"):
        if os.path.exists(p):
            with (gzip.open if p.endswith(".gz") else open)(p, "rb") as f:
                data = f.read()
            ndim = data[3]
            dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
            return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)
    raise FileNotFoundError(path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--hidden", default="512,512")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)

    flat = lambda a: a.reshape(a.shape[0], -1)
    xtr = flat(read_idx(os.path.join(args.data, "train-images-idx3-ubyte")))
    ytr = read_idx(os.path.join(args.data, "train-labels-idx1-ubyte"))
    xte = flat(read_idx(os.path.join(args.data, "t10k-images-idx3-ubyte")))
    yte = read_idx(os.path.join(args.data, "t10k-labels-idx1-ubyte"))
    scaled = xtr / 255.0
    mean, std = scaled.mean(), scaled.std()
    norm = lambda x: torch.from_numpy(((x / 255.0 - mean) / std).astype(np.float32))
    xtr_t, xte_t = norm(xtr), norm(xte)
    ytr_t, yte_t = torch.from_numpy(ytr.astype(np.int64)), torch.from_numpy(yte.astype(np.int64))

    widths = [xtr.shape[1]] + [int(w) for w in args.hidden.split(",")] + [int(ytr.max()) + 1]
    layers = []
    for i in range(len(widths) - 1):
        layers.append(torch.nn.Linear(widths[i], widths[i + 1]))
        if i + 2 < len(widths):
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, foreach=True)  # multi-tensor Adam: its fastest CPU path
    loss_fn = torch.nn.CrossEntropyLoss()

    seconds = []
    for epoch in range(args.epochs):
        start = time.perf_counter()
        perm = torch.randperm(len(ytr_t))
        model.train()
        for b in range(0, len(perm), args.batch):
            idx = perm[b: b + args.batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xtr_t[idx]), ytr_t[idx])
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():  # digitnet's epoch time includes scoring the test set too
            accuracy = (model(xte_t).argmax(1) == yte_t).float().mean().item()
        seconds.append(time.perf_counter() - start)
    med = statistics.median(seconds[1:] or seconds)
    print(f"{med:.3f} s/epoch {len(ytr) / med:.0f} samples/s test accuracy {100 * accuracy:.2f}% "
          f"(PyTorch {torch.__version__}, {args.threads} threads)")


if __name__ == "__main__":
    main()
