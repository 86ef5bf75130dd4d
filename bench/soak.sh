#!/usr/bin/env bash
# Soak: mixed profile reads and ingestion, with definitions and a recommendation model, at a
# share of the capacity measured at the start of the same run, for a set time; reports
# throughput, latency, errors and the server's RSS over time (docs/BENCHMARKS.md, "Soak").
# Asserts nothing; it prints figures and keeps them in bench/results/.
#
#   bench/soak.sh
#
# What runs: one profiled (release build, durability fsync, default threads) on a fresh data
# dir with one project holding the 20 computations and 20 cohorts of bench/definitions.json
# and the ease recommendation of bench/recs_definitions.json, retrained every
# SOAK_RETRAIN_MINUTES while the soak runs. bench/load_users.mjs first loads SOAK_USERS
# users with SOAK_LOAD_EVENTS events each; the server trains the model; then
# bench/soak.mjs measures the capacity of the mix (closed loop) and runs it at
# SOAK_LOAD x that capacity (open loop) for SOAK_SECONDS, sampling every SOAK_INTERVAL s.
#
# Knobs (environment):
#   SOAK_SECONDS=600  SOAK_LOAD=0.7  SOAK_INTERVAL=10  SOAK_CAPACITY_SECONDS=90
#   SOAK_USERS=100000  SOAK_LOAD_EVENTS=5  SOAK_RETRAIN_MINUTES=2
#   SOAK_READ_SHARE=0.8  SOAK_REC_SHARE=0.25  SOAK_BATCH=10  SOAK_CONNS=16
#   PROFILED_BIN=build/profiled  BENCH_TMP=/tmp
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$(readlink -f "${PROFILED_BIN:-$ROOT/build/profiled}")
SECONDS_=${SOAK_SECONDS:-600}
LOAD=${SOAK_LOAD:-0.7}
INTERVAL=${SOAK_INTERVAL:-10}
CAPACITY_SECONDS=${SOAK_CAPACITY_SECONDS:-90}
USERS=${SOAK_USERS:-100000}
LOAD_EVENTS=${SOAK_LOAD_EVENTS:-5}
RETRAIN=${SOAK_RETRAIN_MINUTES:-2}
RESULTS=$ROOT/bench/results
mkdir -p "$RESULTS"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$RESULTS/soak-$STAMP.jsonl

# shellcheck source=bench/server.sh
source "$ROOT/bench/server.sh"
bench_setup soak fsync
node -e '
  const fs = require("fs");
  const defs = JSON.parse(fs.readFileSync(process.argv[1]));
  const recs = JSON.parse(fs.readFileSync(process.argv[2])).recommendations;
  recs[0].retrain_every_minutes = Number(process.argv[3]);
  defs.recommendations = recs;
  fs.writeFileSync(process.argv[4], JSON.stringify(defs));
' "$ROOT/bench/definitions.json" "$ROOT/bench/recs_definitions.json" "$RETRAIN" "$TMP/definitions.json"
cat >"$TMP/soak.toml" <<TOML
admin_token = "soak-admin"
[storage]
durability = "fsync"
[[projects]]
id = "soak"
api_key = "soak-key"
secret_key = "soak-secret"
definitions = "$TMP/definitions.json"
TOML
BENCH_CONFIG=$TMP/soak.toml bench_start "$TMP/data" "$BIN"
URL=http://127.0.0.1:$PORT
echo "soak: profiled pid $SERVER_PID on $URL; loading $USERS users" >&2
node "$ROOT/bench/load_users.mjs" --url "$URL" --api-key soak-key --users "$USERS" \
  --events "$LOAD_EVENTS" >"$TMP/load.json"

# The model trained at start-up on an empty store; `profiled train` trains it again on what
# was loaded and waits for it. The soak then retrains it every SOAK_RETRAIN_MINUTES.
"$BIN" train --config "$TMP/soak.toml" --project soak --rec r1 --server "127.0.0.1:$PORT" \
  --timeout 600 >"$TMP/train.json" 2>/dev/null
echo "soak: trained $(cat "$TMP/train.json")" >&2

echo "soak: capacity for ${CAPACITY_SECONDS}s, then ${SECONDS_}s at ${LOAD}x" >&2
node "$ROOT/bench/soak.mjs" --url "$URL" --users "$USERS" --server-pid "$SERVER_PID" \
  --data-dir "$TMP/data" --duration "$SECONDS_" --load "$LOAD" --interval "$INTERVAL" \
  --capacity-seconds "$CAPACITY_SECONDS" --read-share "${SOAK_READ_SHARE:-0.8}" \
  --rec-share "${SOAK_REC_SHARE:-0.25}" --batch "${SOAK_BATCH:-10}" --conns "${SOAK_CONNS:-16}" | tee "$OUT"
{
  echo "{\"run\":{\"date\":\"$STAMP\",\"users\":$USERS,\"load_events\":$LOAD_EVENTS,\"retrain_minutes\":$RETRAIN,\"load\":$(cat "$TMP/load.json")}}"
} >>"$OUT"
curl -sf -H "Authorization: Bearer soak-admin" "$URL/admin/v1/projects/soak/recommendations/r1" >"$TMP/rec.json" || true
echo "{\"recommendation_after\":$(cat "$TMP/rec.json" || echo null)}" >>"$OUT"
bench_stop
cp "$TMP/log" "$RESULTS/soak-$STAMP.log"
echo "soak: results in $OUT, the server's log in $RESULTS/soak-$STAMP.log" >&2
