// Reductions on the CPU. See reduce.h.
#include "kernels/reduce/reduce.h"

#include <algorithm>
#include <limits>

#include "kernels/common/parallel_for.h"

namespace scopeflow::kernels {

std::vector<bool> reduction_mask(const Shape& in, const std::vector<std::int64_t>& axes,
                                 const std::string& what) {
  const int r = in.rank();
  std::vector<bool> mask(static_cast<std::size_t>(r), axes.empty());
  for (auto a : axes) {
    if (a < -r || a >= r)
      throw InvalidArgumentError(str_cat(what, ": Invalid reduction dimension ", a,
                                         " for input with ", r, " dimensions."));
    const auto at = static_cast<std::size_t>(a < 0 ? a + r : a);
    if (mask[at] && !axes.empty())  // TF's ReductionHelper
      throw InvalidArgumentError(
          str_cat(what, ": Invalid reduction arguments: Axes contains duplicate dimension: ", at));
    mask[at] = true;
  }
  return mask;
}

Shape reduced_shape(const Shape& in, const std::vector<bool>& mask, bool keep_dims) {
  std::vector<std::int64_t> d;
  for (int i = 0; i < in.rank(); ++i) {
    if (!mask[static_cast<std::size_t>(i)])
      d.push_back(in.dims()[static_cast<std::size_t>(i)]);
    else if (keep_dims)
      d.push_back(1);
  }
  return Shape(d);
}

std::vector<bool> reduction_mask_of(const KernelContext& c, const Shape& x) {
  std::vector<std::int64_t> axes;
  const Tensor& ax = c.inputs.at(1);  // host or device: to_vector copies as needed
  if (ax.dtype() == DType::kInt32) {
    for (auto a : ax.to_vector<std::int32_t>()) axes.push_back(a);
  } else {
    axes = ax.to_vector<std::int64_t>();
  }
  // NOTE: an empty axes tensor reduces nothing in TF; reduce_sum(x) passes all axes explicitly.
  std::vector<bool> mask = reduction_mask(x, axes, c.node_name);
  if (axes.empty()) std::fill(mask.begin(), mask.end(), false);
  return mask;
}

void reduce_forward_ref(ReduceOp op, const float* x, const Shape& in, const std::vector<bool>& mask,
                        float* y) {
  const int r = in.rank();
  // Output index of every input element: strides over the kept dimensions.
  std::vector<std::int64_t> out_stride(static_cast<std::size_t>(r), 0);
  std::int64_t s = 1, out_n = 1, group = 1;
  for (int i = r - 1; i >= 0; --i) {
    const auto k = static_cast<std::size_t>(i);
    if (!mask[k]) {
      out_stride[k] = s;
      s *= in.dims()[k];
      out_n *= in.dims()[k];
    } else {
      group *= in.dims()[k];
    }
  }
  std::vector<double> acc(static_cast<std::size_t>(out_n),
                          op == ReduceOp::kMax ? -std::numeric_limits<double>::infinity() : 0.0);
  std::vector<std::int64_t> idx(static_cast<std::size_t>(r), 0);
  const std::int64_t n = in.num_elements();
  std::int64_t o = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    auto& a = acc[static_cast<std::size_t>(o)];
    if (op == ReduceOp::kMax)
      a = (x[i] > a || x[i] != x[i]) ? x[i] : a;
    else if (op == ReduceOp::kL2Loss)
      a += static_cast<double>(x[i]) * static_cast<double>(x[i]);
    else
      a += x[i];
    for (int d = r - 1; d >= 0; --d) {
      const auto k = static_cast<std::size_t>(d);
      ++idx[k];
      o += out_stride[k];
      if (idx[k] < in.dims()[k]) break;
      o -= out_stride[k] * idx[k];
      idx[k] = 0;
    }
  }
  for (std::int64_t i = 0; i < out_n; ++i) {
    double v = acc[static_cast<std::size_t>(i)];
    if (op == ReduceOp::kMean) v /= static_cast<double>(group);
    if (op == ReduceOp::kL2Loss) v *= 0.5;
    y[i] = static_cast<float>(v);
  }
}

