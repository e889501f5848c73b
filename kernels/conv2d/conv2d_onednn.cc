// Conv2D and its gradients on the CPU through oneDNN primitives (label "onednn"): NHWC
// activations, TF's HWIO filters, strides, dilations and TF's SAME/VALID padding (asymmetric
// SAME padding as pad_l / pad_r). Reference: conv2d_cpu.cc. Without oneDNN:
// conv2d_onednn_stub.cc.
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "kernels/conv2d/conv2d.h"

namespace scopeflow::kernels {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;
constexpr auto kF32 = memory::data_type::f32;

// NOTE: the layout per pass was chosen on the benchmark shapes of benchmarks/RESULTS.md
// (BM_Conv2D_OneDnnLayout; 2-core AVX-512 VM, oneDNN 2.6, ms per call, plain vs blocked):
//   forward          28x28 1->32 5x5 9.6 vs 6.5   14x14 32->64 5x5  37 vs 34
//                    32x32 3->64 3x3 23.9 vs 34   32x32 64->64 3x3 225 vs 174
//   backward input   35.8 vs 35.8 | 237 vs 36 | 278 vs 67 | 720 vs 230
//   backward filter  19.3 vs 6.1  | 40 vs 51  | 220 vs 53 | 740 vs 210
// On NHWC / HWIO oneDNN 2.6 has no JIT convolution on this ISA and falls back to
// "gemm:jit" (im2col + sgemm); with format_tag::any it picks its blocked JIT kernels
// (nChw16c, "jit:avx512_core"), and those win even after reordering every operand to and
// from NHWC / HWIO on each call, by up to 6x in the backward passes. Blocked is used in every
// direction (the one loss, the first layer's forward at C=3, is 1.4x). A reordered filter
// is not cached: training changes the filter buffer's contents every step (caching would
// be valid for inference only).
constexpr OneDnnLayout kForwardLayout = OneDnnLayout::kBlocked;
constexpr OneDnnLayout kBackwardInputLayout = OneDnnLayout::kBlocked;
constexpr OneDnnLayout kBackwardFilterLayout = OneDnnLayout::kBlocked;

const char* pass_name(Conv2DPass pass) {
  switch (pass) {
    case Conv2DPass::kForward: return "Conv2D";
    case Conv2DPass::kBackwardInput: return "Conv2DBackpropInput";
    case Conv2DPass::kBackwardFilter: return "Conv2DBackpropFilter";
  }
  return "?";
}

std::string describe(const Conv2DGeom& g) {
  auto dim = [](const WindowDim& d) {
    return str_cat(d.in, "->", d.out, " k", d.k, " s", d.stride, " d", d.dilation, " pad",
                   d.pad_before);
  };
  return str_cat("N=", g.n, " C=", g.c, " O=", g.o, " H ", dim(g.h), " W ", dim(g.w));
}

// TF's SAME padding puts the odd element after: pad_r = total - pad_l. VALID has none; when
// the window does not tile the input exactly, oneDNN's floor division drops the remainder as
// TF does, so pad_r stays 0.
std::int64_t pad_after(const WindowDim& d) {
  const std::int64_t eff = (d.k - 1) * d.dilation + 1;
  return std::max<std::int64_t>(0, (d.out - 1) * d.stride + eff - d.in - d.pad_before);
}

const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// ---------------------------------------------------------------- plans
// One operand of a pass: its NHWC/HWIO description, the primitive's, and the reorder between
// them (blocked layouts only), with the offset of the reordered copy in the workspace.
struct Operand {
  int arg = 0;
  memory::desc user, prim;
  std::optional<dnnl::reorder> reorder;
  std::size_t offset = 0;
};

struct Plan {
  dnnl::primitive primitive;
  Operand a, b, out;
  memory::desc scratchpad;  // at offset 0 of the workspace
  std::size_t scratchpad_bytes = 0, workspace_bytes = 0;
  std::string implementation;
};

constexpr std::size_t kAlign = 64;
std::size_t round_up(std::size_t v) { return (v + kAlign - 1) / kAlign * kAlign; }

Operand operand(int arg, const memory::desc& user, const memory::desc& prim, bool input,
                std::size_t& workspace) {
  Operand o{arg, user, prim, std::nullopt, 0};
  if (user != prim) {
    const auto& e = cpu_engine();
    o.reorder = input ? dnnl::reorder(dnnl::reorder::primitive_desc(e, user, e, prim))
                      : dnnl::reorder(dnnl::reorder::primitive_desc(e, prim, e, user));
    o.offset = workspace;
    workspace += round_up(prim.get_size());
  }
  return o;
}

std::shared_ptr<const Plan> build_plan(Conv2DPass pass, OneDnnLayout layout, const Conv2DGeom& g) {
  const auto& engine = cpu_engine();
  const memory::dims src_dims{g.n, g.c, g.h.in, g.w.in}, wei_dims{g.o, g.c, g.h.k, g.w.k},
      dst_dims{g.n, g.o, g.h.out, g.w.out};
  const memory::desc src(src_dims, kF32, Tag::nhwc), wei(wei_dims, kF32, Tag::hwio),
      dst(dst_dims, kF32, Tag::nhwc);
  const bool blocked = layout == OneDnnLayout::kBlocked;
  const memory::desc src_any(src_dims, kF32, blocked ? Tag::any : Tag::nhwc),
      wei_any(wei_dims, kF32, blocked ? Tag::any : Tag::hwio),
      dst_any(dst_dims, kF32, blocked ? Tag::any : Tag::nhwc);
  // NOTE: oneDNN counts dilation from 0 (TF's dilation 1 is oneDNN's 0).
  const memory::dims strides{g.h.stride, g.w.stride}, dilates{g.h.dilation - 1, g.w.dilation - 1},
      pad_l{g.h.pad_before, g.w.pad_before}, pad_r{pad_after(g.h), pad_after(g.w)};
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);  // per-thread workspace, see run()

