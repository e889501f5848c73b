// Comparisons on the CPU: reference loops with broadcasting. See compare.h.
#include "kernels/math/compare.h"

#include "kernels/math/binary.h"

namespace scopeflow::kernels {
namespace {

template <class T>
bool compare(CompareOp op, T x, T y) {
  switch (op) {
    case CompareOp::kEqual: return x == y;
    case CompareOp::kNotEqual: return x != y;
    case CompareOp::kLess: return x < y;
    case CompareOp::kGreater: return x > y;
    case CompareOp::kLessEqual: return x <= y;
    case CompareOp::kGreaterEqual: return x >= y;
  }
  return false;
}

template <CompareOp kOp>
void compare_kernel(KernelContext& c) {
  const Tensor& a = c.inputs.at(0);
  const Tensor& b = c.inputs.at(1);
  if (a.dtype() != b.dtype())
    throw InvalidArgumentError(str_cat(c.node_name, ": input dtypes differ: ",
                                       dtype_name(a.dtype()), " vs ", dtype_name(b.dtype())));
  const Shape so = broadcast_shapes(a.shape(), b.shape(), c.node_name);
  Tensor& out = c.allocate_output(0, DType::kBool, so);
  auto run = [&]<class T>(T) {
    compare_forward_ref<T>(kOp, a.data<T>(), a.shape(), b.data<T>(), b.shape(), out.data<bool>(),
                           so);
  };
  dispatch_compare_dtype(kOp, a.dtype(), c.node_name, run);
}

}  // namespace

template <class T>
void compare_forward_ref(CompareOp op, const T* a, const Shape& sa, const T* b, const Shape& sb,
                         bool* out, const Shape& so) {
  for_each_broadcast(sa, sb, so, [&](std::int64_t i, std::int64_t ia, std::int64_t ib) {
    out[i] = compare(op, a[ia], b[ib]);
  });
}
template void compare_forward_ref<float>(CompareOp, const float*, const Shape&, const float*,
                                         const Shape&, bool*, const Shape&);

void register_compare_cpu_kernels(KernelRegistry& r) {
  using devices::DeviceType;
  r.add({"Equal", DeviceType::kCPU, DType::kBool, "ref"}, compare_kernel<CompareOp::kEqual>);
  r.add({"NotEqual", DeviceType::kCPU, DType::kBool, "ref"}, compare_kernel<CompareOp::kNotEqual>);
  r.add({"Less", DeviceType::kCPU, DType::kBool, "ref"}, compare_kernel<CompareOp::kLess>);
  r.add({"Greater", DeviceType::kCPU, DType::kBool, "ref"}, compare_kernel<CompareOp::kGreater>);
  r.add({"LessEqual", DeviceType::kCPU, DType::kBool, "ref"},
        compare_kernel<CompareOp::kLessEqual>);
  r.add({"GreaterEqual", DeviceType::kCPU, DType::kBool, "ref"},
        compare_kernel<CompareOp::kGreaterEqual>);
}

}  // namespace scopeflow::kernels
