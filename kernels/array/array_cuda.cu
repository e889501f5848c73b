// Array ops on CUDA: Pack (a device-to-device copy per input), BooleanMask (the mask read back
// to size the output, then a gather kernel), LogicalNot, Shape, Size, BroadcastGradientArgs,
// Tile, Range, DynamicStitch, ZerosLike, OnesLike.
// Reference: array_cpu.cc. Identity and Reshape alias their input and are registered from
// array_cpu.cc.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "devices/cuda/cuda_check.h"
#include "kernels/array/array.h"
#include "kernels/common/gpu_args.h"
#include "kernels/common/launch.cuh"
#include "kernels/reduce/reduce.h"

namespace scopeflow::kernels {
namespace {

constexpr int kBlock = 256;

// Calls f(E{}) with E the unsigned type of `dtype`'s element size (the kernels below move
// elements without reading them); InvalidArgumentError naming the node for another size.
template <class F>
void with_element_type(const KernelContext& c, DType dtype, const char* op, F f) {
  switch (dtype_size(dtype)) {
    case 1: return f(std::uint8_t{});
    case 2: return f(std::uint16_t{});
    case 4: return f(std::uint32_t{});
    case 8: return f(std::uint64_t{});
    default:
      throw InvalidArgumentError(
          str_cat(c.node_name, ": no CUDA ", op, " for ", dtype_name(dtype)));
  }
}

// ---------------------------------------------------------------- kernels
// out[j] = x[keep[j]] for the kept elements; E is an unsigned type of the element's size.
// One thread per output element, grid-stride.
template <class E>
__global__ void gather_elements_kernel(const E* x, const std::int64_t* keep, E* out,
                                       std::int64_t n) {
  for (std::int64_t j = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; j < n;
       j += std::int64_t{gridDim.x} * blockDim.x)
    out[j] = x[keep[j]];
}

// One thread per element, grid-stride. NOTE: any nonzero byte is true, as the reference's
// to_vector<bool> reads it.
__global__ void logical_not_kernel(const std::uint8_t* x, bool* out, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x)
    out[i] = x[i] == 0;
}

// ---------------------------------------------------------------- adapters
void pack_gpu_kernel(KernelContext& c) {
  if (c.inputs.empty()) throw InvalidArgumentError(str_cat(c.node_name, ": Pack needs inputs"));
  const Tensor& first = gpu_input(c, 0);
  std::vector<const void*> srcs;  // taken before the output, which may be preallocated
  for (std::size_t k = 0; k < c.inputs.size(); ++k) {
    const Tensor& t = gpu_input(c, k);
    if (t.dtype() != first.dtype() || !(t.shape() == first.shape()))
      throw InvalidArgumentError(str_cat(c.node_name, ": Pack inputs must match: ",
                                         first.shape().to_string(), " vs ", t.shape().to_string()));
    srcs.push_back(t.raw_data());
  }
  if (first.dtype() == DType::kString)
    throw InvalidArgumentError(str_cat(c.node_name, ": string tensors live in host memory"));
  const std::size_t bytes = first.bytes();
  std::vector<std::int64_t> dims{static_cast<std::int64_t>(c.inputs.size())};
  for (auto d : first.shape().dims()) dims.push_back(d);
  GpuLaunchScope scope(c);
  Tensor& out = gpu_output(c, 0, first.dtype(), Shape(dims));
  if (bytes == 0) return;
  const cudaStream_t s = cuda_stream(c.get_stream(), c.node_name);
  auto* dst = static_cast<char*>(out.raw_data());
  for (const void* src : srcs) {
    SF_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, s));
    dst += bytes;
  }
}

