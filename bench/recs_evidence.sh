#!/usr/bin/env bash
# "Evidence EASE in C++" in docs/RECS.md: for each seed and protocol, plain EASE (λ = 300) and
# `profiled eval --model evidence --select` over the grid bench/ease_evidence2.sh fixed (commit
# 5ea31e4) before any test figure of it was seen, each measured once on the test items.
# Usage: bench/recs_evidence.sh [RATINGS_CSV] (default ../shared/data/ml-latest-small/ratings.csv)
# Knobs: RECS_SEEDS ("1 2 3 4 5 6 7 8"), RECS_PROTOCOLS ("holdout strong"), BINARY
# (build/profiled), RECS_JOBS (1: runs side by side, each one thread).
# Appends the JSON lines to bench/results/recs-evidence-<UTC stamp>.jsonl, every candidate's
# validation score (stderr) to the matching .log, and prints the gain of each run and of the
# mean NDCG@10 per protocol.
set -euo pipefail
cd "$(dirname "$0")/.."
ratings=${1:-../shared/data/ml-latest-small/ratings.csv}
binary=${BINARY:-build/profiled}
mkdir -p bench/results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=bench/results/recs-evidence-$stamp.jsonl
log=bench/results/recs-evidence-$stamp.log

run() {  # seed protocol: both JSON lines of one run, stderr to its own log
  local seed=$1 protocol=$2 folds=5
  # 4 EASE settings × 4 debiasing strengths × 4 iALS weights = 64 candidates; ials_weight=0 is
  # evidence EASE alone. The iALS part: 64 factors, α₀ 0.1, λ 0.02, 10 epochs, confidence 0.5.
  # shellcheck disable=SC2054 # the commas separate one parameter's values
  local grid=(--param lambda=300 --param emphasis=0,0.5 --param rating_weight=0.5
    --param high_weight=0.5 --param low_weight=0,0.25
    --param popularity_exponent=0.1,0.15,0.2,0.25 --param ials_weight=0,0.2,0.35,0.5
    --param factors=64 --param alpha0=0.1 --param ials_lambda=0.02 --param epochs=10
    --param ials_confidence=0.5)
  [[ $protocol == strong ]] && folds=40
  local part=$out.$seed.$protocol
  "$binary" eval --ratings "$ratings" --format movielens-csv --model ease --param lambda=300 \
    --protocol "$protocol" --k 10,20 --seed "$seed" >"$part"
  "$binary" eval --ratings "$ratings" --format movielens-csv --model evidence --select \
    --select-folds "$folds" --select-share 0.1 --protocol "$protocol" --k 10,20 \
    --seed "$seed" "${grid[@]}" >>"$part" 2>"$part.log"
}
export -f run
export out ratings binary
declare -a jobs=()
for seed in ${RECS_SEEDS:-1 2 3 4 5 6 7 8}; do
  for protocol in ${RECS_PROTOCOLS:-holdout strong}; do jobs+=("$seed $protocol"); done
done
printf '%s\n' "${jobs[@]}" | xargs -P "${RECS_JOBS:-1}" -L 1 bash -c 'run "$@"' _
for job in "${jobs[@]}"; do
  read -r seed protocol <<<"$job"
  sed "s/^{/{\"seed\":$seed,/" "$out.$seed.$protocol" >>"$out"
  { echo "== $protocol seed $seed"; cat "$out.$seed.$protocol.log"; } >>"$log"
  rm -f "$out.$seed.$protocol" "$out.$seed.$protocol.log"
done
/usr/bin/python3 - "$out" <<'PY'
import json, sys
runs = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    runs.setdefault((r["protocol"], r["seed"]), {})[r["model"]] = r
for protocol in ("holdout", "strong"):
    pairs = [(s, v) for (p, s), v in sorted(runs.items()) if p == protocol and len(v) == 2]
    if not pairs:
        continue
    gains = []
    for seed, v in pairs:
        e, x = v["ease"]["ndcg@10"], v["evidence"]["ndcg@10"]
        gains.append(x / e - 1)
        print(f"{protocol} seed {seed}: ease {e:.4f} evidence {x:.4f} gain {100 * (x / e - 1):+.1f} % "
              f"params {v['evidence'].get('params')}")
    me = sum(v["ease"]["ndcg@10"] for _, v in pairs) / len(pairs)
    mx = sum(v["evidence"]["ndcg@10"] for _, v in pairs) / len(pairs)
    n = len(gains)
    mean = sum(gains) / n
    se = (sum((g - mean) ** 2 for g in gains) / (n - 1)) ** 0.5 / n ** 0.5 if n > 1 else 0
    print(f"{protocol}: mean ndcg@10 ease {me:.4f} evidence {mx:.4f}: gain {100 * (mx / me - 1):+.1f} % "
          f"(per-seed gains' mean {100 * mean:+.1f} ± {100 * se:.1f}, {n} seeds)")
PY
echo "recs_evidence: figures in $out, validation scores in $log" >&2
