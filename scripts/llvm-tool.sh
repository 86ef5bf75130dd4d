# Sourced by the check scripts: finds the pinned LLVM tools. Not run on its own.
#
# The format and tidy checks pin LLVM 14, Debian 12's version (packages clang-format-14 and
# clang-tidy-14, installed by scripts/install-deps.sh): another major version formats and warns
# differently, so a check run with it would judge the tree by other rules. Raising the pin is one
# edit here, plus the README's dependency table and install-deps.sh.
readonly PROFILED_LLVM_MAJOR=14

# llvm_tool NAME: prints the path of NAME-14, or of NAME when that is version 14; otherwise
# prints why on stderr and returns 1.
llvm_tool() {
  local name=$1 candidate version
  for candidate in "$name-$PROFILED_LLVM_MAJOR" "$name"; do
    command -v "$candidate" >/dev/null 2>&1 || continue
    version=$("$candidate" --version 2>/dev/null | sed -nE 's/.*version ([0-9]+)\..*/\1/p' | head -n1)
    if [[ $version == "$PROFILED_LLVM_MAJOR" ]]; then
      command -v "$candidate"
      return 0
    fi
    echo "$name: found $candidate version ${version:-unknown}, need $PROFILED_LLVM_MAJOR" >&2
  done
  echo "$name $PROFILED_LLVM_MAJOR is not installed: run scripts/install-deps.sh" \
       "(Debian package $name-$PROFILED_LLVM_MAJOR)" >&2
  return 1
}
