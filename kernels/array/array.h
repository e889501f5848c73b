// Array ops with simple reference kernels: Identity (aliases its input), Pack (stack along
// axis 0), LogicalNot, BooleanMask (1-D mask over the first dimension), and the shape ops
// Shape, Size, BroadcastGradientArgs, Prod and InvertPermutation (what gradients of tensors
// whose static shape is only partly known, and tensordot, compute at run time); Tile, Range,
// DynamicStitch, ZerosLike and OnesLike (reductions' gradients, tf.tile / tf.range). CPU:
// array_cpu.cc; CUDA: array_cuda.cu (Pack, BooleanMask, LogicalNot; every dtype but string,
// which lives in host memory; the shape ops; Tile, Range, DynamicStitch, ZerosLike, OnesLike).
#pragma once

#include <utility>
#include <vector>

#include "kernels/kernel.h"

namespace scopeflow::kernels {

// The dimensions of an int32/int64 vector (Shape's output, BroadcastGradientArgs' input);
// InvalidArgumentError naming `node` for another rank or dtype.
std::vector<std::int64_t> int_vector(const Tensor& t, const std::string& node, const char* what);
// TF's Where: the number of nonzero elements of `x` (bool, float32/64, int32/64; a scalar
// counts as one element), their row-major coordinates appended to `coords` ([count, rank]);
// InvalidArgumentError naming `node` for another dtype.
std::int64_t where_coordinates(const Tensor& x, const std::string& node,
                               std::vector<std::int64_t>* coords);
// OneHot's geometry: `indices` [outer..., inner...] with the new dimension of `depth` at
// `axis` (-1: last); InvalidArgumentError naming `node` for a bad depth or axis.
struct OneHotPlan {
  Shape out;
  std::int64_t outer = 1, depth = 0, inner = 1;
};
OneHotPlan one_hot_plan(const Tensor& indices, const Tensor& depth, std::int64_t axis,
                        const std::string& node);
// Select's geometry: how many consecutive elements of x each condition element governs (1 for
// a condition of x's shape, the row size for a vector over x's first dimension);
// InvalidArgumentError naming `node` for shapes that do not fit.
std::int64_t select_inner(const Tensor& cond, const Tensor& x, const Tensor& y,
                          const std::string& node);
// Transpose's geometry: the output shape and, for each output dimension, the stride of x's
// dimension it reads; InvalidArgumentError naming `node` for a perm that is not one of x.
struct TransposePlan {
  Shape out;
  std::vector<std::int64_t> in_strides;  // per output dimension
};
TransposePlan transpose_plan(const Tensor& x, const Tensor& perm, const std::string& node);
// TF's BroadcastGradientArgs on two shapes: for each, the axes of the broadcast shape over
// which its gradient sums (where its dimension, padded with leading 1s, is 1), ascending.
// InvalidArgumentError "Incompatible shapes" naming `node` when they do not broadcast.
std::pair<std::vector<std::int64_t>, std::vector<std::int64_t>> broadcast_gradient_args(
    const std::vector<std::int64_t>& s0, const std::vector<std::int64_t>& s1,
    const std::string& node);

// TF's Prod on int32 / int64 (shape arithmetic: tensordot's products of dimensions): x
// reduced over the axes `mask` marks (reduce.h's reduction_mask_of reads them, as for Sum), the
// products wrapping as TF's integer multiply. The output's shape and values (each fits x's
// dtype); InvalidArgumentError naming `node` for another dtype.
std::pair<Shape, std::vector<std::int64_t>> int_prod(const Tensor& x, const std::vector<bool>& mask,
                                                     bool keep_dims, const std::string& node);
// TF's InvertPermutation: y[x[i]] = i for an int32 / int64 vector x holding each of 0..n-1
// once; InvalidArgumentError naming `node` otherwise.
std::vector<std::int64_t> invert_permutation(const Tensor& x, const std::string& node);

// TF's Tile: output dimension i is x's times multiples[i] (an int32 / int64 vector of x's rank,
// each >= 0); output element (i_0, ...) reads x's (i_0 mod d_0, ...). InvalidArgumentError
// naming `node` (TF's messages) otherwise.
struct TilePlan {
  Shape out;
  std::vector<std::int64_t> multiples;
};
TilePlan tile_plan(const Tensor& x, const Tensor& multiples, const std::string& node);
// TF's Range(start, limit, delta) (scalars of one dtype: int32, int64, float32, float64): the
// number of elements, ceil(|limit - start| / |delta|); InvalidArgumentError naming `node` with
// TF's messages for delta 0, a start past the limit, or a count beyond int64.
std::int64_t range_size(const Tensor& start, const Tensor& limit, const Tensor& delta,
                        const std::string& node);
// TF's DynamicStitch(indices[0..N), data[0..N)): merged[indices[i][j]] = data[i][j] (later
// inputs win on a repeated index). `inputs` holds the N indices (int32) then the N data
// tensors. The plan: the output's shape, the elements per row, and each input's indices (row j
// of data[i], viewed as [indices[i].size, row], goes to output row indices[i][j]; applied in
// order, so later inputs win). A row no index names is zeros in ScopeFlow (TF leaves it
// uninitialized). InvalidArgumentError naming `node` (TF's messages) for shapes that do not fit
// or a negative index.
struct StitchPlan {
  Shape out;
  std::int64_t row = 1;
  std::vector<std::vector<std::int64_t>> indices;  // per input
};
StitchPlan stitch_plan(const std::vector<Tensor>& inputs, const std::string& node);
// Writes the value 1 of `dtype` (a number or bool) to host memory at `dst` (8 bytes suffice);
// InvalidArgumentError naming `node` for another dtype.
void write_one(DType dtype, void* dst, const std::string& node);

void register_array_cpu_kernels(KernelRegistry& r);
// Identity forwards its input's buffer, so the same code serves GPUs (label "cuda").
void register_array_gpu_kernels(KernelRegistry& r);
// Pack, BooleanMask (reads the mask back to size its output: a synchronization), LogicalNot
// and the shape ops on CUDA (label "cuda"; the shape ops read their HostMemory inputs on the
// host and write their small outputs from kernel parameters); CUDA builds only.
void register_array_cuda_kernels(KernelRegistry& r);

}  // namespace scopeflow::kernels
