// sf-bench-kernels, batch normalization: ScopeFlow's CPU FusedBatchNormV3 (training) and
// FusedBatchNormGradV3 through the registry, against oneDNN's batch_normalization_forward /
// _backward called directly (scale and shift, NHWC, training: the primitive TF's oneDNN build
// uses) where oneDNN is built, and a memcpy of x's size as the machine's bandwidth ceiling.
// Shapes: the Fashion-MNIST convnet's activations at batch 64 (conv1, conv2) and a wide one.
// Bytes counted: the two-pass minimum, forward x read twice (statistics, normalization) and y
// written (3 * |x|); backward dy and x read twice and dx written (5 * |x|).
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "kernels/kernel.h"

#ifdef SF_WITH_ONEDNN
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace sf = scopeflow;

namespace {

struct BnShape {
  std::int64_t n, h, w, c;
  std::int64_t elements() const { return n * h * w * c; }
  sf::Shape shape() const { return sf::Shape{n, h, w, c}; }
};
const BnShape kShapes[] = {{64, 28, 28, 32}, {64, 14, 14, 64}, {32, 8, 8, 512}};

std::vector<float> random_vec(std::int64_t n, unsigned seed) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> d(-1, 1);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = d(g);
  return v;
}

void finish(benchmark::State& state, const BnShape& s, int passes, const std::string& what) {
  state.SetBytesProcessed(state.iterations() * passes * s.elements() *
                          static_cast<std::int64_t>(sizeof(float)));
  state.SetLabel(sf::str_cat(what, " ", s.n, "x", s.h, "x", s.w, "x", s.c));
}

sf::AttrMap attrs() {
  sf::AttrMap a;
  a.set("epsilon", 1e-3f);
  a.set("is_training", true);
  a.set("data_format", std::string("NHWC"));
  return a;
}

void BM_BatchNorm_ScopeFlow(benchmark::State& state, bool backward) {
  const BnShape& s = kShapes[state.range(0)];
  const sf::AttrMap a = attrs();
  const sf::Tensor x = sf::Tensor::from_vector<float>(random_vec(s.elements(), 1), s.shape());
  const sf::Tensor scale = sf::Tensor::from_vector<float>(
      std::vector<float>(static_cast<std::size_t>(s.c), 1.5f), sf::Shape{s.c});
  const sf::Tensor offset = sf::Tensor::from_vector<float>(
      std::vector<float>(static_cast<std::size_t>(s.c), 0.5f), sf::Shape{s.c});
  const sf::Tensor empty = sf::Tensor::from_vector<float>({}, sf::Shape{0});
  const auto& registry = sf::kernels::kernel_registry();
  const auto cpu = sf::devices::DeviceType::kCPU;
  sf::kernels::KernelContext fwd;
  fwd.device = sf::devices::host_device().get();
  fwd.attrs = &a;
  fwd.node_name = "bn";
  fwd.inputs = {x, scale, offset, empty, empty};
  const auto& forward = registry.find("FusedBatchNormV3", cpu, sf::float32);
  forward(fwd);
  sf::kernels::KernelContext bwd = fwd;
  bwd.inputs = {sf::Tensor::from_vector<float>(random_vec(s.elements(), 2), s.shape()),
                x,
                scale,
                fwd.outputs[3],
                fwd.outputs[4],
                fwd.outputs[5]};
  bwd.outputs.clear();
  const auto& gradient = registry.find("FusedBatchNormGradV3", cpu, sf::float32);
  sf::kernels::KernelContext& c = backward ? bwd : fwd;
  const auto& kernel = backward ? gradient : forward;
  for (auto _ : state) {
    c.outputs.clear();  // as the executor runs it: fresh outputs from the host allocator
    kernel(c);
    benchmark::DoNotOptimize(c.outputs[0].raw_data());
  }
  finish(state, s, backward ? 5 : 3, backward ? "ScopeFlow backward" : "ScopeFlow forward");
}

void BM_BatchNorm_MemcpyCeiling(benchmark::State& state) {
  const BnShape& s = kShapes[state.range(0)];
  std::vector<float> src = random_vec(s.elements(), 3), dst(src.size());
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), src.size() * sizeof(float));
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  finish(state, s, 2, "memcpy of x");
}

