// Array ops on the CPU. See array.h.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/array/array.h"
#include "kernels/reduce/reduce.h"

namespace scopeflow::kernels {
namespace {

void identity_kernel(KernelContext& c) {
  if (c.inputs.size() != 1) throw InvalidArgumentError(str_cat(c.node_name, ": expects one input"));
  if (c.outputs.size() < 1) c.outputs.resize(1);
  c.outputs[0] = c.inputs[0];  // NOTE: shares the buffer, as TF's Identity forwards its input
}

// _InitializedValueOr: forwards the variable's buffer (as Identity does) or the default.
void initialized_value_or_kernel(KernelContext& c) {
  if (c.inputs.size() != 2)
    throw InvalidArgumentError(str_cat(c.node_name, ": expects {variable, default}"));
  if (c.outputs.size() < 1) c.outputs.resize(1);
  c.outputs[0] = c.inputs[0].initialized() ? c.inputs[0] : c.inputs[1];
}

void pack_kernel(KernelContext& c) {
  if (c.inputs.empty()) throw InvalidArgumentError(str_cat(c.node_name, ": Pack needs inputs"));
  const Tensor& first = c.inputs[0];
  for (const auto& t : c.inputs)
    if (t.dtype() != first.dtype() || !(t.shape() == first.shape()))
      throw InvalidArgumentError(str_cat(c.node_name, ": Pack inputs must match: ",
                                         first.shape().to_string(), " vs ", t.shape().to_string()));
  std::vector<std::int64_t> dims{static_cast<std::int64_t>(c.inputs.size())};
  for (auto d : first.shape().dims()) dims.push_back(d);
  Tensor& out = c.allocate_output(0, first.dtype(), Shape(dims));
  if (first.dtype() == DType::kString) {
    auto* dst = static_cast<std::string*>(out.raw_data());
    for (const auto& t : c.inputs)
      for (const auto& s : t.to_strings()) *dst++ = s;
    return;
  }
  auto* dst = static_cast<char*>(out.raw_data());
  for (const auto& t : c.inputs) {
    std::memcpy(dst, t.raw_data(), t.bytes());
    dst += t.bytes();
  }
}

void logical_not_kernel(KernelContext& c) {
  if (c.inputs.size() != 1) throw InvalidArgumentError(str_cat(c.node_name, ": expects one input"));
  const Tensor& x = c.inputs[0];
  Tensor& out = c.allocate_output(0, DType::kBool, x.shape());
  const bool* in = x.data<bool>();
  bool* o = out.data<bool>();
  for (std::int64_t i = 0; i < x.num_elements(); ++i) o[i] = !in[i];
}

void boolean_mask_kernel(KernelContext& c) {
  if (c.inputs.size() != 2)
    throw InvalidArgumentError(str_cat(c.node_name, ": expects two inputs"));
  const Tensor& x = c.inputs[0];
  const Tensor& mask = c.inputs[1];
  if (x.shape().rank() != 1 || mask.shape().rank() != 1 ||
      x.shape().dims()[0] != mask.shape().dims()[0])
    throw InvalidArgumentError(
        str_cat(c.node_name, ": BooleanMask needs 1-D tensor and mask of one length, got ",
                x.shape().to_string(), " and ", mask.shape().to_string()));
  auto m = mask.to_vector<bool>();
  std::int64_t kept = 0;
  for (bool b : m) kept += b;
  Tensor& out = c.allocate_output(0, x.dtype(), Shape{kept});
  if (x.dtype() == DType::kString) {
    const auto* src = static_cast<const std::string*>(x.raw_data());
    auto* dst = static_cast<std::string*>(out.raw_data());
    for (std::size_t i = 0; i < m.size(); ++i)
      if (m[i]) *dst++ = src[i];
    return;
  }
  const std::size_t es = dtype_size(x.dtype());
  const auto* src = static_cast<const char*>(x.raw_data());
  auto* dst = static_cast<char*>(out.raw_data());
  for (std::size_t i = 0; i < m.size(); ++i)
    if (m[i]) {
      std::memcpy(dst, src + i * es, es);
      dst += es;
    }
}

// Reshape: the same buffer seen with the new shape (one -1 inferred).
void reshape_kernel(KernelContext& c) {
  const Tensor& x = c.inputs.at(0);
  const Tensor& s = c.inputs.at(1);
  std::vector<std::int64_t> dims;
  if (s.dtype() == DType::kInt32) {
    for (auto d : s.to_vector<std::int32_t>()) dims.push_back(d);
  } else {
    dims = s.to_vector<std::int64_t>();
  }
  std::int64_t known = 1, unknown = -1;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == -1) {
      if (unknown >= 0)
        throw InvalidArgumentError(str_cat(c.node_name, ": only one input size may be -1"));
      unknown = static_cast<std::int64_t>(i);
    } else if (dims[i] < 0) {
      throw InvalidArgumentError(str_cat(c.node_name, ": size ", dims[i], " must be non-negative"));
    } else {
      known *= dims[i];
    }
  }
  if (unknown >= 0) {
    if (known == 0 || x.num_elements() % known != 0)
      throw InvalidArgumentError(str_cat(c.node_name, ": Input to reshape is a tensor with ",
                                         x.num_elements(),
                                         " values, but the requested shape cannot take them"));
    dims[static_cast<std::size_t>(unknown)] = x.num_elements() / known;
  }
  if (c.outputs.empty()) c.outputs.resize(1);
  try {
    c.outputs[0] = x.reshaped(Shape(dims));
  } catch (const InvalidArgumentError&) {
    throw InvalidArgumentError(str_cat(c.node_name, ": Input to reshape is a tensor with ",
                                       x.num_elements(), " values, but the requested shape has ",
                                       Shape(dims).num_elements()));
  }
}

