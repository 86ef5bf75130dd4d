#!/usr/bin/env bash
# profiled on Redis Cluster (issue 8, "Speed and scale"), in one run, side by side with what
# the same cluster does for redis-benchmark and with profiled on RocksDB. Prints figures and
# asserts nothing.
#
#   bench/cluster.sh
#
# What it does, in this order:
#   1. starts a local cluster (scripts/redis-cluster.sh: 3 primaries + 3 replicas, AOF with
#      appendfsync always) and a profiled node on it (backend "redis-cluster",
#      redis_wait_replicas = BENCH_REDIS_WAIT_REPLICAS), and a profiled on RocksDB;
#   2. loads BENCH_USERS users into each through POST /batch (bench/load_users.mjs, 20
#      properties per user, BENCH_LOAD_EVENTS tracked events each), timing both loads;
#   3. memory: used_memory and DBSIZE of the primaries before and after the load (per user),
#      and every key of the store grouped by table, with MEMORY USAGE, payload bytes and
#      field counts of a sample of each group (bench/cluster_keys.mjs);
#   4. Redis work per read and per ingested event: INFO commandstats (calls summed over the
#      primaries; commands that scripts run are counted too) and INFO stats network bytes
#      before and after BENCH_OPS_READS random reads (bench/read_requests.mjs, 8 connections)
#      and BENCH_OPS_BODIES bodies of 100 events (bench/ingest_requests.mjs: 10 new users per
#      body, the shape of the ingest benchmark), minus the idle background (lease renewals)
#      measured over 10 s; and MONITOR on every primary during the same batches, which tells
#      the commands profiled sent from those that its Lua scripts ran;
#   5. BENCH_RUNS rounds, interleaved: for each connection count of BENCH_CONNS, wrk with
#      bench/profile.lua (random user per request) against profiled on the cluster, then
#      `redis-benchmark --cluster -t get` on the same cluster (-c the same, -d the mean stored
#      payload of a user hash from step 3, -r BENCH_USERS keys, no pipelining), then wrk
#      against profiled on RocksDB, then `redis-benchmark -t set`; then bench/ingest.mjs
#      (BENCH_INGEST_CONNS connections, 100-event bodies) against profiled on the cluster
#      and against a fresh profiled on RocksDB with durability "fsync";
#   6. prints the tables (bench/cluster_summarize.mjs): medians over the rounds and ratios.
#
# redis-benchmark has no duration option: its -n per (test, -c) is calibrated once, before
# the rounds, from a short run, to last about BENCH_READ_SECONDS, and stays fixed. Before the
# rounds the SET test fills the BENCH_USERS keys GET reads.
#
# Any non-2xx answer, client error, or warn/error line on a profiled's stderr is reported:
# the wrk error counts per run, the bodies of failed answers (a capture pass with
# bench/read_requests.mjs after a read run with errors, the first failed body of
# bench/ingest.mjs) and the server's stderr lines, verbatim.
#
# Needs: build/profiled, node >= 18, wrk, redis-server, redis-cli, redis-benchmark (Debian's
# redis-tools 7), taskset. Writes bench/results/cluster-<stamp>.md (the report) and
# cluster-<stamp>.jsonl (every measurement) and prints the report. Processes it starts (the
# cluster, the profiled servers, MONITOR clients) are stopped on exit, also on failure.
#
# Knobs (environment):
#   BENCH_USERS=20000        users loaded into each store
#   BENCH_LOAD_EVENTS=0      tracked events per loaded user (bench/load_users.mjs --events)
#   BENCH_RUNS=3             rounds (tables show medians)
#   BENCH_CONNS="1 8 32"     connection counts of the read benchmarks (wrk -c, redis-benchmark -c)
#   BENCH_READ_SECONDS=10    per wrk run (and the target length of a redis-benchmark run)
#   BENCH_READ_WARMUP=5      s of wrk before the rounds, per profiled
#   BENCH_INGEST_CONNS=32  BENCH_INGEST_SECONDS=20  BENCH_INGEST_WARMUP=5   (RocksDB, as bench/run.sh)
#   BENCH_CLUSTER_INGEST_SECONDS=60  BENCH_CLUSTER_INGEST_WARMUP=15   on the cluster: its answers
#                            come in bursts (a commit group of every request in flight, several
#                            seconds apart), so a short window would count too few bursts
#   BENCH_LOAD_CONNS=4       connections of the loader
#   BENCH_THREADS=1          profiled's [server] threads, both backends
#   BENCH_INGEST=1           0: leave the ingestion runs out of the rounds (reads only)
#   BENCH_REDIS_WAIT_REPLICAS=1   redis_wait_replicas of the cluster node
#   BENCH_READ_THREADS=0          redis_read_threads of the cluster node (0: 4 per I/O thread)
#   BENCH_OPS_READS=2000  BENCH_OPS_BODIES=20   the batches step 4 measures
#   BENCH_MEM_SAMPLE=200     keys sampled per group in step 3
#   BENCH_SERVER_CPU=0  BENCH_CLIENT_CPU=1   taskset pinning of profiled / of the clients
#                            ("" = none); the Redis servers are not pinned
#   BENCH_QUIET_WAIT=10  BENCH_QUIET_PCT=25   before each measured run, wait up to 10 s for
#                            the rest of the machine to use <= 25% of a core
#   BENCH_NOISY_PCT=40  BENCH_ATTEMPTS=1   with ATTEMPTS > 1, repeat a run when the rest of the
#                            machine (not profiled, not Redis, not the client) used > 40% of a
#                            core (the kernel's work for Redis's fsyncs counts as "rest" too, so
#                            the default keeps every run; the tables show what the rest used)
#   BENCH_TMP=/tmp           where the cluster and the stores go
#   PROFILED_BIN=build/profiled
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
BIN_SRC=${PROFILED_BIN:-$ROOT/build/profiled}
RESULTS=$BENCH/results
USERS=${BENCH_USERS:-20000}
LOAD_EVENTS=${BENCH_LOAD_EVENTS:-0}
RUNS=${BENCH_RUNS:-3}
CONNS=${BENCH_CONNS:-1 8 32}
READ_SECONDS=${BENCH_READ_SECONDS:-10}
READ_WARMUP=${BENCH_READ_WARMUP:-5}
INGEST_CONNS=${BENCH_INGEST_CONNS:-32}
INGEST_SECONDS=${BENCH_INGEST_SECONDS:-20}
INGEST_WARMUP=${BENCH_INGEST_WARMUP:-5}
CLUSTER_INGEST_SECONDS=${BENCH_CLUSTER_INGEST_SECONDS:-60}
CLUSTER_INGEST_WARMUP=${BENCH_CLUSTER_INGEST_WARMUP:-15}
LOAD_CONNS=${BENCH_LOAD_CONNS:-4}
THREADS=${BENCH_THREADS:-1}
WITH_INGEST=${BENCH_INGEST:-1}
WAIT_REPLICAS=${BENCH_REDIS_WAIT_REPLICAS:-1}
READ_THREADS=${BENCH_READ_THREADS:-0}
OPS_READS=${BENCH_OPS_READS:-2000}
OPS_BODIES=${BENCH_OPS_BODIES:-20}
MEM_SAMPLE=${BENCH_MEM_SAMPLE:-200}
SERVER_CPU=${BENCH_SERVER_CPU-0}
CLIENT_CPU=${BENCH_CLIENT_CPU-1}
QUIET_WAIT=${BENCH_QUIET_WAIT:-10}
QUIET_PCT=${BENCH_QUIET_PCT:-25}
NOISY_PCT=${BENCH_NOISY_PCT:-40}
ATTEMPTS=${BENCH_ATTEMPTS:-1}
TMP_BASE=${BENCH_TMP:-/tmp}
API_KEY=bench-key
SECRET=bench-secret

