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
# shellcheck source=bench/server.sh
. "$ROOT/bench/server.sh"
bench_setup profiled-cgi fsync
bench_start "$TMP/data" valgrind --tool=callgrind --instr-atstart=no \
  --callgrind-out-file="$TMP/cg.out" "$BIN"
URL="http://127.0.0.1:$PORT"
node "$ROOT/bench/ingest_requests.mjs" --url "$URL" --bodies 20 --offset 1000000 >/dev/null
callgrind_control -i on "$SERVER_PID" >/dev/null
node "$ROOT/bench/ingest_requests.mjs" --url "$URL" --bodies "$BODIES" >"$TMP/sent.json"
callgrind_control -i off "$SERVER_PID" >/dev/null
bench_stop
grep -q "\"ok\":$BODIES" "$TMP/sent.json" || { echo "not every body was accepted: $(cat "$TMP/sent.json")" >&2; exit 1; }
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
cp "$TMP/cg.out" "$RESULTS/callgrind-ingest-$STAMP.out"
TOTAL=$(callgrind_annotate "$TMP/cg.out" 2>/dev/null | sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d ,)
EVENTS=$((BODIES * 100))
echo "callgrind: $EVENTS events in $BODIES bodies: $TOTAL instructions, $((TOTAL / EVENTS)) per event" \
     "(binary $(sha256sum "$BIN" | cut -c1-12), output bench/results/callgrind-ingest-$STAMP.out)"
