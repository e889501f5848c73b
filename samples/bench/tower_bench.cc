// See tower_bench.h.
#include "samples/bench/tower_bench.h"

#include <scopeflow/scopeflow.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <numeric>
#include <optional>
#include <set>
#include <sstream>

#include "runtime/session/collective.h"
#include "runtime/session/timeline.h"
#include "samples/common/output_file.h"

namespace scopeflow::bench {
namespace {

struct ModelSpec {
  std::int64_t height, width, channels;
  int classes = 10;
};

ModelSpec model_spec(const std::string& model) {
  if (model == "fashion_cnn") return {28, 28, 1};
  if (model == "cifar_cnn") return {32, 32, 3};
  if (model == "tiny_cnn") return {8, 8, 1};
  throw InvalidArgumentError(
      str_cat("--model: unknown model '", model, "' (fashion_cnn, cifar_cnn, tiny_cnn)"));
}

Output conv(const Output& x, std::int64_t k, std::int64_t in, std::int64_t out, double bias) {
  auto w = get_variable("weights", {k, k, in, out},
                        {.initializer = truncated_normal_initializer(0.0, 0.1)});
  auto b = get_variable("biases", {out}, {.initializer = constant_initializer(bias)});
  return nn::relu(nn::bias_add(nn::conv2d(x, w, {1, 1, 1, 1}, "SAME"), b));
}

Output pool(const Output& x) { return nn::max_pool(x, {1, 2, 2, 1}, {1, 2, 2, 1}, "SAME"); }

Output dense(const Output& x, std::int64_t in, std::int64_t out, bool relu, double bias) {
  auto w =
      get_variable("weights", {in, out}, {.initializer = truncated_normal_initializer(0.0, 0.1)});
  auto b = get_variable("biases", {out}, {.initializer = constant_initializer(bias)});
  auto y = nn::bias_add(matmul(x, w), b);
  return relu ? nn::relu(y) : y;
}

// The models, built in the current variable scope: images [B, H, W, C] -> logits [B, 10].
Output build_model(const std::string& model, const Output& images, std::int64_t batch) {
  Output h = images;
  auto layer = [&](const char* name, auto&& fn) {
    variable_scope s(name);
    h = fn(h);
  };
  if (model == "fashion_cnn") {  // TF's Fashion-MNIST convnet (sf-train's model, no dropout)
    layer("conv1", [](const Output& x) { return pool(conv(x, 5, 1, 32, 0.1)); });
    layer("conv2", [](const Output& x) { return pool(conv(x, 5, 32, 64, 0.1)); });
    h = reshape(h, {batch, 7 * 7 * 64});
    layer("fc1", [](const Output& x) { return dense(x, 7 * 7 * 64, 1024, true, 0.1); });
    layer("fc2", [](const Output& x) { return dense(x, 1024, 10, false, 0.1); });
  } else if (model == "cifar_cnn") {  // VGG-style: 64-64-pool-128-128-pool-256-pool-dense
    layer("conv1", [](const Output& x) { return conv(x, 3, 3, 64, 0.0); });
    layer("conv2", [](const Output& x) { return pool(conv(x, 3, 64, 64, 0.0)); });
    layer("conv3", [](const Output& x) { return conv(x, 3, 64, 128, 0.0); });
    layer("conv4", [](const Output& x) { return pool(conv(x, 3, 128, 128, 0.0)); });
    layer("conv5", [](const Output& x) { return pool(conv(x, 3, 128, 256, 0.0)); });
    h = reshape(h, {batch, 4 * 4 * 256});
    layer("fc", [](const Output& x) { return dense(x, 4 * 4 * 256, 10, false, 0.0); });
  } else {  // tiny_cnn: the strategies' tests
    layer("conv1", [](const Output& x) { return pool(conv(x, 3, 1, 4, 0.1)); });
    h = reshape(h, {batch, 4 * 4 * 4});
    layer("fc", [](const Output& x) { return dense(x, 4 * 4 * 4, 10, false, 0.1); });
  }
  return h;
}

std::unique_ptr<train::Optimizer> make_optimizer(const BenchConfig& c) {
  if (c.optimizer == "sgd")
    return std::make_unique<train::GradientDescentOptimizer>(c.learning_rate);
  if (c.optimizer == "momentum")
    return std::make_unique<train::MomentumOptimizer>(c.learning_rate, c.momentum);
  if (c.optimizer == "rmsprop")
    return std::make_unique<train::RMSPropOptimizer>(c.learning_rate, c.rmsprop_decay,
                                                     c.rmsprop_momentum, c.rmsprop_epsilon);
  return std::make_unique<train::AdamOptimizer>(c.learning_rate);
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::string format_step(int step, const RateStats& s, double loss) {
  char line[160];
  std::snprintf(line, sizeof line, "%d\timages/sec: %.1f +/- %.1f (jitter = %.1f)\t%.3f", step,
                s.mean, s.stderr_, s.jitter, loss);
  return line;
}

std::string worker_device(const BenchConfig& c, int i) {
  return str_cat(c.device == "gpu" ? "/device:GPU:" : "/device:CPU:", i);
}

}  // namespace

RateStats rate_stats(const std::vector<double>& rates) {
  RateStats s;
  if (rates.empty()) return s;
  const double n = static_cast<double>(rates.size());
  double inverse = 0, sum = 0;
  for (double r : rates) inverse += 1.0 / r, sum += r;
  s.mean = n / inverse;
  const double arithmetic = sum / n;
  double var = 0;
  for (double r : rates) var += (r - arithmetic) * (r - arithmetic);
  s.stderr_ = std::sqrt(var / n) / std::sqrt(n);
  const double m = median(rates);
  std::vector<double> dev;
  for (double r : rates) dev.push_back(std::abs(r - m));
  s.jitter = 1.4826 * median(dev);
  return s;
}

bool towers_share_first_card(int towers) {
  return static_cast<int>(devices::gpu_inventory().gpus.size()) < towers;
}

int compute_units(const BenchConfig& c) {
  return c.device == "cpu" || towers_share_first_card(c.num_devices) ? 1 : c.num_devices;
}

BenchConfig independent_config(const BenchConfig& c) {
  BenchConfig s = c;
  s.variable_update = "independent";
  s.local_parameter_device = "cpu";
  s.ps_strategy = "round_robin";
  s.all_reduce_spec = "";
  s.gradient_repacking = 0;
  s.dump_graph.clear();
  s.trace_file.clear();
  return s;
}

namespace {

// Per tower i, the tensors that are all-reduced: the gradients themselves, or with
// --gradient_repacking P, all of them flattened, joined and cut into P near-equal chunks.
std::vector<Output> pack(const BenchConfig& c, int i, const GradsAndVars& g, std::int64_t* total) {
  std::vector<Output> out;
  if (c.gradient_repacking == 0) {
    for (const auto& [grad, var] : g) out.push_back(grad);
    return out;
  }
  device d(worker_device(c, i));
  name_scope ns("pack");
  std::vector<Output> flat;
  *total = 0;
  for (const auto& [grad, var] : g) {
    const std::int64_t n = var.shape().num_elements();
    flat.push_back(reshape(grad, {n}));
    *total += n;
  }
  Output all = concat(flat, 0);
  if (c.gradient_repacking > *total)  // an empty buffer each beyond them: refused, not clamped
    throw InvalidArgumentError(str_cat("--gradient_repacking ", c.gradient_repacking,
                                       " is more than the model's ", *total, " gradient elements"));
  const std::int64_t p = c.gradient_repacking;
  std::vector<std::int64_t> sizes;
  for (std::int64_t q = 0; q < p; ++q) sizes.push_back((*total * (q + 1)) / p - (*total * q) / p);
  return split(all, sizes, 0);
}

// The inverse of pack() for tower i: chunks joined, cut per variable, reshaped.
std::vector<Output> unpack(const BenchConfig& c, int i, const GradsAndVars& g,
                           const std::vector<Output>& chunks) {
  if (c.gradient_repacking == 0) return chunks;
  device d(worker_device(c, i));
  name_scope ns("unpack");
  Output all = chunks.size() == 1 ? chunks[0] : concat(chunks, 0);
  std::vector<std::int64_t> sizes;
  for (const auto& [grad, var] : g) sizes.push_back(var.shape().num_elements());
  auto pieces = split(all, sizes, 0);
  std::vector<Output> out;
  for (std::size_t j = 0; j < g.size(); ++j)
    out.push_back(reshape(pieces[j], g[j].second.shape().dims()));
  return out;
}

// One tensor per tower -> the mean on every tower's device, by --all_reduce_spec:
//   copy: summed in tower order on device 0, scaled, read by every device;
//   ring: cut into K segments; a ring reduce-scatter (K-1 steps, tower i adds what tower i-1
//     sends) leaves segment (i+1) mod K complete on tower i, which scales it; every tower then
//     gathers the K complete segments and joins them. Each segment is reduced once, so every
//     tower ends with the same bits.
std::vector<Output> all_reduce_one(const BenchConfig& c, const std::vector<Output>& x,
                                   std::int64_t elements, bool mean = true) {
  const int k = static_cast<int>(x.size());
  const double inv_k = 1.0 / k;
  // The sum alone (nccl-tests' all_reduce_perf) or the mean (the strategy's exchange).
  auto scaled = [&](const Output& v) { return mean ? v * inv_k : v; };
  if (c.all_reduce_spec == "nccl") {
    // One NcclAllReduce group (the session's collective step), then 1/K on each device: every
    // device gets the same sum bits, so the means are identical too.
    auto sums = nccl::all_sum(x);
    std::vector<Output> out;
    for (int i = 0; i < k; ++i) {
      device d(worker_device(c, i));
      name_scope ns("nccl_mean");
      out.push_back(scaled(sums[static_cast<std::size_t>(i)]));
    }
    return out;
  }
  if (c.all_reduce_spec != "ring") {
    device d(worker_device(c, 0));
    name_scope ns("allreduce");
    Output reduced = scaled(add_n(x));
    return std::vector<Output>(static_cast<std::size_t>(k), reduced);
  }
  name_scope ns("ring");
  std::vector<std::int64_t> sizes;
  for (int q = 0; q < k; ++q) sizes.push_back((elements * (q + 1)) / k - (elements * q) / k);
  // acc[i][q]: tower i's partial sum of segment q.
  std::vector<std::vector<Output>> acc;
  const Shape shape = x[0].shape();
  for (int i = 0; i < k; ++i) {
    device d(worker_device(c, i));
    acc.push_back(split(reshape(x[static_cast<std::size_t>(i)], {elements}), sizes, 0));
  }
  for (int step = 0; step < k - 1; ++step) {
    auto next = acc;
    for (int i = 0; i < k; ++i) {
      const int to = (i + 1) % k;
      const auto q = static_cast<std::size_t>(((i - step) % k + k) % k);
      device d(worker_device(c, to));
      next[static_cast<std::size_t>(to)][q] =
          acc[static_cast<std::size_t>(to)][q] + acc[static_cast<std::size_t>(i)][q];
    }
    acc = std::move(next);
  }
  std::vector<Output> complete(static_cast<std::size_t>(k));
  for (int i = 0; i < k; ++i) {
    const auto q = static_cast<std::size_t>((i + 1) % k);
    device d(worker_device(c, i));
    complete[q] = scaled(acc[static_cast<std::size_t>(i)][q]);
  }
  std::vector<Output> out;
  for (int i = 0; i < k; ++i) {
    device d(worker_device(c, i));
    out.push_back(reshape(concat(complete, 0), shape.dims()));
  }
  return out;
}

// The replicated strategy's exchange: per tower, per variable, the mean gradient.
// `*tensors`: the tensors all-reduced per tower (gradients or repacked buffers).
std::vector<std::vector<Output>> all_reduce_gradients(const BenchConfig& c,
                                                      const std::vector<GradsAndVars>& grads,
                                                      std::int64_t* tensors) {
  const std::size_t k = grads.size();
  std::int64_t total = 0;
  std::vector<std::vector<Output>> packed;
  for (std::size_t i = 0; i < k; ++i)
    packed.push_back(pack(c, static_cast<int>(i), grads[i], &total));
  std::vector<std::vector<Output>> reduced(k);
  *tensors = static_cast<std::int64_t>(packed[0].size());
  for (std::size_t t = 0; t < packed[0].size(); ++t) {
    std::vector<Output> x;
    for (std::size_t i = 0; i < k; ++i) x.push_back(packed[i][t]);
    const std::int64_t n = x[0].shape().num_elements();
    auto r = all_reduce_one(c, x, n);
    for (std::size_t i = 0; i < k; ++i) reduced[i].push_back(r[i]);
  }
  for (std::size_t i = 0; i < k; ++i)
    reduced[i] = unpack(c, static_cast<int>(i), grads[i], reduced[i]);
  return reduced;
}

// "/job:localhost/replica:0/task:0/device:CPU:0" -> "/device:CPU:0"
std::string device_suffix(const std::string& full) {
  const auto at = full.find("/device:");
  return at == std::string::npos ? full : full.substr(at);
}

}  // namespace

void validate(const BenchConfig& c) {
  auto bad = [](const std::string& msg) { throw InvalidArgumentError(msg); };
  (void)model_spec(c.model);
  if (c.data != "synthetic" && c.data != "fashion-mnist")
    bad(str_cat("--data: '", c.data, "' is not synthetic or fashion-mnist"));
  if (c.data == "fashion-mnist" && c.model != "fashion_cnn")
    bad(str_cat("--data fashion-mnist needs --model fashion_cnn (28x28x1 images), not ", c.model));
  if (c.batch_size < 1) bad(str_cat("--batch_size must be >= 1, got ", c.batch_size));
  if (c.batch_size > kMaxBatchSize)
    bad(str_cat("--batch_size ", c.batch_size, " is more than ", kMaxBatchSize,
                " images per device"));
  if (c.num_batches < 1) bad(str_cat("--num_batches must be >= 1, got ", c.num_batches));
  if (c.num_warmup_batches < 0)
    bad(str_cat("--num_warmup_batches must be >= 0, got ", c.num_warmup_batches));
  if (c.display_every < 1) bad(str_cat("--display_every must be >= 1, got ", c.display_every));
  if (c.optimizer != "sgd" && c.optimizer != "momentum" && c.optimizer != "rmsprop" &&
      c.optimizer != "adam")
    bad(str_cat("--optimizer: '", c.optimizer, "' is not sgd, momentum, rmsprop or adam"));
  if (!(c.momentum >= 0 && c.momentum < 1e6))
    bad(str_cat("--momentum must be a finite number >= 0, got ", c.momentum));
  if (!(c.rmsprop_decay >= 0 && c.rmsprop_decay <= 1))
    bad(str_cat("--rmsprop_decay must be in [0, 1], got ", c.rmsprop_decay));
  if (!(c.rmsprop_momentum >= 0 && c.rmsprop_momentum < 1e6))
    bad(str_cat("--rmsprop_momentum must be a finite number >= 0, got ", c.rmsprop_momentum));
  if (!(c.rmsprop_epsilon > 0 && c.rmsprop_epsilon < 1e30))
    bad(str_cat("--rmsprop_epsilon must be a finite number > 0, got ", c.rmsprop_epsilon));
  if (!(c.learning_rate > 0) || !std::isfinite(c.learning_rate))
    bad(str_cat("--learning_rate must be finite and > 0, got ", c.learning_rate));
  if (c.variable_update != "parameter_server" && c.variable_update != "replicated" &&
      c.variable_update != "independent")
    bad(str_cat("--variable_update: '", c.variable_update,
                "' is not parameter_server, replicated or independent"));
  if (c.local_parameter_device != "cpu" && c.local_parameter_device != "gpu")
    bad(str_cat("--local_parameter_device: '", c.local_parameter_device, "' is not cpu or gpu"));
  if (c.ps_strategy != "round_robin" && c.ps_strategy != "greedy")
    bad(str_cat("--ps_strategy: '", c.ps_strategy, "' is not round_robin or greedy"));
  if (c.variable_update != "parameter_server" && c.local_parameter_device != "cpu")
    bad(str_cat("--local_parameter_device applies to --variable_update parameter_server only (got ",
                c.variable_update, ")"));
  if (c.ps_strategy != "round_robin" &&
      (c.variable_update != "parameter_server" || c.local_parameter_device != "gpu"))
    bad("--ps_strategy applies to --variable_update parameter_server with "
        "--local_parameter_device gpu only");
  if (!c.all_reduce_spec.empty() && c.variable_update != "replicated")
    bad(str_cat("--all_reduce_spec applies to --variable_update replicated only (got ",
                c.variable_update, ")"));
  if (!c.all_reduce_spec.empty() && c.all_reduce_spec != "copy" && c.all_reduce_spec != "ring" &&
      c.all_reduce_spec != "nccl")
    bad(str_cat("--all_reduce_spec: '", c.all_reduce_spec, "' is not copy, ring or nccl"));
  if (!c.dump_graph.empty()) samples::check_output_file("--dump_graph", c.dump_graph);
  if (!c.trace_file.empty()) {
    samples::check_output_file("--trace_file", c.trace_file);
    if (c.num_warmup_batches < 1)
      bad("--trace_file traces the last warm-up step: it needs --num_warmup_batches >= 1");
  }
  if (c.gradient_repacking < 0)
    bad(str_cat("--gradient_repacking must be >= 0, got ", c.gradient_repacking));
  if (c.gradient_repacking > 0 && c.variable_update != "replicated")
    bad(str_cat("--gradient_repacking applies to --variable_update replicated only (got ",
                c.variable_update, ")"));
  if (c.num_devices < 1) bad(str_cat("--num_devices must be >= 1, got ", c.num_devices));
  if (c.num_devices > kMaxDevices)
    bad(str_cat("--num_devices ", c.num_devices, " is more than ", kMaxDevices, " towers"));
  if (c.device != "cpu" && c.device != "gpu")
    bad(str_cat("--device: '", c.device, "' is not cpu or gpu"));
  if (c.device == "gpu" && devices::gpu_inventory().gpus.empty())
    bad(str_cat("--device gpu: no GPU (", devices::gpu_inventory().unavailable_reason, ")"));
  if (c.pin_host_memory && c.device != "gpu")
    bad("--pin_host_memory page-locks the CPU devices' memory for copies to GPUs: it needs "
        "--device gpu");
  if (c.inbound_copy_streams && c.device != "gpu")
    bad("--inbound_copy_streams puts copies between logical GPUs on streams of their own: it "
        "needs --device gpu");
  if (c.inter_op_threads < 0 || c.inter_op_threads > kMaxThreads)
    bad(str_cat("--inter_op_threads must be in 0..", kMaxThreads, ", got ", c.inter_op_threads));
  if (c.intra_op_threads < 0 || c.intra_op_threads > kMaxThreads)
    bad(str_cat("--num_intra_threads must be in 0..", kMaxThreads, ", got ", c.intra_op_threads));
}

LinkRates measure_links(const BenchConfig& c) {
  LinkRates r;
  if (c.device == "cpu") return r;
  devices::DeviceManagerOptions dm;
  dm.pin_cpu_memory = c.pin_host_memory;  // the host link as the strategy's session has it
  if (towers_share_first_card(std::max(2, c.num_devices)))
    dm.logical_gpus[0] = std::vector<devices::LogicalGpuConfig>(
        static_cast<std::size_t>(std::max(2, c.num_devices)));
  devices::DeviceManager manager(dm);
  const std::int64_t n = (64 << 20) / 4;
  auto rate = [&](const std::shared_ptr<devices::Device>& from,
                  const std::shared_ptr<devices::Device>& to) {
    Tensor t = Tensor(DType::kFloat32, Shape{n}, from);
    (void)t.to(to);  // warm up (allocation, staging)
    std::vector<double> secs;
    for (int i = 0; i < 5; ++i) {
      const auto a = std::chrono::steady_clock::now();
      Tensor u = t.to(to);  // complete on return
      secs.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count());
    }
    return static_cast<double>(n * 4) / median(secs) / 1e9;
  };
  r.worker_gb_per_s = rate(manager.gpu(0), manager.gpu(1));
  r.ps_gb_per_s = rate(manager.gpu(0), manager.cpu(0));
  return r;
}

namespace {

// The session of K towers: logical CPU devices, or the first card split into K logical GPUs
// when there are more towers than cards.
SessionOptions session_options(const BenchConfig& c, int k) {
  SessionOptions options{.inter_op_parallelism_threads = c.inter_op_threads,
                         .intra_op_parallelism_threads = c.intra_op_threads,
                         .inbound_copy_streams = c.inbound_copy_streams,
                         .pin_host_memory = c.pin_host_memory};
  if (c.device == "cpu")
    options.device_count = {{"CPU", k}};
  else if (towers_share_first_card(k))
    options.logical_gpus[0] = std::vector<devices::LogicalGpuConfig>(static_cast<std::size_t>(k));
  return options;
}

// A training step of K towers under c's strategy (run_benchmark's graph; the in-step
// calibrations build the independent strategy's), in the default graph.
struct StepGraph {
  std::vector<Output> images, labels, losses;                 // per tower
  std::vector<GradsAndVars> grads;                            // per tower, its own gradients
  std::vector<std::unique_ptr<train::Optimizer>> optimizers;  // one, or one per copy
  Operation train_op;
  Output mean_loss;
  // Replicated / independent: copy 0's values assigned to the other copies (a broadcast).
  std::vector<Operation> broadcast;
  std::int64_t collectives = 0;  // NcclAllReduce groups per step
};

StepGraph build_step(const BenchConfig& c) {
  const ModelSpec spec = model_spec(c.model);
  const int k = c.num_devices;
  const std::int64_t b = c.batch_size;
  const bool ps = c.variable_update == "parameter_server";
  const bool replicated = c.variable_update == "replicated";
  // Ops no strategy places (the global step, the mean loss, the learning rate) go to the CPU
  // with --device cpu: left unplaced, the placer would put them on a GPU where one exists.
  std::optional<device> cpu_default;
  if (c.device == "cpu") cpu_default.emplace("/device:CPU:0");
  set_random_seed(c.seed);

  // Parameter-server placement of variable ops (only ops created here: tower 0 creates the
  // variables, later towers reuse them).
  DeviceFunction ps_fn;
  if (ps) {
    train::PsStrategy strategy = c.ps_strategy == "greedy"
                                     ? train::greedy_load_balancing_strategy(k)
                                     : train::round_robin_strategy(k);
    ps_fn = [c, strategy](const NodeDef& node) {
      if (node.op != "VariableV2") return node.device;
      return c.local_parameter_device == "cpu" ? std::string("/device:CPU:0")
                                               : worker_device(c, strategy(node));
    };
  }

  StepGraph s;
  s.grads.resize(static_cast<std::size_t>(k));
  if (ps) s.optimizers.push_back(make_optimizer(c));
  auto global_step = train::get_or_create_global_step();
  for (int i = 0; i < k; ++i) {
    device d(worker_device(c, i));
    name_scope ns(str_cat("tower_", i));
    s.images.push_back(placeholder(float32, {b, spec.height, spec.width, spec.channels}, "images"));
    s.labels.push_back(placeholder(int32, {b}, "labels"));
    const std::string scope = ps ? "v" : str_cat("v", i);
    Output logits;
    {
      std::optional<device> ps_scope;
      if (ps) ps_scope.emplace(ps_fn);
      variable_scope vs(scope, {.reuse = ps && i > 0});
      logits = build_model(c.model, s.images.back(), b);
    }
    s.losses.push_back(
        reduce_mean(nn::sparse_softmax_cross_entropy_with_logits(s.labels.back(), logits)));
    if (!ps) s.optimizers.push_back(make_optimizer(c));
    s.grads[static_cast<std::size_t>(i)] =
        s.optimizers.back()->compute_gradients(s.losses.back(), trainable_variables(scope + "/"));
  }

  // The update.
  std::vector<Operation> updates;
  std::int64_t all_reduced = 0;  // tensors all-reduced per tower
  const double inv_k = 1.0 / k;
  if (ps) {
    GradsAndVars mean;
    for (std::size_t j = 0; j < s.grads[0].size(); ++j) {
      const Variable& var = s.grads[0][j].second;
      device d(var.op().device());
      name_scope ns("average");
      std::vector<Output> parts;
      for (const auto& g : s.grads) parts.push_back(g[j].first);
      mean.emplace_back(k == 1 ? parts[0] : add_n(parts) * inv_k, var);
    }
    updates.push_back(s.optimizers[0]->apply_gradients(mean, global_step));
  } else {
    // The mean gradients each copy applies: reduced[i][j] on device i.
    std::vector<std::vector<Output>> reduced;
    if (replicated && k > 1) {
      reduced = all_reduce_gradients(c, s.grads, &all_reduced);
      if (c.all_reduce_spec == "nccl") s.collectives = all_reduced;  // one group per tensor
    }
    for (int i = 0; i < k; ++i) {
      GradsAndVars mine = s.grads[static_cast<std::size_t>(i)];
      if (!reduced.empty())
        for (std::size_t j = 0; j < mine.size(); ++j)
          mine[j].first = reduced[static_cast<std::size_t>(i)][j];
      device d(worker_device(c, i));
      updates.push_back(s.optimizers[static_cast<std::size_t>(i)]->apply_gradients(
          mine, i == 0 ? std::optional<Variable>(global_step) : std::nullopt));
    }
  }
  s.train_op = group(updates, "train_op");
  s.mean_loss = k == 1 ? s.losses[0] : add_n(s.losses) * inv_k;

  // Replicated / independent copies start from copy 0's values (a broadcast).
  if (!ps) {
    for (int i = 1; i < k; ++i)
      for (std::size_t j = 0; j < s.grads[0].size(); ++j)
        s.broadcast.push_back(s.grads[static_cast<std::size_t>(i)][j]
                                  .second.assign(s.grads[0][j].second.value())
                                  .op());
  }

  return s;
}

// kSyntheticPool distinct global batches of synthetic data (as TF's synthetic input), each
// tower's part on its device in `sess`: [batch][tower] = (images, labels).
constexpr int kSyntheticPool = 4;
std::vector<std::vector<std::pair<Tensor, Tensor>>> synthetic_batches(const BenchConfig& c,
                                                                      Session& sess) {
  const ModelSpec spec = model_spec(c.model);
  const int k = c.num_devices;
  const std::int64_t b = c.batch_size;
  const std::int64_t global = b * k;
  auto d = data::synthetic_images(kSyntheticPool * global, spec.height, spec.width, spec.channels,
                                  spec.classes, static_cast<std::uint64_t>(c.seed));
  std::vector<std::int64_t> rows(static_cast<std::size_t>(kSyntheticPool * global));
  std::iota(rows.begin(), rows.end(), 0);
  std::vector<std::vector<std::pair<Tensor, Tensor>>> out;
  for (int p = 0; p < kSyntheticPool; ++p) {
    out.emplace_back();
    for (int i = 0; i < k; ++i) {
      const std::int64_t first = p * global + i * b;
      const auto dev = sess.device_manager().find(worker_device(c, i));
      auto to_dev = [&](const Tensor& t) {
        return dev->type() == devices::DeviceType::kCPU ? t : t.to(dev);
      };
      out.back().emplace_back(to_dev(data::gather_rows(d.images, rows, first, b)),
                              to_dev(data::gather_rows(d.labels, rows, first, b)));
    }
  }
  return out;
}

// What a timed run needs: placeholders fed on their devices, and its targets.
struct Timed {
  std::vector<Output> inputs;
  std::vector<std::string> input_devices;
  std::vector<Shape> input_shapes;  // per input
  std::vector<Operation> targets;
};
// A graph to time.
struct TimedGraph : Timed {
  Graph graph;
};

constexpr std::int64_t kTransferElements = 256;  // 1 KiB of float32

// A host tensor fed on `device`, copied to it first (a device-resident feed, so no copy is
// timed).
Tensor placed(Session& sess, const std::string& device, const Tensor& t) {
  // NOTE: on the session's own device, CPU:0 too: its memory is page-locked with
  // --pin_host_memory, as the strategy's variables are (t is the process's pageable host).
  return t.to(sess.device_manager().lookup(device));
}

// Ones for each of t's inputs, on its device.
FeedDict ones_fed(Session& sess, const Timed& t) {
  FeedDict feed;
  for (std::size_t i = 0; i < t.inputs.size(); ++i) {
    const Shape& shape = t.input_shapes[i];
    Tensor ones = Tensor::from_vector(
        std::vector<float>(static_cast<std::size_t>(shape.num_elements()), 1.0f), shape);
    feed.emplace_back(t.inputs[i], placed(sess, t.input_devices[i], ones));
  }
  return feed;
}

// Per variant, the median seconds of `run(variant, round)` over `runs` rounds after `warmup`
// rounds, the variants interleaved in each round (a slow phase of the host falls on all alike).
std::vector<double> interleaved_medians_s(std::size_t variants, int warmup, int runs,
                                          const std::function<void(std::size_t, int)>& run) {
  std::vector<std::vector<double>> times(variants);
  for (int i = 0; i < warmup + runs; ++i)
    for (std::size_t v = 0; v < variants; ++v) {
      const auto t0 = std::chrono::steady_clock::now();
      run(v, i);
      const double secs =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (i >= warmup) times[v].push_back(secs);
    }
  std::vector<double> out;
  for (auto& t : times) out.push_back(median(t));
  return out;
}

// Median seconds of each graph's runs (interleaved, after warm-up runs).
std::vector<double> median_runs_s(const BenchConfig& c, int k,
                                  const std::vector<TimedGraph*>& graphs) {
  struct Ready {
    std::unique_ptr<Session> sess;
    FeedDict feed;
    const TimedGraph* g;
  };
  std::vector<Ready> ready;
  for (TimedGraph* g : graphs) {
    auto sess = std::make_unique<Session>(session_options(c, k), g->graph);
    FeedDict feed = ones_fed(*sess, *g);
    ready.push_back({std::move(sess), std::move(feed), g});
  }
  return interleaved_medians_s(ready.size(), 3, 21, [&](std::size_t j, int) {
    ready[j].sess->run({}, ready[j].g->targets, ready[j].feed);
  });
}

// Median seconds of `a`'s runs minus `b`'s (interleaved, after warm-up runs).
double median_difference_s(const BenchConfig& c, int k, TimedGraph& a, TimedGraph& b) {
  const auto m = median_runs_s(c, k, {&a, &b});
  return m[0] - m[1];
}

// An input of `shape` fed on `dev` (a device-resident feed on a GPU: no copy is timed).
Output add_input(Timed& g, const std::string& dev, const Shape& shape, const std::string& name) {
  device d(dev);
  g.inputs.push_back(placeholder(float32, shape, name));
  g.input_devices.push_back(dev);
  g.input_shapes.push_back(shape);
  return g.inputs.back();
}

// One tensor per pair, made (an Identity of a placeholder) on pair.first and read (an
// Identity) on pair.second: a copy node each where the two differ.
TimedGraph copy_graph(const std::vector<std::pair<std::string, std::string>>& pairs) {
  TimedGraph g;
  auto as_default = g.graph.as_default();
  std::map<std::string, Output> input_on;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const auto& [from, to] = pairs[i];
    if (!input_on.contains(from))
      input_on[from] = add_input(g, from, Shape{kTransferElements}, str_cat("x", input_on.size()));
    Output made;
    {
      device d(from);
      made = identity(input_on[from], str_cat("made", i));
    }
    device d(to);
    g.targets.push_back(identity(made, str_cat("read", i)).op());
  }
  return g;
}

// `groups` NcclAllReduce groups over the k worker devices (without: the inputs themselves),
// each output read by an Identity on its device.
TimedGraph collective_graph(const BenchConfig& c, int k, int groups, bool with) {
  TimedGraph g;
  auto as_default = g.graph.as_default();
  std::vector<Output> x;
  for (int i = 0; i < k; ++i)
    x.push_back(add_input(g, worker_device(c, i), Shape{kTransferElements}, str_cat("x", i)));
  for (int q = 0; q < groups; ++q) {
    std::vector<Output> out = with ? nccl::all_sum(x) : x;
    for (int i = 0; i < k; ++i) {
      device d(worker_device(c, i));
      g.targets.push_back(identity(out[static_cast<std::size_t>(i)]).op());
    }
  }
  return g;
}

// Nodes added beside a step (their inputs and targets); they may wait for its gradients.
using StepExtra = std::function<void(const StepGraph&, Timed&)>;
// A kind of timed run: the added nodes, with the towers' step beside them or alone (what
// they cost by themselves, in the same session).
struct StepVariant {
  StepExtra extra;
  bool with_step = true;
};

// The variants of the independent step of c's towers: one graph and one session, each variant
// its own targets (the train op too when with_step), their runs interleaved after warm-up, so
// that a slow phase of the host falls on every variant alike. Per variant: the median ms, and
// the copy nodes its last run made (RunStats::copies).
struct StepTimes {
  std::vector<double> ms;
  std::vector<std::int64_t> copies;
};
StepTimes median_step_ms(const BenchConfig& c, const std::vector<StepVariant>& variants) {
  BenchConfig ind = independent_config(c);
  ind.data = "synthetic";  // device-resident batches: no input pipeline in the timed runs
  validate(ind);
  const int k = ind.num_devices;
  Graph graph;
  auto as_default = graph.as_default();
  std::optional<device> cpu_default;
  if (ind.device == "cpu") cpu_default.emplace("/device:CPU:0");
  const StepGraph step = build_step(ind);
  std::vector<Timed> added(variants.size());
  for (std::size_t v = 0; v < variants.size(); ++v) {
    name_scope ns(str_cat("variant", v));
    variants[v].extra(step, added[v]);
    if (variants[v].with_step) added[v].targets.push_back(step.train_op);
  }
  Session sess(session_options(ind, k), graph);
  sess.run(global_variables_initializer());
  if (!step.broadcast.empty()) sess.run(group(step.broadcast, "broadcast_variables"));
  const auto batches = synthetic_batches(ind, sess);
  // [variant][round % pool]: the variant's inputs (one set, shared by its feeds), and with the
  // step the towers' batch of the round.
  std::vector<std::vector<FeedDict>> feeds(variants.size());
  for (std::size_t v = 0; v < variants.size(); ++v) {
    const FeedDict inputs = ones_fed(sess, added[v]);
    for (const auto& batch : batches) {
      FeedDict& feed = feeds[v].emplace_back(inputs);
      for (std::size_t t = 0; variants[v].with_step && t < batch.size(); ++t) {
        feed.emplace_back(step.images[t], batch[t].first);
        feed.emplace_back(step.labels[t], batch[t].second);
      }
    }
  }
  StepTimes out;
  out.copies.resize(variants.size());
  for (double secs : interleaved_medians_s(variants.size(), 5, 31, [&](std::size_t v, int round) {
         sess.run({}, added[v].targets, feeds[v][static_cast<std::size_t>(round % kSyntheticPool)]);
         out.copies[v] = sess.last_run_stats().copies;
       }))
    out.ms.push_back(secs * 1e3);
  return out;
}

// The gradient ops of `towers` (the points a step's exchange waits for).
std::vector<Operation> gradients_of(const StepGraph& step, const std::set<int>& towers) {
  std::vector<Operation> ops;
  for (int tower : towers)
    for (const auto& [grad, var] : step.grads[static_cast<std::size_t>(tower)])
      ops.push_back(grad.op());
  return ops;
}

// kStepCopies small tensors made on workers 1..K-1 once their tower's gradients and tower 0's
// are made (as a step's gradients are sent), read on worker 0 (`crossing`: a copy each) or
// where made (none). Made after tower 0's gradients too: its kernels are queued before a copy
// makes worker 0's stream wait for another's.
StepExtra step_copies(const BenchConfig& c, bool crossing) {
  return [c, crossing](const StepGraph& step, Timed& t) {
    const int k = c.num_devices;
    if (k < 2) return;  // no other worker to send from
    std::vector<Output> small(static_cast<std::size_t>(k));
    for (int i = 1; i < k; ++i)
      small[static_cast<std::size_t>(i)] =
          add_input(t, worker_device(c, i), Shape{kTransferElements}, str_cat("x", i));
    for (int j = 0; j < kStepCopies; ++j) {
      const int from = 1 + j % (k - 1);
      Output made;
      {
        device d(worker_device(c, from));
        control_dependencies after(gradients_of(step, {from, 0}));
        made = identity(small[static_cast<std::size_t>(from)], str_cat("made", j));
      }
      device d(worker_device(c, crossing ? 0 : from));
      t.targets.push_back(identity(made, str_cat("read", j)).op());
    }
  };
}

// A float tensor's shape for a variable of `bytes` (at least one element).
Shape float_shape(std::int64_t bytes) { return Shape{std::max<std::int64_t>(1, bytes / 4)}; }

// Per variable, the mean of its K gradient tensors (AddN, then 1/K) applied by the configured
// optimizer to a CPU:0 variable of that shape, under variable scope `scope`: what CPU:0 does
// with the gradients in parameter_server/cpu.
Operation mean_and_update(const BenchConfig& c, const std::string& scope,
                          const std::vector<std::vector<Output>>& parts) {
  device d("/device:CPU:0");
  variable_scope vs(scope);
  GradsAndVars mean;
  for (std::size_t v = 0; v < parts.size(); ++v) {
    auto var =
        get_variable(str_cat("var", v), parts[v][0].shape(), {.initializer = zeros_initializer()});
    mean.emplace_back(
        parts[v].size() == 1 ? parts[v][0] : add_n(parts[v]) * (1.0 / parts[v].size()), var);
  }
  // The optimizer's ops are in the graph once built; the object need not outlive them.
  return make_optimizer(c)->apply_gradients(mean);
}

// parameter_server/cpu's host traffic: per worker, each variable (a tensor of each of
// `variable_bytes`) read from CPU:0 (unordered, as the strategy's reads of its variables are)
// and as many bytes sent to CPU:0; with `update_scope`, also CPU:0's mean and update of each
// variable's K tensors once they are there (mean_and_update, in that variable scope).
enum class Traffic {
  kAlone,       // no step: the copies all at once, in both directions
  kLocal,       // no step: the same tensors read where they are fed (no copies)
  kBesideStep,  // beside the towers' step: each worker's bytes sent once its gradients are made
};
StepExtra host_traffic(const BenchConfig& c, const std::vector<std::int64_t>& variable_bytes,
                       Traffic how, std::string update_scope = "") {
  return [c, variable_bytes, how, update_scope](const StepGraph& step, Timed& t) {
    const bool local = how == Traffic::kLocal;
    std::vector<std::vector<Output>> received(variable_bytes.size());
    for (std::size_t v = 0; v < variable_bytes.size(); ++v) {
      const Shape shape = float_shape(variable_bytes[v]);
      const Output params = add_input(t, "/device:CPU:0", shape, str_cat("params", v));
      for (int i = 0; i < c.num_devices; ++i) {
        const std::string worker = worker_device(c, i);
        const Output grads = add_input(t, worker, shape, str_cat("grads", v, "_", i));
        {
          device d(local ? "/device:CPU:0" : worker);
          t.targets.push_back(identity(params, str_cat("read", v, "_", i)).op());
        }
        Output sent = grads;
        if (how == Traffic::kBesideStep) {
          device d(worker);
          control_dependencies after(gradients_of(step, {i}));
          sent = identity(grads, str_cat("made", v, "_", i));
        }
        device d(local ? worker : "/device:CPU:0");
        received[v].push_back(identity(sent, str_cat("sent", v, "_", i)));
        if (update_scope.empty()) t.targets.push_back(received[v].back().op());
      }
    }
    if (!update_scope.empty() && !received.empty())
      t.targets.push_back(mean_and_update(c, update_scope, received));
  };
}

// What CPU:0 does with the K gradient sets parameter_server/cpu sends it: per variable, K
// tensors fed on CPU:0 and mean_and_update. Without `compute`, the same inputs read there and
// nothing else (the baseline).
StepExtra host_update(const BenchConfig& c, const std::vector<std::int64_t>& variable_bytes,
                      bool compute) {
  return [c, variable_bytes, compute](const StepGraph&, Timed& t) {
    std::vector<std::vector<Output>> parts(variable_bytes.size());
    for (std::size_t v = 0; v < variable_bytes.size(); ++v)
      for (int i = 0; i < c.num_devices; ++i)
        parts[v].push_back(add_input(t, "/device:CPU:0", float_shape(variable_bytes[v]),
                                     str_cat("grads", v, "_", i)));
    if (!compute) {
      device d("/device:CPU:0");
      for (const auto& p : parts)
        for (const Output& x : p) t.targets.push_back(identity(x).op());
    } else if (!parts.empty()) {
      t.targets.push_back(mean_and_update(c, "host_update", parts));
    }
  };
}

}  // namespace