  // The forward primitive descriptor is the backward ones' hint.
  const dnnl::convolution_forward::primitive_desc fwd(
      dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training,
                                      dnnl::algorithm::convolution_direct, src_any, wei_any,
                                      dst_any, strides, dilates, pad_l, pad_r),
      attr, engine);
  auto plan = std::make_shared<Plan>();
  std::size_t ws = 0;
  auto finish = [&](const auto& pd) {
    plan->primitive = dnnl::primitive(pd);
    plan->scratchpad = pd.scratchpad_desc();
    plan->scratchpad_bytes = plan->scratchpad.get_size();
    plan->implementation = pd.impl_info_str();
  };
  switch (pass) {
    case Conv2DPass::kForward: {
      ws = round_up(fwd.scratchpad_desc().get_size());
      plan->a = operand(DNNL_ARG_SRC, src, fwd.src_desc(), true, ws);
      plan->b = operand(DNNL_ARG_WEIGHTS, wei, fwd.weights_desc(), true, ws);
      plan->out = operand(DNNL_ARG_DST, dst, fwd.dst_desc(), false, ws);
      finish(fwd);
      break;
    }
    case Conv2DPass::kBackwardInput: {
      const dnnl::convolution_backward_data::primitive_desc pd(
          dnnl::convolution_backward_data::desc(dnnl::algorithm::convolution_direct, src_any,
                                                wei_any, dst_any, strides, dilates, pad_l, pad_r),
          attr, engine, fwd);
      ws = round_up(pd.scratchpad_desc().get_size());
      plan->a = operand(DNNL_ARG_WEIGHTS, wei, pd.weights_desc(), true, ws);
      plan->b = operand(DNNL_ARG_DIFF_DST, dst, pd.diff_dst_desc(), true, ws);
      plan->out = operand(DNNL_ARG_DIFF_SRC, src, pd.diff_src_desc(), false, ws);
      finish(pd);
      break;
    }
    case Conv2DPass::kBackwardFilter: {
      const dnnl::convolution_backward_weights::primitive_desc pd(
          dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, src_any,
                                                   wei_any, dst_any, strides, dilates, pad_l,
                                                   pad_r),
          attr, engine, fwd);
      ws = round_up(pd.scratchpad_desc().get_size());
      plan->a = operand(DNNL_ARG_SRC, src, pd.src_desc(), true, ws);
      plan->b = operand(DNNL_ARG_DIFF_DST, dst, pd.diff_dst_desc(), true, ws);
      plan->out = operand(DNNL_ARG_DIFF_WEIGHTS, wei, pd.diff_weights_desc(), false, ws);
      finish(pd);
      break;
    }
  }
  plan->workspace_bytes = ws;
  return plan;
}

