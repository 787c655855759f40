#!/usr/bin/env bash
# The layering check must fail on a wrong-way include: a copy of the real tree with one
# deliberate violation per rule kind (worker -> coordinator, jobs -> coordinator, store -> sweep, report -> view).
set -euo pipefail
src="$(cd "$(dirname "$0")/../.." && pwd)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
check="$src/tools/lint/check_layering"

cp -r "$src/base" "$src/schema" "$src/transport" "$src/jobs" "$src/coordinator" "$src/worker" \
  "$src/report" "$src/view" "$tmp/"
"$check" "$tmp" >/dev/null || { echo "FAIL: the unmodified tree is reported as a violation"; exit 1; }

expect_violation() {  # file include
  local file="$tmp/$1"
  cp "$file" "$file.orig"
  printf '#include "%s"\n' "$2" >>"$file"
  if out=$("$check" "$tmp" 2>&1); then
    echo "FAIL: $1 including $2 passed the check"; exit 1
  fi
  grep -q "$1" <<<"$out" || { echo "FAIL: the message does not name $1: $out"; exit 1; }
  mv "$file.orig" "$file"
}
expect_violation worker/worker.cc coordinator/store/store.h
expect_violation jobs/methods/runner.cc coordinator/sweep/grid.h
expect_violation coordinator/store/store.cc coordinator/sweep/sweep_file.h
expect_violation schema/codec.cc transport/wire.h
expect_violation base/log.cc schema/types.h
expect_violation report/report.cc view/server.h
expect_violation view/api.cc coordinator/sweep/grid.h
echo "ok: every deliberate violation failed the check"
