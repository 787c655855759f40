#!/bin/bash
# The peer benchmark suite, one command (run as root from anywhere; ~10-15 minutes):
#   tools/bench/peers/run_all.sh            # BUILD_DIR=build, REPS=3, writes docs/benchmarks-peers.*
# Installs the peers (Debian packages), builds codesweep, fakellm and bench_sandbox, runs the
# scheduler, LLM-bound and sandbox benchmarks, renders the chart and writes the report section.
# Every peer is started by the suite in a private temp dir and stopped afterwards. Any failure
# stops the suite with a non-zero exit. Environment: BUILD_DIR, REPS, OUT_DIR (raw JSON),
# REPORT (markdown path), SKIP_INSTALL=1, SKIP_BUILD=1, QUICK=1 (smaller runs, for a smoke test),
# LLM_LONG=1 (also the LLM-bound scenario with 3,000 jobs: ~15 more minutes).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cd "$ROOT"
BUILD_DIR="${BUILD_DIR:-build}"
REPS="${REPS:-3}"
OUT_DIR="${OUT_DIR:-$(mktemp -d -t codesweep-bench-XXXXXX)}"
REPORT="${REPORT:-docs/benchmarks-peers.md}"
CHART="${REPORT%.md}.png"
PY=/usr/bin/python3  # the Debian interpreter: the peers are Debian packages
PEERS="tools/bench/peers"
say() { echo "[run_all $(date +%H:%M:%S)] $*" >&2; }
die() { echo "[run_all] FAILED: $*" >&2; exit 1; }
trap 'die "line $LINENO: $BASH_COMMAND (raw results in $OUT_DIR)"' ERR

[ "$(id -u)" = 0 ] || die "run as root (apt-get, and a private PostgreSQL cluster as user postgres)"
if [ "${SKIP_INSTALL:-0}" != 1 ]; then
  say "installing peers (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends python3-celery python3-redis redis-server \
    python3-distributed postgresql python3-psycopg2 python3-matplotlib >/dev/null ||
    { apt-get update >/dev/null && apt-get install -y --no-install-recommends python3-celery \
      python3-redis redis-server python3-distributed postgresql python3-psycopg2 \
      python3-matplotlib >/dev/null; }
fi
# The Debian redis-server and postgresql packages start system services; the suite uses its
# own private instances, so those are left alone (not needed, not touched).
[ -x /usr/lib/postgresql/15/bin/initdb ] || die "PostgreSQL 15 binaries not found"
command -v redis-server >/dev/null || die "redis-server not found"
$PY -c "import celery, distributed, psycopg2, matplotlib" || die "python peers not importable"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  say "building codesweep, fakellm, bench_sandbox in $BUILD_DIR"
  cmake -S . -B "$BUILD_DIR" -G Ninja >/dev/null
  cmake --build "$BUILD_DIR" --target codesweep fakellm bench_sandbox -j2 >/dev/null
fi
CS="$ROOT/$BUILD_DIR/codesweep"
FAKE="$ROOT/$BUILD_DIR/fakellm"
SBX="$ROOT/$BUILD_DIR/bench/bench_sandbox"
for b in "$CS" "$FAKE" "$SBX"; do [ -x "$b" ] || die "missing binary $b"; done

if [ "${QUICK:-0}" = 1 ]; then
  SCHED_ARGS=(--noop 200 --sleep 60 --paced 20); LLM_ARGS=(--jobs 60); SBX_RUNS=10
else
  SCHED_ARGS=(); LLM_ARGS=(); SBX_RUNS=30
fi
mkdir -p "$OUT_DIR"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
START=$(date +%s)

say "scheduler overhead: codesweep, celery, dask, postgres"
(cd "$PEERS" && $PY sched_bench.py --out "$OUT_DIR/sched.json" --codesweep "$CS" \
  --reps "$REPS" "${SCHED_ARGS[@]}")
say "LLM-bound: codesweep vs naive_runner.py against fakellm"
(cd "$PEERS" && $PY llm_bench.py --out "$OUT_DIR/llm.json" --codesweep "$CS" --fakellm "$FAKE" \
  --reps "$REPS" "${LLM_ARGS[@]}")
say "LLM-bound, tokens-per-minute limit binding"
(cd "$PEERS" && $PY llm_bench.py --out "$OUT_DIR/llm_tpm.json" --codesweep "$CS" \
  --fakellm "$FAKE" --reps "$REPS" --tpm 60000 "${LLM_ARGS[@]}")
say "LLM-bound, two models of different limits in one sweep"
(cd "$PEERS" && $PY llm_bench.py --out "$OUT_DIR/llm_2models.json" --codesweep "$CS" \
  --fakellm "$FAKE" --reps "$REPS" --second-rpm 600 "${LLM_ARGS[@]}")
if [ "${LLM_LONG:-0}" = 1 ]; then
  say "LLM-bound, 3,000 jobs"
  (cd "$PEERS" && $PY llm_bench.py --out "$OUT_DIR/llm_long.json" --codesweep "$CS" \
    --fakellm "$FAKE" --reps "$REPS" --jobs 3000 --timeout-s 600)
fi
say "sandbox cost"
(cd "$PEERS" && $PY sandbox_bench.py --out "$OUT_DIR/sandbox.json" --bench "$SBX" \
  --reps "$REPS" --runs "$SBX_RUNS")

$PY - "$OUT_DIR/machine.json" "$LOAD_BEFORE" "$(($(date +%s) - START))" <<'EOF'
import json, os, platform, subprocess, sys
def sh(c):
    return subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()
cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
mem = int(sh("grep MemTotal /proc/meminfo | awk '{print $2}'")) / 1024 / 1024
vers = {
    "celery": sh("/usr/bin/python3 -c 'import celery; print(celery.__version__)'"),
    "kombu": sh("/usr/bin/python3 -c 'import kombu; print(kombu.__version__)'"),
    "redis-server": sh("redis-server --version | awk '{print $3}' | cut -d= -f2"),
    "dask distributed": sh("/usr/bin/python3 -c 'import distributed; print(distributed.__version__)'"),
    "postgresql": sh("/usr/lib/postgresql/15/bin/postgres --version | awk '{print $3}'"),
    "psycopg2": sh("/usr/bin/python3 -c 'import psycopg2; print(psycopg2.__version__.split()[0])'"),
    "python3": platform.python_version(),
}
m = {
    "nproc": os.cpu_count(),
    "CPU": cpu,
    "memory": f"{mem:.1f} GiB",
    "kernel": platform.release(),
    "OS": sh(". /etc/os-release; echo $PRETTY_NAME"),
    "load average before (1/5/15 min)": sys.argv[2],
    "load average after (1/5/15 min)": " ".join(open("/proc/loadavg").read().split()[:3]),
    "suite wall time": f"{int(sys.argv[3])} s",
    "versions": ", ".join(f"{k} {v}" for k, v in vers.items()),
}
json.dump(m, open(sys.argv[1], "w"), indent=1)
EOF

say "chart and report"
$PY tools/bench/chart/render_peers.py --sched "$OUT_DIR/sched.json" --llm "$OUT_DIR/llm.json" \
  --sandbox "$OUT_DIR/sandbox.json" --out "$CHART"
$PY "$PEERS/report.py" --dir "$OUT_DIR" --chart "$(basename "$CHART")" --out "$REPORT"
say "done in $(($(date +%s) - START)) s: $REPORT, $CHART (raw JSON in $OUT_DIR)"
