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
#
# Knobs: BENCH_CG_BODIES=100; BENCH_CG_USERS=0, or N > 0 for the issue's workload: the
# store first gets N users (bench/load_users.mjs --events BENCH_CG_LOAD_EVENTS=2, not
# counted; BENCH_CG_LOAD_PROPS=0 user properties each, as bench/ab_ingest.sh) and every
# event of a body is a different one of them; BENCH_CG_DEFINITIONS=FILE
# defines the project's computations and cohorts (the `definitions` config key);
# BENCH_CG_WARM_BODIES=20 bodies sent before counting (with BENCH_CG_USERS, to other users
# than the counted ones unless they are enough to cover every user: e.g. 1000 bodies for
# 100,000 users measure the steady state, where every user was seen before).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$(readlink -f "${1:-$ROOT/build/profiled}")
BODIES=${BENCH_CG_BODIES:-100}
RESULTS=$ROOT/bench/results
mkdir -p "$RESULTS"
# shellcheck source=bench/server.sh
. "$ROOT/bench/server.sh"
USERS=${BENCH_CG_USERS:-0}
DEFINITIONS=${BENCH_CG_DEFINITIONS:-}
bench_setup profiled-cgi fsync
if [ -n "$DEFINITIONS" ]; then
  echo "definitions = \"$(readlink -f "$DEFINITIONS")\"" >>"$TMP/c.toml"
fi
if [ "$USERS" -gt 0 ]; then
  bench_start "$TMP/data" "$BIN"
  node "$ROOT/bench/load_users.mjs" --url "http://127.0.0.1:$PORT" --users "$USERS" \
    --events "${BENCH_CG_LOAD_EVENTS:-2}" --properties "${BENCH_CG_LOAD_PROPS:-0}" >/dev/null
  bench_stop
fi
bench_start "$TMP/data" valgrind --tool=callgrind --instr-atstart=no \
  --callgrind-out-file="$TMP/cg.out" "$BIN"
URL="http://127.0.0.1:$PORT"
WARM=${BENCH_CG_WARM_BODIES:-20}
# warm-up bodies: other users than the measured ones (the last of the store, or new ones),
# or all of them
OFFSET=1000000
[ "$USERS" -gt 0 ] && OFFSET=$((WARM >= USERS / 100 ? 0 : USERS / 100 - WARM))
node "$ROOT/bench/ingest_requests.mjs" --url "$URL" --bodies "$WARM" --offset "$OFFSET" \
  --existing-users "$USERS" >/dev/null
callgrind_control -i on "$SERVER_PID" >/dev/null
node "$ROOT/bench/ingest_requests.mjs" --url "$URL" --bodies "$BODIES" --existing-users "$USERS" >"$TMP/sent.json"
callgrind_control -i off "$SERVER_PID" >/dev/null
bench_stop
grep -q "\"ok\":$BODIES" "$TMP/sent.json" || { echo "not every body was accepted: $(cat "$TMP/sent.json")" >&2; exit 1; }
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
cp "$TMP/cg.out" "$RESULTS/callgrind-ingest-$STAMP.out"
TOTAL=$(callgrind_annotate "$TMP/cg.out" 2>/dev/null | sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d ,)
EVENTS=$((BODIES * 100))
WHAT="10 new users per body"
[ "$USERS" -gt 0 ] && WHAT="every event a different one of $USERS pre-loaded users with ${BENCH_CG_LOAD_PROPS:-0} properties, after $WARM warm-up bodies"
echo "callgrind: $EVENTS events in $BODIES bodies ($WHAT${DEFINITIONS:+, definitions $DEFINITIONS}): $TOTAL instructions, $((TOTAL / EVENTS)) per event" \
     "(binary $(sha256sum "$BIN" | cut -c1-12), output bench/results/callgrind-ingest-$STAMP.out)"
