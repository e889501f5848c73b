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

// ---------------------------------------------------------------- one element
// The update of one element, shared by the single, grouped and sparse kernels (so that they are
// bit-identical: the same expressions in the same order, --fmad=false for all). `grad` by
// reference, read again after accum (or m) is written, as the CPU reference and TF's kernels
// do: an op given its slot as the gradient (ApplyMomentum(var, accum, lr, accum, ...), one
// buffer since the executor copies each variable on write once) reads the updated value.
__device__ __forceinline__ void momentum_element(float& var, float& accum, const float& grad,
                                                 float lr, float momentum, bool nesterov) {
  accum = accum * momentum + grad;
  var -= nesterov ? grad * lr + accum * momentum * lr : lr * accum;
}

// Adam's step size for this step: lr * sqrt(1 - beta2^t) / (1 - beta1^t). sqrtf and / are IEEE
// (nvcc's -prec-sqrt / -prec-div defaults), as std::sqrt on the host.
__device__ __forceinline__ float adam_alpha(float lr, float beta1_power, float beta2_power) {
  return lr * sqrtf(1.0f - beta2_power) / (1.0f - beta1_power);
}

__device__ __forceinline__ void adam_element(float& var, float& m, float& v, const float& grad,
                                             float alpha, float beta1, float beta2, float epsilon) {
  m += (grad - m) * (1.0f - beta1);
  v += (grad * grad - v) * (1.0f - beta2);
  var -= alpha * m / (sqrtf(v) + epsilon);
}

// TF's RMSProp, centered when mg is given (apply_rms_prop_ref's expressions).
__device__ __forceinline__ void rms_prop_element(float& var, float* mg, float& ms, float& mom,
                                                 const float& grad, float lr, float one_minus_rho,
                                                 float momentum, float epsilon) {
  ms += (grad * grad - ms) * one_minus_rho;
  float denom;
  if (mg != nullptr) {
    *mg += (grad - *mg) * one_minus_rho;
    denom = (ms - *mg * *mg) + epsilon;
  } else {
    denom = ms + epsilon;
  }
  mom = mom * momentum + grad * lr / sqrtf(denom);
  var -= mom;
}

__global__ void apply_adagrad_kernel(float* var, float* accum, ScalarArg lr_arg, const float* grad,
                                     bool update_slots, std::int64_t n) {
  const float lr = get(lr_arg);
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    if (update_slots) accum[i] += grad[i] * grad[i];
    var[i] -= grad[i] * lr * (1.0f / sqrtf(accum[i]));  // apply_adagrad_ref's expression
  }
}

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
       i += std::int64_t{gridDim.x} * blockDim.x)
    momentum_element(var[i], accum[i], grad[i], lr, momentum, nesterov);
}

__global__ void apply_adam_kernel(float* var, float* m, float* v, ScalarArg beta1_power_arg,
                                  ScalarArg beta2_power_arg, ScalarArg lr_arg, ScalarArg beta1_arg,
                                  ScalarArg beta2_arg, ScalarArg epsilon_arg, const float* grad,
                                  std::int64_t n) {
  const float beta1_power = get(beta1_power_arg), beta2_power = get(beta2_power_arg);
  const float lr = get(lr_arg), beta1 = get(beta1_arg), beta2 = get(beta2_arg);
  const float epsilon = get(epsilon_arg);
  const float alpha = adam_alpha(lr, beta1_power, beta2_power);
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x)
    adam_element(var[i], m[i], v[i], grad[i], alpha, beta1, beta2, epsilon);
}

// ---------------------------------------------------------------- grouped updates
// Several variables of one optimizer in one launch (PyTorch's multi-tensor apply): block b
// works on the member whose block range holds b, kGroupItems elements per thread, with the
// single kernels' expressions term for term (bit-identical: --fmad=false for both).
constexpr int kGroupItems = 4;
struct GroupArgs {
  float* p[4][kMaxApplyGroup];  // per operand: var, then the slots, then grad (read only)
  std::int64_t n[kMaxApplyGroup];
  std::int64_t first_block[kMaxApplyGroup + 1];
  int count = 0;
};

__device__ __forceinline__ int group_member(const GroupArgs& a) {
  int t = 0;
  while (t + 1 < a.count && blockIdx.x >= a.first_block[t + 1]) ++t;
  return t;
}

