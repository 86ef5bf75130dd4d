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
#
# Knobs: BENCH_CG_USERS=50000, BENCH_CG_N=20000; BENCH_CG_LOAD_EVENTS=5 tracked events per
# user in the store (bench/load_users.mjs --events); BENCH_CG_DEFINITIONS=FILE defines the
# project's computations and cohorts (the `definitions` config key, e.g.
# bench/definitions.json), in a store of its own, so reads also evaluate them. A file with
# recommendations (e.g. bench/recs_definitions.json) has the server train them at start-up;
# the count starts once they are trained (the log says so), and the reads do not ask for
# them (no get_recs): what a defined recommendation costs the other reads.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$(readlink -f "${1:-$ROOT/build/profiled}")
USERS=${BENCH_CG_USERS:-50000}
N=${BENCH_CG_N:-20000}
RESULTS=$ROOT/bench/results
LOAD_EVENTS=${BENCH_CG_LOAD_EVENTS:-5}
DEFINITIONS=${BENCH_CG_DEFINITIONS:-}
# a store per definitions file (bench/definitions.json keeps its historical "-defs" name)
DEFS_TAG=""
if [ -n "$DEFINITIONS" ]; then
  DEFS_TAG=-$(basename "$DEFINITIONS" .json)
  [ "$DEFS_TAG" = -definitions ] && DEFS_TAG=-defs
fi
STORE=$RESULTS/store-$USERS-e$LOAD_EVENTS$DEFS_TAG-v2
mkdir -p "$RESULTS"
# shellcheck source=bench/server.sh
. "$ROOT/bench/server.sh"
bench_setup profiled-cg buffered
if [ -n "$DEFINITIONS" ]; then
  echo "definitions = \"$(readlink -f "$DEFINITIONS")\"" >>"$TMP/c.toml"
fi

if [ ! -f "$STORE.loaded.json" ]; then
  rm -rf "$STORE"
  bench_start "$STORE" "$BIN"
  node "$ROOT/bench/load_users.mjs" --url "http://127.0.0.1:$PORT" --users "$USERS" \
    --events "$LOAD_EVENTS" >"$STORE.loaded.json"
  bench_stop
fi

bench_start "$STORE" valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$TMP/cg.out" "$BIN"
URL="http://127.0.0.1:$PORT"
if [ -n "$DEFINITIONS" ] && grep -q '"recommendations"' "$DEFINITIONS"; then
  for _ in $(seq 1800); do # the start-up training, under valgrind: minutes
    grep -q 'recommendations: project .*: \(trained\|training .* failed\)' "$TMP/log" && break
    sleep 1
  done
  grep 'recommendations: project' "$TMP/log" | tail -1 >&2
fi
node "$ROOT/bench/read_requests.mjs" --url "$URL" --users "$USERS" --n "$USERS" --seq 1 >/dev/null
callgrind_control -i on "$SERVER_PID" >/dev/null
node "$ROOT/bench/read_requests.mjs" --url "$URL" --users "$USERS" --n "$N" >/dev/null
callgrind_control -i off "$SERVER_PID" >/dev/null
bench_stop
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
cp "$TMP/cg.out" "$RESULTS/callgrind-reads-$STAMP.out"
TOTAL=$(callgrind_annotate "$TMP/cg.out" 2>/dev/null | sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d ,)
echo "callgrind: $N reads of $USERS users ($LOAD_EVENTS events each${DEFINITIONS:+; definitions $DEFINITIONS}): $TOTAL instructions, $((TOTAL / N)) per read" \
     "(binary $(sha256sum "$BIN" | cut -c1-12), output bench/results/callgrind-reads-$STAMP.out)"