// ExpandDims and Squeeze: the same buffer seen with one more / fewer size-1 dimensions.
void expand_dims_kernel(KernelContext& c) {
  const Tensor& x = c.inputs.at(0);
  const auto dim = int_vector(c.inputs.at(1).reshaped(Shape{1}), c.node_name, "dim");
  const auto rank = static_cast<std::int64_t>(x.shape().rank());
  const std::int64_t d = dim[0];
  if (d < -rank - 1 || d > rank)
    throw InvalidArgumentError(
        str_cat(c.node_name, ": dim ", d, " is out of range for rank ", rank));
  std::vector<std::int64_t> dims = x.shape().dims();
  dims.insert(dims.begin() + (d < 0 ? d + rank + 1 : d), 1);
  if (c.outputs.empty()) c.outputs.resize(1);
  c.outputs[0] = x.reshaped(Shape(dims));
}

void squeeze_kernel(KernelContext& c) {
  const Tensor& x = c.inputs.at(0);
  const auto axes = c.attr().get_or<std::vector<std::int64_t>>("squeeze_dims", {});
  const auto rank = static_cast<std::int64_t>(x.shape().rank());
  std::vector<bool> drop(static_cast<std::size_t>(rank), axes.empty());
  if (!axes.empty())
    for (auto a : axes) {
      if (a < -rank || a >= rank)
        throw InvalidArgumentError(
            str_cat(c.node_name, ": squeeze dimension ", a, " is out of range for rank ", rank));
      drop[static_cast<std::size_t>(a < 0 ? a + rank : a)] = true;
    }
  std::vector<std::int64_t> dims;
  for (std::size_t k = 0; k < drop.size(); ++k) {
    const std::int64_t d = x.shape().dims()[k];
    if (drop[k] && d != 1 && !axes.empty())
      throw InvalidArgumentError(str_cat(c.node_name, ": Can not squeeze dim[", k,
                                         "], expected a dimension of 1, got ", d));
    if (!(drop[k] && d == 1)) dims.push_back(d);
  }
  if (c.outputs.empty()) c.outputs.resize(1);
  c.outputs[0] = x.reshaped(Shape(dims));
}

// Writes `v` into a new int32 / int64 output i (the op's out_type, or T for
// BroadcastGradientArgs); InvalidArgumentError when a value does not fit int32.
void write_ints(KernelContext& c, int i, DType dtype, const std::vector<std::int64_t>& v,
                const Shape& shape) {
  Tensor& out = c.allocate_output(i, dtype, shape);
  for (std::size_t k = 0; k < v.size(); ++k) {
    if (dtype == DType::kInt32) {
      if (v[k] > std::numeric_limits<std::int32_t>::max())
        throw InvalidArgumentError(
            str_cat(c.node_name, ": value ", v[k], " does not fit int32; use out_type int64"));
      out.data<std::int32_t>()[k] = static_cast<std::int32_t>(v[k]);
    } else {
      out.data<std::int64_t>()[k] = v[k];
    }
  }
}

DType out_type(const KernelContext& c) { return c.attr().get_or<DType>("out_type", DType::kInt32); }

void shape_kernel(KernelContext& c) {
  if (c.inputs.size() != 1) throw InvalidArgumentError(str_cat(c.node_name, ": expects one input"));
  const auto& dims = c.inputs[0].shape().dims();
  write_ints(c, 0, out_type(c), dims, Shape{static_cast<std::int64_t>(dims.size())});
}

void size_kernel(KernelContext& c) {
  if (c.inputs.size() != 1) throw InvalidArgumentError(str_cat(c.node_name, ": expects one input"));
  write_ints(c, 0, out_type(c), {c.inputs[0].num_elements()}, Shape{});
}

void rank_kernel(KernelContext& c) {
  if (c.inputs.size() != 1) throw InvalidArgumentError(str_cat(c.node_name, ": expects one input"));
  write_ints(c, 0, DType::kInt32, {c.inputs[0].shape().rank()}, Shape{});
}

void prod_kernel(KernelContext& c) {
  if (c.inputs.size() != 2)
    throw InvalidArgumentError(str_cat(c.node_name, ": expects input and reduction_indices"));
  const auto [shape, v] = int_prod(c.inputs[0], reduction_mask_of(c, c.inputs[0].shape()),
                                   c.attr().get_or<bool>("keep_dims", false), c.node_name);
  write_ints(c, 0, c.inputs[0].dtype(), v, shape);
}

void invert_permutation_kernel(KernelContext& c) {
  if (c.inputs.size() != 1) throw InvalidArgumentError(str_cat(c.node_name, ": expects one input"));
  const auto inverse = invert_permutation(c.inputs[0], c.node_name);
  write_ints(c, 0, c.inputs[0].dtype(), inverse, Shape{static_cast<std::int64_t>(inverse.size())});
}

void broadcast_gradient_args_kernel(KernelContext& c) {
  if (c.inputs.size() != 2)
    throw InvalidArgumentError(str_cat(c.node_name, ": expects two inputs"));
  const auto [r0, r1] =
      broadcast_gradient_args(int_vector(c.inputs[0], c.node_name, "s0"),
                              int_vector(c.inputs[1], c.node_name, "s1"), c.node_name);
  const DType t = c.inputs[0].dtype();
  write_ints(c, 0, t, r0, Shape{static_cast<std::int64_t>(r0.size())});
  write_ints(c, 1, t, r1, Shape{static_cast<std::int64_t>(r1.size())});
}

