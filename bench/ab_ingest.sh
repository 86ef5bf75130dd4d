#!/usr/bin/env bash
# Ingestion throughput of two (or three) builds, interleaved: on a shared machine whose speed
# drifts over minutes, alternating short runs compares builds better than two long
# invocations.
#
#   bench/ab_ingest.sh BINARY_A BINARY_B [ROUNDS]      (default 4 rounds)
#
# Each round runs A, then B (then C): a fresh store, durability "fsync", the read
# benchmark's cache sizes, the server pinned to BENCH_SERVER_CPU (0) and bench/ingest.mjs
# (32 connections, 100-event bodies, 3 s warm-up, BENCH_AB_SECONDS=12 measured) to
# BENCH_CLIENT_CPU (1). Prints each round with its ratios B/A (and C/A), and the median of
# those ratios: each ratio compares runs a few seconds apart, so it cancels the machine's
# drift better than the medians do.
#
# Knobs (environment):
#   BENCH_AB_C=BINARY        a third variant C, run after B in every round
#   BENCH_AB_USERS=0         0: every body holds 10 new users x 10 events (part 1's
#                            workload). N > 0: the issue's server-side SDK workload: each
#                            run starts from a copy of a store of N users loaded by
#                            bench/load_users.mjs (built once per variant, by that variant's
#                            binary), and every event of a body belongs to a different one
#                            of them (bench/ingest.mjs --existing-users N)
#   BENCH_AB_LOAD_EVENTS=2   tracked events per pre-loaded user (with BENCH_AB_USERS)
#   BENCH_AB_LOAD_PROPS=0    user properties each pre-loaded user gets from its $identify
#                            (0: none; the bench's events then set plan, country, visits,
#                            as in part 1's workload; 20: the read benchmark's profiles)
#   BENCH_AB_DEFS_A / _B / _C=FILE   a definitions file for that variant's project (the
#                            `definitions` config key; "" = none; a part 1 binary takes none)
#   BENCH_AB_SECONDS=12      measured seconds per run
#   BENCH_AB_PERF=X          perf record -g the server of variant X (A, B or C) during its
#                            measured window in round 1; the report goes to bench/results/
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
declare -A BIN DEFS TEMPLATE
BIN[A]=$(readlink -f "$1")
BIN[B]=$(readlink -f "$2")
VARIANTS="A B"
if [ -n "${BENCH_AB_C:-}" ]; then
  BIN[C]=$(readlink -f "$BENCH_AB_C")
  VARIANTS="A B C"
fi
ROUNDS=${3:-4}
SECONDS_PER_RUN=${BENCH_AB_SECONDS:-12}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
CLIENT_CPU=${BENCH_CLIENT_CPU:-1}
USERS=${BENCH_AB_USERS:-0}
LOAD_EVENTS=${BENCH_AB_LOAD_EVENTS:-2}
PERF=${BENCH_AB_PERF:-}
RESULTS=$ROOT/bench/results
mkdir -p "$RESULTS"
for v in A B C; do
  d=BENCH_AB_DEFS_$v
  DEFS[$v]=${!d:-}
  [ -n "${DEFS[$v]}" ] && DEFS[$v]=$(readlink -f "${DEFS[$v]}")
done
# shellcheck source=bench/server.sh
. "$ROOT/bench/server.sh"
bench_setup profiled-ab fsync "block_cache_mb = 2048
row_cache_mb = 1536"

config_of() { # VARIANT -> path of its config: the common one, plus its definitions file
  local v=$1
  if [ -z "${DEFS[$v]}" ]; then
    echo "$TMP/c.toml"
    return
  fi
  [ -f "$TMP/c-$v.toml" ] || { cat "$TMP/c.toml"; echo "definitions = \"${DEFS[$v]}\""; } >"$TMP/c-$v.toml"
  echo "$TMP/c-$v.toml"
}

# build_template VARIANT: the pre-loaded store of BENCH_AB_USERS users, by its own binary
build_template() {
  local v=$1
  TEMPLATE[$v]=$TMP/template-$v
  BENCH_CONFIG=$(config_of "$v") bench_start "${TEMPLATE[$v]}" "${BIN[$v]}"
  node "$ROOT/bench/load_users.mjs" --url "http://127.0.0.1:$PORT" --users "$USERS" \
    --events "$LOAD_EVENTS" --properties "${BENCH_AB_LOAD_PROPS:-0}" >"$TMP/load-$v.json"
  bench_stop
  echo "template $v: $(cat "$TMP/load-$v.json"), $(du -sm "${TEMPLATE[$v]}" | cut -f1) MB" >&2
}

