#!/usr/bin/env bash
# Starts or stops a local Redis Cluster of 3 primaries and 3 replicas (Debian's redis-server 7),
# for tests and benchmarks. Everything lives in DIR: one folder per node (config, AOF with
# appendfsync always, log, pid file), and DIR/nodes.txt, the seed list (one 127.0.0.1:port per
# line, every node). Ports are picked at random among free ones (a node's cluster bus is port+10000,
# and both must be free), so several clusters can run side by side; a node that loses the race
# for its port is started again on another.
#
# Usage: scripts/redis-cluster.sh start DIR [--password PASS] [--node-timeout MS] [--owner PID]
#        scripts/redis-cluster.sh stop DIR
# --password sets requirepass and masterauth on every node. --owner PID leaves a watcher behind
# that stops the cluster once process PID is gone, so a test binary that crashes leaves no
# servers running.
# start returns once every node says cluster_state:ok and every replica's link to its primary is
# up, and prints the seed list. stop shuts every node of DIR down (SIGTERM, then SIGKILL after 10 s);
# calling it twice, or on a cluster some of whose nodes were killed, is fine.
set -Eeuo pipefail  # -E: the ERR trap of `start` runs for failures inside functions too

usage() {
  echo "usage: $0 start DIR [--password PASS] [--node-timeout MS] [--owner PID] | stop DIR" >&2
  exit 2
}
[[ $# -ge 2 ]] || usage
command=$1 dir=$2
shift 2
password="" node_timeout=2000 owner=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --password) password=${2:?}; shift 2 ;;
    --node-timeout) node_timeout=${2:?}; shift 2 ;;
    --owner) owner=${2:?}; shift 2 ;;
    *) usage ;;
  esac
done

readonly node_count=6
# Client ports come from [16000, 22700], so the bus ports (port+10000) stay below Linux's
# ephemeral range (32768 and up), where outgoing connections could take them.
readonly port_low=16000 port_span=6700

cli() {  # cli PORT ARGS...: redis-cli on one node, with the password when there is one.
  local port=$1
  shift
  if [[ -n $password ]]; then
    REDISCLI_AUTH=$password redis-cli --no-auth-warning -h 127.0.0.1 -p "$port" "$@"
  else
    redis-cli -h 127.0.0.1 -p "$port" "$@"
  fi
}

# port_free PORT: no socket uses PORT or its bus port. Only a first filter (the ports can be
# taken before the server binds them, and without ss it passes everything): start_node checks
# that the server that answers is the one it started.
port_free() {
  local p=$1
  [[ -z $(ss -Htan "( sport = :$p or sport = :$((p + 10000)) )" 2>/dev/null) ]]
}