case "${1:-}" in
  "") ;;
  -h | --help)
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "usage: bench/cluster.sh (settings are environment variables: bench/cluster.sh --help)" >&2
    exit 2
    ;;
esac

for tool in node wrk redis-server redis-cli redis-benchmark taskset curl; do
  command -v "$tool" >/dev/null || { echo "bench: $tool not found" >&2; exit 1; }
done
[ -x "$BIN_SRC" ] || { echo "bench: $BIN_SRC not built" >&2; exit 1; }
if [ "$(nproc)" -lt 2 ]; then SERVER_CPU="" CLIENT_CPU=""; fi

T_START=$(date +%s)
mkdir -p "$RESULTS"
WORK=$(mktemp -d "$TMP_BASE/profiled-cluster-bench.XXXXXX")
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
REPORT=$RESULTS/cluster-$STAMP.md
RAW=$RESULTS/cluster-$STAMP.jsonl
CLK_TCK=$(getconf CLK_TCK)
CLUSTER=$WORK/cluster
STARTED_PIDS=()
CLUSTER_STARTED=0
: >"$RAW"

cleanup() {
  local pid
  for pid in "${STARTED_PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  if [ "$CLUSTER_STARTED" = 1 ]; then "$ROOT/scripts/redis-cluster.sh" stop "$CLUSTER" || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

BIN=$WORK/profiled # a private copy: a rebuild of build/profiled during the run changes nothing
for ((i = 0; i < 30; i++)); do
  cp "$BIN_SRC" "$BIN" && "$BIN" --help >/dev/null 2>&1 && break
  sleep 2
done
BIN_SHA=$(sha256sum "$BIN" | cut -c1-12)

log() { echo "bench: $*" >&2; }
say() { echo "$*" >>"$REPORT"; }
record() { echo "$1" >>"$RAW"; }
now() { date +%s.%N; }

on_cpu() { # on_cpu CPU cmd...: pinned to CPU, or unpinned when CPU is empty
  local cpu=$1
  shift
  if [ -n "$cpu" ]; then taskset -c "$cpu" "$@"; else "$@"; fi
}

# ---------------------------------------------------------------------------- CPU shares

ticks_of() { # user+system CPU ticks of the processes (0 for those that are gone)
  local t=0 p v
  for p in "$@"; do
    [ -n "$p" ] || continue
    v=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null) || v=0
    t=$((t + ${v:-0}))
  done
  echo "$t"
}

