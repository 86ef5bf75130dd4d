#!/usr/bin/env bash
# profiled benchmarks. They print figures; they are not tests and assert nothing.
#
#   bench/run.sh [all|reads|ingest|load|perf]      (default: all = reads, then ingest)
#
#   reads   Profile API reads: wrk against GET /v1/userprofile for random users of a store
#           of BENCH_USERS synthetic users (20 fixed-width properties each), and the same
#           wrk run against nginx serving the bytes of one real profiled response as a
#           static file at the same path. One profiled I/O thread vs one nginx worker, both
#           pinned to BENCH_SERVER_CPU; wrk (one thread) pinned to BENCH_CLIENT_CPU.
#           The store holds two projects with the same users and events: "bench" without
#           definitions (server "profiled") and "defs" with the 20 computations and 20
#           cohorts of bench/definitions.json (server "profiled-defs"); the same profiled
#           process serves both, and the runs of the servers alternate.
#           With "profiled-rec" in BENCH_READ_SERVERS, a third project "recs" of the same users
#           and events (loaded into the store once) defines the one recommendation of
#           bench/recs_definitions.json (ease over view_item/item_id, trained by the server at
#           start-up, before the runs); its reads do not ask for recommendations (get_recs), so
#           "profiled-rec" vs "profiled" is what a defined recommendation costs other reads.
#   ingest  events/s with 100-event batches to /2/httpapi, durability "fsync" and then
#           "buffered", from bench/ingest.mjs with BENCH_INGEST_CONNS keep-alive connections.
#   load    only build the read store (done by `reads` when it is missing).
#   perf    `perf record` of profiled while wrk runs the read benchmark at 32 connections;
#           prints the hottest symbols (needs perf, Debian package linux-perf).
#
# Needs: build/profiled, node >= 18, wrk, nginx (`make bench` installs nginx-light and wrk),
# taskset. Results are printed and appended to bench/results/ (gitignored): a Markdown
# report per invocation and every raw measurement in bench/results/history.jsonl.
#
# Knobs (environment):
#   BENCH_USERS=1000000      users in the read store (per project)
#   BENCH_LOAD_EVENTS=5      tracked events per user in the read store (past `time` values,
#                            bench/load_users.mjs --events), which the definitions aggregate
#   BENCH_DEFINITIONS=bench/definitions.json   definitions of the read store's "defs" project
#   BENCH_STORE=DIR          read store (default bench/results/store-<users>-e<events>-v2);
#                            reused when DIR.loaded.json exists, built through the ingestion
#                            API otherwise
#   BENCH_READ_SERVERS="profiled profiled-defs nginx"   the servers `reads` alternates
#                            (also: profiled-rec, the project "recs", see above)
#   BENCH_REC_DEFINITIONS=bench/recs_definitions.json   definitions of the "recs" project
#   BENCH_ROW_CACHE_MB=3072  profiled's row cache for reads (block cache 2048 MB): the read
#                            store of two projects fits, as on a server sized for its data
#   BENCH_RUNS=3             repetitions of every measurement (tables show medians)
#   BENCH_CONNS="1 8 32"     wrk connection counts
#   BENCH_READ_SECONDS=15    per wrk run;  BENCH_READ_WARMUP=30 s of wrk walking the users
#                            in order before measuring
#   BENCH_WARMUP_STEP=1      the warm-up reads every STEP-th user (1: every user, which fills
#                            the row cache; 4, the step before 2026-12-02, touches about every
#                            block but leaves most rows uncached); a warning is logged when the
#                            warm-up reads fewer users than that
#   BENCH_INGEST_CONNS=32  BENCH_INGEST_SECONDS=20  BENCH_INGEST_WARMUP=5
#   BENCH_LOAD_CONNS=4       connections of the loader
#   BENCH_SERVER_CPU=0  BENCH_CLIENT_CPU=1   taskset pinning ("" = no pinning)
#   BENCH_QUIET_WAIT=180  BENCH_QUIET_PCT=25   before each measured run, wait up to 180 s
#                            for the rest of the machine to use <= 25% of a core
#   BENCH_NOISY_PCT=40  BENCH_ATTEMPTS=3   repeat a run (up to 3 attempts, the last is kept)
#                            when the rest of the machine used > 40% of a core meanwhile
#   BENCH_PERF_SECONDS=15  BENCH_PERF_CALLGRAPH=fp|dwarf   for `perf`
#   BENCH_PERF_SERVER=profiled|profiled-defs|profiled-rec   which project `perf` reads
#   BENCH_TMP=/tmp           where temp dirs (nginx prefix, ingest stores) go
#   BENCH_NICE=N             run the servers and clients under `nice -n N` (e.g. -10 on a
#                            machine shared with builds: they then take the CPU they need
#                            first; negative values need root)
#   PROFILED_BIN=build/profiled
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
BIN_SRC=${PROFILED_BIN:-$ROOT/build/profiled}
RESULTS=$BENCH/results
USERS=${BENCH_USERS:-1000000}
LOAD_EVENTS=${BENCH_LOAD_EVENTS:-5}
DEFINITIONS=$(readlink -f "${BENCH_DEFINITIONS:-$ROOT/bench/definitions.json}")
REC_DEFINITIONS=$(readlink -f "${BENCH_REC_DEFINITIONS:-$ROOT/bench/recs_definitions.json}")
STORE=${BENCH_STORE:-$RESULTS/store-$USERS-e$LOAD_EVENTS-v2}
READ_SERVERS=${BENCH_READ_SERVERS:-profiled profiled-defs nginx}
ROW_CACHE_MB=${BENCH_ROW_CACHE_MB:-3072}
RUNS=${BENCH_RUNS:-3}
CONNS=${BENCH_CONNS:-1 8 32}
READ_SECONDS=${BENCH_READ_SECONDS:-15}
READ_WARMUP=${BENCH_READ_WARMUP:-30}
WARMUP_STEP=${BENCH_WARMUP_STEP:-1}
INGEST_CONNS=${BENCH_INGEST_CONNS:-32}
INGEST_SECONDS=${BENCH_INGEST_SECONDS:-20}
INGEST_WARMUP=${BENCH_INGEST_WARMUP:-5}
LOAD_CONNS=${BENCH_LOAD_CONNS:-4}
SERVER_CPU=${BENCH_SERVER_CPU-0}
CLIENT_CPU=${BENCH_CLIENT_CPU-1}
TMP_BASE=${BENCH_TMP:-/tmp}
NICE=${BENCH_NICE:-}
API_KEY=bench-key
SECRET=bench-secret
DEFS_API_KEY=defs-key
DEFS_SECRET=defs-secret
RECS_API_KEY=recs-key
RECS_SECRET=recs-secret
ADMIN_TOKEN=bench-admin
WITH_RECS=0
case " $READ_SERVERS " in *" profiled-rec "*) WITH_RECS=1 ;; esac