void boolean_mask_gpu_kernel(KernelContext& c) {
  if (c.inputs.size() != 2)
    throw InvalidArgumentError(str_cat(c.node_name, ": expects two inputs"));
  const Tensor& x = gpu_input(c, 0);
  const Tensor& mask = c.inputs[1];  // on the GPU or the host
  if (!mask.initialized())
    throw InvalidArgumentError(str_cat(c.node_name, ": input 1 (mask) is not a tensor"));
  if (x.shape().rank() != 1 || mask.shape().rank() != 1 ||
      x.shape().dims()[0] != mask.shape().dims()[0])
    throw InvalidArgumentError(
        str_cat(c.node_name, ": BooleanMask needs 1-D tensor and mask of one length, got ",
                x.shape().to_string(), " and ", mask.shape().to_string()));
  if (mask.dtype() != DType::kBool)
    throw InvalidArgumentError(
        str_cat(c.node_name, ": mask must be bool, got ", dtype_name(mask.dtype())));
  // The raw cudaStreamSynchronize calls below bypass the devices' CaptureGuard: refuse here,
  // before anything is queued, rather than invalidate a CUDA-graph capture (plans with a GPU
  // BooleanMask are ineligible; this is the backstop).
  if (c.capturing)
    throw FailedPreconditionError(
        str_cat(c.node_name,
                ": BooleanMask reads its mask on the host; it cannot be captured "
                "into a CUDA graph"));
  if (x.dtype() == DType::kString)
    throw InvalidArgumentError(str_cat(c.node_name, ": string tensors live in host memory"));
  GpuLaunchScope scope(c);
  const cudaStream_t s = cuda_stream(c.get_stream(), c.node_name);
  const std::int64_t n = mask.num_elements();
  // NOTE: the output's size depends on the mask's values, so the mask is read back on the
  // kernel's stream (a synchronization, as TF's GPU Where does).
  std::vector<std::uint8_t> m(static_cast<std::size_t>(n));
  if (n > 0) {
    if (mask.on_host()) {
      const auto* p = static_cast<const std::uint8_t*>(mask.raw_data());
      m.assign(p, p + n);
    } else {
      SF_CUDA_CHECK(cudaMemcpyAsync(m.data(), mask.raw_data(), static_cast<std::size_t>(n),
                                    cudaMemcpyDeviceToHost, s));
      SF_CUDA_CHECK(cudaStreamSynchronize(s));
    }
  }
  std::vector<std::int64_t> keep;
  for (std::int64_t i = 0; i < n; ++i)
    if (m[static_cast<std::size_t>(i)] != 0) keep.push_back(i);
  const auto kept = static_cast<std::int64_t>(keep.size());
  Tensor& out = gpu_output(c, 0, x.dtype(), Shape{kept});
  if (kept == 0) return;
  Tensor idx = gpu_scratch(c, DType::kInt64, Shape{kept});
  SF_CUDA_CHECK(cudaMemcpyAsync(idx.raw_data(), keep.data(),
                                static_cast<std::size_t>(kept) * sizeof(std::int64_t),
                                cudaMemcpyHostToDevice, s));
  SF_CUDA_CHECK(cudaStreamSynchronize(s));  // `keep` is freed on return
  const auto* ki = idx.data<std::int64_t>();
  const unsigned grid = grid_size(kept, kBlock);
  with_element_type(c, x.dtype(), "BooleanMask", [&](auto e) {
    using E = decltype(e);
    gather_elements_kernel<<<grid, kBlock, 0, s>>>(static_cast<const E*>(x.raw_data()), ki,
                                                   static_cast<E*>(out.raw_data()), kept);
  });
  SF_CUDA_CHECK(cudaGetLastError());
}

void logical_not_gpu_kernel(KernelContext& c) {
  if (c.inputs.size() != 1) throw InvalidArgumentError(str_cat(c.node_name, ": expects one input"));
  const Tensor& x = gpu_input(c, 0);
  if (x.dtype() != DType::kBool)
    throw InvalidArgumentError(
        str_cat(c.node_name, ": LogicalNot needs bool, got ", dtype_name(x.dtype())));
  GpuLaunchScope scope(c);
  Tensor& out = gpu_output(c, 0, DType::kBool, x.shape());
  const std::int64_t n = x.num_elements();
  if (n == 0) return;
  logical_not_kernel<<<grid_size(n, kBlock), kBlock, 0, cuda_stream(c.get_stream(), c.node_name)>>>(
      static_cast<const std::uint8_t*>(x.raw_data()), out.data<bool>(), n);
  SF_CUDA_CHECK(cudaGetLastError());
}

// ---------------------------------------------------------------- shape ops
// Up to kSmallInts values passed by value (kernel parameters): a shape's dimensions reach the
// device with no host buffer to keep alive and no copy to order, and CUDA graphs capture it.
constexpr int kSmallInts = 16;
struct SmallInts {
  std::int64_t v[kSmallInts];
};

