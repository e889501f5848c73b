// Optimizer updates on CUDA, in place on the variable and slot tensors. Reference:
// apply_cpu.cc; the expressions below are its expressions, operation for operation.
#include "devices/cuda/cuda_check.h"
#include "kernels/apply/apply.h"
#include "kernels/common/gpu_args.h"
#include "kernels/common/launch.cuh"

namespace scopeflow::kernels {
namespace {

constexpr int kBlock = 256;

__device__ __forceinline__ float get(const ScalarArg& s) { return s.ptr ? *s.ptr : s.value; }

// ---------------------------------------------------------------- kernels
// One element per thread, grid-stride; scalars are read once per thread.
__global__ void apply_gradient_descent_kernel(float* var, ScalarArg alpha_arg, const float* delta,
                                              std::int64_t n) {
  const float alpha = get(alpha_arg);
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x)
    var[i] -= alpha * delta[i];
}

__global__ void apply_momentum_kernel(float* var, float* accum, ScalarArg lr_arg, const float* grad,
                                      ScalarArg momentum_arg, bool nesterov, std::int64_t n) {
  const float lr = get(lr_arg), momentum = get(momentum_arg);
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    accum[i] = accum[i] * momentum + grad[i];
    var[i] -= nesterov ? grad[i] * lr + accum[i] * momentum * lr : lr * accum[i];
  }
}

__global__ void apply_adam_kernel(float* var, float* m, float* v, ScalarArg beta1_power_arg,
                                  ScalarArg beta2_power_arg, ScalarArg lr_arg, ScalarArg beta1_arg,
                                  ScalarArg beta2_arg, ScalarArg epsilon_arg, const float* grad,
                                  std::int64_t n) {
  const float beta1_power = get(beta1_power_arg), beta2_power = get(beta2_power_arg);
  const float lr = get(lr_arg), beta1 = get(beta1_arg), beta2 = get(beta2_arg);
  const float epsilon = get(epsilon_arg);
  // sqrtf and / are IEEE (nvcc's -prec-sqrt / -prec-div defaults), as std::sqrt on the host.
  const float alpha = lr * sqrtf(1.0f - beta2_power) / (1.0f - beta1_power);
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    m[i] += (grad[i] - m[i]) * (1.0f - beta1);
    v[i] += (grad[i] * grad[i] - v[i]) * (1.0f - beta2);
    var[i] -= alpha * m[i] / (sqrtf(v[i]) + epsilon);
  }
}

}  // namespace

// ---------------------------------------------------------------- launchers
void apply_gradient_descent_cuda(float* var, ScalarArg alpha, const float* delta, std::int64_t n,
                                 devices::Stream& stream) {
  if (n == 0) return;
  apply_gradient_descent_kernel<<<grid_size(n, kBlock), kBlock, 0, cuda_stream(stream)>>>(
      var, alpha, delta, n);
  SF_CUDA_CHECK(cudaGetLastError());
}

void apply_momentum_cuda(float* var, float* accum, ScalarArg lr, const float* grad,
                         ScalarArg momentum, bool nesterov, std::int64_t n,
                         devices::Stream& stream) {
  if (n == 0) return;
  apply_momentum_kernel<<<grid_size(n, kBlock), kBlock, 0, cuda_stream(stream)>>>(
      var, accum, lr, grad, momentum, nesterov, n);
  SF_CUDA_CHECK(cudaGetLastError());
}

void apply_adam_cuda(float* var, float* m, float* v, ScalarArg beta1_power, ScalarArg beta2_power,
                     ScalarArg lr, ScalarArg beta1, ScalarArg beta2, ScalarArg epsilon,
                     const float* grad, std::int64_t n, devices::Stream& stream) {
  if (n == 0) return;
  apply_adam_kernel<<<grid_size(n, kBlock), kBlock, 0, cuda_stream(stream)>>>(
      var, m, v, beta1_power, beta2_power, lr, beta1, beta2, epsilon, grad, n);
  SF_CUDA_CHECK(cudaGetLastError());
}

