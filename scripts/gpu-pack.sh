#!/usr/bin/env bash
# Run HERE (the development machine) after building build/ (scripts/test.sh builds it; its
# CUDA code is sm_90 unless CMAKE_CUDA_ARCHITECTURES says otherwise): packs what
# `scripts/gpu-check.sh --prebuilt` runs on the GPU machine, so that a lease spends no device
# time compiling. Writes .gpupack/ (git-ignored; carry it: `carry: [".gpupack"]`):
#   pack.tar.xz   stripped test, sample and benchmark executables at their build/ paths, the
#                 ctest files, and build/gpupack-lib/: the shared libraries they load that the GPU machine's
#                 image lacks (spdlog, fmt, OpenBLAS, oneDNN, gfortran, OpenCL loader, ...);
#                 CUDA, cuBLAS, cuRAND, cuDNN and NCCL are the GPU machine's own;
#   srcdir        the absolute source path compiled into the binaries (ctest files, test data);
#   fashion-mnist/ the Fashion-MNIST IDX files for sf-train's GPU runs.
# ~50 MB in all (the device tool carries 64 MiB). The GPU machine's glibc must be at least this
# machine's (Debian 12: 2.36; its Ubuntu 24.04 image has 2.39).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
b=build
[ -f $b/build.ninja ] || { echo "gpu-pack: no $b/ (run scripts/test.sh first)" >&2; exit 1; }
ninja -C $b >/dev/null
ldd $b/tests/kernels_test | grep -q libcudart ||
  { echo "gpu-pack: $b/ was built without CUDA" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$b/gpupack-lib"
exes=$(find $b/tests $b/samples $b/benchmarks -maxdepth 1 -type f -executable 2>/dev/null || true)
for f in $exes; do
  mkdir -p "$stage/$(dirname "$f")"
  strip -o "$stage/$f" "$f"
done
find $b -name CTestTestfile.cmake -not -path '*/install_consumer/*' -o -name '*_tests.cmake' \
  -o -name '*_include.cmake' | grep -v CMakeFiles | while read -r f; do
  mkdir -p "$stage/$(dirname "$f")"
  cp "$f" "$stage/$f"
done
# Shared libraries outside glibc and the CUDA toolkit.
for f in $exes; do ldd "$f" 2>/dev/null || true; done | awk '$3 ~ /^\// {print $3}' | sort -u |
  grep -vE '/usr/local/cuda|/(libc|libm|libdl|libpthread|librt|libstdc\+\+|libgcc_s|libz)\.so' |
  while read -r l; do cp -L "$l" "$stage/$b/gpupack-lib/"; done
ls "$stage/$b/gpupack-lib"

mkdir -p .gpupack
tar cf - -C "$stage" . | xz -9e --lzma2=preset=9e,dict=192MiB -T1 >.gpupack/pack.tar.xz
echo "$root" >.gpupack/srcdir
git rev-parse HEAD >.gpupack/commit
fm=/usr/share/datasets/fashion-mnist
if [ -f $fm/train-images-idx3-ubyte.gz ]; then
  mkdir -p .gpupack/fashion-mnist
  cp $fm/*-ubyte.gz .gpupack/fashion-mnist/
fi
du -sh .gpupack | sed 's/^/gpu-pack: /'