template <class T>
__global__ void write_small_ints_kernel(T* out, SmallInts values, int n) {
  if (static_cast<int>(threadIdx.x) < n) out[threadIdx.x] = static_cast<T>(values.v[threadIdx.x]);
}

// Output i (int32 or int64) on the kernel's GPU holding `v`, written on its stream.
void write_ints_gpu(KernelContext& c, int i, DType dtype, const std::vector<std::int64_t>& v,
                    const Shape& shape) {
  Tensor& out = gpu_output(c, static_cast<std::size_t>(i), dtype, shape);
  cudaStream_t stream = cuda_stream(c.get_stream(), c.node_name);
  for (std::size_t off = 0; off < v.size(); off += kSmallInts) {
    SmallInts chunk{};
    const int n = static_cast<int>(std::min<std::size_t>(kSmallInts, v.size() - off));
    for (int k = 0; k < n; ++k) {
      chunk.v[k] = v[off + static_cast<std::size_t>(k)];
      if (dtype == DType::kInt32 && chunk.v[k] > std::numeric_limits<std::int32_t>::max())
        throw InvalidArgumentError(str_cat(c.node_name, ": value ", chunk.v[k],
                                           " does not fit int32; use out_type int64"));
    }
    if (dtype == DType::kInt32)
      write_small_ints_kernel<<<1, kSmallInts, 0, stream>>>(out.data<std::int32_t>() + off, chunk,
                                                            n);
    else
      write_small_ints_kernel<<<1, kSmallInts, 0, stream>>>(out.data<std::int64_t>() + off, chunk,
                                                            n);
    SF_CUDA_CHECK(cudaGetLastError());
  }
}

// Shape and Size read only the input's dimensions (not its data).
void shape_gpu_kernel(KernelContext& c) {
  if (c.inputs.size() != 1) throw InvalidArgumentError(str_cat(c.node_name, ": expects one input"));
  GpuLaunchScope scope(c);
  const auto& dims = c.inputs[0].shape().dims();
  write_ints_gpu(c, 0, c.attr().get_or<DType>("out_type", DType::kInt32), dims,
                 Shape{static_cast<std::int64_t>(dims.size())});
}

void rank_gpu_kernel(KernelContext& c) {
  if (c.inputs.size() != 1) throw InvalidArgumentError(str_cat(c.node_name, ": expects one input"));
  GpuLaunchScope scope(c);
  write_ints_gpu(c, 0, DType::kInt32, {c.inputs[0].shape().rank()}, Shape{});
}

void size_gpu_kernel(KernelContext& c) {
  if (c.inputs.size() != 1) throw InvalidArgumentError(str_cat(c.node_name, ": expects one input"));
  GpuLaunchScope scope(c);
  write_ints_gpu(c, 0, c.attr().get_or<DType>("out_type", DType::kInt32),
                 {c.inputs[0].num_elements()}, Shape{});
}

// Reads both shapes on the host (TF's HostMemory: a Const arrives as its host value; a value
// computed on the GPU is read back, a wait on the stream).
void broadcast_gradient_args_gpu_kernel(KernelContext& c) {
  if (c.inputs.size() != 2)
    throw InvalidArgumentError(str_cat(c.node_name, ": expects two inputs"));
  GpuLaunchScope scope(c);
  const auto [r0, r1] =
      broadcast_gradient_args(int_vector(c.inputs[0], c.node_name, "s0"),
                              int_vector(c.inputs[1], c.node_name, "s1"), c.node_name);
  const DType t = c.inputs[0].dtype();
  write_ints_gpu(c, 0, t, r0, Shape{static_cast<std::int64_t>(r0.size())});
  write_ints_gpu(c, 1, t, r1, Shape{static_cast<std::int64_t>(r1.size())});
}

// Prod (int32 / int64) and InvertPermutation read their inputs on the host (HostMemory, as
// TF's integer shape ops) and write their small outputs on the stream.
void prod_gpu_kernel(KernelContext& c) {
  if (c.inputs.size() != 2)
    throw InvalidArgumentError(str_cat(c.node_name, ": expects input and reduction_indices"));
  GpuLaunchScope scope(c);
  const auto [shape, v] = int_prod(c.inputs[0], reduction_mask_of(c, c.inputs[0].shape()),
                                   c.attr().get_or<bool>("keep_dims", false), c.node_name);
  write_ints_gpu(c, 0, c.inputs[0].dtype(), v, shape);
}

