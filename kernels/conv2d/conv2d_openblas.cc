// Conv2D and its gradients on the CPU as im2col + OpenBLAS sgemm (label "openblas"), one
// image at a time. Reference: conv2d_cpu.cc.
#include <cblas.h>

#include <algorithm>
#include <vector>

#include "kernels/common/parallel_for.h"
#include "kernels/conv2d/conv2d.h"

namespace scopeflow::kernels {
namespace {

// col[(oh*ow_n + ow), (kh, kw, c)] = x[n, ih, iw, c] (0 outside the input). Output rows oh
// fill disjoint rows of col, so they are copied in parallel (kernels/common/parallel_for.h).
void im2col(const Conv2DGeom& g, const float* x, float* col) {
  const std::int64_t kdim = g.h.k * g.w.k * g.c;
  const std::int64_t grain =
      std::max<std::int64_t>(1, kElementwiseGrain / std::max<std::int64_t>(1, g.w.out * kdim));
  parallel_for(g.h.out, grain, [&](std::int64_t oh_lo, std::int64_t oh_hi) {
    for (std::int64_t oh = oh_lo; oh < oh_hi; ++oh)
      for (std::int64_t ow = 0; ow < g.w.out; ++ow) {
        float* row = col + (oh * g.w.out + ow) * kdim;
        for (std::int64_t kh = 0; kh < g.h.k; ++kh) {
          const std::int64_t ih = oh * g.h.stride - g.h.pad_before + kh * g.h.dilation;
          for (std::int64_t kw = 0; kw < g.w.k; ++kw) {
            const std::int64_t iw = ow * g.w.stride - g.w.pad_before + kw * g.w.dilation;
            float* dst = row + (kh * g.w.k + kw) * g.c;
            if (ih < 0 || ih >= g.h.in || iw < 0 || iw >= g.w.in)
              std::fill(dst, dst + g.c, 0.0f);
            else
              std::copy(x + (ih * g.w.in + iw) * g.c, x + (ih * g.w.in + iw + 1) * g.c, dst);
          }
        }
      }
  });
}

// The adjoint of im2col: dx[ih, iw, c] += col[...].
void col2im(const Conv2DGeom& g, const float* col, float* dx) {
  const std::int64_t kdim = g.h.k * g.w.k * g.c;
  for (std::int64_t oh = 0; oh < g.h.out; ++oh)
    for (std::int64_t ow = 0; ow < g.w.out; ++ow) {
      const float* row = col + (oh * g.w.out + ow) * kdim;
      for (std::int64_t kh = 0; kh < g.h.k; ++kh) {
        const std::int64_t ih = oh * g.h.stride - g.h.pad_before + kh * g.h.dilation;
        if (ih < 0 || ih >= g.h.in) continue;
        for (std::int64_t kw = 0; kw < g.w.k; ++kw) {
          const std::int64_t iw = ow * g.w.stride - g.w.pad_before + kw * g.w.dilation;
          if (iw < 0 || iw >= g.w.in) continue;
          const float* src = row + (kh * g.w.k + kw) * g.c;
          float* dst = dx + (ih * g.w.in + iw) * g.c;
          for (std::int64_t c = 0; c < g.c; ++c) dst[c] += src[c];
        }
      }
    }
}

int i32(std::int64_t v) { return static_cast<int>(v); }

}  // namespace

void conv2d_forward_openblas(const Conv2DGeom& g, const float* x, const float* f, float* y) {
  const std::int64_t rows = g.h.out * g.w.out, kdim = g.h.k * g.w.k * g.c;
  std::vector<float> col(static_cast<std::size_t>(rows * kdim));
  for (std::int64_t n = 0; n < g.n; ++n) {
    im2col(g, x + n * g.h.in * g.w.in * g.c, col.data());
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, i32(rows), i32(g.o), i32(kdim), 1.0f,
                col.data(), i32(kdim), f, i32(g.o), 0.0f, y + n * rows * g.o, i32(g.o));
  }
}

void conv2d_backward_input_openblas(const Conv2DGeom& g, const float* f, const float* dy,
                                    float* dx) {
  const std::int64_t rows = g.h.out * g.w.out, kdim = g.h.k * g.w.k * g.c;
  std::vector<float> col(static_cast<std::size_t>(rows * kdim));
  std::fill(dx, dx + g.n * g.h.in * g.w.in * g.c, 0.0f);
  for (std::int64_t n = 0; n < g.n; ++n) {
    // col = dy[n] (rows x o) * f^T (o x kdim)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, i32(rows), i32(kdim), i32(g.o), 1.0f,
                dy + n * rows * g.o, i32(g.o), f, i32(g.o), 0.0f, col.data(), i32(kdim));
    col2im(g, col.data(), dx + n * g.h.in * g.w.in * g.c);
  }
}

void conv2d_backward_filter_openblas(const Conv2DGeom& g, const float* x, const float* dy,
                                     float* df) {
  const std::int64_t rows = g.h.out * g.w.out, kdim = g.h.k * g.w.k * g.c;
  std::vector<float> col(static_cast<std::size_t>(rows * kdim));
  for (std::int64_t n = 0; n < g.n; ++n) {
    im2col(g, x + n * g.h.in * g.w.in * g.c, col.data());
    // df (kdim x o) += col^T (kdim x rows) * dy[n] (rows x o)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, i32(kdim), i32(g.o), i32(rows), 1.0f,
                col.data(), i32(kdim), dy + n * rows * g.o, i32(g.o), n == 0 ? 0.0f : 1.0f, df,
                i32(g.o));
  }
  if (g.n == 0) std::fill(df, df + kdim * g.o, 0.0f);
}

void register_conv2d_openblas_kernels(KernelRegistry& r) {
  register_conv2d_cpu_family(r, "openblas", conv2d_forward_openblas, conv2d_backward_input_openblas,
                             conv2d_backward_filter_openblas);
}

}  // namespace scopeflow::kernels
