"""codesweep in the peer suite: `codesweep coordinator` + 2 `codesweep worker --slots 1`
processes over tcp loopback, running the simulated model (sim) as the job:
  no-op   = sim with latency_ms = 0, p_code = 0, method only_question (one text answer, no
            sandbox; the task generator and checker still run, so it is not quite empty);
  sleep   = the same with latency_ms = 50 (the sim client sleeps 50 ms).
Metrics come from the job store (SQLite, opened read-only): attempts.started_ms is the lease
(dispatch) time, results.finished_ms the durable completion, jobs.created_ms the enqueue time.
Bulk jobs enter by grid expansion of a sweep file at coordinator start. The paced-latency
scenario hands the running coordinator its sweep extended by one cell at a time with
`codesweep submit SWEEP.toml --connect ...` (the path users have); the coordinator expands it,
commits and dispatches the new cell in the same loop turn. Its latencies come from the dispatch
trace (CODESWEEP_DISPATCH_TRACE, base/trace.h): microsecond wall-clock events written by the
coordinator, the workers and `codesweep submit` into one file (paced_trace()).
"""

import os
import sqlite3
import subprocess
import time

from common import BenchError, MemSampler, free_port, spawn, stop, wait_until

SWEEP = """name = "{name}"
seed = 7
samples = {n}
methods = ["only_question"]
turns = [1]

[[tasks]]
name = "number_multiply"
complexity = ["1_2"]

[models."sim:bench"]
p_code = 0.0
latency_ms = {latency_ms}
"""