namespace {
template <ReduceOp kOp>
void reduce_kernel(KernelContext& c) {
  const Tensor& x = c.inputs.at(0);
  const std::vector<bool> mask = reduction_mask_of(c, x.shape());
  Tensor& y =
      c.allocate_output(0, DType::kFloat32,
                        reduced_shape(x.shape(), mask, c.attr().get_or<bool>("keep_dims", false)));
  reduce_forward_ref(kOp, x.data<float>(), x.shape(), mask, y.data<float>());
}
// TF's L2Loss: a float32 scalar, sum(t^2) / 2 over every element of t.
void l2_loss_kernel(KernelContext& c) {
  const Tensor& x = c.inputs.at(0);
  if (x.dtype() != DType::kFloat32)
    throw InvalidArgumentError(
        str_cat(c.node_name, ": L2Loss takes float32, got ", dtype_name(x.dtype())));
  const std::vector<bool> all(static_cast<std::size_t>(x.shape().rank()), true);
  Tensor& y = c.allocate_output(0, DType::kFloat32, Shape{});
  reduce_forward_ref(ReduceOp::kL2Loss, x.data<float>(), x.shape(), all, y.data<float>());
}
// ---- label "cpu": the reduction as [outer, reduced, inner] after merging dimensions, on the
// intra-op pool. Each output sums its inputs in index order in double, as the reference does
// (bit-identical to it), except a reduction to one value (outer = inner = 1), summed in fixed
// blocks of kBlock elements whose double partials are added in order: deterministic whatever
// the thread count, within rounding of the reference.
constexpr std::int64_t kBlock = 32768;

struct Merged {
  bool ok = false;  // the reduced dimensions are contiguous once size-1 dimensions are dropped
  std::int64_t outer = 1, reduced = 1, inner = 1;
};

Merged merge(const Shape& in, const std::vector<bool>& mask) {
  Merged m;
  int phase = 0;  // 0: outer kept dims, 1: reduced dims, 2: inner kept dims
  for (int i = 0; i < in.rank(); ++i) {
    const auto k = static_cast<std::size_t>(i);
    const std::int64_t d = in.dims()[k];
    if (d == 1) continue;
    if (mask[k]) {
      if (phase == 2) return m;  // reduced, kept, reduced: not one block
      phase = 1;
      m.reduced *= d;
    } else if (phase == 0) {
      m.outer *= d;
    } else {
      phase = 2;
      m.inner *= d;
    }
  }
  m.ok = true;
  return m;
}

template <ReduceOp kOp>
inline void combine(double& a, double v) {
  if constexpr (kOp == ReduceOp::kMax)
    a = (v > a || v != v) ? v : a;
  else if constexpr (kOp == ReduceOp::kL2Loss)
    a += v * v;
  else
    a += v;
}

template <ReduceOp kOp>
double finish(double a, std::int64_t group) {
  if constexpr (kOp == ReduceOp::kMean) return a / static_cast<double>(group);
  if constexpr (kOp == ReduceOp::kL2Loss) return a * 0.5;
  return a;
}

template <ReduceOp kOp>
constexpr double initial() {
  return kOp == ReduceOp::kMax ? -std::numeric_limits<double>::infinity() : 0.0;
}

template <ReduceOp kOp>
void reduce_fast(const float* x, const Merged& m, float* y) {
  const std::int64_t R = m.reduced, inner = m.inner;
  if (m.outer == 1 && inner == 1) {
    const std::int64_t blocks = (R + kBlock - 1) / kBlock;
    std::vector<double> partial(static_cast<std::size_t>(std::max<std::int64_t>(1, blocks)),
                                initial<kOp>());
    parallel_for(blocks, 1, [&](std::int64_t b0, std::int64_t b1) {
      for (std::int64_t b = b0; b < b1; ++b) {
        double a = initial<kOp>();
        for (std::int64_t i = b * kBlock; i < std::min(R, (b + 1) * kBlock); ++i)
          combine<kOp>(a, x[i]);
        partial[static_cast<std::size_t>(b)] = a;
      }
    });
    double a = initial<kOp>();
    for (double p : partial) {
      if constexpr (kOp == ReduceOp::kMax)
        a = (p > a || p != p) ? p : a;
      else
        a += p;
    }
    y[0] = static_cast<float>(finish<kOp>(a, R));
    return;
  }
  if (inner == 1) {  // rows of R contiguous values
    parallel_for(m.outer,
                 std::max<std::int64_t>(1, kElementwiseGrain / std::max<std::int64_t>(1, R)),
                 [&](std::int64_t o0, std::int64_t o1) {
                   for (std::int64_t o = o0; o < o1; ++o) {
                     double a = initial<kOp>();
                     for (std::int64_t i = 0; i < R; ++i) combine<kOp>(a, x[o * R + i]);
                     y[o] = static_cast<float>(finish<kOp>(a, R));
                   }
                 });
    return;
  }
  // Columns: per outer index, `inner` sums over R rows, in column tiles.
  constexpr std::int64_t kTile = 512;
  const std::int64_t tiles = (inner + kTile - 1) / kTile;
  const std::int64_t per =
      std::max<std::int64_t>(1, kElementwiseGrain / std::max<std::int64_t>(1, R * kTile));
  parallel_for(m.outer * tiles, per, [&](std::int64_t w0, std::int64_t w1) {
    std::vector<double> acc(static_cast<std::size_t>(kTile));
    for (std::int64_t w = w0; w < w1; ++w) {
      const std::int64_t o = w / tiles, j0 = (w % tiles) * kTile;
      const std::int64_t n = std::min(kTile, inner - j0);
      std::fill(acc.begin(), acc.begin() + n, initial<kOp>());
      const float* base = x + o * R * inner + j0;
      for (std::int64_t r = 0; r < R; ++r)
        for (std::int64_t j = 0; j < n; ++j)
          combine<kOp>(acc[static_cast<std::size_t>(j)], base[r * inner + j]);
      for (std::int64_t j = 0; j < n; ++j)
        y[o * inner + j0 + j] =
            static_cast<float>(finish<kOp>(acc[static_cast<std::size_t>(j)], R));
    }
  });
}

template <ReduceOp kOp>
void reduce_fast_kernel(KernelContext& c) {
  const Tensor& x = c.inputs.at(0);
  const std::vector<bool> mask = reduction_mask_of(c, x.shape());
  Tensor& y =
      c.allocate_output(0, DType::kFloat32,
                        reduced_shape(x.shape(), mask, c.attr().get_or<bool>("keep_dims", false)));
  const Merged m = merge(x.shape(), mask);
  // Empty inputs and patterns that are not one block go the reference's way.
  if (!m.ok || x.num_elements() == 0 || y.num_elements() == 0)
    return reduce_forward_ref(kOp, x.data<float>(), x.shape(), mask, y.data<float>());
  reduce_fast<kOp>(x.data<float>(), m, y.data<float>());
}

void l2_loss_fast_kernel(KernelContext& c) {
  const Tensor& x = c.inputs.at(0);
  if (x.dtype() != DType::kFloat32)
    throw InvalidArgumentError(
        str_cat(c.node_name, ": L2Loss takes float32, got ", dtype_name(x.dtype())));
  Tensor& y = c.allocate_output(0, DType::kFloat32, Shape{});
  if (x.num_elements() == 0) {
    y.data<float>()[0] = 0.0f;
    return;
  }
  reduce_fast<ReduceOp::kL2Loss>(x.data<float>(), Merged{true, 1, x.num_elements(), 1},
                                 y.data<float>());
}
}  // namespace