CMD=${1:-all}
case "$CMD" in
  all | reads | ingest | load | perf) ;;
  -h | --help)
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "usage: bench/run.sh [all|reads|ingest|load|perf]" >&2
    exit 2
    ;;
esac

for tool in node taskset curl; do
  command -v "$tool" >/dev/null || { echo "bench: $tool not found" >&2; exit 1; }
done
if [ "$CMD" != ingest ]; then
  command -v wrk >/dev/null || { echo "bench: wrk not found (apt-get install wrk)" >&2; exit 1; }
fi
if [ "$CMD" = all ] || [ "$CMD" = reads ]; then
  NGINX=$(command -v nginx || echo /usr/sbin/nginx)
  [ -x "$NGINX" ] || { echo "bench: nginx not found (apt-get install nginx-light)" >&2; exit 1; }
fi
[ -x "$BIN_SRC" ] || { echo "bench: $BIN_SRC not built (make build)" >&2; exit 1; }
if [ "$(nproc)" -lt 2 ]; then
  echo "bench: fewer than 2 CPUs; running without pinning" >&2
  SERVER_CPU="" CLIENT_CPU=""
fi

mkdir -p "$RESULTS"
WORK=$(mktemp -d "$TMP_BASE/profiled-bench.XXXXXX")
chmod 755 "$WORK" # nginx workers run as "nobody" when started by root
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
REPORT=$RESULTS/$CMD-$STAMP.md
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

# a private copy, so that a rebuild of build/profiled during a run changes nothing
BIN=$WORK/profiled
for ((i = 0; i < 30; i++)); do # (retry while a rebuild is linking it)
  cp "$BIN_SRC" "$BIN" && "$BIN" --help >/dev/null 2>&1 && break
  sleep 2
done
"$BIN" --help >/dev/null || { echo "bench: $BIN_SRC does not run" >&2; exit 1; }
BIN_SHA=$(sha256sum "$BIN" | cut -c1-12)

