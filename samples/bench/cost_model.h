// sf-bench --explain: a cost model of a training step per variable strategy, from measured
// rates (one tower's compute time, the link bandwidth between the devices) and the bytes each
// strategy moves. Documented, with its assumptions, in docs/placement.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace scopeflow::bench {

struct CostInputs {
  double compute_ms = 0;        // one tower's step (forward, backward, its update) at batch b
  double param_bytes = 0;       // S: trainable parameters, bytes
  int towers = 1;               // K
  int compute_units = 1;        // devices that compute in parallel (physical GPUs; 1 for CPUs)
  double link_gb_per_s = 0;     // between worker devices; 0: shared memory (copies are free)
  double ps_link_gb_per_s = 0;  // between a worker and CPU:0 (parameter_server cpu); 0: free
  std::int64_t batch = 1;       // b per tower
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

// Paper predictions: P physical GPUs (one tower each) with a ring all-reduce over a link of
// `link_gb_per_s`, or N nodes x gpus_per_node GPUs in one ring limited by `network_gb_per_s`.
double ring_allreduce_ms(double bytes, int participants, double link_gb_per_s);

// The --explain text: inputs, the table of predictions, and paper predictions for 2/4/8 GPUs
// over PCIe and NVLink and for 2/4 nodes.
std::string explain_text(const CostInputs& in, double pcie_gb_per_s, double nvlink_gb_per_s,
                         double network_gb_per_s);

}  // namespace scopeflow::bench
