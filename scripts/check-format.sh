#!/usr/bin/env bash
# Fails when a tracked C++ file differs from what clang-format 14 (.clang-format) would make, and
# when clang-format 14 is missing (scripts/llvm-tool.sh says why the version is pinned).
# With --fix, formats the files in place instead (`make format`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/llvm-tool.sh
clang_format=$(llvm_tool clang-format) || { echo "check-format: failed" >&2; exit 1; }

mapfile -t files < <(git ls-files '*.cc' '*.h')
if [[ ${1:-} == --fix ]]; then
  "$clang_format" -i "${files[@]}"
  exit 0
fi
# One process for every file: a process per file takes a minute on a loaded machine.
if ! out=$("$clang_format" --dry-run --Werror "${files[@]}" 2>&1); then
  bad=$(sed -nE 's/^([^:]+):[0-9]+:[0-9]+: error: code should be clang-formatted.*/\1/p' <<<"$out" |
        sort -u | paste -sd' ')
  echo "check-format: run 'make format'; these files differ: ${bad:-(see below)}" >&2
  [[ -n $bad ]] || echo "$out" >&2
  exit 1
fi