children_seconds() { # CHILD_S = CPU seconds of this shell's waited-for children
  times >"$WORK/times"
  CHILD_S=$(awk 'NR == 2 { s = 0; for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); s += t[1] * 60 + t[2] } printf "%.3f", s }' "$WORK/times")
}

machine_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }

# measure_begin PROFILED_PID|"" ... measure_end: CPU use in % of one core of profiled, of the
# Redis servers, of the client (children of this shell started in between) and of the rest
# of the machine -> MEASURED (JSON members) and OTHERS_PCT.
measure_begin() {
  M_PID=$1
  M_LOAD=$(cut -d' ' -f1 /proc/loadavg)
  M_PROF=$(ticks_of "$M_PID")
  M_REDIS=$(ticks_of "${REDIS_PIDS[@]}")
  children_seconds
  M_CLIENT=$CHILD_S
  M_BUSY=$(machine_busy)
  M_T=$(now)
}

measure_end() {
  local t prof redis busy
  t=$(now)
  prof=$(ticks_of "$M_PID")
  redis=$(ticks_of "${REDIS_PIDS[@]}")
  children_seconds
  busy=$(machine_busy)
  MEASURED=$(awk -v hz="$CLK_TCK" -v wall="$(awk -v a="$M_T" -v b="$t" 'BEGIN { print b - a }')" \
    -v p="$((prof - M_PROF))" -v r="$((redis - M_REDIS))" -v c0="$M_CLIENT" -v c1="$CHILD_S" \
    -v b="$((busy - M_BUSY))" -v load="$M_LOAD" 'BEGIN {
      p /= hz; r /= hz; c = c1 - c0; o = b / hz - p - r - c; if (o < 0) o = 0
      printf "\"profiled_cpu_pct\":%.1f,\"redis_cpu_pct\":%.1f,\"client_cpu_pct\":%.1f,\"others_cpu_pct\":%.1f,\"load1\":%s",
        100 * p / wall, 100 * r / wall, 100 * c / wall, 100 * o / wall, load }')
  OTHERS_PCT=$(sed -n 's/.*"others_cpu_pct":\([0-9.]*\).*/\1/p' <<<"$MEASURED")
}

wait_quiet() { # up to QUIET_WAIT s until the machine uses <= QUIET_PCT % of a core over 2 s
  local waited=0 b0 b1 pct
  [ "$QUIET_WAIT" -gt 0 ] || return 0
  for (( ; ; )); do
    b0=$(machine_busy)
    sleep 2
    b1=$(machine_busy)
    pct=$(((b1 - b0) * 100 / CLK_TCK / 2))
    [ "$pct" -le "$QUIET_PCT" ] && return 0
    waited=$((waited + 2))
    if [ "$waited" -ge "$QUIET_WAIT" ]; then
      log "the machine is busy (${pct}% of a core); measuring anyway"
      return 0
    fi
  done
}

noisy() { # noisy ATTEMPT: the rest of the machine used > NOISY_PCT and another attempt is allowed
  awk -v o="${OTHERS_PCT:-0}" -v l="$NOISY_PCT" 'BEGIN { exit !(o > l) }' && [ "$1" -lt "$ATTEMPTS" ]
}

# -------------------------------------------------------------------------------- servers

# profiled stderr lines that are not "info", new since the last call for that log
# (LOG_SEEN[file] = lines already looked at) -> appended to $WORK/server-lines.txt with a tag
declare -A LOG_SEEN
check_server_log() { # check_server_log LOGFILE WHAT
  local f=$1 what=$2 n seen
  n=$(wc -l <"$f")
  seen=${LOG_SEEN[$f]:-0}
  if [ "$n" -gt "$seen" ]; then
    sed -n "$((seen + 1)),${n}p" "$f" | grep -v '^[0-9T:.-]*Z info ' | sed "s|^|[$what] |" >>"$WORK/server-lines.txt" || true
  fi
  LOG_SEEN[$f]=$n
}

# start_profiled NAME CONFIG_BODY DATA_DIR -> PID_<NAME>, PORT_<NAME>, $WORK/NAME.log
PID_redis="" PORT_redis="" PID_rocksdb="" PORT_rocksdb="" PID_ingest="" PORT_ingest=""
start_profiled() {
  local name=$1 body=$2 data=$3 conf=$WORK/$1.toml logf=$WORK/$1.log pid port="" i
  printf '[server]\nlisten = "127.0.0.1:0"\nthreads = %s\n%s\n[[projects]]\nid = "bench"\napi_key = "%s"\nsecret_key = "%s"\n' \
    "$THREADS" "$body" "$API_KEY" "$SECRET" >"$conf"
  mkdir -p "$data"
  : >"$logf"
  LOG_SEEN[$logf]=0
  local pin=()
  if [ -n "$SERVER_CPU" ]; then pin=(taskset -c "$SERVER_CPU"); fi
  # listen on port 0: the kernel picks a free port, which the log names
  "${pin[@]}" "$BIN" serve --config "$conf" --listen 127.0.0.1:0 --data-dir "$data" 2>"$logf" &
  pid=$!
  STARTED_PIDS+=("$pid")
  for ((i = 0; i < 600; i++)); do
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$logf" | head -1)
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$logf" >&2; log "profiled ($name) did not start"; exit 1; }
    sleep 0.1
  done
  [ -n "$port" ] || { cat "$logf" >&2; log "profiled ($name) did not report its port"; exit 1; }
  printf -v "PID_$name" '%s' "$pid"
  printf -v "PORT_$name" '%s' "$port"
}

