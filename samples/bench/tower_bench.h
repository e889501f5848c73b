// The tower benchmark behind sf-bench: builds K towers of a CNN under one of TF's variable
// strategies (tf_cnn_benchmarks' names), trains on synthetic or Fashion-MNIST data and
// measures. A library so that tests can run the strategies and compare their parameters.
//
// Strategies (one gradient semantic for all: the mean over towers of each tower's mean loss
// gradient, i.e. the gradient of the mean loss over the K*b images):
//   parameter_server: one copy of each variable (scope "v"), on CPU:0
//     (--local_parameter_device cpu) or spread over the worker devices
//     (--local_parameter_device gpu, --ps_strategy round_robin | greedy by bytes); towers
//     reuse it; gradients are averaged on each variable's device; one update.
//   replicated: a copy per device (scopes "v0", "v1", ...), initial values broadcast from
//     copy 0; gradients all-reduced (--all_reduce_spec copy: summed in tower order on device
//     0, the mean copied back to every device; ring: reduce-scatter + gather in graph ops;
//     nccl: sf::nccl::all_sum, one collective step of the executor (host reduction on CPU
//     devices, ScopeFlow's fused CUDA kernel on logical GPUs sharing a card, NCCL across
//     physical GPUs), then 1/K on each device), every copy updated with the same mean.
//   independent: a copy per device, each trained on its own tower's gradients (no exchange;
//     the throughput upper bound).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace scopeflow::bench {

struct BenchConfig {
  std::string model = "fashion_cnn";  // fashion_cnn | cifar_cnn | tiny_cnn (tests)
  std::string data = "synthetic";     // synthetic | fashion-mnist
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  std::int64_t batch_size = 32;  // per device
  int num_batches = 100;
  int num_warmup_batches = 10;
  int display_every = 10;
  std::string optimizer = "sgd";  // sgd | momentum | rmsprop | adam
  double learning_rate = 0.005;
  // tf_cnn_benchmarks' --momentum (momentum and rmsprop's momentum term are separate flags there)
  // and --rmsprop_decay / --rmsprop_momentum / --rmsprop_epsilon, with its defaults.
  double momentum = 0.9;
  double rmsprop_decay = 0.9, rmsprop_momentum = 0.9, rmsprop_epsilon = 1.0;
  std::int64_t seed = 1;
  std::string variable_update = "parameter_server";  // | replicated | independent
  std::string local_parameter_device = "cpu";        // cpu | gpu (the worker devices)
  std::string ps_strategy = "round_robin";           // round_robin | greedy
  // "" (= copy here; the sf-bench CLI resolves "" by --use_nccl, nccl by default, before any
  // of this sees it) | copy | ring | nccl
  std::string all_reduce_spec = "";
  int gradient_repacking = 0;
  int num_devices = 1;
  std::string device = "cpu";  // cpu | gpu
  int inter_op_threads = 0;    // Session's inter_op_parallelism_threads
  int intra_op_threads = 0;    // Session's intra_op_parallelism_threads (0: all cores)
  bool log_device_placement = false;
  // SessionOptions::inbound_copy_streams (copies between logical GPUs of a card on their own
  // streams); --inbound_copy_streams.
  bool inbound_copy_streams = false;
  // SessionOptions::pin_host_memory (the CPU devices' tensors page-locked, so copies between
  // CPU:0 and the GPUs are one DMA); --pin_host_memory, GPUs only.
  bool pin_host_memory = false;
  // Writes the training graph as Graphviz DOT here (name-scope clusters, one colour per
  // assigned device, gradient scopes collapsed); "" for none.
  std::string dump_graph;
  // tf_cnn_benchmarks' --trace_file: the last warm-up step is run traced (RunOptions
  // kFullTrace) and written here as a Chrome trace (runtime/session/timeline.h); timed steps
  // are not traced. "" for none. Needs num_warmup_batches >= 1.
  std::string trace_file;
};

// InvalidArgumentError naming the flag for every invalid value or combination.
void validate(const BenchConfig& config);

struct VariablePlacement {
  std::string variable;
  std::string device;
  std::int64_t bytes = 0;
};

// Bounds validate() enforces (beyond them a run exhausts memory or threads before it says so).
inline constexpr std::int64_t kMaxBatchSize = std::int64_t{1} << 20;  // images per device
inline constexpr int kMaxDevices = 1024;                              // towers
inline constexpr int kMaxThreads = 4096;  // --inter_op_threads, --num_intra_threads

// tf_cnn_benchmarks' get_perf_timing over the per-step rates r_i = images / t_i: mean =
// images / mean(t_i) (the harmonic mean of the rates, so the step lines agree with the total;
// the arithmetic mean of rates overstated a run with one slow step), +/- = np.std(rates)
// (dividing by n) / sqrt(n), jitter = 1.4826 x the rates' median absolute deviation.
struct RateStats {
  double mean = 0, stderr_ = 0, jitter = 0;
};
RateStats rate_stats(const std::vector<double>& rates);

