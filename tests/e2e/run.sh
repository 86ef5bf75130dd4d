#!/usr/bin/env bash
# End-to-end tests: run.sh /abs/path/to/profiled
# Installs the pinned SDKs (npm ci) when node_modules is missing or older than
# package-lock.json, then runs every *.test.js file with Node's built-in test runner.
# Exit code: the test runner's (0 only if every test passed).
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 /path/to/profiled [test-file.test.js ...]" >&2
  exit 2
fi
bin="$1"
shift
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
cd "$(dirname "$0")"
if [ ! -x "$bin" ]; then
  echo "run.sh: $bin is not an executable" >&2
  exit 2
fi
export PROFILED_BIN="$bin"

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  touch node_modules
fi

args=(--test)
node_help="$(node --help 2>/dev/null || true)"
# --test-concurrency exists from Node 20.10, --test-reporter from 18.15; use them if there.
# PROFILED_E2E_FILES_AT_ONCE: how many files run at once (default 2).
if grep -q -- '--test-concurrency' <<<"$node_help"; then
  args+=(--test-concurrency="${PROFILED_E2E_FILES_AT_ONCE:-2}")
fi
if grep -q -- '--test-reporter' <<<"$node_help"; then
  args+=(--test-reporter=spec)
fi
# PROFILED_E2E_TLS=1: every server the tests start serves HTTPS with a certificate for
# 127.0.0.1 signed by a test CA made here, which Node trusts for this run (harness.js, TLS).
if [ "${PROFILED_E2E_TLS:-0}" = 1 ] && [ -z "${PROFILED_E2E_TLS_DIR:-}" ]; then
  tls_dir="$(mktemp -d /tmp/profiled-e2e-tls-XXXXXX)"
  trap 'rm -rf "$tls_dir"' EXIT
  ./make-test-ca.sh "$tls_dir"
  export PROFILED_E2E_TLS_DIR="$tls_dir"
  export NODE_EXTRA_CA_CERTS="$tls_dir/ca.pem"
fi
# Extra arguments name test files to run instead of all of them.
if [ $# -eq 0 ]; then
  set -- ./*.test.js
fi
node "${args[@]}" "$@"
