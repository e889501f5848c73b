// sf-bench --explain: a cost model of a training step per variable strategy, from measured
// rates (one tower's compute time, the link bandwidth between the devices) and the bytes each
// strategy moves. Documented, with its assumptions, in docs/placement.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace scopeflow::bench {

struct CostInputs;
// The compute units the K towers share: min(K, units), at least 1.
int units_used(const CostInputs& in);

struct CostInputs {
  double compute_ms = 0;        // one tower's step (forward, backward, its update) at batch b
  double param_bytes = 0;       // S: trainable parameters, bytes
  int towers = 1;               // K
  int compute_units = 1;        // devices that compute in parallel (physical GPUs; 1 for CPUs)
  double link_gb_per_s = 0;     // between worker devices; 0: shared memory (copies are free)
  double ps_link_gb_per_s = 0;  // between a worker and CPU:0 (parameter_server cpu); 0: free
  std::int64_t batch = 1;       // b per tower
  // The shared-device model's inputs (predict_shared; predict ignores them):
  // C(ceil(K/U) x b), one tower at the packed batch, when K > U; 0: not measured.
  double packed_compute_ms = 0;
  // The K towers' independent step measured as such (TransferCosts::step_ms, the in-step
  // calibrations' background); 0: not measured. The compute on logical CPU devices, where K
  // towers contend for the host's cores and a tower of the packed batch is no proxy for them
  // (session 10, 2 cores, Fashion CNN 4 x 16: 56.7 ms against C(4 x 16) = 37-45 ms).
  double towers_step_ms = 0;
  double copy_ms = 0;  // one small copy between worker devices, as the executor runs it
  // The same copy made while the devices compute, as a step's gradients are (TransferCosts::
  // copy_in_step_ms): what a step's worker copies cost when measured; else copy_ms.
  std::optional<double> copy_in_step_ms;
  double ps_copy_ms = 0;       // the same between a worker and CPU:0
  double collective_ms = 0;    // one small NcclAllReduce group over the K devices
  int variables = 0;           // V: trainable variables
  int gradient_repacking = 0;  // P > 0: replicated all-reduces P buffers instead of V gradients
  bool cpu_devices = false;    // the workers are logical CPU devices (CPU:0 is worker 0)
  // The share of the host link's transfer time that the compute hides (measure_host_overlap:
  // host copies and GPU work in one step against each alone), in [0, 1]. 1: all of it (session
  // 7's first H200), 0: none (its second, whose host side was a third slower).
  double host_overlap = 1.0;
  // The host link's time for parameter_server/cpu's traffic (every variable to every worker and
  // as many bytes back) as the executor moves it, all workers at once (HostOverlap::copies_ms):
  // when measured, the host part of that strategy, in place of K x S / ps_link_gb_per_s + host
  // copies x ps_copy_ms (one 64 MB copy at a time: session 8's H200 run measured 5.1 ms for
  // what that form put at 9.0 ms).
  std::optional<double> host_link_ms;
};

struct Prediction {
  std::string strategy;         // "parameter_server/cpu", "parameter_server/gpu", "replicated", ...
  double compute_ms = 0;        // K / units x one tower's compute
  double bottleneck_bytes = 0;  // bytes over the busiest link per step
  double comm_ms = 0;
  double step_ms = 0;          // compute + comm (no overlap: an upper bound)
  double step_ms_overlap = 0;  // max(compute, comm) (full overlap: a lower bound)
  double images_per_sec = 0;
};

// One prediction per strategy for `in`.
std::vector<Prediction> predict(const CostInputs& in);

// Transfers of one step: copy nodes between worker devices, copy nodes between a worker and
// CPU:0 (GPU workers only; with CPU workers every copy is a worker copy), collective steps.
struct Transfers {
  double worker_copies = 0;
  double host_copies = 0;
  double collectives = 0;
};

// The transfers a strategy's graph makes per step, counted from its construction (K towers,
// V variables or P repacked buffers): the K-1 tower losses to the mean's device (with CPU
// workers also 2(K-1) feeds: towers 1..K-1's images and labels, fed on CPU:0), plus
//   parameter_server/cpu: each tower reads V variables from CPU:0 and sends V gradients there
//     (2VK host copies; 2V(K-1) worker copies when CPU:0 is worker 0);
//   parameter_server/gpu: per variable, K-1 reads and K-1 gradients: 2V(K-1), and the
//     optimizer's learning rate to the other min(K, V) - 1 variable devices;
//   replicated/copy: per buffer, K-1 gradients to device 0 and K-1 means back: 2G(K-1);
//   replicated/ring: per buffer, K(K-1) reduce-scatter and K(K-1) gather segments: 2GK(K-1);
//   replicated/nccl: G collectives, no copies;  independent: none.
// (G = P with --gradient_repacking P, else V.) Keys as predict()'s strategies.
Transfers transfers_per_step(const std::string& strategy, const CostInputs& in);

// The shared-device model: predict()'s bytes / rate, but
//   compute = max(C(b), C(ceil(K/U) x b)) when K > U towers share U compute units (the towers
//     on one unit overlap like one tower of the packed batch; K/U x C(b) when that was not
//     measured), C(b) when K <= U; on logical CPU devices towers_step_ms when measured;
//   comm = bytes / rate + worker copies x copy_ms + host copies x ps_copy_ms
//          + collectives x collective_ms,
// with copy_in_step_ms for copy_ms when measured, and for parameter_server/cpu on GPUs that
// towers share host_link_ms (when measured) for its bytes / rate and host copies.
struct SharedPrediction {
  std::string strategy;
  double compute_ms = 0;
  // predict()'s comm_ms (bytes / rate); for parameter_server/cpu with host_link_ms, that.
  double bandwidth_ms = 0;
  Transfers transfers;
  double transfer_ms = 0;  // the per-transfer costs
  double comm_ms = 0;      // bandwidth_ms + transfer_ms
  // The part of comm_ms over the host link (parameter_server/cpu on GPU workers: its bytes and
  // the host copies). Copy engines move it while the SMs compute another tower, so it can
  // overlap the compute; the rest (copies and collectives on the card) takes the SMs' turn.
  double host_ms = 0;
  // compute + comm - host_overlap x min(host, compute + comm - host): with host_overlap 1,
  // max(compute + (comm - host), host); with 0, compute + comm.
  double step_ms = 0;
  double step_ms_overlap = 0;
  double images_per_sec = 0;
};
std::vector<SharedPrediction> predict_shared(const CostInputs& in);
// The same for one strategy with the transfers the executor counted in a step.
SharedPrediction predict_shared(const CostInputs& in, const std::string& strategy,
                                const Transfers& counted);

// Paper predictions: P physical GPUs (one tower each) with a ring all-reduce over a link of
// `link_gb_per_s`, or N nodes x gpus_per_node GPUs in one ring limited by `network_gb_per_s`.
double ring_allreduce_ms(double bytes, int participants, double link_gb_per_s);

// The --explain text: inputs, the table of predictions, and paper predictions for 2/4/8 GPUs
// over PCIe and NVLink and for 2/4 nodes.
std::string explain_text(const CostInputs& in, double pcie_gb_per_s, double nvlink_gb_per_s,
                         double network_gb_per_s);

}  // namespace scopeflow::bench
