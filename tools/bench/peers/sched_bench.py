"""Scheduler overhead: codesweep vs Celery/Redis, Dask distributed, PostgreSQL SKIP LOCKED.

Per system and repetition, 2 single-slot worker processes each:
  noop   burst of N no-op jobs: enqueue rate (client side), drain rate (first start to last
         end), peak PSS of broker/coordinator and of the 2 workers (sampled every 100 ms);
  sleep  burst of M jobs of 50 ms: drain rate (ideal: 2 slots / 50 ms = 40 jobs/s);
  paced  K no-op jobs submitted one at a time at R/s into an idle system: dispatch latency
         = worker start - submit (codesweep: the job's start in the worker - the coordinator's
         receipt of the SUBMIT, from the microsecond dispatch trace; METHOD.md);
  kill   burst of M 50 ms jobs; kill -9 of worker 0 once 40 % are done; wait up to 40 s:
         jobs lost (never finished), jobs run twice (started twice; codesweep: leased twice),
         time to recover (kill to the last finish of a job the killed worker held).
Usage: sched_bench.py --out FILE --codesweep BIN [--reps 3] [--systems a,b]
                      [--scenarios noop,sleep,paced,kill]
"""

import argparse
import json
import os
import tempfile
import time
import traceback

import common
from codesweep_peer import Codesweep
from common import BenchError, MemSampler, log, pct, read_events, wait_until
from peers import PEERS, kill_worker

KILL_WAIT_S = 40.0


def wait_events(p, tag, n, timeout_s, sampler=None):
    def check():
        if sampler:
            sampler.sample()
        return common.count_done(p.joblog, tag) >= n
    wait_until(check, timeout_s, f"{p.name}: {n} jobs of {tag}", interval_s=0.05)


def warm_up(p):
    """Runs short jobs until both workers have run one (so they are connected and ready)."""
    for i in range(40):
        p.submit_one("warm", i, 0.02)

    def both():
        ends = read_events(p.joblog, "warm")["E"].values()
        return len({pid for v in ends for _, pid in v}) >= 2
    wait_until(both, 120, f"{p.name}: both workers ready", interval_s=0.1)
    wait_events(p, "warm", 40, 60)


def python_peer_rep(cls, work, cfg):
    p = cls(work)
    out = {}
    try:
        p.start()
        warm_up(p)
        if "noop" in cfg.scenarios:
            sampler = MemSampler({"broker": p.broker_pids(), "workers": p.worker_pids()})
            t0 = time.time()
            p.submit_burst("noop", cfg.noop, 0.0)
            enq = time.time() - t0
            wait_events(p, "noop", cfg.noop, 120, sampler)
            out["noop"] = dict(common.drain_metrics(read_events(p.joblog, "noop"), cfg.noop),
                               enqueue_rate=cfg.noop / enq,
                               broker_mb=sampler.peak["broker"] / 1024,
                               workers_mb=sampler.peak["workers"] / 1024)
        if "sleep" in cfg.scenarios:
            p.submit_burst("sleep", cfg.sleep, 0.05)
            wait_events(p, "sleep", cfg.sleep, 120)
            out["sleep"] = common.drain_metrics(read_events(p.joblog, "sleep"), cfg.sleep)
        if "paced" in cfg.scenarios:
            out["paced"] = paced(p, cfg)
        if "kill" in cfg.scenarios:
            out["kill"] = kill_run(p, cfg)
    finally:
        p.stop()
    return out


def paced(p, cfg):
    t_submit = {}
    t0 = time.time()
    for i in range(cfg.paced):
        time.sleep(max(0.0, t0 + i / cfg.paced_rate - time.time()))
        t_submit[i] = time.time()
        p.submit_one("paced", i, 0.0)
    wait_events(p, "paced", cfg.paced, 60)
    starts = read_events(p.joblog, "paced")["S"]
    lat = [min(t for t, _ in starts[i]) - t_submit[i] for i in t_submit]
    return {"p50_ms": 1000 * pct(lat, 50), "p99_ms": 1000 * pct(lat, 99)}


def kill_run(p, cfg):
    victim = p.worker_pids()[0]
    p.submit_burst("kill", cfg.sleep, 0.05)
    wait_events(p, "kill", int(cfg.sleep * 0.4), 120)
    t_kill = kill_worker(victim)
    try:
        wait_events(p, "kill", cfg.sleep, KILL_WAIT_S)
    except BenchError:
        pass  # what did not finish in the window is reported as lost
    return common.kill_metrics(read_events(p.joblog, "kill"), cfg.sleep, victim, t_kill)


def codesweep_rep(binary, work, cfg):
    cs = Codesweep(work, binary)
    out = {}
    try:
        if "noop" in cfg.scenarios:
            enq = cs.start(cfg.noop, 0)
            cs.wait_done(cfg.noop, 120)
            out["noop"] = dict(cs.drain_metrics(cfg.noop), enqueue_rate=cfg.noop / enq,
                               broker_mb=cs.sampler.peak["broker"] / 1024,
                               workers_mb=cs.sampler.peak["workers"] / 1024)
            cs.stop()
        if "sleep" in cfg.scenarios:
            cs.start(cfg.sleep, 50)
            cs.wait_done(cfg.sleep, 120)
            out["sleep"] = cs.drain_metrics(cfg.sleep)
            cs.stop()
        if "paced" in cfg.scenarios:
            out["paced"] = codesweep_paced(cs, cfg)
            cs.stop()
        if "kill" not in cfg.scenarios:
            return out
        cs.start(cfg.sleep, 50)
        cs.wait_done(int(cfg.sleep * 0.4), 120)
        t_kill = kill_worker(cs.worker_pids()[0])
        try:
            cs.wait_done(cfg.sleep, KILL_WAIT_S)
        except BenchError:
            pass
        out["kill"] = cs.kill_metrics(cfg.sleep, "w0", t_kill)
    finally:
        cs.stop()
    return out


