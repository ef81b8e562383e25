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
cmake -S . -B "$build" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DLM_WERROR=ON -DLM_SANITIZE=ON -DLM_FUZZ="$fuzz" >/dev/null
cmake --build "$build" -j "$(nproc)" 2>&1 | grep -vE '^\[ *[0-9]+%\]' || true
cmake --build "$build" -j "$(nproc)" >/dev/null   # fail here if the build failed
# gcc at -O2 warns where clang does not (-Wformat-truncation): when the
# suite builds with clang, build once more with gcc, warnings as errors.
if [[ $cc == clang ]] && command -v gcc >/dev/null; then
  cmake -S . -B "$build-gcc" -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Release \
    -DLM_WERROR=ON >/dev/null
  cmake --build "$build-gcc" -j "$(nproc)" 2>&1 | grep -vE '^\[ *[0-9]+%\]' || true
  cmake --build "$build-gcc" -j "$(nproc)" >/dev/null
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$build"
ctest --output-on-failure -j "$(nproc)" "$@"
