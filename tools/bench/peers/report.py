"""Writes the "## Against peers" section (markdown) from the suite's JSON results.
Every number in it comes from those files; nothing is typed in by hand.
Usage: report.py --dir RESULTS_DIR --chart NAME.png --out FILE.md
"""

import argparse
import json
import os
import statistics

ORDER = ["codesweep", "celery", "dask", "postgres"]


def med(runs, *path):
    vals = []
    for r in runs:
        v = r
        for p in path:
            v = v.get(p) if isinstance(v, dict) else None
        if isinstance(v, (int, float)) and v == v:
            vals.append(v)
    return statistics.median(vals) if vals else None


def f(v, digits=3):
    if v is None:
        return "–"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.{digits}g}"


def ratio(v, base):
    if v is None or not base:
        return "–"
    return f"{v / base:.2g}×"


def sched_section(d, L):
    runs, cfg = d["runs"], d["config"]
    systems = [s for s in ORDER if s in runs]
    L.append("### Scheduler overhead (2 single-slot worker processes each)\n")
    L.append(f"{cfg['noop']} no-op jobs, {cfg['sleep']} jobs of 50 ms, {cfg['paced']} paced "
             f"no-op jobs at {cfg['paced_rate']:g}/s, medians of {cfg['reps']} repetitions "
             "(systems interleaved within each repetition).\n")
    L.append("| system | enqueue jobs/s | no-op drain jobs/s | 50 ms drain jobs/s (ideal 40) "
             "| dispatch p50 ms | dispatch p99 ms | broker/coordinator MB | 2 workers MB |")
    L.append("|---|---|---|---|---|---|---|---|")
    for s in systems:
        r = runs[s]
        L.append(f"| {s} | {f(med(r, 'noop', 'enqueue_rate'))} | "
                 f"{f(med(r, 'noop', 'drain_rate'))} | {f(med(r, 'sleep', 'drain_rate'))} | "
                 f"{f(med(r, 'paced', 'p50_ms'))} | {f(med(r, 'paced', 'p99_ms'))} | "
                 f"{f(med(r, 'noop', 'broker_mb'))} | {f(med(r, 'noop', 'workers_mb'))} |")
    L.append("\nRatios, peer ÷ codesweep (rates: above 1× the peer is faster; latency and memory:"
             " above 1× the peer is slower / bigger):\n")
    L.append("| system | enqueue | no-op drain | 50 ms drain | dispatch p50 | dispatch p99 "
             "| broker MB | workers MB |")
    L.append("|---|---|---|---|---|---|---|---|")
    base = runs.get("codesweep", [])
    keys = [("noop", "enqueue_rate"), ("noop", "drain_rate"), ("sleep", "drain_rate"),
            ("paced", "p50_ms"), ("paced", "p99_ms"), ("noop", "broker_mb"),
            ("noop", "workers_mb")]
    for s in systems:
        if s == "codesweep":
            continue
        cells = [ratio(med(runs[s], *k), med(base, *k)) for k in keys]
        L.append(f"| {s} | " + " | ".join(cells) + " |")
    paced_detail(runs.get("codesweep", []), L)
    L.append("\nkill -9 of one worker once 40 % of the 50 ms jobs are done (per repetition: "
             "lost / ran twice / recovery s):\n")
    L.append("| system | jobs lost (not done 40 s after the kill) | jobs run twice "
             "| first re-dispatch, s (median) | time to recover, s (median) | per repetition |")
    L.append("|---|---|---|---|---|---|")
    for s in systems:
        k = [r["kill"] for r in runs[s]]
        per = "; ".join(f"{x['lost']} / {x['twice']} / {f(x['recover_s'])}" for x in k)
        L.append(f"| {s} | {f(med(runs[s], 'kill', 'lost'))} | {f(med(runs[s], 'kill', 'twice'))}"
                 f" | {f(med(runs[s], 'kill', 'redispatch_s'))}"
                 f" | {f(med(runs[s], 'kill', 'recover_s'))} | {per} |")
    loads = {s: [round(r["load1"], 1) for r in runs[s]] for s in systems}
    L.append(f"\nLoad average (1 min) after each repetition: {loads}.\n")