# pid_of NODE_DIR: the pid of the node's redis-server when it still runs, else nothing. Checks the
# process's command line, so a reused pid is never taken for the node.
pid_of() {
  local node_dir=$1 pid
  [[ -f $node_dir/redis.pid ]] || return 0
  pid=$(<"$node_dir/redis.pid")
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  if [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "redis-server"; then
    echo "$pid"
  fi
}

# start_node INDEX: starts node INDEX on a free port, trying other ports when it cannot bind, and
# appends the port to `ports` (no subshell, so $RANDOM moves on between nodes).
start_node() {
  local index=$1 port node_dir
  node_dir=$dir/node-$index
  mkdir -p "$node_dir"
  for _ in 1 2 3 4 5 6 7 8; do
    port=$((port_low + RANDOM % port_span))
    port_free "$port" || continue
    {
      echo "port $port"
      echo "bind 127.0.0.1"
      echo "dir $node_dir"
      echo "daemonize yes"  # for a test that starts a stopped node again from this file
      echo "pidfile $node_dir/redis.pid"
      echo "logfile $node_dir/redis.log"
      echo "cluster-enabled yes"
      echo "cluster-config-file $node_dir/nodes.conf"
      echo "cluster-node-timeout $node_timeout"
      echo "appendonly yes"
      echo "appendfsync always"
      echo 'save ""'
      if [[ -n $password ]]; then
        echo "requirepass $password"
        echo "masterauth $password"
      fi
    } >"$node_dir/redis.conf"
    rm -f "$node_dir/redis.pid" "$node_dir/nodes.conf"
    # Started by this shell (not daemonized: it writes its pid file all the same), so its pid is
    # known at once and the node can be stopped whatever happens next, even before it wrote the
    # file; detached, with no descriptor of ours kept open (ctest waits for its pipes to close).
    setsid redis-server "$node_dir/redis.conf" --daemonize no </dev/null >/dev/null 2>&1 &
    local pid=$!
    # The server exits when its port or bus port was taken meanwhile, and another server may then
    # answer on that port: the node is ours only when the server there has our pid.
    for _ in $(seq 100); do
      if cli "$port" info server 2>/dev/null | grep -q "^process_id:${pid}[[:space:]]*$"; then
        echo "$port" >"$node_dir/port"
        ports+=("$port")
        return 0
      fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true  # it may have exited meanwhile
    wait "$pid" 2>/dev/null || true
    rm -f "$node_dir/redis.pid"
  done
  echo "redis-cluster: node $index did not start; see $node_dir/redis.log" >&2
  return 1
}

# wait_until SECONDS DESCRIPTION COMMAND...: runs COMMAND every 0.2 s until it succeeds.
wait_until() {
  local seconds=$1 what=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    if ((SECONDS >= deadline)); then
      echo "redis-cluster: timed out after ${seconds}s waiting until $what" >&2
      return 1
    fi
    sleep 0.2
  done
}

cluster_ready() {  # every node sees the whole cluster, all slots served, every replica linked
  local port info repl
  for port in "${ports[@]}"; do
    info=$(cli "$port" cluster info 2>/dev/null) || return 1
    grep -q '^cluster_state:ok' <<<"$info" || return 1
    grep -q "^cluster_known_nodes:$node_count" <<<"$info" || return 1
    grep -q '^cluster_slots_ok:16384' <<<"$info" || return 1
    repl=$(cli "$port" info replication 2>/dev/null) || return 1
    if grep -q '^role:slave' <<<"$repl"; then
      grep -q '^master_link_status:up' <<<"$repl" || return 1
    fi
  done
  local replicas
  replicas=$(cli "${ports[0]}" cluster nodes 2>/dev/null | grep -c ' slave ') || return 1
  [[ $replicas == 3 ]]
}

stop_cluster() {
  local node_dir pid pids=()
  for node_dir in "$dir"/node-*; do
    [[ -d $node_dir ]] || continue
    pid=$(pid_of "$node_dir")
    if [[ -n $pid ]]; then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  local deadline=$((SECONDS + 10))
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null; do
      if ((SECONDS >= deadline)); then
        kill -9 "$pid" 2>/dev/null || true
        break
      fi
      sleep 0.1
    done
  done
}

case $command in
  start)
    if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
      echo "redis-cluster: redis-server is missing: run scripts/install-deps.sh" >&2
      exit 1
    fi
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if compgen -G "$dir/node-*/redis.pid" >/dev/null; then
      for node_dir in "$dir"/node-*; do
        if [[ -n $(pid_of "$node_dir") ]]; then
          echo "redis-cluster: $dir already has a running node; stop it first" >&2
          exit 1
        fi
      done
    fi
    ports=()
    # A failure, or an interrupt, before the cluster is up stops the nodes started so far.
    trap 'stop_cluster' ERR
    trap 'stop_cluster; exit 130' INT TERM
    for index in $(seq "$node_count"); do
      start_node "$index"
    done
    addresses=()
    for port in "${ports[@]}"; do addresses+=("127.0.0.1:$port"); done
    auth=()
    [[ -n $password ]] && auth=(-a "$password" --no-auth-warning)
    redis-cli "${auth[@]}" --cluster create "${addresses[@]}" --cluster-replicas 1 --cluster-yes \
      >"$dir/create.log" 2>&1 ||
      { echo "redis-cluster: cluster create failed; see $dir/create.log" >&2; stop_cluster; exit 1; }
    wait_until 60 "the cluster is ok and every replica is linked" cluster_ready ||
      { stop_cluster; exit 1; }
    trap - ERR INT TERM
    if [[ -n $owner ]]; then
      # Detached, with no descriptor of ours kept open (ctest waits for its pipes to close).
      # shellcheck disable=SC2016 # the watcher's own positional parameters
      setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; "$2" stop "$3"' \
        _ "$owner" "$(cd "$(dirname "$0")" && pwd)/$(basename "$0")" "$dir" \
        </dev/null >/dev/null 2>&1 &
    fi
    printf '%s\n' "${addresses[@]}" >"$dir/nodes.txt"
    cat "$dir/nodes.txt"
    ;;
  stop)
    [[ -d $dir ]] || exit 0
    stop_cluster
    ;;
  *) usage ;;
esac
