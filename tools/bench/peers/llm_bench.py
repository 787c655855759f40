"""LLM-bound work: codesweep (coordinator + 2 workers) vs naive_runner.py against fakellm.

Each run gets a fresh fakellm with an RPM/TPM limit, a 1 s burst and exponential latency
(mean --latency-ms), answering like the sim model (p_code = 0: one text answer per job, so one
call per job). Both sides get the same number of concurrent slots. Reported per run: wall time
(process start to exit), ok calls, 429 count (fakellm's own /stats), achieved requests/min and
tokens/min as a share of the limit.
Usage: llm_bench.py --out FILE --codesweep BIN --fakellm BIN [--reps 3]
"""

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

from common import BenchError, log, stop

HERE = os.path.dirname(os.path.abspath(__file__))

SWEEP = """name = "llm{seq}"
seed = 7
samples = {n}
methods = ["only_question"]
turns = [1]

[[tasks]]
name = "number_multiply"
complexity = ["1_2"]

[models."openai:fake"]
base_url = "http://127.0.0.1:{port}/v1"
api_key_env = ""
cell_context_header = true
rpm = {rpm}
tpm = {tpm}
"""


def start_fakellm(binary, cfg, work):
    cmd = [binary, "--port", "0", "--rpm", str(cfg.rpm), "--tpm", str(cfg.tpm), "--burst-s",
           "1", "--latency-ms", str(cfg.latency_ms), "--latency-dist", "exponential",
           "--sim-options", '{"p_code":0}']
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, start_new_session=True,
                         stderr=open(os.path.join(work, "fakellm.log"), "ab"))
    line = p.stdout.readline().strip()
    if not line.isdigit():
        stop(p)
        raise BenchError(f"fakellm did not print its port: {line!r}")
    return p, int(line)


def stats(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=10) as r:
        return json.load(r)


def run_codesweep(binary, port, cfg, work, seq):
    sweep = os.path.join(work, f"llm{seq}.toml")
    with open(sweep, "w") as f:
        f.write(SWEEP.format(seq=seq, n=cfg.jobs, port=port, rpm=cfg.rpm, tpm=cfg.tpm))
    cport = subprocess.check_output([sys.executable, "-c", "from common import free_port;"
                                     "print(free_port())"], cwd=HERE, text=True).strip()
    ep = f"tcp://127.0.0.1:{cport}"
    t0 = time.monotonic()
    coord = subprocess.Popen([binary, "coordinator", sweep, "--db",
                              os.path.join(work, f"llm{seq}.db"), "--bind", ep,
                              "--exit-when-done", "--rate-burst-s", str(cfg.rate_burst_s)], stdout=subprocess.DEVNULL,
                             stderr=open(os.path.join(work, f"llm{seq}.coord.log"), "ab"),
                             start_new_session=True)
    slots = str(cfg.concurrency // 2)
    workers = [subprocess.Popen([binary, "worker", "--connect", ep, "--slots", slots],
                                stdout=subprocess.DEVNULL, start_new_session=True,
                                stderr=open(os.path.join(work, f"llm{seq}.w{i}.log"), "ab"))
               for i in range(2)]
    try:
        rc = coord.wait(timeout=cfg.timeout_s)
    except subprocess.TimeoutExpired:
        rc = "timeout"
    wall = time.monotonic() - t0
    worker_rcs = []
    for w in workers:
        stop(w)  # SIGTERM: a worker drains and exits 0
        worker_rcs.append(w.returncode)
    stop(coord)
    con = sqlite3.connect(f"file:{os.path.join(work, f'llm{seq}.db')}?mode=ro", uri=True)
    done = con.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    con.close()
    if done != cfg.jobs or rc == "timeout":
        raise BenchError(f"codesweep: {done}/{cfg.jobs} done, coordinator rc {rc} ({work})")
    # Every process must exit 0 (negative = killed by that signal); logs are in `work`.
    if rc != 0 or any(r != 0 for r in worker_rcs):
        raise BenchError(f"codesweep: all {done} jobs done but coordinator rc {rc}, worker rcs "
                         f"{worker_rcs} ({work})")
    return wall, rc


def run_naive(port, cfg):
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, os.path.join(os.path.dirname(HERE), "naive_runner.py"),
                          "--url", f"http://127.0.0.1:{port}/v1", "--jobs", str(cfg.jobs),
                          "--concurrency", str(cfg.concurrency)], capture_output=True, text=True,
                         timeout=cfg.timeout_s, check=True)
    wall = time.monotonic() - t0
    if json.loads(out.stdout)["ok"] != cfg.jobs:
        raise BenchError(f"naive_runner: {out.stdout}")
    return wall


def one_run(system, cfg, work, seq):
    fake, port = start_fakellm(cfg.fakellm, cfg, work)
    try:
        t0_ms = time.monotonic() * 1000.0  # fakellm's admission times use the same clock
        if system == "codesweep":
            wall, rc = run_codesweep(cfg.codesweep, port, cfg, work, seq)
        else:
            wall, rc = run_naive(port, cfg), 0
        st = stats(port)
    finally:
        stop(fake)
    minutes = wall / 60.0
    tokens = st["tokens_in"] + st["tokens_out"]
    # Share of the binding limit from the runner's start to the provider's last admission: what
    # the provider let through ÷ what it could have (its 1 s burst plus the refill). It counts
    # start-up and the first seconds, not the latency of the last answers, which no runner can
    # shorten (after the last admission the limit no longer binds).
    admit_s = max((st["last_admit_ms"] - t0_ms) / 1000.0, 1e-3)
    limit_share = max(st["ok"] / (cfg.rpm / 60.0 * (1.0 + admit_s)),
                      tokens / (cfg.tpm / 60.0 * (1.0 + admit_s)))
    return {"wall_s": wall, "ok": st["ok"], "exit_code": rc, "http_429": st["rate_limited"],
            "requests": st["requests"],
            "rpm_share": st["ok"] / minutes / cfg.rpm,
            "tpm_share": tokens / minutes / cfg.tpm,
            "jobs_per_min_share": cfg.jobs / minutes / cfg.rpm,
            "to_last_admit_s": admit_s,
            "limit_share_to_last_admit": limit_share,
            "http_429_share": st["rate_limited"] / max(st["requests"], 1),
            "ideal_wall_s": cfg.jobs / (cfg.rpm / 60.0)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--codesweep", required=True)
    ap.add_argument("--fakellm", required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--rpm", type=int, default=1200)
    ap.add_argument("--tpm", type=int, default=400000)
    ap.add_argument("--latency-ms", type=int, default=1000)
    ap.add_argument("--timeout-s", type=int, default=120)
    # The coordinator's bucket: fakellm's own window (1 s), as docs/ratelimit.md ("Burst") says
    # to configure it. The default (60 s) lets a minute's budget out at once.
    ap.add_argument("--rate-burst-s", type=float, default=1.0)
    cfg = ap.parse_args()
    work = tempfile.mkdtemp(prefix="codesweep-llm-")
    results = {"config": {k: v for k, v in vars(cfg).items()
                          if k not in ("codesweep", "fakellm", "out")}, "runs": {}}
    seq = 0
    for rep in range(cfg.reps):
        for system in ("codesweep", "naive"):
            seq += 1
            log(f"llm rep {rep + 1}/{cfg.reps}: {system} (load {os.getloadavg()[0]:.1f})")
            r = one_run(system, cfg, work, seq)
            r["load1"] = os.getloadavg()[0]
            results["runs"].setdefault(system, []).append(r)
            with open(cfg.out, "w") as f:
                json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
