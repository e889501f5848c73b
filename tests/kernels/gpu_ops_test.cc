// Every GPU kernel against its CPU reference ("ref") on the same random inputs: sizes that do
// not divide the block, batch 1, edge values (0, -0, NaN, +-inf), empty tensors. GPU outputs
// are preallocated and poisoned (NaN, then a finite sentinel) so an unwritten element fails,
// and the two runs must agree bit for bit (the kernels are deterministic). Parameterized over
// CPU:0 (the reference against itself: checks the harness) and GPU:0 (skips without a GPU).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "devices/device_manager.h"
#include "kernels/kernel.h"
#include "tests/support/devices.h"

namespace sf = scopeflow;
using sf::DType;
using sf::Shape;
using sf::Tensor;
using sf::devices::DeviceType;

namespace {

// ---------------------------------------------------------------- values
double get(const Tensor& t, std::int64_t i) {
  const auto k = static_cast<std::size_t>(i);
  switch (t.dtype()) {
    case DType::kFloat32: return t.data<float>()[k];
    case DType::kFloat64: return t.data<double>()[k];
    case DType::kFloat16: return static_cast<float>(t.data<sf::half>()[k]);
    case DType::kBFloat16: return static_cast<float>(t.data<sf::bfloat16_t>()[k]);
    case DType::kInt32: return t.data<std::int32_t>()[k];
    case DType::kInt64: return static_cast<double>(t.data<std::int64_t>()[k]);
    default: ADD_FAILURE() << "unexpected dtype " << sf::dtype_name(t.dtype()); return 0;
  }
}

bool is_float(DType d) { return d != DType::kInt32 && d != DType::kInt64; }

void set(Tensor& t, std::int64_t i, double v) {
  const auto k = static_cast<std::size_t>(i);
  if (!is_float(t.dtype()) && !std::isfinite(v)) v = -7777;  // integer poison
  switch (t.dtype()) {
    case DType::kFloat32: t.data<float>()[k] = static_cast<float>(v); break;
    case DType::kFloat64: t.data<double>()[k] = v; break;
    case DType::kFloat16: t.data<sf::half>()[k] = sf::half(static_cast<float>(v)); break;
    case DType::kBFloat16:
      t.data<sf::bfloat16_t>()[k] = sf::bfloat16_t(static_cast<float>(v));
      break;
    case DType::kInt32: t.data<std::int32_t>()[k] = static_cast<std::int32_t>(v); break;
    case DType::kInt64: t.data<std::int64_t>()[k] = static_cast<std::int64_t>(v); break;
    default: ADD_FAILURE() << "unexpected dtype " << sf::dtype_name(t.dtype());
  }
}

// Uniform in [lo, hi] (integers: rounded, never 0 when `nonzero`); with `edges`, the edge
// values 0, -0, NaN, +inf, -inf at fixed positions (floats only).
Tensor random_tensor(DType dtype, const Shape& shape, unsigned seed, bool edges = false,
                     double lo = -2.0, double hi = 2.0, bool nonzero = false) {
  Tensor t(dtype, shape);
  std::mt19937 g(seed);
  std::uniform_real_distribution<double> d(lo, hi);
  for (std::int64_t i = 0; i < t.num_elements(); ++i) {
    double v = d(g);
    if (!is_float(dtype)) {
      v = std::round(v);
      if (nonzero && v == 0) v = 1;
    }
    set(t, i, v);
  }
  if (edges && is_float(dtype)) {
    const double specials[] = {0.0, -0.0, NAN, INFINITY, -INFINITY};
    for (std::int64_t j = 0; j < 5; ++j) {
      const std::int64_t i = (j * 37 + 3) % std::max<std::int64_t>(1, t.num_elements());
      if (i < t.num_elements() && t.num_elements() >= 5) set(t, i, specials[j]);
    }
  }
  return t;
}

Tensor filled_like(const Tensor& ref, double value) {
  Tensor t(ref.dtype(), ref.shape());
  for (std::int64_t i = 0; i < t.num_elements(); ++i) set(t, i, value);
  return t;
}

Tensor i64(std::vector<std::int64_t> v) { return Tensor::from_vector<std::int64_t>(v); }
Tensor i32(std::vector<std::int32_t> v) { return Tensor::from_vector<std::int32_t>(v); }

// Element-wise |got - want| <= atol + rtol |want|; NaN only where NaN is expected, infinities
// exactly.
void expect_close(const Tensor& got, const Tensor& want, double rtol, double atol,
                  const std::string& what) {
  ASSERT_EQ(got.dtype(), want.dtype()) << what;
  ASSERT_EQ(got.shape(), want.shape()) << what;
  int bad = 0;
  for (std::int64_t i = 0; i < want.num_elements() && bad < 5; ++i) {
    const double g = get(got, i), w = get(want, i);
    bool ok;
    if (std::isnan(w) || std::isnan(g))
      ok = std::isnan(w) && std::isnan(g);
    else if (std::isinf(w) || std::isinf(g))
      ok = g == w;
    else
      ok = std::fabs(g - w) <= atol + rtol * std::fabs(w);
    if (!ok) {
      ++bad;
      ADD_FAILURE() << what << ": element " << i << " is " << g << ", want " << w;
    }
  }
}

// ---------------------------------------------------------------- running kernels
struct OpCase {
  std::string op;
  DType dtype = DType::kFloat32;  // the kernel key's dtype
  std::vector<Tensor> inputs;     // host tensors
  sf::AttrMap attrs;
  std::vector<std::size_t> host_inputs;  // kept on the host (scalars passed by value)
  std::vector<std::size_t> in_place;     // inputs updated in place: compared after the run
  double rtol = 1e-5, atol = 1e-6;
  std::string name() const { return op + "<" + std::string(sf::dtype_name(dtype)) + ">"; }
};

std::string label_for(const std::string& op, DeviceType type) {
  if (type == DeviceType::kCPU) return "ref";
  return op == "MatMul" ? "cublas" : "cuda";
}

// Runs `c` on `device` (its label), outputs preallocated like `shapes_of` and filled with
// `poison` when given. Returns the outputs then the in-place inputs, on the host.
std::vector<Tensor> run_case(const OpCase& oc, const std::shared_ptr<sf::devices::Device>& device,
                             const std::vector<Tensor>* shapes_of = nullptr, double poison = 0) {
  sf::kernels::KernelContext c;
  c.device = device.get();
  c.device_ptr = device;
  c.attrs = &oc.attrs;
  c.node_name = "test/" + oc.op;
  for (std::size_t i = 0; i < oc.inputs.size(); ++i) {
    const bool host =
        std::find(oc.host_inputs.begin(), oc.host_inputs.end(), i) != oc.host_inputs.end();
    c.inputs.push_back(oc.inputs[i].to(host ? sf::devices::host_device() : device));  // a copy
  }
  if (shapes_of != nullptr)
    for (const auto& t : *shapes_of) c.outputs.push_back(filled_like(t, poison).to(device));
  sf::kernels::kernel_registry().find(oc.op, device->type(), oc.dtype,
                                      label_for(oc.op, device->type()))(c);
  device->synchronize();
  std::vector<Tensor> out;
  for (const auto& t : c.outputs) out.push_back(t.to(sf::devices::host_device()));
  for (std::size_t i : oc.in_place) out.push_back(c.inputs[i].to(sf::devices::host_device()));
  return out;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.bytes()) == 0;
}

class GpuOpsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    SF_SKIP_UNLESS_DEVICE(GetParam());
    manager_ = std::make_unique<sf::devices::DeviceManager>();
    device_ = manager_->lookup(GetParam());
    cpu_ = manager_->cpu(0);
  }

  // The device's kernel against the reference: twice, with NaN and with a finite sentinel in
  // the preallocated outputs; both runs must match the reference and each other bit for bit.
  void check(const OpCase& oc) {
    SCOPED_TRACE(oc.name());
    const std::vector<Tensor> want = run_case(oc, cpu_);
    const std::vector<Tensor> outputs(want.begin(),
                                      want.end() - static_cast<std::ptrdiff_t>(oc.in_place.size()));
    const auto first = run_case(oc, device_, &outputs, NAN);
    const auto second = run_case(oc, device_, &outputs, -7777.0);
    ASSERT_EQ(first.size(), want.size());
    ASSERT_EQ(second.size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
      const std::string what =
          oc.name() + " result " + std::to_string(i) + " " + want[i].shape().to_string();
      expect_close(first[i], want[i], oc.rtol, oc.atol, what + " (NaN poison)");
      expect_close(second[i], want[i], oc.rtol, oc.atol, what + " (sentinel poison)");
      EXPECT_TRUE(same_bytes(first[i], second[i])) << what << ": two runs differ";
    }
  }

  // Expects both the reference and the device kernel to throw InvalidArgumentError.
  void check_throws(const OpCase& oc) {
    SCOPED_TRACE(oc.name());
    EXPECT_THROW(run_case(oc, cpu_), sf::InvalidArgumentError);
    EXPECT_THROW(run_case(oc, device_), sf::InvalidArgumentError);
  }

  std::unique_ptr<sf::devices::DeviceManager> manager_;
  std::shared_ptr<sf::devices::Device> device_, cpu_;
};

