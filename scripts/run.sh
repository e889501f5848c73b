#!/usr/bin/env bash
# Builds ScopeFlow and runs the main job. Until training lands (issue 5) that is sf-demo:
# it lists the devices and runs a kernel on each. Extra arguments go to the program.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target sf-demo
exec build/samples/sf-demo "$@"