stop_profiled() { # stop_profiled NAME: SIGTERM, wait; a non-zero exit is reported
  local name=$1 pidvar="PID_$1" rc=0
  kill -TERM "${!pidvar}" 2>/dev/null || true
  wait "${!pidvar}" || rc=$?
  check_server_log "$WORK/$name.log" "$name"
  if [ "$rc" -ne 0 ]; then
    echo "[$name] exited with status $rc" >>"$WORK/server-lines.txt"
    log "profiled ($name) exited with $rc"
  fi
}

alive() { # alive NAME: still running, or the log says how it ended
  local pidvar="PID_$1"
  kill -0 "${!pidvar}" 2>/dev/null && return 0
  echo "[$1] died; its stderr:" >>"$WORK/server-lines.txt"
  sed "s|^|[$1] |" "$WORK/$1.log" >>"$WORK/server-lines.txt"
  log "profiled ($1) is no longer running; its stderr:"
  cat "$WORK/$1.log" >&2
  return 1
}

ROCKS_READ_CONF='[storage]
durability = "buffered"
block_cache_mb = 2048
row_cache_mb = 3072'

# --------------------------------------------------------------------------------- Redis

PRIMARIES=()
find_primaries() {
  local p
  PRIMARIES=()
  for p in $(cut -d: -f2 "$CLUSTER/nodes.txt"); do
    if redis-cli -p "$p" info replication | tr -d '\r' | grep -q '^role:master'; then PRIMARIES+=("$p"); fi
  done
}

# redis_snapshot FILE: "name value" lines per primary (summed by redis_delta): cmd.<command>
# calls, net_in / net_out (clients), repl_out (to replicas), used_memory, keys, and mem.<name>
# of MEMORY STATS (dataset.bytes, the overheads)
redis_snapshot() {
  local p
  : >"$1"
  for p in "${PRIMARIES[@]}"; do
    {
      redis-cli -p "$p" info commandstats
      redis-cli -p "$p" info stats
      redis-cli -p "$p" info memory
      echo "dbsize:$(redis-cli -p "$p" dbsize)"
      redis-cli -p "$p" memory stats | sed 's/^/memstats:/' # name and value on alternate lines
    } | tr -d '\r' | awk -F'[:,=]' '
      BEGIN { split("dataset.bytes overhead.total replication.backlog clients.normal clients.slaves aof.buffer lua.caches cluster.links overhead.hashtable.main overhead.hashtable.expires", w, " "); for (i in w) want[w[i]] = 1 }
      $1 == "memstats" { if (prev in want) print "mem." prev, $2; prev = $2; next }
      /^cmdstat_/ { sub(/^cmdstat_/, "", $1); print "cmd." $1, $3 }
      $1 == "total_net_input_bytes" { print "net_in", $2 }
      $1 == "total_net_output_bytes" { print "net_out", $2 }
      $1 == "total_net_repl_output_bytes" { print "repl_out", $2 }
      $1 == "used_memory" { print "used_memory", $2 }
      $1 == "dbsize" { print "keys", $2 }' >>"$1"
  done
}

# redis_delta A B [SECONDS_TO_SUBTRACT_OF_IDLE]: JSON object of B - A summed over the primaries,
# the snapshots' own INFO/DBSIZE left out, minus the idle background rate ($WORK/idle.rates)
# times the seconds given
redis_delta() {
  awk -v sub_s="${3:-0}" -v idle="$WORK/idle.rates" '
    BEGIN { if (sub_s > 0) while ((getline line < idle) > 0) { split(line, f, " "); rate[f[1]] = f[2] } }
    FILENAME == ARGV[1] { a[$1] += $2; next }
    { b[$1] += $2 }
    END {
      out = ""
      for (k in b) {
        if (k == "cmd.info" || k == "cmd.dbsize" || k == "cmd.monitor" || k == "cmd.memory|stats") continue
        d = b[k] - a[k] - rate[k] * sub_s
        if (k ~ /^cmd\./ && d < 0.5) continue
        out = out (out == "" ? "" : ",") sprintf("\"%s\":%.0f", k, d)
      }
      print "{" out "}"
    }' "$1" "$2"
}

# MONITOR on every primary around a batch: commands sent by clients vs run by scripts ("lua")
monitor_start() {
  local p i
  MONITOR_PIDS=()
  for p in "${PRIMARIES[@]}"; do
    redis-cli -p "$p" monitor >"$WORK/monitor-$p.txt" 2>&1 &
    MONITOR_PIDS+=("$!")
    STARTED_PIDS+=("$!")
  done
  for p in "${PRIMARIES[@]}"; do # MONITOR answers OK once it is on
    for ((i = 0; i < 50; i++)); do
      grep -q '^OK' "$WORK/monitor-$p.txt" 2>/dev/null && break
      sleep 0.1
    done
  done
}