TransferCosts measure_transfer_costs(const BenchConfig& c, bool in_step) {
  TransferCosts r;
  if (c.num_devices < 2) return r;
  // A difference of medians under zero is noise (the transfers cost less than the runs vary):
  // taken as 0, and said, so that a "free" copy is not mistaken for a measured one.
  auto nonnegative = [](double seconds, const char* what) {
    if (seconds < 0)
      std::fprintf(stderr,
                   "sf-bench --explain: the %s cost measured %.1f us below zero (noise); "
                   "taken as 0\n",
                   what, seconds * 1e6);
    return std::max(0.0, seconds);
  };
  const int k = c.num_devices;
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  auto per_copy_ms = [&](const Pairs& pairs) {
    auto crossing = copy_graph(pairs);
    Pairs local;
    for (const auto& p : pairs) local.emplace_back(p.first, p.first);
    auto same = copy_graph(local);
    return nonnegative(median_difference_s(c, k, crossing, same), "copy") * 1e3 /
           static_cast<double>(pairs.size());
  };
  const std::string w0 = worker_device(c, 0), w1 = worker_device(c, 1);
  r.copy_ms = per_copy_ms(Pairs(kTransferCopies, {w0, w1}));
  if (c.device == "cpu") {
    r.ps_copy_ms = r.copy_ms;
  } else {
    Pairs host;
    for (int i = 0; i < kTransferCopies; ++i)
      host.emplace_back(i % 2 ? w0 : "/device:CPU:0", i % 2 ? "/device:CPU:0" : w0);
    r.ps_copy_ms = per_copy_ms(host);
  }
  constexpr int kGroups = 8;
  auto with = collective_graph(c, k, kGroups, true);
  auto without = collective_graph(c, k, kGroups, false);
  r.collective_ms =
      nonnegative(median_difference_s(c, k, with, without), "collective") * 1e3 / kGroups;
  if (in_step) {
    const auto m = median_step_ms(c, {{step_copies(c, true)}, {step_copies(c, false)}});
    r.step_ms = m.ms[1];
    r.step_copies = m.copies[0] - m.copies[1];
    // Per copy that ran (kStepCopies unless a tensor crossed otherwise than as one copy).
    if (r.step_copies != kStepCopies)
      std::fprintf(stderr,
                   "sf-bench --explain: %lld copies ran for the %d tensors sent beside the step\n",
                   static_cast<long long>(r.step_copies), kStepCopies);
    if (r.step_copies > 0)
      r.copy_in_step_ms = nonnegative((m.ms[0] - m.ms[1]) * 1e-3, "copy in a step") * 1e3 /
                          static_cast<double>(r.step_copies);
  }
  return r;
}

