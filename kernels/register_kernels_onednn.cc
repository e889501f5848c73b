// The explicit list of oneDNN-backed CPU kernel families (builds with oneDNN).
// Without oneDNN: register_kernels_onednn_stub.cc.
#include "kernels/conv2d/conv2d.h"
#include "kernels/kernel.h"
#include "kernels/matmul/matmul.h"

namespace scopeflow::kernels {

void register_onednn_kernels(KernelRegistry& r) {
  register_conv2d_onednn_kernels(r);
  register_matmul_onednn_kernels(r);
  // NOTE: "onednn" is first in the CPU order (kernel.h): on an idle 2-core AVX-512 VM it ran
  // the Fashion-CNN's conv2 (N=64 14x14 32->64 5x5) forward / backward-data / backward-filter
  // in 5.1 / 5.2 / 5.9 ms against OpenBLAS im2col's 15.5 / 23.9 / 15.2 ms, and conv1's passes
  // within 4% of it or 10x faster (benchmarks/RESULTS.md, 2026-11-27). MatMul: oneDNN's
  // sgemm, on the same OpenMP team as the convolutions (OpenBLAS's own thread pool spinning
  // beside it cost sf-train a third of its CPU throughput).
}
bool built_with_onednn() { return true; }

}  // namespace scopeflow::kernels
