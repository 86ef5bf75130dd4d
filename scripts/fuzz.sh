#!/usr/bin/env bash
# Runs the fuzz targets (fuzz/README.md) of the sanitizer build for FUZZ_SECONDS seconds each
# (default 60), from each target's corpus (fuzz/corpus/NAME, and fuzz/regressions/NAME when it
# exists), FUZZ_JOBS of them at a time (default 1). The build is FUZZ_BUILD (default build-asan),
# configured with -DPROFILED_FUZZ=ON by clang (`make fuzz` and `make asan-build` do that); this
# script builds the targets in it, and nothing else. What the fuzzer finds goes to a scratch
# directory, never into the committed corpus: FUZZ_OUT (default FUZZ_BUILD/fuzz/runs), with
# FUZZ_OUT/NAME/new for new inputs, FUZZ_OUT/NAME/artifacts for the crash-* (timeout-*, oom-*,
# leak-*) inputs and FUZZ_OUT/NAME/log for libFuzzer's output. Prints, per target, the executions,
# executions per second, coverage (edges) and crashes; exits 1 when any target crashed.
#
# Usage: scripts/fuzz.sh [NAME...]     (default: every fuzz/*_fuzz.cc)
# Environment: FUZZ_SECONDS, FUZZ_JOBS, FUZZ_BUILD, FUZZ_OUT, JOBS (build parallelism, nproc).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
fuzz_jobs=${FUZZ_JOBS:-1}
build=${FUZZ_BUILD:-build-asan}
out=${FUZZ_OUT:-$build/fuzz/runs}
jobs=${JOBS:-$(nproc)}

if ! grep -q '^PROFILED_FUZZ:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
  echo "fuzz: $build is not configured with -DPROFILED_FUZZ=ON (clang): run make fuzz" >&2
  exit 1
fi

names=("$@")
if [[ ${#names[@]} -eq 0 ]]; then
  for f in fuzz/*_fuzz.cc; do
    f=${f#fuzz/}
    names+=("${f%_fuzz.cc}")
  done
fi
targets=()
for name in "${names[@]}"; do targets+=("${name}_fuzz"); done
cmake --build "$build" -j "$jobs" --target "${targets[@]}" >/dev/null

# Runs one target into $out/NAME; its exit status is libFuzzer's.
run() {
  local name=$1 dir=$out/$1
  rm -rf "$dir"
  mkdir -p "$dir/new" "$dir/artifacts"
  local inputs=("fuzz/corpus/$name")
  [[ -d fuzz/regressions/$name ]] && inputs+=("fuzz/regressions/$name")
  # -timeout: an input that runs 10 s is a hang; -rss_limit_mb: one that needs 2 GB, a leak.
  "$build/fuzz/${name}_fuzz" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 \
      -rss_limit_mb=2048 -artifact_prefix="$dir/artifacts/" "$dir/new" "${inputs[@]}" \
      >"$dir/log" 2>&1
}

pids=()
for name in "${names[@]}"; do
  while (($(jobs -rp | wc -l) >= fuzz_jobs)); do wait -n || true; done
  run "$name" &
  pids+=($!)
done
statuses=()
for pid in "${pids[@]}"; do
  status=0
  wait "$pid" || status=$?
  statuses+=("$status")
done

printf '%-14s %12s %8s %6s %8s  %s\n' target executions exec/s cov crashes artifacts
failed=0
for i in "${!names[@]}"; do
  name=${names[$i]}
  dir=$out/$name
  runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$dir/log" | tail -n1)
  speed=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+)/\1/p' "$dir/log" | tail -n1)
  cov=$(sed -nE 's/^#[0-9]+.* cov: ([0-9]+) .*/\1/p' "$dir/log" | tail -n1)
  crashes=$(find "$dir/artifacts" -type f | wc -l)
  # Died without leaving an input (out of memory in the runner, a signal): still a failure.
  if [[ ${statuses[$i]} -ne 0 && $crashes -eq 0 ]]; then crashes=1; fi
  artifacts=-
  if ((crashes > 0)); then
    failed=1
    artifacts="$dir/artifacts (log: $dir/log)"
  fi
  printf '%-14s %12s %8s %6s %8s  %s\n' "$name" "${runs:-?}" "${speed:-?}" "${cov:-?}" \
         "$crashes" "$artifacts"
done
exit $failed