// Element indices of this thread in member t: first, step, end.
#define SF_GROUP_LOOP(a, t, i)                                                                    \
  for (std::int64_t i = ((blockIdx.x - (a).first_block[t]) * std::int64_t{kBlock} * kGroupItems + \
                         threadIdx.x),                                                            \
                    i##_end = i - threadIdx.x + std::int64_t{kBlock} * kGroupItems;               \
       i < i##_end && i < (a).n[t]; i += kBlock)

__global__ void apply_gradient_descent_group_kernel(GroupArgs a, ScalarArg alpha_arg) {
  const float alpha = get(alpha_arg);
  const int t = group_member(a);
  float* var = a.p[0][t];
  const float* delta = a.p[1][t];
  SF_GROUP_LOOP(a, t, i) var[i] -= alpha * delta[i];
}

__global__ void apply_momentum_group_kernel(GroupArgs a, ScalarArg lr_arg, ScalarArg momentum_arg,
                                            bool nesterov) {
  const float lr = get(lr_arg), momentum = get(momentum_arg);
  const int t = group_member(a);
  float *var = a.p[0][t], *accum = a.p[1][t];
  const float* grad = a.p[2][t];
  SF_GROUP_LOOP(a, t, i) momentum_element(var[i], accum[i], grad[i], lr, momentum, nesterov);
}

__global__ void apply_adam_group_kernel(GroupArgs a, ScalarArg beta1_power_arg,
                                        ScalarArg beta2_power_arg, ScalarArg lr_arg,
                                        ScalarArg beta1_arg, ScalarArg beta2_arg,
                                        ScalarArg epsilon_arg) {
  const float beta1_power = get(beta1_power_arg), beta2_power = get(beta2_power_arg);
  const float lr = get(lr_arg), beta1 = get(beta1_arg), beta2 = get(beta2_arg);
  const float epsilon = get(epsilon_arg);
  const float alpha = adam_alpha(lr, beta1_power, beta2_power);
  const int t = group_member(a);
  float *var = a.p[0][t], *m = a.p[1][t], *v = a.p[2][t];
  const float* grad = a.p[3][t];
  SF_GROUP_LOOP(a, t, i) adam_element(var[i], m[i], v[i], grad[i], alpha, beta1, beta2, epsilon);
}
#undef SF_GROUP_LOOP

// _SparseApplyMomentumRows: a block per index; its thread 0 claims the row (the first index
// naming it wins, so a repeated row is updated once), then the block updates the row's elements
// as apply_momentum_kernel does (momentum_element).
template <class Index>
__global__ void sparse_apply_momentum_rows_kernel(float* var, float* accum, ScalarArg lr_arg,
                                                  const float* grad, const Index* indices,
                                                  std::int64_t count, std::int64_t rows,
                                                  std::int64_t width, ScalarArg momentum_arg,
                                                  bool nesterov, unsigned int* claimed) {
  const float lr = get(lr_arg), momentum = get(momentum_arg);
  __shared__ bool mine;
  for (std::int64_t i = blockIdx.x; i < count; i += gridDim.x) {
    const std::int64_t r = static_cast<std::int64_t>(indices[i]);
    if (threadIdx.x == 0) mine = r >= 0 && r < rows && atomicExch(&claimed[r], 1u) == 0u;
    __syncthreads();
    if (mine)
      for (std::int64_t j = threadIdx.x; j < width; j += blockDim.x) {
        const std::int64_t k = r * width + j;
        momentum_element(var[k], accum[k], grad[k], lr, momentum, nesterov);
      }
    __syncthreads();  // `mine` is rewritten for the next index
  }
}

__global__ void apply_rms_prop_kernel(float* var, float* mg, float* ms, float* mom,
                                      ScalarArg lr_arg, ScalarArg rho_arg, ScalarArg momentum_arg,
                                      ScalarArg epsilon_arg, const float* grad, std::int64_t n) {
  const float lr = get(lr_arg), one_minus_rho = 1.0f - get(rho_arg);
  const float momentum = get(momentum_arg), epsilon = get(epsilon_arg);
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x)
    rms_prop_element(var[i], mg ? mg + i : nullptr, ms[i], mom[i], grad[i], lr, one_minus_rho,
                     momentum, epsilon);
}

}  // namespace