# The stages of codesweep's paced path, from its dispatch trace: (name, from event, to event).
PACED_STAGES = [
    ("parse", "recv", "parsed"),             # SUBMIT frame decoded -> sweep file parsed
    ("expand_insert", "parsed", "inserted"),  # grid expansion + INSERTs, before the commit
    ("variants_sweep", "parsed", "staged"),   # ... of which variants, sweep row, digest, count
    ("follow", "staged", "followed"),         # ... stored jobs follow the current variants
    ("cells", "followed", "inserted"),        # ... cell keys hashed and INSERTed
    ("commit", "inserted", "committed"),      # the grid load's COMMIT (WAL fsync)
    ("to_lease", "committed", "lease"),       # read of the pending job + the lease write
    ("to_send", "lease", "job_sent"),         # the JOB frame handed to ZeroMQ
    ("wire", "job_sent", "job_recv"),         # loopback TCP to the worker's loop
    ("worker", "job_recv", "job_start"),      # worker loop -> slot -> the run begins
]


def stages(rows, p):
    out = {}
    for name, a, b in PACED_STAGES:
        d = [r[b] - r[a] for r in rows if r[a] is not None and r[b] is not None]
        if d:
            out[name] = 1000 * pct(d, p)
    return out


def codesweep_paced(cs, cfg):
    trace = os.path.join(cs.work, "dispatch.trace")
    cs.start(1, 0, exit_when_done=False, trace=trace)
    cs.wait_done(1, 60)
    t0 = time.time()
    submit_s = []
    for i in range(cfg.paced):
        time.sleep(max(0.0, t0 + i / cfg.paced_rate - time.time()))
        submit_s.append(cs.submit_cell(i))
    cs.wait_done(cfg.paced + 1, 60)
    store_ms = cs.paced_latencies()
    if not cs.traced():  # a binary from before the dispatch trace: the store's ms figure only
        return {"p50_ms": 1000 * pct(store_ms, 50), "p99_ms": 1000 * pct(store_ms, 99),
                "store_p50_ms": 1000 * pct(store_ms, 50),
                "store_p99_ms": 1000 * pct(store_ms, 99), "resolution": "ms, lease - insert",
                "submit_p50_ms": 1000 * pct(submit_s, 50),
                "submit_p99_ms": 1000 * pct(submit_s, 99)}
    rows = cs.paced_trace(cfg.paced)
    lat = [r["job_start"] - r["recv"] for r in rows]
    from_client = [r["job_start"] - r["client_send"] for r in rows]
    out = {"resolution": "us, SUBMIT received - job started in the worker","p50_ms": 1000 * pct(lat, 50), "p99_ms": 1000 * pct(lat, 99),
           "client_p50_ms": 1000 * pct(from_client, 50),
           "client_p99_ms": 1000 * pct(from_client, 99),
           "store_p50_ms": 1000 * pct(store_ms, 50), "store_p99_ms": 1000 * pct(store_ms, 99),
           "submit_p50_ms": 1000 * pct(submit_s, 50), "submit_p99_ms": 1000 * pct(submit_s, 99),
           "stages_p50_ms": stages(rows, 50), "stages_p99_ms": stages(rows, 99)}
    log("codesweep paced: p50 %.3f ms p99 %.3f ms; stages p50 %s" % (
        out["p50_ms"], out["p99_ms"],
        " ".join(f"{k}={v:.3f}" for k, v in out["stages_p50_ms"].items())))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--codesweep", required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--systems", default="codesweep,celery,dask,postgres")
    ap.add_argument("--noop", type=int, default=1000)
    ap.add_argument("--sleep", type=int, default=200)
    ap.add_argument("--paced", type=int, default=100)
    ap.add_argument("--paced-rate", type=float, default=20.0)
    ap.add_argument("--scenarios", default="noop,sleep,paced,kill",
                    help="a subset to run (e.g. paced); the report needs all four")
    ap.add_argument("--codesweep-alt", action="append", default=[], metavar="NAME=BIN",
                    help="another codesweep binary, run as system NAME (side by side)")
    cfg = ap.parse_args()
    cfg.scenarios = cfg.scenarios.split(",")
    binaries = {"codesweep": cfg.codesweep}
    binaries.update(a.split("=", 1) for a in cfg.codesweep_alt)
    root = tempfile.mkdtemp(prefix="codesweep-peers-")
    os.chmod(root, 0o755)  # the private PostgreSQL cluster runs as user postgres
    results = {"config": vars(cfg), "runs": {}}
    for rep in range(cfg.reps):
        for system in cfg.systems.split(","):  # interleaved: each rep sees the same noise
            work = os.path.join(root, f"{system}-{rep}")
            os.makedirs(work)
            os.chmod(work, 0o755)
            log(f"rep {rep + 1}/{cfg.reps}: {system} (load {os.getloadavg()[0]:.1f})")
            t0 = time.time()
            try:
                if system in binaries:
                    r = codesweep_rep(binaries[system], work, cfg)
                else:
                    r = python_peer_rep(PEERS[system], work, cfg)
            except Exception as e:  # noqa: BLE001  (reported and fatal below)
                traceback.print_exc()
                raise SystemExit(f"sched_bench: {system} rep {rep + 1} failed: {e}"
                                 f" (logs under {work})")
            r["seconds"] = time.time() - t0
            r["load1"] = os.getloadavg()[0]
            results["runs"].setdefault(system, []).append(r)
            with open(cfg.out, "w") as f:
                json.dump(results, f, indent=1)
    log(f"scheduler results in {cfg.out}")


if __name__ == "__main__":
    main()
