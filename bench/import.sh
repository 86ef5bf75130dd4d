#!/usr/bin/env bash
# Import rate: `profiled import --amplitude-export` of a generated export archive into a
# fresh server (docs/BENCHMARKS.md, "Import").
#
#   bench/import.sh [BINARY]      (default build/profiled)
#
# Writes (once, reused) an archive of BENCH_IMPORT_EVENTS events of BENCH_IMPORT_USERS users
# in 48 hourly files (bench/make_export_archive.py), starts a server with an empty data dir and
# the given durability, runs the import and prints its summary line (events, seconds,
# events/s). Knobs: BENCH_IMPORT_EVENTS=200000, BENCH_IMPORT_USERS=20000,
# BENCH_IMPORT_DURABILITY=fsync, BENCH_IMPORT_BATCH=1000, BENCH_IMPORT_BACKEND=rocksdb (or
# redis-cluster: a local cluster of 3 primaries and 3 replicas, scripts/redis-cluster.sh).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$(readlink -f "${1:-$ROOT/build/profiled}")
EVENTS=${BENCH_IMPORT_EVENTS:-200000}
USERS=${BENCH_IMPORT_USERS:-20000}
DURABILITY=${BENCH_IMPORT_DURABILITY:-fsync}
BATCH=${BENCH_IMPORT_BATCH:-1000}
BACKEND=${BENCH_IMPORT_BACKEND:-rocksdb}
RESULTS=$ROOT/bench/results
ARCHIVE=$RESULTS/export-$EVENTS-$USERS.zip
mkdir -p "$RESULTS"
# shellcheck source=bench/server.sh
. "$ROOT/bench/server.sh"
bench_setup profiled-import "$DURABILITY"
sed -i 's/^threads = 1$/threads = 0/' "$TMP/c.toml"
if [ "$BACKEND" = redis-cluster ]; then
  "$ROOT/scripts/redis-cluster.sh" start "$TMP/cluster" --owner $$ >/dev/null
  trap '"$ROOT/scripts/redis-cluster.sh" stop "$TMP/cluster" >/dev/null 2>&1 || true; bench_cleanup' EXIT
  nodes=$(sed 's/.*/"&"/' "$TMP/cluster/nodes.txt" | paste -sd, -)
  sed -i "s/^\[storage\]$/[storage]\nbackend = \"redis-cluster\"\nredis_nodes = [$nodes]/" "$TMP/c.toml"
fi
if [ ! -f "$ARCHIVE" ]; then
  python3 "$ROOT/bench/make_export_archive.py" "$ARCHIVE" --events "$EVENTS" --users "$USERS"
fi
bench_start "$TMP/data" "$BIN"
"$BIN" import --url "http://127.0.0.1:$PORT" --api-key bench-key --amplitude-export "$ARCHIVE" \
  --state "$TMP/state" --batch-events "$BATCH" 2>"$TMP/import.log" | tee "$TMP/summary.json"
tail -n 8 "$TMP/import.log" >&2
bench_stop
echo "archive $(stat -c %s "$ARCHIVE") bytes, $BACKEND, durability $DURABILITY, batch $BATCH, $(nproc) cores" >&2