template <class T, class I>
void one_hot_fill(const I* ids, T* out, const OneHotPlan& p, T on, T off) {
  for (std::int64_t o = 0; o < p.outer; ++o)
    for (std::int64_t d = 0; d < p.depth; ++d)
      for (std::int64_t i = 0; i < p.inner; ++i)
        out[(o * p.depth + d) * p.inner + i] =
            static_cast<std::int64_t>(ids[o * p.inner + i]) == d ? on : off;
}

template <class T>
void one_hot_kernel(KernelContext& c) {
  if (c.inputs.size() != 4)
    throw InvalidArgumentError(str_cat(c.node_name, ": expects indices, depth, on and off values"));
  const Tensor& ids = c.inputs[0];
  const OneHotPlan p =
      one_hot_plan(ids, c.inputs[1], c.attr().get_or<std::int64_t>("axis", -1), c.node_name);
  const T on = c.inputs[2].scalar<T>(), off = c.inputs[3].scalar<T>();
  Tensor& out = c.allocate_output(0, dtype_of<T>, p.out);
  switch (ids.dtype()) {
    case DType::kInt32: one_hot_fill(ids.data<std::int32_t>(), out.data<T>(), p, on, off); break;
    case DType::kInt64: one_hot_fill(ids.data<std::int64_t>(), out.data<T>(), p, on, off); break;
    case DType::kUInt8: one_hot_fill(ids.data<std::uint8_t>(), out.data<T>(), p, on, off); break;
    default:
      throw InvalidArgumentError(str_cat(c.node_name, ": indices must be uint8, int32 or int64"));
  }
}

void select_kernel(KernelContext& c) {
  if (c.inputs.size() != 3)
    throw InvalidArgumentError(str_cat(c.node_name, ": expects condition, x and y"));
  const Tensor &cond = c.inputs[0], &x = c.inputs[1], &y = c.inputs[2];
  const std::int64_t inner = select_inner(cond, x, y, c.node_name);
  Tensor& out = c.allocate_output(0, x.dtype(), x.shape());
  const auto* m = static_cast<const std::uint8_t*>(cond.raw_data());
  if (x.dtype() == DType::kString) {
    const auto *xs = static_cast<const std::string*>(x.raw_data()),
               *ys = static_cast<const std::string*>(y.raw_data());
    auto* o = static_cast<std::string*>(out.raw_data());
    for (std::int64_t i = 0; i < x.num_elements(); ++i) o[i] = m[i / inner] ? xs[i] : ys[i];
    return;
  }
  const std::size_t es = dtype_size(x.dtype());
  const auto *xs = static_cast<const char*>(x.raw_data()),
             *ys = static_cast<const char*>(y.raw_data());
  auto* o = static_cast<char*>(out.raw_data());
  for (std::int64_t i = 0; i < x.num_elements(); ++i)
    std::memcpy(o + static_cast<std::size_t>(i) * es,
                (m[i / inner] ? xs : ys) + static_cast<std::size_t>(i) * es, es);
}

void transpose_kernel(KernelContext& c) {
  if (c.inputs.size() != 2)
    throw InvalidArgumentError(str_cat(c.node_name, ": expects x and perm"));
  const Tensor& x = c.inputs[0];
  const TransposePlan p = transpose_plan(x, c.inputs[1], c.node_name);
  Tensor& out = c.allocate_output(0, x.dtype(), p.out);
  const std::int64_t n = out.num_elements();
  const auto& od = p.out.dims();
  const std::size_t es = dtype_size(x.dtype());
  const bool strings = x.dtype() == DType::kString;
  for (std::int64_t e = 0; e < n; ++e) {
    std::int64_t rest = e, src = 0;
    for (std::size_t k = od.size(); k-- > 0;) {
      src += (rest % od[k]) * p.in_strides[k];
      rest /= od[k];
    }
    if (strings)
      static_cast<std::string*>(out.raw_data())[e] =
          static_cast<const std::string*>(x.raw_data())[src];
    else
      std::memcpy(static_cast<char*>(out.raw_data()) + static_cast<std::size_t>(e) * es,
                  static_cast<const char*>(x.raw_data()) + static_cast<std::size_t>(src) * es, es);
  }
}

// Tile: each output row (the last dimension) is x's matching row repeated multiples[-1] times;
// strings element by element.
void tile_kernel(KernelContext& c) {
  if (c.inputs.size() != 2)
    throw InvalidArgumentError(str_cat(c.node_name, ": expects input and multiples"));
  const Tensor& x = c.inputs[0];
  const TilePlan p = tile_plan(x, c.inputs[1], c.node_name);
  Tensor& out = c.allocate_output(0, x.dtype(), p.out);
  const std::int64_t n = out.num_elements();
  if (n == 0) return;
  const auto& id = x.shape().dims();
  const auto& od = p.out.dims();
  const std::size_t r = od.size();
  std::vector<std::int64_t> stride(r, 1);  // x's row-major strides
  for (std::size_t k = r; k-- > 1;) stride[k - 1] = stride[k] * id[k];
  if (x.dtype() == DType::kString) {
    const auto* in = static_cast<const std::string*>(x.raw_data());
    auto* o = static_cast<std::string*>(out.raw_data());
    for (std::int64_t e = 0; e < n; ++e) {
      std::int64_t rest = e, src = 0;
      for (std::size_t k = r; k-- > 0;) {
        src += (rest % od[k]) % id[k] * stride[k];
        rest /= od[k];
      }
      o[e] = in[src];
    }
    return;
  }
  const std::size_t es = dtype_size(x.dtype());
  const char* in = static_cast<const char*>(x.raw_data());
  char* o = static_cast<char*>(out.raw_data());
  if (r == 0) {
    std::memcpy(o, in, es);
    return;
  }
  const std::int64_t inner_in = id[r - 1], inner_out = od[r - 1];
  const auto row_bytes = static_cast<std::size_t>(inner_in) * es;
  for (std::int64_t row = 0; row < n / inner_out; ++row) {
    std::int64_t rest = row, src = 0;
    for (std::size_t k = r - 1; k-- > 0;) {
      src += (rest % od[k]) % id[k] * stride[k];
      rest /= od[k];
    }
    char* dst = o + static_cast<std::size_t>(row * inner_out) * es;
    for (std::int64_t m = 0; m < p.multiples[r - 1]; ++m)
      std::memcpy(dst + static_cast<std::size_t>(m) * row_bytes,
                  in + static_cast<std::size_t>(src) * es, row_bytes);
  }
}