void invert_permutation_gpu_kernel(KernelContext& c) {
  if (c.inputs.size() != 1) throw InvalidArgumentError(str_cat(c.node_name, ": expects one input"));
  GpuLaunchScope scope(c);
  const auto inverse = invert_permutation(c.inputs[0], c.node_name);
  write_ints_gpu(c, 0, c.inputs[0].dtype(), inverse,
                 Shape{static_cast<std::int64_t>(inverse.size())});
}

// Up to kTransposeDims dimensions: the output's sizes and x's strides per output dimension,
// passed by value.
constexpr int kTransposeDims = 8;
struct TransposeArgs {
  std::int64_t out_dims[kTransposeDims];
  std::int64_t in_strides[kTransposeDims];
  int rank;
};

template <class E>
__global__ void transpose_kernel(const E* x, E* out, std::int64_t n, TransposeArgs a) {
  for (std::int64_t e = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; e < n;
       e += std::int64_t{gridDim.x} * blockDim.x) {
    std::int64_t rest = e, src = 0;
    for (int k = a.rank - 1; k >= 0; --k) {
      src += (rest % a.out_dims[k]) * a.in_strides[k];
      rest /= a.out_dims[k];
    }
    out[e] = x[src];
  }
}

void transpose_gpu_kernel(KernelContext& c) {
  if (c.inputs.size() != 2)
    throw InvalidArgumentError(str_cat(c.node_name, ": expects x and perm"));
  const Tensor& x = gpu_input(c, 0);
  const TransposePlan p = transpose_plan(x, c.inputs[1], c.node_name);  // perm on the host
  if (p.out.rank() > kTransposeDims)
    throw InvalidArgumentError(str_cat(c.node_name, ": the CUDA Transpose takes up to ",
                                       kTransposeDims, " dimensions, got ", p.out.rank()));
  GpuLaunchScope scope(c);
  Tensor& out = gpu_output(c, 0, x.dtype(), p.out);
  const std::int64_t n = out.num_elements();
  if (n == 0) return;
  TransposeArgs a{};
  a.rank = p.out.rank();
  for (int k = 0; k < a.rank; ++k) {
    a.out_dims[k] = p.out.dims()[static_cast<std::size_t>(k)];
    a.in_strides[k] = p.in_strides[static_cast<std::size_t>(k)];
  }
  const cudaStream_t s = cuda_stream(c.get_stream(), c.node_name);
  const unsigned grid = grid_size(n, kBlock);
  with_element_type(c, x.dtype(), "Transpose", [&](auto e) {
    using E = decltype(e);
    transpose_kernel<<<grid, kBlock, 0, s>>>(static_cast<const E*>(x.raw_data()),
                                             static_cast<E*>(out.raw_data()), n, a);
  });
  SF_CUDA_CHECK(cudaGetLastError());
}

// One thread per element, grid-stride: out[e] = cond[e / inner] ? x[e] : y[e] (E: an unsigned
// type of the element's size). NOTE: any nonzero condition byte is true.
template <class E>
__global__ void select_kernel(const std::uint8_t* cond, const E* x, const E* y, E* out,
                              std::int64_t n, std::int64_t inner) {
  for (std::int64_t e = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; e < n;
       e += std::int64_t{gridDim.x} * blockDim.x)
    out[e] = cond[e / inner] ? x[e] : y[e];
}

void select_gpu_kernel(KernelContext& c) {
  if (c.inputs.size() != 3)
    throw InvalidArgumentError(str_cat(c.node_name, ": expects condition, x and y"));
  const Tensor &cond = gpu_input(c, 0), &x = gpu_input(c, 1), &y = gpu_input(c, 2);
  const std::int64_t inner = select_inner(cond, x, y, c.node_name);
  GpuLaunchScope scope(c);
  Tensor& out = gpu_output(c, 0, x.dtype(), x.shape());
  const std::int64_t n = x.num_elements();
  if (n == 0) return;
  const cudaStream_t s = cuda_stream(c.get_stream(), c.node_name);
  const unsigned grid = grid_size(n, kBlock);
  const auto* m = static_cast<const std::uint8_t*>(cond.raw_data());
  with_element_type(c, x.dtype(), "Select", [&](auto e) {
    using E = decltype(e);
    select_kernel<<<grid, kBlock, 0, s>>>(m, static_cast<const E*>(x.raw_data()),
                                          static_cast<const E*>(y.raw_data()),
                                          static_cast<E*>(out.raw_data()), n, inner);
  });
  SF_CUDA_CHECK(cudaGetLastError());
}

