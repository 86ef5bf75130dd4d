#!/usr/bin/env bash
# Recommendations on Redis Cluster (issue 8; docs/BENCHMARKS.md, "Part 4, recommendations"):
# two profiled nodes on a local cluster, a MovieLens ratings file imported through node A, an
# ease recommendation put on A; prints how long until each node reports the trained model,
# and which node trained it. Prints figures, asserts nothing.
#   bench/recs_cluster.sh ../shared/data/ml-latest-small/ratings.csv
set -euo pipefail
RATINGS=${1:?usage: bench/recs_cluster.sh RATINGS.csv}
RATINGS=$(realpath "$RATINGS")
cd "$(dirname "$0")/.."
W=$(mktemp -d /tmp/profiled-recs-cluster.XXXXXX)
scripts/redis-cluster.sh start $W/cluster > $W/cluster.log 2>&1
NODES=$(sed 's/.*/"&"/' $W/cluster/nodes.txt | paste -sd, -)
for n in a b; do
  printf 'admin_token = "tok"\n[server]\nlisten = "127.0.0.1:0"\nthreads = 1\n[storage]\nbackend = "redis-cluster"\nredis_nodes = [%s]\n[[projects]]\nid = "ml"\napi_key = "ak"\nsecret_key = "sk"\n' "$NODES" > $W/$n.toml
  mkdir -p $W/$n
  (build/profiled serve --config $W/$n.toml --listen 127.0.0.1:0 --data-dir $W/$n 2> $W/$n.log &)
done
sleep 2
PA=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' $W/a.log); PB=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' $W/b.log)
t0=$(date +%s.%N)
build/profiled import-ratings --config $W/a.toml --project ml --ratings "$RATINGS" --format movielens-csv --server 127.0.0.1:$PA > $W/import.log 2>&1
t1=$(date +%s.%N); echo "import: $(echo "$t1 - $t0" | bc) s"
curl -s -X PUT -H 'Authorization: Bearer tok' -H 'Content-Type: application/json' "127.0.0.1:$PA/admin/v1/projects/ml/recommendations/r1" \
  -d '{"title":"t","model":"ease","item_event":"Movie Rated","item_property":"movie_id","history_window_days":365}' > $W/put.json; head -c 300 $W/put.json; echo
t2=$(date +%s.%N)
for port in $PA $PB; do
  for i in $(seq 1 600); do
    st=$(curl -s -H 'Authorization: Bearer tok' "127.0.0.1:$port/admin/v1/projects/ml/recommendations/r1")
    if echo "$st" | grep -q '"status":"ready","last_trained_at":[0-9]'; then break; fi
    sleep 0.2
  done
  t3=$(date +%s.%N); echo "port $port ready after $(echo "$t3 - $t2" | bc) s: $(echo "$st" | grep -o '"training":{[^}]*}')"
done
grep -h "recommendations" $W/a.log $W/b.log
pkill -f "profiled serve --config $W/" || true
scripts/redis-cluster.sh stop $W/cluster > /dev/null 2>&1 || true
rm -rf "$W"
