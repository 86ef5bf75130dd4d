#!/usr/bin/env bash
# The offline quality figures of docs/RECS.md: every model under both protocols on a MovieLens
# ratings file, for each seed, then EASE against the dense numpy reference on seed 1's splits.
# Usage: bench/recs_eval.sh [RATINGS_CSV] (default ../shared/data/ml-latest-small/ratings.csv)
# Knobs: RECS_SEEDS ("1 2 3"), RECS_REFERENCE (1; 0 skips the numpy reference, minutes on
# Debian's reference BLAS), RECS_LAMBDA (300), BINARY (build/profiled).
# Prints JSON lines; also appends them to bench/results/recs-<UTC stamp>.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
ratings=${1:-../shared/data/ml-latest-small/ratings.csv}
binary=${BINARY:-build/profiled}
seeds=${RECS_SEEDS:-1 2 3}
lambda=${RECS_LAMBDA:-300}
mkdir -p bench/results
out=bench/results/recs-$(date -u +%Y%m%dT%H%M%SZ).jsonl

for seed in $seeds; do
  "$binary" eval --ratings "$ratings" --format movielens-csv --model ease,itemknn,popular \
    --protocol holdout,strong --k 10,20 --seed "$seed" --param lambda="$lambda" | tee -a "$out"
done

if [[ ${RECS_REFERENCE:-1} == 1 ]]; then
  PROFILED_BENCH_DEPS=1 scripts/install-deps.sh
  seed=${seeds%% *}
  for protocol in holdout strong; do
    dir=$(mktemp -d)
    "$binary" eval --ratings "$ratings" --format movielens-csv --model ease --protocol "$protocol" \
      --k 10,20 --seed "$seed" --param lambda="$lambda" --dump-split "$dir" | tee -a "$out"
    /usr/bin/python3 bench/ease_reference.py "$dir" --lambda "$lambda" --k 10,20 | tee -a "$out"
    rm -rf "$dir"
  done
fi
echo "recs_eval: figures appended to $out" >&2
