// ConcatV2 and SplitV: one tensor from pieces along an axis, and back. Both are copies of
// contiguous blocks: with outer = the product of the dimensions before the axis, piece i is
// `outer` rows of inner_i bytes, laid side by side in the whole's rows of sum(inner_i) bytes.
// CPU: concat_cpu.cc (memcpy, any dtype); CUDA: concat_cuda.cc (one cudaMemcpy2DAsync per
// piece on the kernel's stream).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/kernel.h"

namespace scopeflow::kernels {

struct ConcatPlan {
  std::int64_t outer = 1;                 // rows
  std::vector<std::int64_t> piece_bytes;  // bytes of piece i in one row
  std::int64_t row_bytes = 0;             // the whole's row: the sum of piece_bytes
};

// The plan for pieces of shapes `pieces` joined along `axis` (negative counts from the end);
// InvalidArgumentError (naming `node`) when ranks or the other dimensions differ. `whole` gets
// the joined shape.
ConcatPlan concat_plan(const std::vector<Shape>& pieces, std::int64_t axis, DType dtype,
                       const std::string& node, Shape* whole);

// SplitV's pieces: `whole` cut along `axis` into `sizes` (one -1 takes the rest);
// InvalidArgumentError when they do not add up.
std::vector<Shape> split_shapes(const KernelContext& c, const Shape& whole,
                                std::vector<std::int64_t> sizes, std::int64_t axis);

// The axis / size_splits inputs as integers (int32 or int64; copied to the host when needed).
std::int64_t scalar_int_input(const KernelContext& c, std::size_t i);
std::vector<std::int64_t> int_vector_input(const KernelContext& c, std::size_t i);

void register_concat_cpu_kernels(KernelRegistry& r);
void register_concat_cuda_kernels(KernelRegistry& r);

}  // namespace scopeflow::kernels
