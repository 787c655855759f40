#!/usr/bin/env bash
# Installs the pinned client libraries (package-lock.json, from the npm registry) into the build
# tree once, then runs clients.test.mjs with node's test runner against the built fakellm.
#   run_clients.sh FAKELLM WORKDIR
set -euo pipefail
src="$(cd "$(dirname "$0")" && pwd)"
fakellm="$(realpath "$1")"
work="$2"
mkdir -p "$work"
cp "$src/package.json" "$src/package-lock.json" "$src"/*.test.mjs "$work/"
cd "$work"
if ! cmp -s package-lock.json node_modules/.package-lock.json.installed 2>/dev/null; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.package-lock.json.installed
fi
FAKELLM="$fakellm" exec node --test --test-reporter=spec clients.test.mjs batches.test.mjs
