#!/usr/bin/env bash
# Builds lastmile with ASan+UBSan and warnings as errors, then runs the whole
# suite with ctest (unit, integration, simulation, fuzz). Its last output is
# ctest's summary.
#   bash scripts/test.sh               # everything
#   bash scripts/test.sh -R protocol   # extra arguments go to ctest
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh

build=${LM_TEST_BUILD:-build-test}
cc=gcc
fuzz=OFF
# clang builds the same code and also the libFuzzer targets.
if command -v clang >/dev/null && [[ -d /usr/lib/llvm-14/lib/clang ]]; then
  cc=clang
  fuzz=ON
fi
# build_tree DIR CMAKE_ARGS...: configure and build, showing warnings and
# errors (not progress); the second build fails here if the first did.
build_tree() {
  local dir=$1
  shift
  cmake -S . -B "$dir" "$@" >/dev/null
  cmake --build "$dir" -j "$(nproc)" 2>&1 | grep -vE '^\[ *[0-9]+%\]' || true
  cmake --build "$dir" -j "$(nproc)" >/dev/null
}
build_tree "$build" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DLM_WERROR=ON -DLM_SANITIZE=ON -DLM_FUZZ="$fuzz"
# gcc at -O2 warns where clang does not (-Wformat-truncation): when the
# suite builds with clang, build once more with gcc, warnings as errors.
if [[ $cc == clang ]] && command -v gcc >/dev/null; then
  build_tree "$build-gcc" -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Release -DLM_WERROR=ON
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$build"
ctest --output-on-failure -j "$(nproc)" "$@"