// One thread per output element, grid-stride: out[(o, d, i)] = ids[(o, i)] == d ? on : off.
template <class T, class I>
__global__ void one_hot_kernel(const I* ids, T* out, std::int64_t outer, std::int64_t depth,
                               std::int64_t inner, T on, T off) {
  const std::int64_t n = outer * depth * inner;
  for (std::int64_t e = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; e < n;
       e += std::int64_t{gridDim.x} * blockDim.x) {
    const std::int64_t i = e % inner, d = (e / inner) % depth, o = e / (inner * depth);
    out[e] = static_cast<std::int64_t>(ids[o * inner + i]) == d ? on : off;
  }
}

template <class T>
void one_hot_gpu_kernel(KernelContext& c) {
  if (c.inputs.size() != 4)
    throw InvalidArgumentError(str_cat(c.node_name, ": expects indices, depth, on and off values"));
  const Tensor& ids = gpu_input(c, 0);
  const OneHotPlan p =
      one_hot_plan(ids, c.inputs[1], c.attr().get_or<std::int64_t>("axis", -1), c.node_name);
  const T on = c.inputs[2].scalar<T>(), off = c.inputs[3].scalar<T>();  // host values
  GpuLaunchScope scope(c);
  Tensor& out = gpu_output(c, 0, dtype_of<T>, p.out);
  const std::int64_t n = out.num_elements();
  if (n == 0) return;
  const cudaStream_t s = cuda_stream(c.get_stream(), c.node_name);
  const unsigned grid = grid_size(n, kBlock);
  switch (ids.dtype()) {
    case DType::kInt32:
      one_hot_kernel<<<grid, kBlock, 0, s>>>(ids.data<std::int32_t>(), out.data<T>(), p.outer,
                                             p.depth, p.inner, on, off);
      break;
    case DType::kInt64:
      one_hot_kernel<<<grid, kBlock, 0, s>>>(ids.data<std::int64_t>(), out.data<T>(), p.outer,
                                             p.depth, p.inner, on, off);
      break;
    case DType::kUInt8:
      one_hot_kernel<<<grid, kBlock, 0, s>>>(ids.data<std::uint8_t>(), out.data<T>(), p.outer,
                                             p.depth, p.inner, on, off);
      break;
    default:
      throw InvalidArgumentError(str_cat(c.node_name, ": indices must be uint8, int32 or int64"));
  }
  SF_CUDA_CHECK(cudaGetLastError());
}

// The coordinates are computed on the host (TF's GPU Where also reads its count back): the
// output's size depends on the input's values, so this is a synchronization.
void where_gpu_kernel(KernelContext& c) {
  if (c.inputs.size() != 1) throw InvalidArgumentError(str_cat(c.node_name, ": expects one input"));
  const Tensor& x = c.inputs[0];
  if (!x.initialized())
    throw InvalidArgumentError(str_cat(c.node_name, ": input 0 is not a tensor"));
  // Raw stream synchronizations below: refused inside a capture (plans with a GPU Where are
  // ineligible; this is the backstop).
  if (c.capturing)
    throw FailedPreconditionError(
        str_cat(c.node_name,
                ": Where reads its input on the host; it cannot be captured into a CUDA graph"));
  GpuLaunchScope scope(c);
  const cudaStream_t s = cuda_stream(c.get_stream(), c.node_name);
  Tensor host(x.dtype(), x.shape());
  if (x.bytes() > 0) {
    if (x.on_host()) {
      std::memcpy(host.raw_data(), x.raw_data(), x.bytes());
    } else {
      SF_CUDA_CHECK(
          cudaMemcpyAsync(host.raw_data(), x.raw_data(), x.bytes(), cudaMemcpyDeviceToHost, s));
      SF_CUDA_CHECK(cudaStreamSynchronize(s));
    }
  }
  std::vector<std::int64_t> coords;
  const std::int64_t count = where_coordinates(host, c.node_name, &coords);
  Tensor& out = gpu_output(c, 0, DType::kInt64, Shape{count, x.shape().rank()});
  if (coords.empty()) return;
  SF_CUDA_CHECK(cudaMemcpyAsync(out.raw_data(), coords.data(), coords.size() * sizeof(std::int64_t),
                                cudaMemcpyHostToDevice, s));
  SF_CUDA_CHECK(cudaStreamSynchronize(s));  // `coords` is freed on return
}

