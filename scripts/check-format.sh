#!/usr/bin/env bash
# Fails when a tracked C++ file differs from what clang-format (.clang-format) would make.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "check-format: clang-format not installed, skipped" >&2; exit 0; }
bad=()
while IFS= read -r f; do
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done < <(git ls-files '*.cc' '*.h')
if [ ${#bad[@]} -gt 0 ]; then
  echo "check-format: run 'make format'; these files differ: ${bad[*]}" >&2
  exit 1
fi