// ---------------------------------------------------------------- launchers
void apply_adagrad_cuda(float* var, float* accum, ScalarArg lr, const float* grad,
                        bool update_slots, std::int64_t n, devices::Stream& stream) {
  if (n == 0) return;
  apply_adagrad_kernel<<<grid_size(n, kBlock), kBlock, 0, cuda_stream(stream)>>>(
      var, accum, lr, grad, update_slots, n);
  SF_CUDA_CHECK(cudaGetLastError());
}

void apply_rms_prop_cuda(float* var, float* mg, float* ms, float* mom, ScalarArg lr, ScalarArg rho,
                         ScalarArg momentum, ScalarArg epsilon, const float* grad, std::int64_t n,
                         devices::Stream& stream) {
  if (n == 0) return;
  apply_rms_prop_kernel<<<grid_size(n, kBlock), kBlock, 0, cuda_stream(stream)>>>(
      var, mg, ms, mom, lr, rho, momentum, epsilon, grad, n);
  SF_CUDA_CHECK(cudaGetLastError());
}

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

namespace {
// A grouped call (apply.h): every member validated as the single kernel validates it, then one
// launch per kMaxApplyGroup members.
void apply_group_cuda(KernelContext& c, const std::string& op) {
  const ApplySignature& sig = *apply_signature(op);
  std::vector<KernelContext> members = split_group(c, sig.arity);
  const std::vector<std::size_t>& tensors = sig.tensors;
  const std::vector<std::size_t>& scalars = sig.scalars;
  std::vector<ScalarArg> hyper;
  for (std::size_t j = 0; j < members.size(); ++j) {
    KernelContext& m = members[j];
    for (std::size_t k = 0; k < tensors.size(); ++k)
      gpu_ref(m, tensors[k], k == 0 ? "var" : (k + 1 == tensors.size() ? "grad" : "slot"));
    // NOTE: member 0's hyperparameters serve all: the session groups updates whose scalar
    // inputs are the same tensors or scalar Consts of equal value (copied to the GPU one
    // per Const, so their pointers differ); each is still checked to be a scalar.
    for (std::size_t k = 0; k < scalars.size(); ++k) {
      const ScalarArg s = scalar_arg(m, scalars[k]);
      if (j == 0) hyper.push_back(s);
    }
  }
  GpuLaunchScope scope(c);
  const cudaStream_t stream = cuda_stream(c.get_stream());
  const bool nesterov = c.attr().get_or<bool>("use_nesterov", false);
  // NOTE: one index over all chunks: empty members are skipped without taking a place, so a
  // chunk may span more than kMaxApplyGroup members and the next starts where it stopped.
  std::size_t j = 0;
  while (j < members.size()) {
    GroupArgs a;
    std::int64_t blocks = 0;
    for (; j < members.size() && a.count < static_cast<int>(kMaxApplyGroup); ++j) {
      const std::int64_t n = members[j].inputs[0].num_elements();
      if (n == 0) continue;
      for (std::size_t k = 0; k < tensors.size(); ++k)
        a.p[k][a.count] = static_cast<float*>(members[j].inputs[tensors[k]].raw_data());
      a.n[a.count] = n;
      a.first_block[a.count] = blocks;
      blocks += (n + kBlock * kGroupItems - 1) / (kBlock * kGroupItems);
      ++a.count;
    }
    a.first_block[a.count] = blocks;
    if (a.count == 0) continue;
    const auto grid = static_cast<unsigned>(blocks);
    if (op == "ApplyGradientDescent")
      apply_gradient_descent_group_kernel<<<grid, kBlock, 0, stream>>>(a, hyper[0]);
    else if (op == "ApplyMomentum")
      apply_momentum_group_kernel<<<grid, kBlock, 0, stream>>>(a, hyper[0], hyper[1], nesterov);
    else
      apply_adam_group_kernel<<<grid, kBlock, 0, stream>>>(a, hyper[0], hyper[1], hyper[2],
                                                           hyper[3], hyper[4], hyper[5]);
    SF_CUDA_CHECK(cudaGetLastError());
  }
  c.outputs.clear();
  for (const auto& m : members) c.outputs.push_back(m.inputs[0]);
}
}  // namespace

