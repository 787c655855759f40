"""Celery app of the peer suite: Redis broker, acks_late on, results ignored.

Broker URL from PEERS_REDIS_URL. visibility_timeout is 10 s (the default is 1 h) so that a
killed worker's unacknowledged messages can come back within one bounded run.
"""

import os

from celery import Celery

import peer_jobs

app = Celery("peers", broker=os.environ.get("PEERS_REDIS_URL", "redis://127.0.0.1:6379/0"))
app.conf.update(
    task_acks_late=True,
    task_ignore_result=True,
    worker_prefetch_multiplier=4,
    broker_transport_options={"visibility_timeout": 10},
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)


@app.task(name="peers.job")
def job(tag, idx, sleep_s):
    return peer_jobs.run_job(tag, idx, sleep_s)
