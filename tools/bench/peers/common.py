"""Shared helpers of the peer benchmark suite: processes, memory, job logs, statistics.

Standard library only. Every peer runner records the same per-job events so that the
metrics are computed one way for every system:
  S <tag> <id> <t_start> <pid>   written (and flushed) when a job starts in a worker
  E <tag> <id> <t_end> <pid>     written when it ends
one file per worker process in a log directory. Times are time.time() seconds.
"""

import os
import signal
import socket
import statistics
import subprocess
import sys
import time


class BenchError(Exception):
    """A benchmark step failed; the suite stops loudly."""


def log(msg):
    print(f"[peers {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout_s=30.0, proc=None):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise BenchError(f"process exited ({proc.returncode}) before port {port} opened")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise BenchError(f"port {port} did not open within {timeout_s} s")


def wait_until(pred, timeout_s, what, interval_s=0.02):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(interval_s)
    raise BenchError(f"timed out after {timeout_s} s waiting for {what}")


def spawn(cmd, logfile, env=None, **kw):
    """Starts cmd in its own process group, stdout+stderr to logfile."""
    out = open(logfile, "ab")
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=full_env,
                            start_new_session=True, **kw)


def stop(proc, sig=signal.SIGTERM, timeout_s=10.0):
    """Stops a process group we started: sig, then SIGKILL after timeout_s."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=5)


def pss_kb(pid):
    """Proportional set size of one process (shared pages split among sharers), in KiB."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def descendants(pid):
    """pid and all its live descendants (by /proc/*/stat parent links)."""
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def tree_pss_kb(pid):
    return sum(pss_kb(p) for p in descendants(pid))


class MemSampler:
    """Samples the PSS of named process trees; keeps each one's peak (KiB)."""

    def __init__(self, groups):
        self.groups = groups  # name -> list of root pids
        self.peak = {name: 0 for name in groups}

    def sample(self):
        for name, pids in self.groups.items():
            total = sum(tree_pss_kb(p) for p in pids)
            self.peak[name] = max(self.peak[name], total)


class JobLog:
    """Per-process job event logs (see module doc), written by peer workers."""

    def __init__(self, path):
        self.path = path
        self.f = None

    def event(self, kind, tag, job_id):
        if self.f is None:
            os.makedirs(self.path, exist_ok=True)
            self.f = open(os.path.join(self.path, f"{os.getpid()}.log"), "a", buffering=1)
        self.f.write(f"{kind} {tag} {job_id} {time.time():.6f} {os.getpid()}\n")
        self.f.flush()


def read_events(path, tag):
    """{'S': {id: [(t, pid), ...]}, 'E': {...}} for one scenario tag."""
    ev = {"S": {}, "E": {}}
    if not os.path.isdir(path):
        return ev
    for name in os.listdir(path):
        with open(os.path.join(path, name)) as f:
            for line in f:
                parts = line.split()
                if len(parts) != 5 or parts[1] != tag:
                    continue
                ev[parts[0]].setdefault(int(parts[2]), []).append((float(parts[3]), int(parts[4])))
    return ev


def count_done(path, tag):
    return len(read_events(path, tag)["E"])


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * p / 100))]


def median(values):
    vals = [v for v in values if v is not None and v == v]
    return statistics.median(vals) if vals else float("nan")


def drain_metrics(ev, n):
    """Drain rate from first start to last end, from worker-side events."""
    starts = [min(t for t, _ in v) for v in ev["S"].values()]
    ends = [max(t for t, _ in v) for v in ev["E"].values()]
    if len(ev["E"]) < n:
        raise BenchError(f"only {len(ev['E'])}/{n} jobs finished")
    span = max(ends) - min(starts)
    return {"drain_s": span, "drain_rate": n / span if span > 0 else float("inf")}


def kill_metrics(ev, n, killed_pid, t_kill):
    """Lost / run twice / recovery for a kill -9 of killed_pid at t_kill."""
    lost = n - len(ev["E"])
    twice = sum(1 for v in ev["S"].values() if len(v) > 1)
    orphans = [i for i, v in ev["S"].items()
               if any(pid == killed_pid for _, pid in v)
               and not any(pid == killed_pid for _, pid in ev["E"].get(i, []))]
    rec = [max(t for t, _ in ev["E"][i]) - t_kill for i in orphans if i in ev["E"]]
    again = [t - t_kill for i in orphans for t, pid in ev["S"][i] if pid != killed_pid]
    return {"lost": lost, "twice": twice, "orphans": len(orphans),
            "recover_s": max(rec) if rec else None,
            "redispatch_s": min(again) if again else None}
