#!/usr/bin/env bash
# Fails when a layer includes a higher one (docs/ARCHITECTURE.md, "Layers"). The build enforces
# the same rule through per-layer include directories; this check runs in a second, needs no
# build, and names the offending line. It reads every `#include "<layer>/..."` in src/.
set -euo pipefail
cd "$(dirname "$0")/.."

# Rank of each layer: a file may include its own layer and layers of a lower rank. Layers of the
# same rank must not include each other. A new layer is one line here: recs (recommendation
# models and their offline evaluation) sits beside compute at rank 2 (neither may include the
# other), read (the profile reader layer) beside ingest at rank 3, cli (the commands that
# talk to a running server over HTTP) beside server at rank 5, redis (the Redis Cluster
# client) beside store at rank 1, on core only, and cluster (the store's per-user commit on
# Redis Cluster) beside compute at rank 2, on redis, store and core. main.cc is src/main.cc.
declare -A rank=(
  [core]=0
  [store]=1
  [redis]=1
  [compute]=2
  [cluster]=2
  [recs]=2
  [ingest]=3
  [read]=3
  [api]=4
  [server]=5
  [cli]=5
  [main.cc]=6
)

status=0
include_re='^(src/[^:]+):([0-9]+):[[:space:]]*#[[:space:]]*include[[:space:]]*"([A-Za-z0-9_]+)/'
while IFS= read -r hit; do
  [[ $hit =~ $include_re ]] || continue
  file=${BASH_REMATCH[1]} line=${BASH_REMATCH[2]} target=${BASH_REMATCH[3]}
  rel=${file#src/}
  layer=${rel%%/*}  # src/main.cc has no folder: its layer is "main.cc"
  if [[ -z ${rank[$layer]+x} ]]; then
    echo "check-layers: $file:$line: layer '$layer' has no rank in scripts/check-layers.sh" >&2
    status=1
  elif [[ -z ${rank[$target]+x} ]]; then
    echo "check-layers: $file:$line: includes \"$target/...\", which is not a layer" >&2
    status=1
  elif [[ $target != "$layer" ]] && ((rank[$target] >= rank[$layer])); then
    echo "check-layers: $file:$line: $layer (rank ${rank[$layer]}) includes \"$target/...\"" \
         "(rank ${rank[$target]}); a layer may include only lower layers" >&2
    status=1
  fi
done < <(grep -rnE --include='*.h' --include='*.cc' \
           '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[A-Za-z0-9_]+/' src)
if ((status != 0)); then
  echo "check-layers: see docs/ARCHITECTURE.md (Layers) for the rule" >&2
fi
exit $status
