#!/usr/bin/env bash
# Installs every Debian package ScopeFlow needs to build, test and run on a fresh
# Debian 12 machine. Idempotent; run as root (or with sudo available).
# The CUDA toolkit (nvcc, cuDNN, cuBLAS, cuRAND, NCCL) is not a Debian package here:
# it comes from the machine image under /usr/local/cuda, and the build is CPU-only
# when it is absent.
set -euo pipefail

packages=(
  build-essential g++ cmake ninja-build ccache pkg-config git
  libspdlog-dev libfmt-dev libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev zlib1g-dev libdnnl-dev libopenblas-dev libcli11-dev
  libopenmpi-dev openmpi-bin
  dataset-fashion-mnist
  python3 python3-numpy python3-matplotlib graphviz
  clang-format
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO=sudo; else
    echo "setup.sh: must run as root (or with sudo) to install packages" >&2; exit 1
  fi
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup.sh: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup.sh: done"
