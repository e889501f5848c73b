// Fill on the CPU: the reference loops and their registration. CUDA: fill_cuda.cu.
#include <algorithm>

#include "kernels/fill/fill.h"

namespace scopeflow::kernels {

void fill_forward_ref(float* out, std::int64_t n, float value) { std::fill(out, out + n, value); }
void fill_forward_ref(std::int32_t* out, std::int64_t n, std::int32_t value) {
  std::fill(out, out + n, value);
}
void fill_forward_ref(std::int64_t* out, std::int64_t n, std::int64_t value) {
  std::fill(out, out + n, value);
}

namespace {
template <class T>
void fill_cpu_kernel(KernelContext& c) {
  if (c.inputs.size() != 2 || c.outputs.size() != 1)
    throw InvalidArgumentError("Fill: expects inputs {dims, value} and one output");
  const T value = c.inputs[1].scalar<T>();
  fill_forward_ref(c.outputs[0].data<T>(), c.outputs[0].num_elements(), value);
}
}  // namespace

void register_fill_cpu_kernels(KernelRegistry& r) {
  using devices::DeviceType;
  r.add({"Fill", DeviceType::kCPU, DType::kFloat32, "ref"}, fill_cpu_kernel<float>);
  r.add({"Fill", DeviceType::kCPU, DType::kInt32, "ref"}, fill_cpu_kernel<std::int32_t>);
  r.add({"Fill", DeviceType::kCPU, DType::kInt64, "ref"}, fill_cpu_kernel<std::int64_t>);
}

}  // namespace scopeflow::kernels