OpCase make(const std::string& op, DType dtype, std::vector<Tensor> inputs) {
  OpCase oc;
  oc.op = op;
  oc.dtype = dtype;
  oc.inputs = std::move(inputs);
  return oc;
}

}  // namespace

// ---------------------------------------------------------------- element-wise
TEST_P(GpuOpsTest, BinaryOpsBroadcastLikeTheReference) {
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{}, {}},
      {{1}, {1}},
      {{1029}, {1029}},
      {{}, {1029}},
      {{1029}, {}},
      {{33, 257}, {257}},
      {{257}, {33, 257}},
      {{33, 1}, {1, 257}},
      {{33, 1}, {33, 257}},
      {{33, 1, 5}, {1, 7, 5}},
      {{2, 3, 1, 5, 1, 7}, {3, 4, 1, 6, 1}},
      {{2, 1, 3, 1, 2, 1, 3, 1, 2}, {1, 2, 1, 3, 1, 2, 1, 3, 1}},  // merged rank 9
      {{0, 5}, {5}},
      {{1}, {1, 1, 1}},
  };
  unsigned seed = 1;
  for (DType dt : {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16,
                   DType::kInt32, DType::kInt64})
    for (const char* op : {"Add", "AddV2", "Sub", "Mul", "RealDiv"})
      for (const auto& [sa, sb] : shapes) {
        const bool div = std::string(op) == "RealDiv";
        OpCase oc = make(op, dt,
                         {random_tensor(dt, sa, seed++, true, -50, 50),
                          random_tensor(dt, sb, seed++, true, -50, 50, div)});
        oc.rtol = 0;  // every dtype: one rounding of the same operation, bit-identical
        oc.atol = 0;
        check(oc);
      }
}

TEST_P(GpuOpsTest, BinaryOpsOnLargeTensors) {
  for (const auto& [sa, sb] : std::vector<std::pair<Shape, Shape>>{
           {{(1 << 20) + 3}, {(1 << 20) + 3}}, {{1025, 1027}, {1027}}, {{1025, 1}, {1025, 1027}}}) {
    OpCase oc = make(
        "Mul", DType::kFloat32,
        {random_tensor(DType::kFloat32, sa, 5, true), random_tensor(DType::kFloat32, sb, 6, true)});
    check(oc);
  }
}

TEST_P(GpuOpsTest, IntegerDivisionByZeroIsInvalidArgument) {
  check_throws(make("RealDiv", DType::kInt32, {i32({1, 2, 3}), i32({1, 0, 1})}));
  check_throws(make("RealDiv", DType::kInt64, {i64({1, 2}), i64({0})}));
}

TEST_P(GpuOpsTest, UnaryOps) {
  for (const char* op : {"Neg", "Square", "Sqrt", "Floor"})
    for (const Shape& s : {Shape{}, Shape{1}, Shape{1029}, Shape{0}, Shape{7, 300}}) {
      OpCase oc = make(op, DType::kFloat32, {random_tensor(DType::kFloat32, s, 11, true, -9, 9)});
      oc.rtol = 0;
      oc.atol = 0;
      check(oc);
    }
}

TEST_P(GpuOpsTest, AddN) {
  for (int count : {1, 2, 16, 17, 33})
    for (const Shape& s : {Shape{1029}, Shape{1}, Shape{0, 3}}) {
      std::vector<Tensor> in;
      for (int i = 0; i < count; ++i)
        in.push_back(random_tensor(DType::kFloat32, s, 100 + static_cast<unsigned>(i), i == 2));
      OpCase oc = make("AddN", DType::kFloat32, std::move(in));
      oc.rtol = 0;  // the reference's order, ((0 + x0) + x1) + ...
      oc.atol = 0;
      check(oc);
    }
}

TEST_P(GpuOpsTest, BroadcastTo) {
  const std::vector<std::pair<Shape, Tensor>> cases = {{{3, 1, 5}, i64({4, 3, 7, 5})},
                                                       {{}, i32({1029})},
                                                       {{1029}, i64({2, 1029})},
                                                       {{0}, i64({3, 0})},
                                                       {{1}, i64({1, 1})}};
  for (const auto& [s, target] : cases) {
    OpCase oc =
        make("BroadcastTo", DType::kFloat32, {random_tensor(DType::kFloat32, s, 21, true), target});
    check(oc);
  }
}