#ifdef SF_WITH_ONEDNN
void BM_BatchNorm_OneDnn(benchmark::State& state, bool backward) {
  const BnShape& s = kShapes[state.range(0)];
  using dnnl::memory;
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const memory::desc md({s.n, s.c, s.h, s.w}, memory::data_type::f32, memory::format_tag::nhwc);
  const memory::desc cmd({s.c}, memory::data_type::f32, memory::format_tag::a);
  const auto flags = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
  dnnl::batch_normalization_forward::primitive_desc fpd(
      dnnl::batch_normalization_forward::desc(dnnl::prop_kind::forward_training, md, 1e-3f, flags),
      engine);
  std::vector<float> xv = random_vec(s.elements(), 1), yv(xv.size()),
                     dyv = random_vec(s.elements(), 2), dxv(xv.size());
  std::vector<float> scale(static_cast<std::size_t>(s.c), 1.5f), shift(scale.size(), 0.5f),
      mean(scale.size()), var(scale.size()), dscale(scale.size()), dshift(scale.size());
  memory x(md, engine, xv.data()), y(md, engine, yv.data()), dy(md, engine, dyv.data()),
      dx(md, engine, dxv.data());
  memory sc(cmd, engine, scale.data()), sh(cmd, engine, shift.data()), m(cmd, engine, mean.data()),
      v(cmd, engine, var.data()), dsc(cmd, engine, dscale.data()), dsh(cmd, engine, dshift.data());
  memory ws;
  dnnl::batch_normalization_forward forward(fpd);
  const std::unordered_map<int, memory> fargs{{DNNL_ARG_SRC, x},    {DNNL_ARG_DST, y},
                                              {DNNL_ARG_SCALE, sc}, {DNNL_ARG_SHIFT, sh},
                                              {DNNL_ARG_MEAN, m},   {DNNL_ARG_VARIANCE, v}};
  forward.execute(stream, fargs);
  stream.wait();
  if (!backward) {
    for (auto _ : state) {
      forward.execute(stream, fargs);
      stream.wait();
    }
    finish(state, s, 3, "oneDNN forward");
    return;
  }
  dnnl::batch_normalization_backward::primitive_desc bpd(
      dnnl::batch_normalization_backward::desc(dnnl::prop_kind::backward, md, md, 1e-3f, flags),
      engine, fpd);
  dnnl::batch_normalization_backward bwd(bpd);
  const std::unordered_map<int, memory> bargs{
      {DNNL_ARG_SHIFT, sh},  // oneDNN 2.6 asks for it in backward too
      {DNNL_ARG_SRC, x},          {DNNL_ARG_DIFF_DST, dy},   {DNNL_ARG_SCALE, sc},
      {DNNL_ARG_MEAN, m},         {DNNL_ARG_VARIANCE, v},    {DNNL_ARG_DIFF_SRC, dx},
      {DNNL_ARG_DIFF_SCALE, dsc}, {DNNL_ARG_DIFF_SHIFT, dsh}};
  try {
    bwd.execute(stream, bargs);
    stream.wait();
  } catch (const dnnl::error& e) {
    state.SkipWithError(
        sf::str_cat("oneDNN backward: ", e.what(), " status ", int(e.status)).c_str());
    return;
  }
  for (auto _ : state) {
    bwd.execute(stream, bargs);
    stream.wait();
  }
  finish(state, s, 5, "oneDNN backward");
}
BENCHMARK_CAPTURE(BM_BatchNorm_OneDnn, forward, false)->DenseRange(0, 2)->UseRealTime();
BENCHMARK_CAPTURE(BM_BatchNorm_OneDnn, backward, true)->DenseRange(0, 2)->UseRealTime();
#endif

}  // namespace

BENCHMARK_CAPTURE(BM_BatchNorm_ScopeFlow, forward, false)->DenseRange(0, 2)->UseRealTime();
BENCHMARK_CAPTURE(BM_BatchNorm_ScopeFlow, backward, true)->DenseRange(0, 2)->UseRealTime();
BENCHMARK(BM_BatchNorm_MemcpyCeiling)->DenseRange(0, 2)->UseRealTime();
