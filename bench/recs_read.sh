#!/usr/bin/env bash
# Recommendations in the server on MovieLens (issue 7): training time, and what a
# recommendation adds to the profile read. Prints figures; asserts nothing.
#
#   bench/recs_read.sh RATINGS_FILE        (ml-latest-small's ratings.csv)
#
# 1. Starts a private copy of build/profiled with a fresh data dir (one I/O thread, pinned
#    to BENCH_SERVER_CPU; project "ml"; storage.event_retention_days = RECS_RETENTION_DAYS,
#    which must cover the history window) and loads the file with `profiled import-ratings`
#    (ratings >= 4, default shifted times: the newest rating is now).
# 2. Defines the recommendation "ease" over the admin API (model ease, lambda RECS_LAMBDA,
#    item_event "Movie Rated", item_property movie_id, history_window_days RECS_WINDOW_DAYS,
#    candidates top_n RECS_TOP_N, exclude_seen true, max_items 10, retrain_every_minutes 0),
#    waits for its backfill and for the training the definition starts, then times
#    RECS_TRAIN_RUNS runs of `profiled train` (wall clock, and the server's duration_seconds).
# 3. Two sets of users to read, both with a history of >= 50 items:
#    - "hist50": clones of every user with >= 50 positive ratings in the window, each with
#      exactly that user's 50 newest (user ids 1000000 + the MovieLens id), loaded with
#      `profiled import-ratings` *after* the training, so the model is the one trained on the
#      file alone (retrain_every_minutes 0). This is the issue's "user with a 50-item
#      history";
#    - "real": those users themselves, with their whole history in the window (at most 200
#      items, the history cap; the report gives the distribution).
# 4. wrk (bench/recs_read.lua, one thread, pinned to BENCH_CLIENT_CPU) reads random users of a
#    set, interleaved, each round: without recommendations ("plain"), with
#    get_recs=true&rec_id=ease&limit=RECS_LIMIT ("recs"), for each set, then nginx serving
#    the bytes of one real "recs" response as a static file (bench/nginx.conf). Every read
#    with recommendations also appends an exposure event for the user through the ingest
#    writer, in the same process (and on the same pinned core): the runs count the exposures
#    recorded (profiled_events_ingested_total) and the server's CPU per thread.
#
# Time modes (RECS_TIME):
#   compressed (default): the file's times are first rescaled, in order, into the last
#       RECS_WINDOW_DAYS - 5 days (a temp copy of the file; the original is never changed), so
#       the model trains on the whole of ml-latest-small (48,580 positives, 609 users, 6,298
#       movies), as `profiled eval` does. MovieLens spans 1996-2018; a 365-day window over
#       shifted times holds only its last year;
#   shifted: the file as it is, with import-ratings' default shift: the window then holds the
#       last 365 days of the data set (3,371 positives of 59 users; 23 with >= 50).
#
# Needs build/profiled, wrk, nginx, node, curl, taskset. Results: a Markdown report
# bench/results/recs-read-<stamp>.md and one JSON line per run in bench/results/history.jsonl
# ("bench":"recs_read" and "recs_train"), summarised by
#   node bench/summarize.mjs recs_read [--stamp S]... bench/results/history.jsonl
#
# Knobs (environment):
#   RECS_TIME=compressed|shifted   RECS_WINDOW_DAYS=365   RECS_RETENTION_DAYS=400
#   RECS_LAMBDA=300  RECS_TOP_N=1000  RECS_LIMIT=10   RECS_TRAIN_RUNS=3
#   RECS_DURABILITY=fsync        the server's storage.durability (its default)
#   RECS_SETS="hist50 real"      user sets read   RECS_CONNS="1 8"   wrk connection counts
#   RECS_RUNS=5  RECS_SECONDS=10  RECS_WARMUP=5     rounds, seconds per wrk run, warm-up
#   RECS_NGINX=1                 0: no nginx reference
#   RECS_PAIRED=N                before the wrk runs, each round: N pairs of reads per set, plain
#                                and recs alternating on one connection, timed on the client
#                                (bench/paired_latency.mjs): the added latency at p50/p90/p99
#                                with the machine's noise shared by both variants
#   RECS_PAIRED_ONLY=1           only those (no wrk runs)
#   RECS_CALLGRIND=N             instead of wrk: the server runs under valgrind's callgrind
#                                (no training runs timed), and counts the instructions of N
#                                reads of each set, plain then recs (bench/read_requests.mjs,
#                                8 connections, after one warm-up read of every user of the
#                                set each way), every thread included (the exposures' ingestion
#                                too: each count ends once they are all ingested); outputs kept
#                                as bench/results/callgrind-recs-<stamp>-<variant>-<set>.out
#   BENCH_SERVER_CPU=0  BENCH_CLIENT_CPU=1   taskset pinning ("" = none)
#   BENCH_QUIET_WAIT=20  BENCH_QUIET_PCT=25  before each run, wait up to 20 s for the rest of
#                                the machine to use <= 25% of a core (then measure anyway)
#   BENCH_NICE=N                 servers and clients under `nice -n N` (e.g. -10 on a machine
#                                shared with builds; negative values need root)
#   BENCH_TMP=/tmp  PROFILED_BIN=build/profiled
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
RATINGS=${1:-}
[ -n "$RATINGS" ] && [ -f "$RATINGS" ] || {
  echo "usage: bench/recs_read.sh RATINGS_FILE (ml-latest-small/ratings.csv)" >&2
  exit 2
}
RATINGS=$(readlink -f "$RATINGS")
BIN_SRC=${PROFILED_BIN:-$ROOT/build/profiled}
RESULTS=$BENCH/results
TIME_MODE=${RECS_TIME:-compressed}
WINDOW=${RECS_WINDOW_DAYS:-365}
RETENTION=${RECS_RETENTION_DAYS:-400}
LAMBDA=${RECS_LAMBDA:-300}
TOP_N=${RECS_TOP_N:-1000}
LIMIT=${RECS_LIMIT:-10}
TRAIN_RUNS=${RECS_TRAIN_RUNS:-3}
DURABILITY=${RECS_DURABILITY:-fsync}
SETS=${RECS_SETS:-hist50 real}
CONNS=${RECS_CONNS:-1 8}
RUNS=${RECS_RUNS:-5}
SECONDS_PER_RUN=${RECS_SECONDS:-10}
WARMUP=${RECS_WARMUP:-5}
WITH_NGINX=${RECS_NGINX:-1}
CALLGRIND=${RECS_CALLGRIND:-}
PAIRED=${RECS_PAIRED:-}
PAIRED_ONLY=${RECS_PAIRED_ONLY:-0}
if [ -n "$CALLGRIND" ]; then
  command -v valgrind >/dev/null || { echo "bench: valgrind not found" >&2; exit 1; }
  TRAIN_RUNS=0 WITH_NGINX=0