// ---------------------------------------------------------------- registration
namespace {
// A variable or slot input, updated in place: a GPU tensor of var's shape.
Tensor& gpu_ref(KernelContext& c, std::size_t i, const char* what) {
  gpu_input(c, i);
  Tensor& t = c.inputs[i];
  if (t.dtype() != DType::kFloat32)
    throw InvalidArgumentError(
        str_cat(c.node_name, ": ", what, " must be float32, got ", dtype_name(t.dtype())));
  if (i > 0 && !(t.shape() == c.inputs[0].shape()))
    throw InvalidArgumentError(str_cat(c.node_name, ": ", what, " shape ", t.shape().to_string(),
                                       " does not match var shape ",
                                       c.inputs[0].shape().to_string()));
  return t;
}
const float* gpu_same_shape(KernelContext& c, std::size_t i, const char* what) {
  return gpu_ref(c, i, what).data<float>();
}
// Scalar input i: a one-element float tensor on the host (by value) or this GPU (by pointer).
ScalarArg scalar_arg(const KernelContext& c, std::size_t i) {
  const Tensor& t = c.inputs.at(i);
  if (t.num_elements() != 1)
    throw InvalidArgumentError(
        str_cat(c.node_name, ": input ", i, " must be a scalar, got ", t.shape().to_string()));
  if (t.on_host()) return {nullptr, t.scalar<float>()};
  return {t.data<float>(), 0.0f};
}
}  // namespace

void register_apply_cuda_kernels(KernelRegistry& r) {
  using devices::DeviceType;
  r.add({"ApplyGradientDescent", DeviceType::kGPU, DType::kFloat32, "cuda"}, [](KernelContext& c) {
    Tensor var = gpu_ref(c, 0, "var");
    const float* delta = gpu_same_shape(c, 2, "delta");
    const ScalarArg alpha = scalar_arg(c, 1);
    GpuLaunchScope scope(c);
    apply_gradient_descent_cuda(var.data<float>(), alpha, delta, var.num_elements(),
                                c.get_stream());
    c.outputs = {var};
  });
  r.add({"ApplyMomentum", DeviceType::kGPU, DType::kFloat32, "cuda"}, [](KernelContext& c) {
    Tensor var = gpu_ref(c, 0, "var"), accum = gpu_ref(c, 1, "accum");
    const float* grad = gpu_same_shape(c, 3, "grad");
    const ScalarArg lr = scalar_arg(c, 2), momentum = scalar_arg(c, 4);
    GpuLaunchScope scope(c);
    apply_momentum_cuda(var.data<float>(), accum.data<float>(), lr, grad, momentum,
                        c.attr().get_or<bool>("use_nesterov", false), var.num_elements(),
                        c.get_stream());
    c.outputs = {var};
  });
  r.add({"ApplyAdam", DeviceType::kGPU, DType::kFloat32, "cuda"}, [](KernelContext& c) {
    Tensor var = gpu_ref(c, 0, "var"), m = gpu_ref(c, 1, "m"), v = gpu_ref(c, 2, "v");
    const float* grad = gpu_same_shape(c, 9, "grad");
    const ScalarArg beta1_power = scalar_arg(c, 3), beta2_power = scalar_arg(c, 4),
                    lr = scalar_arg(c, 5), beta1 = scalar_arg(c, 6), beta2 = scalar_arg(c, 7),
                    epsilon = scalar_arg(c, 8);
    GpuLaunchScope scope(c);
    apply_adam_cuda(var.data<float>(), m.data<float>(), v.data<float>(), beta1_power, beta2_power,
                    lr, beta1, beta2, epsilon, grad, var.num_elements(), c.get_stream());
    c.outputs = {var};
  });
}

}  // namespace scopeflow::kernels
