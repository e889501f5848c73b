// Every GPU kernel against its CPU reference ("ref") on the same random inputs: sizes that do
// not divide the block, batch 1, edge values (0, -0, NaN, +-inf), empty tensors (the registry
// test in tests/runtime/registry_completeness_test.cc checks that no CPU kernel lacks a GPU one).
// GPU outputs are preallocated and poisoned (NaN, then a finite sentinel) so an unwritten element
// fails, and the two runs must agree bit for bit (the kernels are deterministic). Parameterized
// over CPU:0 (the reference against itself: checks the harness) and GPU:0 (skips without a GPU).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "devices/device_manager.h"
#include "kernels/kernel.h"
#include "kernels/lrn/lrn.h"
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
    case DType::kInt8: return t.data<std::int8_t>()[k];
    case DType::kUInt8: return t.data<std::uint8_t>()[k];
    // The stored byte, so that a poison byte (neither 0 nor 1) left in an output shows.
    case DType::kBool: return static_cast<const std::uint8_t*>(t.raw_data())[k];
    default: ADD_FAILURE() << "unexpected dtype " << sf::dtype_name(t.dtype()); return 0;
  }
}

bool is_float(DType d) { return sf::is_floating(d); }

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
    case DType::kInt8:
      t.data<std::int8_t>()[k] = static_cast<std::int8_t>(static_cast<std::int32_t>(v));
      break;
    case DType::kUInt8:
      t.data<std::uint8_t>()[k] = static_cast<std::uint8_t>(static_cast<std::int32_t>(v));
      break;
    case DType::kBool: static_cast<std::uint8_t*>(t.raw_data())[k] = v != 0; break;
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
  if (ref.dtype() == DType::kBool) {  // a byte no kernel writes: 0xAB, or 0xCD for a second poison
    if (t.bytes() > 0) std::memset(t.raw_data(), std::isnan(value) ? 0xAB : 0xCD, t.bytes());
    return t;
  }
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
  std::string label;  // on both devices; empty: label_for's
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
  sf::kernels::kernel_registry().find(
      oc.op, device->type(), oc.dtype,
      oc.label.empty() ? label_for(oc.op, device->type()) : oc.label)(c);
  device->synchronize();
  // What a GPU kernel found wrong on the device (a label out of range), as a Session raises it.
  sf::kernels::raise_failed_checks(c.deferred_checks);
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
    for (const char* op : {"Add", "AddV2", "Sub", "Mul", "RealDiv", "SquaredDifference"})
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

// Pow: CUDA's powf / pow are within 2 ulp / 1 ulp of std::pow; 16-bit floats round the float
// result once, integers are exact (repeated squaring, wrapping).
TEST_P(GpuOpsTest, Pow) {
  unsigned seed = 700;
  for (DType dt : {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16})
    for (const auto& [sa, sb] : std::vector<std::pair<Shape, Shape>>{
             {{1029}, {1029}}, {{33, 1}, {1, 257}}, {{}, {1029}}, {{0, 5}, {5}}}) {
      OpCase oc = make("Pow", dt,
                       {random_tensor(dt, sa, seed++, true, 0.05, 4),
                        random_tensor(dt, sb, seed++, true, -3, 3)});
      oc.rtol = dt == DType::kFloat32 ? 1e-6 : dt == DType::kFloat64 ? 1e-15 : 1e-2;
      oc.atol = 0;
      check(oc);
    }
  for (DType dt : {DType::kInt32, DType::kInt64}) {
    OpCase oc = make("Pow", dt,
                     {random_tensor(dt, {33, 40}, seed++, false, -6, 6),
                      random_tensor(dt, {40}, seed++, false, 0, 40)});
    oc.rtol = oc.atol = 0;
    check(oc);
  }
  check_throws(make("Pow", DType::kInt32, {i32({2, 2}), i32({3, -1})}));
  check_throws(make("Pow", DType::kInt64, {i64({2}), i64({-2})}));
}