monitor_stop() { # -> JSON {"client":{cmd:n},"script":{cmd:n}} from the MONITOR lines
  local pid p
  sleep 0.3
  for pid in "${MONITOR_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  for p in "${PRIMARIES[@]}"; do cat "$WORK/monitor-$p.txt"; done | awk '
    /^[0-9]+\.[0-9]+ \[/ {
      src = ($3 == "lua]") ? "script" : "client"
      match($0, /\] "[^"]*"/); cmd = tolower(substr($0, RSTART + 3, RLENGTH - 4))
      n[src "\t" cmd]++
    }
    END {
      for (k in n) { split(k, f, "\t"); s[f[1]] = s[f[1]] (s[f[1]] == "" ? "" : ",") sprintf("\"%s\":%d", f[2], n[k]) }
      printf "{\"client\":{%s},\"script\":{%s}}\n", s["client"], s["script"]
    }'
}

# ---------------------------------------------------------------------------- measurements

# run_wrk TARGET PORT PID CONNS SECONDS ROUND [record]
run_wrk() {
  local target=$1 port=$2 pid=$3 conns=$4 secs=$5 round=$6 rec=${7:-} out result attempt line
  for ((attempt = 1; ; attempt++)); do
    [ -n "$rec" ] && wait_quiet
    measure_begin "$pid"
    out=$(on_cpu "$CLIENT_CPU" wrk -t1 -c"$conns" -d"${secs}s" --timeout 5s -s "$BENCH/profile.lua" \
      "http://127.0.0.1:$port" -- "$USERS" "$SECRET")
    measure_end
    result=$(sed -n 's/^RESULT //p' <<<"$out")
    [ -n "$result" ] || { echo "$out" >&2; log "wrk printed no result"; exit 1; }
    line="{\"bench\":\"cluster\",\"kind\":\"read\",\"target\":\"$target\",\"conns\":$conns,\"round\":$round,\"attempt\":$attempt,$MEASURED,${result#\{}"
    if [ -z "$rec" ]; then
      log "warm-up $target c=$conns: $(node -e 'const r=JSON.parse(process.argv[1]);console.log(Math.round(r.rps)+" req/s")' "$line")"
      return 0
    fi
    noisy "$attempt" || break
    log "$target c=$conns round $round: others used ${OTHERS_PCT}% of a core; repeating"
    record "${line%\}},\"discarded\":true}"
  done
  record "$line"
  log "$target c=$conns round $round: $(node -e 'const r=JSON.parse(process.argv[1]);console.log(`${Math.round(r.rps)} req/s p50 ${r.p50_ms} p99 ${r.p99_ms} ms; CPU % profiled ${r.profiled_cpu_pct} redis ${r.redis_cpu_pct} client ${r.client_cpu_pct} others ${r.others_cpu_pct}; errors ${r.errors_connect+r.errors_read+r.errors_write+r.errors_status+r.errors_timeout}`)' "$line")"
  local errs
  errs=$(node -e 'const r=JSON.parse(process.argv[1]);console.log(r.errors_connect+r.errors_read+r.errors_write+r.errors_status+r.errors_timeout)' "$line")
  check_server_log "$WORK/${target#profiled-}.log" "${target#profiled-}"
  if [ "$errs" != 0 ]; then
    # wrk counts failures but keeps no bodies: send reads again and keep what fails
    echo "[$target c=$conns round $round] wrk: $(sed -n 's/.*\("errors_connect".*\)}/\1/p' <<<"$line")" >>"$WORK/client-lines.txt"
    node "$BENCH/read_requests.mjs" --url "http://127.0.0.1:$port" --secret "$SECRET" --users "$USERS" \
      --n 2000 --conns "$conns" --seed "$round" >>"$WORK/client-lines.txt" 2>&1 || true
  fi
}

