// Element-wise binary ops on the CPU (reference loops with broadcasting). See binary.h.
#include "kernels/math/binary.h"

#include <algorithm>

namespace scopeflow::kernels {

Shape broadcast_shapes(const Shape& a, const Shape& b, const std::string& what) {
  if (!a.has_rank() || !b.has_rank()) return Shape::unknown();
  const int ra = a.rank(), rb = b.rank(), r = std::max(ra, rb);
  std::vector<std::int64_t> dims(static_cast<std::size_t>(r));
  for (int i = 0; i < r; ++i) {
    const std::int64_t da = i < r - ra ? 1 : a.dims()[static_cast<std::size_t>(i - (r - ra))];
    const std::int64_t db = i < r - rb ? 1 : b.dims()[static_cast<std::size_t>(i - (r - rb))];
    std::int64_t d;
    if (da == db)
      d = da;
    else if (da == 1)
      d = db;
    else if (db == 1)
      d = da;
    else if (da < 0 || db < 0)
      d = std::max(da, db) > 1 ? std::max(da, db) : -1;
    else
      throw InvalidArgumentError(
          str_cat(what, ": Incompatible shapes: ", a.to_string(), " vs. ", b.to_string()));
    dims[static_cast<std::size_t>(i)] = d;
  }
  return Shape(dims);
}

namespace {

// Strides of `s` aligned to the output rank, 0 where the dimension is broadcast.
std::vector<std::int64_t> broadcast_strides(const Shape& s, const Shape& out) {
  const int r = out.rank(), rs = s.rank();
  std::vector<std::int64_t> strides(static_cast<std::size_t>(r), 0);
  std::int64_t stride = 1;
  for (int i = rs - 1; i >= 0; --i) {
    const auto d = s.dims()[static_cast<std::size_t>(i)];
    if (d != 1) strides[static_cast<std::size_t>(i + r - rs)] = stride;
    stride *= d;
  }
  return strides;
}

template <class T>
T apply(BinaryOp op, T x, T y) {
  switch (op) {
    case BinaryOp::kAdd: return x + y;
    case BinaryOp::kSub: return x - y;
    case BinaryOp::kMul: return x * y;
    case BinaryOp::kDiv: return x / y;
  }
  return T{};
}

}  // namespace

template <class T>
void binary_forward_ref(BinaryOp op, const T* a, const Shape& sa, const T* b, const Shape& sb,
                        T* out, const Shape& so) {
  const std::int64_t n = so.num_elements();
  if (sa == so && sb == so) {
    for (std::int64_t i = 0; i < n; ++i) out[i] = apply(op, a[i], b[i]);
    return;
  }
  const int r = so.rank();
  const auto st_a = broadcast_strides(sa, so), st_b = broadcast_strides(sb, so);
  std::vector<std::int64_t> idx(static_cast<std::size_t>(r), 0);
  std::int64_t ia = 0, ib = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    out[i] = apply(op, a[ia], b[ib]);
    for (int d = r - 1; d >= 0; --d) {  // odometer increment
      const auto k = static_cast<std::size_t>(d);
      ++idx[k];
      ia += st_a[k];
      ib += st_b[k];
      if (idx[k] < so.dims()[k]) break;
      ia -= st_a[k] * idx[k];
      ib -= st_b[k] * idx[k];
      idx[k] = 0;
    }
  }
}

template void binary_forward_ref<float>(BinaryOp, const float*, const Shape&, const float*,
                                        const Shape&, float*, const Shape&);

namespace {

template <class T, BinaryOp kOp>
void binary_cpu_kernel(KernelContext& c) {
  if (c.inputs.size() != 2)
    throw InvalidArgumentError(str_cat(c.node_name, ": expects two inputs"));
  const Tensor& a = c.inputs[0];
  const Tensor& b = c.inputs[1];
  if (a.dtype() != b.dtype())
    throw InvalidArgumentError(str_cat(c.node_name, ": input dtypes differ: ",
                                       dtype_name(a.dtype()), " vs ", dtype_name(b.dtype())));
  if constexpr (kOp == BinaryOp::kDiv && std::is_integral_v<T>) {
    for (T v : b.to_vector<T>())
      if (v == 0) throw InvalidArgumentError(str_cat(c.node_name, ": Integer division by zero"));
  }
  const Shape so = broadcast_shapes(a.shape(), b.shape(), c.node_name);
  Tensor& out = c.allocate_output(0, a.dtype(), so);
  binary_forward_ref<T>(kOp, a.data<T>(), a.shape(), b.data<T>(), b.shape(), out.data<T>(), so);
}

template <class T>
void register_type(KernelRegistry& r) {
  using devices::DeviceType;
  constexpr DType d = dtype_of<T>;
  r.add({"Add", DeviceType::kCPU, d, "ref"}, binary_cpu_kernel<T, BinaryOp::kAdd>);
  r.add({"AddV2", DeviceType::kCPU, d, "ref"}, binary_cpu_kernel<T, BinaryOp::kAdd>);
  r.add({"Sub", DeviceType::kCPU, d, "ref"}, binary_cpu_kernel<T, BinaryOp::kSub>);
  r.add({"Mul", DeviceType::kCPU, d, "ref"}, binary_cpu_kernel<T, BinaryOp::kMul>);
  r.add({"RealDiv", DeviceType::kCPU, d, "ref"}, binary_cpu_kernel<T, BinaryOp::kDiv>);
}

}  // namespace

void register_binary_cpu_kernels(KernelRegistry& r) {
  register_type<float>(r);
  register_type<double>(r);
  register_type<std::int32_t>(r);
  register_type<std::int64_t>(r);
}

}  // namespace scopeflow::kernels