TEST_P(GpuOpsTest, UnaryOps) {
  for (const char* op : {"Neg", "Square", "Sqrt", "Floor", "Ceil"})
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
      // MaxPoolGradGrad: a gradient of x's shape gathered at each window's argmax.
      OpCase mpgg = make("MaxPoolGradGrad", DType::kFloat32,
                         {x, y, random_tensor(DType::kFloat32, g.x, seed++, true)});
      mpgg.attrs = attrs;
      mpgg.rtol = mpgg.atol = 0;
      check(mpgg);
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

TEST_P(GpuOpsTest, L2Loss) {
  unsigned seed = 90;
  for (const Shape& x : {Shape{}, Shape{1029}, Shape{33, 257}, Shape{4, 5, 6, 7}, Shape{1, 200000},
                         Shape{0, 5}, Shape{5, 100000}})
    for (bool edges : {false, true}) {
      OpCase oc =
          make("L2Loss", DType::kFloat32, {random_tensor(DType::kFloat32, x, seed++, edges)});
      oc.atol = 1e-5;
      check(oc);
    }
  check_throws(make("L2Loss", DType::kFloat32, {random_tensor(DType::kInt32, {3}, 1)}));
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
  // No class at all: TF's shape error, before any label is read (on the GPU too).
  check_throws(make("SparseSoftmaxCrossEntropyWithLogits", DType::kFloat32,
                    {random_tensor(DType::kFloat32, {2, 0}, 1), i32({0, 0})}));
}

// ---------------------------------------------------------------- optimizers
TEST_P(GpuOpsTest, DenseSoftmaxCrossEntropyWithLogits) {
  for (const Shape& s : {Shape{0, 3}, Shape{1, 1}, Shape{5, 7}, Shape{3, 1000}}) {
    OpCase oc = make("SoftmaxCrossEntropyWithLogits", DType::kFloat32,
                     {random_tensor(DType::kFloat32, s, 22, false, -30, 30),
                      random_tensor(DType::kFloat32, s, 23, false, 0, 1)});
    oc.rtol = 1e-6;  // double math on both; the GPU folds in another order
    oc.atol = 1e-6;
    check(oc);
  }
}

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
      // RMSProp (tf_cnn_benchmarks' decay 0.9, momentum 0.9, epsilon 1.0) and centered RMSProp
      // (ms above mg^2).
      OpCase rms = make("ApplyRMSProp", DType::kFloat32,
                        {random_tensor(DType::kFloat32, s, 10),
                         random_tensor(DType::kFloat32, s, 11, false, 0, 2),
                         random_tensor(DType::kFloat32, s, 12), scalar(0.01f), scalar(0.9f),
                         scalar(0.9f), scalar(1.0f), random_tensor(DType::kFloat32, s, 13, true)});
      rms.in_place = {0, 1, 2};
      if (host_scalars) rms.host_inputs = {3, 4, 5, 6};
      rms.rtol = rms.atol = 0;
      check(rms);
      OpCase centered =
          make("ApplyCenteredRMSProp", DType::kFloat32,
               {random_tensor(DType::kFloat32, s, 14),
                random_tensor(DType::kFloat32, s, 15, false, -1, 1),
                random_tensor(DType::kFloat32, s, 16, false, 2, 3),
                random_tensor(DType::kFloat32, s, 17), scalar(0.01f), scalar(0.9f), scalar(0.5f),
                scalar(1e-3f), random_tensor(DType::kFloat32, s, 18, true)});
      centered.in_place = {0, 1, 2, 3};
      if (host_scalars) centered.host_inputs = {4, 5, 6, 7};
      centered.rtol = centered.atol = 0;
      check(centered);
      for (bool update_slots : {true, false}) {
        OpCase adagrad = make("ApplyAdagrad", DType::kFloat32,
                              {random_tensor(DType::kFloat32, s, 19),
                               random_tensor(DType::kFloat32, s, 20, false, 0.1, 2), scalar(0.01f),
                               random_tensor(DType::kFloat32, s, 21, true)});
        adagrad.attrs.set("update_slots", update_slots);
        adagrad.in_place = {0, 1};
        if (host_scalars) adagrad.host_inputs = {2};
        adagrad.rtol = adagrad.atol = 0;
        check(adagrad);
      }
    }
  OpCase bad = make("ApplyGradientDescent", DType::kFloat32,
                    {random_tensor(DType::kFloat32, {3}, 1), Tensor::from_scalar(0.1f),
                     random_tensor(DType::kFloat32, {4}, 2)});
  check_throws(bad);
}

// _SparseApplyMomentumRows: repeated rows updated once, -1 and out-of-range ids skipped, both
// index dtypes, no ids, one-element and 0-width rows, rows wider than a block and more ids than
// the grid (both loops of the kernel repeat).
TEST_P(GpuOpsTest, SparseMomentumUpdatesOnlyTheNamedRows) {
  unsigned seed = 400;
  std::vector<std::int64_t> many;
  std::mt19937 g(7);
  for (int i = 0; i < 70000; ++i) many.push_back(static_cast<std::int64_t>(g() % 1100) - 50);
  for (const Shape& s : {Shape{7, 5}, Shape{300, 129}, Shape{4}, Shape{3, 0}, Shape{1000, 300}})
    for (DType it : {DType::kInt32, DType::kInt64})
      for (bool nesterov : {false, true})
        for (const std::vector<std::int64_t>& ids :
             {std::vector<std::int64_t>{1, 3, 1, -1, 99, 0}, std::vector<std::int64_t>{},
              std::vector<std::int64_t>{2, 2, 2}, many}) {
          if (ids.size() > 100 && s.num_elements() < 100000) continue;
          Tensor idx(it, Shape{static_cast<std::int64_t>(ids.size())});
          for (std::size_t i = 0; i < ids.size(); ++i)
            set(idx, static_cast<std::int64_t>(i), static_cast<double>(ids[i]));
          OpCase oc = make(
              "_SparseApplyMomentumRows", DType::kFloat32,
              {random_tensor(DType::kFloat32, s, seed++), random_tensor(DType::kFloat32, s, seed++),
               Tensor::from_scalar(0.01f), random_tensor(DType::kFloat32, s, seed++, true), idx,
               Tensor::from_scalar(0.9f)});
          oc.attrs.set("use_nesterov", nesterov);
          oc.in_place = {0, 1};
          oc.rtol = oc.atol = 0;
          check(oc);
        }
}

