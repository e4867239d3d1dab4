#!/usr/bin/env python3
"""PyTorch CUDA peer of rfim4j's GPU training step: the paper's MLP on MNIST, timed per epoch on the GPU.

The network, loss, L2, initialisation, batch, split and data files are those of pytorch_mlp.py (the CPU
peer; its loader, model and optimizer factories are imported from there): 784-80-80-80-10 ReLU, softmax
cross-entropy, L2 1e-3 on the non-bias weights, truncated-normal std 0.1, batch 50, float32, the first
50,000 training images train and the last 10,000 validate. SGD lr 0.1 and Adam lr 1e-3 (torch defaults:
Adam's foreach implementation on CUDA; --fused-adam for fused=True).

Eager mode (no torch.compile, no CUDA graphs). The whole training and validation set is copied to the
GPU once; each step gathers its mini-batch on the GPU with an index tensor (the epoch's permutation is
drawn with NumPy, as the CPU peer does, and copied to the GPU before the clock starts). The clock covers
the training steps only, with torch.cuda.synchronize() at the epoch's start and end (never inside);
validation runs after the clock stops. Median over epochs. TF32 matmul stays off (torch's default for
matmul) unless --tf32.

Usage: pytorch_gpu.py --data-dir DIR/mnist [--optimizers sgd,adam] [--lr sgd=0.1,adam=0.001] [--epochs 5]
                      [--train-size N] [--seed 1] [--warmup-steps 200] [--fused-adam] [--tf32]
                      [--device cuda|cpu] [--json OUT.json]
--device cpu is a smoke test of this script on a machine without CUDA (its seconds mean nothing).
Exit status 3 when --device cuda and torch.cuda.is_available() is false.
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_mlp import evaluate, load_mnist, make_model, make_optimizer  # noqa: E402


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def optimizer(name, model, lr, fused_adam):
    return make_optimizer(name, model, lr, **({"fused": True} if name == "adam" and fused_adam else {}))


def warm_up(name, lr, data, batch, steps, seed, device, fused_adam):
    """Untimed steps on a throwaway model (CUDA context, cuBLAS handles, kernels and allocator warm)."""
    xt, yt = data[0], data[1]
    model = make_model(seed).to(device)
    opt = optimizer(name, model, lr, fused_adam)
    loss_fn = nn.CrossEntropyLoss()
    for s in range(steps):
        i = (s * batch) % max(1, xt.shape[0] - batch)
        opt.zero_grad(set_to_none=True)
        loss_fn(model(xt[i:i + batch]), yt[i:i + batch]).backward()
        opt.step()
    sync(device)


def run(name, lr, data, epochs, batch, seed, device, fused_adam):
    xt, yt, xv, yv = data
    model = make_model(seed).to(device)
    opt = optimizer(name, model, lr, fused_adam)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(seed)
    n = xt.shape[0]
    secs, accs = [], []
    for epoch in range(1, epochs + 1):
        perm = torch.from_numpy(rng.permutation(n)).to(device)
        model.train()
        sync(device)
        t0 = time.perf_counter()
        for s in range(0, n, batch):
            idx = perm[s:s + batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        sync(device)
        dt = time.perf_counter() - t0
        model.eval()
        acc = evaluate(model, xv, yv)
        secs.append(dt)
        accs.append(acc)
        print("pytorch-%s %-4s epoch %d  %.3f s  val acc %.2f%%" % (device.type, name, epoch, dt, 100 * acc),
              flush=True)
    steps = (n + batch - 1) // batch
    med = statistics.median(secs)
    return {"optimizer": name, "lr": lr, "seconds_per_epoch": secs, "median_seconds_per_epoch": med,
            "steps_per_epoch": steps, "steps_per_second": steps / med if med > 0 else None, "val_accuracy": accs,
            "fused": bool(name == "adam" and fused_adam)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True, help="directory holding the MNIST IDX files (plain or .gz)")
    ap.add_argument("--optimizers", default="sgd,adam")
    ap.add_argument("--lr", default="sgd=0.1,adam=0.001")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--train-size", type=int, default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--warmup-steps", type=int, default=200)
    ap.add_argument("--fused-adam", action="store_true", help="torch.optim.Adam(fused=True)")
    ap.add_argument("--tf32", action="store_true", help="torch.backends.cuda.matmul.allow_tf32 = True")
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu (smoke test only)")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    if a.device.startswith("cuda") and not torch.cuda.is_available():
        print("pytorch_gpu.py: torch %s sees no CUDA device (torch.cuda.is_available() is False)" % torch.__version__,
              file=sys.stderr)
        return 3
    device = torch.device(a.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = a.tf32
        torch.backends.cudnn.allow_tf32 = a.tf32
    lrs = dict(kv.split("=") for kv in a.lr.split(","))
    data = tuple(t.to(device) for t in load_mnist(a.data_dir, a.train_size))
    results = []
    for name in a.optimizers.split(","):
        warm_up(name, float(lrs[name]), data, a.batch, a.warmup_steps, a.seed, device, a.fused_adam)
        results.append(run(name, float(lrs[name]), data, a.epochs, a.batch, a.seed, device, a.fused_adam))
    out = {"torch": torch.__version__, "device": str(device), "dtype": "float32", "mode": "eager",
           "cuda": torch.version.cuda,
           "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
           "tf32_matmul": bool(device.type == "cuda" and torch.backends.cuda.matmul.allow_tf32),
           "warmup_steps": a.warmup_steps, "batch": a.batch, "train_size": int(data[0].shape[0]), "epochs": a.epochs,
           "peak_memory_bytes": torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None,
           "results": results}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