// ---------------------------------------------------------------- nn
TEST_P(GpuOpsTest, ReluAndReluGrad) {
  for (DType dt : {DType::kFloat32, DType::kFloat16, DType::kBFloat16})
    for (const Shape& s : {Shape{1}, Shape{5}, Shape{1029}, Shape{(1 << 20) + 3}, Shape{0}}) {
      OpCase fwd = make("Relu", dt, {random_tensor(dt, s, 31, true)});
      fwd.rtol = fwd.atol = 0;
      check(fwd);
      OpCase bwd =
          make("ReluGrad", dt, {random_tensor(dt, s, 32, true), random_tensor(dt, s, 33, true)});
      bwd.rtol = bwd.atol = 0;
      check(bwd);
    }
}

TEST_P(GpuOpsTest, BiasAddAndFusedBiasAddRelu) {
  for (const auto& [xs, c] : std::vector<std::pair<Shape, std::int64_t>>{{{1, 1}, 1},
                                                                         {{7, 5, 3}, 3},
                                                                         {{2, 9, 9, 64}, 64},
                                                                         {{1029}, 1029},
                                                                         {{0, 8}, 8},
                                                                         {{3, 7, 6}, 6},
                                                                         {{1, 3, 3, 4}, 4}})
    for (const char* op : {"BiasAdd", "_FusedBiasAddRelu"}) {
      OpCase oc = make(op, DType::kFloat32,
                       {random_tensor(DType::kFloat32, xs, 41, true),
                        random_tensor(DType::kFloat32, Shape{c}, 42, true)});
      oc.rtol = oc.atol = 0;
      check(oc);
    }
  check_throws(
      make("BiasAdd", DType::kFloat32,
           {random_tensor(DType::kFloat32, {2, 3}, 1), random_tensor(DType::kFloat32, {4}, 2)}));
}

TEST_P(GpuOpsTest, BiasAddGrad) {
  for (const Shape& s : {Shape{1, 1}, Shape{5, 3}, Shape{1000, 64}, Shape{128, 7, 7, 33},
                         Shape{0, 4}, Shape{3}, Shape{100000, 2}, Shape{1, 70000}, Shape{4, 0}})
    check(make("BiasAddGrad", DType::kFloat32, {random_tensor(DType::kFloat32, s, 51)}));
  // Edge values reach the sums (NaN, infinities).
  check(make("BiasAddGrad", DType::kFloat32, {random_tensor(DType::kFloat32, {300, 5}, 52, true)}));
}

namespace {
sf::AttrMap pool_attrs(std::int64_t kh, std::int64_t kw, std::int64_t sh, std::int64_t sw,
                       const char* padding) {
  sf::AttrMap a;
  a.set("ksize", std::vector<std::int64_t>{1, kh, kw, 1});
  a.set("strides", std::vector<std::int64_t>{1, sh, sw, 1});
  a.set("padding", std::string(padding));
  return a;
}
}  // namespace

