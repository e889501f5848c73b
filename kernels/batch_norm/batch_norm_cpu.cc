// FusedBatchNormV3 / FusedBatchNormGradV3 on the CPU, and the checks both devices share. See
// batch_norm.h.
#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "kernels/batch_norm/batch_norm.h"
#include "kernels/common/parallel_for.h"

namespace scopeflow::kernels {

BatchNormAttrs batch_norm_attrs(const KernelContext& c) {
  BatchNormAttrs a;
  a.epsilon = c.attr().get_or<float>("epsilon", 1e-4f);
  a.factor = c.attr().get_or<float>("exponential_avg_factor", 1.0f);
  a.is_training = c.attr().get_or<bool>("is_training", true);
  const std::string f = c.attr().get_or<std::string>("data_format", "NHWC");
  if (f != "NHWC" && f != "NCHW" && f != "NDHWC" && f != "NCDHW")
    throw InvalidArgumentError(
        str_cat(c.node_name, ": Invalid data format \"", f, "\" (NHWC, NCHW, NDHWC or NCDHW)"));
  a.channels_first = f == "NCHW" || f == "NCDHW";
  if (!std::isfinite(a.epsilon) || a.epsilon < 0.0f)
    throw InvalidArgumentError(
        str_cat(c.node_name, ": epsilon must be finite and non-negative, got ", a.epsilon));
  if (!std::isfinite(a.factor))
    throw InvalidArgumentError(
        str_cat(c.node_name, ": exponential_avg_factor must be finite, got ", a.factor));
  return a;
}

BatchNormLayout batch_norm_layout(const KernelContext& c, const Tensor& x,
                                  const BatchNormAttrs& a) {
  if (x.dtype() != DType::kFloat32)
    throw InvalidArgumentError(str_cat(c.node_name, ": x must be float32, got ",
                                       dtype_name(x.dtype()),
                                       " (ScopeFlow's fused batch norm is float32)"));
  const std::string f = c.attr().get_or<std::string>("data_format", "NHWC");
  const int rank = x.shape().rank();
  const int want = f.size() == 5 ? 5 : 4;
  if (rank != want)
    throw InvalidArgumentError(str_cat(c.node_name, ": input must be ", want,
                                       "-dimensional for data_format ", f, ", got shape ",
                                       x.shape().to_string()));
  const auto& d = x.shape().dims();
  BatchNormLayout l;
  if (a.channels_first) {
    l.outer = d[0];
    l.channels = d[1];
    l.inner = 1;
    for (int i = 2; i < rank; ++i) l.inner *= d[static_cast<std::size_t>(i)];
  } else {
    l.outer = 1;
    for (int i = 0; i + 1 < rank; ++i) l.outer *= d[static_cast<std::size_t>(i)];
    l.channels = d.back();
  }
  return l;
}

void batch_norm_check_vector(const KernelContext& c, const Tensor& t, const char* what,
                             std::int64_t channels, bool may_be_empty) {
  if (t.dtype() != DType::kFloat32)
    throw InvalidArgumentError(
        str_cat(c.node_name, ": ", what, " must be float32, got ", dtype_name(t.dtype())));
  if (t.shape().rank() != 1)
    throw InvalidArgumentError(
        str_cat(c.node_name, ": ", what, " must be 1-dimensional, got ", t.shape().to_string()));
  if (may_be_empty && t.num_elements() == 0) return;
  if (t.num_elements() != channels)
    throw InvalidArgumentError(str_cat(c.node_name, ": ", what,
                                       " must have the same number of elements as the channels "
                                       "of x, got ",
                                       t.num_elements(), " and ", channels));
}

BatchNormLayout batch_norm_check_forward(const KernelContext& c, const BatchNormAttrs& a) {
  if (c.inputs.size() < 5)
    throw InvalidArgumentError(
        str_cat(c.node_name, ": FusedBatchNormV3 takes 5 inputs, got ", c.inputs.size()));
  const BatchNormLayout l = batch_norm_layout(c, c.inputs[0], a);
  batch_norm_check_vector(c, c.inputs[1], "scale", l.channels);
  batch_norm_check_vector(c, c.inputs[2], "offset", l.channels);
  if (batch_norm_reads_statistics(a)) {
    batch_norm_check_vector(c, c.inputs[3], "mean", l.channels);
    batch_norm_check_vector(c, c.inputs[4], "variance", l.channels);
  }
  return l;
}

BatchNormLayout batch_norm_check_grad(const KernelContext& c, const BatchNormAttrs& a) {
  if (c.inputs.size() < 6)
    throw InvalidArgumentError(
        str_cat(c.node_name, ": FusedBatchNormGradV3 takes 6 inputs, got ", c.inputs.size()));
  const Tensor& dy = c.inputs[0];
  const Tensor& x = c.inputs[1];
  const BatchNormLayout l = batch_norm_layout(c, x, a);
  if (dy.dtype() != DType::kFloat32 || !(dy.shape() == x.shape()))
    throw InvalidArgumentError(str_cat(c.node_name, ": y_backprop (", dtype_name(dy.dtype()), " ",
                                       dy.shape().to_string(), ") must be float32 of x's shape ",
                                       x.shape().to_string()));
  batch_norm_check_vector(c, c.inputs[2], "scale", l.channels);
  batch_norm_check_vector(c, c.inputs[3], "reserve_space_1", l.channels);
  batch_norm_check_vector(c, c.inputs[4], "reserve_space_2", l.channels);
  return l;
}

namespace {

// Per-channel double sums of two float terms of each element, term(e, c) -> {t0, t1} for
// element e of channel c, over fixed blocks of `outer` (in parallel), then the blocks in order:
// the result does not depend on the thread count. Inside a block the terms are summed in float
// over short runs (16 rows of channels-last data, across the channels; 8 lanes of up to 64
// elements along a channels-first run), which the compiler vectorizes, and the runs in double.
template <class Term>
void channel_sums(const BatchNormLayout& l, Term term, std::vector<double>& s0,
                  std::vector<double>& s1) {
  const auto C = static_cast<std::size_t>(l.channels);
  s0.assign(C, 0.0);
  s1.assign(C, 0.0);
  const std::int64_t row = std::max<std::int64_t>(1, l.channels * l.inner);
  const std::int64_t per_block = std::max<std::int64_t>(1, 65536 / row);
  const std::int64_t blocks = (l.outer + per_block - 1) / per_block;
  if (blocks == 0 || C == 0) return;
  std::vector<double> partial(static_cast<std::size_t>(blocks) * 2 * C, 0.0);
  parallel_for(blocks, 1, [&](std::int64_t b0, std::int64_t b1) {
    std::vector<float> run0(C), run1(C);
    for (std::int64_t b = b0; b < b1; ++b) {
      double* p0 = partial.data() + static_cast<std::size_t>(b) * 2 * C;
      double* p1 = p0 + C;
      const std::int64_t o_end = std::min(l.outer, (b + 1) * per_block);
      if (l.inner == 1) {
        for (std::int64_t o = b * per_block; o < o_end; o += 16) {
          std::fill(run0.begin(), run0.end(), 0.0f);
          std::fill(run1.begin(), run1.end(), 0.0f);
          float* __restrict a0 = run0.data();
          float* __restrict a1 = run1.data();
          for (std::int64_t r = o; r < std::min(o_end, o + 16); ++r) {
            const std::int64_t base = r * l.channels;
            for (std::int64_t ch = 0; ch < l.channels; ++ch) {
              const auto [t0, t1] = term(base + ch, ch);
              a0[ch] += t0;
              a1[ch] += t1;
            }
          }
          for (std::size_t ch = 0; ch < C; ++ch) {
            p0[ch] += run0[ch];
            p1[ch] += run1[ch];
          }
        }
        continue;
      }
      for (std::int64_t o = b * per_block; o < o_end; ++o)
        for (std::int64_t ch = 0; ch < l.channels; ++ch) {
          const std::int64_t base = (o * l.channels + ch) * l.inner;
          double d0 = 0.0, d1 = 0.0;
          std::int64_t k = 0;
          while (k + 8 <= l.inner) {
            float lane0[8] = {}, lane1[8] = {};
            const std::int64_t stop = std::min(l.inner - 7, k + 512);
            for (; k < stop; k += 8)
              for (int j = 0; j < 8; ++j) {
                const auto [t0, t1] = term(base + k + j, ch);
                lane0[j] += t0;
                lane1[j] += t1;
              }
            for (int j = 0; j < 8; ++j) {
              d0 += lane0[j];
              d1 += lane1[j];
            }
          }
          for (; k < l.inner; ++k) {
            const auto [t0, t1] = term(base + k, ch);
            d0 += t0;
            d1 += t1;
          }
          p0[ch] += d0;
          p1[ch] += d1;
        }
    }
  });
  for (std::int64_t b = 0; b < blocks; ++b) {
    const double* p0 = partial.data() + static_cast<std::size_t>(b) * 2 * C;
    for (std::size_t ch = 0; ch < C; ++ch) {
      s0[ch] += p0[ch];
      s1[ch] += p0[C + ch];
    }
  }
}

// f(e, c) for every element e of channel c, rows of `outer` in parallel (channels-last rows
// as one loop over the channels, which the compiler vectorizes).
template <class F>
void for_each_element(const BatchNormLayout& l, F f) {
  const std::int64_t row = std::max<std::int64_t>(1, l.channels * l.inner);
  parallel_for(l.outer, std::max<std::int64_t>(1, kElementwiseGrain / row),
               [&](std::int64_t o0, std::int64_t o1) {
                 for (std::int64_t o = o0; o < o1; ++o) {
                   if (l.inner == 1) {
                     const std::int64_t base = o * l.channels;
                     for (std::int64_t ch = 0; ch < l.channels; ++ch) f(base + ch, ch);
                     continue;
                   }
                   for (std::int64_t ch = 0; ch < l.channels; ++ch) {
                     const std::int64_t base = (o * l.channels + ch) * l.inner;
                     for (std::int64_t k = 0; k < l.inner; ++k) f(base + k, ch);
                   }
                 }
               });
}

void fused_batch_norm_cpu(KernelContext& c) {
  const BatchNormAttrs a = batch_norm_attrs(c);
  const BatchNormLayout l = batch_norm_check_forward(c, a);
  const Tensor& x = c.inputs[0];
  const bool reads = batch_norm_reads_statistics(a);
  const float* xs = x.data<float>();
  const float* scale = c.inputs[1].data<float>();
  const float* offset = c.inputs[2].data<float>();
  const Shape cs{l.channels};
  c.outputs.resize(6);
  float* y = c.allocate_output(0, DType::kFloat32, x.shape()).data<float>();
  float* batch_mean = c.allocate_output(1, DType::kFloat32, cs).data<float>();
  float* batch_var = c.allocate_output(2, DType::kFloat32, cs).data<float>();
  float* saved_mean = c.allocate_output(3, DType::kFloat32, cs).data<float>();
  float* saved_var = c.allocate_output(4, DType::kFloat32, cs).data<float>();
  c.allocate_output(5, DType::kFloat32, Shape{0});
  const auto C = static_cast<std::size_t>(l.channels);
  std::vector<float> mean(C), var(C);
  if (a.is_training) {
    // One pass for both statistics: sums of d and d^2 with d = x - shift, then mean = shift +
    // E[d] and var = E[d^2] - E[d]^2 in double. The shift keeps the difference of the two from
    // cancelling (the variance's relative error grows with 1 + (shift - mean)^2 / var): each
    // channel's mean over a sample of up to 64 elements spread evenly over the whole batch
    // (64 rows of channels-last data; 8 batch entries by 8 points of each channels-first run).
    // A sample that is not finite gives shift 0: inf and NaN then spread as in TF's sums.
    std::vector<float> shift(C, 0.0f);
    const std::int64_t so = std::min<std::int64_t>(l.outer, l.inner == 1 ? 64 : 8),
                       si = std::min<std::int64_t>(l.inner, 8);
    // Row by row (a channel's samples lie a power-of-two stride apart: read one channel at a
    // time they would share a cache set).
    std::vector<double> sample(C, 0.0);
    std::vector<std::int64_t> points(static_cast<std::size_t>(si));
    for (std::int64_t j = 0; j < si; ++j) points[static_cast<std::size_t>(j)] = j * l.inner / si;
    for (std::int64_t i = 0; i < so; ++i) {
      const float* row = xs + (i * l.outer / so) * l.channels * l.inner;
      for (std::size_t ch = 0; ch < C; ++ch)
        for (const std::int64_t k : points)
          sample[ch] += row[static_cast<std::int64_t>(ch) * l.inner + k];
    }
    for (std::size_t ch = 0; ch < C && so * si > 0; ++ch) {
      const double m = sample[ch] / static_cast<double>(so * si);
      shift[ch] = std::isfinite(m) ? static_cast<float>(m) : 0.0f;
    }
    std::vector<double> sd, sd2;
    channel_sums(
        l,
        [xs, sh = shift.data()](std::int64_t e, std::int64_t ch) {
          const float d = xs[e] - sh[ch];
          return std::pair{d, d * d};
        },
        sd, sd2);
    const double n = static_cast<double>(l.count());
    std::vector<double> s(C);
    for (std::size_t ch = 0; ch < C; ++ch) {
      const double m = sd[ch] / n;
      mean[ch] = static_cast<float>(double(shift[ch]) + m);
      const double v = sd2[ch] / n - m * m;  // NaN stays NaN (std::max(0.0, NaN) would be 0)
      s[ch] = (v < 0.0 ? 0.0 : v) * n;       // n * the biased variance
    }
    // TF: Bessel's correction n / (n - 1), with n - 1 taken as 1 for a single element.
    const double correction = n / std::max(n - 1.0, 1.0);
    const float f = a.factor;
    const float* mean_in = reads ? c.inputs[3].data<float>() : nullptr;
    const float* var_in = reads ? c.inputs[4].data<float>() : nullptr;
    for (std::size_t ch = 0; ch < C; ++ch) {
      var[ch] = static_cast<float>(s[ch] / n);
      const auto unbiased = static_cast<float>(double(var[ch]) * correction);
      // TF: an empty batch's statistics are NaN, its reserve spaces 0.
      saved_mean[ch] = n > 0 ? mean[ch] : 0.0f;
      saved_var[ch] = n > 0 ? var[ch] : 0.0f;
      if (f == 1.0f) {
        batch_mean[ch] = mean[ch];
        batch_var[ch] = unbiased;
      } else {
        batch_mean[ch] = (1.0f - f) * mean_in[ch] + f * mean[ch];
        batch_var[ch] = (1.0f - f) * var_in[ch] + f * unbiased;
      }
    }
  } else {
    const float* mean_in = c.inputs[3].data<float>();
    const float* var_in = c.inputs[4].data<float>();
    for (std::size_t ch = 0; ch < C; ++ch) {
      mean[ch] = batch_mean[ch] = saved_mean[ch] = mean_in[ch];
      var[ch] = batch_var[ch] = saved_var[ch] = var_in[ch];
    }
  }
  if (l.count() == 0)  // TF, in either mode: an empty batch's statistics are NaN, reserve 0
    for (std::size_t ch = 0; ch < C; ++ch) {
      batch_mean[ch] = batch_var[ch] = std::numeric_limits<float>::quiet_NaN();
      saved_mean[ch] = saved_var[ch] = 0.0f;
    }
  // TF's form: y = x * (scale * rsqrt(var + eps)) + (offset - mean * that).
  std::vector<float> mul(C), add(C);
  for (std::size_t ch = 0; ch < C; ++ch) {
    mul[ch] = scale[ch] / std::sqrt(var[ch] + a.epsilon);
    add[ch] = offset[ch] - mean[ch] * mul[ch];
  }
  for_each_element(l, [&](std::int64_t e, std::int64_t ch) {
    const auto k = static_cast<std::size_t>(ch);
    y[e] = xs[e] * mul[k] + add[k];
  });
}

void fused_batch_norm_grad_cpu(KernelContext& c) {
  const BatchNormAttrs a = batch_norm_attrs(c);
  const BatchNormLayout l = batch_norm_check_grad(c, a);
  const Tensor& x = c.inputs[1];
  const float* dy = c.inputs[0].data<float>();
  const float* xs = x.data<float>();
  const float* scale = c.inputs[2].data<float>();
  const float* mean = c.inputs[3].data<float>();
  const float* var = c.inputs[4].data<float>();
  c.outputs.resize(5);
  float* dx = c.allocate_output(0, DType::kFloat32, x.shape()).data<float>();
  float* dscale = c.allocate_output(1, DType::kFloat32, Shape{l.channels}).data<float>();
  float* doffset = c.allocate_output(2, DType::kFloat32, Shape{l.channels}).data<float>();
  for (std::size_t i = 3; i < 5; ++i)
    *c.allocate_output(i, DType::kFloat32, Shape{}).data<float>() = 0.0f;
  const auto C = static_cast<std::size_t>(l.channels);
  std::vector<double> sum_dy, sum_dyxc;
  channel_sums(
      l,
      [dy, xs, mean](std::int64_t e, std::int64_t ch) {
        return std::pair{dy[e], dy[e] * (xs[e] - mean[ch])};
      },
      sum_dy, sum_dyxc);
  const double n = static_cast<double>(l.count());
  std::vector<float> k1(C), k2(C), k3(C);
  for (std::size_t ch = 0; ch < C; ++ch) {
    const double k = 1.0 / std::sqrt(double(var[ch]) + double(a.epsilon));
    dscale[ch] = static_cast<float>(sum_dyxc[ch] * k);
    doffset[ch] = static_cast<float>(sum_dy[ch]);
    k1[ch] = static_cast<float>(double(scale[ch]) * k);
    // Training: dx = k1 * (dy - E[dy] - (x - mean) * k^2 E[dy (x - mean)]).
    k2[ch] = a.is_training && n > 0 ? static_cast<float>(sum_dy[ch] / n) : 0.0f;
    k3[ch] = a.is_training && n > 0 ? static_cast<float>(k * k * sum_dyxc[ch] / n) : 0.0f;
  }
  for_each_element(l, [&](std::int64_t e, std::int64_t ch) {
    const auto q = static_cast<std::size_t>(ch);
    dx[e] = k1[q] * (dy[e] - k2[q] - (xs[e] - mean[q]) * k3[q]);
  });
}

}  // namespace

void register_batch_norm_cpu_kernels(KernelRegistry& r) {
  using devices::DeviceType;
  // One implementation: the default label and the reference the GPU kernels are checked against.
  for (const char* label : {"cpu", "ref"}) {
    r.add({"FusedBatchNormV3", DeviceType::kCPU, DType::kFloat32, label}, fused_batch_norm_cpu);
    r.add({"FusedBatchNormGradV3", DeviceType::kCPU, DType::kFloat32, label},
          fused_batch_norm_grad_cpu);
  }
}

}  // namespace scopeflow::kernels