// Grouped updates (label "group", one launch on a GPU): members of other sizes, an empty one,
// and more members than one launch takes (kMaxApplyGroup), against the CPU's grouped kernel
// (each member as its single "cpu" kernel computes it, bit-identical to "ref").
TEST_P(GpuOpsTest, GroupedApplyUpdatesMatchTheReference) {
  auto scalar = [](float v) { return Tensor::from_scalar(v); };
  for (std::size_t count : {std::size_t{2}, std::size_t{35}})
    for (bool host_scalars : {false, true}) {
      std::vector<Shape> shapes;
      for (std::size_t j = 0; j < count; ++j)
        shapes.push_back(j == 1 ? Shape{0} : Shape{static_cast<std::int64_t>(1 + 517 * j % 3001)});
      unsigned seed = 300;
      OpCase gd = make("ApplyGradientDescent", DType::kFloat32, {});
      OpCase mom = make("ApplyMomentum", DType::kFloat32, {});
      OpCase adam = make("ApplyAdam", DType::kFloat32, {});
      for (const Shape& sh : shapes) {
        const std::size_t g = gd.inputs.size(), m = mom.inputs.size(), a = adam.inputs.size();
        gd.inputs.insert(gd.inputs.end(),
                         {random_tensor(DType::kFloat32, sh, seed++), scalar(0.125f),
                          random_tensor(DType::kFloat32, sh, seed++, true)});
        gd.in_place.push_back(g);
        mom.inputs.insert(
            mom.inputs.end(),
            {random_tensor(DType::kFloat32, sh, seed++), random_tensor(DType::kFloat32, sh, seed++),
             scalar(0.01f), random_tensor(DType::kFloat32, sh, seed++, true), scalar(0.9f)});
        mom.in_place.insert(mom.in_place.end(), {m, m + 1});
        adam.inputs.insert(
            adam.inputs.end(),
            {random_tensor(DType::kFloat32, sh, seed++), random_tensor(DType::kFloat32, sh, seed++),
             random_tensor(DType::kFloat32, sh, seed++, false, 0, 1), scalar(0.9f * 0.9f),
             scalar(0.999f * 0.999f), scalar(0.001f), scalar(0.9f), scalar(0.999f), scalar(1e-8f),
             random_tensor(DType::kFloat32, sh, seed++, true)});
        adam.in_place.insert(adam.in_place.end(), {a, a + 1, a + 2});
        if (host_scalars) {
          gd.host_inputs.push_back(g + 1);
          mom.host_inputs.insert(mom.host_inputs.end(), {m + 2, m + 4});
          for (std::size_t k = 3; k <= 8; ++k) adam.host_inputs.push_back(a + k);
        }
      }
      for (OpCase* oc : {&gd, &mom, &adam}) {
        oc->label = "group";
        oc->rtol = oc->atol = 0;
        check(*oc);
      }
      mom.attrs.set("use_nesterov", true);
      check(mom);
    }
  // A member whose gradient does not match its variable: InvalidArgumentError on either device
  // (raised before any member is updated: the session then runs them one by one).
  OpCase bad = make("ApplyGradientDescent", DType::kFloat32,
                    {random_tensor(DType::kFloat32, {3}, 1), Tensor::from_scalar(0.1f),
                     random_tensor(DType::kFloat32, {3}, 2), random_tensor(DType::kFloat32, {3}, 1),
                     Tensor::from_scalar(0.1f), random_tensor(DType::kFloat32, {4}, 2)});
  bad.label = "group";
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

// ---------------------------------------------------------------- issue 4: the rest
// Small integers (ties and equal pairs are common) as any dtype; floats get the edge values.
Tensor small_ints(DType dtype, const Shape& shape, unsigned seed, bool edges = false) {
  Tensor t = random_tensor(is_float(dtype) ? DType::kInt32 : dtype, shape, seed, false, -2, 2);
  if (!is_float(dtype)) return t;
  Tensor f(dtype, shape);
  for (std::int64_t i = 0; i < t.num_elements(); ++i) set(f, i, get(t, i));
  if (edges && t.num_elements() >= 5) {
    const double specials[] = {0.0, -0.0, NAN, INFINITY, -INFINITY};
    for (std::int64_t j = 0; j < 5; ++j) set(f, (j * 37 + 3) % t.num_elements(), specials[j]);
  }
  return f;
}

TEST_P(GpuOpsTest, SoftmaxAndLogSoftmax) {
  const std::vector<Shape> shapes = {
      {1},     {1, 1},     {5},         {64, 10},           {7, 1029}, {3, 256}, {3, 257}, {1, 256},
      {2, 31}, {4, 3, 33}, {2, 100003}, {1, (1 << 20) + 3}, {0, 5},    {5, 0},   {3000, 7}};
  unsigned seed = 200;
  for (const char* op : {"Softmax", "LogSoftmax"}) {
    for (const Shape& s : shapes)
      for (bool edges : {false, true}) {
        OpCase oc =
            make(op, DType::kFloat32, {random_tensor(DType::kFloat32, s, seed++, edges, -20, 20)});
        oc.rtol = 1e-5;  // float32 sums against the reference's double sums
        oc.atol = 1e-6;
        check(oc);
      }
    // Rows: -inf entries with a finite max; all -inf; +inf; NaN; signed zeros; one huge value.
    const float inf = INFINITY;
    Tensor rows = Tensor::from_vector<float>({1,     -inf,   3,    -inf,   //
                                              -inf,  -inf,   -inf, -inf,   //
                                              1,     inf,    2,    3,      //
                                              0,     NAN,    1,    2,      //
                                              0,     -0.0f,  0,    -0.0f,  //
                                              1e30f, -1e30f, 0,    88},
                                             {6, 4});
    OpCase oc = make(op, DType::kFloat32, {rows});
    oc.rtol = 1e-5;
    check(oc);
    check_throws(make(op, DType::kFloat32, {Tensor::from_scalar(1.0f)}));
  }
}

TEST_P(GpuOpsTest, ArgMax) {
  struct Am {
    Shape x;
    std::int64_t axis;
  };
  const std::vector<Am> cases = {
      {{1029}, 0},       {{1}, 0},        {{1, 1}, 1},       {{33, 257}, 0},    {{33, 257}, 1},
      {{33, 257}, -1},   {{33, 257}, -2}, {{4, 5, 6, 7}, 0}, {{4, 5, 6, 7}, 1}, {{4, 5, 6, 7}, 2},
      {{4, 5, 6, 7}, 3}, {{3, 1025}, 1},  {{2, 5000}, 1},    {{5000, 3}, 0},    {{0, 5}, 1},
      {{5, 0}, 0},       {{1, 300000}, 1}};
  unsigned seed = 300;
  for (DType in : {DType::kFloat32, DType::kFloat64, DType::kInt32, DType::kInt64})
    for (DType out : {DType::kInt64, DType::kInt32})
      for (const Am& a : cases)
        for (int values = 0; values < 3; ++values) {
          // 0: spread values, 1: small integers (many ties: the first index wins), 2: the
          // same with NaN/inf edges (NaN never wins).
          Tensor x = values == 0   ? random_tensor(in, a.x, seed++, false, -1000, 1000)
                     : values == 1 ? small_ints(in, a.x, seed++)
                                   : small_ints(in, a.x, seed++, true);
          Tensor dim = seed % 2
                           ? i64({a.axis})
                           : Tensor::from_scalar<std::int32_t>(static_cast<std::int32_t>(a.axis));
          OpCase oc = make("ArgMax", out, {x, dim});
          oc.rtol = oc.atol = 0;
          check(oc);
        }
  // Rows of only NaN, only -inf, lowest() and a NaN before the maximum: the reference's rules.
  const float inf = INFINITY, lo = std::numeric_limits<float>::lowest();
  Tensor rows = Tensor::from_vector<float>(
      {NAN, NAN, NAN, -inf, -inf, -inf, lo, lo, -inf, 1, NAN, 3, 3, NAN, 3, inf, NAN, inf}, {6, 3});
  for (std::int64_t axis : {0, 1}) {
    OpCase oc = make("ArgMax", DType::kInt64, {rows, i64({axis})});
    oc.rtol = oc.atol = 0;
    check(oc);
  }
  check_throws(
      make("ArgMax", DType::kInt64, {random_tensor(DType::kFloat32, {3, 4}, 1), i64({2})}));
  check_throws(
      make("ArgMax", DType::kInt64, {random_tensor(DType::kFloat32, {3, 0}, 1), i64({1})}));
  check_throws(
      make("ArgMax", DType::kInt64, {random_tensor(DType::kFloat32, {3}, 1), i64({0, 0})}));
}

TEST_P(GpuOpsTest, ComparisonsBroadcastLikeTheReference) {
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{}, {}},
      {{1029}, {1029}},
      {{}, {1029}},
      {{1029}, {}},
      {{33, 257}, {257}},
      {{33, 1}, {1, 257}},
      {{33, 1, 5}, {1, 7, 5}},
      {{2, 1, 3, 1, 2, 1, 3, 1, 2}, {1, 2, 1, 3, 1, 2, 1, 3, 1}},
      {{0, 5}, {5}},
      {{1}, {1, 1, 1}},
      {{1025, 1}, {1025, 1027}}};
  unsigned seed = 400;
  for (DType dt : {DType::kFloat32, DType::kFloat64, DType::kInt32, DType::kInt64, DType::kBool})
    for (const char* op : {"Equal", "NotEqual", "Less", "Greater"}) {
      const bool ordered = std::string(op) == "Less" || std::string(op) == "Greater";
      if (dt == DType::kBool && ordered) {
        check_throws(
            make(op, DType::kBool, {small_ints(dt, {3}, seed++), small_ints(dt, {3}, seed++)}));
        continue;
      }
      for (const auto& [sa, sb] : shapes) {
        OpCase oc = make(op, DType::kBool,
                         {small_ints(dt, sa, seed++, true), small_ints(dt, sb, seed++, true)});
        oc.rtol = oc.atol = 0;
        check(oc);
      }
    }
  // NaN against itself, -0 against 0, infinities.
  Tensor a = Tensor::from_vector<float>({NAN, -0.0f, INFINITY, -INFINITY, 1});
  Tensor b = Tensor::from_vector<float>({NAN, 0.0f, INFINITY, INFINITY, NAN});
  for (const char* op : {"Equal", "NotEqual", "Less", "Greater"}) {
    OpCase oc = make(op, DType::kBool, {a, b});
    oc.rtol = oc.atol = 0;
    check(oc);
  }
  check_throws(make("Equal", DType::kBool, {i32({1, 2}), i64({1, 2})}));
  check_throws(
      make("Less", DType::kBool,
           {random_tensor(DType::kFloat32, {3}, 1), random_tensor(DType::kFloat32, {4}, 2)}));
}

