#!/usr/bin/env python3
"""Markdown summary of a JMH JSON result file (standard library only).

Usage: jmh_summary.py RESULT.json [OUT.md]   (OUT.md defaults to RESULT.md next to the JSON)

One table row per benchmark and parameter combination (score +- 99.9% error), then, for
TrainStepBench, steps per second and the per-step cost ratios rngd/adam and sgd/adam per backend.
"""
import json
import os
import platform
import sys


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average():
    try:
        return "%.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        return "unknown"


def fmt(x):
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "n/a"
    if x != x:  # NaN: JMH reports NaN error with a single measurement iteration
        return "n/a"
    if abs(x) >= 100:
        return "%.0f" % x
    if abs(x) >= 1:
        return "%.2f" % x
    return "%.4g" % x


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    src = argv[1]
    out = argv[2] if len(argv) > 2 else os.path.splitext(src)[0] + ".md"
    with open(src) as f:
        results = json.load(f)
    lines = ["# JMH results: %s" % os.path.basename(src), ""]
    if results:
        r0 = results[0]
        lines += [
            "- JVM: %s %s (%s)" % (r0.get("vmName", "?"), r0.get("vmVersion", "?"), r0.get("jdkVersion", "?")),
            "- CPU: %s, %d logical cores; load average when summarised: %s" % (cpu_model(), os.cpu_count() or 0,
                                                                              load_average()),
            "- per benchmark: %s fork(s), %s warm-up x %s, %s measurement x %s, %s thread(s)" % (
                r0.get("forks"), r0.get("warmupIterations"), r0.get("warmupTime"),
                r0.get("measurementIterations"), r0.get("measurementTime"), r0.get("threads")),
            "- error is JMH's 99.9% confidence half-width (n/a with one measurement iteration)",
            "",
        ]
    lines += ["| benchmark | parameters | score | error | unit |", "|---|---|---:|---:|---|"]
    steps = {}
    for r in results:
        name = r["benchmark"].rsplit(".", 2)
        short = ".".join(name[-2:])
        params = r.get("params", {})
        ptxt = ", ".join("%s=%s" % kv for kv in params.items())
        m = r["primaryMetric"]
        lines.append("| %s | %s | %s | %s | %s |" % (short, ptxt, fmt(m["score"]), fmt(m["scoreError"]),
                                                   m["scoreUnit"]))
        if short == "TrainStepBench.step" and m["scoreUnit"] == "us/op":
            steps.setdefault(params.get("backend", "?"), {})[params.get("optimizer", "?")] = m["score"]
    if steps:
        lines += ["", "## Training step (784-80-80-80-10, batch 50)", "",
                  "| backend | optimizer | us/step | steps/s | x adam |", "|---|---|---:|---:|---:|"]
        for backend, by in steps.items():
            adam = by.get("adam")
            for opt in ("sgd", "adam", "rngd"):
                if opt in by:
                    ratio = fmt(by[opt] / adam) if adam else "n/a"
                    lines.append("| %s | %s | %s | %s | %s |" % (backend, opt, fmt(by[opt]), fmt(1e6 / by[opt]),
                                                                 ratio))
    lines.append("")
    with open(out, "w") as f:
        f.write("\n".join(lines))
    sys.stdout.write("\n".join(lines))
    sys.stdout.write("wrote %s\n" % out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
