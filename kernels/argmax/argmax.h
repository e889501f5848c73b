// ArgMax: the index of the largest value along one dimension (TF's input "dimension", an
// int32/int64 scalar), as int32 or int64 (attr output_type). Inputs float32, float64, int32,
// int64. CPU: argmax_cpu.cc.
//
// NOTE: ties give the first index. NaN is skipped, as TF's CPU kernel (Eigen's ArgMax
// reducer: a running (index 0, lowest()) pair replaced only by a strictly greater value) does:
// [1, NaN, 3] -> 2, and a row of only NaN (or only -inf) gives 0. numpy would return the NaN's
// index instead.
#pragma once

#include <cstdint>

#include "kernels/kernel.h"

namespace scopeflow::kernels {

// x viewed as [outer, depth, inner]; out[o * inner + i] = argmax over d of x[o, d, i].
template <class T, class Index>
void argmax_forward_ref(const T* x, Index* out, std::int64_t outer, std::int64_t depth,
                        std::int64_t inner);
// NOTE: registered under the output dtype (int32, int64), the dtype the session looks kernels
// up by; the kernel dispatches on the input's dtype.
void register_argmax_cpu_kernels(KernelRegistry& r);

}  // namespace scopeflow::kernels