HostOverlap measure_host_overlap(const BenchConfig& c,
                                 const std::vector<std::int64_t>& variable_bytes) {
  HostOverlap r;
  // In one session, interleaved: the traffic alone, its tensors read where fed, the towers'
  // step, the step with the traffic beside it, CPU:0's mean and update against its inputs read
  // where fed, and the traffic with that mean and update, alone and beside the step.
  const auto m = median_step_ms(
      c, {{host_traffic(c, variable_bytes, Traffic::kAlone), false},
          {host_traffic(c, variable_bytes, Traffic::kLocal), false},
          {[](const StepGraph&, Timed&) {}},
          {host_traffic(c, variable_bytes, Traffic::kBesideStep)},
          {host_update(c, variable_bytes, /*compute=*/true), false},
          {host_update(c, variable_bytes, /*compute=*/false), false},
          {host_traffic(c, variable_bytes, Traffic::kAlone, "host_part_alone"), false},
          {host_traffic(c, variable_bytes, Traffic::kBesideStep, "host_part_beside")}});
  // (copies + compute - both) / min(copies, compute), in [0, 1].
  auto overlap = [](double copies, double compute, double both) {
    const double shorter = std::min(copies, compute);
    return shorter > 0 ? std::clamp((copies + compute - both) / shorter, 0.0, 1.0) : 1.0;
  };
  r.copies_ms = m.ms[0];
  r.link_ms = std::max(0.0, m.ms[0] - m.ms[1]);
  r.compute_ms = m.ms[2];
  r.both_ms = m.ms[3];
  r.step_copies = m.copies[3] - m.copies[2];
  r.overlap = overlap(r.copies_ms, r.compute_ms, r.both_ms);
  r.update_ms = variable_bytes.empty() ? 0.0 : std::max(0.0, m.ms[4] - m.ms[5]);
  r.part_copies_ms = m.ms[6];
  r.part_ms = variable_bytes.empty() ? 0.0 : std::max(0.0, m.ms[6] - m.ms[1]);
  r.part_both_ms = m.ms[7];
  r.part_overlap = overlap(r.part_copies_ms, r.compute_ms, r.part_both_ms);
  return r;
}

