#!/usr/bin/env bash
# "Beyond plain EASE" in docs/RECS.md: for each seed and protocol, choose the blend's parameters
# on validation splits carved from the training data (profiled eval --select), then train the
# choice on the whole training data and measure it once on the test items. Plain EASE (λ = 300)
# runs on the same splits for the comparison.
# Usage: bench/recs_select.sh [RATINGS_CSV] (default ../shared/data/ml-latest-small/ratings.csv)
# Knobs: RECS_SEEDS ("1 2 3"), RECS_PROTOCOLS ("holdout strong"), RECS_HOLDOUT_FOLDS (3),
# RECS_STRONG_FOLDS (5), BINARY (build/profiled).
# Prints the JSON lines; appends them to bench/results/recs-select-<UTC stamp>.jsonl and every
# candidate's validation score (stderr) to the matching .log.
set -euo pipefail
cd "$(dirname "$0")/.."
ratings=${1:-../shared/data/ml-latest-small/ratings.csv}
binary=${BINARY:-build/profiled}
seeds=${RECS_SEEDS:-1 2 3}
protocols=${RECS_PROTOCOLS:-holdout strong}
mkdir -p bench/results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=bench/results/recs-select-$stamp.jsonl
log=bench/results/recs-select-$stamp.log

# The grid: 4 debiasing strengths × 2 × 3 iALS settings × 5 weights = 120 candidates, of which
# ials_weight=0 are debiased EASE alone and ials_weight=1 iALS alone.
grid=(--param ease_lambda=300 --param popularity_exponent=0,0.15,0.25,0.35
      --param factors=128 --param alpha0=0.05,0.1 --param ials_lambda=0.015,0.02,0.025
      --param ials_weight=0,0.5,0.7,0.85,1)

for seed in $seeds; do
  for protocol in $protocols; do
    folds=${RECS_HOLDOUT_FOLDS:-3}
    [[ $protocol == strong ]] && folds=${RECS_STRONG_FOLDS:-5}
    "$binary" eval --ratings "$ratings" --format movielens-csv --model ease --param lambda=300 \
      --protocol "$protocol" --k 10,20 --seed "$seed" | tee -a "$out"
    "$binary" eval --ratings "$ratings" --format movielens-csv --model blend "${grid[@]}" \
      --select --select-folds "$folds" --protocol "$protocol" --k 10,20 --seed "$seed" \
      2>>"$log" | tee -a "$out"
  done
done
echo "recs_select: figures appended to $out, validation scores to $log" >&2
