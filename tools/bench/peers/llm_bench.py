"""LLM-bound work: codesweep (coordinator + 2 workers) vs naive_runner.py against fakellm.

Each run gets a fresh fakellm with an RPM/TPM limit, a 1 s burst and exponential latency
(mean --latency-ms), answering like the sim model (p_code = 0: one text answer per job, so one
call per job). Both sides get the same number of concurrent slots. Reported per run: wall time
(process start to exit), ok calls, 429 count (fakellm's own /stats), achieved requests/min and
tokens/min as a share of the limit.
With --second-rpm R a second model joins the sweep: its own fakellm at R requests/min (same
tokens/min), half the jobs each; the naive side runs one naive_runner per model with half the
slots each (the static split such a script has), codesweep one sweep over both models.
--trace DIR: the coordinator writes its grant/result trace (CODESWEEP_RATE_TRACE) there.
Same work on both sides: the naive runner asks the prompts codesweep's jobs asked (read from the
first codesweep database of the run; they were a shorter synthetic question, ~27 input tokens
against ~38, before), and fakellm's latency draws are a function of the prompt and its --seed
(--latency-key prompt: the same question waits as long on both sides) with seed 1 + repetition,
the same for both runners of a repetition, so the repetitions see different latency tails
instead of the same one three times.
--codesweep-base BIN: a second codesweep binary (e.g. the main branch's), run as system
"codesweep_base" in each repetition, between codesweep and the naive runner.
Usage: llm_bench.py --out FILE --codesweep BIN --fakellm BIN [--reps 3] [--codesweep-base BIN]
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

from common import BenchError, free_port, log, stop

HERE = os.path.dirname(os.path.abspath(__file__))

SWEEP = """name = "llm{seq}"
seed = 7
samples = {n}
methods = ["only_question"]
turns = [1]

[[tasks]]
name = "number_multiply"
complexity = ["1_2"]
"""

MODEL = """
[models."openai:{name}"]
base_url = "http://127.0.0.1:{port}/v1"
api_key_env = ""
cell_context_header = true
rpm = {rpm}
tpm = {tpm}
"""


def limits(cfg):
    """(model name, rpm, tpm) of each model of the scenario."""
    out = [("fake", cfg.rpm, cfg.tpm)]
    if cfg.second_rpm > 0:
        out.append(("fakeb", cfg.second_rpm, cfg.tpm))
    return out


def start_fakellm(binary, cfg, work, rpm, tpm, seed=1):
    cmd = [binary, "--port", "0", "--rpm", str(rpm), "--tpm", str(tpm), "--burst-s",
           "1", "--latency-ms", str(cfg.latency_ms), "--latency-dist", "exponential",
           "--latency-key", "prompt", "--seed", str(seed), "--sim-options", '{"p_code":0}']
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


def run_codesweep(binary, ports, cfg, work, seq):
    sweep = os.path.join(work, f"llm{seq}.toml")
    models = limits(cfg)
    with open(sweep, "w") as f:
        f.write(SWEEP.format(seq=seq, n=cfg.jobs // len(models)))
        for (name, rpm, tpm), port in zip(models, ports):
            f.write(MODEL.format(name=name, port=port, rpm=rpm, tpm=tpm))
    env = dict(os.environ)
    if cfg.trace:
        env["CODESWEEP_RATE_TRACE"] = os.path.join(cfg.trace, f"llm{seq}.trace")
    # In this process: a Python child here (as before) cost 0.1-0.5 s on a loaded machine inside
    # the measured window (the limit share counts from before this call), none of it codesweep's.
    cport = free_port()
    ep = f"tcp://127.0.0.1:{cport}"
    t0 = time.monotonic()
    coord = subprocess.Popen([binary, "coordinator", sweep, "--db",
                              os.path.join(work, f"llm{seq}.db"), "--bind", ep,
                              "--exit-when-done", "--rate-burst-s", str(cfg.rate_burst_s)], stdout=subprocess.DEVNULL,
                             stderr=open(os.path.join(work, f"llm{seq}.coord.log"), "ab"),
                             start_new_session=True, env=env)
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
    if not cfg.prompts_file:
        save_prompts(con, cfg, work)
    con.close()
    if done != cfg.jobs or rc == "timeout":
        raise BenchError(f"codesweep: {done}/{cfg.jobs} done, coordinator rc {rc} ({work})")
    # Every process must exit 0 (negative = killed by that signal); logs are in `work`.
    if rc != 0 or any(r != 0 for r in worker_rcs):
        raise BenchError(f"codesweep: all {done} jobs done but coordinator rc {rc}, worker rcs "
                         f"{worker_rcs} ({work})")
    return wall, rc


def save_prompts(con, cfg, work):
    """The prompt of each sample of codesweep's sweep (one call per job), for the naive runner."""
    by_sample = {}
    for sample, request in con.execute(
            "SELECT j.sample, c.request_json FROM calls c JOIN jobs j ON j.id = c.job_id"):
        by_sample[sample] = json.loads(request)["messages"][0]["content"]
    n = cfg.jobs // len(limits(cfg))
    if sorted(by_sample) != list(range(n)):
        raise BenchError(f"codesweep's calls cover samples {sorted(by_sample)[:5]}..., not 0..{n - 1}")
    cfg.prompts_file = os.path.join(work, "prompts.json")
    with open(cfg.prompts_file, "w") as f:
        json.dump([by_sample[i] for i in range(n)], f)