// Values that probe every conversion rule of cast.h, as `dtype`.
Tensor cast_probe(DType dtype, unsigned seed) {
  const double big[] = {
      0.0,     -0.0,       0.5,        -0.5,         1.5,         2.5,      -1.5,  -1.0,
      0.1,     1.0 / 3,    127.5,      128.0,        255.9,       256.0,    300.7, -129.0,
      65504.0, 65519.0,    65520.0,    70000.0,      1e-8,        6e-8,     1e-40, 3e9,
      -3e9,    2147483520, 2147483648, -2147483648., -2147483904, 1e10,     -1e10, 9.3e18,
      -9.3e18, 1e30,       1e300,      NAN,          INFINITY,    -INFINITY};
  switch (dtype) {
    case DType::kInt8: return Tensor::from_vector<std::int8_t>({0, 1, -1, 127, -128, 42, -7});
    case DType::kUInt8: return Tensor::from_vector<std::uint8_t>({0, 1, 127, 128, 255, 42});
    case DType::kBool: return Tensor::from_vector<bool>({true, false, true, true, false});
    case DType::kInt32:
      return Tensor::from_vector<std::int32_t>({0, 1, -1, 127, 128, 255, 256, -129, 65504, 70000,
                                                16777217, 2147483647, -2147483647 - 1});
    case DType::kInt64:
      return Tensor::from_vector<std::int64_t>(
          {0, 1, -1, 255, 256, -129, 16777217, 2147483647, 2147483648, -2147483649,
           (std::int64_t{1} << 53) + 1, std::numeric_limits<std::int64_t>::max(),
           std::numeric_limits<std::int64_t>::min()});
    default: {
      const std::int64_t fixed = sizeof(big) / sizeof(big[0]);
      Tensor t(dtype, Shape{fixed + 1029});
      std::mt19937 g(seed);
      std::uniform_real_distribution<double> d(-300, 300);
      for (std::int64_t i = 0; i < fixed + 1029; ++i)
        set(t, i, i < fixed ? big[static_cast<std::size_t>(i)] : d(g));
      return t;
    }
  }
}

TEST_P(GpuOpsTest, CastBetweenEveryPair) {
  const std::vector<DType> dtypes = {DType::kFloat32,  DType::kFloat64, DType::kFloat16,
                                     DType::kBFloat16, DType::kInt8,    DType::kUInt8,
                                     DType::kInt32,    DType::kInt64,   DType::kBool};
  unsigned seed = 500;
  for (DType from : dtypes)
    for (DType to : dtypes)
      for (bool truncate : {false, true}) {
        for (const Tensor& x :
             {cast_probe(from, seed++), Tensor(from, Shape{0}), Tensor(from, Shape{1, 0})}) {
          OpCase oc = make("Cast", to, {x});
          oc.attrs.set("SrcT", from);
          oc.attrs.set("DstT", to);
          oc.attrs.set("Truncate", truncate);
          oc.rtol = oc.atol = 0;
          SCOPED_TRACE(std::string(sf::dtype_name(from)) + " -> " +
                       std::string(sf::dtype_name(to)) + (truncate ? " (Truncate)" : ""));
          check(oc);
        }
      }
  OpCase bad = make("Cast", DType::kFloat32, {i32({1})});
  bad.attrs.set("SrcT", DType::kInt64);  // not the input's dtype
  bad.attrs.set("DstT", DType::kFloat32);
  check_throws(bad);
}

