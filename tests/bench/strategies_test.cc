// sf-bench's strategies on logical CPU devices: with the same seed and synthetic data, K towers
// x batch b under every synchronous strategy (all-reduce specs copy, ring and nccl included)
// end with the parameters of 1 tower x batch K*b
// after 10 SGD steps (relative difference <= 1e-5), for K = 1, 2, 4, 11; replicated copies
// stay identical; 11+ towers build without name clashes and the variable count does not grow
// with K; bad flag combinations are rejected with the flag's name.
#include <gtest/gtest.h>
#include <scopeflow/scopeflow.h>

#include <cmath>
#include <cstdlib>

#include "samples/bench/cost_model.h"
#include "samples/bench/tower_bench.h"

namespace bench = scopeflow::bench;

namespace {

bench::BenchConfig base(int k, std::int64_t b) {
  bench::BenchConfig c;
  c.model = "tiny_cnn";
  c.device = "cpu";
  c.num_devices = k;
  c.batch_size = b;
  c.num_batches = 10;
  c.num_warmup_batches = 0;
  c.optimizer = "sgd";
  c.learning_rate = 0.1;
  c.seed = 42;
  c.inter_op_threads = 4;
  return c;
}

// max |a - b| / max |b| per tensor.
double relative_difference(const std::map<std::string, std::vector<float>>& a,
                           const std::map<std::string, std::vector<float>>& b) {
  double worst = 0;
  for (const auto& [name, want] : b) {
    const auto& got = a.at(name);
    double diff = 0, scale = 1e-12;
    for (std::size_t i = 0; i < want.size(); ++i) {
      diff = std::max(diff, static_cast<double>(std::abs(got[i] - want[i])));
      scale = std::max(scale, static_cast<double>(std::abs(want[i])));
    }
    worst = std::max(worst, diff / scale);
  }
  return worst;
}

struct Strategy {
  const char* name;
  void (*apply)(bench::BenchConfig&);
};

const Strategy kSynchronous[] = {
    {"ps_cpu", [](bench::BenchConfig& c) { c.variable_update = "parameter_server"; }},
    {"ps_workers_round_robin",
     [](bench::BenchConfig& c) {
       c.variable_update = "parameter_server";
       c.local_parameter_device = "gpu";
     }},
    {"ps_workers_greedy",
     [](bench::BenchConfig& c) {
       c.variable_update = "parameter_server";
       c.local_parameter_device = "gpu";
       c.ps_strategy = "greedy";
     }},
    {"replicated", [](bench::BenchConfig& c) { c.variable_update = "replicated"; }},
    {"replicated_ring",
     [](bench::BenchConfig& c) {
       c.variable_update = "replicated";
       c.all_reduce_spec = "ring";
     }},
    {"replicated_copy_repacked_3",
     [](bench::BenchConfig& c) {
       c.variable_update = "replicated";
       c.gradient_repacking = 3;
     }},
    {"replicated_ring_repacked_2",
     [](bench::BenchConfig& c) {
       c.variable_update = "replicated";
       c.all_reduce_spec = "ring";
       c.gradient_repacking = 2;
     }},
    // NcclAllReduce collective steps: the host reduction on CPU devices, ScopeFlow's fused CUDA
    // kernel on logical GPUs sharing a card, NCCL across physical GPUs.
    {"replicated_nccl",
     [](bench::BenchConfig& c) {
       c.variable_update = "replicated";
       c.all_reduce_spec = "nccl";
     }},
    {"replicated_nccl_repacked_3",
     [](bench::BenchConfig& c) {
       c.variable_update = "replicated";
       c.all_reduce_spec = "nccl";
       c.gradient_repacking = 3;
     }},
};

TEST(StrategiesTest, KTowersEqualOneTowerWithKTimesTheBatch) {
  constexpr std::int64_t b = 3;
  for (int k : {1, 2, 4, 11}) {
    auto reference = bench::run_benchmark(base(1, k * b));
    auto one_step = base(1, k * b);
    one_step.num_batches = 1;
    EXPECT_GT(relative_difference(bench::run_benchmark(one_step).parameters, reference.parameters),
              1e-3)
        << "10 steps must move the parameters (the comparison below is not vacuous)";
    for (const auto& s : kSynchronous) {
      auto c = base(k, b);
      s.apply(c);
      auto r = bench::run_benchmark(c);
      EXPECT_LE(relative_difference(r.parameters, reference.parameters), 1e-5)
          << s.name << " with K=" << k;
      EXPECT_NEAR(r.param_checksum, reference.param_checksum,
                  1e-5 * std::max(1.0, std::abs(reference.param_checksum)))
          << s.name << " with K=" << k;
      EXPECT_EQ(r.max_copy_divergence, 0.0) << s.name << ": copies must stay identical";
      EXPECT_EQ(r.devices.size(), static_cast<std::size_t>(k));
    }
  }
}

TEST(StrategiesTest, IndependentCopiesDiverge) {
  auto c = base(2, 3);
  c.variable_update = "independent";
  auto r = bench::run_benchmark(c);
  EXPECT_GT(r.max_copy_divergence, 0.0) << "each copy trains on its own tower's data";
}

TEST(StrategiesTest, ElevenTowersReuseOneSetOfVariables) {
  for (const char* opt : {"momentum", "adam"}) {
    auto c1 = base(1, 2);
    c1.optimizer = opt;
    c1.num_batches = 1;
    auto c11 = c1;
    c11.num_devices = 12;  // tower_1 vs tower_10 / tower_11: prefix traps
    auto r1 = bench::run_benchmark(c1);
    auto r11 = bench::run_benchmark(c11);
    EXPECT_EQ(r11.num_variables, r1.num_variables)
        << opt << ": slots are created once; the variable count does not grow with K";
    EXPECT_EQ(r11.parameters.size(), r1.parameters.size());
  }
}

TEST(StrategiesTest, PlacementFollowsTheStrategy) {
  auto c = base(4, 2);
  c.num_batches = 1;
  auto ps_cpu = bench::run_benchmark(c);
  for (const auto& p : ps_cpu.placement) EXPECT_EQ(p.device, "/device:CPU:0") << p.variable;
  c.local_parameter_device = "gpu";
  c.ps_strategy = "greedy";
  auto greedy = bench::run_benchmark(c);
  std::map<std::string, std::int64_t> load;
  for (const auto& p : greedy.placement) load[p.device] += p.bytes;
  EXPECT_EQ(load.size(), 4u) << "variables spread over the 4 workers";
  EXPECT_GT(greedy.bytes_copied_per_step, 0);
  c.local_parameter_device = "cpu";
  c.ps_strategy = "round_robin";
  c.variable_update = "replicated";
  auto rep = bench::run_benchmark(c);
  for (const auto& p : rep.placement) EXPECT_EQ(p.device, "/device:CPU:0") << "copy 0";
}

TEST(StrategiesTest, InvalidFlagCombinationsAreRejected) {
  auto expect_bad = [](bench::BenchConfig c, const std::string& flag) {
    try {
      bench::validate(c);
      ADD_FAILURE() << "accepted: " << flag;
    } catch (const sf::InvalidArgumentError& e) {
      EXPECT_NE(std::string(e.what()).find(flag), std::string::npos) << e.what();
    }
  };
  auto c = base(2, 2);
  auto x = c;
  x.variable_update = "replicated";
  x.local_parameter_device = "gpu";
  expect_bad(x, "--local_parameter_device");
  x = c;
  x.ps_strategy = "greedy";  // with a CPU parameter device
  expect_bad(x, "--ps_strategy");
  x = c;
  x.all_reduce_spec = "copy";  // parameter_server
  expect_bad(x, "--all_reduce_spec");
  x = c;
  x.variable_update = "replicated";
  x.all_reduce_spec = "nccl";
  EXPECT_NO_THROW(bench::validate(x)) << "--all_reduce_spec nccl runs NcclAllReduce";
  x.all_reduce_spec = "hierarchical_copy";
  expect_bad(x, "--all_reduce_spec");
  x = c;
  x.model = "resnet50";
  expect_bad(x, "--model");
  x = c;
  x.num_devices = 0;
  expect_bad(x, "--num_devices");
  x = c;
  x.data = "fashion-mnist";
  x.model = "cifar_cnn";
  expect_bad(x, "--data fashion-mnist");
  x = c;
  x.gradient_repacking = 2;
  expect_bad(x, "--gradient_repacking");
  x = c;
  x.variable_update = "async";
  expect_bad(x, "--variable_update");
  x = c;
  x.pin_host_memory = true;  // on CPU devices
  expect_bad(x, "--pin_host_memory");
}

// The cost model's compute units follow where the sessions put the towers: one card each only
// when there are as many cards as towers.
TEST(StrategiesTest, ComputeUnitsFollowTheTowersDevices) {
  EXPECT_EQ(bench::compute_units(base(4, 2)), 1);  // logical CPU devices share the cores
  const int cards = static_cast<int>(sf::devices::gpu_inventory().gpus.size());
  auto c = base(cards + 1, 2);
  c.device = "gpu";
  EXPECT_TRUE(bench::towers_share_first_card(cards + 1));
  EXPECT_EQ(bench::compute_units(c), 1);  // split from the first card
  if (cards > 0) {
    c.num_devices = cards;
    EXPECT_FALSE(bench::towers_share_first_card(cards));
    EXPECT_EQ(bench::compute_units(c), cards);
  }
}

TEST(StrategiesTest, HeaderSpeaksTfCnnBenchmarks) {
  auto c = base(2, 32);
  const std::string h = bench::header(c);
  EXPECT_NE(h.find("Batch size:  64 global\n             32 per device"), std::string::npos) << h;
  EXPECT_NE(h.find("Variables:   parameter_server"), std::string::npos) << h;
  EXPECT_NE(h.find("Devices:     ['/device:CPU:0', '/device:CPU:1']"), std::string::npos) << h;
  c.variable_update = "replicated";
  c.all_reduce_spec = "nccl";
  EXPECT_NE(bench::header(c).find("AllReduce:   nccl (host reduction)"), std::string::npos)
      << bench::header(c);
  EXPECT_EQ(bench::strategy_key(c), "replicated/nccl");
}

// `sf-bench allreduce --all_reduce_spec nccl` on CPU devices: the host reduction, checked by
// run_allreduce itself (InternalError on a wrong mean or sum), for every spec and op alike.
TEST(StrategiesTest, AllReduceMicrobenchmarkRunsEverySpec) {
  for (const char* op : {"mean", "sum"}) {
    for (const char* spec : {"copy", "ring", "nccl"}) {
      auto c = base(3, 1);
      c.all_reduce_spec = spec;
      c.inter_op_threads = 1;
      const auto rows = bench::run_allreduce(c, 1 << 10, 1 << 14, 2, op);
      ASSERT_EQ(rows.size(), 3u) << spec << " " << op;
      EXPECT_EQ(rows.back().bytes, 1 << 14) << spec;
      EXPECT_GT(rows.back().time_us, 0.0) << spec;
    }
  }
  EXPECT_THROW(bench::run_allreduce(base(2, 1), 1 << 10, 1 << 10, 1, "max"),
               sf::InvalidArgumentError);
  EXPECT_THROW(bench::run_allreduce(base(2, 1), 1 << 10, 1 << 10, 1, "sum", 0),
               sf::InvalidArgumentError);
}

// --rounds R: R all-reduces per Session run, each on the fed inputs (so the last round's sum is
// checked against the same value by run_allreduce), the time reported per all-reduce.
TEST(StrategiesTest, AllReduceRoundsRunBackToBack) {
  for (const char* spec : {"copy", "nccl"}) {
    auto c = base(3, 1);
    c.all_reduce_spec = spec;
    const auto one = bench::run_allreduce(c, 1 << 12, 1 << 12, 2, "sum", 1);
    const auto rows = bench::run_allreduce(c, 1 << 12, 1 << 12, 2, "sum", 5);
    ASSERT_EQ(rows.size(), 1u) << spec;
    EXPECT_EQ(rows[0].rounds, 5) << spec;
    // Every round runs in the timed Session run: 5 times one round's nodes, plus the K
    // Identities that order rounds 2..5 after the one before.
    ASSERT_EQ(one.size(), 1u);
    EXPECT_EQ(rows[0].nodes_per_run, 5 * one[0].nodes_per_run + 4 * 3) << spec;
    EXPECT_GT(rows[0].time_us, 0.0) << spec;
    EXPECT_NEAR(rows[0].algbw_gb_per_s, (1 << 12) / rows[0].time_us * 1e-3,
                1e-6 * rows[0].algbw_gb_per_s)
        << spec;
  }
}

}  // namespace

