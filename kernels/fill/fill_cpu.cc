// Fill on the CPU: the reference loops and their registration. CUDA: fill_cuda.cu.
#include <algorithm>

#include "kernels/fill/fill.h"
#include "kernels/init/random.h"

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
void fill_generic(T* out, std::int64_t n, const T& value) {
  std::fill(out, out + n, value);
}
template <class T>
void fill_cpu_kernel(KernelContext& c) {
  if (c.inputs.size() != 2 || c.outputs.size() > 1)
    throw InvalidArgumentError("Fill: expects inputs {dims, value} and one output");
  T value;
  if constexpr (std::is_same_v<T, std::string>) {
    auto v = c.inputs[1].to_strings();
    if (v.size() != 1) throw InvalidArgumentError("Fill: value must be a scalar");
    value = v[0];
  } else {
    value = c.inputs[1].scalar<T>();
  }
  if (c.outputs.empty()) c.allocate_output(0, dtype_of<T>, shape_from_tensor(c.inputs[0], "Fill"));
  fill_generic(c.outputs[0].data<T>(), c.outputs[0].num_elements(), value);
}
}  // namespace

void register_fill_cpu_kernels(KernelRegistry& r) {
  using devices::DeviceType;
  r.add({"Fill", DeviceType::kCPU, DType::kFloat32, "ref"}, fill_cpu_kernel<float>);
  r.add({"Fill", DeviceType::kCPU, DType::kInt32, "ref"}, fill_cpu_kernel<std::int32_t>);
  r.add({"Fill", DeviceType::kCPU, DType::kInt64, "ref"}, fill_cpu_kernel<std::int64_t>);
  r.add({"Fill", DeviceType::kCPU, DType::kFloat64, "ref"}, fill_cpu_kernel<double>);
  r.add({"Fill", DeviceType::kCPU, DType::kBool, "ref"}, fill_cpu_kernel<bool>);
  r.add({"Fill", DeviceType::kCPU, DType::kString, "ref"}, fill_cpu_kernel<std::string>);
}

}  // namespace scopeflow::kernels