TEST_P(GpuOpsTest, ExpAndFloat64AddN) {
  for (const Shape& s : {Shape{}, Shape{1}, Shape{1029}, Shape{0}, Shape{7, 300}}) {
    OpCase oc =
        make("Exp", DType::kFloat32, {random_tensor(DType::kFloat32, s, 11, true, -80, 80)});
    oc.rtol = 5e-7;  // CUDA's expf is within 2 ulp of the reference's std::exp
    oc.atol = 0;
    check(oc);
  }
  for (int count : {1, 2, 17})
    for (const Shape& s : {Shape{1029}, Shape{1}, Shape{0, 3}}) {
      std::vector<Tensor> in;
      for (int i = 0; i < count; ++i)
        in.push_back(random_tensor(DType::kFloat64, s, 100 + static_cast<unsigned>(i), i == 1));
      OpCase oc = make("AddN", DType::kFloat64, std::move(in));
      oc.rtol = oc.atol = 0;
      check(oc);
    }
}

TEST_P(GpuOpsTest, LogSigmoidTanh) {
  for (const char* op : {"Abs", "Sign"}) {
    OpCase oc = make(op, DType::kFloat32, {random_tensor(DType::kFloat32, {1029}, 21, true)});
    oc.rtol = oc.atol = 0;
    check(oc);
  }
  for (const char* op : {"Log", "Log1p", "Sigmoid", "Tanh", "Cos", "Sin", "Rsqrt"})
    for (const Shape& s : {Shape{}, Shape{1}, Shape{1029}, Shape{0}, Shape{7, 300}}) {
      // Log, Log1p, Rsqrt: positive inputs
      const bool log = std::string(op).rfind("Log", 0) == 0 || std::string(op) == "Rsqrt";
      OpCase oc =
          make(op, DType::kFloat32,
               {random_tensor(DType::kFloat32, s, 12, true, log ? 1e-3 : -30, log ? 80 : 30)});
      oc.rtol = 1e-6;  // CUDA's logf / expf / tanhf / cosf / sinf: within 2 ulp of the reference
      oc.atol = std::string(op) == "Cos" || std::string(op) == "Sin" ? 1e-7 : 0;
      check(oc);
    }
}

// LRN / LRNGrad (float window sums on the GPU, double in the reference) and InTopKV2 (ties, a
// target out of range, non-finite rows; rows of more classes than a warp).
// FusedBatchNormV3 / FusedBatchNormGradV3: training (factor 1 with empty statistics, and a
// blend), inference, both layouts, one element per channel, an empty batch; the gradient from
// the reference's reserve spaces (training) or the population statistics (inference).
TEST_P(GpuOpsTest, FusedBatchNormMatchesTheReference) {
  unsigned seed = 1200;
  const Tensor empty(DType::kFloat32, Shape{0});
  // Both 4-D layouts over several shapes (one element per channel, an empty batch, one channel
  // of many elements), and the 5-D ones.
  std::vector<std::pair<const char*, Shape>> layouts;
  for (const char* format : {"NHWC", "NCHW"})
    for (const Shape& s : {Shape{8, 7, 9, 33}, Shape{2, 64, 5, 3}, Shape{1, 1, 1, 5},
                           Shape{0, 3, 3, 5}, Shape{4, 1, 300, 1}})
      layouts.emplace_back(format, s);
  layouts.emplace_back("NDHWC", Shape{2, 3, 4, 5, 6});
  layouts.emplace_back("NCDHW", Shape{3, 6, 2, 5, 4});
  for (const auto& [format, s] : layouts) {
    const bool first = std::string(format) == "NCHW" || std::string(format) == "NCDHW";
    const std::int64_t channels = first ? s.dims()[1] : s.dims().back();
    const Tensor x = random_tensor(DType::kFloat32, s, seed++, false, -3, 3);
    const Tensor dy = random_tensor(DType::kFloat32, s, seed++, false, -1, 1);
    const Tensor scale = random_tensor(DType::kFloat32, {channels}, seed++, false, 0.5, 2);
    const Tensor offset = random_tensor(DType::kFloat32, {channels}, seed++, false, -1, 1);
    const Tensor mean = random_tensor(DType::kFloat32, {channels}, seed++, false, -1, 1);
    const Tensor var = random_tensor(DType::kFloat32, {channels}, seed++, false, 0.5, 2);
    struct Mode {
      bool training;
      float factor;
    };
    for (const Mode m : {Mode{true, 1.0f}, Mode{true, 0.25f}, Mode{false, 1.0f}}) {
      const bool reads = !m.training || m.factor != 1.0f;
      OpCase fwd = make("FusedBatchNormV3", DType::kFloat32,
                        {x, scale, offset, reads ? mean : empty, reads ? var : empty});
      fwd.attrs.set("epsilon", 1e-3f);
      fwd.attrs.set("exponential_avg_factor", m.factor);
      fwd.attrs.set("is_training", m.training);
      fwd.attrs.set("data_format", std::string(format));
      fwd.rtol = 1e-4;
      fwd.atol = 1e-5;
      if (s.num_elements() == 0) {
        // The mean of nothing, in either mode: NaN statistics, reserve spaces 0 (TF's).
        const auto got = run_case(fwd, device_);
        EXPECT_EQ(got[0].shape(), s);
        for (std::size_t i = 1; i <= 4; ++i)
          for (float v : got[i].to_vector<float>())
            EXPECT_TRUE(i <= 2 ? std::isnan(v) : v == 0.0f) << "output " << i << ": " << v;
        continue;
      }
      check(fwd);
      // The gradient from the reference forward's reserve spaces.
      const auto ref = run_case(fwd, cpu_);
      OpCase bwd =
          make("FusedBatchNormGradV3", DType::kFloat32,
               {dy, x, scale, m.training ? ref[3] : mean, m.training ? ref[4] : var, ref[5]});
      bwd.attrs = fwd.attrs;
      bwd.rtol = 1e-4;
      bwd.atol = 1e-4;
      check(bwd);
    }
  }
}