# run_redis_bench TEST CONNS N ROUND [record] -> RB_RPS
run_redis_bench() {
  local test=$1 conns=$2 n=$3 round=$4 rec=${5:-} out row attempt line
  for ((attempt = 1; ; attempt++)); do
    [ -n "$rec" ] && wait_quiet
    measure_begin ""
    out=$(on_cpu "$CLIENT_CPU" redis-benchmark --cluster -h 127.0.0.1 -p "$SEED_PORT" -c "$conns" -n "$n" \
      -d "$VALUE_BYTES" -r "$USERS" -P 1 -t "$test" --csv 2>&1)
    measure_end
    row=$(grep -i "^\"$test\"," <<<"$out" | tail -1 | tr -d '"')
    [ -n "$row" ] || { echo "$out" >&2; log "redis-benchmark printed no $test row"; exit 1; }
    if grep -qi 'error' <<<"$out"; then
      echo "[redis-benchmark $test c=$conns round $round] $(grep -i error <<<"$out" | head -5)" >>"$WORK/client-lines.txt"
    fi
    line=$(awk -F, -v t="redis-$test" -v c="$conns" -v r="$round" -v a="$attempt" -v n="$n" -v d="$VALUE_BYTES" -v m="$MEASURED" '{
      printf "{\"bench\":\"cluster\",\"kind\":\"read\",\"target\":\"%s\",\"conns\":%d,\"round\":%d,\"attempt\":%d,%s,\"requests\":%d,\"value_bytes\":%d,\"rps\":%s,\"mean_ms\":%s,\"p50_ms\":%s,\"p99_ms\":%s,\"max_ms\":%s}",
        t, c, r, a, m, n, d, $2, $3, $5, $7, $8 }' <<<"$row")
    RB_RPS=$(cut -d, -f2 <<<"$row")
    [ -n "$rec" ] || return 0
    noisy "$attempt" || break
    log "redis-$test c=$conns round $round: others used ${OTHERS_PCT}% of a core; repeating"
    record "${line%\}},\"discarded\":true}"
  done
  record "$line"
  log "redis-$test c=$conns round $round: $RB_RPS req/s; $MEASURED"
}

# run_ingest TARGET ROUND
run_ingest() {
  local target=$1 round=$2 port pid out line attempt errf=$WORK/ingest.err secs=$INGEST_SECONDS warm=$INGEST_WARMUP
  if [ "$target" = profiled-redis ]; then secs=$CLUSTER_INGEST_SECONDS warm=$CLUSTER_INGEST_WARMUP; fi
  for ((attempt = 1; ; attempt++)); do
    wait_quiet
    if [ "$target" = profiled-rocksdb ]; then
      rm -rf "$WORK/rocks-ingest"
      start_profiled ingest '[storage]
durability = "fsync"' "$WORK/rocks-ingest"
      port=$PORT_ingest pid=$PID_ingest
    else
      port=$PORT_redis pid=$PID_redis
    fi
    measure_begin "$pid"
    out=$(on_cpu "$CLIENT_CPU" node "$BENCH/ingest.mjs" --url "http://127.0.0.1:$port" --api-key "$API_KEY" \
      --conns "$INGEST_CONNS" --batch 100 --users-per-batch 10 --warmup "$warm" \
      --duration "$secs" --server-pid "$pid" 2>"$errf")
    measure_end
    if [ -s "$errf" ]; then sed "s|^|[$target round $round] |" "$errf" >>"$WORK/client-lines.txt"; fi
    if [ "$target" = profiled-rocksdb ]; then
      stop_profiled ingest
      rm -rf "$WORK/rocks-ingest"
    else
      check_server_log "$WORK/redis.log" redis
    fi
    # ingest.mjs's CPU shares cover its measured window (its "others" include Redis); the
    # whole invocation's (warm-up included) are in "whole"
    line="{\"bench\":\"cluster\",\"kind\":\"ingest\",\"target\":\"$target\",\"round\":$round,\"attempt\":$attempt,\"whole\":{$MEASURED},${out#\{}"
    noisy "$attempt" || break
    log "ingest $target round $round: others used ${OTHERS_PCT}% of a core; repeating"
    record "${line%\}},\"discarded\":true}"
  done
  record "$line"
  log "ingest $target round $round: $out"
}

# ------------------------------------------------------------------------------------ run

log "starting a Redis Cluster in $CLUSTER"
CLUSTER_STARTED=1
"$ROOT/scripts/redis-cluster.sh" start "$CLUSTER" --owner $$ >/dev/null
REDIS_PIDS=()
for f in "$CLUSTER"/node-*/redis.pid; do REDIS_PIDS+=("$(cat "$f")"); done
find_primaries
SEED_PORT=${PRIMARIES[0]}
REDIS_NODES=$(sed 's/.*/"&"/' "$CLUSTER/nodes.txt" | paste -sd, -)
log "primaries: ${PRIMARIES[*]}; redis pids: ${REDIS_PIDS[*]}"
redis_snapshot "$WORK/snap-empty"

start_profiled redis "[storage]
backend = \"redis-cluster\"
redis_nodes = [$REDIS_NODES]
redis_wait_replicas = $WAIT_REPLICAS
redis_read_threads = $READ_THREADS" "$WORK/redis-data"
start_profiled rocksdb "$ROCKS_READ_CONF" "$WORK/rocks-read"
log "profiled on the cluster: port $PORT_redis; on RocksDB: port $PORT_rocksdb"

# -- load
redis_snapshot "$WORK/snap-before-load"
for target in redis rocksdb; do
  port_var="PORT_$target"
  log "loading $USERS users ($LOAD_EVENTS events each) into profiled-$target"
  out=$(node "$BENCH/load_users.mjs" --url "http://127.0.0.1:${!port_var}" --api-key "$API_KEY" \
    --users "$USERS" --events "$LOAD_EVENTS" --conns "$LOAD_CONNS" 2>"$WORK/load-$target.err") ||
    { cat "$WORK/load-$target.err" >&2; check_server_log "$WORK/$target.log" "$target"; cat "$WORK/server-lines.txt" >&2 2>/dev/null || true; log "the load into profiled-$target failed"; exit 1; }
  grep -v '^load: ' "$WORK/load-$target.err" | sed "s|^|[load profiled-$target] |" >>"$WORK/client-lines.txt" || true
  check_server_log "$WORK/$target.log" "$target"
  record "{\"bench\":\"cluster\",\"kind\":\"load\",\"target\":\"profiled-$target\",${out#\{}"
  log "loaded profiled-$target: $out"