std::vector<AllReduceResult> run_allreduce(const BenchConfig& c, std::int64_t min_bytes,
                                           std::int64_t max_bytes, int iterations,
                                           const std::string& op, int rounds) {
  if (op != "sum" && op != "mean")
    throw InvalidArgumentError(str_cat("allreduce: --op must be sum or mean, got '", op, "'"));
  const bool mean = op == "mean";
  {
    BenchConfig checked = c;  // the exchange of the replicated strategy
    checked.variable_update = "replicated";
    checked.local_parameter_device = "cpu";
    checked.ps_strategy = "round_robin";
    validate(checked);
  }
  if (min_bytes % 4 != 0 || max_bytes % 4 != 0)
    throw InvalidArgumentError(str_cat("allreduce: --min_bytes ", min_bytes, " and --max_bytes ",
                                       max_bytes, " must be multiples of 4 (float32 elements)"));
  if (min_bytes < 4 || max_bytes < min_bytes || iterations < 1 || rounds < 1)
    throw InvalidArgumentError(
        str_cat("allreduce: need 4 <= --min_bytes <= --max_bytes, --iters >= 1 and "
                "--rounds >= 1, got ",
                min_bytes, ", ", max_bytes, ", ", iterations, ", ", rounds));
  const int k = c.num_devices;
  std::vector<AllReduceResult> out;
  for (std::int64_t bytes = min_bytes; bytes <= max_bytes; bytes *= 4) {
    const std::int64_t n = bytes / 4;
    Graph graph;
    auto as_default = graph.as_default();
    std::vector<Output> inputs, results;
    for (int i = 0; i < k; ++i) {
      device d(worker_device(c, i));
      inputs.push_back(placeholder(float32, Shape{n}, str_cat("x", i)));
    }
    // Per round: the sum or mean by --all_reduce_spec, then an Identity on each device so the
    // result lands there (the executor copies it when it was made elsewhere). A round starts
    // after the previous round's results (control edges on Identities of the inputs, which
    // pass the same buffers on: every round reads the K fed buffers, not its predecessor's).
    std::vector<Operation> targets;
    for (int round = 0; round < rounds; ++round) {
      std::optional<name_scope> ns;
      if (rounds > 1) ns.emplace(str_cat("round", round));
      std::vector<Output> x = inputs;
      if (round > 0) {
        control_dependencies after(targets);
        for (int i = 0; i < k; ++i) {
          device d(worker_device(c, i));
          x[static_cast<std::size_t>(i)] = identity(inputs[static_cast<std::size_t>(i)]);
        }
      }
      const auto reduced = k == 1 ? x : all_reduce_one(c, x, n, mean);
      results.clear();
      targets.clear();
      for (int i = 0; i < k; ++i) {
        device d(worker_device(c, i));
        results.push_back(identity(reduced[static_cast<std::size_t>(i)], str_cat("result", i)));
        targets.push_back(results.back().op());
      }
    }
    Session sess(session_options(c, k), graph);
    FeedDict feed;
    for (int i = 0; i < k; ++i) {
      Tensor t = Tensor::from_vector(
          std::vector<float>(static_cast<std::size_t>(n), static_cast<float>(i + 1)));
      feed.emplace_back(inputs[static_cast<std::size_t>(i)], placed(sess, worker_device(c, i), t));
    }
    // The mean of 1..k, or their sum.
    const float want =
        mean ? static_cast<float>(k + 1) / 2.0f : static_cast<float>(k * (k + 1) / 2);
    // Every device's result (an NcclAllReduce group runs only with all its participants).
    for (const auto& t : sess.run(results, feed)) {
      const auto check = t.to_vector<float>();
      if (check.front() != want || check.back() != want)
        throw InternalError(
            str_cat("allreduce: wrong ", op, " ", check.front(), " (want ", want, ")"));
    }
    std::vector<double> secs;
    for (int it = 0; it < iterations; ++it) {
      const auto a = std::chrono::steady_clock::now();
      sess.run({}, targets, feed);
      secs.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count());
    }
    AllReduceResult r;
    r.bytes = n * 4;
    r.rounds = rounds;
    r.nodes_per_run = sess.last_run_stats().nodes_executed;
    const double per_all_reduce_s = median(secs) / rounds;
    r.time_us = per_all_reduce_s * 1e6;
    r.algbw_gb_per_s = static_cast<double>(r.bytes) / per_all_reduce_s / 1e9;
    r.busbw_gb_per_s = r.algbw_gb_per_s * 2.0 * (k - 1) / k;
    out.push_back(r);
  }
  return out;
}

