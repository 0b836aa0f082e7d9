#!/usr/bin/env bash
# `npm test`: from nothing to the whole suite. Installs dependencies, compiles, lints, brings up the stack the tests
# need (unless the environment or a container runtime provides it) and runs unit, integration and end-to-end tiers.
# Stops afterwards what it started.
set -euo pipefail
SCRIPT_NAME=test
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
started_at=$SECONDS

ensure_deps
# ORCH_REUSE_BUILD=1: a second tier right after a full run (CI's test:scale) skips linting and building again.
if [ -z "${ORCH_REUSE_BUILD:-}" ] || [ ! -d "$ROOT/dist" ]; then
  say "linting"
  eslint . --max-warnings 0
  prettier --check . --log-level warn
  rm -rf "$ROOT/dist"  # a clean build: a test deleted from the source must not run from a stale dist
  build
fi

STARTED="$ROOT/.local/test.started"
mkdir -p "$ROOT/.local"
: >"$STARTED"
trap '"$ROOT/scripts/stack.sh" down --only "$STARTED"' EXIT

mode="$(run_node dist/test/harness/stack-mode.cli.js)"
say "test stack: $mode"
# The S3 backend's tests always run: against CAS_S3_ENDPOINT when the environment names one, else a local S3Proxy.
if [ "$mode" = "local" ]; then
  "$ROOT/scripts/stack.sh" up --record "$STARTED" --s3proxy
else
  "$ROOT/scripts/stack.sh" s3proxy --record "$STARTED"
fi

# One process per file (Node's default isolation); two at a time fits two cores with the brokers beside them.
tiers=("dist/**/*.unit.test.js" "dist/**/*.int.test.js" "dist/**/*.e2e.test.js")
if [ $# -gt 0 ]; then tiers=("$@"); fi
# Each test file's process waits for its results to reach the runner before a forced exit (flush-on-exit.ts).
NODE_OPTIONS="$NODE_OPTIONS --import=$ROOT/dist/test/harness/flush-on-exit.js" \
  run_node --test --test-global-setup=dist/test/harness/global-setup.js --test-concurrency=2 --test-force-exit \
  --test-timeout=180000 "${tiers[@]}"
say "suite finished in $((SECONDS - started_at))s"