// Range: start + i * delta (TF's RangeFunctor; integers wrap as two's complement).
template <class T>
void range_kernel(KernelContext& c) {
  if (c.inputs.size() != 3)
    throw InvalidArgumentError(str_cat(c.node_name, ": expects start, limit and delta"));
  const std::int64_t n = range_size(c.inputs[0], c.inputs[1], c.inputs[2], c.node_name);
  const T start = c.inputs[0].to_vector<T>()[0], delta = c.inputs[2].to_vector<T>()[0];
  T* o = c.allocate_output(0, dtype_of<T>, Shape{n}).template data<T>();
  for (std::int64_t i = 0; i < n; ++i) {
    if constexpr (std::is_integral_v<T>) {
      using U = std::make_unsigned_t<T>;
      o[i] = static_cast<T>(static_cast<U>(start) +
                            static_cast<U>(static_cast<U>(i) * static_cast<U>(delta)));
    } else {
      o[i] = start + static_cast<T>(i) * delta;
    }
  }
}

void dynamic_stitch_kernel(KernelContext& c) {
  const StitchPlan p = stitch_plan(c.inputs, c.node_name);
  const std::size_t n = c.inputs.size() / 2;
  const DType dt = c.inputs[n].dtype();
  Tensor& out = c.allocate_output(0, dt, p.out);
  const auto row = static_cast<std::size_t>(p.row);
  if (dt == DType::kString) {  // rows no index names stay empty strings
    auto* o = static_cast<std::string*>(out.raw_data());
    for (std::size_t i = 0; i < n; ++i) {
      const auto* in = static_cast<const std::string*>(c.inputs[n + i].raw_data());
      for (std::size_t j = 0; j < p.indices[i].size(); ++j)
        for (std::size_t k = 0; k < row; ++k)
          o[static_cast<std::size_t>(p.indices[i][j]) * row + k] = in[j * row + k];
    }
    return;
  }
  const std::size_t bytes = row * dtype_size(dt);
  char* o = static_cast<char*>(out.raw_data());
  if (out.bytes() != 0) std::memset(o, 0, out.bytes());
  for (std::size_t i = 0; i < n; ++i) {
    const char* in = static_cast<const char*>(c.inputs[n + i].raw_data());
    for (std::size_t j = 0; j < p.indices[i].size(); ++j)
      std::memcpy(o + static_cast<std::size_t>(p.indices[i][j]) * bytes, in + j * bytes, bytes);
  }
}

void zeros_like_kernel(KernelContext& c) {
  if (c.inputs.size() != 1) throw InvalidArgumentError(str_cat(c.node_name, ": expects one input"));
  Tensor& out = c.allocate_output(0, c.inputs[0].dtype(), c.inputs[0].shape());
  if (out.bytes() != 0) std::memset(out.raw_data(), 0, out.bytes());
}

void ones_like_kernel(KernelContext& c) {
  if (c.inputs.size() != 1) throw InvalidArgumentError(str_cat(c.node_name, ": expects one input"));
  Tensor& out = c.allocate_output(0, c.inputs[0].dtype(), c.inputs[0].shape());
  const std::size_t es = dtype_size(out.dtype());
  char one[8] = {};
  write_one(out.dtype(), one, c.node_name);
  char* o = static_cast<char*>(out.raw_data());
  for (std::int64_t e = 0; e < out.num_elements(); ++e)
    std::memcpy(o + static_cast<std::size_t>(e) * es, one, es);
}

void where_kernel(KernelContext& c) {
  if (c.inputs.size() != 1) throw InvalidArgumentError(str_cat(c.node_name, ": expects one input"));
  const Tensor& x = c.inputs[0];
  std::vector<std::int64_t> coords;
  const std::int64_t count = where_coordinates(x, c.node_name, &coords);
  Tensor& out = c.allocate_output(0, DType::kInt64, Shape{count, x.shape().rank()});
  std::copy(coords.begin(), coords.end(), out.data<std::int64_t>());
}

}  // namespace

std::int64_t select_inner(const Tensor& cond, const Tensor& x, const Tensor& y,
                          const std::string& node) {
  if (cond.dtype() != DType::kBool || x.dtype() != y.dtype())
    throw InvalidArgumentError(
        str_cat(node, ": Select needs a bool condition and x, y of one dtype"));
  if (!(x.shape() == y.shape()))
    throw InvalidArgumentError(str_cat(node, ": x and y must have one shape, got ",
                                       x.shape().to_string(), " and ", y.shape().to_string()));
  if (cond.shape() == x.shape()) return 1;
  if (cond.shape().rank() == 0) return std::max<std::int64_t>(1, x.num_elements());  // all or none
  if (cond.shape().rank() == 1 && x.shape().rank() > 1 &&
      cond.shape().dims()[0] == x.shape().dims()[0])
    return x.shape().dims()[0] == 0 ? 1 : x.num_elements() / x.shape().dims()[0];
  throw InvalidArgumentError(str_cat(node, ": condition of shape ", cond.shape().to_string(),
                                     " must have x's shape ", x.shape().to_string(),
                                     " or be a vector over its first dimension"));
}

