"""Sandbox cost: runs bench_sandbox --reps times and keeps each line's p50/p99 and executions/s.
Each mode runs alone, the same snippet over and over, as a worker slot runs it: the references
(`python3 -I -c` and `python3 -I -S -c`), tier-A fresh with the native backend (what a worker
runs by default: `codesweep worker` logs "sandbox tier=A backend=native mode=fresh") and the
fork server. BENCHMARKS.md's "alone" column is measured the same way.
Usage: sandbox_bench.py --out FILE --bench BIN [--reps 3] [--runs 30]
"""

import argparse
import json
import re
import subprocess

from common import BenchError, log

# bench_sandbox prints "%-16s %-14s n=..": mode names have spaces ("fresh A native").
LINE = re.compile(r"^(.{16}) (.+?)\s+n=(\d+)\s+p50=\s*([\d.]+) ms\s+p99=\s*([\d.]+) ms\s+"
                  r"([\d.]+) exec/s")
# bench_sandbox's `only` argument: each entry runs in its own process, alone.
ALONE = ["plain", "native", "forkserver"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--bench", required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--runs", type=int, default=30)
    cfg = ap.parse_args()
    runs, notes = {}, []
    for rep in range(cfg.reps):
        log(f"sandbox rep {rep + 1}/{cfg.reps}")
        out = "".join(subprocess.run([cfg.bench, str(cfg.runs), only], capture_output=True,
                                     text=True, timeout=300, check=True).stdout
                      for only in ALONE)
        for line in out.splitlines():
            m = LINE.match(line.strip())
            if m is None:
                if line.strip() and line.strip() not in notes:
                    notes.append(line.strip())
                continue
            key = f"{m.group(1).strip()}|{m.group(2).strip()}"
            runs.setdefault(key, []).append({"p50_ms": float(m.group(4)),
                                             "p99_ms": float(m.group(5)),
                                             "exec_per_s": float(m.group(6))})
    if not any(k.startswith("plain|") for k in runs):
        raise BenchError(f"bench_sandbox printed no reference lines: {notes}")
    with open(cfg.out, "w") as f:
        json.dump({"config": {"reps": cfg.reps, "runs": cfg.runs, "alone": ALONE}, "runs": runs,
                   "notes": notes}, f, indent=1)


if __name__ == "__main__":
    main()