// Tile: up to kTransposeDims dimensions; output element e reads x at (coordinate mod x's
// dimension) per dimension.
struct TileArgs {
  std::int64_t out_dims[kTransposeDims];
  std::int64_t in_dims[kTransposeDims];
  std::int64_t in_strides[kTransposeDims];
  int rank;
};

template <class E>
__global__ void tile_kernel(const E* x, E* out, std::int64_t n, TileArgs a) {
  for (std::int64_t e = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; e < n;
       e += std::int64_t{gridDim.x} * blockDim.x) {
    std::int64_t rest = e, src = 0;
    for (int k = a.rank - 1; k >= 0; --k) {
      src += (rest % a.out_dims[k]) % a.in_dims[k] * a.in_strides[k];
      rest /= a.out_dims[k];
    }
    out[e] = x[src];
  }
}

void tile_gpu_kernel(KernelContext& c) {
  if (c.inputs.size() != 2)
    throw InvalidArgumentError(str_cat(c.node_name, ": expects input and multiples"));
  const Tensor& x = gpu_input(c, 0);
  const TilePlan p = tile_plan(x, c.inputs[1], c.node_name);  // multiples on the host
  if (p.out.rank() > kTransposeDims)
    throw InvalidArgumentError(str_cat(c.node_name, ": the CUDA Tile takes up to ", kTransposeDims,
                                       " dimensions, got ", p.out.rank()));
  GpuLaunchScope scope(c);
  Tensor& out = gpu_output(c, 0, x.dtype(), p.out);
  const std::int64_t n = out.num_elements();
  if (n == 0) return;
  TileArgs a{};
  a.rank = p.out.rank();
  std::int64_t stride = 1;
  for (int k = a.rank - 1; k >= 0; --k) {
    a.out_dims[k] = p.out.dims()[static_cast<std::size_t>(k)];
    a.in_dims[k] = x.shape().dims()[static_cast<std::size_t>(k)];
    a.in_strides[k] = stride;
    stride *= a.in_dims[k];
  }
  const cudaStream_t s = cuda_stream(c.get_stream(), c.node_name);
  with_element_type(c, x.dtype(), "Tile", [&](auto e) {
    using E = decltype(e);
    tile_kernel<<<grid_size(n, kBlock), kBlock, 0, s>>>(static_cast<const E*>(x.raw_data()),
                                                        static_cast<E*>(out.raw_data()), n, a);
  });
  SF_CUDA_CHECK(cudaGetLastError());
}

// Range: out[i] = start + i * delta, computed as the reference does (integers wrap).
template <class T>
__global__ void range_kernel(T start, T delta, T* out, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    if constexpr (std::is_integral_v<T>) {
      using U = std::make_unsigned_t<T>;
      out[i] = static_cast<T>(static_cast<U>(start) +
                              static_cast<U>(static_cast<U>(i) * static_cast<U>(delta)));
    } else {
      out[i] = start + static_cast<T>(i) * delta;
    }
  }
}

// start, limit and delta are HostMemory (read on the host, as TF's GPU Range).
template <class T>
void range_gpu_kernel(KernelContext& c) {
  if (c.inputs.size() != 3)
    throw InvalidArgumentError(str_cat(c.node_name, ": expects start, limit and delta"));
  const std::int64_t n = range_size(c.inputs[0], c.inputs[1], c.inputs[2], c.node_name);
  const T start = c.inputs[0].to_vector<T>()[0], delta = c.inputs[2].to_vector<T>()[0];
  GpuLaunchScope scope(c);
  Tensor& out = gpu_output(c, 0, dtype_of<T>, Shape{n});
  if (n == 0) return;
  range_kernel<<<grid_size(n, kBlock), kBlock, 0, cuda_stream(c.get_stream(), c.node_name)>>>(
      start, delta, out.data<T>(), n);
  SF_CUDA_CHECK(cudaGetLastError());
}

