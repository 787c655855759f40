#!/usr/bin/env python3
"""bench_batch: batch mode (docs/batch.md) against synchronous calls, on fakellm.

1. The paper-sim grid (examples/paper-sim.toml's 14 tasks x 10 methods x turns 1 and 2, one
   sample) on an `openai:` and an `anthropic:` model, both served by one fakellm with the same
   scripted answers, run by `codesweep run` synchronously and in batch mode, alternately, REPS
   times each: the dollars paid to the provider (synchronous: its calls that were not cache
   hits; batch: `batches.cost_usd`), the HTTP requests fakellm received (synchronous: chat
   calls; batch: requests to its batch routes: uploads, creates, polls, downloads), the batches
   and rounds, and the wall time beside the configured batch delay (rounds x delay).
2. Coordinator memory with N parked cells (default 100,000): a `codesweep coordinator` and one
   `codesweep worker` on a grid of N single-call cells whose batches never end; the
   coordinator's resident set (VmRSS, and its peak VmHWM) once all N are parked and their
   requests sit in live batches, beside the same with N/10 cells.
Prints Markdown tables of medians.
Usage: bench_batch.py [--build build] [--reps 3] [--delay-ms 1000] [--flush-s 0.2]
                      [--parked 100000]
                      [--skip-grid] [--skip-memory]
"""
import argparse
import json
import os
import re
import sqlite3
import statistics
import subprocess
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

REPLAY = {
    "sequences": {"*": [
        {"content": "```python\nprint('<<<42>>>')\n```", "finish_reason": "stop"},
        {"content": "<<<42>>>", "finish_reason": "stop"},
        {"content": "<<<42>>> TERMINATE", "finish_reason": "stop"},
    ]},
    "default": {"content": "<<<42>>> TERMINATE", "finish_reason": "stop"},
}


