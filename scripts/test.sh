#!/usr/bin/env bash
# Builds and runs the whole test suite twice: the normal build (CUDA kernels when a toolkit
# is found; GPU tests skip visibly without a GPU) and a CPU-only AddressSanitizer +
# UndefinedBehaviorSanitizer build. Slow soak/fuzz tests carry the label "slow" and run
# only with SF_TEST_SLOW=1. Usage: scripts/test.sh   (after scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
exclude=(-LE slow)
[ "${SF_TEST_SLOW:-0}" = 1 ] && exclude=()

echo "== normal build (build/)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs"
(cd build && ctest --output-on-failure -j "$jobs" "${exclude[@]}")

echo "== CPU-only ASan+UBSan build (build-asan/)"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSF_CUDA=OFF \
  -DSF_SANITIZE=address,undefined -DSF_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build build-asan -j "$jobs"
export ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure -j "$jobs" "${exclude[@]}")
