// ArgMax: the index of the largest value along one dimension (TF's input "dimension", an
// int32/int64 scalar), as int32 or int64 (attr output_type). Inputs float32, float64, int32,
// int64. CPU: argmax_cpu.cc; CUDA: argmax_cuda.cu. Also InTopKV2, a comparison along the
// class axis.
//
// NOTE: ties give the first index. NaN is skipped, as TF's CPU kernel (Eigen's ArgMax
// reducer: a running (index 0, lowest()) pair replaced only by a strictly greater value) does:
// [1, NaN, 3] -> 2, and a row of only NaN (or only -inf) gives 0. numpy would return the NaN's
// index instead.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/kernel.h"

namespace scopeflow::kernels {

// x viewed as [outer, depth, inner] around the reduced axis, and the output's dimensions.
struct ArgMaxPlan {
  std::int64_t outer = 1, depth = 0, inner = 1;
  std::vector<std::int64_t> out_dims;
};
// The plan for ArgMax(x, dimension) (`dim` may live on any device). Throws
// InvalidArgumentError naming `node` for a bad dimension tensor, an axis out of
// [-rank, rank) or an empty reduced axis (TF's texts).
ArgMaxPlan argmax_plan(const Tensor& x, const Tensor& dim, const std::string& node);

// x viewed as [outer, depth, inner]; out[o * inner + i] = argmax over d of x[o, d, i].
template <class T, class Index>
void argmax_forward_ref(const T* x, Index* out, std::int64_t outer, std::int64_t depth,
                        std::int64_t inner);
// NOTE: registered under the output dtype (int32, int64), the dtype the session looks kernels
// up by; the kernel dispatches on the input's dtype.
void register_argmax_cpu_kernels(KernelRegistry& r);

// The same on CUDA (device memory, queued on `stream`): a block (a warp for rows up to 1024
// values) per row when inner == 1, else a thread per output looping over the axis. T: float,
// double, int32_t, int64_t; Index: int32_t, int64_t.
template <class T, class Index>
void argmax_forward_cuda(const T* x, Index* out, std::int64_t outer, std::int64_t depth,
                         std::int64_t inner, devices::Stream& stream);
// InTopKV2 (TF's tf.nn.in_top_k): out[b] = fewer than k classes score strictly above
// predictions[b, targets[b]] (ties count for the target); false for a target outside
// [0, classes) or a row holding a non-finite score (TF 2.21's results). predictions float32 [batch,
// classes], targets int32/int64 [batch], k an int32/int64 scalar read on the host.
template <class Index>
void in_top_k_ref(const float* predictions, const Index* targets, bool* out, std::int64_t batch,
                  std::int64_t classes, std::int64_t k);
template <class Index>
void in_top_k_cuda(const float* predictions, const Index* targets, bool* out, std::int64_t batch,
                   std::int64_t classes, std::int64_t k, devices::Stream& stream);
// Checks InTopKV2's inputs (TF's texts) and returns k.
std::int64_t in_top_k_check(const Tensor& predictions, const Tensor& targets, const Tensor& k,
                            const std::string& node);

void register_argmax_cuda_kernels(KernelRegistry& r);

}  // namespace scopeflow::kernels
