#!/usr/bin/env bash
# Ingestion throughput of two builds, interleaved: on a shared machine whose speed drifts
# over minutes, alternating short runs compares builds better than two long invocations.
#
#   bench/ab_ingest.sh BINARY_A BINARY_B [ROUNDS]      (default 4 rounds)
#
# Each round runs A then B: a fresh store, durability "fsync", the read benchmark's cache
# sizes, the server pinned to BENCH_SERVER_CPU (0) and bench/ingest.mjs (32 connections,
# 100-event bodies, 3 s warm-up, BENCH_AB_SECONDS=12 measured) to BENCH_CLIENT_CPU (1).
# Prints each round with its ratio B/A, and the median of those ratios: each ratio compares
# runs a few seconds apart, so it cancels the machine's drift better than the medians do.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
A=$(readlink -f "$1")
B=$(readlink -f "$2")
ROUNDS=${3:-4}
SECONDS_PER_RUN=${BENCH_AB_SECONDS:-12}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
CLIENT_CPU=${BENCH_CLIENT_CPU:-1}
# shellcheck source=bench/server.sh
. "$ROOT/bench/server.sh"
bench_setup profiled-ab fsync "block_cache_mb = 2048
row_cache_mb = 1536"

# run BINARY -> prints events/s
run() {
  rm -rf "$TMP/data"
  bench_start "$TMP/data" taskset -c "$SERVER_CPU" "$1"
  taskset -c "$CLIENT_CPU" node "$ROOT/bench/ingest.mjs" --url "http://127.0.0.1:$PORT" \
    --api-key bench-key --conns 32 --batch 100 --users-per-batch 10 --warmup 3 \
    --duration "$SECONDS_PER_RUN" | sed -n 's/.*"events_per_s":\([0-9]*\).*/\1/p'
  bench_stop
}

a_runs=()
b_runs=()
ratios=()
for ((r = 1; r <= ROUNDS; r++)); do
  a=$(run "$A")
  b=$(run "$B")
  ratio=$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.3f", b/a}')
  echo "round $r: A $a events/s, B $b events/s, B/A $ratio"
  a_runs+=("$a")
  b_runs+=("$b")
  ratios+=("$ratio")
done
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
ma=$(median "${a_runs[@]}")
mb=$(median "${b_runs[@]}")
echo "median: A $ma, B $mb events/s; median of the rounds' B/A = $(median "${ratios[@]}")" \
     "(A $(sha256sum "$A" | cut -c1-12), B $(sha256sum "$B" | cut -c1-12))"
