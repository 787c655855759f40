#!/usr/bin/env python3
"""Times `codesweep view` on a large database (make_view_db.py) and prints Markdown tables.

Each request is made over loopback in the order a user would click: once cold (the first time
the server sees it), then 3 more times; the table gives the median of those 3 and the cold one.
"server ms" is the server's own time for the answer (its Server-Timing header: what the page
waits for, without the network); "client ms" adds the local round trip and reading the answer.
The first page is timed on a server just started, as a browser opening it would see it. The
server's memory is its peak resident set (VmHWM) at the end. "server CPU ms" is the CPU time
its handler thread spent on the answer (also from Server-Timing): what the answer costs, whatever
else the machine runs. Pairs marked "(old way)" run the
query the viewer uses without the 0013 tables, on the same server, for the ratio.
Usage: bench_view.py --codesweep build/codesweep --db /tmp/view1m.db [--skip-old] [--only REGEX]
  --only REGEX: only the requests whose name matches (and the first page, unless --no-first)
"""
import argparse
import re
import statistics
import subprocess
import time
import urllib.request

S = "/api/cells?sweep=bench"
REQUESTS = [
    ("Sweeps page (/api/sweeps)", "/api/sweeps"),
    ("cells filter lists (/api/filters)", "/api/filters?sweep=bench"),
    ("cells, first page, no filter", S + "&count=0"),
    ("cells, its count of matches", S + "&rows=0"),
    ("cells, page 2 (after=)", S + "&after=20100&count=0"),
    ("cells, a deep page (after=900000)", S + "&after=900000&count=0"),
    ("cells, page back (before=)", S + "&before=500000&count=0"),
    ("cells, task + model + method", S + "&task=boxlift&model=sim%3Asmall&method=all_code&count=0"),
    ("  its count", S + "&task=boxlift&model=sim%3Asmall&method=all_code&rows=0"),
    ("cells, status = incorrect", S + "&status=incorrect&count=0"),
    ("  its count", S + "&status=incorrect&rows=0"),
    ("cells, status = dead", S + "&status=dead&count=0"),
    ("  its count", S + "&status=dead&rows=0"),
    ("cells, code used + complexity", S + "&code_used=1&complexity=3&count=0"),
    ("  its count", S + "&code_used=1&complexity=3&rows=0"),
    ("cells, error text", S + "&error=timed+out&count=0"),
    ("  its count", S + "&error=timed+out&rows=0"),
    ("search, common words (\"step by step\")", S + "&q=step+by+step&count=0"),
    ("  its count", S + "&q=step+by+step&rows=0"),
    ("search, common words, the last one begun (\"step by ste\")", S + "&q=step+by+ste&count=0"),
    ("  its count", S + "&q=step+by+ste&rows=0"),
    ("search, rare word (an answer: \"7777\")", S + "&q=7777&count=0"),
    ("  its count", S + "&q=7777&rows=0"),
    ("  (old way: substring scan)", S + "&q=7777&count=0&search=like"),
    ("  its count (old way)", S + "&q=7777&rows=0&search=like"),
    ("search, rare word + status = correct", S + "&q=7777&status=correct"),
    ("transcript of one cell", "/api/cell?id=500000"),
    ("Errors, grouped", "/api/errors?sweep=bench"),
    ("Compare two methods on one model", "/api/compare?sweep=bench&dim=method&a=all_code"
     "&b=all_text&model=sim%3Asmall&task=game24"),
    ("Compare two models, one method", "/api/compare?sweep=bench&dim=model&a=sim%3Asmall"
     "&b=openai%3Agpt-4o&method=all_code&task=boxlift"),
    ("Compare two methods on one model, every task", "/api/compare?sweep=bench&dim=method"
     "&a=all_code&b=all_text&model=sim%3Asmall"),
    ("  its next page", "/api/compare?sweep=bench&dim=method&a=all_code&b=all_text"
     "&model=sim%3Asmall&offset=100"),
    ("Compare two models, every method", "/api/compare?sweep=bench&dim=model&a=sim%3Asmall"
     "&b=openai%3Agpt-4o"),
    ("  (old way: from the jobs and results)", "/api/compare?sweep=bench&dim=method"
     "&a=all_code&b=all_text&model=sim%3Asmall&task=game24&from=jobs"),
    ("Results tables (kept sums, view_grain)", "/api/results?sweep=bench"),
    ("  (old way: the report views)", "/api/results?sweep=bench&from=views"),
]


def fetch(base, path):
    t0 = time.perf_counter()
    with urllib.request.urlopen(base + path, timeout=600) as r:
        r.read()
        timing = r.headers.get("Server-Timing", "")
    client = 1000 * (time.perf_counter() - t0)
    m = re.search(r"app;dur=([0-9.]+)", timing)
    cpu = re.search(r"cpu;dur=([0-9.]+)", timing)
    return (float(m.group(1)) if m else client), client, (float(cpu.group(1)) if cpu else 0.0)


def start(codesweep, db):
    p = subprocess.Popen([codesweep, "view", "--db", db, "--bind", "127.0.0.1:0"],
                         stdout=subprocess.PIPE, text=True)
    base = re.search(r"at (http://\S+)/", p.stdout.readline()).group(1)
    return p, base


def peak_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1)) / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--codesweep", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--skip-old", action="store_true",
                    help="leave out the \"(old way)\" rows (the substring scans take minutes)")
    ap.add_argument("--only", default="", help="only the requests whose name matches this regex")
    ap.add_argument("--no-first", action="store_true", help="leave out the first page")
    ap.add_argument("--reps", type=int, default=3, help="timed runs of each request (median)")
    a = ap.parse_args()
    # The first page, 3 times, each on a server just started: the page, its script, the sweeps.
    first = []
    for _ in range(0 if a.no_first else 3):
        p, base = start(a.codesweep, a.db)
        try:
            t0 = time.perf_counter()
            answers = [fetch(base, path) for path in ["/", "/app.js", "/api/sweeps"]]
            first.append((sum(x[0] for x in answers), 1000 * (time.perf_counter() - t0),
                          sum(x[2] for x in answers)))
        finally:
            p.terminate()
            p.wait()
    print("| request | server ms (median of 3) | server CPU ms (median of 3) |"
          " client ms (median of 3) | server ms, cold |")
    print("|---|---:|---:|---:|---:|")
    if first:
        print(f"| first page on a fresh server: / + /app.js + /api/sweeps | "
              f"{statistics.median(s for s, _, _ in first):.0f} | "
              f"{statistics.median(u for _, _, u in first):.1f} | "
              f"{statistics.median(c for _, c, _ in first):.0f} | |")
    p, base = start(a.codesweep, a.db)
    group = ""
    try:
        for name, path in REQUESTS:
            if a.skip_old and "old way" in name:
                continue
            if not name.startswith("  "):
                group = name  # "  its count" rows go with the request above them
            if a.only and not re.search(a.only, group):
                continue
            cold = fetch(base, path)[0]
            runs = [fetch(base, path) for _ in range(a.reps)]
            print(f"| {name} | {statistics.median(s for s, _, _ in runs):.1f} | "
                  f"{statistics.median(u for _, _, u in runs):.1f} | "
                  f"{statistics.median(c for _, c, _ in runs):.1f} | {cold:.1f} |")
        print(f"\nserver peak memory (VmHWM): {peak_mb(p.pid):.0f} MB")
    finally:
        p.terminate()
        p.wait()


if __name__ == "__main__":
    main()
