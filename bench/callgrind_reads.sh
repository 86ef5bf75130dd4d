#!/usr/bin/env bash
# Instructions per profile read, counted by valgrind's callgrind: a cost figure that, unlike
# requests/s, does not depend on what else the machine is doing (the same binary and
# inputs give the same count). Use it to compare builds.
#
#   bench/callgrind_reads.sh [BINARY]      (default build/profiled)
#
# Builds (once, reused) a store of BENCH_CG_USERS users through the ingestion API, starts
# the binary under callgrind with instrumentation off, reads every user once in order
# (warming the caches), then counts the instructions of BENCH_CG_N random reads over 8
# connections. Prints Ir/request and keeps the callgrind output for callgrind_annotate.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$(readlink -f "${1:-$ROOT/build/profiled}")
USERS=${BENCH_CG_USERS:-50000}
N=${BENCH_CG_N:-20000}
RESULTS=$ROOT/bench/results
STORE=$RESULTS/store-$USERS-v1
mkdir -p "$RESULTS"
TMP=$(mktemp -d /tmp/profiled-cg.XXXXXX)
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

cat >"$TMP/c.toml" <<TOML
[server]
threads = 1
[storage]
durability = "buffered"
[[projects]]
id = "bench"
api_key = "bench-key"
secret_key = "bench-secret"
TOML

# start CMD... : runs the server, waits for its port, sets SERVER_PID and PORT.
start() {
  "$@" serve --config "$TMP/c.toml" --listen 127.0.0.1:0 --data-dir "$STORE" 2>"$TMP/log" &
  SERVER_PID=$!
  for _ in $(seq 600); do
    PORT=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/log")
    [ -n "$PORT" ] && return 0
    sleep 0.1
  done
  cat "$TMP/log" >&2
  exit 1
}
stop() {
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID" || true
  SERVER_PID=""
}

if [ ! -f "$STORE.loaded.json" ]; then
  rm -rf "$STORE"
  start "$BIN"
  node "$ROOT/bench/load_users.mjs" --url "http://127.0.0.1:$PORT" --users "$USERS" >"$STORE.loaded.json"
  stop
fi

start valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$TMP/cg.out" "$BIN"
URL="http://127.0.0.1:$PORT"
node "$ROOT/bench/read_requests.mjs" --url "$URL" --users "$USERS" --n "$USERS" --seq 1 >/dev/null
callgrind_control -i on "$SERVER_PID" >/dev/null
node "$ROOT/bench/read_requests.mjs" --url "$URL" --users "$USERS" --n "$N" >/dev/null
callgrind_control -i off "$SERVER_PID" >/dev/null
stop
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
cp "$TMP/cg.out" "$RESULTS/callgrind-reads-$STAMP.out"
TOTAL=$(callgrind_annotate "$TMP/cg.out" 2>/dev/null | sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d ,)
echo "callgrind: $N reads of $USERS users: $TOTAL instructions, $((TOTAL / N)) per read" \
     "(binary $(sha256sum "$BIN" | cut -c1-12), output bench/results/callgrind-reads-$STAMP.out)"
