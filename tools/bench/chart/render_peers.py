"""Renders the peer suite's chart (PNG) from its JSON results with matplotlib (Debian
python3-matplotlib, Agg backend: no display needed). Medians of the repeated runs.
Usage: render_peers.py --sched S.json --llm L.json --sandbox X.json --out chart.png
"""

import argparse
import json
import statistics

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ORDER = ["codesweep", "celery", "dask", "postgres"]


def med(runs, *path):
    vals = []
    for r in runs:
        v = r
        for p in path:
            v = v.get(p) if isinstance(v, dict) else None
        if isinstance(v, (int, float)):
            vals.append(v)
    return statistics.median(vals) if vals else 0.0


def bars(ax, labels, series, title, ylabel, log=False):
    width = 0.8 / len(series)
    for k, (name, values) in enumerate(series.items()):
        xs = [i + (k - (len(series) - 1) / 2) * width for i in range(len(labels))]
        b = ax.bar(xs, values, width, label=name)
        ax.bar_label(b, fmt="%.3g", fontsize=7)
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel, fontsize=8)
    if log:
        ax.set_yscale("log")
    ax.legend(fontsize=7)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sched", required=True)
    ap.add_argument("--llm", required=True)
    ap.add_argument("--sandbox", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    sched = json.load(open(a.sched))["runs"]
    llm = json.load(open(a.llm))["runs"]
    sbx = json.load(open(a.sandbox))["runs"]
    systems = [s for s in ORDER if s in sched]
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    bars(axes[0][0], systems, {
        "no-op jobs/s": [med(sched[s], "noop", "drain_rate") for s in systems],
        "50 ms jobs/s (ideal 40)": [med(sched[s], "sleep", "drain_rate") for s in systems],
    }, "Drain rate, 2 single-slot workers (higher is better)", "jobs/s", log=True)
    bars(axes[0][1], systems, {
        "p50": [med(sched[s], "paced", "p50_ms") for s in systems],
        "p99": [med(sched[s], "paced", "p99_ms") for s in systems],
    }, "Dispatch latency, submit to start, idle system (lower is better)", "ms", log=True)
    names = [n for n in ("codesweep", "naive") if n in llm]
    bars(axes[1][0], names, {
        "requests/min as % of limit": [100 * med(llm[n], "rpm_share") for n in names],
        "429 responses": [med(llm[n], "http_429") for n in names],
    }, "LLM-bound: fakellm with RPM/TPM limits", "% / count")
    keys = sorted(sbx, key=lambda k: (k.split("|")[1], k))
    bars(axes[1][1], [k.replace("|", "\n") for k in keys], {
        "p50": [med(sbx[k], "p50_ms") for k in keys],
        "p99": [med(sbx[k], "p99_ms") for k in keys],
    }, "Sandbox: time per snippet (plain = python3 -c, no isolation)", "ms", log=True)
    fig.suptitle("codesweep against peers (medians of repeated runs, one machine, same run)")
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)


if __name__ == "__main__":
    main()
