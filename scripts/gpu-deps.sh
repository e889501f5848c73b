#!/usr/bin/env bash
# Run HERE (the development machine): downloads the Debian packages the GPU machine lacks
# (build dependencies, and the Fashion-MNIST IDX files for sf-train's GPU run: ~46 MB in all)
# into .deps/debs (git-ignored), to be carried to it (`carry: [".deps"]`), where
# scripts/gpu-check.sh unpacks them with dpkg -x. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(
  libspdlog-dev libspdlog1.10 libfmt-dev libfmt9
  libgtest-dev libgmock-dev libbenchmark-dev libbenchmark1debian
  libcli11-dev nlohmann-json3-dev zlib1g-dev
  libopenblas-dev libopenblas-pthread-dev libopenblas0-pthread libgfortran5
  dataset-fashion-mnist
)
mkdir -p .deps/debs
cd .deps/debs
missing=()
for p in "${packages[@]}"; do
  ls "${p}"_*.deb >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get download "${missing[@]}"
fi
du -sh . | sed 's/^/gpu-deps: /'