void register_reduce_cpu_kernels(KernelRegistry& r) {
  r.add({"L2Loss", devices::DeviceType::kCPU, DType::kFloat32, "cpu"}, l2_loss_fast_kernel);
  r.add({"Sum", devices::DeviceType::kCPU, DType::kFloat32, "cpu"},
        reduce_fast_kernel<ReduceOp::kSum>);
  r.add({"Mean", devices::DeviceType::kCPU, DType::kFloat32, "cpu"},
        reduce_fast_kernel<ReduceOp::kMean>);
  r.add({"Max", devices::DeviceType::kCPU, DType::kFloat32, "cpu"},
        reduce_fast_kernel<ReduceOp::kMax>);
  r.add({"L2Loss", devices::DeviceType::kCPU, DType::kFloat32, "ref"}, l2_loss_kernel);
  using devices::DeviceType;
  r.add({"Sum", DeviceType::kCPU, DType::kFloat32, "ref"}, reduce_kernel<ReduceOp::kSum>);
  r.add({"Mean", DeviceType::kCPU, DType::kFloat32, "ref"}, reduce_kernel<ReduceOp::kMean>);
  r.add({"Max", DeviceType::kCPU, DType::kFloat32, "ref"}, reduce_kernel<ReduceOp::kMax>);
}

}  // namespace scopeflow::kernels