// The cache key: the pass, the layout and the whole geometry.
using Key = std::array<std::int64_t, 17>;
Key make_key(Conv2DPass pass, OneDnnLayout layout, const Conv2DGeom& g) {
  return {static_cast<std::int64_t>(pass),
          static_cast<std::int64_t>(layout),
          g.n,
          g.c,
          g.o,
          g.h.in,
          g.h.out,
          g.h.k,
          g.h.stride,
          g.h.dilation,
          g.h.pad_before,
          g.w.in,
          g.w.out,
          g.w.k,
          g.w.stride,
          g.w.dilation,
          g.w.pad_before};
}

// A bounded LRU of plans, shared by every thread. Plans are immutable and held by
// shared_ptr, so one evicted while another thread runs it stays alive until that run ends.
// oneDNN primitives may execute concurrently from several threads.
class PlanCache {
 public:
  std::shared_ptr<const Plan> get(Conv2DPass pass, OneDnnLayout layout, const Conv2DGeom& g) {
    const Key key = make_key(pass, layout, g);
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto it = lru_.begin(); it != lru_.end(); ++it)
        if (it->first == key) {
          lru_.splice(lru_.begin(), lru_, it);
          return lru_.front().second;
        }
    }
    // Built outside the lock (it takes milliseconds); a concurrent builder of the same key
    // loses the race harmlessly.
    std::shared_ptr<const Plan> plan;
    try {
      plan = build_plan(pass, layout, g);
    } catch (const dnnl::error& e) {
      throw InternalError(str_cat("oneDNN rejected ", pass_name(pass), " (",
                                  layout == OneDnnLayout::kPlain ? "plain" : "blocked",
                                  " layout) for ", describe(g), ": ", e.what()));
    }
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = lru_.begin(); it != lru_.end(); ++it)
      if (it->first == key) return it->second;
    lru_.emplace_front(key, plan);
    if (lru_.size() > kConv2DOneDnnCacheCapacity) lru_.pop_back();
    return plan;
  }
  std::size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return lru_.size();
  }

 private:
  std::mutex mu_;
  std::list<std::pair<Key, std::shared_ptr<const Plan>>> lru_;  // most recently used first
};

PlanCache& plan_cache() {
  static PlanCache cache;
  return cache;
}

// ---------------------------------------------------------------- execution
// The calling thread's workspace: the primitive's scratchpad, then the blocked copies of
// the operands. It grows to the largest plan the thread has run and is freed at thread exit.
class Workspace {
 public:
  std::byte* get(std::size_t bytes) {
    if (bytes > size_) {
      void* p = std::aligned_alloc(kAlign, round_up(bytes));
      if (p == nullptr)
        throw ResourceExhaustedError(
            str_cat("oneDNN conv2d: out of host memory allocating a ", bytes, "-byte workspace"));
      data_.reset(static_cast<std::byte*>(p));
      size_ = bytes;
    }
    return data_.get();
  }

 private:
  struct Free {
    void operator()(std::byte* p) const { std::free(p); }
  };
  std::unique_ptr<std::byte, Free> data_;
  std::size_t size_ = 0;
};