TEST_P(GpuOpsTest, LrnAndInTopK) {
  unsigned seed = 900;
  for (std::int64_t radius : {0, 2, 5, 70})
    for (const Shape& s : {Shape{2, 3, 5, 64}, Shape{1, 1, 1, 3}, Shape{0, 2, 2, 4}}) {
      const Tensor x = random_tensor(DType::kFloat32, s, seed++, false, -3, 3);
      const Tensor dy = random_tensor(DType::kFloat32, s, seed++, false, -1, 1);
      OpCase fwd = make("LRN", DType::kFloat32, {x});
      for (OpCase* oc : {&fwd}) {
        oc->attrs.set("depth_radius", radius);
        oc->attrs.set("bias", 1.5f);
        oc->attrs.set("alpha", 0.3f);
        oc->attrs.set("beta", 0.75f);
        oc->rtol = 1e-5;
        oc->atol = 1e-6;
      }
      check(fwd);
      // The reference's output as LRNGrad's output_image.
      Tensor y(DType::kFloat32, s);
      sf::kernels::LrnParams p{radius, 1.5f, 0.3f, 0.75f};
      const std::int64_t depth = s.dims()[3];
      sf::kernels::lrn_forward_ref(x.data<float>(), y.data<float>(),
                                   depth ? s.num_elements() / depth : 0, depth, p);
      OpCase bwd = make("LRNGrad", DType::kFloat32, {dy, x, y});
      bwd.attrs = fwd.attrs;
      bwd.rtol = 1e-4;
      bwd.atol = 1e-5;
      check(bwd);
    }
  for (DType t : {DType::kInt32, DType::kInt64})
    for (std::int64_t classes : {1, 4, 33, 1000}) {
      const std::int64_t batch = 37;
      Tensor pred = random_tensor(DType::kFloat32, {batch, classes}, seed++, false, -2, 2);
      for (std::int64_t b = 0; b < batch; b += 5) pred.data<float>()[b * classes] = 1.0f;  // ties
      pred.data<float>()[3 * classes] = NAN;
      pred.data<float>()[4 * classes + classes - 1] = INFINITY;
      Tensor targets =
          random_tensor(t, {batch}, seed++, false, 0, static_cast<double>(classes - 1));
      set(targets, 6, static_cast<double>(classes));  // out of range
      set(targets, 7, -1);
      for (std::int64_t k : {0, 1, 3, 2000}) {
        OpCase oc = make("InTopKV2", DType::kBool,
                         {pred, targets,
                          t == DType::kInt32 ? Tensor::from_scalar(static_cast<std::int32_t>(k))
                                             : Tensor::from_scalar(k)});
        oc.host_inputs = {2};
        oc.rtol = oc.atol = 0;
        check(oc);
      }
    }
}

// Floor, Ceil, Cos, Sin, Log in float64 (schedules of a float64 rate, Pow's gradient); Floor
// and Ceil in 16-bit floats.
TEST_P(GpuOpsTest, Float64RoundingAndTrigonometry) {
  for (DType dt : {DType::kFloat16, DType::kBFloat16})
    for (const char* op : {"Floor", "Ceil"}) {
      OpCase oc = make(op, dt, {random_tensor(dt, {1029}, 14, true, -40, 40)});
      oc.rtol = oc.atol = 0;
      check(oc);
    }
  for (const char* op : {"Floor", "Ceil", "Cos", "Sin", "Log", "Rsqrt"})
    for (const Shape& s : {Shape{}, Shape{1029}, Shape{0}}) {
      const bool log = std::string(op) == "Log" || std::string(op) == "Rsqrt";  // positive inputs
      OpCase oc = make(op, DType::kFloat64,
                       {random_tensor(DType::kFloat64, s, 13, true, log ? 1e-3 : -40, 40)});
      const bool exact = std::string(op) == "Floor" || std::string(op) == "Ceil";
      oc.rtol = exact ? 0 : 1e-15;  // CUDA's cos / sin: within 2 ulp
      oc.atol = exact ? 0 : 1e-16;
      check(oc);
    }
}

// Shape, Size and BroadcastGradientArgs write host-known values through kernel parameters;
// ExpandDims, Squeeze and StopGradient see the input's buffer with another shape.
TEST_P(GpuOpsTest, ShapeOps) {
  const Shape rank17(std::vector<std::int64_t>(17, 1));  // more than one parameter chunk
  for (DType out : {DType::kInt32, DType::kInt64})
    for (const Shape& s : {Shape{}, Shape{0}, Shape{3, 5}, Shape{2, 0, 7}, rank17}) {
      for (const char* op : {"Shape", "Size"}) {
        OpCase oc = make(op, out, {random_tensor(DType::kFloat32, s, 13)});
        oc.attrs.set("out_type", out);
        oc.rtol = oc.atol = 0;
        check(oc);
      }
    }
  for (bool host : {true, false}) {
    OpCase a = make("BroadcastGradientArgs", DType::kInt32, {i32({2, 1, 1, 3}), i32({5, 1, 1})});
    OpCase b = make("BroadcastGradientArgs", DType::kInt64, {i64({}), i64({4, 1})});
    for (OpCase* oc : {&a, &b}) {
      if (host) oc->host_inputs = {0, 1};
      oc->rtol = oc->atol = 0;
      check(*oc);
    }
  }
  check_throws(make("BroadcastGradientArgs", DType::kInt32, {i32({2, 3}), i32({4, 3})}));
  // Prod (int) and InvertPermutation: tensordot's shape arithmetic, read on the host.
  for (bool host : {true, false}) {
    OpCase p = make("Prod", DType::kInt32, {i32({5, 3, 7, 2}), i32({0})});
    OpCase q = make("Prod", DType::kInt64, {i64({65536, 65536, -3}), i64({0})});
    OpCase k = make("Prod", DType::kInt32, {i32({}), i32({0})});
    k.attrs.set("keep_dims", true);
    OpCase v = make("InvertPermutation", DType::kInt32, {i32({2, 0, 3, 1})});
    OpCase w = make("InvertPermutation", DType::kInt64, {i64({})});
    for (OpCase* oc : {&p, &q, &k}) {
      if (host) oc->host_inputs = {0, 1};
      oc->rtol = oc->atol = 0;
      check(*oc);
    }
    for (OpCase* oc : {&v, &w}) {
      if (host) oc->host_inputs = {0};
      oc->rtol = oc->atol = 0;
      check(*oc);
    }
  }
  check_throws(make("InvertPermutation", DType::kInt32, {i32({0, 0})}));
  check_throws(make("InvertPermutation", DType::kInt32, {i32({0, 2})}));
  for (std::int32_t dim : {0, 2, -1, -3}) {
    OpCase e = make("ExpandDims", DType::kFloat32,
                    {random_tensor(DType::kFloat32, {2, 3}, 14), Tensor::from_scalar(dim)});
    e.host_inputs = {1};
    e.rtol = e.atol = 0;
    check(e);
  }
  for (const std::vector<std::int64_t>& dims :
       {std::vector<std::int64_t>{}, std::vector<std::int64_t>{0}, std::vector<std::int64_t>{-1}}) {
    OpCase q = make("Squeeze", DType::kFloat32, {random_tensor(DType::kFloat32, {1, 3, 1}, 15)});
    q.attrs.set("squeeze_dims", dims);
    q.rtol = q.atol = 0;
    check(q);
  }
  OpCase bad = make("Squeeze", DType::kFloat32, {random_tensor(DType::kFloat32, {1, 3, 1}, 15)});
  bad.attrs.set("squeeze_dims", std::vector<std::int64_t>{1});
  check_throws(bad);
  OpCase stop = make("StopGradient", DType::kInt64, {small_ints(DType::kInt64, {4, 2}, 16)});
  stop.rtol = stop.atol = 0;
  check(stop);
}