def paced_detail(runs, L):
    """codesweep's dispatch latency: what it is measured from, and where its time goes."""
    if not runs or med(runs, "paced", "client_p50_ms") is None:
        return
    per = "; ".join(f"{f(r['paced']['p50_ms'])} / {f(r['paced']['p99_ms'])}" for r in runs)
    L.append(f"\ncodesweep's dispatch latency is the coordinator's receipt of the `codesweep "
             f"submit` frame → the job's start in the worker, from the microsecond dispatch "
             f"trace (per repetition p50 / p99 ms: {per}). From the `submit` process's send "
             f"(which includes its fresh TCP and ZeroMQ handshake): "
             f"{f(med(runs, 'paced', 'client_p50_ms'))} / "
             f"{f(med(runs, 'paced', 'client_p99_ms'))} ms; the store's lease − insert "
             f"(integer ms): {f(med(runs, 'paced', 'store_p50_ms'))} / "
             f"{f(med(runs, 'paced', 'store_p99_ms'))} ms. The stages, median of the "
             f"repetitions' p50, ms:\n")
    names = [k for k in runs[0]["paced"].get("stages_p50_ms", {})]
    L.append("| " + " | ".join(names) + " |")
    L.append("|" + "---|" * len(names))
    L.append("| " + " | ".join(f(med(runs, "paced", "stages_p50_ms", k)) for k in names) + " |")


def llm_section(d, L, title="LLM-bound work: codesweep vs a naive asyncio runner"):
    runs, cfg = d["runs"], d["config"]
    L.append(f"### {title}\n")
    second = cfg.get("second_rpm", 0)
    if second:
        L.append(f"Two models in one sweep, each with its own fakellm: {cfg['rpm']} and {second} "
                 f"requests/min, {cfg['tpm']:,} tokens/min each, 1 s burst, exponential latency "
                 f"with mean {cfg['latency_ms']} ms; {cfg['jobs']} jobs of one call each, half "
                 f"per model; {cfg['concurrency']} concurrent slots on both sides (codesweep: one "
                 f"sweep, 2 workers × {cfg['concurrency'] // 2}; naive: one runner per model with "
                 f"{cfg['concurrency'] // 2} each); medians of {cfg['reps']} runs. Binding limit "
                 f"used: each model's share up to its own last admission, weighted by its calls; "
                 f"the limit columns are of both limits together. Ideal wall time at the request "
                 f"limits: {cfg['jobs'] / 2 * 60 / min(cfg['rpm'], second):.0f} s.\n")
    else:
        L.append(f"fakellm: {cfg['rpm']} requests/min and {cfg['tpm']:,} tokens/min, 1 s burst, "
                 f"exponential latency with mean {cfg['latency_ms']} ms; {cfg['jobs']} jobs of "
                 f"one call each; {cfg['concurrency']} concurrent slots on both sides (codesweep: "
                 f"2 workers × {cfg['concurrency'] // 2}); medians of {cfg['reps']} runs. "
                 f"Ideal wall time at the request limit: {cfg['jobs'] * 60 / cfg['rpm']:.0f} s."
                 f"\n")
    L.append("| runner | wall s | binding limit used, start → last admission, % "
             "| requests/min, % of limit | tokens/min, % of limit | jobs/min, % of request limit "
             "| 429 responses | HTTP requests | 429 % | wall ÷ codesweep |")
    L.append("|---|---|---|---|---|---|---|---|---|---|")
    base = med(runs.get("codesweep", []), "wall_s")
    pct = lambda r, k: None if med(r, k) is None else 100 * med(r, k)  # noqa: E731
    for s in ("codesweep", "naive"):
        if s not in runs:
            continue
        r = runs[s]
        L.append(f"| {s} | {f(med(r, 'wall_s'))} | {f(pct(r, 'limit_share_to_last_admit'))} | "
                 f"{f(pct(r, 'rpm_share'))} | {f(pct(r, 'tpm_share'))} | "
                 f"{f(pct(r, 'jobs_per_min_share'))} | {f(med(r, 'http_429'))} | "
                 f"{f(med(r, 'requests'))} | {f(pct(r, 'http_429_share'))} | "
                 f"{ratio(med(r, 'wall_s'), base)} |")
    walls = {s: [round(x["wall_s"], 1) for x in runs[s]] for s in runs}
    L.append(f"\nWall s per repetition: {walls}.\n")
    if second:
        per = {s: [" / ".join(f"{100 * u:.0f} %" for u in x["limit_share_per_model"])
                   for x in runs[s]] for s in runs}
        L.append(f"Binding limit used per model ({cfg['rpm']} / {second} requests/min), per "
                 f"repetition: {per}.\n")