void run(const Plan& plan, const float* a, const float* b, float* out) {
  const auto& engine = cpu_engine();
  // A oneDNN CPU stream per thread: streams are not meant to be shared between threads.
  thread_local dnnl::stream stream(engine);
  thread_local Workspace workspace;
  std::byte* ws = workspace.get(plan.workspace_bytes);
  std::unordered_map<int, memory> args;
  auto bind = [&](const Operand& o, void* user) {
    memory user_mem(o.user, engine, user);
    if (!o.reorder) {
      args.emplace(o.arg, user_mem);
      return user_mem;
    }
    memory prim_mem(o.prim, engine, ws + o.offset);
    args.emplace(o.arg, prim_mem);
    return user_mem;
  };
  memory a_user = bind(plan.a, const_cast<float*>(a));
  memory b_user = bind(plan.b, const_cast<float*>(b));
  memory out_user = bind(plan.out, out);
  if (plan.scratchpad_bytes > 0)
    args.emplace(DNNL_ARG_SCRATCHPAD, memory(plan.scratchpad, engine, ws));
  if (plan.a.reorder) plan.a.reorder->execute(stream, a_user, args.at(plan.a.arg));
  if (plan.b.reorder) plan.b.reorder->execute(stream, b_user, args.at(plan.b.arg));
  plan.primitive.execute(stream, args);
  if (plan.out.reorder) plan.out.reorder->execute(stream, args.at(plan.out.arg), out_user);
  stream.wait();
}

// Shapes with nothing to compute or an empty reduction: oneDNN is not asked about them.
// Returns true when it handled the call (an output filled with zeros, or no output at all).
bool handle_empty(Conv2DPass pass, const Conv2DGeom& g, float* out) {
  const std::int64_t x_size = g.n * g.h.in * g.w.in * g.c, f_size = g.h.k * g.w.k * g.c * g.o,
                     y_size = g.n * g.h.out * g.w.out * g.o;
  const std::int64_t out_size = pass == Conv2DPass::kForward         ? y_size
                                : pass == Conv2DPass::kBackwardInput ? x_size
                                                                     : f_size;
  if (out_size == 0) return true;
  if (x_size == 0 || f_size == 0 || y_size == 0) {
    std::fill(out, out + out_size, 0.0f);
    return true;
  }
  return false;
}

}  // namespace

void conv2d_onednn(Conv2DPass pass, OneDnnLayout layout, const Conv2DGeom& g, const float* a,
                   const float* b, float* out) {
  if (handle_empty(pass, g, out)) return;
  const auto plan = plan_cache().get(pass, layout, g);
  try {
    run(*plan, a, b, out);
  } catch (const dnnl::error& e) {
    throw InternalError(str_cat("oneDNN ", pass_name(pass), " failed for ", describe(g), " (",
                                plan->implementation, "): ", e.what()));
  }
}

OneDnnLayout conv2d_onednn_layout(Conv2DPass pass) {
  switch (pass) {
    case Conv2DPass::kForward: return kForwardLayout;
    case Conv2DPass::kBackwardInput: return kBackwardInputLayout;
    case Conv2DPass::kBackwardFilter: return kBackwardFilterLayout;
  }
  return OneDnnLayout::kPlain;
}

void conv2d_forward_onednn(const Conv2DGeom& g, const float* x, const float* f, float* y) {
  conv2d_onednn(Conv2DPass::kForward, kForwardLayout, g, x, f, y);
}

void conv2d_backward_input_onednn(const Conv2DGeom& g, const float* f, const float* dy, float* dx) {
  conv2d_onednn(Conv2DPass::kBackwardInput, kBackwardInputLayout, g, f, dy, dx);
}

void conv2d_backward_filter_onednn(const Conv2DGeom& g, const float* x, const float* dy,
                                   float* df) {
  conv2d_onednn(Conv2DPass::kBackwardFilter, kBackwardFilterLayout, g, x, dy, df);
}

std::string conv2d_onednn_implementation(Conv2DPass pass, OneDnnLayout layout,
                                         const Conv2DGeom& g) {
  return plan_cache().get(pass, layout, g)->implementation;
}

std::size_t conv2d_onednn_cached_plans() { return plan_cache().size(); }

void register_conv2d_onednn_kernels(KernelRegistry& r) {
  register_conv2d_cpu_family(r, "onednn", conv2d_forward_onednn, conv2d_backward_input_onednn,
                             conv2d_backward_filter_onednn);
}

}  // namespace scopeflow::kernels