namespace {

TEST(CostModelTest, BytesAndTimesPerStrategy) {
  bench::CostInputs in;
  in.compute_ms = 10;
  in.param_bytes = 100e6;
  in.towers = 4;
  in.compute_units = 4;
  in.link_gb_per_s = 10;
  in.ps_link_gb_per_s = 20;
  in.batch = 32;
  std::map<std::string, bench::Prediction> by;
  for (const auto& p : bench::predict(in)) by[p.strategy] = p;
  EXPECT_DOUBLE_EQ(by["replicated/copy"].bottleneck_bytes, 300e6);
  EXPECT_DOUBLE_EQ(by["replicated/copy"].comm_ms, 30.0);
  EXPECT_DOUBLE_EQ(by["replicated/copy"].step_ms, 40.0);
  EXPECT_DOUBLE_EQ(by["replicated/copy"].step_ms_overlap, 30.0);
  EXPECT_DOUBLE_EQ(by["replicated/ring (model)"].bottleneck_bytes, 150e6);
  // NCCL's ring: 2 (K-1)/K x S over each link.
  EXPECT_DOUBLE_EQ(by["replicated/nccl"].bottleneck_bytes, 150e6);
  EXPECT_DOUBLE_EQ(by["replicated/nccl"].comm_ms, 15.0);
  EXPECT_DOUBLE_EQ(by["parameter_server/cpu"].comm_ms, 400e6 / 20e9 * 1e3);
  EXPECT_DOUBLE_EQ(by["parameter_server/gpu"].bottleneck_bytes, 150e6);
  EXPECT_DOUBLE_EQ(by["independent"].step_ms, 10.0);
  EXPECT_DOUBLE_EQ(by["independent"].images_per_sec, 4 * 32 / 0.010);
  // Four logical devices on one compute unit queue their compute.
  in.compute_units = 1;
  for (const auto& p : bench::predict(in)) EXPECT_DOUBLE_EQ(p.compute_ms, 40.0) << p.strategy;
  EXPECT_DOUBLE_EQ(bench::ring_allreduce_ms(100e6, 4, 10), 15.0);
  EXPECT_EQ(bench::ring_allreduce_ms(100e6, 1, 10), 0.0);
  EXPECT_NE(bench::explain_text(in, 25, 300, 12.5).find("8 GPUs"), std::string::npos);
}

// The shared-device model with the H200 run's inputs (K = 4 logical GPUs on one card, V = 8
// variables of 13.1 MB in all, C(128) = 1.34 ms, C(512) = 3.31 ms, 1,300 GB/s) and made-up
// per-transfer costs.
bench::CostInputs shared_inputs() {
  bench::CostInputs in;
  in.compute_ms = 1.34;
  in.packed_compute_ms = 3.31;
  in.param_bytes = 13.1e6;
  in.towers = 4;
  in.compute_units = 1;
  in.link_gb_per_s = 1300;
  in.ps_link_gb_per_s = 50;
  in.batch = 128;
  in.copy_ms = 0.02;
  in.ps_copy_ms = 0.03;
  in.collective_ms = 0.05;
  in.variables = 8;
  return in;
}

TEST(CostModelTest, SharedModelPacksTheComputeOfTowersSharingAUnit) {
  auto in = shared_inputs();
  for (const auto& p : bench::predict_shared(in))
    EXPECT_DOUBLE_EQ(p.compute_ms, 3.31) << p.strategy;
  // The serializing model is unchanged: 4 x C(b).
  for (const auto& p : bench::predict(in)) EXPECT_DOUBLE_EQ(p.compute_ms, 4 * 1.34) << p.strategy;
  // Bounded below by one tower's C(b).
  in.packed_compute_ms = 1.0;
  for (const auto& p : bench::predict_shared(in)) EXPECT_DOUBLE_EQ(p.compute_ms, 1.34);
  // On logical CPU devices: the towers' independent step when measured (there K towers
  // contend for the host's cores; the packed tower is no proxy), else as on GPUs.
  in.packed_compute_ms = 3.31;
  in.towers_step_ms = 4.5;
  for (const auto& p : bench::predict_shared(in)) EXPECT_DOUBLE_EQ(p.compute_ms, 3.31);
  in.cpu_devices = true;
  for (const auto& p : bench::predict_shared(in)) EXPECT_DOUBLE_EQ(p.compute_ms, 4.5);
  EXPECT_NE(bench::explain_text(in, 25, 300, 12.5).find("the 4 towers' independent step"),
            std::string::npos);
  in.towers_step_ms = 0;
  for (const auto& p : bench::predict_shared(in)) EXPECT_DOUBLE_EQ(p.compute_ms, 3.31);
  in.cpu_devices = false;
  // Not measured: K/U x C(b).
  in.packed_compute_ms = 0;
  for (const auto& p : bench::predict_shared(in)) EXPECT_DOUBLE_EQ(p.compute_ms, 4 * 1.34);
  // K <= U: one tower's C(b), whatever the packed run said.
  in.compute_units = 4;
  in.packed_compute_ms = 3.31;
  for (const auto& p : bench::predict_shared(in)) EXPECT_DOUBLE_EQ(p.compute_ms, 1.34);
  // 4 towers on 2 units: two per unit, C(2b) measured.
  in.compute_units = 2;
  in.packed_compute_ms = 2.0;
  for (const auto& p : bench::predict_shared(in)) EXPECT_DOUBLE_EQ(p.compute_ms, 2.0);
}

TEST(CostModelTest, SharedModelAddsTheCostOfEveryTransfer) {
  const auto in = shared_inputs();
  std::map<std::string, bench::SharedPrediction> by;
  for (const auto& p : bench::predict_shared(in)) by[p.strategy] = p;
  std::map<std::string, bench::Prediction> old;
  for (const auto& p : bench::predict(in)) old[p.strategy] = p;
  // replicated/copy: 8 gradients x 3 towers to device 0 and 8 means x 3 back, 3 losses.
  const auto& copy = by["replicated/copy"];
  EXPECT_DOUBLE_EQ(copy.transfers.worker_copies, 2 * 8 * 3 + 3);
  EXPECT_DOUBLE_EQ(copy.transfers.host_copies, 0);
  EXPECT_DOUBLE_EQ(copy.bandwidth_ms, old["replicated/copy"].comm_ms);
  EXPECT_DOUBLE_EQ(copy.transfer_ms, 51 * 0.02);
  EXPECT_DOUBLE_EQ(copy.comm_ms, copy.bandwidth_ms + 51 * 0.02);
  EXPECT_DOUBLE_EQ(copy.step_ms, 3.31 + copy.comm_ms);
  EXPECT_DOUBLE_EQ(copy.step_ms_overlap, 3.31);
  EXPECT_DOUBLE_EQ(copy.images_per_sec, 4 * 128 / (copy.step_ms * 1e-3));
  // nccl: one collective per variable, no gradient copies.
  const auto& nccl = by["replicated/nccl"];
  EXPECT_DOUBLE_EQ(nccl.transfers.collectives, 8);
  EXPECT_DOUBLE_EQ(nccl.transfers.worker_copies, 3);
  EXPECT_DOUBLE_EQ(nccl.transfer_ms, 8 * 0.05 + 3 * 0.02);
  // ring: 2 K (K-1) segments per gradient.
  EXPECT_DOUBLE_EQ(by["replicated/ring (model)"].transfers.worker_copies, 2 * 8 * 4 * 3 + 3);
  // parameter_server on CPU:0 with GPU workers: every tower reads and sends 8 over the host.
  EXPECT_DOUBLE_EQ(by["parameter_server/cpu"].transfers.host_copies, 2 * 8 * 4);
  EXPECT_DOUBLE_EQ(by["parameter_server/cpu"].transfer_ms, 64 * 0.03 + 3 * 0.02);
  // ...over the host link, which overlaps the compute: 4 x 13.1 MB at 50 GB/s and 64 copies
  // against the packed compute and the 3 losses' copies on the card.
  const auto& ps_cpu = by["parameter_server/cpu"];
  EXPECT_DOUBLE_EQ(ps_cpu.host_ms, 4 * 13.1e6 / 50e9 * 1e3 + 64 * 0.03);
  EXPECT_DOUBLE_EQ(ps_cpu.step_ms, 3.31 + 3 * 0.02);  // the host's 2.97 ms hide under it
  {
    auto slow = in;  // a 10 GB/s host link: 5.24 + 1.92 ms, longer than the compute
    slow.ps_link_gb_per_s = 10;
    for (const auto& p : bench::predict_shared(slow))
      if (p.strategy == "parameter_server/cpu") {
        EXPECT_DOUBLE_EQ(p.host_ms, 4 * 13.1e6 / 10e9 * 1e3 + 64 * 0.03);
        EXPECT_DOUBLE_EQ(p.step_ms, p.host_ms);
      }
  }
  {
    // A machine whose host copies do not overlap the compute (measured overlap 0): serial; half
    // of it: half the hidden part.
    auto serial = in;
    serial.host_overlap = 0;
    auto half = in;
    half.host_overlap = 0.5;
    for (const auto& p : bench::predict_shared(serial))
      if (p.strategy == "parameter_server/cpu") {
        EXPECT_DOUBLE_EQ(p.step_ms, p.compute_ms + p.comm_ms);
        EXPECT_DOUBLE_EQ(p.host_ms, ps_cpu.host_ms);
      }
    for (const auto& p : bench::predict_shared(half))
      if (p.strategy == "parameter_server/cpu") {
        EXPECT_DOUBLE_EQ(p.step_ms, p.compute_ms + p.comm_ms - 0.5 * p.host_ms);
      }
    // The other strategies have no host part: the overlap changes nothing for them.
    std::map<std::string, double> base;
    for (const auto& [name, p] : by) base[name] = p.step_ms;
    for (const auto& p : bench::predict_shared(serial))
      if (p.strategy != "parameter_server/cpu") {
        EXPECT_DOUBLE_EQ(p.step_ms, base[p.strategy]) << p.strategy;
      }
  }
  for (const auto& [name, p] : by)
    if (name != "parameter_server/cpu") {
      EXPECT_DOUBLE_EQ(p.host_ms, 0) << name;
    }
  // spread over the workers: 8 reads and 8 gradients from 3 towers, the learning rate to 3.
  EXPECT_DOUBLE_EQ(by["parameter_server/gpu"].transfers.worker_copies, 2 * 8 * 3 + 3 + 3);
  EXPECT_DOUBLE_EQ(by["independent"].transfers.worker_copies, 3);
  EXPECT_DOUBLE_EQ(by["independent"].step_ms, 3.31 + 3 * 0.02);
  // Repacked into 2 buffers: 2 transfers per direction and tower, 2 collectives.
  auto packed = in;
  packed.gradient_repacking = 2;
  EXPECT_DOUBLE_EQ(bench::transfers_per_step("replicated/copy", packed).worker_copies,
                   2 * 2 * 3 + 3);
  EXPECT_DOUBLE_EQ(bench::transfers_per_step("replicated/nccl", packed).collectives, 2);
  // With the executor's counts for one strategy.
  const auto counted = bench::predict_shared(in, "replicated/copy", {.worker_copies = 48});
  EXPECT_DOUBLE_EQ(counted.transfer_ms, 48 * 0.02);
  // One tower transfers nothing.
  auto one = in;
  one.towers = 1;
  for (const auto& p : bench::predict_shared(one)) {
    EXPECT_DOUBLE_EQ(p.transfer_ms, 0) << p.strategy;
    EXPECT_DOUBLE_EQ(p.compute_ms, 1.34) << p.strategy;
  }
  const auto text = bench::explain_text(in, 25, 300, 12.5);
  EXPECT_NE(text.find("worker copies cost 0.0200 ms each (measured alone)"), std::string::npos);
  EXPECT_NE(text.find("Serializing model (JSON predicted_step_ms)"), std::string::npos);
  EXPECT_NE(text.find("Shared-device model (JSON predicted_step_ms_shared)"), std::string::npos);
}

// Measured in the shape a step has: the worker copies' cost while the devices compute, and
// parameter_server/cpu's host traffic as a whole (all workers at once, with its copies).
TEST(CostModelTest, SharedModelUsesTheCostsMeasuredInAStep) {
  auto in = shared_inputs();
  in.copy_in_step_ms = 0.005;
  in.host_link_ms = 5.0;
  in.host_overlap = 0.25;
  std::map<std::string, bench::SharedPrediction> by;
  for (const auto& p : bench::predict_shared(in)) by[p.strategy] = p;
  // Worker copies at the in-step cost; collectives unchanged.
  EXPECT_DOUBLE_EQ(by["replicated/copy"].transfer_ms, 51 * 0.005);
  EXPECT_DOUBLE_EQ(by["parameter_server/gpu"].transfer_ms, 54 * 0.005);
  EXPECT_DOUBLE_EQ(by["replicated/nccl"].transfer_ms, 8 * 0.05 + 3 * 0.005);
  EXPECT_DOUBLE_EQ(by["independent"].step_ms, 3.31 + 3 * 0.005);
  // parameter_server/cpu: the measured 5 ms is its host part (bytes and host copies); the 3
  // losses' copies stay on the card. Serial 3.31 + 5 + 0.015, a quarter of the compute hides.
  const auto& ps = by["parameter_server/cpu"];
  EXPECT_DOUBLE_EQ(ps.bandwidth_ms, 5.0);
  EXPECT_DOUBLE_EQ(ps.host_ms, 5.0);
  EXPECT_DOUBLE_EQ(ps.transfer_ms, 3 * 0.005);
  EXPECT_DOUBLE_EQ(ps.step_ms, 3.31 + 5.0 + 0.015 - 0.25 * (3.31 + 0.015));
  // Host copies the executor made beyond the 2 V K reads and gradients cost one by one.
  const auto counted = bench::predict_shared(in, "parameter_server/cpu",
                                             {.worker_copies = 3, .host_copies = 2 * 8 * 4 + 1});
  EXPECT_DOUBLE_EQ(counted.transfer_ms, 3 * 0.005 + 1 * 0.03);
  // One tower per compute unit: the host part is serial, from bytes / rate (the calibration
  // runs only where towers share a unit).
  auto own = in;
  own.compute_units = 4;
  for (const auto& p : bench::predict_shared(own))
    if (p.strategy == "parameter_server/cpu") {
      EXPECT_DOUBLE_EQ(p.host_ms, 0);
      EXPECT_DOUBLE_EQ(p.bandwidth_ms, 4 * 13.1e6 / 50e9 * 1e3);
      EXPECT_DOUBLE_EQ(p.step_ms, 1.34 + p.comm_ms);
    }
  const auto text = bench::explain_text(in, 25, 300, 12.5);
  EXPECT_NE(text.find("0.0050 ms each (measured while the devices compute)"), std::string::npos);
  EXPECT_NE(text.find("host part: 5.0000 ms (measured)"), std::string::npos);
}

// The transfers counted from the graph's construction are the copy nodes and collective steps
// the executor runs in a step (logical CPU devices, K = 3, every strategy).
// Every synchronous strategy and independent.
std::vector<Strategy> every_strategy() {
  std::vector<Strategy> all(std::begin(kSynchronous), std::end(kSynchronous));
  all.push_back({"independent", [](bench::BenchConfig& c) { c.variable_update = "independent"; }});
  return all;
}

// A run of `s` with K towers of 2 (or 4 on GPUs) for `batches` steps, and the transfers the
// cost model counts for it from the graph's construction.
struct CountedRun {
  bench::BenchConfig config;
  bench::BenchResult result;
  bench::Transfers formula;
};
CountedRun counted_run(const Strategy& s, int k, bool gpu, int batches) {
  CountedRun out{base(k, gpu ? 4 : 2), {}, {}};
  out.config.num_batches = batches;
  if (gpu) out.config.device = "gpu";
  s.apply(out.config);
  out.result = bench::run_benchmark(out.config);
  bench::CostInputs in;
  in.towers = k;
  in.variables = static_cast<int>(out.result.placement.size());
  in.gradient_repacking = out.config.gradient_repacking;
  in.cpu_devices = !gpu;
  out.formula = bench::transfers_per_step(bench::strategy_key(out.config), in);
  return out;
}

TEST(CostModelTest, TransfersPerStepMatchTheExecutor) {
  for (const auto& s : every_strategy()) {
    const auto [c, r, t] = counted_run(s, 3, false, 1);
    EXPECT_EQ(t.worker_copies, static_cast<double>(r.copies_per_step)) << s.name;
    EXPECT_EQ(t.host_copies, 0) << s.name;
    EXPECT_EQ(r.host_copies_per_step, 0) << s.name;
    EXPECT_EQ(t.collectives, static_cast<double>(r.collectives_per_step)) << s.name;
  }
}

// Per-transfer costs on logical CPU devices: measured, finite and >= 0 (copies share memory,
// so near 0); nothing to measure for one device.
// The step lines' statistics are tf_cnn_benchmarks' get_perf_timing: images / mean step time
// (so they agree with the total; the arithmetic mean of the rates read 222.9 here, the total
// 103.5), np.std (dividing by n) / sqrt(n), 1.4826 x the median absolute deviation.
TEST(RateStatsTest, AsTfCnnBenchmarksGetPerfTiming) {
  const auto s = bench::rate_stats({59.8, 386.0});
  EXPECT_NEAR(s.mean, 2.0 / (1 / 59.8 + 1 / 386.0), 1e-9);
  EXPECT_NEAR(s.mean, 103.56, 0.01);
  EXPECT_NEAR(s.stderr_, (386.0 - 59.8) / 2 / std::sqrt(2.0), 1e-9);
  EXPECT_NEAR(s.jitter, 1.4826 * (386.0 - 59.8) / 2, 1e-9);
  const auto one = bench::rate_stats({50.0});
  EXPECT_EQ(one.mean, 50.0);
  EXPECT_EQ(one.stderr_, 0.0);
  EXPECT_EQ(one.jitter, 0.0);
}

TEST(CostModelTest, TransferCostsOnCpuDevices) {
  auto c = base(2, 2);
  const auto costs = bench::measure_transfer_costs(c);
  for (double ms : {costs.copy_ms, costs.ps_copy_ms, costs.collective_ms}) {
    EXPECT_GE(ms, 0.0);
    EXPECT_LT(ms, 5.0);
  }
  EXPECT_EQ(costs.ps_copy_ms, costs.copy_ms);
  EXPECT_FALSE(costs.copy_in_step_ms.has_value());  // not asked for
  // Beside the towers' own step: measured, with that step's time.
  const auto busy = bench::measure_transfer_costs(c, /*in_step=*/true);
  ASSERT_TRUE(busy.copy_in_step_ms.has_value());
  EXPECT_LT(*busy.copy_in_step_ms, 5.0);  // shared memory: near 0
  EXPECT_GT(busy.step_ms, 0.0);
  EXPECT_LT(busy.step_ms, 10000.0);
  EXPECT_EQ(busy.step_copies, bench::kStepCopies);  // each crossing tensor one copy
  const auto none = bench::measure_transfer_costs(base(1, 2), /*in_step=*/true);
  EXPECT_EQ(none.copy_ms, 0.0);
  EXPECT_EQ(none.collective_ms, 0.0);
  EXPECT_FALSE(none.copy_in_step_ms.has_value());
}

// The host-overlap calibration's graphs run (sf-bench uses it on GPUs that towers share; on
// logical CPU devices the copies share memory, so what it finds there means little).
TEST(CostModelTest, HostOverlapCalibrationRunsOnCpuDevices) {
  auto c = base(2, 2);
  const auto h = bench::measure_host_overlap(c, {4 << 20, 128 * 1024, 4});
  // Worker 1's reads of the 3 variables from CPU:0 and its 3 tensors back (worker 0 is CPU:0).
  EXPECT_EQ(h.step_copies, 6);
  // CPU:0's mean of 2 x 4 MiB and SGD update of 4 MiB (about 32 MiB of memory traffic) take
  // longer than reading its inputs; with Adam's slots too.
  EXPECT_GT(h.update_ms, 0.0);
  c.optimizer = "adam";
  EXPECT_GT(bench::measure_host_overlap(c, {4 << 20, 4}).update_ms, 0.0);
  // No variables: nothing to copy or update, and no error.
  const auto none = bench::measure_host_overlap(base(2, 2), {});
  EXPECT_EQ(none.step_copies, 0);
  EXPECT_EQ(none.update_ms, 0.0);
  for (double ms : {h.copies_ms, h.compute_ms, h.both_ms}) {
    EXPECT_GT(ms, 0.0);
    EXPECT_LT(ms, 10000.0);
  }
  EXPECT_GE(h.overlap, 0.0);
  EXPECT_LE(h.overlap, 1.0);
  // The host part with CPU:0's mean and update in it: the copies are free between logical CPU
  // devices, so what it adds to the traffic alone is about that update (measured here at 0.8 to
  // 1.1 ms against update_ms 0.76 to 0.83; 0 without it).
  EXPECT_GT(h.part_copies_ms - h.copies_ms, 0.25 * h.update_ms);
  EXPECT_GT(h.part_ms, 0.0);
  EXPECT_GT(h.part_both_ms, 0.0);
  EXPECT_GE(h.part_overlap, 0.0);
  EXPECT_LE(h.part_overlap, 1.0);
  EXPECT_EQ(none.part_ms, 0.0);
}

}  // namespace