struct BenchResult {
  double images_per_sec = 0;         // total images / wall time of the timed steps
  double images_per_sec_mean = 0;    // images / mean step time (tf_cnn_benchmarks' speed_mean)
  double images_per_sec_stderr = 0;  // np.std(per-step rates) / sqrt(n), as tf_cnn_benchmarks
  double jitter = 0;                 // 1.4826 * median absolute deviation of the step rates
  double step_ms_median = 0;
  std::int64_t bytes_copied_per_step = 0;
  // The copy nodes the executor ran in the last timed step (RunStats::copies), those of them
  // between a GPU worker and CPU:0 (0 with CPU workers), and the NcclAllReduce groups
  // (collective steps) of the graph's step.
  std::int64_t copies_per_step = 0;
  std::int64_t host_copies_per_step = 0;
  std::int64_t collectives_per_step = 0;
  double final_loss = 0;
  // The sum of every trainable parameter after the run (copy 0 under replicated and
  // independent, so that strategies are comparable).
  double param_checksum = 0;
  std::vector<VariablePlacement> placement;  // trainable variables (copy 0's for copies)
  std::vector<std::string> devices;          // the worker devices
  std::int64_t num_variables = 0;            // variables in the graph (slots included)
  std::int64_t graph_nodes = 0;
  // The largest |copy i - copy 0| over every parameter (replicated: 0 when every copy got the
  // same updates; 0 for parameter_server, which has one copy).
  double max_copy_divergence = 0;
  // The final trainable parameters by name (copy 0's, names without the "vN/" prefix).
  std::map<std::string, std::vector<float>> parameters;
};

// Progress lines ("10\timages/sec: ...") go to `log` (may be empty).
BenchResult run_benchmark(const BenchConfig& config,
                          const std::function<void(const std::string&)>& log = {});

// Bandwidth (GB/s) of a 64 MB copy between the first two worker devices, and between worker
// 0 and CPU:0; 0 for logical CPU devices (they share memory: copies are free).
struct LinkRates {
  double worker_gb_per_s = 0;
  double ps_gb_per_s = 0;
};
LinkRates measure_links(const BenchConfig& config);
// The fixed cost of one small transfer as the executor runs it (the shared-device cost model's
// inputs), in ms: the median time of a step that makes kTransferCopies 1 KiB tensors on one
// device and reads them on another, minus the same graph on one device, divided by
// kTransferCopies (the amortized cost of a copy node: executor step, CUDA events, the copy);
// likewise one NcclAllReduce group of 1 KiB per device over the num_devices devices against
// an Identity per device. 0 for all three with num_devices = 1 (a step then transfers
// nothing); ps_copy_ms = copy_ms with CPU workers (CPU:0 is worker 0).
// With `in_step` also copy_in_step_ms: the same small copies made as a training step makes
// its gradients, beside the step itself. The towers run the independent strategy's step (K x b,
// synthetic data: the configured model's kernels and host work, no exchange); kStepCopies 1 KiB
// tensors are made on workers 1..K-1 once their tower's gradients and tower 0's are made and
// read on worker 0, against the same step reading them where made (one session, the two kinds
// of step interleaved). In a step the executor's host work for a copy runs while the devices
// compute, so only what a copy adds to the step shows (session 8's H200 run: 51 copies cost
// replicated/copy 0.5 ms over the compute, against 51 x 24 us measured alone). Session 9 timed
// the copies after chains of 512 x 512 MatMuls instead, and its run 9 read about the cost alone
// where the real steps hid it. The likely cause, not yet checked on a GPU: on a slower host a
// chain of such small kernels is bound by the host's issue of them, so the copies' host work
// added in full; beside the model's own step the balance of host and device is the step's.
struct TransferCosts {
  double copy_ms = 0;                     // worker device 0 -> worker device 1
  double ps_copy_ms = 0;                  // half GPU:0 -> CPU:0, half CPU:0 -> GPU:0
  double collective_ms = 0;               // one NcclAllReduce group
  std::optional<double> copy_in_step_ms;  // with in_step and num_devices > 1
  // With in_step: the median of the step that reads the tensors where made (the towers'
  // independent step, the 64 tensors' Identities beside it, no fetch): the background.
  double step_ms = 0;
  // With in_step: the copy nodes the step with the copies ran beyond the one without
  // (kStepCopies when each crossing tensor was one copy); copy_in_step_ms is per copy that ran,
  // unset when none did.
  std::int64_t step_copies = 0;
};
inline constexpr int kTransferCopies = 32;
inline constexpr int kStepCopies = 64;
TransferCosts measure_transfer_costs(const BenchConfig& config, bool in_step = false);
// How much of the host link's traffic the towers' compute hides on this machine (the
// shared-device model's CostInputs::host_overlap and host_link_ms). The traffic: per worker,
// each variable (one tensor of each of `variable_bytes`) read from CPU:0 and as many bytes sent
// back (parameter_server/cpu's reads and gradients). Four kinds of run, interleaved in one
// session (as measure_transfer_costs's in_step): copies_ms, the traffic alone, all at once in
// both directions; the same tensors read where fed (no copies: link_ms = copies_ms less it);
// compute_ms, the towers' independent step; both_ms, that step with the traffic beside it, the
// reads unordered (as the strategy's are) and each worker's bytes sent once its tower's
// gradients are made. overlap = (copies + compute - both) / min(copies, compute), in [0, 1].
// Session 7's two H200 machines differed here (the host traffic hid under the compute on one,
// not the other). Two more kinds of run, also interleaved, give update_ms, and two more the
// host part with CPU:0's update in it (part_*).
struct HostOverlap {
  double copies_ms = 0, compute_ms = 0, both_ms = 0;
  // copies_ms less a run of the same graph with no copies (each tensor read where it is fed):
  // the host link's time for the traffic (CostInputs::host_link_ms), without a run's own cost.
  double link_ms = 0;
  double overlap = 1.0;
  // The copy nodes the step with the traffic ran beyond the step without (2 x variables x
  // workers on GPUs; with CPU workers none for worker 0, which is CPU:0).
  std::int64_t step_copies = 0;
  // What CPU:0 does with the gradients in parameter_server/cpu, alone: the mean of K tensors
  // per variable (fed on CPU:0) and the configured optimizer's update of a CPU:0 variable of
  // each size, less a run that only reads those K tensors per variable on CPU:0. Reported
  // (sf-bench --explain, JSON host_update_ms), not yet a term of the model: runs 8 and 9 erred
  // low at K = 2 and high at K = 8 for that strategy, and this is a candidate for the part
  // that grows with K; the next GPU runs tell.
  double update_ms = 0;
  // The host part with that mean and update in it (reported, not yet the model's: session 11,
  // for the next GPU run to compare): part_copies_ms, the traffic alone with CPU:0's mean and
  // update of each variable's K tensors once they are there; part_ms, that less the run
  // without copies (link_ms's baseline); part_both_ms, the towers' step with both beside it
  // (the update after the last tower's gradients, as the strategy's is); part_overlap, as
  // overlap from part_copies_ms, compute_ms and part_both_ms.
  double part_copies_ms = 0, part_ms = 0, part_both_ms = 0, part_overlap = 1.0;
};
HostOverlap measure_host_overlap(const BenchConfig& config,
                                 const std::vector<std::int64_t>& variable_bytes);
