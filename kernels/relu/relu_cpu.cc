// Relu / ReluGrad on the CPU: reference loops, multi-threaded loops and registration. See relu.h.
#include "kernels/common/parallel_for.h"
#include "kernels/relu/relu.h"

namespace scopeflow::kernels {

void relu_forward_ref(const float* x, float* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = relu(x[i]);
}
void relu_backward_ref(const float* dy, const float* x, float* dx, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) dx[i] = relu_grad(dy[i], x[i]);
}

void relu_forward_cpu(const float* x, float* y, std::int64_t n) {
  parallel_for(n, kElementwiseGrain, [&](std::int64_t lo, std::int64_t hi) {
    relu_forward_ref(x + lo, y + lo, hi - lo);
  });
}
void relu_backward_cpu(const float* dy, const float* x, float* dx, std::int64_t n) {
  parallel_for(n, kElementwiseGrain, [&](std::int64_t lo, std::int64_t hi) {
    relu_backward_ref(dy + lo, x + lo, dx + lo, hi - lo);
  });
}

namespace {
using ForwardFn = void (*)(const float*, float*, std::int64_t);
using BackwardFn = void (*)(const float*, const float*, float*, std::int64_t);

void register_relu_family(KernelRegistry& r, const std::string& label, ForwardFn forward,
                          BackwardFn backward) {
  r.add({"Relu", devices::DeviceType::kCPU, DType::kFloat32, label}, [forward](KernelContext& c) {
    const Tensor& x = c.inputs.at(0);
    Tensor& y = c.allocate_output(0, DType::kFloat32, x.shape());
    forward(x.data<float>(), y.data<float>(), x.num_elements());
  });
  r.add({"ReluGrad", devices::DeviceType::kCPU, DType::kFloat32, label},
        [backward](KernelContext& c) {
          const Tensor& dy = c.inputs.at(0);
          const Tensor& x = c.inputs.at(1);
          if (!(dy.shape() == x.shape()))
            throw InvalidArgumentError(str_cat(c.node_name,
                                               ": ReluGrad shapes differ: ", dy.shape().to_string(),
                                               " vs ", x.shape().to_string()));
          Tensor& dx = c.allocate_output(0, DType::kFloat32, x.shape());
          backward(dy.data<float>(), x.data<float>(), dx.data<float>(), x.num_elements());
        });
}
}  // namespace

namespace {
// float16 / bfloat16: relu() and relu_grad()'s comparisons on the converted value; each
// selects one of its inputs or zero, so the result is exact.
template <class T>
void relu_16bit_kernel(KernelContext& c) {
  const Tensor& x = c.inputs.at(0);
  Tensor& y = c.allocate_output(0, x.dtype(), x.shape());
  const T* in = x.data<T>();
  T* out = y.data<T>();
  for (std::int64_t i = 0; i < x.num_elements(); ++i)
    out[i] = static_cast<float>(in[i]) < 0.0f ? T(0.0f) : in[i];  // relu(): NaN passes
}
template <class T>
void relu_grad_16bit_kernel(KernelContext& c) {
  const Tensor& dy = c.inputs.at(0);
  const Tensor& x = c.inputs.at(1);
  if (!(dy.shape() == x.shape()))
    throw InvalidArgumentError(str_cat(c.node_name, ": ReluGrad shapes differ: ",
                                       dy.shape().to_string(), " vs ", x.shape().to_string()));
  Tensor& dx = c.allocate_output(0, x.dtype(), x.shape());
  for (std::int64_t i = 0; i < x.num_elements(); ++i)
    dx.data<T>()[i] = static_cast<float>(x.data<T>()[i]) > 0.0f ? dy.data<T>()[i] : T(0.0f);
}
}  // namespace

void register_relu_cpu_kernels(KernelRegistry& r) {
  r.add({"Relu", devices::DeviceType::kCPU, DType::kFloat16, "ref"}, relu_16bit_kernel<half>);
  r.add({"Relu", devices::DeviceType::kCPU, DType::kBFloat16, "ref"},
        relu_16bit_kernel<bfloat16_t>);
  r.add({"ReluGrad", devices::DeviceType::kCPU, DType::kFloat16, "ref"},
        relu_grad_16bit_kernel<half>);
  r.add({"ReluGrad", devices::DeviceType::kCPU, DType::kBFloat16, "ref"},
        relu_grad_16bit_kernel<bfloat16_t>);
  register_relu_family(r, "ref", relu_forward_ref, relu_backward_ref);
  register_relu_family(r, "cpu", relu_forward_cpu, relu_backward_cpu);
}

}  // namespace scopeflow::kernels