log() { echo "bench: $*" >&2; }
say() { echo "$*" | tee -a "$REPORT"; }

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

now() { date +%s.%N; }

proc_ticks() { # user+system CPU ticks of a process (all its threads)
  awk '{ print $14 + $15 }' "/proc/$1/stat"
}

children_seconds() { # CHILD_S = CPU seconds of this shell's waited-for children
  # the `times` builtin, run in this shell: in $(...) or a pipeline it would see no children
  times >"$WORK/times"
  CHILD_S=$(awk 'NR == 2 { s = 0; for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); s += t[1] * 60 + t[2] } printf "%.3f", s }' "$WORK/times")
}

machine_ticks() { # "busy steal" ticks of all CPUs (busy = user nice system irq softirq)
  awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $9 }' /proc/stat
}

# measure_begin PID ... measure_end PID: CPU use during the run, in % of one core:
# the server process, the client (children of this shell started in between), everything
# else on the machine (other processes plus kernel time not charged to a process, e.g.
# loopback softirq), and time stolen by the hypervisor. Sets MEASURED (JSON members).
measure_begin() {
  M_LOAD=$(cut -d' ' -f1 /proc/loadavg)
  M_SERVER=$(proc_ticks "$1")
  children_seconds
  M_CLIENT=$CHILD_S
  read -r M_BUSY M_STEAL < <(machine_ticks)
  M_T=$(now)
}

measure_end() {
  local t server client busy steal
  t=$(now)
  server=$(proc_ticks "$1")
  children_seconds
  client=$CHILD_S
  read -r busy steal < <(machine_ticks)
  MEASURED=$(awk -v hz="$CLK_TCK" -v wall="$(awk -v a="$M_T" -v b="$t" 'BEGIN { print b - a }')" \
    -v s="$((server - M_SERVER))" -v c0="$M_CLIENT" -v c1="$client" -v b="$((busy - M_BUSY))" \
    -v st="$((steal - M_STEAL))" -v load="$M_LOAD" 'BEGIN {
      sv = s / hz; cl = c1 - c0; other = b / hz - sv - cl; if (other < 0) other = 0
      printf "\"server_cpu_pct\":%.1f,\"client_cpu_pct\":%.1f,\"others_cpu_pct\":%.1f,\"steal_pct\":%.1f,\"load1\":%s",
        100 * sv / wall, 100 * cl / wall, 100 * other / wall, 100 * st / hz / wall, load }')
}

wait_idle() { # until the process uses < 5% of a core for 3 s in a row (e.g. compactions)
  local pid=$1 max=${2:-300} quiet=0 i a b
  for ((i = 0; i < max && quiet < 3; i++)); do
    a=$(proc_ticks "$pid")
    sleep 1
    b=$(proc_ticks "$pid")
    if [ $((b - a)) -le $((CLK_TCK / 20)) ]; then quiet=$((quiet + 1)); else quiet=0; fi
  done
}

# wait_quiet: before a measurement, wait (up to BENCH_QUIET_WAIT s, default 180) until the
# rest of the machine uses <= BENCH_QUIET_PCT % of one core (default 25) over 2 s. This is a
# shared machine; the figures record what the others used anyway (others_cpu_pct).
wait_quiet() {
  local max=${BENCH_QUIET_WAIT:-180} limit=${BENCH_QUIET_PCT:-25} waited=0 b0 b1 s0 s1 pct
  [ "$max" -gt 0 ] || return 0
  for (( ; ; )); do
    read -r b0 s0 < <(machine_ticks)
    sleep 2
    read -r b1 s1 < <(machine_ticks)
    pct=$(((b1 - b0) * 100 / CLK_TCK / 2))
    [ "$pct" -le "$limit" ] && return 0
    [ "$waited" -eq 0 ] && log "the machine is busy (${pct}% of a core); waiting up to ${max}s for it to quieten"
    waited=$((waited + 2))
    if [ "$waited" -ge "$max" ]; then
      log "still busy (${pct}% of a core); measuring anyway"
      return 0
    fi
  done
}