TransposePlan transpose_plan(const Tensor& x, const Tensor& perm, const std::string& node) {
  const auto p = int_vector(perm, node, "perm");
  const auto& dims = x.shape().dims();
  if (p.size() != dims.size())
    throw InvalidArgumentError(str_cat(node, ": transpose expects a vector of size ", dims.size(),
                                       ". But input(1) is a vector of size ", p.size()));
  std::vector<std::int64_t> strides(dims.size(), 1);
  for (std::size_t k = dims.size(); k-- > 1;) strides[k - 1] = strides[k] * dims[k];
  TransposePlan plan;
  std::vector<bool> seen(dims.size(), false);
  std::vector<std::int64_t> out;
  for (auto v : p) {
    if (v < 0 || v >= static_cast<std::int64_t>(dims.size()) || seen[static_cast<std::size_t>(v)])
      throw InvalidArgumentError(str_cat(node, ": perm ", Shape(p).to_string(),
                                         " is not a permutation of 0..",
                                         static_cast<std::int64_t>(dims.size()) - 1));
    seen[static_cast<std::size_t>(v)] = true;
    out.push_back(dims[static_cast<std::size_t>(v)]);
    plan.in_strides.push_back(strides[static_cast<std::size_t>(v)]);
  }
  plan.out = Shape(out);
  return plan;
}

OneHotPlan one_hot_plan(const Tensor& indices, const Tensor& depth, std::int64_t axis,
                        const std::string& node) {
  if (depth.num_elements() != 1 || depth.dtype() != DType::kInt32)
    throw InvalidArgumentError(str_cat(node, ": depth must be an int32 scalar"));
  OneHotPlan p;
  p.depth = depth.scalar<std::int32_t>();
  if (p.depth < 0)
    throw InvalidArgumentError(str_cat(node, ": depth must be non-negative, got ", p.depth));
  const auto& dims = indices.shape().dims();
  const auto rank = static_cast<std::int64_t>(dims.size());
  if (axis < -1 || axis > rank)
    throw InvalidArgumentError(str_cat(node, ": Expected axis to be -1 or between [0, ", rank,
                                       "].  But received: ", axis));
  const std::int64_t at = axis < 0 ? rank : axis;
  std::vector<std::int64_t> out;
  for (std::int64_t k = 0; k < rank; ++k) {
    if (k == at) out.push_back(p.depth);
    out.push_back(dims[static_cast<std::size_t>(k)]);
    (k < at ? p.outer : p.inner) *= dims[static_cast<std::size_t>(k)];
  }
  if (at == rank) out.push_back(p.depth);
  p.out = Shape(out);
  return p;
}

std::int64_t where_coordinates(const Tensor& x, const std::string& node,
                               std::vector<std::int64_t>* coords) {
  const std::int64_t n = x.num_elements();
  std::vector<bool> hit(static_cast<std::size_t>(n));
  auto mark = [&](const auto* p) {
    for (std::int64_t i = 0; i < n; ++i) hit[static_cast<std::size_t>(i)] = p[i] != 0;
  };
  switch (x.dtype()) {
    case DType::kBool: mark(static_cast<const std::uint8_t*>(x.raw_data())); break;
    case DType::kFloat32: mark(x.data<float>()); break;
    case DType::kFloat64: mark(x.data<double>()); break;
    case DType::kInt32: mark(x.data<std::int32_t>()); break;
    case DType::kInt64: mark(x.data<std::int64_t>()); break;
    default:
      throw InvalidArgumentError(
          str_cat(node, ": Where takes bool or numeric input, got ", dtype_name(x.dtype())));
  }
  const auto& dims = x.shape().dims();
  std::vector<std::int64_t> at(dims.size());
  std::int64_t count = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    if (!hit[static_cast<std::size_t>(i)]) continue;
    ++count;
    // Row-major: the last dimension varies fastest.
    std::int64_t rest = i;
    for (std::size_t k = dims.size(); k-- > 0;) {
      at[k] = rest % dims[k];
      rest /= dims[k];
    }
    coords->insert(coords->end(), at.begin(), at.end());
  }
  return count;
}

std::vector<std::int64_t> int_vector(const Tensor& t, const std::string& node, const char* what) {
  if (t.shape().rank() != 1)
    throw InvalidArgumentError(
        str_cat(node, ": ", what, " must be a vector, got shape ", t.shape().to_string()));
  if (t.dtype() == DType::kInt64) return t.to_vector<std::int64_t>();
  if (t.dtype() != DType::kInt32)
    throw InvalidArgumentError(
        str_cat(node, ": ", what, " must be int32 or int64, got ", dtype_name(t.dtype())));
  std::vector<std::int64_t> v;
  for (auto d : t.to_vector<std::int32_t>()) v.push_back(d);
  return v;
}