fi
SERVER_CPU=${BENCH_SERVER_CPU-0}
CLIENT_CPU=${BENCH_CLIENT_CPU-1}
TMP_BASE=${BENCH_TMP:-/tmp}
NICE=${BENCH_NICE:-}
PROJECT=ml
API_KEY=ml-key
SECRET=ml-secret
ADMIN=bench-admin
REC=ease
CLONE_BASE=1000000
HISTORY_CAP=200 # compute/aggregate.h kMaxItems

case "$TIME_MODE" in compressed | shifted) ;; *) echo "RECS_TIME must be compressed or shifted" >&2; exit 2 ;; esac
for tool in node taskset curl wrk; do
  command -v "$tool" >/dev/null || { echo "bench: $tool not found" >&2; exit 1; }
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ "$WITH_NGINX" = 1 ] && [ ! -x "$NGINX" ]; then
  echo "bench: nginx not found (apt-get install nginx-light; or RECS_NGINX=0)" >&2
  exit 1
fi
[ -x "$BIN_SRC" ] || { echo "bench: $BIN_SRC not built" >&2; exit 1; }
if [ "$(nproc)" -lt 2 ]; then SERVER_CPU="" CLIENT_CPU=""; fi

mkdir -p "$RESULTS"
WORK=$(mktemp -d "$TMP_BASE/profiled-recs-read.XXXXXX")
chmod 755 "$WORK"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
REPORT=$RESULTS/recs-read-$STAMP.md
HISTORY=$RESULTS/history.jsonl
CLK_TCK=$(getconf CLK_TCK)
STARTED_PIDS=()

