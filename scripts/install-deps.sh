#!/usr/bin/env bash
# Installs what profiled needs to build, test and benchmark on Debian 12, and nothing that
# is already there. Idempotent: a second run makes no apt-get call at all.
set -euo pipefail

packages=(
  g++ cmake make pkg-config
  libboost1.81-dev libboost-json1.81-dev                         # HTTP (Beast/Asio), JSON
  librocksdb-dev                                                # the embedded store
  rocksdb-tools                                                 # ldb: deletion.test.js scans the whole store for a deleted user
  libhiredis-dev                                                # Redis protocol (src/redis)
  redis-server                                                  # the local cluster the tests start
  iproute2                                                      # ss: scripts/redis-cluster.sh checks its ports are free
  libtomlplusplus-dev libcli11-dev                              # config file, command line
  zlib1g-dev                                                    # gzip request bodies
  libzip-dev                                                    # Amplitude export archives (profiled import)
  zip                                                           # e2e: builds the export archives import-amplitude.test.js reads
  libssl-dev                                                    # HTTPS ([server] tls_cert/tls_key); MD5 of the v1 upload's checksum
  openssl                                                       # the tests' CA and certificates
  dpkg-dev                                                      # make deb: dpkg-shlibdeps finds the package's Depends
  systemd                                                       # systemd-analyze: deb.test.js verifies the package's unit
  libeigen3-dev                                                 # dense linear algebra of the EASE recommender
  libgoogle-perftools-dev                                       # tcmalloc, the server's allocator
  libgtest-dev                                                  # unit tests
  clang-format-14 clang-tidy-14                                 # format and tidy checks (LLVM 14: llvm-tool.sh)
  clang-14 libclang-rt-14-dev                                   # the sanitizer build and libFuzzer (fuzz/)
  llvm-14                                                       # llvm-symbolizer: sanitizer reports with lines
  nodejs npm                                                    # end-to-end tests with the SDKs
  chromium                                                      # the browser SDK tests (tests/e2e/browser-*.test.js)
)
if [ "${PROFILED_BENCH_DEPS:-0}" = 1 ]; then
  packages+=(nginx-light wrk valgrind)                          # benchmark references, callgrind counts
  packages+=(python3-numpy)                                     # bench/ease_reference.py (numpy EASE)
  packages+=(libopenblas0-pthread)                              # bench/ease_evidence2.py: an optimised BLAS for numpy (the reference BLAS is far slower)
fi

missing=()
for p in "${packages[@]}"; do
  # node/npm may come from elsewhere than Debian (the CI image has its own); accept any on PATH.
  case "$p" in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
  esac
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
