#!/usr/bin/env bash
# Installs the pinned playwright-core (package-lock.json, from the npm registry) into the build
# tree once, then runs view.test.mjs with node's test runner against the built codesweep and
# Debian's chromium. CODESWEEP_VIEW_SCREENSHOTS=DIR also writes a screenshot of every page there.
#   run_view.sh CODESWEEP WORKDIR
set -euo pipefail
src="$(cd "$(dirname "$0")" && pwd)"
codesweep="$(realpath "$1")"
work="$2"
mkdir -p "$work"
cp "$src/package.json" "$src/package-lock.json" "$src/view.test.mjs" "$work/"
cd "$work"
if ! cmp -s package-lock.json node_modules/.package-lock.json.installed 2>/dev/null; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.package-lock.json.installed
fi
CODESWEEP="$codesweep" exec node --test --test-concurrency=1 --test-reporter=spec view.test.mjs
