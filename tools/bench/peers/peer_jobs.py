"""The benchmark job every Python peer runs: log start, sleep (0 = no-op), log end.

Imported by Celery and Dask workers (PYTHONPATH=tools/bench/peers) and by pg_worker.py.
The log directory comes from PEERS_JOBLOG in the worker's environment.
"""

import os
import time

from common import JobLog

_LOGS = {}


def run_job(tag, idx, sleep_s):
    path = os.environ["PEERS_JOBLOG"]
    jl = _LOGS.get(path)
    if jl is None:
        jl = _LOGS[path] = JobLog(path)
    jl.event("S", tag, idx)
    if sleep_s > 0:
        time.sleep(sleep_s)
    jl.event("E", tag, idx)
    return idx
