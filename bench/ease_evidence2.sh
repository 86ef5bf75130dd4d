#!/usr/bin/env bash
# "Evidence EASE, second round" in docs/RECS.md: for seeds 1–3 and both protocols, dump
# profiled eval's split, choose bench/ease_evidence2.py's parameters on validation folds carved
# from the training data, and measure the choice once on the test items next to plain EASE.
# The grid and the selection rule below were fixed before any test figure of this round was seen.
# Usage: bench/ease_evidence2.sh [RATINGS_CSV] (default ../shared/data/ml-latest-small/ratings.csv)
# Knobs: RECS_SEEDS ("1 2 3"), RECS_PROTOCOLS ("holdout strong"), BINARY (build/profiled).
# Prints the JSON lines; appends them to bench/results/ease-evidence2-<UTC stamp>.jsonl and every
# candidate's validation score (stderr) to the matching .log.
set -euo pipefail
cd "$(dirname "$0")/.."
ratings=${1:-../shared/data/ml-latest-small/ratings.csv}
binary=${BINARY:-build/profiled}
mkdir -p bench/results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=bench/results/ease-evidence2-$stamp.jsonl
log=bench/results/ease-evidence2-$stamp.log
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

# 4 EASE settings × 4 debiasing strengths × 4 iALS weights = 64 candidates; plain EASE is not
# among them (it is the reference), ials_weight=0 is evidence EASE alone.
# shellcheck disable=SC2054 # the commas separate one flag's values
grid=(--lambdas 300 --emphasis 0,0.5 --alphas 0 --rating-weights 0.5 --high-weights 0.5
      --low-weights 0,0.25 --low-targets 0 --betas 0.1,0.15,0.2,0.25
      --ials-weights 0,0.2,0.35,0.5 --ials-factors 64 --ials-alpha0 0.1 --ials-lambda 0.02
      --ials-confidence 0.5)

dir=
trap 'rm -rf "${dir:-}"' EXIT  # the split dump, also when a step fails
for seed in ${RECS_SEEDS:-1 2 3}; do
  for protocol in ${RECS_PROTOCOLS:-holdout strong}; do
    dir=$(mktemp -d)
    "$binary" eval --ratings "$ratings" --format movielens-csv --model ease --param lambda=300 \
      --protocol "$protocol" --seed "$seed" --dump-split "$dir" >/dev/null
    folds=5
    [[ $protocol == strong ]] && folds=40
    echo "== $protocol seed $seed" >>"$log"
    /usr/bin/python3 bench/ease_evidence2.py "$dir" "$ratings" --folds "$folds" --share 0.1 \
      "${grid[@]}" 2>>"$log" | tee -a "$out"
    rm -rf "$dir"
  done
done
echo "ease_evidence2: figures appended to $out, validation scores to $log" >&2
