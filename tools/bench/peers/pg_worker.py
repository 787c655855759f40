"""PostgreSQL SKIP LOCKED worker: one job per transaction, row lock held while it runs.

Usage: pg_worker.py DSN. Waits on LISTEN peers_jobs when the queue is empty. A worker that
dies mid-job loses its connection; PostgreSQL rolls the transaction back and the row is free
again (at-least-once). Stops on SIGTERM.
"""

import select
import signal
import sys

import psycopg2

import peer_jobs

CLAIM = ("SELECT id, tag, idx, sleep_s FROM jobs WHERE state = 'queued'"
         " ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1")


def main():
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    conn = psycopg2.connect(sys.argv[1])
    listen = psycopg2.connect(sys.argv[1])
    listen.autocommit = True
    listen.cursor().execute("LISTEN peers_jobs")
    cur = conn.cursor()
    while not stopping:
        cur.execute(CLAIM)
        row = cur.fetchone()
        if row is None:
            conn.commit()
            if select.select([listen], [], [], 0.5)[0]:
                listen.poll()
                listen.notifies.clear()
            continue
        job_id, tag, idx, sleep_s = row
        peer_jobs.run_job(tag, idx, sleep_s)
        cur.execute("UPDATE jobs SET state = 'done', finished = now() WHERE id = %s", (job_id,))
        conn.commit()


if __name__ == "__main__":
    main()
