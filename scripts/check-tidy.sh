#!/usr/bin/env bash
# Runs clang-tidy 14 (.clang-tidy) over every src/**/*.cc, tests included, one process per file,
# $(nproc) at a time, with every warning an error; fails on any warning, and when clang-tidy 14 is
# missing. Headers are checked through the .cc files that include them. Uses the compile commands
# of a configured build directory (default build, the Release build `make build` makes).
# Usage: scripts/check-tidy.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/llvm-tool.sh
clang_tidy=$(llvm_tool clang-tidy) || { echo "check-tidy: failed" >&2; exit 1; }
build_dir=${1:-build}
if [[ ! -f $build_dir/compile_commands.json ]]; then
  echo "check-tidy: $build_dir/compile_commands.json is missing: run 'make build' first" >&2
  exit 1
fi

# Each file's output is held until it finishes, so parallel reports do not interleave, and shown
# only when it fails (clang-tidy prints "N warnings generated" even when all are filtered out).
# -Wno-unknown-warning-option: the compile commands are GCC's, and clang does not know some of
# its warning flags (-Wno-restrict).
tidy_one='out=$("$0" -p "$1" --quiet --warnings-as-errors="*" \
  --extra-arg=-Wno-unknown-warning-option "$2" 2>&1) ||
  { printf "%s\n" "$out" | grep -v " generated\.$"; exit 1; }'
mapfile -d '' files < <(git ls-files -z --cached --others --exclude-standard 'src/*.cc')
if ! printf '%s\0' "${files[@]}" |
     xargs -0 -n1 -P "$(nproc)" bash -c "$tidy_one" "$clang_tidy" "$build_dir"; then
  echo "check-tidy: clang-tidy reported the warnings above (.clang-tidy lists the checks)" >&2
  exit 1
fi
echo "check-tidy: ${#files[@]} files, no warnings" >&2
