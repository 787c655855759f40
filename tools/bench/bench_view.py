#!/usr/bin/env python3
"""Times `codesweep view` on a large database (make_view_db.py) and prints a Markdown table.

Each request is timed from this client over loopback (the server's time plus a local round
trip), best of 3 after one warm-up, in the order a user would click. The server's peak memory is
VmHWM of its process at the end.
Usage: bench_view.py --codesweep build/codesweep --db /tmp/view1m.db
"""
import argparse
import re
import subprocess
import time
import urllib.request

REQUESTS = [
    ("first page: / + /app.js + /api/sweeps", ["/", "/app.js", "/api/sweeps"]),
    ("cells filter lists (/api/filters)", ["/api/filters?sweep=bench"]),
    ("cells, first page, no filter", ["/api/cells?sweep=bench"]),
    ("cells, page 2 (after=)", ["/api/cells?sweep=bench&after=20100"]),
    ("cells, a deep page (after=900000)", ["/api/cells?sweep=bench&after=900000"]),
    ("cells, page back (before=)", ["/api/cells?sweep=bench&before=500000"]),
    ("cells, task + model + method", ["/api/cells?sweep=bench&task=boxlift&model=sim%3Asmall"
                                      "&method=all_code"]),
    ("cells, status = incorrect", ["/api/cells?sweep=bench&status=incorrect"]),
    ("cells, status = dead", ["/api/cells?sweep=bench&status=dead"]),
    ("cells, code used + complexity", ["/api/cells?sweep=bench&code_used=1&complexity=3"]),
    ("cells, error text", ["/api/cells?sweep=bench&error=timed+out"]),
    ("cells, reply search (common word)", ["/api/cells?sweep=bench&q=step+by+step"]),
    ("transcript of one cell", ["/api/cell?id=500000"]),
    ("errors, grouped", ["/api/errors?sweep=bench"]),
    ("compare two methods on one model", ["/api/compare?sweep=bench&dim=method&a=all_code"
                                          "&b=all_text&model=sim%3Asmall&task=game24"]),
    ("results tables (v_report_grain etc., cached)", ["/api/results?sweep=bench"]),
]


def fetch(base, path):
    with urllib.request.urlopen(base + path, timeout=120) as r:
        return r.read()


def best_of_3(base, paths):
    times = []
    for _ in range(4):
        t0 = time.perf_counter()
        for path in paths:
            fetch(base, path)
        times.append(1000 * (time.perf_counter() - t0))
    return times[0], min(times[1:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--codesweep", required=True)
    ap.add_argument("--db", required=True)
    a = ap.parse_args()
    p = subprocess.Popen([a.codesweep, "view", "--db", a.db, "--bind", "127.0.0.1:0"],
                         stdout=subprocess.PIPE, text=True)
    base = re.search(r"at (http://\S+)/", p.stdout.readline()).group(1)
    # A cell list is two requests, as the page makes them: the rows (count=0) and then the
    # count of matches (rows=0), which a page change does not repeat.
    print("| request | ms (best of 3) | first (cold) ms | count of matches ms |")
    print("|---|---:|---:|---:|")
    try:
        for name, paths in REQUESTS:
            count = ""
            if paths[0].startswith("/api/cells"):
                cold, best = best_of_3(base, [paths[0] + "&count=0"])
                if "after=" not in paths[0] and "before=" not in paths[0]:
                    count = f"{best_of_3(base, [paths[0] + '&rows=0'])[1]:.0f}"
            else:
                cold, best = best_of_3(base, paths)
            print(f"| {name} | {best:.0f} | {cold:.0f} | {count} |")
        with open(f"/proc/{p.pid}/status") as f:
            hwm = re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1)
        print(f"\nserver peak memory (VmHWM): {int(hwm) / 1024:.0f} MB")
    finally:
        p.terminate()
        p.wait()


if __name__ == "__main__":
    main()