# keep_or_retry LINE ATTEMPT WHAT: false (and the run is logged as discarded) when the rest
# of the machine used more than BENCH_NOISY_PCT % of a core (default 40) during the run and
# fewer than BENCH_ATTEMPTS (default 3) attempts were made; the last attempt is kept anyway.
keep_or_retry() {
  local others
  others=$(sed -n 's/.*"others_cpu_pct":\([0-9.]*\).*/\1/p' <<<"$1")
  if awk -v o="${others:-0}" -v l="${BENCH_NOISY_PCT:-40}" 'BEGIN { exit !(o > l) }' &&
    [ "$2" -lt "${BENCH_ATTEMPTS:-3}" ]; then
    log "$3: others used ${others}% of a core meanwhile; discarding attempt $2 and repeating"
    echo "${1%\}},\"discarded\":true}" >>"$HISTORY"
    return 1
  fi
  return 0
}

free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

machine_info() {
  local model
  model=$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
  echo "- machine: $(nproc) CPUs ($model), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, kernel $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- profiled: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet -- src 2>/dev/null || echo ' (+ local changes in src/)'), $(grep -m1 CMAKE_BUILD_TYPE "$ROOT/build/CMakeCache.txt" 2>/dev/null | cut -d= -f2) build, binary sha256 $BIN_SHA..."
  echo "- tools: $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2 || true), $("${NGINX:-nginx}" -v 2>&1 | sed 's/.*: //' || true), node $(node --version)"
  echo "- pinning: servers on CPU ${SERVER_CPU:-any}, clients on CPU ${CLIENT_CPU:-any}${NICE:+; servers and clients under nice -n $NICE}"
}

# write_config FILE DURABILITY DATA_DIR [reads]: with "reads", also the "defs" project with
# the definitions (and the "recs" project with its recommendation when profiled-rec is read),
# and the read store's row cache
write_config() {
  local row_cache=1536
  [ "${4:-}" = reads ] && row_cache=$ROW_CACHE_MB
  : >"$1"
  if [ "${4:-}" = reads ] && [ "$WITH_RECS" = 1 ]; then
    echo "admin_token = \"$ADMIN_TOKEN\"" >>"$1"
  fi
  cat >>"$1" <<EOF
[server]
listen = "127.0.0.1:0"
threads = 1
[storage]
path = "$3"
durability = "$2"
block_cache_mb = 2048
row_cache_mb = $row_cache
[[projects]]
id = "bench"
api_key = "$API_KEY"
secret_key = "$SECRET"
EOF
  if [ "${4:-}" = reads ]; then
    cat >>"$1" <<EOF
[[projects]]
id = "defs"
api_key = "$DEFS_API_KEY"
secret_key = "$DEFS_SECRET"
definitions = "$DEFINITIONS"
EOF
    if [ "$WITH_RECS" = 1 ]; then
      cat >>"$1" <<EOF
[[projects]]
id = "recs"
api_key = "$RECS_API_KEY"
secret_key = "$RECS_SECRET"
definitions = "$REC_DEFINITIONS"
EOF
    fi
  fi
}

# start_profiled DURABILITY DATA_DIR CPU [reads] -> PROFILED_PID, PROFILED_PORT
start_profiled() {
  local durability=$1 data=$2 cpu=$3 conf logf i
  conf=$WORK/profiled-$durability.toml
  logf=$WORK/profiled.log
  write_config "$conf" "$durability" "$data" "${4:-}"
  : >"$logf"
  pin_prefix "$cpu"
  "${PIN[@]}" "$BIN" serve --config "$conf" --listen 127.0.0.1:0 --data-dir "$data" 2>"$logf" &
  PROFILED_PID=$!
  STARTED_PIDS+=("$PROFILED_PID")
  PROFILED_PORT=""
  for ((i = 0; i < 600; i++)); do
    PROFILED_PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$logf" | head -1)
    [ -n "$PROFILED_PORT" ] && break
    kill -0 "$PROFILED_PID" 2>/dev/null || { cat "$logf" >&2; log "profiled did not start"; exit 1; }
    sleep 0.1
  done
  [ -n "$PROFILED_PORT" ] || { cat "$logf" >&2; log "profiled did not report its port"; exit 1; }
}

stop_profiled() {
  kill -TERM "$PROFILED_PID"
  wait "$PROFILED_PID" || log "profiled exited with $?"
}

# ---------------------------------------------------------------------------- read store