namespace {

// --dump_graph on a real tower graph (gradients, cross-cluster edges): graphviz lays it out.
TEST(DumpGraphTest, TowerGraphRendersWithGraphviz) {
  if (std::system("command -v dot >/dev/null 2>&1") != 0) GTEST_SKIP() << "graphviz dot not found";
  auto c = base(2, 2);
  c.variable_update = "replicated";
  c.num_batches = 1;
  c.dump_graph = ::testing::TempDir() + "sf_bench_graph.dot";
  bench::run_benchmark(c);
  const std::string cmd = "dot -Tsvg '" + c.dump_graph + "' -o /dev/null 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << "dot rejected " << c.dump_graph;
}

}  // namespace

namespace {

// The same on GPUs (the GPU check runs these; they skip without a GPU): logical GPUs split
// from one card when there are fewer cards than towers, the copy and ring all-reduce then run
// on ScopeFlow's CUDA kernels (AddN) and device-to-device copies.
// Also with the copies between the logical GPUs on their own streams
// (SessionOptions::inbound_copy_streams): the same numbers, whatever the streams' timing.
TEST(StrategiesGpuTest, KTowersEqualOneTowerWithKTimesTheBatch) {
  if (sf::devices::gpu_inventory().gpus.empty())
    GTEST_SKIP() << "GPU:0 unavailable: " << sf::devices::gpu_inventory().unavailable_reason;
  constexpr std::int64_t b = 3;
  for (int k : {1, 2, 4}) {
    auto ref_config = base(1, k * b);
    ref_config.device = "gpu";
    auto reference = bench::run_benchmark(ref_config);
    for (const bool inbound : {false, true}) {
      for (const auto& s : kSynchronous) {
        auto c = base(k, b);
        c.device = "gpu";
        c.inbound_copy_streams = inbound;
        s.apply(c);
        auto r = bench::run_benchmark(c);
        EXPECT_LE(relative_difference(r.parameters, reference.parameters), 1e-5)
            << s.name << " with K=" << k << " on GPUs, inbound_copy_streams " << inbound;
        EXPECT_EQ(r.max_copy_divergence, 0.0) << s.name << " on GPUs";
      }
    }
  }
}

// The executor's copy counts on GPUs: host copies are the copies that ran between CPU:0 and a
// GPU (session 8's count took the plan's copy edges, among them the towers' device-resident
// feeds, and found 8 host copies in strategies that make none, more than the 3 copies that ran);
// the rest are the worker copies the cost model counts from the graph.
TEST(StrategiesGpuTest, HostCopiesAreTheCopiesThatRan) {
  if (sf::devices::gpu_inventory().gpus.empty())
    GTEST_SKIP() << "GPU:0 unavailable: " << sf::devices::gpu_inventory().unavailable_reason;
  for (const auto& s : every_strategy()) {
    const auto [c, r, t] = counted_run(s, 2, true, 2);
    EXPECT_EQ(static_cast<double>(r.copies_per_step - r.host_copies_per_step), t.worker_copies)
        << s.name;
    if (c.variable_update == "parameter_server" && c.local_parameter_device == "cpu") {
      // 2 V K, and one scalar more on the executor's side (docs/placement.md).
      EXPECT_GE(r.host_copies_per_step, static_cast<std::int64_t>(t.host_copies)) << s.name;
      EXPECT_LE(r.host_copies_per_step, static_cast<std::int64_t>(t.host_copies) + 1) << s.name;
    } else {
      EXPECT_EQ(r.host_copies_per_step, 0) << s.name;
    }
  }
}

// The in-step calibrations on GPUs: every crossing tensor beside the towers' step is one copy
// between logical GPUs, and parameter_server/cpu's traffic is 2 x variables x workers host
// copies (each worker's reads and its bytes back), with or without page-locked host memory.
TEST(StrategiesGpuTest, InStepCalibrationsRunTheirCopies) {
  if (sf::devices::gpu_inventory().gpus.empty())
    GTEST_SKIP() << "GPU:0 unavailable: " << sf::devices::gpu_inventory().unavailable_reason;
  for (const bool pinned : {false, true}) {
    auto c = base(2, 4);
    c.device = "gpu";
    c.pin_host_memory = pinned;
    const auto costs = bench::measure_transfer_costs(c, /*in_step=*/true);
    ASSERT_TRUE(costs.copy_in_step_ms.has_value());
    EXPECT_EQ(costs.step_copies, bench::kStepCopies) << "pinned " << pinned;
    EXPECT_GT(costs.step_ms, 0.0);
    const auto h = bench::measure_host_overlap(c, {128 * 1024, 128 * 1024, 4});
    EXPECT_EQ(h.step_copies, 2 * 3 * 2) << "pinned " << pinned;
    EXPECT_GE(h.overlap, 0.0);
    EXPECT_LE(h.overlap, 1.0);
    EXPECT_GT(h.part_ms, 0.0) << "pinned " << pinned;
    EXPECT_GE(h.part_overlap, 0.0);
    EXPECT_LE(h.part_overlap, 1.0);
  }
}

// --pin_host_memory changes where the CPU's bytes live, not what is computed:
// parameter_server/cpu with 2 GPU towers ends with the same parameters either way.
TEST(StrategiesGpuTest, PinnedHostMemoryTrainsTheSame) {
  if (sf::devices::gpu_inventory().gpus.empty())
    GTEST_SKIP() << "GPU:0 unavailable: " << sf::devices::gpu_inventory().unavailable_reason;
  auto c = base(2, 4);
  c.device = "gpu";
  (void)bench::run_benchmark(c);  // cuDNN's algorithm choices made and cached first
  const auto pageable = bench::run_benchmark(c);
  c.pin_host_memory = true;
  const auto pinned = bench::run_benchmark(c);
  EXPECT_EQ(pinned.placement.front().device, "/device:CPU:0");
  EXPECT_LE(relative_difference(pinned.parameters, pageable.parameters), 1e-6);
  EXPECT_EQ(pinned.host_copies_per_step, pageable.host_copies_per_step);
}

// One tower trained on GPU:0 ends where the CPU run ends (float32 on both; cuDNN/cuBLAS in
// FP32 mode, different summation orders: 1e-4 relative after 10 steps).
TEST(StrategiesGpuTest, GpuTrainingMatchesTheCpu) {
  if (sf::devices::gpu_inventory().gpus.empty())
    GTEST_SKIP() << "GPU:0 unavailable: " << sf::devices::gpu_inventory().unavailable_reason;
  auto c = base(1, 8);
  c.variable_update = "replicated";  // the variables live with the tower (GPU:0)
  auto cpu = bench::run_benchmark(c);
  c.device = "gpu";
  auto gpu = bench::run_benchmark(c);
  EXPECT_LE(relative_difference(gpu.parameters, cpu.parameters), 1e-4);
  EXPECT_EQ(gpu.placement.front().device, "/device:GPU:0");
}

}  // namespace