// The cost model's key for the configured strategy ("replicated/copy", ...).
std::string strategy_key(const BenchConfig& config);
// Whether `towers` GPU towers go to logical GPUs split from the first card (fewer cards than
// towers) rather than one card each: what the benchmark's sessions do.
bool towers_share_first_card(int towers);
// The devices that compute in parallel for the configured towers (CostInputs::compute_units):
// one card each, or 1 when they share the first card or are logical CPU devices.
int compute_units(const BenchConfig& config);
// c's towers under the independent strategy (every tower's forward, backward and update, no
// exchange), without c's --dump_graph and --trace_file: what --explain's calibrations time
// (one tower of it, at b and at the packed batch, and the K towers' step beside the in-step
// transfers).
BenchConfig independent_config(const BenchConfig& config);
// What runs --all_reduce_spec nccl's NcclAllReduce groups for this configuration: "host
// reduction" (CPU devices), "ScopeFlow fused CUDA kernel" (logical GPUs sharing a card),
// "NCCL" (one tower per physical GPU), ...; "graph ops" for the copy and ring specs.
std::string all_reduce_implementation(const BenchConfig& config);

// `sf-bench allreduce`: the mean of `num_devices` tensors of `bytes` each, one per worker
// device, with the result on every device, by --all_reduce_spec (the replicated strategy's
// exchange: copy = reduce on device 0 and copy back; ring = reduce-scatter + gather; nccl = the
// NcclAllReduce collective step, see all_reduce_implementation). nccl-tests'
// definitions: algbw = bytes / time, busbw = algbw x 2 (K-1) / K. Checks the result once per size
// (InternalError if wrong).
struct AllReduceResult {
  std::int64_t bytes = 0;
  double time_us = 0;  // per all-reduce: the median Session run over the iterations / rounds
  double algbw_gb_per_s = 0;
  double busbw_gb_per_s = 0;
  int rounds = 1;
  std::int64_t nodes_per_run = 0;  // graph nodes one timed Session run executed
};
// `op`: "mean" (the replicated strategy's exchange: the sum, then 1/K on each device) or "sum"
// (the all-reduce alone, what nccl-tests' all_reduce_perf times). `rounds`: all-reduces per
// Session run, one after another (each waits for the previous one's results, and each reads
// the same K distinct input buffers), as nccl-tests launches its iterations back to back and
// synchronizes once: 1 times the latency of a whole Session run per all-reduce, more rounds
// spread the run's fixed cost (plan lookup, launches, the final synchronization) over them.
std::vector<AllReduceResult> run_allreduce(const BenchConfig& config, std::int64_t min_bytes,
                                           std::int64_t max_bytes, int iterations,
                                           const std::string& op = "mean", int rounds = 1);

// tf_cnn_benchmarks' header block for `config`.
std::string header(const BenchConfig& config);

}  // namespace scopeflow::bench