namespace {
void sparse_apply_momentum_rows_cuda(KernelContext& c) {
  Tensor var = gpu_ref(c, 0, "var"), accum = gpu_ref(c, 1, "accum");
  const float* grad = gpu_same_shape(c, 3, "grad");
  const ScalarArg lr = scalar_arg(c, 2), momentum = scalar_arg(c, 5);
  const Tensor& indices = gpu_input(c, 4);
  if (indices.dtype() != DType::kInt32 && indices.dtype() != DType::kInt64)
    throw InvalidArgumentError(str_cat(c.node_name, ": indices must be int32 or int64, got ",
                                       dtype_name(indices.dtype())));
  if (var.shape().rank() == 0)
    throw InvalidArgumentError(str_cat(c.node_name, ": var must have rows (rank >= 1)"));
  const std::int64_t rows = var.shape().dims()[0];
  const std::int64_t width = rows > 0 ? var.num_elements() / rows : 0;
  const std::int64_t count = indices.num_elements();
  const bool nesterov = c.attr().get_or<bool>("use_nesterov", false);
  GpuLaunchScope scope(c);
  c.outputs = {var};
  if (count == 0 || width == 0) return;
  const cudaStream_t stream = cuda_stream(c.get_stream());
  Tensor claimed = gpu_scratch(c, DType::kInt32, Shape{rows});
  SF_CUDA_CHECK(cudaMemsetAsync(claimed.raw_data(), 0, claimed.bytes(), stream));
  const auto grid = static_cast<unsigned>(std::min<std::int64_t>(count, 65535));
  auto* flags = static_cast<unsigned int*>(claimed.raw_data());
  if (indices.dtype() == DType::kInt32)
    sparse_apply_momentum_rows_kernel<<<grid, kBlock, 0, stream>>>(
        var.data<float>(), accum.data<float>(), lr, grad, indices.data<std::int32_t>(), count, rows,
        width, momentum, nesterov, flags);
  else
    sparse_apply_momentum_rows_kernel<<<grid, kBlock, 0, stream>>>(
        var.data<float>(), accum.data<float>(), lr, grad, indices.data<std::int64_t>(), count, rows,
        width, momentum, nesterov, flags);
  SF_CUDA_CHECK(cudaGetLastError());
}
}  // namespace

void register_apply_cuda_kernels(KernelRegistry& r) {
  using devices::DeviceType;
  r.add({"_SparseApplyMomentumRows", DeviceType::kGPU, DType::kFloat32, "cuda"},
        sparse_apply_momentum_rows_cuda);
  for (const char* op : {"ApplyGradientDescent", "ApplyMomentum", "ApplyAdam"})
    r.add({op, DeviceType::kGPU, DType::kFloat32, "group"},
          [op = std::string(op)](KernelContext& c) { apply_group_cuda(c, op); });
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
  r.add({"ApplyAdagrad", DeviceType::kGPU, DType::kFloat32, "cuda"}, [](KernelContext& c) {
    Tensor var = gpu_ref(c, 0, "var"), accum = gpu_ref(c, 1, "accum");
    const float* grad = gpu_same_shape(c, 3, "grad");
    const ScalarArg lr = scalar_arg(c, 2);
    GpuLaunchScope scope(c);
    apply_adagrad_cuda(var.data<float>(), accum.data<float>(), lr, grad,
                       c.attr().get_or<bool>("update_slots", true), var.num_elements(),
                       c.get_stream());
    c.outputs = {var};
  });
  for (const bool centered : {false, true})
    r.add({centered ? "ApplyCenteredRMSProp" : "ApplyRMSProp", DeviceType::kGPU, DType::kFloat32,
           "cuda"},
          [centered](KernelContext& c) {
            const std::size_t o = centered ? 1 : 0;
            Tensor var = gpu_ref(c, 0, "var");
            float* mg = centered ? gpu_ref(c, 1, "mg").data<float>() : nullptr;
            float* ms = gpu_ref(c, 1 + o, "ms").data<float>();
            float* mom = gpu_ref(c, 2 + o, "mom").data<float>();
            const float* grad = gpu_same_shape(c, 7 + o, "grad");
            const ScalarArg lr = scalar_arg(c, 3 + o), rho = scalar_arg(c, 4 + o),
                            momentum = scalar_arg(c, 5 + o), epsilon = scalar_arg(c, 6 + o);
            GpuLaunchScope scope(c);
            apply_rms_prop_cuda(var.data<float>(), mg, ms, mom, lr, rho, momentum, epsilon, grad,
                                var.num_elements(), c.get_stream());
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
