#!/usr/bin/env python3
"""Summary of a benchmarks/djl-cpu run directory (Markdown on stdout). Python standard library only.

Reads djl-rN.log (per-epoch lines of integrations/djl/mnist), djl-rN.out (its --profile tables and final lines),
native-rN/race.json (./rfim4j bench) and native-train/curve.csv (./rfim4j train --optimizer rngd).
"""
import csv
import glob
import json
import os
import re
import statistics
import sys


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def main(d):
    epoch_re = re.compile(r"^([\w-]+) epoch (\d+)/(\d+): train_loss ([\d.]+), val_error ([\d.]+), ([\d.]+) s$")
    djl = {}        # optimizer -> list of (round, epoch, seconds, val_error)
    rounds = sorted(glob.glob(os.path.join(d, "djl-r*.log")), key=lambda p: int(re.search(r"r(\d+)", p).group(1)))
    for p in rounds:
        r = int(re.search(r"djl-r(\d+)\.log", p).group(1))
        for line in open(p):
            m = epoch_re.match(line.strip())
            if m:
                djl.setdefault(m.group(1), []).append((r, int(m.group(2)), float(m.group(6)), float(m.group(5))))
    # profile rows: optimizer -> label -> [ms per round]
    prof = {}
    for p in sorted(glob.glob(os.path.join(d, "djl-r*.out"))):
        opt = None
        for line in open(p):
            m = re.match(r"^profile ([\w-]+)[ :]", line)
            if m:
                opt = m.group(1)
                continue
            m = re.match(r"^(\s+)(.*?)\s+(-?[\d.]+)$", line.rstrip("\n"))
            if opt and m:
                label = ("  " if len(m.group(1)) > 2 else "") + m.group(2).strip()
                prof.setdefault(opt, {}).setdefault(label, []).append(float(m.group(3)))
    native = {}     # optimizer -> list of (round, epoch, seconds, val_error)
    for p in sorted(glob.glob(os.path.join(d, "native-r*", "race.json"))):
        r = int(re.search(r"native-r(\d+)", p).group(1))
        race = json.load(open(p))
        for o in race["optimizers"]:
            for i, (s, c) in enumerate(zip(o["secondsPerEpoch"], o["curve"])):
                native.setdefault(o["optimizer"], []).append((r, i + 1, s, c["valError"]))

    out = []
    load = open(os.path.join(d, "load.txt")).read().strip() if os.path.exists(os.path.join(d, "load.txt")) else ""
    env = open(os.path.join(d, "env.txt")).read().strip() if os.path.exists(os.path.join(d, "env.txt")) else ""
    out.append("## Seconds per epoch (training steps only, validation excluded)\n")
    out.append("| run | optimizer | epochs timed | median s/epoch | min | max | per-round medians |")
    out.append("|---|---|---:|---:|---:|---:|---|")
    med = {}
    for name, data, opts in (("DJL 0.36 / PyTorch 2.7.1", djl, ("sgd", "adam", "rngd")),
                             ("rfim4j in the DJL JVM", djl, ("rfim4j-sgd", "rfim4j-adam", "rfim4j-rngd")),
                             ("rfim4j native (bench)", native, ("sgd", "adam", "rngd"))):
        for o in opts:
            if o not in data:
                continue
            secs = [s for (_, _, s, _) in data[o]]
            per_round = {}
            for (r, _, s, _) in data[o]:
                per_round.setdefault(r, []).append(s)
            med[(name, o)] = median(secs)
            out.append("| %s | %s | %d | %.2f | %.2f | %.2f | %s |" % (
                name, o, len(secs), median(secs), min(secs), max(secs),
                ", ".join("%.2f" % median(v) for _, v in sorted(per_round.items()))))
    dj = "DJL 0.36 / PyTorch 2.7.1"
    na = "rfim4j native (bench)"
    out.append("")
    if (dj, "rngd") in med and (dj, "adam") in med:
        out.append("DJL-RNGD / DJL-Adam per epoch: %.2f" % (med[(dj, "rngd")] / med[(dj, "adam")]))
    if (dj, "rngd") in med and (na, "rngd") in med:
        out.append("DJL-RNGD / native RNGD per epoch: %.2f" % (med[(dj, "rngd")] / med[(na, "rngd")]))
    if (na, "rngd") in med and (na, "adam") in med:
        out.append("native RNGD / native Adam per epoch: %.2f" % (med[(na, "rngd")] / med[(na, "adam")]))
    if (dj, "adam") in med and (na, "adam") in med:
        out.append("DJL-Adam / native Adam per epoch: %.2f" % (med[(dj, "adam")] / med[(na, "adam")]))
    sj = "rfim4j in the DJL JVM"
    if (dj, "rngd") in med and (sj, "rfim4j-rngd") in med:
        out.append("DJL-RNGD / rfim4j RNGD in the same JVM per epoch: %.2f" % (
            med[(dj, "rngd")] / med[(sj, "rfim4j-rngd")]))

    out.append("\n## Where a DJL step goes (ms per step, median over rounds)\n")
    for o in ("sgd", "adam", "rngd"):
        if o not in prof:
            continue
        out.append("| %s | ms/step |" % o)
        out.append("|---|---:|")
        for label, vals in prof[o].items():
            out.append("| %s | %.3f |" % (label.replace("  ", "&nbsp;&nbsp;", 1) if label.startswith("  ") else label,
                                          median(vals)))
        out.append("")

    out.append("## RNGD accuracy: DJL against rfim4j's own RNGD (same seed, rate, initial weights, batches)\n")
    curve = os.path.join(d, "native-train", "curve.csv")
    if os.path.exists(curve) and "rngd" in djl:
        rows = list(csv.DictReader(open(curve)))
        out.append("| epoch | rfim4j RNGD val error | DJL RNGD val error (round 1) | difference (points) |")
        out.append("|---:|---:|---:|---:|")
        r1 = {e: v for (r, e, _, v) in djl["rngd"] if r == 1}
        for row in rows:
            e = int(row["epoch"])
            nv = float(row["val_error"])
            if e in r1:
                out.append("| %d | %.2f%% | %.2f%% | %+.2f |" % (e, 100 * nv, 100 * r1[e], 100 * (r1[e] - nv)))
        finals = sorted({v for (r, e, _, v) in djl["rngd"] if e == max(x[1] for x in djl["rngd"])})
        out.append("\nDJL RNGD final validation error over the rounds: %s" % ", ".join("%.2f%%" % (100 * v)
                                                                                 for v in finals))
    out.append("\n## Run\n")
    out.append("```\n" + env + "\n" + load + "\n```")
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
