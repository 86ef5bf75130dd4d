# Shared by bench/callgrind_reads.sh, callgrind_ingest.sh and ab_ingest.sh (sourced, not
# run): a temp dir removed on exit, a one-project config, and a server started on a free
# port.
#
#   bench_setup PREFIX DURABILITY [EXTRA_STORAGE_LINES]   -> TMP, $TMP/c.toml, cleanup trap
#   bench_start DATA_DIR CMD...                           -> SERVER_PID, PORT
#                                       (config: $BENCH_CONFIG, default $TMP/c.toml)
#   bench_stop
bench_setup() {
  TMP=$(mktemp -d "/tmp/$1.XXXXXX")
  SERVER_PID=""
  trap bench_cleanup EXIT
  cat >"$TMP/c.toml" <<TOML
[server]
threads = 1
[storage]
durability = "$2"
${3:-}
[[projects]]
id = "bench"
api_key = "bench-key"
secret_key = "bench-secret"
TOML
}

bench_cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$TMP"
}

bench_start() {
  local data=$1
  shift
  rm -f "$TMP/log"
  "$@" serve --config "${BENCH_CONFIG:-$TMP/c.toml}" --listen 127.0.0.1:0 --data-dir "$data" 2>"$TMP/log" &
  SERVER_PID=$!
  PORT=""
  for _ in $(seq 600); do
    PORT=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/log")
    [ -n "$PORT" ] && return 0
    sleep 0.1
  done
  cat "$TMP/log" >&2
  exit 1
}

bench_stop() {
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID" || true
  SERVER_PID=""
}
