#!/usr/bin/env python3
"""A TCP relay that delays every chunk by DELAY_MS in each direction (so the round trip grows by
2 x DELAY_MS) and, with probability LOSS, stalls a chunk (and, in order, everything behind it)
by a further 200 ms, the minimum TCP retransmission timeout: what a lost segment costs a TCP
stream. Used by the netns fault test where the kernel has no sch_netem.
Usage: delay_relay.py LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT DELAY_MS LOSS SEED"""
import asyncio
import random
import sys


async def pipe(reader, writer, delay, loss, rng):
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()
    last = 0.0

    async def drain():
        while True:
            at, data = await queue.get()
            if data is None:
                break
            wait = at - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        writer.close()

    task = asyncio.create_task(drain())
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            at = loop.time() + delay + (0.2 if rng.random() < loss else 0.0)
            last = max(last, at)
            queue.put_nowait((last, data))
    except (ConnectionError, OSError):
        pass
    queue.put_nowait((0, None))
    try:
        await task
    except (ConnectionError, OSError):
        pass


async def main():
    host, port, thost, tport = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    delay, loss, rng = int(sys.argv[5]) / 1000.0, float(sys.argv[6]), random.Random(int(sys.argv[7]))

    async def handle(cr, cw):
        try:
            sr, sw = await asyncio.open_connection(thost, tport)
        except OSError:
            cw.close()
            return
        await asyncio.gather(pipe(cr, sw, delay, loss, rng), pipe(sr, cw, delay, loss, rng))

    server = await asyncio.start_server(handle, host, port)
    print("relay listening", flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
