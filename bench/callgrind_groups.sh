#!/usr/bin/env bash
# Instructions per $groupidentify that changes a large group, counted by valgrind's callgrind
# (a cost figure that does not depend on what else the machine is doing; use it to compare
# builds): the writer's cost of editing a group of about 0.8 MiB of properties, batch after
# batch (bench/group_requests.mjs).
#
#   bench/callgrind_groups.sh [BINARY]      (default build/profiled)
#
# Knobs: BENCH_CG_REQUESTS=200 bodies of one event, BENCH_CG_CONNECTIONS=4 (several batches
# share a commit group), BENCH_CG_PROPS=900 properties of 900 characters in the group.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$(readlink -f "${1:-$ROOT/build/profiled}")
REQUESTS=${BENCH_CG_REQUESTS:-200}
CONNECTIONS=${BENCH_CG_CONNECTIONS:-4}
PROPS=${BENCH_CG_PROPS:-900}
# shellcheck source=bench/server.sh
. "$ROOT/bench/server.sh"
bench_setup profiled-cgg fsync
bench_start "$TMP/data" valgrind --tool=callgrind --instr-atstart=no \
  --callgrind-out-file="$TMP/cg.out" "$BIN"
URL="http://127.0.0.1:$PORT"
node "$ROOT/bench/group_requests.mjs" --url "$URL" --phase setup --props "$PROPS" >/dev/null
node "$ROOT/bench/group_requests.mjs" --url "$URL" --requests 5 --connections 1 >/dev/null
callgrind_control -i on "$SERVER_PID" >/dev/null 2>&1
node "$ROOT/bench/group_requests.mjs" --url "$URL" --requests "$REQUESTS" \
  --connections "$CONNECTIONS" >"$TMP/sent.json"
callgrind_control -i off "$SERVER_PID" >/dev/null 2>&1
bench_stop
grep -q "\"ok\":$REQUESTS" "$TMP/sent.json" || { echo "not every body was accepted: $(cat "$TMP/sent.json")" >&2; exit 1; }
TOTAL=$(callgrind_annotate "$TMP/cg.out" 2>/dev/null | sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d ,)
echo "callgrind: $REQUESTS \$groupidentify bodies to one group of $PROPS properties of 900 characters," \
     "$CONNECTIONS connections: $TOTAL instructions, $((TOTAL / REQUESTS)) per body" \
     "(binary $(sha256sum "$BIN" | cut -c1-12))"