cleanup() {
  local pid
  for pid in "${STARTED_PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

BIN=$WORK/profiled # a private copy: a rebuild during the run changes nothing
for ((i = 0; i < 30; i++)); do
  cp "$BIN_SRC" "$BIN" && "$BIN" --help >/dev/null 2>&1 && break
  sleep 2
done
BIN_SHA=$(sha256sum "$BIN" | cut -c1-12)

log() { echo "bench: $*" >&2; }
say() { echo "$*" | tee -a "$REPORT"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
on_cpu() { # on_cpu CPU cmd...: run pinned to CPU, or unpinned when CPU is empty (niced with BENCH_NICE)
  local cpu=$1
  shift
  if [ -n "$NICE" ]; then set -- nice -n "$NICE" "$@"; fi
  if [ -n "$cpu" ]; then taskset -c "$cpu" "$@"; else "$@"; fi
}

pin_prefix() { # PIN=(taskset -c CPU) or (), for commands started with & whose $! must be theirs
  PIN=()
  if [ -n "$1" ]; then PIN=(taskset -c "$1"); fi
  if [ -n "$NICE" ]; then PIN+=(nice -n "$NICE"); fi # (both exec: $! stays the command's pid)
}
proc_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
thread_ticks() { # "tid ticks" per thread of a process
  local t
  for t in /proc/"$1"/task/*; do
    awk -v t="${t##*/}" '{ print t, $14 + $15 }' "$t/stat" 2>/dev/null || true
  done
}
children_seconds() {
  times >"$WORK/times"
  CHILD_S=$(awk 'NR == 2 { s = 0; for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); s += t[1] * 60 + t[2] } printf "%.3f", s }' "$WORK/times")
}
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $9 }' /proc/stat; }

measure_begin() { # PID
  M_LOAD=$(cut -d' ' -f1 /proc/loadavg)
  M_SERVER=$(proc_ticks "$1")
  thread_ticks "$1" >"$WORK/threads.before"
  children_seconds
  M_CLIENT=$CHILD_S
  read -r M_BUSY M_STEAL < <(machine_ticks)
  M_T=$(now)
}

# MEASURED: CPU in % of one core of the server (all threads; "threads": the busiest, the
# second, the rest), the client, everything else, steal; the 1-minute load at the start
measure_end() { # PID
  local t server client busy steal wall threads
  t=$(now)
  server=$(proc_ticks "$1")
  thread_ticks "$1" >"$WORK/threads.after"
  children_seconds
  client=$CHILD_S
  read -r busy steal < <(machine_ticks)
  wall=$(awk -v a="$M_T" -v b="$t" 'BEGIN { print b - a }')
  threads=$(awk -v hz="$CLK_TCK" -v wall="$wall" 'NR == FNR { b[$1] = $2; next }
    { d = $2 - b[$1]; if (d > 0) print d }' "$WORK/threads.before" "$WORK/threads.after" |
    sort -rn | awk -v hz="$CLK_TCK" -v wall="$wall" '{ v[NR] = $1 } END {
      r = 0; for (i = 3; i <= NR; i++) r += v[i]
      printf "[%.1f,%.1f,%.1f]", 100 * v[1] / hz / wall, 100 * v[2] / hz / wall, 100 * r / hz / wall }')
  MEASURED=$(awk -v hz="$CLK_TCK" -v wall="$wall" \
    -v s="$((server - M_SERVER))" -v c0="$M_CLIENT" -v c1="$client" -v b="$((busy - M_BUSY))" \
    -v st="$((steal - M_STEAL))" -v load="$M_LOAD" 'BEGIN {
      sv = s / hz; cl = c1 - c0; other = b / hz - sv - cl; if (other < 0) other = 0
      printf "\"server_cpu_pct\":%.1f,\"client_cpu_pct\":%.1f,\"others_cpu_pct\":%.1f,\"steal_pct\":%.1f,\"load1\":%s",
        100 * sv / wall, 100 * cl / wall, 100 * other / wall, 100 * st / hz / wall, load }')
  MEASURED="$MEASURED,\"server_threads_cpu_pct\":$threads"
}

wait_quiet() {
  local max=${BENCH_QUIET_WAIT:-20} limit=${BENCH_QUIET_PCT:-25} waited=0 b0 b1 s0 s1 pct
  [ "$max" -gt 0 ] || return 0
  for (( ; ; )); do
    read -r b0 s0 < <(machine_ticks)
    sleep 2
    read -r b1 s1 < <(machine_ticks)
    pct=$(((b1 - b0) * 100 / CLK_TCK / 2))
    [ "$pct" -le "$limit" ] && return 0
    waited=$((waited + 2))
    [ "$waited" -ge "$max" ] && return 0
  done
}

wait_idle() { # until the process uses < 5% of a core for 3 s in a row
  local pid=$1 max=${2:-120} quiet=0 i a b
  for ((i = 0; i < max && quiet < 3; i++)); do
    a=$(proc_ticks "$pid")
    sleep 1
    b=$(proc_ticks "$pid")
    if [ $((b - a)) -le $((CLK_TCK / 20)) ]; then quiet=$((quiet + 1)); else quiet=0; fi
  done
}

free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

jget() { # jget JSON EXPR: evaluates EXPR with `j` the parsed JSON
  node -e 'const j=JSON.parse(process.argv[1]); const v=eval(process.argv[2]); console.log(typeof v === "object" ? JSON.stringify(v) : v)' "$1" "$2"
}