std::string strategy_key(const BenchConfig& c) {
  if (c.variable_update == "parameter_server")
    return "parameter_server/" + c.local_parameter_device;
  if (c.variable_update == "replicated")
    return c.all_reduce_spec == "ring"   ? "replicated/ring (model)"
           : c.all_reduce_spec == "nccl" ? "replicated/nccl"
                                         : "replicated/copy";
  return c.variable_update;
}

std::string all_reduce_implementation(const BenchConfig& c) {
  if (c.all_reduce_spec != "nccl") return "graph ops";
  if (c.device == "cpu") return all_reduce_impl_name(AllReduceImpl::kHost);
  std::vector<int> ids;
  for (int i = 0; i < c.num_devices; ++i)
    ids.push_back(towers_share_first_card(c.num_devices) ? 0 : i);
  return all_reduce_impl_name(choose_all_reduce(true, ids));
}

std::string header(const BenchConfig& c) {
  std::string devices = "[";
  for (int i = 0; i < c.num_devices; ++i)
    devices += str_cat(i ? ", " : "", "'", worker_device(c, i), "'");
  devices += "]";
  std::string h;
  h += str_cat("Model:       ", c.model, "\n");
  h += str_cat("Dataset:     ", c.data, "\n");
  h += "Mode:        training\n";
  h += "SingleSess:  False\n";
  h += str_cat("Batch size:  ", c.batch_size * c.num_devices, " global\n");
  h += str_cat("             ", c.batch_size, " per device\n");
  h += str_cat("Num batches: ", c.num_batches, "\n");
  h += str_cat("Devices:     ", devices, "\n");
  h += "Data format: NHWC\n";
  h += str_cat("Optimizer:   ", c.optimizer, "\n");
  h += str_cat("Variables:   ", c.variable_update, "\n");
  if (c.variable_update == "parameter_server")
    h += str_cat("PS device:   ", c.local_parameter_device,
                 c.local_parameter_device == "gpu" ? str_cat(" (", c.ps_strategy, ")") : "", "\n");
  if (c.variable_update == "replicated")
    h +=
        str_cat("AllReduce:   ", c.all_reduce_spec.empty() ? "copy" : c.all_reduce_spec,
                c.all_reduce_spec == "nccl" ? str_cat(" (", all_reduce_implementation(c), ")") : "",
                c.gradient_repacking > 0
                    ? str_cat(", gradients repacked into ", c.gradient_repacking, " buffers")
                    : "",
                "\n");
  if (c.pin_host_memory) h += "Host memory: page-locked (--pin_host_memory)\n";
  h += "==========";
  return h;
}