std::pair<Shape, std::vector<std::int64_t>> int_prod(const Tensor& x, const std::vector<bool>& mask,
                                                     bool keep_dims, const std::string& node) {
  if (x.dtype() != DType::kInt32 && x.dtype() != DType::kInt64)
    throw InvalidArgumentError(
        str_cat(node, ": ScopeFlow's Prod takes int32 or int64, got ", dtype_name(x.dtype())));
  const Shape& in = x.shape();
  const Shape out = reduced_shape(in, mask, keep_dims);
  // Each input element's output index: strides over the kept dimensions.
  const int r = in.rank();
  std::vector<std::int64_t> stride(static_cast<std::size_t>(r), 0);
  std::int64_t s = 1;
  for (int i = r - 1; i >= 0; --i)
    if (!mask[static_cast<std::size_t>(i)]) {
      stride[static_cast<std::size_t>(i)] = s;
      s *= in.dims()[static_cast<std::size_t>(i)];
    }
  // Unsigned products wrap (signed overflow would be undefined); cut to x's width after.
  std::vector<std::uint64_t> acc(static_cast<std::size_t>(out.num_elements()), 1);
  // The values on the host (a GPU kernel's HostMemory input computed on the GPU, a GatherV2 of
  // a Shape, arrives in device memory: to_vector copies it back).
  std::vector<std::uint64_t> xv;
  if (x.dtype() == DType::kInt32)
    for (const std::int32_t v : x.to_vector<std::int32_t>())
      xv.push_back(static_cast<std::uint64_t>(std::int64_t{v}));
  else
    for (const std::int64_t v : x.to_vector<std::int64_t>())
      xv.push_back(static_cast<std::uint64_t>(v));
  const std::int64_t n = x.num_elements();
  for (std::int64_t e = 0; e < n; ++e) {
    std::int64_t rest = e, at = 0;
    for (int i = r - 1; i >= 0; --i) {
      const std::int64_t d = in.dims()[static_cast<std::size_t>(i)];
      at += (rest % d) * stride[static_cast<std::size_t>(i)];
      rest /= d;
    }
    acc[static_cast<std::size_t>(at)] *= xv[static_cast<std::size_t>(e)];
  }
  std::vector<std::int64_t> values(acc.size());
  for (std::size_t k = 0; k < acc.size(); ++k)
    values[k] = x.dtype() == DType::kInt32
                    ? std::int64_t{static_cast<std::int32_t>(static_cast<std::uint32_t>(acc[k]))}
                    : static_cast<std::int64_t>(acc[k]);
  return {out, values};
}

std::vector<std::int64_t> invert_permutation(const Tensor& x, const std::string& node) {
  const std::vector<std::int64_t> p = int_vector(x, node, "x");
  const auto n = static_cast<std::int64_t>(p.size());
  std::vector<std::int64_t> inverse(p.size(), -1);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t d = p[static_cast<std::size_t>(i)];
    if (d < 0 || d >= n)  // TF's messages
      throw InvalidArgumentError(str_cat(node, ": ", d, " is not between 0 and ", n));
    if (inverse[static_cast<std::size_t>(d)] != -1)
      throw InvalidArgumentError(str_cat(node, ": ", d, " is duplicated in the input."));
    inverse[static_cast<std::size_t>(d)] = i;
  }
  return inverse;
}

TilePlan tile_plan(const Tensor& x, const Tensor& multiples, const std::string& node) {
  const int rank = x.shape().rank();
  if (multiples.dtype() != DType::kInt32 && multiples.dtype() != DType::kInt64)
    throw InvalidArgumentError(
        str_cat(node, ": multiples must be int32 or int64, got ", dtype_name(multiples.dtype())));
  if (multiples.shape().rank() != 1 || multiples.num_elements() != rank)
    throw InvalidArgumentError(
        str_cat(node, ": Expected multiples argument to be a vector of length ", rank,
                " but got length ", multiples.shape().rank() == 1 ? multiples.num_elements() : -1,
                " (shape ", multiples.shape().to_string(), ")"));
  TilePlan p;
  p.multiples = int_vector(multiples, node, "multiples");
  std::vector<std::int64_t> dims;
  for (int k = 0; k < rank; ++k) {
    const std::int64_t m = p.multiples[static_cast<std::size_t>(k)];
    const std::int64_t d = x.shape().dims()[static_cast<std::size_t>(k)];
    if (m < 0)
      throw InvalidArgumentError(str_cat(node, ": Expected multiples[", k, "] >= 0, but got ", m));
    if (d != 0 && m > std::numeric_limits<std::int64_t>::max() / d)
      throw InvalidArgumentError(
          str_cat(node, ": dimension ", k, " of the output (", d, " * ", m, ") overflows int64"));
    dims.push_back(d * m);
  }
  p.out = Shape(dims);
  return p;
}