def sandbox_section(d, L):
    runs = d["runs"]
    L.append("### Sandbox cost per snippet\n")
    alone = d["config"].get("alone")
    L.append(f"bench_sandbox, {d['config']['runs']} executions per line, medians of "
             f"{d['config']['reps']} runs"
             + (", each mode alone (one process per mode, the same snippet over and over, as a "
                "worker slot runs it)" if alone else "") +
             ". plain = fork/exec `python3 -I -c` with no isolation; plain -S = `python3 -I -S "
             "-c`, the interpreter start-up tier A uses. **fresh A native is the mode a worker "
             "runs by default** (BENCHMARKS.md, Sandbox, measures it the same way).\n")
    L.append("| mode | snippet | p50 ms | p99 ms | executions/s | p50 overhead vs plain, ms "
             "| p50 ÷ plain | p50 ÷ plain -S |")
    L.append("|---|---|---|---|---|---|---|---|")
    for key in sorted(runs, key=lambda k: (k.split("|")[1], not k.startswith("plain"), k)):
        mode, snippet = key.split("|")
        p50 = med(runs[key], "p50_ms")
        ref = med(runs.get(f"plain|{snippet}", []), "p50_ms")
        ref_s = med(runs.get(f"plain -S|{snippet}", []), "p50_ms")
        over = None if ref is None or p50 is None else p50 - ref
        L.append(f"| {mode} | `{snippet}` | {f(p50)} | {f(med(runs[key], 'p99_ms'))} | "
                 f"{f(med(runs[key], 'exec_per_s'))} | {f(over)} | {ratio(p50, ref)} | "
                 f"{ratio(p50, ref_s)} |")
    for n in d.get("notes", []):
        L.append(f"\nbench_sandbox said: `{n}`")
    L.append("")


def llm_sections(a_dir, L):
    """Every LLM-bound scenario whose JSON is in a_dir, in the suite's order."""
    load = lambda n: json.load(open(os.path.join(a_dir, n)))  # noqa: E731
    scenarios = [("llm.json", None),
                 ("llm_tpm.json", "LLM-bound work, the tokens-per-minute limit binding"),
                 ("llm_2models.json", "LLM-bound work, two models of different limits in one "
                  "sweep"),
                 ("llm_long.json", "LLM-bound work, 3,000 jobs")]
    for name, title in scenarios:
        if os.path.exists(os.path.join(a_dir, name)):
            if title is None:
                llm_section(load(name), L)
            else:
                llm_section(load(name), L, title)


def replace_llm(a):
    """--llm-only: rewrite only the LLM-bound sections of an existing report (the scheduler and
    sandbox sections keep the numbers of their own run), noting the load of the LLM runs."""
    text = open(a.out).read()
    start = text.index("### LLM-bound work")
    end = text.index("### Sandbox cost")
    # Notes written by hand into the old sections (paragraphs opening with a bold title) stay.
    notes = [p for p in text[start:end].split("\n\n") if p.startswith("**")]
    L = []
    llm_sections(a.dir, L)
    loads = []
    for name in sorted(os.listdir(a.dir)):
        if name.startswith("llm") and name.endswith(".json"):
            d = json.load(open(os.path.join(a.dir, name)))
            loads += [r["load1"] for runs in d["runs"].values() for r in runs]
    L.append(f"These LLM-bound sections were re-run alone (`report.py --llm-only`), not with the "
             f"rest of the suite: load average (1 min) after each run "
             f"{min(loads):.1f}-{max(loads):.1f}.\n")
    L += [n.rstrip() + "\n" for n in notes]
    with open(a.out, "w") as out:
        out.write(text[:start] + "\n".join(L) + "\n" + text[end:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--chart", default="")
    ap.add_argument("--out", required=True)
    ap.add_argument("--llm-only", action="store_true",
                    help="replace only the LLM-bound sections of the existing --out")
    a = ap.parse_args()
    if a.llm_only:
        return replace_llm(a)
    load = lambda n: json.load(open(os.path.join(a.dir, n)))  # noqa: E731
    machine = load("machine.json")
    L = ["## Against peers\n",
         "Produced by `tools/bench/peers/run_all.sh` (one command: installs and starts every "
         "peer, runs everything, stops the peers, writes this section and the chart). Numbers "
         "come only from that run.\n",
         "### Machine\n"]
    for k, v in machine.items():
        L.append(f"- {k}: {v}")
    L.append("\nThe machine was shared while this ran; absolute numbers are noisy. Prefer the "
             "ratios: every system ran in the same repetitions, interleaved.\n")
    L.append(f"![codesweep against peers]({a.chart})\n")
    sched_section(load("sched.json"), L)
    llm_sections(a.dir, L)
    sandbox_section(load("sandbox.json"), L)
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "METHOD.md")) as m:
        L.append(m.read())
    with open(a.out, "w") as out:
        out.write("\n".join(L).rstrip() + "\n")


if __name__ == "__main__":
    main()
