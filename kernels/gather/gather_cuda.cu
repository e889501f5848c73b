// GatherV2, UnsortedSegmentSum and _EmbeddingRowIndex on CUDA (label "cuda"): one thread per
// output (gather, row index) or input (segment sum, atomicAdd) element, grid-stride. Reference:
// gather_cpu.cc. Out-of-range indices (see gather.h): zeros, dropped, -1, and the first of them
// (the smallest flat index, by atomicMin) reported through a GpuCheck (gpu_args.h).
// NOTE: the segment sum's atomics add in no fixed order: float results may differ from the
// reference's index-order sum in the last bits (as TF's GPU kernel does).
#include <cuda_runtime_api.h>

#include <cstdint>
#include <limits>
#include <type_traits>

#include "devices/cuda/cuda_check.h"
#include "kernels/array/concat.h"
#include "kernels/common/cuda_stream.h"
#include "kernels/common/cuda_types.cuh"
#include "kernels/common/gpu_args.h"
#include "kernels/common/launch.cuh"
#include "kernels/gather/gather.h"

namespace scopeflow::kernels {
namespace {

constexpr int kBlock = 256;

// Records element j as failed in a DeferredCheck's word (the smallest wins).
__device__ __forceinline__ void note_bad(unsigned long long* bad, std::int64_t j) {
  atomicMin(bad, static_cast<unsigned long long>(j));
}

// out[o, j, k] = params[o, idx[j], k], zero where idx[j] is not in [0, limit) (and j noted in
// `bad`). E: an unsigned type of the element's size (a gather only moves bytes).
template <class E, class I>
__global__ void gather_kernel(const E* params, const I* idx, E* out, std::int64_t count,
                              std::int64_t limit, std::int64_t inner, std::int64_t n,
                              unsigned long long* bad) {
  for (std::int64_t e = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; e < n;
       e += std::int64_t{gridDim.x} * blockDim.x) {
    const std::int64_t row = e / inner;  // (o, j) as one index: two divisions, not four
    const std::int64_t k = e - row * inner;
    const std::int64_t o = row / count;
    const std::int64_t j = row - o * count;
    const std::int64_t i = static_cast<std::int64_t>(idx[j]);
    if (i >= 0 && i < limit) {
      out[e] = params[(o * limit + i) * inner + k];
    } else {
      out[e] = E(0);
      if (o == 0 && k == 0) note_bad(bad, j);
    }
  }
}

// int64 through the unsigned 64-bit atomic (two's complement sums wrap the same); __half and
// __nv_bfloat16 through their own atomics (sm_70 / sm_80 and newer), one rounding per add.
template <class T>
__device__ __forceinline__ void atomic_add(T* at, T v) {
  if constexpr (std::is_same_v<T, std::int64_t>)
    atomicAdd(reinterpret_cast<unsigned long long*>(at), static_cast<unsigned long long>(v));
  else
    atomicAdd(at, v);
}

// y[ids[i], k] += x[i, k] for ids in [0, num_segments); y starts zeroed. Negative ids are
// dropped; ids past the end are noted in `bad`.
template <class T, class I>
__global__ void segment_sum_kernel(const T* x, const I* ids, T* y, std::int64_t inner,
                                   std::int64_t num_segments, std::int64_t n,
                                   unsigned long long* bad) {
  for (std::int64_t e = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; e < n;
       e += std::int64_t{gridDim.x} * blockDim.x) {
    const std::int64_t i = e / inner, k = e - i * inner;
    const std::int64_t s = static_cast<std::int64_t>(ids[i]);
    if (s >= 0 && s < num_segments)
      atomic_add(&y[s * inner + k], x[e]);
    else if (s >= num_segments && k == 0)
      note_bad(bad, i);
  }
}

// At most this many shards travel as a kernel parameter.
constexpr int kMaxShards = 64;
struct Shards {
  std::int64_t rows[kMaxShards], offsets[kMaxShards];
};

template <class I>
__global__ void embedding_row_kernel(const I* ids, std::int64_t* out, Shards s, bool mod,
                                     std::int64_t parts, std::int64_t total, std::int64_t n,
                                     unsigned long long* bad) {
  for (std::int64_t e = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; e < n;
       e += std::int64_t{gridDim.x} * blockDim.x) {
    out[e] = embedding_row(static_cast<std::int64_t>(ids[e]), mod, parts, s.rows, s.offsets, total);
    if (out[e] < 0) note_bad(bad, e);
  }
}

// ---------------------------------------------------------------- adapters
DType index_dtype(const KernelContext& c, std::size_t i) {
  const DType t = c.inputs.at(i).dtype();
  if (t != DType::kInt32 && t != DType::kInt64)
    throw InvalidArgumentError(
        str_cat(c.node_name, ": input ", i, " must be int32 or int64, got ", dtype_name(t)));
  return t;
}

// The GPU kernels' errors end with what the step did meanwhile.
constexpr const char* kFoundAfter = " (found on the GPU once the step had run; the kernel ";

template <class E>
void launch_gather(const Tensor& params, const Tensor& idx, bool wide, Tensor& out,
                   const GatherPlan& p, unsigned long long* bad, cudaStream_t s) {
  const std::int64_t n = out.num_elements();
  if (!wide)
    gather_kernel<E, std::int32_t><<<grid_size(n, kBlock), kBlock, 0, s>>>(
        static_cast<const E*>(params.raw_data()), idx.data<std::int32_t>(),
        static_cast<E*>(out.raw_data()), p.count, p.limit, p.inner, n, bad);
  else
    gather_kernel<E, std::int64_t><<<grid_size(n, kBlock), kBlock, 0, s>>>(
        static_cast<const E*>(params.raw_data()), idx.data<std::int64_t>(),
        static_cast<E*>(out.raw_data()), p.count, p.limit, p.inner, n, bad);
}

void gather_gpu_kernel(KernelContext& c) {
  const Tensor& params = gpu_input(c, 0);
  const Tensor& idx = gpu_input(c, 1);
  if (params.dtype() == DType::kString)
    throw InvalidArgumentError(str_cat(c.node_name, ": string tensors live in host memory"));
  const GatherPlan p = gather_plan(c, params.shape(), idx.shape(), scalar_int_input(c, 2));
  const bool wide = index_dtype(c, 1) == DType::kInt64;
  GpuLaunchScope scope(c);
  Tensor& out = gpu_output(c, 0, params.dtype(), p.out);
  if (idx.num_elements() == 0) return;
  const cudaStream_t s = cuda_stream(c.get_stream(), c.node_name);
  GpuCheck check(c, [node = c.node_name, shape = idx.shape(), limit = p.limit](std::int64_t j,
                                                                               std::int64_t v) {
    return str_cat(gather_index_error(node, shape, j, v, limit), kFoundAfter, "gathered zeros)");
  });
  unsigned long long* bad = check.word();
  switch (out.num_elements() == 0 ? 0 : dtype_size(params.dtype())) {
    case 0:  // no rows to move, but the indices are checked (as on the CPU)
      launch_range_check(bad, idx.raw_data(), wide, idx.num_elements(), 0, p.limit, s);
      break;
    case 1: launch_gather<std::uint8_t>(params, idx, wide, out, p, bad, s); break;
    case 2: launch_gather<std::uint16_t>(params, idx, wide, out, p, bad, s); break;
    case 4: launch_gather<std::uint32_t>(params, idx, wide, out, p, bad, s); break;
    case 8: launch_gather<std::uint64_t>(params, idx, wide, out, p, bad, s); break;
    default:
      throw InvalidArgumentError(
          str_cat(c.node_name, ": unsupported dtype ", dtype_name(params.dtype())));
  }
  SF_CUDA_CHECK(cudaGetLastError());
  check.finish(idx);
}

template <class T>
void segment_sum_gpu_kernel(KernelContext& c) {
  using D = cuda_type_t<T>;
  const Tensor& data = gpu_input(c, 0);
  const Tensor& ids = gpu_input(c, 1);
  const SegmentPlan p = segment_plan(c, data.shape(), ids.shape(), scalar_int_input(c, 2));
  GpuLaunchScope scope(c);
  Tensor& out = gpu_output(c, 0, data.dtype(), p.out);
  const cudaStream_t s = cuda_stream(c.get_stream(), c.node_name);
  if (out.bytes() > 0) SF_CUDA_CHECK(cudaMemsetAsync(out.raw_data(), 0, out.bytes(), s));
  if (p.count == 0) return;
  const std::int64_t n = p.count * p.inner;
  const bool wide = index_dtype(c, 1) == DType::kInt64;
  GpuCheck check(c, [node = c.node_name, shape = ids.shape(), segments = p.num_segments](
                        std::int64_t j, std::int64_t v) {
    return str_cat(segment_id_error(node, shape, j, v, segments), kFoundAfter, "dropped the row)");
  });
  unsigned long long* bad = check.word();
  if (n == 0)  // empty rows: nothing to add, but the ids are checked (as on the CPU)
    launch_range_check(bad, ids.raw_data(), wide, p.count, std::numeric_limits<std::int64_t>::min(),
                       p.num_segments, s);
  else if (!wide)
    segment_sum_kernel<D, std::int32_t><<<grid_size(n, kBlock), kBlock, 0, s>>>(
        cuda_ptr(data.data<T>()), ids.data<std::int32_t>(), cuda_ptr(out.data<T>()), p.inner,
        p.num_segments, n, bad);
  else
    segment_sum_kernel<D, std::int64_t><<<grid_size(n, kBlock), kBlock, 0, s>>>(
        cuda_ptr(data.data<T>()), ids.data<std::int64_t>(), cuda_ptr(out.data<T>()), p.inner,
        p.num_segments, n, bad);
  SF_CUDA_CHECK(cudaGetLastError());
  check.finish(ids);
}

void embedding_row_index_gpu_kernel(KernelContext& c) {
  const ShardRows r = shard_rows(c);
  if (r.rows.size() > static_cast<std::size_t>(kMaxShards))
    throw InvalidArgumentError(str_cat(c.node_name, ": ", r.rows.size(),
                                       " shards; the GPU kernel takes at most ", kMaxShards));
  Shards sh{};
  for (std::size_t i = 0; i < r.rows.size(); ++i) {
    sh.rows[i] = r.rows[i];
    sh.offsets[i] = r.offsets[i];
  }
  const Tensor& ids = gpu_input(c, 0);
  GpuLaunchScope scope(c);
  Tensor& out = gpu_output(c, 0, DType::kInt64, ids.shape());
  const std::int64_t n = ids.num_elements();
  if (n == 0) return;
  const cudaStream_t s = cuda_stream(c.get_stream(), c.node_name);
  const auto parts = static_cast<std::int64_t>(r.rows.size());
  GpuCheck check(c, [node = c.node_name, shape = ids.shape(), r](std::int64_t j, std::int64_t v) {
    return str_cat(embedding_id_error(node, shape, j, v, r), kFoundAfter,
                   "gave row -1: the lookup gathered zeros)");
  });
  unsigned long long* bad = check.word();
  if (index_dtype(c, 0) == DType::kInt32)
    embedding_row_kernel<std::int32_t><<<grid_size(n, kBlock), kBlock, 0, s>>>(
        ids.data<std::int32_t>(), out.data<std::int64_t>(), sh, r.mod, parts, r.total, n, bad);
  else
    embedding_row_kernel<std::int64_t><<<grid_size(n, kBlock), kBlock, 0, s>>>(
        ids.data<std::int64_t>(), out.data<std::int64_t>(), sh, r.mod, parts, r.total, n, bad);
  SF_CUDA_CHECK(cudaGetLastError());
  check.finish(ids);
}

}  // namespace

void register_gather_cuda_kernels(KernelRegistry& r) {
  using devices::DeviceType;
  for (DType d : {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16,
                  DType::kInt32, DType::kInt64, DType::kBool, DType::kUInt8, DType::kInt8})
    r.add({"GatherV2", DeviceType::kGPU, d, "cuda"}, gather_gpu_kernel);
  r.add({"UnsortedSegmentSum", DeviceType::kGPU, DType::kFloat32, "cuda"},
        segment_sum_gpu_kernel<float>);
  r.add({"UnsortedSegmentSum", DeviceType::kGPU, DType::kFloat64, "cuda"},
        segment_sum_gpu_kernel<double>);
  r.add({"UnsortedSegmentSum", DeviceType::kGPU, DType::kInt32, "cuda"},
        segment_sum_gpu_kernel<std::int32_t>);
  r.add({"UnsortedSegmentSum", DeviceType::kGPU, DType::kInt64, "cuda"},
        segment_sum_gpu_kernel<std::int64_t>);
  r.add({"UnsortedSegmentSum", DeviceType::kGPU, DType::kFloat16, "cuda"},
        segment_sum_gpu_kernel<half>);
  r.add({"UnsortedSegmentSum", DeviceType::kGPU, DType::kBFloat16, "cuda"},
        segment_sum_gpu_kernel<bfloat16_t>);
  r.add({"_EmbeddingRowIndex", DeviceType::kGPU, DType::kInt64, "cuda"},
        embedding_row_index_gpu_kernel);
}

}  // namespace scopeflow::kernels