TEST_P(GpuOpsTest, Pooling) {
  struct Geo {
    Shape x;
    std::int64_t kh, kw, sh, sw;
    const char* padding;
  };
  const std::vector<Geo> geos = {
      {{1, 7, 6, 3}, 2, 2, 2, 2, "SAME"},    {{2, 9, 9, 5}, 3, 3, 2, 2, "SAME"},
      {{2, 9, 9, 5}, 3, 3, 2, 2, "VALID"},   {{1, 5, 5, 1}, 3, 3, 1, 1, "SAME"},
      {{1, 4, 6, 2}, 1, 1, 1, 1, "VALID"},   {{1, 8, 5, 3}, 3, 2, 3, 1, "SAME"},
      {{4, 28, 28, 32}, 2, 2, 2, 2, "SAME"}, {{0, 4, 4, 2}, 2, 2, 2, 2, "VALID"}};
  unsigned seed = 60;
  for (const Geo& g : geos)
    for (bool ties : {false, true}) {
      // Ties: values on a coarse grid, so windows hold equal maxima (MaxPoolGrad must route
      // to the reference's first maximum).
      Tensor x = random_tensor(DType::kFloat32, g.x, seed++, true);
      if (ties)
        for (std::int64_t i = 0; i < x.num_elements(); ++i)
          if (std::isfinite(x.data<float>()[i]))
            x.data<float>()[i] = std::round(x.data<float>()[i]);
      const sf::AttrMap attrs = pool_attrs(g.kh, g.kw, g.sh, g.sw, g.padding);
      OpCase mp = make("MaxPool", DType::kFloat32, {x});
      mp.attrs = attrs;
      mp.rtol = mp.atol = 0;
      check(mp);
      OpCase ap = make("AvgPool", DType::kFloat32, {x});
      ap.attrs = attrs;
      ap.rtol = ap.atol = 0;
      check(ap);
      // Gradients: dy of the output's shape.
      const Tensor y = run_case(mp, cpu_)[0];
      const Tensor dy = random_tensor(DType::kFloat32, y.shape(), seed++);
      OpCase mpg = make("MaxPoolGrad", DType::kFloat32, {x, y, dy});
      mpg.attrs = attrs;
      mpg.rtol = mpg.atol = 0;
      check(mpg);
      std::vector<std::int64_t> dims(g.x.dims().begin(), g.x.dims().end());
      OpCase apg =
          make("AvgPoolGrad", DType::kFloat32,
               {i32({static_cast<std::int32_t>(dims[0]), static_cast<std::int32_t>(dims[1]),
                     static_cast<std::int32_t>(dims[2]), static_cast<std::int32_t>(dims[3])}),
                dy});
      apg.attrs = attrs;
      apg.rtol = apg.atol = 0;
      check(apg);
    }
}

TEST_P(GpuOpsTest, Reductions) {
  struct Red {
    Shape x;
    Tensor axes;
  };
  const std::vector<Red> cases = {
      {{1029}, i32({0})},          {{33, 257}, i32({0})},
      {{33, 257}, i64({1})},       {{33, 257}, i32({-1})},
      {{33, 257}, i64({0, 1})},    {{4, 5, 6, 7}, i32({1, 3})},
      {{4, 5, 6, 7}, i32({0, 2})}, {{4, 5, 6, 7}, i64({1, 2})},
      {{4, 5, 6, 7}, i32({})},     {{3000, 70}, i32({0})},
      {{5, 100000}, i32({1})},     {{1, 200000}, i64({1})},
      {{200000, 3}, i32({1})},     {{0, 5}, i32({0})},
      {{5, 0}, i32({0})},          {{}, i32({})},
      {{1, 1, 1}, i32({0, 2})},    {{2, 3, 2, 3, 2, 3}, i32({0, 2, 4})}};
  unsigned seed = 80;
  for (const auto& rc : cases)
    for (const char* op : {"Sum", "Mean", "Max"})
      for (bool keep : {false, true})
        for (bool edges : {false, true}) {
          OpCase oc = make(op, DType::kFloat32,
                           {random_tensor(DType::kFloat32, rc.x, seed++, edges), rc.axes});
          oc.attrs.set("keep_dims", keep);
          oc.atol = 1e-5;  // double sums in another order: near-zero sums differ slightly
          check(oc);
        }
  check_throws(make("Sum", DType::kFloat32, {random_tensor(DType::kFloat32, {3, 4}, 1), i32({2})}));
}

TEST_P(GpuOpsTest, SparseSoftmaxCrossEntropyWithLogits) {
  unsigned seed = 90;
  for (const auto& [b, c] : std::vector<std::pair<std::int64_t, std::int64_t>>{
           {1, 1}, {64, 10}, {7, 1029}, {3, 5}, {1, 300}, {0, 4}})
    for (bool edges : {false, true})
      for (DType label_type : {DType::kInt32, DType::kInt64}) {
        Tensor labels =
            random_tensor(label_type, Shape{b}, seed++, false, 0, static_cast<double>(c - 1));
        OpCase oc = make("SparseSoftmaxCrossEntropyWithLogits", DType::kFloat32,
                         {random_tensor(DType::kFloat32, {b, c}, seed++, edges, -20, 20), labels});
        check(oc);
      }
  // A row with a -inf logit at its label: loss +inf, the gradient -1 there.
  Tensor logits = Tensor::from_vector<float>({1, -INFINITY, 3, 0.5f, 2, -1}, {2, 3});
  check(make("SparseSoftmaxCrossEntropyWithLogits", DType::kFloat32, {logits, i64({1, 2})}));
  check_throws(make("SparseSoftmaxCrossEntropyWithLogits", DType::kFloat32,
                    {random_tensor(DType::kFloat32, {2, 3}, 1), i64({0, 3})}));
  check_throws(make("SparseSoftmaxCrossEntropyWithLogits", DType::kFloat32,
                    {random_tensor(DType::kFloat32, {2, 3}, 1), i32({-1, 0})}));
}