// DynamicStitch: the plan is made on the host (the indices are HostMemory, as TF's: Consts and
// folded values arrive as host values; indices computed on the GPU are read back, a wait on the
// stream); each output row's source (data input, row), or -1 for a row no index names (zeros),
// goes to the device in one copy; one launch per kStitchPieces data inputs gathers the rows.
constexpr int kStitchPieces = 16;
struct StitchPieces {
  const void* p[kStitchPieces];
  int first;  // the data input p[0] is
};

template <class E>
__global__ void stitch_kernel(StitchPieces pieces, const std::int64_t* source, std::int64_t row,
                              E* out, std::int64_t n) {
  for (std::int64_t e = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; e < n;
       e += std::int64_t{gridDim.x} * blockDim.x) {
    const std::int64_t r = e / row;
    const std::int64_t piece = source[2 * r], at = source[2 * r + 1];
    if (piece < 0) {
      if (pieces.first == 0) out[e] = E{0};
    } else if (piece >= pieces.first && piece < pieces.first + kStitchPieces) {
      out[e] = static_cast<const E*>(pieces.p[piece - pieces.first])[at * row + e % row];
    }
  }
}

void dynamic_stitch_gpu_kernel(KernelContext& c) {
  const std::size_t n = c.inputs.size() / 2;
  for (std::size_t i = n; i < c.inputs.size(); ++i) gpu_input(c, i);
  const StitchPlan p = stitch_plan(c.inputs, c.node_name);
  GpuLaunchScope scope(c);
  const DType dt = c.inputs[n].dtype();
  Tensor& out = gpu_output(c, 0, dt, p.out);
  const std::int64_t count = out.num_elements();
  if (count == 0) return;
  // Each output row's source (input, row), later inputs winning; (-1, -1): zeros.
  std::vector<std::int64_t> table(2 * static_cast<std::size_t>(p.out.dims()[0]), -1);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < p.indices[i].size(); ++j) {
      const auto r = static_cast<std::size_t>(p.indices[i][j]);
      table[2 * r] = static_cast<std::int64_t>(i);
      table[2 * r + 1] = static_cast<std::int64_t>(j);
    }
  Tensor source = gpu_scratch(c, DType::kInt64, Shape{static_cast<std::int64_t>(table.size())});
  const cudaStream_t s = cuda_stream(c.get_stream(), c.node_name);
  SF_CUDA_CHECK(cudaMemcpyAsync(source.raw_data(), table.data(),
                                table.size() * sizeof(std::int64_t), cudaMemcpyHostToDevice, s));
  with_element_type(c, dt, "DynamicStitch", [&](auto e) {
    using E = decltype(e);
    for (std::size_t first = 0; first < n; first += kStitchPieces) {
      StitchPieces pieces{};
      pieces.first = static_cast<int>(first);
      for (std::size_t k = 0; k < kStitchPieces && first + k < n; ++k)
        pieces.p[k] = c.inputs[n + first + k].raw_data();
      stitch_kernel<<<grid_size(count, kBlock), kBlock, 0, s>>>(
          pieces, source.data<std::int64_t>(), p.row, static_cast<E*>(out.raw_data()), count);
      SF_CUDA_CHECK(cudaGetLastError());
    }
  });
  SF_CUDA_CHECK(cudaStreamSynchronize(s));  // `table` (pageable) is freed on return
}

// ZerosLike: a memset on the stream; OnesLike: the dtype's 1 written by element size.
template <class E>
__global__ void fill_pattern_kernel(E* out, E value, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x)
    out[i] = value;
}

void zeros_like_gpu_kernel(KernelContext& c) {
  if (c.inputs.size() != 1) throw InvalidArgumentError(str_cat(c.node_name, ": expects one input"));
  const Tensor& x = gpu_input(c, 0);
  GpuLaunchScope scope(c);
  Tensor& out = gpu_output(c, 0, x.dtype(), x.shape());
  if (out.bytes() == 0) return;
  SF_CUDA_CHECK(
      cudaMemsetAsync(out.raw_data(), 0, out.bytes(), cuda_stream(c.get_stream(), c.node_name)));
}