ensure_store() {
  if [ -f "$STORE.loaded.json" ] && [ -d "$STORE" ]; then
    log "reusing the read store $STORE (loaded: $(cat "$STORE.loaded.json"))"
    return
  fi
  log "building the read store: $USERS users with $LOAD_EVENTS events each through POST /batch into $STORE, projects bench and defs"
  rm -rf "$STORE" "$STORE.loaded.json"
  mkdir -p "$(dirname "$STORE")"
  start_profiled buffered "$STORE" "" reads
  local out out_defs load1
  load1=$(cut -d" " -f1 /proc/loadavg)
  out=$(node "$BENCH/load_users.mjs" --url "http://127.0.0.1:$PROFILED_PORT" --api-key "$API_KEY" \
    --users "$USERS" --events "$LOAD_EVENTS" --conns "$LOAD_CONNS")
  log "loaded project bench: $out"
  # the same users and events, into the project with definitions (applied live by the writer)
  out_defs=$(node "$BENCH/load_users.mjs" --url "http://127.0.0.1:$PROFILED_PORT" --api-key "$DEFS_API_KEY" \
    --users "$USERS" --events "$LOAD_EVENTS" --conns "$LOAD_CONNS")
  log "loaded project defs: $out_defs; waiting for background compactions"
  out="${out%\}},\"defs_load\":$out_defs}"
  local t0
  t0=$(now)
  wait_idle "$PROFILED_PID" 600
  stop_profiled
  local settle
  settle=$(awk -v s="$t0" -v e="$(now)" 'BEGIN { printf "%.0f", e - s }')
  echo "${out%\}},\"settle_s\":$settle,\"store_bytes\":$(du -sb "$STORE" | cut -f1),\"load1_at_start\":$load1,\"date\":\"$(date -u +%FT%TZ)\"}" \
    >"$STORE.loaded.json"
  echo "{\"bench\":\"load\",\"stamp\":\"$STAMP\",\"result\":$(cat "$STORE.loaded.json")}" >>"$HISTORY"
}

# the "recs" project (profiled-rec): the same users and events, loaded into the store once
ensure_rec_project() {
  [ "$WITH_RECS" = 1 ] || return 0
  if [ -f "$STORE.recs.loaded.json" ]; then
    log "reusing the recs project of $STORE (loaded: $(cat "$STORE.recs.loaded.json"))"
    return
  fi
  log "loading the recs project: $USERS users with $LOAD_EVENTS events each through POST /batch into $STORE"
  start_profiled buffered "$STORE" "" reads
  local out t0 settle
  out=$(node "$BENCH/load_users.mjs" --url "http://127.0.0.1:$PROFILED_PORT" --api-key "$RECS_API_KEY" \
    --users "$USERS" --events "$LOAD_EVENTS" --conns "$LOAD_CONNS")
  log "loaded project recs: $out; waiting for background compactions"
  t0=$(now)
  wait_idle "$PROFILED_PID" 600
  stop_profiled
  settle=$(awk -v s="$t0" -v e="$(now)" 'BEGIN { printf "%.0f", e - s }')
  echo "${out%\}},\"settle_s\":$settle,\"definitions\":\"$(basename "$REC_DEFINITIONS")\",\"date\":\"$(date -u +%FT%TZ)\"}" \
    >"$STORE.recs.loaded.json"
}

# waits (up to 15 min) until the recs project's recommendation has a model -> REC_TRAINING
wait_rec_trained() {
  [ "$WITH_RECS" = 1 ] || return 0
  local rec body i
  rec=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).recommendations[0].id)' "$REC_DEFINITIONS")
  for ((i = 0; i < 900; i++)); do
    body=$(curl -s -H "Authorization: Bearer $ADMIN_TOKEN" \
      "http://127.0.0.1:$PROFILED_PORT/admin/v1/projects/recs/recommendations/$rec")
    REC_TRAINING=$(node -e 'const j=JSON.parse(process.argv[1]); console.log(JSON.stringify(j.training||{}))' "$body" 2>/dev/null || echo '{}')
    case "$REC_TRAINING" in *'"status":"ready"'* | *'"status":"failed"'*) break ;; esac
    sleep 1
  done
  log "recs project, recommendation $rec: $REC_TRAINING"
}

# ---------------------------------------------------------------------------------- reads

start_nginx() { # serves $WORK/nginx/www/v1/userprofile -> NGINX_PID, NGINX_PORT, NGINX_WORKER
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
    kill -0 "$NGINX_PID" 2>/dev/null || { cat "$prefix/error.log" >&2; log "nginx did not start"; exit 1; }
    sleep 0.1
  done
  [ -n "$NGINX_WORKER" ] || { cat "$prefix/error.log" >&2; log "nginx is not serving"; exit 1; }
}

