// ConcatV2 / SplitV on the CPU and the shared planning. See concat.h.
#include <cstring>

#include "kernels/array/concat.h"

namespace scopeflow::kernels {

ConcatPlan concat_plan(const std::vector<Shape>& pieces, std::int64_t axis, DType dtype,
                       const std::string& node, Shape* whole) {
  if (pieces.empty()) throw InvalidArgumentError(str_cat(node, ": nothing to concatenate"));
  const int rank = pieces[0].rank();
  if (axis < -rank || axis >= rank || rank == 0)
    throw InvalidArgumentError(str_cat(node, ": axis ", axis, " is out of range for rank ", rank));
  if (axis < 0) axis += rank;
  ConcatPlan p;
  const auto& d0 = pieces[0].dims();
  for (std::int64_t k = 0; k < axis; ++k) p.outer *= d0[static_cast<std::size_t>(k)];
  std::vector<std::int64_t> dims = d0;
  dims[static_cast<std::size_t>(axis)] = 0;
  for (const Shape& s : pieces) {
    if (s.rank() != rank)
      throw InvalidArgumentError(
          str_cat(node, ": ranks differ: ", pieces[0].to_string(), " vs ", s.to_string()));
    std::int64_t inner = 1;
    for (int k = 0; k < rank; ++k) {
      if (k != axis && s.dims()[static_cast<std::size_t>(k)] != d0[static_cast<std::size_t>(k)])
        throw InvalidArgumentError(str_cat(
            node, ": dimension ", k, " differs: ", pieces[0].to_string(), " vs ", s.to_string()));
      if (k >= axis) inner *= s.dims()[static_cast<std::size_t>(k)];
    }
    dims[static_cast<std::size_t>(axis)] += s.dims()[static_cast<std::size_t>(axis)];
    p.piece_bytes.push_back(inner * static_cast<std::int64_t>(dtype_size(dtype)));
    p.row_bytes += p.piece_bytes.back();
  }
  *whole = Shape(dims);
  return p;
}

std::int64_t scalar_int_input(const KernelContext& c, std::size_t i) {
  const Tensor& t = c.inputs.at(i);
  if (t.num_elements() != 1)
    throw InvalidArgumentError(
        str_cat(c.node_name, ": input ", i, " must be a scalar, got ", t.shape().to_string()));
  if (t.dtype() == DType::kInt32) return t.scalar<std::int32_t>();
  if (t.dtype() == DType::kInt64) return t.scalar<std::int64_t>();
  throw InvalidArgumentError(
      str_cat(c.node_name, ": input ", i, " must be int32 or int64, got ", dtype_name(t.dtype())));
}

std::vector<std::int64_t> int_vector_input(const KernelContext& c, std::size_t i) {
  const Tensor& t = c.inputs.at(i);
  std::vector<std::int64_t> v;
  if (t.dtype() == DType::kInt32) {
    for (auto x : t.to_vector<std::int32_t>()) v.push_back(x);
  } else if (t.dtype() == DType::kInt64) {
    v = t.to_vector<std::int64_t>();
  } else {
    throw InvalidArgumentError(str_cat(c.node_name, ": input ", i, " must be int32 or int64, got ",
                                       dtype_name(t.dtype())));
  }
  return v;
}

// The pieces' shapes: `whole` cut along `axis` into `sizes` (one -1 takes the rest).
std::vector<Shape> split_shapes(const KernelContext& c, const Shape& whole,
                                std::vector<std::int64_t> sizes, std::int64_t axis) {
  const int rank = whole.rank();
  if (axis < -rank || axis >= rank || rank == 0)
    throw InvalidArgumentError(
        str_cat(c.node_name, ": axis ", axis, " is out of range for rank ", rank));
  if (axis < 0) axis += rank;
  const std::int64_t total = whole.dims()[static_cast<std::size_t>(axis)];
  std::int64_t known = 0, unknown = -1;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] == -1 && unknown < 0) {
      unknown = static_cast<std::int64_t>(i);
    } else if (sizes[i] < 0) {
      throw InvalidArgumentError(str_cat(c.node_name, ": bad size_splits entry ", sizes[i]));
    } else {
      known += sizes[i];
    }
  }
  if (unknown >= 0) sizes[static_cast<std::size_t>(unknown)] = total - known;
  if ((unknown >= 0 && known > total) || (unknown < 0 && known != total))
    throw InvalidArgumentError(str_cat(c.node_name, ": size_splits sum to ", known,
                                       ", the dimension ", axis, " of ", whole.to_string(), " is ",
                                       total));
  std::vector<Shape> out;
  for (auto s : sizes) {
    auto d = whole.dims();
    d[static_cast<std::size_t>(axis)] = s;
    out.emplace_back(d);
  }
  return out;
}

namespace {

void concat_kernel(KernelContext& c) {
  if (c.inputs.size() < 2)
    throw InvalidArgumentError(str_cat(c.node_name, ": ConcatV2 needs values and an axis, got ",
                                       c.inputs.size(), " input(s)"));
  const std::size_t n = c.inputs.size() - 1;
  for (std::size_t i = 1; i < n; ++i)  // the copies size every piece by input 0's dtype
    if (c.inputs[i].dtype() != c.inputs[0].dtype())
      throw InvalidArgumentError(str_cat(c.node_name, ": ConcatV2 input ", i, " is ",
                                         dtype_name(c.inputs[i].dtype()), ", input 0 is ",
                                         dtype_name(c.inputs[0].dtype())));
  std::vector<Shape> shapes;
  for (std::size_t i = 0; i < n; ++i) shapes.push_back(c.inputs[i].shape());
  Shape whole;
  const auto plan =
      concat_plan(shapes, scalar_int_input(c, n), c.inputs[0].dtype(), c.node_name, &whole);
  Tensor& y = c.allocate_output(0, c.inputs[0].dtype(), whole);
  auto* dst = static_cast<char*>(y.raw_data());
  std::int64_t offset = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const auto* src = static_cast<const char*>(c.inputs[i].raw_data());
    const std::int64_t b = plan.piece_bytes[i];
    for (std::int64_t r = 0; r < plan.outer && b > 0; ++r)
      std::memcpy(dst + r * plan.row_bytes + offset, src + r * b, static_cast<std::size_t>(b));
    offset += b;
  }
}

void split_kernel(KernelContext& c) {
  const Tensor& x = c.inputs.at(0);
  const std::int64_t axis = scalar_int_input(c, 2);
  const auto pieces = split_shapes(c, x.shape(), int_vector_input(c, 1), axis);
  Shape whole;
  const auto plan = concat_plan(pieces, axis, x.dtype(), c.node_name, &whole);
  c.outputs.resize(pieces.size());
  const auto* src = static_cast<const char*>(x.raw_data());
  std::int64_t offset = 0;
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    Tensor& y = c.allocate_output(i, x.dtype(), pieces[i]);
    auto* dst = static_cast<char*>(y.raw_data());
    const std::int64_t b = plan.piece_bytes[i];
    for (std::int64_t r = 0; r < plan.outer && b > 0; ++r)
      std::memcpy(dst + r * b, src + r * plan.row_bytes + offset, static_cast<std::size_t>(b));
    offset += b;
  }
}

}  // namespace

void register_concat_cpu_kernels(KernelRegistry& r) {
  for (DType t : {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16,
                  DType::kInt32, DType::kInt64}) {
    r.add({"ConcatV2", devices::DeviceType::kCPU, t, "ref"}, concat_kernel);
    r.add({"SplitV", devices::DeviceType::kCPU, t, "ref"}, split_kernel);
  }
}

}  // namespace scopeflow::kernels