void ones_like_gpu_kernel(KernelContext& c) {
  if (c.inputs.size() != 1) throw InvalidArgumentError(str_cat(c.node_name, ": expects one input"));
  const Tensor& x = gpu_input(c, 0);
  GpuLaunchScope scope(c);
  Tensor& out = gpu_output(c, 0, x.dtype(), x.shape());
  const std::int64_t n = out.num_elements();
  if (n == 0) return;
  unsigned char one[8] = {};
  write_one(x.dtype(), one, c.node_name);
  const cudaStream_t s = cuda_stream(c.get_stream(), c.node_name);
  with_element_type(c, x.dtype(), "OnesLike", [&](auto e) {
    using E = decltype(e);
    E value;
    std::memcpy(&value, one, sizeof(E));
    fill_pattern_kernel<<<grid_size(n, kBlock), kBlock, 0, s>>>(static_cast<E*>(out.raw_data()),
                                                                value, n);
  });
  SF_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

// ---------------------------------------------------------------- registration
void register_array_cuda_kernels(KernelRegistry& r) {
  using devices::DeviceType;
  for (DType d : {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16,
                  DType::kInt32, DType::kInt64, DType::kBool, DType::kUInt8, DType::kInt8}) {
    r.add({"Pack", DeviceType::kGPU, d, "cuda"}, pack_gpu_kernel);
    r.add({"BooleanMask", DeviceType::kGPU, d, "cuda"}, boolean_mask_gpu_kernel);
    r.add({"Select", DeviceType::kGPU, d, "cuda"}, select_gpu_kernel);
    r.add({"Transpose", DeviceType::kGPU, d, "cuda"}, transpose_gpu_kernel);
    r.add({"Tile", DeviceType::kGPU, d, "cuda"}, tile_gpu_kernel);
    r.add({"DynamicStitch", DeviceType::kGPU, d, "cuda"}, dynamic_stitch_gpu_kernel);
    r.add({"ZerosLike", DeviceType::kGPU, d, "cuda"}, zeros_like_gpu_kernel);
    r.add({"OnesLike", DeviceType::kGPU, d, "cuda"}, ones_like_gpu_kernel);
  }
  r.add({"Rank", DeviceType::kGPU, DType::kInt32, "cuda"}, rank_gpu_kernel);
  r.add({"Range", DeviceType::kGPU, DType::kInt32, "cuda"}, range_gpu_kernel<std::int32_t>);
  r.add({"Range", DeviceType::kGPU, DType::kInt64, "cuda"}, range_gpu_kernel<std::int64_t>);
  r.add({"Range", DeviceType::kGPU, DType::kFloat32, "cuda"}, range_gpu_kernel<float>);
  r.add({"Range", DeviceType::kGPU, DType::kFloat64, "cuda"}, range_gpu_kernel<double>);
  r.add({"LogicalNot", DeviceType::kGPU, DType::kBool, "cuda"}, logical_not_gpu_kernel);
  r.add({"Where", DeviceType::kGPU, DType::kInt64, "cuda"}, where_gpu_kernel);
  r.add({"OneHot", DeviceType::kGPU, DType::kFloat32, "cuda"}, one_hot_gpu_kernel<float>);
  r.add({"OneHot", DeviceType::kGPU, DType::kFloat64, "cuda"}, one_hot_gpu_kernel<double>);
  r.add({"OneHot", DeviceType::kGPU, DType::kInt32, "cuda"}, one_hot_gpu_kernel<std::int32_t>);
  r.add({"OneHot", DeviceType::kGPU, DType::kInt64, "cuda"}, one_hot_gpu_kernel<std::int64_t>);
  for (DType d : {DType::kInt32, DType::kInt64}) {
    r.add({"Shape", DeviceType::kGPU, d, "cuda"}, shape_gpu_kernel);
    r.add({"Size", DeviceType::kGPU, d, "cuda"}, size_gpu_kernel);
    r.add({"BroadcastGradientArgs", DeviceType::kGPU, d, "cuda"},
          broadcast_gradient_args_gpu_kernel);
    r.add({"Prod", DeviceType::kGPU, d, "cuda"}, prod_gpu_kernel);
    r.add({"InvertPermutation", DeviceType::kGPU, d, "cuda"}, invert_permutation_gpu_kernel);
  }
}

}  // namespace scopeflow::kernels
