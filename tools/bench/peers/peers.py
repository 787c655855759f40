"""The three Python peers behind one interface: start(), submit_burst(), submit_one(), stop().

Each starts its own broker/scheduler and 2 single-slot worker processes on 127.0.0.1, in a
private work directory, and stops everything it started. Workers log job events (common.py).
"""

import os
import shutil
import signal
import subprocess
import sys
import time

from common import free_port, log, spawn, stop, wait_port

HERE = os.path.dirname(os.path.abspath(__file__))


def _env(joblog, extra=None):
    env = {"PYTHONPATH": HERE, "PEERS_JOBLOG": joblog, "PYTHONUNBUFFERED": "1"}
    env.update(extra or {})
    return env


class Celery:
    name = "celery"

    def __init__(self, work):
        self.work, self.joblog = work, os.path.join(work, "joblog")
        self.redis = None
        self.workers = []

    def start(self):
        port = free_port()
        self.redis = spawn(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save",
                            "", "--appendonly", "no", "--dir", self.work],
                           os.path.join(self.work, "redis.log"))
        wait_port(port, proc=self.redis)
        self.url = f"redis://127.0.0.1:{port}/0"
        from celery import Celery as CeleryApp
        self.app = CeleryApp("peers-client", broker=self.url)  # fresh per run: own pool
        self.app.conf.task_ignore_result = True
        for i in range(2):
            self.workers.append(spawn(
                [sys.executable, "-m", "celery", "-A", "celery_app", "worker", "-P", "solo",
                 "-c", "1", "-n", f"w{i}@bench", "--without-gossip", "--without-mingle",
                 "--without-heartbeat", "-l", "warning"],
                os.path.join(self.work, f"worker{i}.log"),
                env=_env(self.joblog, {"PEERS_REDIS_URL": self.url}), cwd=HERE))

    def broker_pids(self):
        return [self.redis.pid]

    def worker_pids(self):
        return [w.pid for w in self.workers]

    def submit_burst(self, tag, n, sleep_s):
        for i in range(n):
            self.app.send_task("peers.job", (tag, i, sleep_s))

    def submit_one(self, tag, i, sleep_s):
        self.app.send_task("peers.job", (tag, i, sleep_s))

    def stop(self):
        if hasattr(self, "app"):
            self.app.close()
        for w in self.workers:
            stop(w)
        stop(self.redis)


class Dask:
    name = "dask"

    def __init__(self, work):
        self.work, self.joblog = work, os.path.join(work, "joblog")
        self.sched = None
        self.workers = []
        self.client = None
        self.futures = []

    def start(self):
        port = free_port()
        self.sched = spawn([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host",
                            "127.0.0.1", "--port", str(port), "--dashboard-address", ":0",
                            "--no-show"], os.path.join(self.work, "scheduler.log"),
                           env=_env(self.joblog), cwd=self.work)
        wait_port(port, timeout_s=60, proc=self.sched)
        addr = f"tcp://127.0.0.1:{port}"
        for i in range(2):
            self.workers.append(spawn(
                [sys.executable, "-m", "distributed.cli.dask_worker", addr, "--nthreads", "1",
                 "--no-nanny", "--name", f"w{i}", "--dashboard-address", ":0", "--local-directory",
                 os.path.join(self.work, f"w{i}")],
                os.path.join(self.work, f"worker{i}.log"), env=_env(self.joblog), cwd=self.work))
        sys.path.insert(0, HERE)
        os.environ["PEERS_JOBLOG"] = self.joblog
        from distributed import Client
        import peer_jobs
        self.run_job = peer_jobs.run_job
        self.client = Client(addr, timeout=60)
        self.client.wait_for_workers(2, timeout=60)

    def broker_pids(self):
        return [self.sched.pid]

    def worker_pids(self):
        return [w.pid for w in self.workers]

    def submit_burst(self, tag, n, sleep_s):
        self.futures += self.client.map(self.run_job, [tag] * n, range(n), [sleep_s] * n,
                                        pure=False)

    def submit_one(self, tag, i, sleep_s):
        self.futures.append(self.client.submit(self.run_job, tag, i, sleep_s, pure=False))

    def stop(self):
        if self.client is not None:
            self.futures.clear()
            self.client.close(timeout=10)
        for w in self.workers:
            stop(w)
        stop(self.sched)


class Postgres:
    name = "postgres"
    BIN = "/usr/lib/postgresql/15/bin"

    def __init__(self, work):
        self.work, self.joblog = work, os.path.join(work, "joblog")
        self.workers = []
        self.pgdata = os.path.join(work, "pgdata")
        self.conn = None

    def _as_postgres(self, args, **kw):
        return ["runuser", "-u", "postgres", "--"] + args

    def start(self):
        import psycopg2
        os.makedirs(self.pgdata)
        shutil.chown(self.work, "postgres")
        shutil.chown(self.pgdata, "postgres")
        subprocess.run(self._as_postgres([f"{self.BIN}/initdb", "-D", self.pgdata, "-A", "trust",
                                          "-U", "postgres", "--no-sync"]),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.port = free_port()
        logf = os.path.join(self.work, "postgres.log")
        subprocess.run(self._as_postgres(
            [f"{self.BIN}/pg_ctl", "-D", self.pgdata, "-l", logf, "-w", "-t", "60", "-o",
             f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.work}", "start"]),
            check=True, stdout=subprocess.DEVNULL)
        self.dsn = f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"
        self.conn = psycopg2.connect(self.dsn)
        self.conn.autocommit = True
        self.conn.cursor().execute(
            "CREATE TABLE jobs (id bigserial PRIMARY KEY, tag text NOT NULL, idx int NOT NULL,"
            " sleep_s float8 NOT NULL, state text NOT NULL DEFAULT 'queued',"
            " finished timestamptz);"
            " CREATE INDEX jobs_queued ON jobs (id) WHERE state = 'queued'")
        for i in range(2):
            self.workers.append(spawn([sys.executable, os.path.join(HERE, "pg_worker.py"),
                                       self.dsn], os.path.join(self.work, f"worker{i}.log"),
                                      env=_env(self.joblog)))

    def _postmaster_pid(self):
        with open(os.path.join(self.pgdata, "postmaster.pid")) as f:
            return int(f.readline())

    def broker_pids(self):
        return [self._postmaster_pid()]

    def worker_pids(self):
        return [w.pid for w in self.workers]

    def submit_burst(self, tag, n, sleep_s):
        self.conn.autocommit = False
        cur = self.conn.cursor()
        cur.executemany("INSERT INTO jobs (tag, idx, sleep_s) VALUES (%s, %s, %s)",
                        [(tag, i, sleep_s) for i in range(n)])
        cur.execute("NOTIFY peers_jobs")
        self.conn.commit()
        self.conn.autocommit = True

    def submit_one(self, tag, i, sleep_s):
        self.conn.cursor().execute(
            "INSERT INTO jobs (tag, idx, sleep_s) VALUES (%s, %s, %s); NOTIFY peers_jobs",
            (tag, i, sleep_s))

    def stop(self):
        for w in self.workers:
            stop(w)
        if self.conn is not None:
            self.conn.close()
        if os.path.exists(os.path.join(self.pgdata, "postmaster.pid")):
            subprocess.run(self._as_postgres([f"{self.BIN}/pg_ctl", "-D", self.pgdata, "-m",
                                              "immediate", "-w", "stop"]),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


PEERS = {"celery": Celery, "dask": Dask, "postgres": Postgres}


def kill_worker(pid):
    os.kill(pid, signal.SIGKILL)
    log(f"kill -9 worker pid {pid}")
    return time.time()

