#!/usr/bin/env bash
# Builds ScopeFlow and runs the main job: sf-train trains the Fashion-MNIST convnet on two
# towers sharing their variables (CPU:0/CPU:1, or GPUs when present), prints a progress line
# per epoch and the test accuracy, and writes the JSON summary to build/sf-train.json.
# Extra arguments go to sf-train (e.g. --epochs 1, --towers 4, --device cpu).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target sf-train
exec build/samples/sf-train --epochs 2 --towers 2 --json build/sf-train.json "$@"
