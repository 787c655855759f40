#!/usr/bin/python3
"""naive_runner: the baseline an experimenter writes first. asyncio, a fixed number of
concurrent requests to an OpenAI-compatible /v1/chat/completions, retry on 429 (honouring
retry-after-ms / Retry-After, else 1 s) and on 5xx / connection errors (back-off, 5 tries).
No rate limiter, no cache, no persistence. Standard library only (raw HTTP/1.1 keep-alive).

Usage: naive_runner.py --url http://127.0.0.1:PORT/v1 --jobs N --concurrency C [--prompts FILE]
Prints one JSON line: wall_s, ok, failed, attempts, http_429.
"""

import argparse
import asyncio
import json
import time
import urllib.parse


class Conn:
    """One keep-alive HTTP/1.1 connection, reopened after any error."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def post(self, path, body, headers):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = [f"POST {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                "Content-Type: application/json", f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("connection closed")
        status = int(status_line.split()[1])
        resp_headers = {}
        while True:
            line = (await self.reader.readline()).decode("latin-1").strip()
            if not line:
                break
            k, _, v = line.partition(":")
            resp_headers[k.strip().lower()] = v.strip()
        n = int(resp_headers.get("content-length", "0"))
        data = await self.reader.readexactly(n)
        if resp_headers.get("connection", "").lower() == "close":
            self.close()
        return status, resp_headers, data

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def retry_after_s(headers):
    if "retry-after-ms" in headers:
        return float(headers["retry-after-ms"]) / 1000.0
    try:
        return float(headers.get("retry-after", "1"))
    except ValueError:
        return 1.0


def request_body(i, model, prompts=None):
    if prompts:
        prompt = prompts[i % len(prompts)]
    else:
        a, b = 10 + (i * 37) % 90, 10 + (i * 53) % 90
        prompt = (f"What is {a} * {b}? Solve it step by step and give the final answer"
                  " surrounded by <<< and >>>, e.g. <<<123>>>.")
    return json.dumps({"model": model, "messages": [{"role": "user", "content": prompt}],
                       "temperature": 0, "max_tokens": 1024}).encode()


async def one_job(i, conn, args, stats):
    path = urllib.parse.urlparse(args.url).path.rstrip("/") + "/chat/completions"
    cell = json.dumps({"task": "number_multiply", "complexity": "1_2", "sample": i,
                       "seed": 7, "method": "only_question"})
    headers = {"X-Codesweep-Cell": cell}
    errors = 0
    while True:
        stats["attempts"] += 1
        try:
            status, hdrs, _ = await conn.post(path, request_body(i, args.model, args.prompts),
                                              headers)
        except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError, IndexError):
            conn.close()
            status, hdrs = 0, {}
        if status == 200:
            stats["ok"] += 1
            return
        if status == 429:
            stats["http_429"] += 1
            await asyncio.sleep(retry_after_s(hdrs))
            continue
        errors += 1
        if errors >= 5 or 400 <= status < 500:
            stats["failed"] += 1
            return
        await asyncio.sleep(0.5 * 2 ** (errors - 1))


async def run(args):
    u = urllib.parse.urlparse(args.url)
    stats = {"ok": 0, "failed": 0, "attempts": 0, "http_429": 0}
    queue = asyncio.Queue()
    for i in range(args.jobs):
        queue.put_nowait(i)

    async def slot():
        conn = Conn(u.hostname, u.port or 80)
        while not queue.empty():
            await one_job(queue.get_nowait(), conn, args, stats)
        conn.close()

    t0 = time.monotonic()
    await asyncio.gather(*(slot() for _ in range(args.concurrency)))
    stats["wall_s"] = time.monotonic() - t0
    return stats


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True, help="base URL ending in /v1")
    ap.add_argument("--jobs", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--model", default="fake")
    ap.add_argument("--prompts", default="",
                    help="JSON list of prompts: job i asks prompts[i] (the same questions as the "
                         "runner it is compared with); default: a synthetic multiplication")
    args = ap.parse_args()
    if args.prompts:
        with open(args.prompts) as f:
            args.prompts = json.load(f)
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