// ---------------------------------------------------------------- optimizers
TEST_P(GpuOpsTest, ApplyUpdatesInPlace) {
  for (const Shape& s : {Shape{1}, Shape{1029}, Shape{33, 31}, Shape{0}})
    for (bool host_scalars : {false, true}) {
      auto scalar = [](float v) { return Tensor::from_scalar(v); };
      OpCase gd = make("ApplyGradientDescent", DType::kFloat32,
                       {random_tensor(DType::kFloat32, s, 1), scalar(0.125f),
                        random_tensor(DType::kFloat32, s, 2, true)});
      gd.in_place = {0};
      if (host_scalars) gd.host_inputs = {1};
      gd.rtol = gd.atol = 0;  // the reference's float expressions, no FMA
      check(gd);
      for (bool nesterov : {false, true}) {
        OpCase mom =
            make("ApplyMomentum", DType::kFloat32,
                 {random_tensor(DType::kFloat32, s, 3), random_tensor(DType::kFloat32, s, 4),
                  scalar(0.01f), random_tensor(DType::kFloat32, s, 5, true), scalar(0.9f)});
        mom.attrs.set("use_nesterov", nesterov);
        mom.in_place = {0, 1};
        if (host_scalars) mom.host_inputs = {2, 4};
        mom.rtol = mom.atol = 0;
        check(mom);
      }
      OpCase adam =
          make("ApplyAdam", DType::kFloat32,
               {random_tensor(DType::kFloat32, s, 6), random_tensor(DType::kFloat32, s, 7),
                random_tensor(DType::kFloat32, s, 8, false, 0, 1), scalar(0.9f * 0.9f),
                scalar(0.999f * 0.999f), scalar(0.001f), scalar(0.9f), scalar(0.999f),
                scalar(1e-8f), random_tensor(DType::kFloat32, s, 9, true)});
      adam.in_place = {0, 1, 2};
      if (host_scalars) adam.host_inputs = {3, 4, 5, 6, 7, 8};
      adam.rtol = adam.atol = 0;
      check(adam);
    }
  OpCase bad = make("ApplyGradientDescent", DType::kFloat32,
                    {random_tensor(DType::kFloat32, {3}, 1), Tensor::from_scalar(0.1f),
                     random_tensor(DType::kFloat32, {4}, 2)});
  check_throws(bad);
}

// ---------------------------------------------------------------- matmul
TEST_P(GpuOpsTest, MatMul) {
  struct Mm {
    std::int64_t m, n, k;
  };
  unsigned seed = 120;
  for (DType dt : {DType::kFloat32, DType::kFloat16, DType::kBFloat16})
    for (const Mm& d : {Mm{1, 1, 1}, Mm{33, 65, 129}, Mm{257, 1, 31}, Mm{64, 10, 784}, Mm{5, 7, 0},
                        Mm{0, 4, 3}, Mm{128, 96, 300}})
      for (bool ta : {false, true})
        for (bool tb : {false, true}) {
          const Shape sa = ta ? Shape{d.k, d.m} : Shape{d.m, d.k};
          const Shape sb = tb ? Shape{d.n, d.k} : Shape{d.k, d.n};
          OpCase oc = make("MatMul", dt,
                           {random_tensor(dt, sa, seed++, false, -1, 1),
                            random_tensor(dt, sb, seed++, false, -1, 1)});
          oc.attrs.set("transpose_a", ta);
          oc.attrs.set("transpose_b", tb);
          // FP32 accumulation in cuBLAS's order against double accumulation: an absolute
          // error that grows with k (inputs in [-1, 1]); 16-bit outputs round once more (up to
          // one unit in the last place apart: float16 2^-10, bfloat16 2^-7 relative).
          oc.rtol = dt == DType::kFloat32 ? 1e-5 : (dt == DType::kFloat16 ? 2e-3 : 1.6e-2);
          oc.atol = 2e-7 * static_cast<double>(std::max<std::int64_t>(d.k, 1));
          check(oc);
        }
  check_throws(
      make("MatMul", DType::kFloat32,
           {random_tensor(DType::kFloat32, {2, 3}, 1), random_tensor(DType::kFloat32, {4, 2}, 2)}));
}

INSTANTIATE_TEST_SUITE_P(Devices, GpuOpsTest, SF_TEST_DEVICES, sf::testing::device_param_name);