# run_wrk SERVER PORT MEASURED_PID CONNS SECONDS RUN RAWFILE [MODE]
# RAWFILE "" = warm-up (nothing recorded); MODE "seq:STEP" = walk the users in order
run_wrk() {
  local server=$1 port=$2 pid=$3 conns=$4 secs=$5 run=$6 raw=$7 mode=${8:-} out result attempt line
  for ((attempt = 1; ; attempt++)); do
    [ -n "$raw" ] && wait_quiet
    measure_begin "$pid"
    out=$(on_cpu "$CLIENT_CPU" wrk -t1 -c"$conns" -d"${secs}s" --timeout 5s -s "$BENCH/profile.lua" \
      "http://127.0.0.1:$port" -- "$USERS" "${WRK_SECRET:-$SECRET}" $mode)
    measure_end "$pid"
    result=$(sed -n 's/^RESULT //p' <<<"$out")
    [ -n "$result" ] || { echo "$out" >&2; log "wrk printed no result"; exit 1; }
    if [ -z "$raw" ]; then
      log "warm-up $server ${mode:-random}: $(node -e 'const r=JSON.parse(process.argv[1]);console.log(`${r.requests} requests, ${Math.round(r.rps)} req/s`)' "$result")"
      if [[ $mode == seq:* ]]; then
        local walked wanted=$(((USERS + ${mode#seq:} - 1) / ${mode#seq:}))
        walked=$(node -e 'console.log(JSON.parse(process.argv[1]).requests)' "$result")
        ((walked >= wanted)) ||
          log "warning: the warm-up read $walked of the $wanted users it walks; raise BENCH_READ_WARMUP"
      fi
      return 0
    fi
    line="{\"bench\":\"reads\",\"stamp\":\"$STAMP\",\"server\":\"$server\",\"conns\":$conns,\"run\":$run,\"attempt\":$attempt,\"seconds\":$secs,\"users\":$USERS,$MEASURED,${result#\{}"
    keep_or_retry "$line" "$attempt" "$server c=$conns run $run" && break
  done
  echo "$line" >>"$raw"
  echo "$line" >>"$HISTORY"
  log "$server c=$conns run $run: $(node -e 'const r=JSON.parse(process.argv[1]);console.log(`${Math.round(r.rps)} req/s p50 ${r.p50_ms} ms p99 ${r.p99_ms} ms, CPU % server ${r.server_cpu_pct} client ${r.client_cpu_pct} others ${r.others_cpu_pct} steal ${r.steal_pct}`)' "$line")"
}

# Fills profiled's caches: every BENCH_WARMUP_STEP-th user in order (1: every user, so every
# row the runs read is in the row cache; 4 touches about every block of the profile and
# identity tables) for BENCH_READ_WARMUP s, then 5 s of the random workload; in each project
# the runs read.
warm_profiled() {
  local server
  for server in $READ_SERVERS; do
    [ "$server" = nginx ] && continue
    WRK_SECRET=$(secret_of "$server")
    run_wrk "$server" "$PROFILED_PORT" "$PROFILED_PID" 32 "$READ_WARMUP" 0 "" "seq:$WARMUP_STEP"
    run_wrk "$server" "$PROFILED_PORT" "$PROFILED_PID" 32 5 0 ""
  done
  WRK_SECRET=$SECRET
}

# the secret key wrk sends to SERVER (profiled-defs reads the project with definitions,
# profiled-rec the one with a recommendation)
secret_of() {
  case "$1" in
    profiled-defs) echo "$DEFS_SECRET" ;;
    profiled-rec) echo "$RECS_SECRET" ;;
    *) echo "$SECRET" ;;
  esac
}

serve_store_and_nginx() { # start profiled on the read store and nginx with its response
  # the store's files into the page cache, so the first runs do not measure disk reads
  cat "$STORE"/*.sst >/dev/null 2>&1 || true
  start_profiled buffered "$STORE" "$SERVER_CPU" reads
  wait_rec_trained
  wait_idle "$PROFILED_PID" 300
  # one real response: a user in the middle of the store, whose amplitude_id has as many
  # digits as 90% of them
  local sample_user
  sample_user=$(printf 'u%07d' $((USERS / 2)))
  mkdir -p "$WORK/nginx/www/v1"
  curl -sf -H "Authorization: Api-Key $SECRET" \
    "http://127.0.0.1:$PROFILED_PORT/v1/userprofile?user_id=$sample_user" >"$WORK/nginx/www/v1/userprofile" ||
    { log "profiled does not answer for $sample_user; to rebuild the store: rm -rf $STORE $STORE.loaded.json"; exit 1; }
  start_nginx
  curl -sf "http://127.0.0.1:$NGINX_PORT/v1/userprofile?user_id=$sample_user" | cmp -s - "$WORK/nginx/www/v1/userprofile" ||
    { log "nginx does not serve the same body"; exit 1; }
  PROFILED_HEAD=$(curl -s -D - -o /dev/null -H "Authorization: Api-Key $SECRET" \
    "http://127.0.0.1:$PROFILED_PORT/v1/userprofile?user_id=$sample_user" | tr -d '\r')
  NGINX_HEAD=$(curl -s -D - -o /dev/null -H "Authorization: Api-Key $SECRET" \
    "http://127.0.0.1:$NGINX_PORT/v1/userprofile?user_id=$sample_user" | tr -d '\r')
  BODY_BYTES=$(wc -c <"$WORK/nginx/www/v1/userprofile")
}

bench_reads() {
  ensure_store
  ensure_rec_project
  serve_store_and_nginx
  say ""
  say "## Profile reads ($(date -u +%F) $(date -u +%TZ)): $USERS users, random user_id per request"
  say ""
  say "- wrk -t1 -c{${CONNS// /,}} -d${READ_SECONDS}s -s bench/profile.lua, $RUNS runs each, profiled and nginx alternating; warm-up: ${READ_WARMUP}s walking the users in order with step ${WARMUP_STEP}, then 5s random"
  say "- profiled: threads = 1, block_cache_mb = 2048, row_cache_mb = $ROW_CACHE_MB; nginx: 1 worker serving the same $BODY_BYTES-byte body from a file"
  say "- servers, alternating: $READ_SERVERS (profiled = project bench, no definitions; profiled-defs = project defs, $(basename "$DEFINITIONS") with 20 computations and 20 cohorts, same process and store)"
  say "- store: $(cat "$STORE.loaded.json")"
  if [ "$WITH_RECS" = 1 ]; then
    say "- profiled-rec = project recs, the same users and events, with the recommendation of $(basename "$REC_DEFINITIONS") (reads without get_recs); loaded: $(cat "$STORE.recs.loaded.json"); its model at start-up: $REC_TRAINING"
  fi
  machine_info | tee -a "$REPORT"
  say "- response headers, profiled: $(echo "$PROFILED_HEAD" | grep -v '^$' | tr '\n' '|' | sed 's/|$//; s/|/ | /g')"
  say "- response headers, nginx: $(echo "$NGINX_HEAD" | grep -v '^$' | tr '\n' '|' | sed 's/|$//; s/|/ | /g')"
  say ""
  warm_profiled
  run_wrk nginx "$NGINX_PORT" "$NGINX_WORKER" 32 5 0 ""
  local raw=$WORK/reads.jsonl c r server
  : >"$raw"
  for c in $CONNS; do
    for ((r = 1; r <= RUNS; r++)); do
      for server in $READ_SERVERS; do
        if [ "$server" = nginx ]; then
          run_wrk nginx "$NGINX_PORT" "$NGINX_WORKER" "$c" "$READ_SECONDS" "$r" "$raw"
        else
          WRK_SECRET=$(secret_of "$server")
          run_wrk "$server" "$PROFILED_PORT" "$PROFILED_PID" "$c" "$READ_SECONDS" "$r" "$raw"
          WRK_SECRET=$SECRET
        fi
      done
    done
  done
  stop_profiled
  kill -TERM "$NGINX_PID"
  wait "$NGINX_PID" || true
  say "$(node "$BENCH/summarize.mjs" reads "$raw")"
}

# --------------------------------------------------------------------------------- ingest

bench_ingest() {
  local raw=$WORK/ingest.jsonl mode r data out line probe attempt
  : >"$raw"
  probe=$(on_cpu "$SERVER_CPU" node "$BENCH/fsync_probe.mjs" --dir "$WORK" --seconds 3)
  say ""
  say "## Ingestion ($(date -u +%F) $(date -u +%TZ)): /2/httpapi, 100-event batches"
  say ""
  say "- node bench/ingest.mjs --conns $INGEST_CONNS --batch 100 --users-per-batch 10 --warmup $INGEST_WARMUP --duration $INGEST_SECONDS, $RUNS runs per durability, a fresh store each run"
  say "- profiled: threads = 1 (plus its writer and RocksDB threads, all on the server CPU)"
  machine_info | tee -a "$REPORT"
  say "- disk reference (bench/fsync_probe.mjs, 4 KiB write + fdatasync in a loop, one thread, $TMP_BASE): $probe"
  say ""
  for mode in fsync buffered; do
    for ((r = 1; r <= RUNS; r++)); do
      for ((attempt = 1; ; attempt++)); do
        data=$WORK/ingest-$mode-$r
        wait_quiet
        start_profiled "$mode" "$data" "$SERVER_CPU"
        out=$(on_cpu "$CLIENT_CPU" node "$BENCH/ingest.mjs" --url "http://127.0.0.1:$PROFILED_PORT" \
          --api-key "$API_KEY" --conns "$INGEST_CONNS" --batch 100 --users-per-batch 10 \
          --warmup "$INGEST_WARMUP" --duration "$INGEST_SECONDS" --server-pid "$PROFILED_PID")
        stop_profiled
        rm -rf "$data"
        line="{\"bench\":\"ingest\",\"stamp\":\"$STAMP\",\"durability\":\"$mode\",\"run\":$r,\"attempt\":$attempt,${out#\{}"
        keep_or_retry "$line" "$attempt" "ingest $mode run $r" && break
      done
      echo "$line" >>"$raw"
      echo "$line" >>"$HISTORY"
      log "ingest $mode run $r: $out"
    done
  done
  say "$(node "$BENCH/summarize.mjs" ingest "$raw")"
}

# ----------------------------------------------------------------------------------- perf

bench_perf() {
  command -v perf >/dev/null || { log "perf not found (apt-get install linux-perf)"; exit 1; }
  ensure_store
  ensure_rec_project
  cat "$STORE"/*.sst >/dev/null 2>&1 || true
  start_profiled buffered "$STORE" "$SERVER_CPU" reads
  wait_rec_trained
  wait_idle "$PROFILED_PID" 300
  warm_profiled
  WRK_SECRET=$(secret_of "${BENCH_PERF_SERVER:-profiled}")
  local secs=${BENCH_PERF_SECONDS:-15} data=$RESULTS/perf-reads-$STAMP.data out=$RESULTS/perf-reads-$STAMP.txt
  perf record -F 999 --call-graph "${BENCH_PERF_CALLGRAPH:-fp}" -p "$PROFILED_PID" -o "$data" -- sleep "$secs" 2>"$WORK/perf.log" &
  local perf_pid=$!
  run_wrk "${BENCH_PERF_SERVER:-profiled}" "$PROFILED_PORT" "$PROFILED_PID" 32 "$secs" 0 ""
  WRK_SECRET=$SECRET
  wait "$perf_pid" || true
  stop_profiled
  {
    echo "# perf record -F 999 --call-graph ${BENCH_PERF_CALLGRAPH:-fp} of profiled (threads = 1) under wrk -c32, $USERS users, $STAMP"
    echo "## by shared object"
    perf report -i "$data" --no-children --sort dso --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -15
    echo "## by symbol (self time)"
    perf report -i "$data" --no-children --sort dso,symbol --stdio -g none --percent-limit 0.3 2>/dev/null |
      grep -v "^#" | grep -v "^$" | sed -E "s/[[:space:]]+(-[[:space:]]+)*$//" | head -60
    echo "## inclusive (self + callees), functions >= 2% (meaningful with BENCH_PERF_CALLGRAPH=dwarf)"
    perf report -i "$data" --children --sort symbol --stdio -g none --percent-limit 2 2>/dev/null |
      grep -v "^#" | grep -v "^$" | sed -E "s/[[:space:]]+(-[[:space:]]+)*$//" | head -80
  } | tee "$out"
  log "perf report saved to $out"
}

case "$CMD" in
  load)
    ensure_store
    ensure_rec_project
    ;;
  reads) bench_reads ;;
  ingest) bench_ingest ;;
  all)
    bench_reads
    bench_ingest
    ;;
  perf) bench_perf ;;
esac
if [ "$CMD" != load ] && [ "$CMD" != perf ]; then log "report appended to $REPORT"; fi
