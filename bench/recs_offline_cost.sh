#!/usr/bin/env bash
# What the offline figures (docs/RECS.md, "Offline figures") cost a training in the server:
#   bench/recs_offline_cost.sh BINARY LABEL RATINGS.csv
# starts BINARY on a fresh data dir, loads ml-latest-small's ratings.csv with
# `profiled import-ratings` (times rescaled, in order, into the last 360 days, so a 365-day
# window holds all of it), defines `ease` (λ 300, window 365 days) over the admin API, waits
# for the training on definition, then runs `profiled train` 3 times; prints each training
# (duration_seconds is the serving model's), then the server's log lines of the offline
# measurements (binaries that have them) and the last `offline` figures. Run it with the
# binaries to compare in turn. Needs curl and awk; the data set is never committed.
set -euo pipefail
BIN=$1
LABEL=$2
RATINGS=$3
W=$(mktemp -d /tmp/recs-offline-cost-XXXXXX)
trap 'kill "${PID:-0}" 2>/dev/null || true; rm -rf "$W"' EXIT
awk -F, -v OFS=, -v span=$(((365 - 5) * 86400)) '{ sub(/\r$/, "") }
  NR == FNR { if (FNR > 1) { t = $4 + 0; if (lo == "" || t < lo) lo = t; if (t > hi) hi = t }; next }
  FNR == 1 { print; next } { $4 = hi - int((hi - ($4 + 0)) * span / (hi - lo)); print }' \
  "$RATINGS" "$RATINGS" >"$W/ratings.csv"
cat >"$W/c.toml" <<T
admin_token = "adm"
[server]
listen = "127.0.0.1:0"
[storage]
path = "$W/data"
event_retention_days = 400
[[projects]]
id = "ml"
api_key = "mlkey"
secret_key = "mlsecret"
T
: >"$W/log"
"$BIN" serve --config "$W/c.toml" --listen 127.0.0.1:0 2>"$W/log" &
PID=$!
PORT=""
for _ in $(seq 100); do
  PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$W/log" | head -1)
  [ -n "$PORT" ] && break
  sleep 0.1
done
[ -n "$PORT" ] || { cat "$W/log" >&2; exit 1; }
URL=http://127.0.0.1:$PORT/admin/v1/projects/ml/recommendations/ease
"$BIN" import-ratings --config "$W/c.toml" --project ml --ratings "$W/ratings.csv" \
  --format movielens-csv --server "127.0.0.1:$PORT" 2>"$W/import.log"
curl -sS -X PUT -H "Authorization: Bearer adm" "$URL" -o /dev/null --data \
  '{"title":"t","model":"ease","item_event":"Movie Rated","item_property":"movie_id","history_window_days":365,"candidates":{"top_n":1000},"exclude_items":[],"exclude_seen":true,"max_items":10,"control_percentage":0,"retrain_every_minutes":0,"params":{"lambda":300}}'
body=""
for _ in $(seq 600); do
  body=$(curl -s -H "Authorization: Bearer adm" "$URL")
  grep -q '"status":"ready","last' <<<"$body" && break
  sleep 0.5
done
echo "$LABEL on definition: ${body#*\"training\":}"
for i in 1 2 3; do
  t0=$(date +%s.%N)
  out=$("$BIN" train --config "$W/c.toml" --project ml --rec ease --server "127.0.0.1:$PORT" 2>/dev/null)
  t1=$(date +%s.%N)
  echo "$LABEL profiled train $i: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s wall clock: $out"
done
sleep 8 # the last measurement
grep -o "offline figures.*" "$W/log" | sed "s/^/$LABEL log: /" || true
curl -s -H "Authorization: Bearer adm" "$URL" | grep -o '"offline":[^}]*}' || true
