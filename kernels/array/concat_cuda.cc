// ConcatV2 / SplitV on GPUs: one strided cudaMemcpy2DAsync per piece on the kernel's stream
// (rows of piece_bytes at a pitch of row_bytes). See concat.h.
#include <cuda_runtime_api.h>

#include "devices/cuda/cuda_check.h"
#include "kernels/array/concat.h"
#include "kernels/common/cuda_stream.h"
#include "kernels/common/gpu_args.h"

namespace scopeflow::kernels {
namespace {

void concat_cuda_kernel(KernelContext& c) {
  // NOTE: checked before `size() - 1` (which wraps for no inputs), and every piece must be GPU
  // memory of piece 0's dtype: piece_bytes come from piece 0's dtype, so a narrower piece
  // would be read past its end.
  if (c.inputs.size() < 2)
    throw InvalidArgumentError(str_cat(c.node_name, ": ConcatV2 needs values and an axis, got ",
                                       c.inputs.size(), " inputs"));
  const std::size_t n = c.inputs.size() - 1;
  std::vector<Shape> shapes;
  for (std::size_t i = 0; i < n; ++i) {
    const Tensor& t = gpu_input(c, i);
    if (t.dtype() != c.inputs[0].dtype())
      throw InvalidArgumentError(str_cat(c.node_name, ": input ", i, " is ", dtype_name(t.dtype()),
                                         ", input 0 is ", dtype_name(c.inputs[0].dtype())));
    shapes.push_back(t.shape());
  }
  Shape whole;
  const auto plan =
      concat_plan(shapes, scalar_int_input(c, n), c.inputs[0].dtype(), c.node_name, &whole);
  GpuLaunchScope scope(c);
  Tensor& y = gpu_output(c, 0, c.inputs[0].dtype(), whole);
  auto* dst = static_cast<char*>(y.raw_data());
  const cudaStream_t s = cuda_stream(c.get_stream(), c.node_name);
  std::int64_t offset = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t b = plan.piece_bytes[i];
    if (b > 0 && plan.outer > 0)
      SF_CUDA_CHECK(cudaMemcpy2DAsync(
          dst + offset, static_cast<std::size_t>(plan.row_bytes), c.inputs[i].raw_data(),
          static_cast<std::size_t>(b), static_cast<std::size_t>(b),
          static_cast<std::size_t>(plan.outer), cudaMemcpyDeviceToDevice, s));
    offset += b;
  }
}

void split_cuda_kernel(KernelContext& c) {
  const Tensor& x = gpu_input(c, 0);
  const std::int64_t axis = scalar_int_input(c, 2);
  const auto pieces = split_shapes(c, x.shape(), int_vector_input(c, 1), axis);
  Shape whole;
  const auto plan = concat_plan(pieces, axis, x.dtype(), c.node_name, &whole);
  c.outputs.resize(pieces.size());
  const auto* src = static_cast<const char*>(x.raw_data());
  const cudaStream_t s = cuda_stream(c.get_stream(), c.node_name);
  GpuLaunchScope scope(c);
  std::int64_t offset = 0;
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    Tensor& y = gpu_output(c, i, x.dtype(), pieces[i]);  // GPU memory, not host (allocate_output)
    const std::int64_t b = plan.piece_bytes[i];
    if (b > 0 && plan.outer > 0)
      SF_CUDA_CHECK(
          cudaMemcpy2DAsync(y.raw_data(), static_cast<std::size_t>(b), src + offset,
                            static_cast<std::size_t>(plan.row_bytes), static_cast<std::size_t>(b),
                            static_cast<std::size_t>(plan.outer), cudaMemcpyDeviceToDevice, s));
    offset += b;
  }
}

}  // namespace

void register_concat_cuda_kernels(KernelRegistry& r) {
  for (DType t : {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16,
                  DType::kInt32, DType::kInt64}) {
    r.add({"ConcatV2", devices::DeviceType::kGPU, t, "cuda"}, concat_cuda_kernel);
    r.add({"SplitV", devices::DeviceType::kGPU, t, "cuda"}, split_cuda_kernel);
  }
}

}  // namespace scopeflow::kernels