def run_naive(ports, cfg):
    t0 = time.monotonic()
    n = len(ports)
    prompts = ["--prompts", cfg.prompts_file] if cfg.prompts_file else []
    procs = [subprocess.Popen([sys.executable,
                               os.path.join(os.path.dirname(HERE), "naive_runner.py"),
                               "--url", f"http://127.0.0.1:{port}/v1", "--jobs",
                               str(cfg.jobs // n), "--concurrency", str(cfg.concurrency // n)]
                              + prompts, stdout=subprocess.PIPE, text=True) for port in ports]
    for p in procs:
        out, _ = p.communicate(timeout=cfg.timeout_s)
        if p.returncode != 0 or json.loads(out)["ok"] != cfg.jobs // n:
            raise BenchError(f"naive_runner: rc {p.returncode}: {out}")
    return time.monotonic() - t0


def one_run(system, cfg, work, seq, seed):
    models = limits(cfg)
    fakes = []
    try:
        for _, rpm, tpm in models:
            fakes.append(start_fakellm(cfg.fakellm, cfg, work, rpm, tpm, seed))
        ports = [port for _, port in fakes]
        t0_ms = time.monotonic() * 1000.0  # fakellm's admission times use the same clock
        if system.startswith("codesweep"):
            binary = cfg.codesweep_base if system == "codesweep_base" else cfg.codesweep
            wall, rc = run_codesweep(binary, ports, cfg, work, seq)
        else:
            wall, rc = run_naive(ports, cfg), 0
        sts = [stats(port) for port in ports]
    finally:
        for fake, _ in fakes:
            stop(fake)
    minutes = wall / 60.0
    ok = sum(st["ok"] for st in sts)
    tokens = sum(st["tokens_in"] + st["tokens_out"] for st in sts)
    rpm_all = sum(rpm for _, rpm, _ in models)
    tpm_all = sum(tpm for _, _, tpm in models)
    # Share of the binding limit from the runner's start to the provider's last admission: what
    # the provider let through ÷ what it could have (its 1 s burst plus the refill). It counts
    # start-up and the first seconds, not the latency of the last answers, which no runner can
    # shorten (after the last admission the limit no longer binds). Several models: what all
    # let through ÷ what all could have, each up to its own last admission.
    admit = [max((st["last_admit_ms"] - t0_ms) / 1000.0, 1e-3) for st in sts]
    # Start-up, for any runner: from its start to the provider's first admission.
    first_admit = min((st["first_admit_ms"] - t0_ms) / 1000.0 for st in sts)
    could_req = sum(rpm / 60.0 * (1.0 + a) for (_, rpm, _), a in zip(models, admit))
    could_tok = sum(tpm / 60.0 * (1.0 + a) for (_, _, tpm), a in zip(models, admit))
    # The binding limit of each model: its share of requests or of tokens, whichever is higher.
    used = [max(st["ok"] / (rpm / 60.0 * (1.0 + a)),
                (st["tokens_in"] + st["tokens_out"]) / (tpm / 60.0 * (1.0 + a)))
            for st, (_, rpm, tpm), a in zip(sts, models, admit)]
    weights = [max(st["ok"], 1) for st in sts]
    limit_share = sum(u * w for u, w in zip(used, weights)) / sum(weights)
    requests = sum(st["requests"] for st in sts)
    rate_limited = sum(st["rate_limited"] for st in sts)
    return {"wall_s": wall, "ok": ok, "exit_code": rc, "http_429": rate_limited,
            "requests": requests,
            "rpm_share": ok / minutes / rpm_all,
            "tpm_share": tokens / minutes / tpm_all,
            "jobs_per_min_share": cfg.jobs / minutes / rpm_all,
            "to_first_admit_s": first_admit, "to_last_admit_s": max(admit), "seed": seed,
            # Per model (the order of limits()): where a two-model run's time goes.
            "first_admit_per_model_s": [(st["first_admit_ms"] - t0_ms) / 1000.0 for st in sts],
            "last_admit_per_model_s": admit,
            "limit_share_to_last_admit": limit_share,
            "limit_share_per_model": used,
            "requests_share_whole": ok / could_req, "tokens_share_whole": tokens / could_tok,
            "http_429_share": rate_limited / max(requests, 1),
            "ideal_wall_s": max(cfg.jobs / len(models) / (rpm / 60.0) for _, rpm, _ in models)}


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
    ap.add_argument("--second-rpm", type=int, default=0, help="a second model at this limit")
    ap.add_argument("--trace", default="", help="directory for the coordinator's rate trace")
    ap.add_argument("--codesweep-base", default="", help="a second codesweep binary to compare")
    cfg = ap.parse_args()
    cfg.prompts_file = ""  # set from the first codesweep run (save_prompts)
    work = tempfile.mkdtemp(prefix="codesweep-llm-")
    results = {"config": {k: v for k, v in vars(cfg).items()
                          if k not in ("codesweep", "fakellm", "out", "trace", "prompts_file",
                                       "codesweep_base")},
               "runs": {}}
    seq = 0
    for rep in range(cfg.reps):
        systems = ["codesweep"] + (["codesweep_base"] if cfg.codesweep_base else []) + ["naive"]
        for system in systems:
            seq += 1
            log(f"llm rep {rep + 1}/{cfg.reps}: {system} (load {os.getloadavg()[0]:.1f})")
            r = one_run(system, cfg, work, seq, seed=1 + rep)
            r["load1"] = os.getloadavg()[0]
            results["runs"].setdefault(system, []).append(r)
            with open(cfg.out, "w") as f:
                json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