namespace {
template <class T>
std::int64_t range_size_of(const Tensor& start, const Tensor& limit, const Tensor& delta,
                           const std::string& node) {
  const T s = start.to_vector<T>()[0], l = limit.to_vector<T>()[0], d = delta.to_vector<T>()[0];
  if (d == T(0)) throw InvalidArgumentError(str_cat(node, ": Requires delta != 0: ", d));
  if (d > T(0) && s > l)
    throw InvalidArgumentError(
        str_cat(node, ": Requires start <= limit when delta > 0: ", s, "/", l));
  if (d < T(0) && s < l)
    throw InvalidArgumentError(
        str_cat(node, ": Requires start >= limit when delta < 0: ", s, "/", l));
  if constexpr (std::is_integral_v<T>) {
    // |l - s| and |d| as unsigned 64-bit values (no signed overflow), then a ceiling division.
    const auto span = static_cast<std::uint64_t>(
        l >= s ? static_cast<std::uint64_t>(l) - static_cast<std::uint64_t>(s)
               : static_cast<std::uint64_t>(s) - static_cast<std::uint64_t>(l));
    const std::uint64_t step =
        d > 0 ? static_cast<std::uint64_t>(d) : std::uint64_t{0} - static_cast<std::uint64_t>(d);
    const std::uint64_t n = span / step + (span % step != 0 ? 1 : 0);
    if (n > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      throw InvalidArgumentError(str_cat(node, ": Requires ((limit - start) / delta) <= ",
                                         std::numeric_limits<std::int64_t>::max()));
    return static_cast<std::int64_t>(n);
  } else {
    // In T, as TF computes it: ceil(|(limit - start) / delta|).
    const T n = std::ceil(std::abs((l - s) / d));
    if (!(n < static_cast<T>(0x1p63)))  // (T)INT64_MAX rounds up to 2^63, which does not fit
      throw InvalidArgumentError(str_cat(node, ": Requires ((limit - start) / delta) <= ",
                                         std::numeric_limits<std::int64_t>::max()));
    return static_cast<std::int64_t>(n);
  }
}
}  // namespace

std::int64_t range_size(const Tensor& start, const Tensor& limit, const Tensor& delta,
                        const std::string& node) {
  const char* names[] = {"start", "limit", "delta"};
  const Tensor* in[] = {&start, &limit, &delta};
  for (int k = 0; k < 3; ++k)
    if (in[k]->shape().rank() != 0)
      throw InvalidArgumentError(str_cat(node, ": ", names[k], " must be a scalar, not shape ",
                                         in[k]->shape().to_string()));
  const DType t = start.dtype();
  if (limit.dtype() != t || delta.dtype() != t)
    throw InvalidArgumentError(str_cat(node, ": start, limit and delta must have one dtype, got ",
                                       dtype_name(t), ", ", dtype_name(limit.dtype()), ", ",
                                       dtype_name(delta.dtype())));
  switch (t) {
    case DType::kInt32: return range_size_of<std::int32_t>(start, limit, delta, node);
    case DType::kInt64: return range_size_of<std::int64_t>(start, limit, delta, node);
    case DType::kFloat32: return range_size_of<float>(start, limit, delta, node);
    case DType::kFloat64: return range_size_of<double>(start, limit, delta, node);
    default:
      throw InvalidArgumentError(
          str_cat(node, ": Range takes int32, int64, float32 or float64, got ", dtype_name(t)));
  }
}

StitchPlan stitch_plan(const std::vector<Tensor>& in, const std::string& node) {
  if (in.empty() || in.size() % 2 != 0)
    throw InvalidArgumentError(str_cat(
        node, ": DynamicStitch takes N indices then N data tensors, got ", in.size(), " inputs"));
  const std::size_t n = in.size() / 2;
  const Tensor& idx0 = in[0];
  const Tensor& data0 = in[n];
  const auto suffix_of = [](const Tensor& idx, const Tensor& data) {
    const auto& d = data.shape().dims();
    return std::vector<std::int64_t>(d.begin() + idx.shape().rank(), d.end());
  };
  std::int64_t max_index = -1;
  std::vector<std::vector<std::int64_t>> values(n);
  for (std::size_t i = 0; i < n; ++i) {
    const Tensor& idx = in[i];
    const Tensor& data = in[n + i];
    if (idx.dtype() != DType::kInt32)
      throw InvalidArgumentError(
          str_cat(node, ": indices[", i, "] must be int32, got ", dtype_name(idx.dtype())));
    if (data.dtype() != data0.dtype())
      throw InvalidArgumentError(str_cat(node, ": data[", i, "] is ", dtype_name(data.dtype()),
                                         ", data[0] is ", dtype_name(data0.dtype())));
    const auto& is = idx.shape().dims();
    const auto& ds = data.shape().dims();
    if (ds.size() < is.size() || !std::equal(is.begin(), is.end(), ds.begin()))
      throw InvalidArgumentError(str_cat(node, ": data[", i, "].shape = ", data.shape().to_string(),
                                         " does not start with indices[", i,
                                         "].shape = ", idx.shape().to_string()));
    if (i > 0 && suffix_of(idx, data) != suffix_of(idx0, data0))
      throw InvalidArgumentError(str_cat(
          node, ": Need data[0].shape[", idx0.shape().rank(), ":] = data[", i, "].shape[",
          idx.shape().rank(), ":], got data[0].shape = ", data0.shape().to_string(), ", data[", i,
          "].shape = ", data.shape().to_string(), ", indices[0].shape = ", idx0.shape().to_string(),
          ", indices[", i, "].shape = ", idx.shape().to_string()));
    for (auto v : idx.to_vector<std::int32_t>()) {
      if (v < 0)
        throw InvalidArgumentError(
            str_cat(node, ": indices[", i, "] holds ", v, ", which is out of range"));
      values[i].push_back(v);
      max_index = std::max<std::int64_t>(max_index, v);
    }
  }
  StitchPlan p;
  std::vector<std::int64_t> dims{max_index + 1};
  for (auto d : suffix_of(idx0, data0)) {
    dims.push_back(d);
    p.row *= d;
  }
  p.out = Shape(dims);
  p.indices = std::move(values);
  return p;
}

void write_one(DType dtype, void* dst, const std::string& node) {
  switch (dtype) {
    case DType::kFloat32: *static_cast<float*>(dst) = 1.0f; return;
    case DType::kFloat64: *static_cast<double*>(dst) = 1.0; return;
    case DType::kFloat16: *static_cast<half*>(dst) = half(1.0f); return;
    case DType::kBFloat16: *static_cast<bfloat16_t*>(dst) = bfloat16_t(1.0f); return;
    case DType::kInt32: *static_cast<std::int32_t*>(dst) = 1; return;
    case DType::kInt64: *static_cast<std::int64_t*>(dst) = 1; return;
    case DType::kUInt8: *static_cast<std::uint8_t*>(dst) = 1; return;
    case DType::kInt8: *static_cast<std::int8_t*>(dst) = 1; return;
    case DType::kBool: *static_cast<bool*>(dst) = true; return;
    default: throw InvalidArgumentError(str_cat(node, ": no 1 of dtype ", dtype_name(dtype)));
  }
}

std::pair<std::vector<std::int64_t>, std::vector<std::int64_t>> broadcast_gradient_args(
    const std::vector<std::int64_t>& s0, const std::vector<std::int64_t>& s1,
    const std::string& node) {
  const std::size_t rank = std::max(s0.size(), s1.size());
  std::vector<std::int64_t> r0, r1;
  for (std::size_t i = 0; i < rank; ++i) {
    // Dimension i of the broadcast shape; each input padded with leading 1s.
    const std::size_t pad0 = rank - s0.size(), pad1 = rank - s1.size();
    const std::int64_t a = i < pad0 ? 1 : s0[i - pad0];
    const std::int64_t b = i < pad1 ? 1 : s1[i - pad1];
    if (a < 0 || b < 0 || (a != b && a != 1 && b != 1))
      throw InvalidArgumentError(str_cat(node, ": Incompatible shapes: ", Shape(s0).to_string(),
                                         " vs. ", Shape(s1).to_string()));
    if (a == 1) r0.push_back(static_cast<std::int64_t>(i));
    if (b == 1) r1.push_back(static_cast<std::int64_t>(i));
  }
  return {r0, r1};
}

void register_array_cpu_kernels(KernelRegistry& r) {
  using devices::DeviceType;
  for (DType d :
       {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16, DType::kInt32,
        DType::kInt64, DType::kBool, DType::kString, DType::kUInt8, DType::kInt8}) {
    r.add({"Identity", DeviceType::kCPU, d, "ref"}, identity_kernel);
    r.add({"_InitializedValueOr", DeviceType::kCPU, d, "ref"}, initialized_value_or_kernel);
    r.add({"Pack", DeviceType::kCPU, d, "ref"}, pack_kernel);
    r.add({"BooleanMask", DeviceType::kCPU, d, "ref"}, boolean_mask_kernel);
    r.add({"Reshape", DeviceType::kCPU, d, "ref"}, reshape_kernel);
    r.add({"StopGradient", DeviceType::kCPU, d, "ref"}, identity_kernel);
    r.add({"ExpandDims", DeviceType::kCPU, d, "ref"}, expand_dims_kernel);
    r.add({"Squeeze", DeviceType::kCPU, d, "ref"}, squeeze_kernel);
    r.add({"Select", DeviceType::kCPU, d, "ref"}, select_kernel);
    r.add({"Transpose", DeviceType::kCPU, d, "ref"}, transpose_kernel);
    r.add({"Tile", DeviceType::kCPU, d, "ref"}, tile_kernel);
    r.add({"DynamicStitch", DeviceType::kCPU, d, "ref"}, dynamic_stitch_kernel);
    if (d != DType::kString) {
      r.add({"ZerosLike", DeviceType::kCPU, d, "ref"}, zeros_like_kernel);
      r.add({"OnesLike", DeviceType::kCPU, d, "ref"}, ones_like_kernel);
    }
  }
  r.add({"Rank", DeviceType::kCPU, DType::kInt32, "ref"}, rank_kernel);
  r.add({"Range", DeviceType::kCPU, DType::kInt32, "ref"}, range_kernel<std::int32_t>);
  r.add({"Range", DeviceType::kCPU, DType::kInt64, "ref"}, range_kernel<std::int64_t>);
  r.add({"Range", DeviceType::kCPU, DType::kFloat32, "ref"}, range_kernel<float>);
  r.add({"Range", DeviceType::kCPU, DType::kFloat64, "ref"}, range_kernel<double>);
  r.add({"LogicalNot", DeviceType::kCPU, DType::kBool, "ref"}, logical_not_kernel);
  r.add({"Where", DeviceType::kCPU, DType::kInt64, "ref"}, where_kernel);
  r.add({"OneHot", DeviceType::kCPU, DType::kFloat32, "ref"}, one_hot_kernel<float>);
  r.add({"OneHot", DeviceType::kCPU, DType::kFloat64, "ref"}, one_hot_kernel<double>);
  r.add({"OneHot", DeviceType::kCPU, DType::kInt32, "ref"}, one_hot_kernel<std::int32_t>);
  r.add({"OneHot", DeviceType::kCPU, DType::kInt64, "ref"}, one_hot_kernel<std::int64_t>);
  for (DType d : {DType::kInt32, DType::kInt64}) {
    r.add({"Shape", DeviceType::kCPU, d, "ref"}, shape_kernel);
    r.add({"Size", DeviceType::kCPU, d, "ref"}, size_kernel);
    r.add({"BroadcastGradientArgs", DeviceType::kCPU, d, "ref"}, broadcast_gradient_args_kernel);
    r.add({"Prod", DeviceType::kCPU, d, "ref"}, prod_kernel);
    r.add({"InvertPermutation", DeviceType::kCPU, d, "ref"}, invert_permutation_kernel);
  }
}

void register_array_gpu_kernels(KernelRegistry& r) {
  for (DType d : {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16,
                  DType::kInt32, DType::kInt64, DType::kBool, DType::kUInt8, DType::kInt8}) {
    r.add({"Identity", devices::DeviceType::kGPU, d, "cuda"}, identity_kernel);
    r.add({"_InitializedValueOr", devices::DeviceType::kGPU, d, "cuda"},
          initialized_value_or_kernel);
    r.add({"Reshape", devices::DeviceType::kGPU, d, "cuda"}, reshape_kernel);
    r.add({"StopGradient", devices::DeviceType::kGPU, d, "cuda"}, identity_kernel);
    r.add({"ExpandDims", devices::DeviceType::kGPU, d, "cuda"}, expand_dims_kernel);
    r.add({"Squeeze", devices::DeviceType::kGPU, d, "cuda"}, squeeze_kernel);
  }
}

}  // namespace scopeflow::kernels