// Tile, Range, DynamicStitch, FloorMod / FloorDiv, ZerosLike / OnesLike: what TF's reduction
// gradients run (Sum's Tile, reduced_shape's FloorMod / Range / DynamicStitch), bit for bit.
TEST_P(GpuOpsTest, TileRangeStitchAndFloorOps) {
  for (DType dt : {DType::kFloat32, DType::kFloat16, DType::kFloat64, DType::kInt32, DType::kInt64,
                   DType::kBool}) {
    const bool ints = dt == DType::kInt32 || dt == DType::kInt64;
    auto values = [&](const Shape& s, unsigned seed) {
      return ints ? small_ints(dt, s, seed) : random_tensor(dt, s, seed);
    };
    for (bool host : {true, false}) {
      OpCase t = make("Tile", dt, {values({2, 1, 3}, 21), i32({2, 3, 1})});
      OpCase t0 = make("Tile", dt, {values({}, 22), i32({})});
      OpCase te = make("Tile", dt, {values({2, 3}, 23), i64({0, 2})});
      OpCase tl = make("Tile", dt, {values({1, 129}, 24), i64({300, 1})});
      for (OpCase* oc : {&t, &t0, &te, &tl}) {
        if (host) oc->host_inputs = {1};
        oc->rtol = oc->atol = 0;
        check(*oc);
      }
    }
    for (const char* op : {"ZerosLike", "OnesLike"})
      for (const Shape& s : {Shape{3, 4}, Shape{0}, Shape{}}) {
        OpCase z = make(op, dt, {values(s, 25)});
        z.rtol = z.atol = 0;
        check(z);
      }
    // DynamicStitch: a repeated index (the later input wins) and a gap (zeros).
    OpCase st = make("DynamicStitch", dt,
                     {i32({0, 5}), Tensor::from_vector<std::int32_t>({1, 5, 3, 7}, {2, 2}),
                      values({2, 3}, 26), values({2, 2, 3}, 27)});
    st.attrs.set("N", std::int64_t{2});
    st.rtol = st.atol = 0;
    check(st);
  }
  check_throws(
      make("Tile", DType::kFloat32, {random_tensor(DType::kFloat32, {2, 3}, 28), i32({1, -1})}));
  OpCase bad_stitch = make("DynamicStitch", DType::kFloat32,
                           {i32({0, -1}), random_tensor(DType::kFloat32, {2}, 29)});
  bad_stitch.attrs.set("N", std::int64_t{1});
  check_throws(bad_stitch);
  // Range: start, limit and delta on the host (HostMemory) or computed on the device.
  for (bool host : {true, false}) {
    std::vector<OpCase> cases{
        make("Range", DType::kInt32,
             {Tensor::from_scalar(std::int32_t{-7}), Tensor::from_scalar(std::int32_t{100000}),
              Tensor::from_scalar(std::int32_t{3})}),
        make("Range", DType::kInt64,
             {Tensor::from_scalar(std::int64_t{10}), Tensor::from_scalar(std::int64_t{-20}),
              Tensor::from_scalar(std::int64_t{-4})}),
        make("Range", DType::kFloat32,
             {Tensor::from_scalar(0.1f), Tensor::from_scalar(50.0f), Tensor::from_scalar(0.1f)}),
        make("Range", DType::kFloat64,
             {Tensor::from_scalar(-1.0), Tensor::from_scalar(1.0), Tensor::from_scalar(0.001)})};
    for (OpCase& oc : cases) {
      if (host) oc.host_inputs = {0, 1, 2};
      oc.rtol = oc.atol = 0;
      check(oc);
    }
  }
  check_throws(make("Range", DType::kInt32,
                    {Tensor::from_scalar(std::int32_t{1}), Tensor::from_scalar(std::int32_t{5}),
                     Tensor::from_scalar(std::int32_t{0})}));
  // FloorMod / FloorDiv with broadcasting; an integer zero divisor is refused.
  for (const char* op : {"FloorMod", "FloorDiv"}) {
    for (DType dt : {DType::kFloat32, DType::kFloat64, DType::kFloat16}) {
      // Divisors of both signs (the remainder moves by y when the signs differ), away from 0.
      Tensor y = random_tensor(dt, {5}, 31, false, 0.5, 2.0);
      for (std::int64_t k = 0; k < 5; k += 2) set(y, k, -get(y, k));
      OpCase f = make(op, dt, {random_tensor(dt, {4, 5}, 30), y});
      f.rtol = f.atol = 0;
      check(f);
    }
    OpCase i = make(op, DType::kInt32,
                    {i32({7, -7, 7, -7, 0, std::numeric_limits<std::int32_t>::min()}),
                     i32({3, 3, -3, -3, 5, -1})});
    i.rtol = i.atol = 0;
    check(i);
    OpCase l = make(op, DType::kInt64, {i64({-1, 4, 9, -9}), i64({4})});
    l.rtol = l.atol = 0;
    check(l);
    check_throws(make(op, DType::kInt32, {i32({1, 2}), i32({1, 0})}));
  }
}