done
redis_snapshot "$WORK/snap-after-load"
record "{\"bench\":\"cluster\",\"kind\":\"load_delta\",\"users\":$USERS,\"delta\":$(redis_delta "$WORK/snap-before-load" "$WORK/snap-after-load"),\"empty_used_memory\":$(awk '$1 == "used_memory" { s += $2 } END { print s }' "$WORK/snap-before-load")}"

# one real response from each backend (same user, same loader: the bodies should match)
SAMPLE_USER=$(printf 'u%07d' $((USERS / 2)))
for target in redis rocksdb; do
  port_var="PORT_$target"
  curl -s -H "Authorization: Api-Key $SECRET" -o "$WORK/sample-$target.json" -w '%{http_code}' \
    "http://127.0.0.1:${!port_var}/v1/userprofile?user_id=$SAMPLE_USER" >"$WORK/sample-$target.status"
done
record "{\"bench\":\"cluster\",\"kind\":\"sample\",\"user\":\"$SAMPLE_USER\",\"redis_status\":$(cat "$WORK/sample-redis.status"),\"redis_bytes\":$(wc -c <"$WORK/sample-redis.json"),\"rocksdb_status\":$(cat "$WORK/sample-rocksdb.status"),\"rocksdb_bytes\":$(wc -c <"$WORK/sample-rocksdb.json"),\"same_body\":$(cmp -s "$WORK/sample-redis.json" "$WORK/sample-rocksdb.json" && echo true || echo false)}"

# -- memory: every key, grouped, with a sample of each group
log "scanning the cluster's keys (MEMORY USAGE of $MEM_SAMPLE per group)"
keys_json=$(node "$BENCH/cluster_keys.mjs" --nodes "$(paste -sd, "$CLUSTER/nodes.txt")" --sample "$MEM_SAMPLE")
record "{\"bench\":\"cluster\",\"kind\":\"keys\",\"users\":$USERS,${keys_json#\{}"
VALUE_BYTES=$(node -e 'const j=JSON.parse(process.argv[1]); console.log(j.groups.u ? j.groups.u.payload_mean : 600)' "$keys_json")
log "mean stored payload of a user hash: $VALUE_BYTES bytes (redis-benchmark -d)"

# -- Redis work per read and per event
log "Redis commands and bytes per read ($OPS_READS reads) and per event ($OPS_BODIES x 100 events)"
redis_snapshot "$WORK/snap-idle-0"
sleep 10
redis_snapshot "$WORK/snap-idle-1"
awk 'FILENAME == ARGV[1] { a[$1] += $2; next } { b[$1] += $2 } END { for (k in b) if (k != "cmd.info" && k != "cmd.dbsize" && k != "cmd.memory|stats") printf "%s %.4f\n", k, (b[k] - a[k]) / 10 }' \
  "$WORK/snap-idle-0" "$WORK/snap-idle-1" >"$WORK/idle.rates"
record "{\"bench\":\"cluster\",\"kind\":\"idle\",\"seconds\":10,\"delta\":$(redis_delta "$WORK/snap-idle-0" "$WORK/snap-idle-1")}"

ops_pass() { # ops_pass KIND COUNT CMD...: snapshots and MONITOR around CMD
  local kind=$1 count=$2 t0 t1 mon out rc=0
  shift 2
  redis_snapshot "$WORK/snap-ops-0"
  monitor_start
  t0=$(now)
  out=$("$@" 2>"$WORK/ops.err") || rc=$?
  t1=$(now)
  mon=$(monitor_stop)
  redis_snapshot "$WORK/snap-ops-1"
  if [ -s "$WORK/ops.err" ]; then sed "s|^|[$kind pass] |" "$WORK/ops.err" >>"$WORK/client-lines.txt"; fi
  [ "$rc" = 0 ] || echo "[$kind pass] client exited $rc: $out" >>"$WORK/client-lines.txt"
  local secs
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a + 0.3 }')
  record "{\"bench\":\"cluster\",\"kind\":\"$kind\",\"count\":$count,\"seconds\":$secs,\"client\":${out:-null},\"delta\":$(redis_delta "$WORK/snap-ops-0" "$WORK/snap-ops-1" "$secs"),\"monitor\":$mon}"
  check_server_log "$WORK/redis.log" redis
}
ops_pass ops_read "$OPS_READS" node "$BENCH/read_requests.mjs" --url "http://127.0.0.1:$PORT_redis" \
  --secret "$SECRET" --users "$USERS" --n "$OPS_READS" --conns 8
ops_pass ops_ingest "$((OPS_BODIES * 100))" node "$BENCH/ingest_requests.mjs" --url "http://127.0.0.1:$PORT_redis" \
  --api-key "$API_KEY" --bodies "$OPS_BODIES"