# ------------------------------------------------------------------------------ the data

# $WORK/ratings.csv (LF line ends; times compressed or as they are), the per-user history
# sizes in the window ($WORK/history.txt: "userId items"), the user lists and the clones' file
prepare_data() {
  if [ "$TIME_MODE" = compressed ]; then
    # t' = newest - (newest - t) * span / (newest - oldest): order kept, all within span
    awk -F, -v OFS=, -v span=$(((WINDOW - 5) * 86400)) '
      { sub(/\r$/, "") }
      NR == FNR { if (FNR > 1) { t = $4 + 0; if (lo == "" || t < lo) lo = t; if (t > hi) hi = t }; next }
      FNR == 1 { print; next }
      { $4 = hi - int((hi - ($4 + 0)) * span / (hi - lo)); print }' "$RATINGS" "$RATINGS" >"$WORK/ratings.csv"
  else
    awk '{ sub(/\r$/, ""); print }' "$RATINGS" >"$WORK/ratings.csv"
  fi
  # positives (>= 4) surely in the window after the shift (the newest rating is now): a day
  # of margin at the window's far end
  local newest cut
  newest=$(awk -F, 'FNR > 1 && $4 + 0 > m { m = $4 + 0 } END { print m }' "$WORK/ratings.csv")
  cut=$((newest - (WINDOW - 1) * 86400))
  awk -F, -v cut="$cut" 'FNR > 1 && $3 + 0 >= 4 && $4 + 0 >= cut' "$WORK/ratings.csv" >"$WORK/positives.csv"
  awk -F, '{ k = $1 SUBSEP $2; if (!(k in s)) { s[k] = 1; n[$1]++ } } END { for (u in n) print u, n[u] }' \
    "$WORK/positives.csv" | sort -n >"$WORK/history.txt"
  awk '$2 >= 50 { print "user-" $1 }' "$WORK/history.txt" >"$WORK/users-real.txt"
  awk -v base="$CLONE_BASE" '$2 >= 50 { print "user-" (base + $1) }' "$WORK/history.txt" >"$WORK/users-hist50.txt"
  # the clones: each such user's 50 newest distinct positives (ties: the larger movie id)
  awk -F'[ ,]' 'NR == FNR { if ($2 >= 50) keep[$1] = 1; next } ($1 in keep)' \
    "$WORK/history.txt" "$WORK/positives.csv" |
    sort -t, -k1,1n -k4,4nr -k2,2nr |
    awk -F, -v OFS=, -v base="$CLONE_BASE" 'BEGIN { print "userId,movieId,rating,timestamp" }
      { k = $1 SUBSEP $2; if (k in s || n[$1] >= 50) next; s[k] = 1; n[$1]++; $1 = base + $1; print }' \
      >"$WORK/clones.csv"
  N_REAL=$(wc -l <"$WORK/users-real.txt")
  [ "$N_REAL" -gt 0 ] || { log "no user has 50 positive ratings in the window"; exit 1; }
  HIST_REAL=$(awk -v cap="$HISTORY_CAP" '$2 >= 50 { print ($2 > cap ? cap : $2) }' "$WORK/history.txt" | sort -n |
    awk -v cap="$HISTORY_CAP" '{ v[NR] = $1; s += $1; if ($1 >= cap) c++ }
      END { printf "min %d, median %d, mean %.0f, max %d items (%d at the cap of %d)", v[1], v[int((NR + 1) / 2)], s / NR, v[NR], c, cap }')
  POSITIVES=$(wc -l <"$WORK/positives.csv")
}

# ---------------------------------------------------------------------------- the server

start_profiled() {
  cat >"$WORK/c.toml" <<EOF
admin_token = "$ADMIN"
[server]
listen = "127.0.0.1:0"
threads = 1
[storage]
path = "$WORK/data"
durability = "$DURABILITY"
block_cache_mb = 512
row_cache_mb = 256
event_retention_days = $RETENTION
[[projects]]
id = "$PROJECT"
api_key = "$API_KEY"
secret_key = "$SECRET"
EOF
  : >"$WORK/profiled.log"
  pin_prefix "$SERVER_CPU"
  if [ -n "$CALLGRIND" ]; then
    PIN+=(valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$WORK/cg.out")
  fi
  "${PIN[@]}" "$BIN" serve --config "$WORK/c.toml" --listen 127.0.0.1:0 2>"$WORK/profiled.log" &
  PROFILED_PID=$!
  STARTED_PIDS+=("$PROFILED_PID")
  PORT=""
  for ((i = 0; i < 600; i++)); do
    PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$WORK/profiled.log" | head -1)
    [ -n "$PORT" ] && break
    kill -0 "$PROFILED_PID" 2>/dev/null || { cat "$WORK/profiled.log" >&2; exit 1; }
    sleep 0.1
  done
  [ -n "$PORT" ] || { cat "$WORK/profiled.log" >&2; exit 1; }
  URL=http://127.0.0.1:$PORT
}

# RECS_CALLGRIND: instructions per read, plain then recs, for each set
callgrind_reads() {
  local set n variant query dumps=0 total out
  say ""
  say "### Instructions per read (callgrind), $CALLGRIND reads of each set and variant"
  say ""
  say "| set | variant | instructions per read (all threads) | exposures ingested | output |"
  say "|---|---|---:|---:|---|"
  for set in $SETS; do
    n=$(wc -l <"$WORK/users-$set.txt")
    for variant in plain recs; do
      query=""
      [ "$variant" = recs ] && query="&get_recs=true&rec_id=$REC&limit=$LIMIT"
      node "$BENCH/read_requests.mjs" --url "$URL" --secret "$SECRET" --users-file "$WORK/users-$set.txt" \
        --n "$n" --seq 1 --query "$query" >/dev/null
      wait_ingested_steady
      local before=$INGESTED
      callgrind_control -z "$PROFILED_PID" >/dev/null
      callgrind_control -i on "$PROFILED_PID" >/dev/null
      node "$BENCH/read_requests.mjs" --url "$URL" --secret "$SECRET" --users-file "$WORK/users-$set.txt" \
        --n "$CALLGRIND" --query "$query" >/dev/null
      wait_ingested_steady
      callgrind_control -d "$variant-$set" "$PROFILED_PID" >/dev/null
      callgrind_control -i off "$PROFILED_PID" >/dev/null
      dumps=$((dumps + 1))
      for ((i = 0; i < 100; i++)); do [ -f "$WORK/cg.out.$dumps" ] && break; sleep 0.2; done
      out=$RESULTS/callgrind-recs-$STAMP-$variant-$set.out
      cp "$WORK/cg.out.$dumps" "$out"
      # the sum of the file's own costs (its "summary" line can be off with several threads)
      total=$(awk '/^calls=/ { skip = 1; next } /^[0-9+*-]/ { if (skip) { skip = 0; next } s += $2; next }
        { skip = 0 } END { printf "%.0f", s }' "$out")
      say "| $set | $variant | $((total / CALLGRIND)) | $((INGESTED - before)) | $(basename "$out") |"
    done
  done
  say ""
  say "(binary sha256 $BIN_SHA; callgrind_annotate --inclusive=yes FILE for where they go)"
}

admin() { # admin METHOD PATH [BODY]
  curl -sS -X "$1" -H "Authorization: Bearer $ADMIN" "$URL/admin/v1/projects/$PROJECT/$2" ${3:+--data "$3"}
}

ingested() { curl -s "$URL/metrics" | awk '$1 == "profiled_events_ingested_total" { print $2 }'; }

wait_ingested_steady() { # until the ingested count stays the same for 1 s (max 60 s)
  local a b i
  a=$(ingested)
  for ((i = 0; i < 60; i++)); do
    sleep 1
    b=$(ingested)
    [ "$a" = "$b" ] && break
    a=$b
  done
  INGESTED=$a
}

import_ratings() { # import_ratings FILE -> IMPORT_S
  local t0
  t0=$(now)
  on_cpu "$CLIENT_CPU" "$BIN" import-ratings --config "$WORK/c.toml" --project "$PROJECT" \
    --ratings "$1" --format movielens-csv --server "127.0.0.1:$PORT" 2>"$WORK/import.log"
  IMPORT_S=$(elapsed "$t0")
  IMPORT_LINE=$(tail -1 "$WORK/import.log")
}

define_and_train() {
  local def t0 body status tstatus i out wall
  def="{\"title\":\"Recommended for you\",\"model\":\"ease\",\"item_event\":\"Movie Rated\",\"item_property\":\"movie_id\","
  def+="\"history_window_days\":$WINDOW,\"candidates\":{\"top_n\":$TOP_N},\"exclude_items\":[],\"exclude_seen\":true,"
  def+="\"max_items\":10,\"control_percentage\":0,\"retrain_every_minutes\":0,\"params\":{\"lambda\":$LAMBDA}}"
  DEFINITION=$def
  t0=$(now)
  admin PUT "recommendations/$REC" "$def" >"$WORK/put.json"
  grep -q '"id":"ease"' "$WORK/put.json" || { cat "$WORK/put.json" >&2; log "PUT refused"; exit 1; }
  for ((i = 0; i < 6000; i++)); do # (minutes under valgrind)
    body=$(admin GET "recommendations/$REC")
    status=$(jget "$body" 'j.status')
    [ "$status" = ready ] && [ -z "${BACKFILL_S:-}" ] && BACKFILL_S=$(elapsed "$t0")
    tstatus=$(jget "$body" 'j.training.status')
    [ "$status" = ready ] && [ "$tstatus" = ready ] && break
    [ "$tstatus" = failed ] && { echo "$body" >&2; log "the first training failed"; exit 1; }
    sleep 0.2
  done
  FIRST_TRAINING=$(jget "$body" 'j.training')
  FIRST_TRAIN_WALL=$(elapsed "$t0")
  LAST_TRAINING=$FIRST_TRAINING
  log "defined; backfilled in ${BACKFILL_S}s, first training: $FIRST_TRAINING"
  echo "{\"bench\":\"recs_train\",\"stamp\":\"$STAMP\",\"run\":0,\"how\":\"on definition (PUT to ready, backfill included)\",\"time_mode\":\"$TIME_MODE\",\"wall_s\":$FIRST_TRAIN_WALL,\"backfill_s\":$BACKFILL_S,\"training\":$FIRST_TRAINING,\"load1\":$(cut -d' ' -f1 /proc/loadavg)}" >>"$HISTORY"
  for ((i = 1; i <= TRAIN_RUNS; i++)); do
    wait_quiet
    local load1
    load1=$(cut -d' ' -f1 /proc/loadavg)
    t0=$(now)
    out=$(on_cpu "$CLIENT_CPU" "$BIN" train --config "$WORK/c.toml" --project "$PROJECT" --rec "$REC" \
      --server "127.0.0.1:$PORT" 2>"$WORK/train.log")
    wall=$(elapsed "$t0")
    log "profiled train run $i: ${wall}s wall clock, $out"
    echo "{\"bench\":\"recs_train\",\"stamp\":\"$STAMP\",\"run\":$i,\"how\":\"profiled train\",\"time_mode\":\"$TIME_MODE\",\"wall_s\":$wall,\"training\":$out,\"load1\":$load1}" >>"$HISTORY"
    TRAIN_WALLS+=("$wall")
    TRAIN_DURS+=("$(jget "$out" 'j.duration_seconds')")
    LAST_TRAINING=$out
  done
}

start_nginx() { # serves $WORK/nginx/www/v1/userprofile
  local prefix=$WORK/nginx i
  mkdir -p "$prefix/tmp" "$prefix/logs"
  NGINX_PORT=$(free_port)
  sed -e "s#@PREFIX@#$prefix#g" -e "s#@PORT@#$NGINX_PORT#g" "$BENCH/nginx.conf" >"$prefix/nginx.conf"
  pin_prefix "$SERVER_CPU"
  "${PIN[@]}" "$NGINX" -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" &
  NGINX_PID=$!
  STARTED_PIDS+=("$NGINX_PID")
  NGINX_WORKER=""
  for ((i = 0; i < 100; i++)); do
    if curl -sf -o /dev/null "http://127.0.0.1:$NGINX_PORT/v1/userprofile"; then
      NGINX_WORKER=$(pgrep -P "$NGINX_PID" | head -1)
      break
    fi
    sleep 0.1
  done
  [ -n "$NGINX_WORKER" ] || { cat "$prefix/error.log" >&2; log "nginx is not serving"; exit 1; }
}

# run_wrk VARIANT SET CONNS SECONDS RUN   (RUN 0 = warm-up, not recorded)
run_wrk() {
  local variant=$1 set=$2 conns=$3 secs=$4 run=$5 port=$PORT pid=$PROFILED_PID suffix="" users out result
  local before after warnings0 warnings1 exposures line
  users=$WORK/users-$set.txt
  [ "$variant" = recs ] && suffix="&get_recs=true&rec_id=$REC&limit=$LIMIT"
  if [ "$variant" = nginx ]; then port=$NGINX_PORT pid=$NGINX_WORKER; fi
  [ "$run" -gt 0 ] && wait_quiet
  if [ "$variant" != nginx ]; then
    wait_ingested_steady
    before=$INGESTED
    warnings0=$(grep -c 'not recorded' "$WORK/profiled.log" || true)
  fi
  measure_begin "$pid"
  out=$(on_cpu "$CLIENT_CPU" wrk -t1 -c"$conns" -d"${secs}s" --timeout 5s -s "$BENCH/recs_read.lua" \
    "http://127.0.0.1:$port" -- "$SECRET" "$users" "$suffix")
  measure_end "$pid"
  result=$(sed -n 's/^RESULT //p' <<<"$out")
  [ -n "$result" ] || { echo "$out" >&2; log "wrk printed no result"; exit 1; }
  exposures=null
  if [ "$variant" != nginx ]; then
    wait_ingested_steady
    after=$INGESTED
    warnings1=$(grep -c 'not recorded' "$WORK/profiled.log" || true)
    exposures="$((after - before)),\"exposure_warnings\":$((warnings1 - warnings0))"
  fi
  [ "$run" -gt 0 ] || { log "warm-up $variant $set c=$conns: $(jget "$result" 'Math.round(j.rps) + " req/s"')"; return 0; }
  line="{\"bench\":\"recs_read\",\"stamp\":\"$STAMP\",\"time_mode\":\"$TIME_MODE\",\"variant\":\"$variant\",\"set\":\"$set\",\"conns\":$conns,\"run\":$run,\"seconds\":$secs,\"limit\":$LIMIT,\"exposures\":$exposures,$MEASURED,${result#\{}"
  echo "$line" >>"$HISTORY"
  echo "$line" >>"$WORK/runs.jsonl"
  log "$variant $set c=$conns run $run: $(jget "$line" '`${Math.round(j.rps)} req/s p50 ${j.p50_ms} p99 ${j.p99_ms} ms; CPU server ${j.server_cpu_pct} (threads ${j.server_threads_cpu_pct}) client ${j.client_cpu_pct} others ${j.others_cpu_pct}; exposures ${j.exposures}; errors ${j.errors_status + j.errors_timeout + j.errors_read}`')"
}

machine_info() {
  local model
  model=$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
  echo "- machine: $(nproc) CPUs ($model), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, kernel $(uname -r)"
  echo "- load at start: $(uptime)"
  echo "- profiled: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet -- src 2>/dev/null || echo ' (+ local changes in src/)'), binary sha256 $BIN_SHA...; wrk $(wrk -v 2>&1 | head -1 | cut -d' ' -f2 || true), $("$NGINX" -v 2>&1 | sed 's/.*: //' || true)"
  echo "- pinning: servers on CPU ${SERVER_CPU:-any}, clients (wrk, import-ratings, train) on CPU ${CLIENT_CPU:-any}${NICE:+; servers and clients under nice -n $NICE}"
}

# ------------------------------------------------------------------------------- the run

TRAIN_WALLS=()
TRAIN_DURS=()
prepare_data
say ""
say "## Recommendations in the server ($(date -u +%F) $(date -u +%TZ)): $(basename "$(dirname "$RATINGS")")/$(basename "$RATINGS"), times $TIME_MODE"
say ""
machine_info | tee -a "$REPORT"
say "- server: threads = 1, durability = $DURABILITY, event_retention_days = $RETENTION, block_cache_mb 512, row_cache_mb 256"
start_profiled
import_ratings "$WORK/ratings.csv"
say "- import: \`profiled import-ratings --format movielens-csv\` (--time shifted, --min-rating 4) of the ${TIME_MODE} file: ${IMPORT_S}s wall clock ($IMPORT_LINE)"
wait_idle "$PROFILED_PID" 60
define_and_train
say "- definition (PUT /admin/v1/projects/$PROJECT/recommendations/$REC): \`$DEFINITION\`"
say "- positives in the window (ratings >= 4, by the file): $POSITIVES; users with >= 50 of them: $N_REAL, their history sizes: $HIST_REAL"
say "- on definition: backfill ${BACKFILL_S}s, PUT to trained ${FIRST_TRAIN_WALL}s; training $FIRST_TRAINING"
say ""
say "### Training (\`profiled train --project $PROJECT --rec $REC\`), $TRAIN_RUNS runs"
say ""
say "| run | wall clock s | duration_seconds (server) |"
say "|---:|---:|---:|"
for ((i = 0; i < TRAIN_RUNS; i++)); do say "| $((i + 1)) | ${TRAIN_WALLS[$i]} | ${TRAIN_DURS[$i]} |"; done
say ""
say "last: $LAST_TRAINING"

# the clones with exactly 50 items, after the training (the model never saw them)
if [[ " $SETS " == *" hist50 "* ]]; then
  import_ratings "$WORK/clones.csv"
  log "clones: $IMPORT_LINE"
fi
wait_idle "$PROFILED_PID" 60
first_set=${SETS%% *}
sample=$(head -1 "$WORK/users-$first_set.txt")
curl -sf -H "Authorization: Api-Key $SECRET" "$URL/v1/userprofile?user_id=$sample" >"$WORK/plain.json"
mkdir -p "$WORK/nginx/www/v1"
curl -sf -H "Authorization: Api-Key $SECRET" "$URL/v1/userprofile?user_id=$sample&get_recs=true&rec_id=$REC&limit=$LIMIT" \
  >"$WORK/nginx/www/v1/userprofile"
grep -q '"child_ids":\[' "$WORK/nginx/www/v1/userprofile" || { cat "$WORK/nginx/www/v1/userprofile" >&2; log "no recommendation served"; exit 1; }
ITEMS=$(jget "$(cat "$WORK/nginx/www/v1/userprofile")" 'j.userData.recommendations[0].child_ids.length')
say ""
say "### Reads: wrk -t1 -c{${CONNS// /,}} -d${SECONDS_PER_RUN}s -s bench/recs_read.lua, $RUNS interleaved rounds"
say ""
say "- sets: $SETS (hist50 = clones with exactly 50 items; real = the users themselves); $N_REAL users each, a random one per request"
say "- recs = \`&get_recs=true&rec_id=$REC&limit=$LIMIT\` ($ITEMS items served to $sample); plain = the same read without it"
say "- body bytes: plain $(wc -c <"$WORK/plain.json"), recs $(wc -c <"$WORK/nginx/www/v1/userprofile") (nginx serves the latter)"
if [ -n "$CALLGRIND" ]; then
  callgrind_reads
  log "report appended to $REPORT"
  exit 0
fi
if [ -n "$PAIRED" ]; then
  say ""
  say "### Paired latency: bench/paired_latency.mjs, $PAIRED pairs per set (plain and recs alternating on one connection)"
  say ""
  say "| set | round | client: plain p50 / p90 / p99 / p99.9 µs | client: recs p50 / p90 / p99 / p99.9 µs | client: added p50 / p90 / p99 µs | server: plain, recs share ≤ 100 µs | server: plain, recs p50 ≤ µs | server: plain, recs p99 ≤ µs |"
  say "|---|---:|---|---|---|---|---|---|"
  for ((r = 1; r <= RUNS; r++)); do
    for set in $SETS; do
      wait_quiet
      out=$(on_cpu "$CLIENT_CPU" node "$BENCH/paired_latency.mjs" --url "$URL" --secret "$SECRET" \
        --users-file "$WORK/users-$set.txt" --n "$PAIRED" --seed "$r" \
        --query "&get_recs=true&rec_id=$REC&limit=$LIMIT")
      echo "{\"bench\":\"recs_paired\",\"stamp\":\"$STAMP\",\"set\":\"$set\",\"run\":$r,\"bin\":\"$BIN_SHA\",\"load1\":$(cut -d' ' -f1 /proc/loadavg),\"result\":$out}" >>"$HISTORY"
      say "| $set | $r | $(jget "$out" '[j.plain.p50, j.plain.p90, j.plain.p99, j.plain["p99.9"]].join(" / ")') | $(jget "$out" '[j.recs.p50, j.recs.p90, j.recs.p99, j.recs["p99.9"]].join(" / ")') | $(jget "$out" '[j.added.p50, j.added.p90, j.added.p99].join(" / ")') | $(jget "$out" '[j.server.plain["share<=100us"], j.server.recs["share<=100us"]].join(", ")') | $(jget "$out" '[j.server.plain["p50<=us"], j.server.recs["p50<=us"]].join(", ")') | $(jget "$out" '[j.server.plain["p99<=us"], j.server.recs["p99<=us"]].join(", ")') |"
    done
  done
  [ "$PAIRED_ONLY" = 1 ] && { log "report appended to $REPORT"; exit 0; }
fi
if [ "$WITH_NGINX" = 1 ]; then start_nginx; fi
for c in $CONNS; do
  for set in $SETS; do
    run_wrk plain "$set" "$c" "$WARMUP" 0
    run_wrk recs "$set" "$c" "$WARMUP" 0
  done
  if [ "$WITH_NGINX" = 1 ]; then run_wrk nginx "$first_set" "$c" "$WARMUP" 0; fi
  for ((r = 1; r <= RUNS; r++)); do
    for set in $SETS; do
      run_wrk plain "$set" "$c" "$SECONDS_PER_RUN" "$r"
      run_wrk recs "$set" "$c" "$SECONDS_PER_RUN" "$r"
    done
    if [ "$WITH_NGINX" = 1 ]; then run_wrk nginx "$first_set" "$c" "$SECONDS_PER_RUN" "$r"; fi
  done
done
say "- load at end: $(uptime)"
say "- server log warnings: $(grep -c ' warn ' "$WORK/profiled.log" || true) ($(grep ' warn ' "$WORK/profiled.log" | head -1 | cut -c1-200))"
say ""
say "$(node "$BENCH/summarize.mjs" recs_read "$WORK/runs.jsonl")"
log "report appended to $REPORT"