class FakeLlm:
    def __init__(self, binary, workdir):
        replay = os.path.join(workdir, "replay.json")
        with open(replay, "w") as f:
            json.dump(REPLAY, f)
        self.proc = subprocess.Popen([binary, "--port", "0", "--replay", replay],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.port = int(self.proc.stdout.readline())
        self.host = f"http://127.0.0.1:{self.port}"

    def stats(self):
        with urllib.request.urlopen(self.host + "/stats") as r:
            return json.load(r)

    def config(self, **patch):
        req = urllib.request.Request(self.host + "/admin/batches/config",
                                     data=json.dumps(patch).encode(), method="POST")
        urllib.request.urlopen(req).read()

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def model_block(model_id, base_url, batch, flush_s=0.2, poll_s=0.05):
    text = (f'[models."{model_id}"]\nbase_url = "{base_url}"\napi_key_env = ""\n'
            'max_tokens = 256\nretry = { max_attempts = 1 }\n'
            'price = { input = 1000.0, output = 1000.0 }\n')
    if batch:
        text += f"batch = true\nbatch_flush_s = {flush_s}\nbatch_poll_s = {poll_s}\n"
    return text + "\n"


def paper_sweep(path, host, batch, flush_s, poll_s):
    with open(os.path.join(ROOT, "examples", "paper-sim.toml")) as f:
        text = f.read()
    text = text[:text.index("[models.")]
    with open(path, "w") as f:
        f.write(text)
        f.write(model_block("openai:fake", host + "/v1", batch, flush_s=flush_s, poll_s=poll_s))
        f.write(model_block("anthropic:fake", host, batch, flush_s=flush_s, poll_s=poll_s))


def query(db, sql):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def run_grid(codesweep, llm, workdir, batch, rep, flush_s, poll_s):
    sweep = os.path.join(workdir, f"paper-{'batch' if batch else 'sync'}.toml")
    paper_sweep(sweep, llm.host, batch, flush_s, poll_s)
    db = os.path.join(workdir, f"grid-{'batch' if batch else 'sync'}-{rep}.db")
    before = llm.stats()
    t0 = time.monotonic()
    subprocess.run([codesweep, "run", sweep, "--db", db, "--workers", "2", "-q"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.monotonic() - t0
    after = llm.stats()
    cells = query(db, "SELECT count(*) FROM results")
    if batch:
        http = after["batch"]["http_requests"] - before["batch"]["http_requests"]
        dollars = query(db, "SELECT total(cost_usd) FROM batches")
        batches = query(db, "SELECT count(*) FROM batches WHERE provider_id <> ''")
        rounds = query(db, "SELECT max(n) FROM (SELECT count(*) AS n FROM batches "
                           "WHERE provider_id <> '' GROUP BY provider)")
        lines = after["batch"]["lines_received"] - before["batch"]["lines_received"]
    else:
        http = after["requests"] - before["requests"]
        dollars = query(db, "SELECT total(cost_usd) FROM calls WHERE cached = 0")
        batches = rounds = 0
        lines = query(db, "SELECT count(*) FROM calls WHERE cached = 0")
    return {"wall": wall, "http": http, "dollars": dollars, "batches": batches,
            "rounds": rounds, "calls": lines, "cells": cells}


def rss_kb(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1])
    return out


def parked_memory(codesweep, llm, workdir, cells, tag):
    """Coordinator RSS once `cells` single-call cells are parked in live batches."""
    samples = cells // 4
    sweep = os.path.join(workdir, f"parked-{tag}.toml")
    with open(sweep, "w") as f:
        f.write(f'name = "parked{tag}"\nseed = 7\nsamples = {samples}\n'
                'methods = ["only_question"]\nturns = [1]\n\n'
                '[[tasks]]\nname = "number_multiply"\n'
                'complexity = ["1_2", "2_2", "2_3", "3_3"]\n\n')
        f.write(model_block("openai:fake", llm.host + "/v1", True, flush_s=3600, poll_s=600))
    db = os.path.join(workdir, f"parked-{tag}.db")
    coord = subprocess.Popen([codesweep, "coordinator", sweep, "--db", db,
                              "--bind", "tcp://127.0.0.1:0"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    endpoint = None
    while endpoint is None:
        line = coord.stdout.readline()
        if not line:
            raise RuntimeError("coordinator exited before listening")
        m = re.search(r"listening on (\S+)", line)
        if m:
            endpoint = m.group(1)
    worker = subprocess.Popen([codesweep, "worker", "--connect", endpoint, "--slots", "32"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.monotonic()
    try:
        while True:
            time.sleep(1)
            try:
                parked = query(db, "SELECT count(*) FROM jobs WHERE state = 'parked'")
                # Cells with the same prompt share one call key: fewer requests than cells.
                queued = query(db, "SELECT count(*) FROM batch_requests WHERE state = 'queued'")
                creating = query(db, "SELECT count(*) FROM batches WHERE state = 'creating'")
            except sqlite3.Error:
                continue
            if parked >= cells and queued == 0 and creating == 0:
                break
            if coord.poll() is not None:
                raise RuntimeError("coordinator exited")
        time.sleep(2)  # a few idle loops with everything parked
        mem = rss_kb(coord.pid)
        mem["seconds"] = time.monotonic() - t0
        mem["batches"] = query(db, "SELECT count(*) FROM batches WHERE provider_id <> ''")
        mem["requests"] = query(db, "SELECT count(*) FROM batch_requests WHERE state = 'sent'")
        return mem
    finally:
        worker.kill()
        coord.kill()
        worker.wait()
        coord.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--delay-ms", type=int, default=1000)
    ap.add_argument("--flush-s", type=float, default=0.2, help="batch_flush_s of the grid")
    ap.add_argument("--parked", type=int, default=100_000)
    ap.add_argument("--skip-grid", action="store_true")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--poll-s", type=float, default=0,
                    help="batch_poll_s of the grid (default: a twentieth of the batch delay, at "
                         "least 0.05 s; polls are most of a batch's requests)")
    a = ap.parse_args()
    if a.poll_s <= 0:
        a.poll_s = max(0.05, a.delay_ms / 1000.0 / 20)
    codesweep = os.path.join(a.build, "codesweep")
    with tempfile.TemporaryDirectory() as workdir:
        llm = FakeLlm(os.path.join(a.build, "fakellm"), workdir)
        try:
            if not a.skip_grid:
                llm.config(delay_ms=a.delay_ms)
                runs = {False: [], True: []}
                for rep in range(a.reps):
                    for batch in (False, True):
                        runs[batch].append(run_grid(codesweep, llm, workdir, batch, rep,
                                                     a.flush_s, a.poll_s))
                        print(f"# rep {rep} {'batch' if batch else 'sync'}: {runs[batch][-1]}",
                              flush=True)
                med = {b: {k: statistics.median(r[k] for r in runs[b]) for k in runs[b][0]}
                       for b in runs}
                s, b = med[False], med[True]
                print(f"\nPaper-sim grid, {s['cells']:.0f} cells, medians of {a.reps}; batch delay "
                      f"{a.delay_ms} ms, batch_flush_s {a.flush_s}, batch_poll_s {a.poll_s}\n")
                print("| | synchronous | batch mode | batch / sync |")
                print("|---|---|---|---|")
                print(f"| dollars paid | {s['dollars']:.4f} | {b['dollars']:.4f} | "
                      f"{b['dollars'] / s['dollars']:.3f} |")
                print(f"| provider calls (request lines) | {s['calls']:.0f} | {b['calls']:.0f} | "
                      f"{b['calls'] / s['calls']:.3f} |")
                print(f"| HTTP requests to the provider | {s['http']:.0f} | {b['http']:.0f} | "
                      f"{b['http'] / s['http']:.3f} |")
                print(f"| batches (rounds per model) | - | {b['batches']:.0f} ({b['rounds']:.0f}) "
                      f"| {b['http'] / max(b['batches'], 1):.1f} HTTP requests per batch |")
                print(f"| wall time (s) | {s['wall']:.1f} | {b['wall']:.1f} | "
                      f"{b['wall'] / s['wall']:.2f} |")
                print(f"| configured delay, rounds x delay (s) | - | "
                      f"{b['rounds'] * a.delay_ms / 1000:.1f} | "
                      f"wall - delay = {b['wall'] - b['rounds'] * a.delay_ms / 1000:.1f} s |")
            if not a.skip_memory:
                llm.config(delay_ms=3_600_000)  # batches stay live
                small, large = max(a.parked // 10, 4), a.parked
                rows = []
                for cells in (small, large):
                    mems = [parked_memory(codesweep, llm, workdir, cells, f"{cells}-{rep}")
                            for rep in range(a.reps)]
                    print(f"# parked {cells}: {mems}", flush=True)
                    rows.append((cells, {k: statistics.median(m[k] for m in mems)
                                         for k in mems[0]}))
                print(f"\nCoordinator memory with every cell parked in live batches, medians of "
                      f"{a.reps}\n")
                print("| parked cells | requests in live batches | batches | coordinator VmRSS "
                      "(MiB) | VmHWM (MiB) | time to park all (s) |")
                print("|---|---|---|---|---|---|")
                for cells, m in rows:
                    print(f"| {cells} | {m['requests']:.0f} | {m['batches']:.0f} | "
                          f"{m['VmRSS'] / 1024:.1f} | {m['VmHWM'] / 1024:.1f} | "
                          f"{m['seconds']:.0f} |")
        finally:
            llm.stop()


if __name__ == "__main__":
    main()