# -- warm-up, and redis-benchmark's keys and request counts
run_wrk profiled-redis "$PORT_redis" "$PID_redis" 32 "$READ_WARMUP" 0
run_wrk profiled-rocksdb "$PORT_rocksdb" "$PID_rocksdb" 32 "$READ_WARMUP" 0
log "filling redis-benchmark's $USERS keys ($VALUE_BYTES-byte values)"
run_redis_bench set 32 $((USERS * 3)) 0
declare -A RB_N
for c in $CONNS; do
  for test in get set; do
    n=1000
    [ "$test" = get ] && n=5000
    run_redis_bench "$test" "$c" "$n" 0
    RB_N[$test-$c]=$(awk -v r="$RB_RPS" -v s="$READ_SECONDS" 'BEGIN { n = int(r * s); if (n < 1000) n = 1000; print n }')
    log "redis-benchmark $test -c $c: ${RB_N[$test-$c]} requests per run (calibrated at $RB_RPS/s)"
  done
done

# -- the rounds
for ((r = 1; r <= RUNS; r++)); do
  for c in $CONNS; do
    run_wrk profiled-redis "$PORT_redis" "$PID_redis" "$c" "$READ_SECONDS" "$r" record
    run_redis_bench get "$c" "${RB_N[get-$c]}" "$r" record
    run_wrk profiled-rocksdb "$PORT_rocksdb" "$PID_rocksdb" "$c" "$READ_SECONDS" "$r" record
    run_redis_bench set "$c" "${RB_N[set-$c]}" "$r" record
  done
  if [ "$WITH_INGEST" = 1 ]; then
    run_ingest profiled-redis "$r"
    run_ingest profiled-rocksdb "$r"
  fi
  alive redis && alive rocksdb || { log "a server died"; break; }
done

stop_profiled redis
stop_profiled rocksdb
T_END=$(date +%s)

# ---------------------------------------------------------------------------------- report
{
  echo "## profiled on Redis Cluster: reads, ingestion, Redis work ($(date -u +%F) $(date -u +%TZ))"
  echo ""
  echo "- command: \`bench/cluster.sh\` (BENCH_USERS=$USERS BENCH_LOAD_EVENTS=$LOAD_EVENTS BENCH_RUNS=$RUNS BENCH_CONNS=\"$CONNS\" BENCH_READ_SECONDS=$READ_SECONDS BENCH_INGEST_CONNS=$INGEST_CONNS BENCH_INGEST_SECONDS=$INGEST_SECONDS BENCH_CLUSTER_INGEST_SECONDS=$CLUSTER_INGEST_SECONDS BENCH_THREADS=$THREADS BENCH_INGEST=$WITH_INGEST BENCH_REDIS_WAIT_REPLICAS=$WAIT_REPLICAS BENCH_READ_THREADS=$READ_THREADS); took $((T_END - T_START)) s"
  echo "- machine: $(nproc) CPUs ($(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -1)), kernel $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME"); load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- profiled: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet -- src 2>/dev/null || echo ' (+ local changes in src/)'), $(grep -m1 CMAKE_BUILD_TYPE "$ROOT/build/CMakeCache.txt" 2>/dev/null | cut -d= -f2) build, sha256 $BIN_SHA..., threads = $THREADS, pinned to CPU ${SERVER_CPU:-any}; clients on CPU ${CLIENT_CPU:-any}; Redis not pinned"
  echo "- tools: $(redis-server --version | cut -d' ' -f1-3), $(redis-benchmark --version 2>/dev/null | head -1 || echo redis-benchmark), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), node $(node --version)"
  echo "- cluster: scripts/redis-cluster.sh, 3 primaries + 3 replicas, appendonly yes, appendfsync always; profiled node: redis_wait_replicas = $WAIT_REPLICAS"
  echo "- RocksDB: reads from a store loaded the same way (durability buffered, block_cache_mb 2048, row_cache_mb 3072); ingestion into a fresh store per run with durability fsync"
  echo ""
  node "$BENCH/cluster_summarize.mjs" "$RAW"
  echo ""
  echo "### Misbehaviour"
  echo ""
  if [ -s "$WORK/server-lines.txt" ]; then
    echo "profiled stderr lines other than info (verbatim, first 60):"
    echo ""
    echo '```'
    head -60 "$WORK/server-lines.txt"
    echo '```'
    echo "($(wc -l <"$WORK/server-lines.txt") lines in all)"
  else
    echo "- profiled wrote nothing to stderr but its start-up info lines."
  fi
  if [ -s "$WORK/client-lines.txt" ]; then
    echo ""
    echo "client-side failures (verbatim, first 60):"
    echo ""
    echo '```'
    head -60 "$WORK/client-lines.txt"
    echo '```'
    echo "($(wc -l <"$WORK/client-lines.txt") lines in all)"
  else
    echo "- no client saw a non-2xx answer or a connection error."
  fi
} >>"$REPORT"
cat "$REPORT"
log "report: $REPORT; raw: $RAW; took $((T_END - T_START)) s"
