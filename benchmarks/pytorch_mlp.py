#!/usr/bin/env python3
"""PyTorch CPU peer of rfim4j's training step: the paper's MLP on MNIST, timed per epoch.

Network 784-80-80-80-10 ReLU, softmax cross-entropy (mean over the batch), L2 1e-3 on the non-bias
weights only (weight_decay on the weight group, 0 on the biases; torch's SGD and Adam add it to the
gradient, as rfim4j does), every weight and bias drawn from a normal with std 0.1 truncated at two
standard deviations, batch 50, float32. Split as rfim4j: the first 50,000 images of
train-images-idx3-ubyte train, the last 10,000 validate; pixels / 255.

Seconds per epoch cover the training steps only (mini-batch gather, forward, backward, step);
validation runs after the clock stops. Prints one line per epoch and writes a JSON summary.

Usage: pytorch_mlp.py --data-dir DIR/mnist [--optimizers sgd,adam] [--epochs 5] [--threads 2]
                      [--train-size N] [--seed 1] [--warmup-steps 200] [--json OUT.json]
"""
import argparse
import gzip
import json
import os
import statistics
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn


def read_idx(path):
    """An unsigned-byte IDX file; PATH.gz when PATH is absent (the bundle ships MNIST gzipped)."""
    opener = open
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path, opener = path + ".gz", gzip.open
    with opener(path, "rb") as f:
        zero, dtype, ndim = struct.unpack(">HBB", f.read(4))
        if zero != 0 or dtype != 0x08:
            raise SystemExit("error: %s is not an unsigned-byte IDX file" % path)
        dims = struct.unpack(">" + "I" * ndim, f.read(4 * ndim))
        data = np.frombuffer(f.read(), dtype=np.uint8)
    if data.size != int(np.prod(dims)):
        raise SystemExit("error: %s holds %d values, its header says %s" % (path, data.size, dims))
    return data.reshape(dims)


def load_mnist(d, train_size):
    images = read_idx(os.path.join(d, "train-images-idx3-ubyte"))
    labels = read_idx(os.path.join(d, "train-labels-idx1-ubyte"))
    x = images.reshape(images.shape[0], -1).astype(np.float32) / np.float32(255)
    y = labels.astype(np.int64)
    cut = x.shape[0] - 10000
    n = cut if train_size is None else min(train_size, cut)
    return (torch.from_numpy(x[:n].copy()), torch.from_numpy(y[:n].copy()),
            torch.from_numpy(x[cut:].copy()), torch.from_numpy(y[cut:].copy()))


def make_model(seed):
    torch.manual_seed(seed)
    layers = []
    widths = [784, 80, 80, 80, 10]
    for i in range(len(widths) - 1):
        lin = nn.Linear(widths[i], widths[i + 1])
        nn.init.trunc_normal_(lin.weight, std=0.1, a=-0.2, b=0.2)
        nn.init.trunc_normal_(lin.bias, std=0.1, a=-0.2, b=0.2)
        layers.append(lin)
        if i + 2 < len(widths):
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def make_optimizer(name, model, lr, **options):
    """SGD or Adam with L2 1e-3 on the weights only; OPTIONS go to the torch constructor (e.g. fused=True)."""
    weights = [p for n, p in model.named_parameters() if n.endswith("weight")]
    biases = [p for n, p in model.named_parameters() if n.endswith("bias")]
    groups = [{"params": weights, "weight_decay": 1e-3}, {"params": biases, "weight_decay": 0.0}]
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, **options)
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr, **options)
    raise SystemExit("error: unknown optimizer %r (expected sgd or adam)" % name)


def evaluate(model, x, y):
    with torch.no_grad():
        correct = 0
        for i in range(0, x.shape[0], 500):
            correct += (model(x[i:i + 500]).argmax(1) == y[i:i + 500]).sum().item()
    return correct / x.shape[0]


def warm_up(name, lr, data, batch, steps, seed):
    """Untimed steps on a throwaway model (as rfim4j bench --warmup-steps)."""
    xt, yt = data[0], data[1]
    model = make_model(seed)
    opt = make_optimizer(name, model, lr)
    loss_fn = nn.CrossEntropyLoss()
    for s in range(steps):
        i = (s * batch) % max(1, xt.shape[0] - batch)
        opt.zero_grad(set_to_none=True)
        loss_fn(model(xt[i:i + batch]), yt[i:i + batch]).backward()
        opt.step()


def run(name, lr, data, epochs, batch, seed):
    xt, yt, xv, yv = data
    model = make_model(seed)
    opt = make_optimizer(name, model, lr)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(seed)
    n = xt.shape[0]
    secs, accs = [], []
    for epoch in range(1, epochs + 1):
        perm = torch.from_numpy(rng.permutation(n))
        model.train()
        t0 = time.perf_counter()
        for s in range(0, n, batch):
            idx = perm[s:s + batch]
            xb = xt[idx]
            yb = yt[idx]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
        dt = time.perf_counter() - t0
        model.eval()
        acc = evaluate(model, xv, yv)
        secs.append(dt)
        accs.append(acc)
        print("pytorch %-4s epoch %d  %.3f s  val acc %.2f%%" % (name, epoch, dt, 100 * acc), flush=True)
    return {"optimizer": name, "lr": lr, "seconds_per_epoch": secs, "median_seconds_per_epoch": statistics.median(secs),
            "steps_per_epoch": (n + batch - 1) // batch, "val_accuracy": accs}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True, help="directory holding the MNIST IDX files")
    ap.add_argument("--optimizers", default="sgd,adam")
    ap.add_argument("--lr", default="sgd=0.1,adam=0.001")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--train-size", type=int, default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--warmup-steps", type=int, default=200)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    lrs = dict(kv.split("=") for kv in a.lr.split(","))
    data = load_mnist(a.data_dir, a.train_size)
    results = []
    for name in a.optimizers.split(","):
        warm_up(name, float(lrs[name]), data, a.batch, a.warmup_steps, a.seed)
        results.append(run(name, float(lrs[name]), data, a.epochs, a.batch, a.seed))
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "dtype": "float32",
           "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS"), "warmup_steps": a.warmup_steps,
           "train_size": int(data[0].shape[0]), "epochs": a.epochs, "results": results}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
