#!/usr/bin/env bash
# bench_restart: a coordinator restarted on a database of N jobs (default 1,000,000), from the
# process start to "listening" (store opened and migrated, sweep re-expanded, restart recovery
# done, counts loaded: from then on it dispatches at the first CREDIT). The first start loads
# the grid; it is killed with SIGKILL, then restarted 5 times; prints each time and the median,
# and the coordinator's resident memory (VmRSS) and CPU time (user + system) at "listening" with
# every job pending (CPU moves less than wall time on a loaded machine).
#   tools/bench/bench_restart.sh [BUILD_DIR] [SAMPLES_PER_CELL]   (samples x 200 = jobs)
set -euo pipefail
build=${1:-build}
samples=${2:-5000}
bin=$(cd "$(dirname "$0")/../.." && pwd)/$build/codesweep
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
{
  printf 'name = "restart"\nseed = 7\nsamples = %d\nmethods = ["only_question", "all_code"]\n' "$samples"
  printf '[[tasks]]\nname = "number_multiply"\n'
  printf 'complexity = ["1_1", "1_2", "2_2", "2_3", "3_3", "3_4", "4_4", "1_2_4", "5_5", "6_6"]\n'
  for m in 0 1 2 3 4 5 6 7 8 9; do printf '[models."sim:m%d"]\np_correct = 0.%d\n' "$m" "$m"; done
} > "$dir/sweep.toml"

# Starts the coordinator, waits until it says "listening", prints the seconds taken, kills it.
run_once() {
  rm -f "$dir/coord.log"
  local t0 t1 pid
  t0=$(date +%s.%N)
  "$bin" coordinator "$dir/sweep.toml" --db "$dir/restart.db" --bind tcp://127.0.0.1:0 \
    > "$dir/coord.log" 2>&1 &
  pid=$!
  until grep -q listening "$dir/coord.log" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || { cat "$dir/coord.log" >&2; exit 1; }
    sleep 0.005
  done
  t1=$(date +%s.%N)
  grep VmRSS "/proc/$pid/status" | awk '{ printf "%.1f MiB", $2 / 1024 }' > "$dir/rss"
  sed 's/.*) //' "/proc/$pid/stat" | awk -v hz="$(getconf CLK_TCK)" \
    '{ printf ", %.2f s CPU", ($12 + $13) / hz }' >> "$dir/rss"
  kill -9 "$pid"
  wait "$pid" 2>/dev/null || true
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

echo "first start (grid load of $((samples * 200)) jobs): $(run_once) s"
times=()
for i in 1 2 3 4 5; do
  t=$(run_once)
  times+=("$t")
  echo "restart $i: $t s, at listening: $(cat "$dir/rss")"
done
echo "median restart to listening: $(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p) s"