class Codesweep:
    name = "codesweep"

    def __init__(self, work, binary):
        self.work, self.binary = work, binary
        self.coord = None
        self.workers = []
        self.seq = 0

    def start(self, n, latency_ms, exit_when_done=True, trace=None):
        """Writes a sweep of n cells and starts coordinator + 2 workers. Returns enqueue
        seconds: process start to listening, i.e. startup + grid expansion into the store.
        trace: a file for the dispatch trace of every process (None: off)."""
        self.seq += 1
        self.trace = trace
        env = dict(os.environ)
        env.pop("CODESWEEP_DISPATCH_TRACE", None)
        if trace:
            env["CODESWEEP_DISPATCH_TRACE"] = trace
        self.env = env
        name = f"bench{self.seq}"
        sweep = os.path.join(self.work, f"{name}.toml")
        with open(sweep, "w") as f:
            f.write(SWEEP.format(name=name, n=n, latency_ms=latency_ms))
        self.db = os.path.join(self.work, f"{name}.db")
        port = free_port()
        self.endpoint = f"tcp://127.0.0.1:{port}"
        self.name = name
        cmd = [self.binary, "coordinator", sweep, "--db", self.db, "--bind",
               f"tcp://127.0.0.1:{port}"] + (["--exit-when-done"] if exit_when_done else [])
        t0 = time.time()
        self.coord = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env,
                                      stderr=open(os.path.join(self.work, f"{name}.coord.log"),
                                                  "ab"), start_new_session=True, text=True)
        line = self.coord.stdout.readline()
        enqueue_s = time.time() - t0
        if not line.startswith("listening on"):
            raise BenchError(f"codesweep coordinator did not start: {line!r}")
        self.workers = [spawn([self.binary, "worker", "--connect", f"tcp://127.0.0.1:{port}",
                               "--slots", "1", "--id", f"w{i}"],
                              os.path.join(self.work, f"{name}.w{i}.log"), env=env)
                        for i in range(2)]
        self.sampler = MemSampler({"broker": [self.coord.pid],
                                   "workers": [w.pid for w in self.workers]})
        return enqueue_s

    def worker_pids(self):
        return [w.pid for w in self.workers]

    def query(self, sql, args=()):
        con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()

    def done_count(self):
        return self.query("SELECT COUNT(*) FROM results")[0][0]

    def wait_done(self, n, timeout_s):
        def check():
            self.sampler.sample()
            return self.done_count() >= n
        wait_until(check, timeout_s, f"codesweep: {n} results", interval_s=0.1)

    def drain_metrics(self, n):
        (t0, t1, done), = self.query(
            "SELECT (SELECT MIN(started_ms) FROM attempts), MAX(finished_ms), COUNT(*)"
            " FROM results")
        if done < n:
            raise BenchError(f"codesweep: only {done}/{n} jobs finished")
        span = (t1 - t0) / 1000.0
        return {"drain_s": span, "drain_rate": n / span if span > 0 else float("inf")}

    def submit_cell(self, i):
        """Extends the running sweep by one cell (sample i + 1) with `codesweep submit`.
        Returns the submit command's wall time (process start to the coordinator's answer)."""
        sweep = os.path.join(self.work, f"{self.name}.paced.toml")
        with open(sweep, "w") as f:
            f.write(SWEEP.format(name=self.name, n=i + 2, latency_ms=0))
        t0 = time.time()
        r = subprocess.run([self.binary, "submit", sweep, "--connect", self.endpoint],
                           capture_output=True, text=True, timeout=60, env=self.env)
        if r.returncode != 0 or "1 new" not in r.stdout:
            raise BenchError(f"codesweep submit failed: {r.stdout!r} {r.stderr!r}")
        return time.time() - t0

    def paced_latencies(self):
        """The store's millisecond figure: lease - insert (attempts.started_ms - jobs.created_ms),
        quantised to 1 ms; kept for comparison with runs before the trace."""
        rows = self.query("SELECT MIN(a.started_ms) - j.created_ms FROM jobs j JOIN attempts a"
                          " ON a.job_id = j.id WHERE j.sample >= 1 GROUP BY j.id")
        return [r[0] / 1000.0 for r in rows]

    def traced(self):
        """The binary wrote the dispatch trace (builds from before it do not)."""
        return os.path.exists(self.trace) and os.path.getsize(self.trace) > 0

    def paced_trace(self, n):
        """Per paced submit, from the dispatch trace, in seconds: the stages of the path and the
        end-to-end figures. The k-th SUBMIT the coordinator received made the cell of sample
        k + 1 (the bench waits for each `submit` to return before the next)."""
        events = []
        with open(self.trace) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 5:
                    events.append((int(parts[0]), int(parts[1]), parts[2], int(parts[3]),
                                   int(parts[4])))
        events.sort()
        coord = self.coord.pid

        def of(name, pid=None):
            return [e for e in events if e[2] == name and (pid is None or e[1] == pid)]
        recv, parsed = of("submit_recv", coord), of("submit_parsed", coord)
        inserted, committed = of("grid_inserted", coord), of("grid_committed", coord)
        staged, followed = of("grid_staged", coord), of("grid_followed", coord)
        done, sends = of("submit_done", coord), of("client_send")
        if not (len(recv) == len(parsed) == len(done) == len(sends) == n) or \
                any(e[4] != 1 for e in done):
            raise BenchError(f"codesweep trace: {len(recv)} submits received, {len(done)} done,"
                             f" {len(sends)} sent for {n}")
        job_of = {s: j for j, s in self.query("SELECT id, sample FROM jobs WHERE sample >= 1")}
        first = {}
        for e in events:  # the first lease, send, receipt and start of each job
            if e[2] in ("lease", "job_sent", "job_recv", "job_start"):
                first.setdefault((e[2], e[3]), e[0])
        # The grid load's insert and commit of submit k: the last ones before its SUBMITTED.
        def last_before(evs, t1):
            before = [e[0] for e in evs if e[0] <= t1]
            return before[-1] if before else None
        rows = []
        for k in range(n):
            job = job_of[k + 1]
            t = {"client_send": sends[k][0], "recv": recv[k][0], "parsed": parsed[k][0],
                 "inserted": last_before(inserted, done[k][0]),
                 "committed": last_before(committed, done[k][0]), "done": done[k][0]}
            for ev in ("lease", "job_sent", "job_recv", "job_start"):
                t[ev] = first.get((ev, job))
            if any(v is None for v in t.values()):
                raise BenchError(f"codesweep trace: job {job} (submit {k}) incomplete: {t}")
            # Finer stages of the grid load, where the binary traces them (optional).
            t["staged"] = last_before(staged, done[k][0])
            t["followed"] = last_before(followed, done[k][0])
            rows.append({key: (None if v is None else v / 1e6) for key, v in t.items()})
        return rows

    def kill_metrics(self, n, killed, t_kill):
        done = self.done_count()
        twice = self.query("SELECT COUNT(*) FROM (SELECT job_id FROM attempts GROUP BY job_id"
                           " HAVING COUNT(*) > 1)")[0][0]
        orphans = self.query(
            "SELECT a.job_id, r.finished_ms FROM attempts a LEFT JOIN results r"
            " ON r.job_id = a.job_id WHERE a.worker = ? AND (a.outcome IS NULL OR"
            " a.outcome != 'done')", (killed,))
        rec = [f / 1000.0 - t_kill for _, f in orphans if f is not None]
        # First re-dispatch: the earliest new lease of one of the killed worker's jobs.
        again = self.query(
            "SELECT MIN(b.started_ms) FROM attempts a JOIN attempts b ON b.job_id = a.job_id"
            " AND b.lease_token > a.lease_token WHERE a.worker = ? AND a.outcome = 'requeued'",
            (killed,))[0][0]
        return {"lost": n - done, "twice": twice, "orphans": len(orphans),
                "recover_s": max(rec) if rec else None,
                "redispatch_s": again / 1000.0 - t_kill if again is not None else None}

    def stop(self):
        for w in self.workers:
            stop(w)
        if self.coord is not None:
            stop(self.coord)
            self.coord.stdout.close()
        self.workers, self.coord = [], None
