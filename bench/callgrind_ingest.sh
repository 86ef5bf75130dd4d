#!/usr/bin/env bash
# Instructions per ingested event, counted by valgrind's callgrind: like
# bench/callgrind_reads.sh, a cost figure that does not depend on what else the machine is
# doing. Use it to compare builds.
#
#   bench/callgrind_ingest.sh [BINARY]      (default build/profiled)
#
# Starts the binary under callgrind (instrumentation off) on a fresh store with
# durability "fsync", warms it with 20 bodies, then counts the instructions of
# BENCH_CG_BODIES bodies of 100 events (bench/ingest_requests.mjs: 10 new users per body,
# 4 connections). Prints Ir/event and keeps the output for callgrind_annotate.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$(readlink -f "${1:-$ROOT/build/profiled}")
BODIES=${BENCH_CG_BODIES:-100}
RESULTS=$ROOT/bench/results
mkdir -p "$RESULTS"
TMP=$(mktemp -d /tmp/profiled-cgi.XXXXXX)
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
durability = "fsync"
[[projects]]
id = "bench"
api_key = "bench-key"
secret_key = "bench-secret"
TOML

valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$TMP/cg.out" "$BIN" \
  serve --config "$TMP/c.toml" --listen 127.0.0.1:0 --data-dir "$TMP/data" 2>"$TMP/log" &
SERVER_PID=$!
PORT=""
for _ in $(seq 600); do
  PORT=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/log")
  [ -n "$PORT" ] && break
  sleep 0.1
done
[ -n "$PORT" ] || { cat "$TMP/log" >&2; exit 1; }
URL="http://127.0.0.1:$PORT"
node "$ROOT/bench/ingest_requests.mjs" --url "$URL" --bodies 20 --offset 1000000 >/dev/null
callgrind_control -i on "$SERVER_PID" >/dev/null
node "$ROOT/bench/ingest_requests.mjs" --url "$URL" --bodies "$BODIES" >"$TMP/sent.json"
callgrind_control -i off "$SERVER_PID" >/dev/null
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || true
SERVER_PID=""
grep -q "\"ok\":$BODIES" "$TMP/sent.json" || { echo "not every body was accepted: $(cat "$TMP/sent.json")" >&2; exit 1; }
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
cp "$TMP/cg.out" "$RESULTS/callgrind-ingest-$STAMP.out"
TOTAL=$(callgrind_annotate "$TMP/cg.out" 2>/dev/null | sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d ,)
EVENTS=$((BODIES * 100))
echo "callgrind: $EVENTS events in $BODIES bodies: $TOTAL instructions, $((TOTAL / EVENTS)) per event" \
     "(binary $(sha256sum "$BIN" | cut -c1-12), output bench/results/callgrind-ingest-$STAMP.out)"