TEST_P(GpuOpsTest, Transpose) {
  for (DType dt : {DType::kFloat32, DType::kFloat16, DType::kInt64, DType::kBool})
    for (const auto& [shape, perm] : std::vector<std::pair<Shape, std::vector<std::int32_t>>>{
             {{7, 300}, {1, 0}}, {{2, 3, 4, 5}, {3, 1, 0, 2}}, {{0, 3}, {1, 0}}, {{}, {}}}) {
      OpCase oc = make(
          "Transpose", dt,
          {small_ints(dt, shape, 24),
           Tensor::from_vector<std::int32_t>(perm, Shape{static_cast<std::int64_t>(perm.size())})});
      oc.host_inputs = {1};
      oc.rtol = oc.atol = 0;
      check(oc);
    }
}

TEST_P(GpuOpsTest, OneHotAndWhere) {
  for (DType out : {DType::kFloat32, DType::kInt64})
    for (std::int64_t axis : {-1, 0, 1}) {
      OpCase oc = make("OneHot", out,
                       {i64({0, 3, -1, 7, 2, 2}), Tensor::from_scalar(std::int32_t{4}),
                        out == DType::kFloat32 ? Tensor::from_scalar(0.9f)
                                               : Tensor::from_scalar(std::int64_t{5}),
                        out == DType::kFloat32 ? Tensor::from_scalar(-INFINITY)
                                               : Tensor::from_scalar(std::int64_t{-2})});
      oc.inputs[0] = oc.inputs[0].reshaped(Shape{2, 3});
      oc.attrs.set("axis", axis);
      oc.host_inputs = {1, 2, 3};
      oc.rtol = oc.atol = 0;
      check(oc);
    }
  for (DType dt : {DType::kFloat32, DType::kFloat16, DType::kInt64, DType::kBool})
    for (bool rows : {false, true}) {
      const Shape shape{7, 300};
      OpCase sel = make("Select", dt,
                        {random_tensor(DType::kBool, rows ? Shape{7} : shape, 18, false, 0, 1),
                         small_ints(dt, shape, 19), small_ints(dt, shape, 20)});
      sel.rtol = sel.atol = 0;
      check(sel);
    }
  for (const Shape& s : {Shape{}, Shape{0}, Shape{1029}, Shape{7, 30}}) {
    OpCase w = make("Where", DType::kInt64, {random_tensor(DType::kBool, s, 17, false, 0, 1)});
    w.rtol = w.atol = 0;
    check(w);
  }
}

TEST_P(GpuOpsTest, FillFloat64AndBool) {
  for (const Tensor& dims : {i64({3, 343}), i32({0, 4}), i64({})}) {
    OpCase d = make("Fill", DType::kFloat64, {dims, Tensor::from_scalar(-2.5)});
    d.host_inputs = {0};
    d.rtol = d.atol = 0;
    check(d);
    for (bool v : {true, false}) {
      OpCase b = make("Fill", DType::kBool, {dims, Tensor::from_scalar(v)});
      b.host_inputs = {0};
      b.rtol = b.atol = 0;
      check(b);
    }
  }
}

TEST_P(GpuOpsTest, PackBooleanMaskLogicalNot) {
  const std::vector<DType> dtypes = {DType::kFloat32,  DType::kFloat64, DType::kFloat16,
                                     DType::kBFloat16, DType::kInt8,    DType::kUInt8,
                                     DType::kInt32,    DType::kInt64,   DType::kBool};
  unsigned seed = 600;
  for (DType dt : dtypes) {
    for (const Shape& s : {Shape{}, Shape{1}, Shape{1029}, Shape{0}, Shape{3, 5}})
      for (int count : {1, 3}) {
        std::vector<Tensor> in;
        for (int i = 0; i < count; ++i) in.push_back(small_ints(dt, s, seed++, true));
        OpCase oc = make("Pack", dt, std::move(in));
        oc.rtol = oc.atol = 0;
        check(oc);
      }
    for (std::int64_t n : {0, 1, 1029, 5000})
      for (int pattern = 0; pattern < 3; ++pattern)
        for (bool host_mask : {false, true}) {
          // Random, all false, all true.
          Tensor mask = pattern == 0 ? random_tensor(DType::kBool, {n}, seed++, false, 0, 1)
                                     : Tensor(DType::kBool, Shape{n});
          if (pattern > 0)
            for (std::int64_t i = 0; i < n; ++i) set(mask, i, pattern == 2);
          OpCase oc = make("BooleanMask", dt, {small_ints(dt, {n}, seed++, true), mask});
          if (host_mask) oc.host_inputs = {1};
          oc.rtol = oc.atol = 0;
          check(oc);
        }
  }
  check_throws(make("BooleanMask", DType::kFloat32,
                    {random_tensor(DType::kFloat32, {4}, 1), random_tensor(DType::kBool, {3}, 2)}));
  check_throws(
      make("Pack", DType::kFloat32,
           {random_tensor(DType::kFloat32, {4}, 1), random_tensor(DType::kFloat32, {3}, 2)}));
  for (const Shape& s : {Shape{}, Shape{1029}, Shape{0}, Shape{7, 3}}) {
    OpCase oc =
        make("LogicalNot", DType::kBool, {random_tensor(DType::kBool, s, seed++, false, 0, 1)});
    oc.rtol = oc.atol = 0;
    check(oc);
  }
}

INSTANTIATE_TEST_SUITE_P(Devices, GpuOpsTest, SF_TEST_DEVICES, sf::testing::device_param_name);