BenchResult run_benchmark(const BenchConfig& c,
                          const std::function<void(const std::string&)>& log) {
  validate(c);
  auto say = [&](const std::string& s) {
    if (log) log(s);
  };
  const int k = c.num_devices;
  const std::int64_t b = c.batch_size;
  const bool ps = c.variable_update == "parameter_server";

  Graph graph;
  auto as_default = graph.as_default();
  // As in build_step: the ops made here (initializer, broadcast group, reads) stay off a GPU
  // with --device cpu.
  std::optional<device> cpu_default;
  if (c.device == "cpu") cpu_default.emplace("/device:CPU:0");
  say("Generating training model");
  const StepGraph built = build_step(c);
  const auto& images = built.images;
  const auto& labels = built.labels;
  const Operation& train_op = built.train_op;
  const Output& mean_loss = built.mean_loss;

  // ---- session
  say("Initializing graph");
  SessionOptions options = session_options(c, k);
  options.log_device_placement = c.log_device_placement;
  Session sess(options, graph);
  sess.run(global_variables_initializer());
  if (!built.broadcast.empty()) sess.run(group(built.broadcast, "broadcast_variables"));
  if (!c.dump_graph.empty()) {
    std::ostringstream dot;
    write_graphviz(graph, dot,
                   {.device_of = [&](const Operation& op) { return sess.assigned_device(op); },
                    .collapse_prefixes = {"*/gradients"}});
    samples::write_file_atomically("--dump_graph", c.dump_graph, dot.str());
  }

  // ---- data: device-resident synthetic batches (as TF's synthetic input), or Fashion-MNIST
  // through the prefetching pipeline.
  std::vector<std::vector<std::pair<Tensor, Tensor>>> synthetic;
  std::unique_ptr<data::BatchPipeline> pipeline;
  std::int64_t epoch = 0;
  if (c.data == "synthetic") {
    synthetic = synthetic_batches(c, sess);
  } else {
    auto train_set = data::load_fashion_mnist(c.data_dir, "train");
    if (train_set.size() < b)  // no whole batch in an epoch: next() would never give one
      throw InvalidArgumentError(str_cat("--batch_size ", b, " is more than the ", train_set.size(),
                                         " training images in ", c.data_dir));
    pipeline = std::make_unique<data::BatchPipeline>(
        std::vector<Tensor>{train_set.images, train_set.labels},
        data::PipelineOptions{
            .batch_size = b, .seed = static_cast<std::uint64_t>(c.seed), .prefetch = 2 * k});
    pipeline->start_epoch(epoch);
  }
  auto feed_for = [&](int step) {
    FeedDict feed;
    for (int i = 0; i < k; ++i) {
      std::pair<Tensor, Tensor> batch;
      if (!synthetic.empty()) {
        batch =
            synthetic[static_cast<std::size_t>(step % kSyntheticPool)][static_cast<std::size_t>(i)];
      } else {
        auto next = pipeline->next();
        if (!next) {
          pipeline->start_epoch(++epoch);
          next = pipeline->next();
          if (!next) throw InternalError("sf-bench: the input pipeline gave no batch in an epoch");
        }
        batch = {(*next)[0], (*next)[1]};
      }
      feed.emplace_back(images[static_cast<std::size_t>(i)], batch.first);
      feed.emplace_back(labels[static_cast<std::size_t>(i)], batch.second);
    }
    return feed;
  };

  BenchResult r;
  say("Running warm up");
  int step = 0;
  for (; step < c.num_warmup_batches; ++step) {
    if (!c.trace_file.empty() && step == c.num_warmup_batches - 1) {
      RunMetadata md;
      sess.run({mean_loss}, {train_op}, feed_for(step), {.trace_level = RunOptions::kFullTrace},
               &md);
      samples::write_file_atomically(
          "--trace_file", c.trace_file,
          timeline::Timeline(md.step_stats).generate_chrome_trace_format());
      say(str_cat("Wrote a trace of warm-up step ", step + 1, " to ", c.trace_file));
      continue;
    }
    sess.run({mean_loss}, {train_op}, feed_for(step));
  }
  say("Done warm up");
  say("Step\tImg/sec\ttotal_loss");
  std::vector<double> rates, step_ms;
  double loss = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int s = 1; s <= c.num_batches; ++s, ++step) {
    auto feed = feed_for(step);
    const auto a = std::chrono::steady_clock::now();
    loss = sess.run({mean_loss}, {train_op}, feed)[0].scalar<float>();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count();
    step_ms.push_back(secs * 1e3);
    rates.push_back(static_cast<double>(b * k) / secs);
    if (s == 1 || s % c.display_every == 0) say(format_step(s, rate_stats(rates), loss));
    if (s == 1) r.bytes_copied_per_step = sess.last_run_stats().bytes_copied;
  }
  {
    const RunStats& stats = sess.last_run_stats();
    r.copies_per_step = stats.copies;
    // NOTE: the copies that ran, not the plan's copy edges: each GPU tower's images and labels
    // are planned as host copies, but fed on the GPU they copy nothing (session 8's H200 run
    // counted those 2 per tower as host copies, 8 at K = 4, more than the 3 copies that ran).
    r.host_copies_per_step = stats.host_copies;
    r.collectives_per_step = built.collectives;
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const RateStats st = rate_stats(rates);
  r.images_per_sec = static_cast<double>(b * k * c.num_batches) / wall;
  r.images_per_sec_mean = st.mean;
  r.images_per_sec_stderr = st.stderr_;
  r.jitter = st.jitter;
  r.step_ms_median = median(step_ms);
  r.bytes_copied_per_step = sess.last_run_stats().bytes_copied;
  r.final_loss = loss;
  for (int i = 0; i < k; ++i) r.devices.push_back(worker_device(c, i));
  const std::string prefix = ps ? "v/" : "v0/";
  for (const auto& v : trainable_variables(prefix)) {
    const std::string name = v.op().name().substr(prefix.size());
    auto values = sess.run(v.value()).to_vector<float>();
    for (float x : values) r.param_checksum += x;
    r.placement.push_back({v.op().name(), device_suffix(sess.assigned_device(v.op())),
                           static_cast<std::int64_t>(values.size() * sizeof(float))});
    r.parameters[name] = std::move(values);
  }
  if (!ps) {
    for (int i = 1; i < k; ++i)
      for (const auto& v : trainable_variables(str_cat("v", i, "/"))) {
        const std::string name = v.op().name().substr(v.op().name().find('/') + 1);
        const auto values = sess.run(v.value()).to_vector<float>();
        const auto& base = r.parameters.at(name);
        for (std::size_t e = 0; e < values.size(); ++e)
          r.max_copy_divergence =
              std::max(r.max_copy_divergence, static_cast<double>(std::abs(values[e] - base[e])));
      }
  }
  r.num_variables = static_cast<std::int64_t>(global_variables().size());
  r.graph_nodes = static_cast<std::int64_t>(graph.num_nodes());
  return r;
}

}  // namespace scopeflow::bench
