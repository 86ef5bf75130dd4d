#!/usr/bin/env bash
# Backfill rate: how fast a new definition is computed over the retained event log.
#
#   bench/backfill.sh [BINARY]      (default build/profiled)
#
# Builds (once, reused) a store whose event log holds BENCH_BF_USERS users x
# (1 + BENCH_BF_EVENTS) logged events (bench/load_users.mjs: an $identify, which backfills
# skip as untracked, then tracked events of five types with past `time` values), then, with
# the server idle, PUTs one definition at a time through the admin API and polls its GET
# until "status" is "ready". For each it prints the events scanned (the definition's
# `events_scanned`, the whole project's log), the seconds from the PUT to "ready", the rate,
# and the time 10 million events would take at that rate (a linear extrapolation: a backfill
# is one ordered scan of the log plus one user state per event, read through the writer's
# cache; see docs/BENCHMARKS.md for what that leaves out).
#
# Knobs: BENCH_BF_USERS=200000, BENCH_BF_EVENTS=9 (tracked events per user),
# BENCH_SERVER_CPU=0 (the server is pinned there), BENCH_BF_POLL=0.2 s between GETs.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$(readlink -f "${1:-$ROOT/build/profiled}")
USERS=${BENCH_BF_USERS:-200000}
EVENTS=${BENCH_BF_EVENTS:-9}
POLL=${BENCH_BF_POLL:-0.2}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
RESULTS=$ROOT/bench/results
STORE=$RESULTS/store-backfill-$USERS-e$EVENTS-v2
mkdir -p "$RESULTS"
# shellcheck source=bench/server.sh
. "$ROOT/bench/server.sh"
bench_setup profiled-bf buffered "block_cache_mb = 2048
row_cache_mb = 1536"
# the admin token is a top-level key: put it before the first table
sed -i '1i admin_token = "bench-admin"' "$TMP/c.toml"

if [ ! -f "$STORE.loaded.json" ]; then
  rm -rf "$STORE"
  bench_start "$STORE" "$BIN"
  node "$ROOT/bench/load_users.mjs" --url "http://127.0.0.1:$PORT" --users "$USERS" \
    --events "$EVENTS" --properties 3 >"$STORE.loaded.json"
  bench_stop
fi
DATA=$TMP/data
cp -r "$STORE" "$DATA"
bench_start "$DATA" taskset -c "$SERVER_CPU" "$BIN"
URL="http://127.0.0.1:$PORT/admin/v1/projects/bench"
AUTH="Authorization: Bearer bench-admin"

# backfill KIND ID JSON: PUT, then poll until ready; prints one result line
backfill() {
  local kind=$1 id=$2 body=$3 t0 t1 got status scanned
  t0=$(date +%s.%N)
  curl -sf -X PUT -H "$AUTH" -H 'Content-Type: application/json' --data "$body" "$URL/$kind/$id" >/dev/null
  for (( ; ; )); do
    got=$(curl -sf -H "$AUTH" "$URL/$kind/$id")
    status=$(sed -n 's/.*"status":"\([a-z]*\)".*/\1/p' <<<"$got")
    [ "$status" = ready ] && break
    sleep "$POLL"
  done
  t1=$(date +%s.%N)
  scanned=$(curl -sf "http://127.0.0.1:$PORT/metrics" | sed -n 's/^profiled_backfill_events_scanned_total \([0-9]*\).*/\1/p')
  awk -v id="$kind/$id" -v s="$t0" -v e="$t1" -v n="$scanned" -v prev="${SCANNED:-0}" 'BEGIN {
    d = e - s; k = n - prev
    printf "%s: %d events scanned in %.2f s = %.0f events/s; 10,000,000 events at that rate: %.0f s (%.1f min)\n",
      id, k, d, k / d, 1e7 / (k / d), 1e7 / (k / d) / 60 }'
  SCANNED=$scanned
}

echo "store: $(cat "$STORE.loaded.json")"
backfill computations 101 '{"id":101,"name":"book_purchases","type":"count","event_type":"purchase","property":null,"where":[{"prop":"category","op":"is","values":["books"]}],"window_days":90}'
backfill computations 102 '{"id":102,"name":"spend_any_event","type":"sum","event_type":"_active","property":"price","where":[]}'
bench_stop
echo "binary $(sha256sum "$BIN" | cut -c1-12); server pinned to CPU $SERVER_CPU, idle but for the backfill"
