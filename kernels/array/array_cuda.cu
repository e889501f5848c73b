// Array ops on CUDA: Pack (a device-to-device copy per input), BooleanMask (the mask read back
// to size the output, then a gather kernel), LogicalNot. Reference: array_cpu.cc. Identity and
// Reshape alias their input and are registered from array_cpu.cc.
#include <cstdint>
#include <vector>

#include "devices/cuda/cuda_check.h"
#include "kernels/array/array.h"
#include "kernels/common/gpu_args.h"
#include "kernels/common/launch.cuh"

namespace scopeflow::kernels {
namespace {

constexpr int kBlock = 256;

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
  switch (dtype_size(x.dtype())) {
    case 1:
      gather_elements_kernel<<<grid, kBlock, 0, s>>>(static_cast<const std::uint8_t*>(x.raw_data()),
                                                     ki, static_cast<std::uint8_t*>(out.raw_data()),
                                                     kept);
      break;
    case 2:
      gather_elements_kernel<<<grid, kBlock, 0, s>>>(
          static_cast<const std::uint16_t*>(x.raw_data()), ki,
          static_cast<std::uint16_t*>(out.raw_data()), kept);
      break;
    case 4:
      gather_elements_kernel<<<grid, kBlock, 0, s>>>(
          static_cast<const std::uint32_t*>(x.raw_data()), ki,
          static_cast<std::uint32_t*>(out.raw_data()), kept);
      break;
    case 8:
      gather_elements_kernel<<<grid, kBlock, 0, s>>>(
          static_cast<const std::uint64_t*>(x.raw_data()), ki,
          static_cast<std::uint64_t*>(out.raw_data()), kept);
      break;
    default:
      throw InvalidArgumentError(
          str_cat(c.node_name, ": BooleanMask does not support ", dtype_name(x.dtype())));
  }
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

}  // namespace

// ---------------------------------------------------------------- registration
void register_array_cuda_kernels(KernelRegistry& r) {
  using devices::DeviceType;
  for (DType d : {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16,
                  DType::kInt32, DType::kInt64, DType::kBool, DType::kUInt8, DType::kInt8}) {
    r.add({"Pack", DeviceType::kGPU, d, "cuda"}, pack_gpu_kernel);
    r.add({"BooleanMask", DeviceType::kGPU, d, "cuda"}, boolean_mask_gpu_kernel);
  }
  r.add({"LogicalNot", DeviceType::kGPU, DType::kBool, "cuda"}, logical_not_gpu_kernel);
}

}  // namespace scopeflow::kernels