# run VARIANT ROUND -> prints events/s; the CPU use of the server and of the rest of the
# machine (% of one core) go to $TMP/cpu-VARIANT
run() {
  local v=$1 round=$2 perf_pid="" stamp
  rm -rf "$TMP/data"
  if [ "$USERS" -gt 0 ]; then cp -r "${TEMPLATE[$v]}" "$TMP/data"; fi
  BENCH_CONFIG=$(config_of "$v") bench_start "$TMP/data" taskset -c "$SERVER_CPU" "${BIN[$v]}"
  if [ "$PERF" = "$v" ] && [ "$round" = 1 ]; then
    stamp=$(date -u +%Y%m%dT%H%M%SZ)
    (sleep 3 && exec perf record -F 999 -g -p "$SERVER_PID" -o "$RESULTS/perf-ingest-$v-$stamp.data" \
      -- sleep "$SECONDS_PER_RUN") >/dev/null 2>"$TMP/perf.log" &
    perf_pid=$!
  fi
  taskset -c "$CLIENT_CPU" node "$ROOT/bench/ingest.mjs" --url "http://127.0.0.1:$PORT" \
    --api-key bench-key --conns 32 --batch 100 --users-per-batch 10 --warmup 3 \
    --existing-users "$USERS" --duration "$SECONDS_PER_RUN" --server-pid "$SERVER_PID" >"$TMP/out"
  sed -n 's/.*"events_per_s":\([0-9]*\).*/\1/p' "$TMP/out"
  echo "$(sed -n 's/.*"server_cpu_pct":\([0-9.]*\).*/\1/p' "$TMP/out")/$(sed -n 's/.*"others_cpu_pct":\([0-9.]*\).*/\1/p' "$TMP/out")" >"$TMP/cpu-$v"
  if [ -n "$perf_pid" ]; then
    wait "$perf_pid" || true
    perf report -i "$RESULTS/perf-ingest-$v-$stamp.data" --no-children --sort dso,symbol --stdio \
      -g none --percent-limit 0.5 2>/dev/null | grep -v '^#' | grep -v '^$' >"$RESULTS/perf-ingest-$v-$stamp.txt" || true
    echo "perf of $v: bench/results/perf-ingest-$v-$stamp.{data,txt}" >&2
  fi
  bench_stop
}

if [ "$USERS" -gt 0 ]; then
  for v in $VARIANTS; do build_template "$v"; done
fi

declare -A runs ratios
for ((r = 1; r <= ROUNDS; r++)); do
  line="round $r:"
  declare -A got
  for v in $VARIANTS; do
    got[$v]=$(run "$v" "$r")
    runs[$v]="${runs[$v]:-} ${got[$v]}"
    line="$line $v ${got[$v]} (cpu $(cat "$TMP/cpu-$v"))"
  done
  for v in $VARIANTS; do
    [ "$v" = A ] && continue
    ratio=$(awk -v a="${got[A]}" -v b="${got[$v]}" 'BEGIN {printf "%.3f", b/a}')
    ratios[$v]="${ratios[$v]:-} $ratio"
    line="$line, $v/A $ratio"
  done
  echo "$line events/s"
done
echo "(cpu S/O: % of one core used by the server / by everything else on the machine, over the measured window)"
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
summary="median events/s:"
for v in $VARIANTS; do
  # shellcheck disable=SC2086
  summary="$summary $v $(median ${runs[$v]})"
done
for v in $VARIANTS; do
  [ "$v" = A ] && continue
  # shellcheck disable=SC2086
  summary="$summary; median of the rounds' $v/A = $(median ${ratios[$v]})"
done
echo "$summary"
for v in $VARIANTS; do
  echo "  $v: $(sha256sum "${BIN[$v]}" | cut -c1-12) ${BIN[$v]}${DEFS[$v]:+ with definitions ${DEFS[$v]}}"
done
echo "  workload: $([ "$USERS" -gt 0 ] && echo "every event of a body a different one of $USERS pre-loaded users ($LOAD_EVENTS events and ${BENCH_AB_LOAD_PROPS:-0} properties each at load)" || echo "10 new users x 10 events per body"), 32 connections, 100-event bodies, durability fsync, ${SECONDS_PER_RUN} s per run"
