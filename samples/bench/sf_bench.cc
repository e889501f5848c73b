// sf-bench: the tower benchmark, in tf_cnn_benchmarks' language (flags, header block,
// "images/sec" lines and the final "total images/sec" line that users' scripts grep for).
// Strategies and their gradient semantic: samples/bench/tower_bench.h.
// Example: sf-bench --device cpu --num_devices 4 --variable_update replicated --json r.json
#include <scopeflow/scopeflow.h>
#include <CLI/CLI.hpp>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "samples/bench/cost_model.h"
#include "samples/bench/tower_bench.h"
#include "samples/common/flags.h"
#include "samples/common/output_file.h"

namespace bench = scopeflow::bench;

int main(int argc, char** argv) {
  CLI::App app{"sf-bench: multi-tower CNN training benchmark (tf_cnn_benchmarks' flags)"};
  bench::BenchConfig c;
  std::string json_path;
  app.add_option("--model", c.model, "fashion_cnn | cifar_cnn | tiny_cnn");
  app.add_option("--data,--data_name", c.data, "synthetic | fashion-mnist");
  app.add_option("--data_dir", c.data_dir, "folder with the Fashion-MNIST .gz files");
  app.add_option("--batch_size", c.batch_size, "images per device per step");
  app.add_option("--num_batches", c.num_batches, "timed steps");
  app.add_option("--num_warmup_batches", c.num_warmup_batches, "untimed steps first");
  app.add_option("--display_every", c.display_every, "print a progress line every N steps");
  app.add_option("--optimizer", c.optimizer, "sgd | momentum | rmsprop | adam");
  app.add_option("--momentum", c.momentum, "momentum's momentum (tf_cnn_benchmarks: 0.9)");
  app.add_option("--rmsprop_decay", c.rmsprop_decay, "rmsprop's decay (0.9)");
  app.add_option("--rmsprop_momentum", c.rmsprop_momentum, "rmsprop's momentum (0.9)");
  app.add_option("--rmsprop_epsilon", c.rmsprop_epsilon, "rmsprop's epsilon (1.0)");
  app.add_option("--learning_rate,--init_learning_rate", c.learning_rate, "learning rate");
  app.add_option("--seed,--tf_random_seed", c.seed, "graph-level random seed");
  app.add_option("--variable_update", c.variable_update,
                 "parameter_server | replicated | independent");
  auto* local_parameter_device_opt = app.add_option(
      "--local_parameter_device", c.local_parameter_device,
      "parameter_server: gpu (the default, as tf_cnn_benchmarks': spread over the worker "
      "devices) | cpu (CPU:0, as TF's cifar10 multi-GPU tutorial)");
  auto* ps_strategy_opt = app.add_option(
      "--ps_strategy", c.ps_strategy,
      "with --local_parameter_device gpu: greedy (the default: by bytes, as tf_cnn_benchmarks' "
      "ParamServerDeviceSetter) | round_robin");
  app.add_option("--all_reduce_spec", c.all_reduce_spec,
                 "replicated: copy (reduce on device 0) | ring (reduce-scatter + gather) | nccl "
                 "(NcclAllReduce: host reduction on CPUs, ScopeFlow's fused kernel on logical GPUs "
                 "sharing a card, NCCL across physical GPUs)");
  bool use_nccl = true;
  auto* use_nccl_opt = app.add_option(
      "--use_nccl", use_nccl,
      "replicated without --all_reduce_spec: true (default, as tf_cnn_benchmarks) all-reduces "
      "with NcclAllReduce (--all_reduce_spec nccl), false with the copy all-reduce");
  app.add_option("--gradient_repacking", c.gradient_repacking, "pack gradients into K buffers");
  app.add_option("--num_devices,--num_gpus", c.num_devices, "towers (one per device)");
  c.device = "auto";
  app.add_option("--device", c.device,
                 "auto (default: gpu when this machine has one, else cpu) | cpu (CPU:0..N-1) | "
                 "gpu (GPUs, split when N > cards)")
      ->check(CLI::IsMember({"auto", "cpu", "gpu"}));
  app.add_option("--num_intra_threads,--intra_op_threads", c.intra_op_threads,
                 "OpenMP threads per expensive CPU kernel (0: all cores)");
  app.add_option("--inter_op_threads,--num_inter_threads", c.inter_op_threads,
                 "the session's inter-op threads (0: one per hardware thread)");
  app.add_flag("--inbound_copy_streams", c.inbound_copy_streams,
               "copies between logical GPUs of one card on a stream per device pair, not the "
               "receiver's compute stream (SessionOptions::inbound_copy_streams)");
  app.add_flag("--pin_host_memory", c.pin_host_memory,
               "page-locked memory for the CPU devices' tensors, so copies between CPU:0 and "
               "the GPUs are one DMA (SessionOptions::pin_host_memory; --device gpu only)");
  app.add_flag("--log_device_placement", c.log_device_placement, "print each node's device");
  app.add_option("--json", json_path, "write the results here");
  app.add_option("--trace_file", c.trace_file,
                 "write a Chrome trace (chrome://tracing) of the last warm-up step here");
  app.add_option("--dump_graph", c.dump_graph,
                 "write the graph as Graphviz DOT (clusters per name scope, colour per device)");
  bool explain = false;
  double pcie = 25, nvlink = 300, network = 12.5;
  app.add_flag("--explain", explain,
               "print the placement plan and the cost model's step time per strategy (from a "
               "1-tower calibration run and measured links), then run and compare");
  // Bandwidths: finite and > 0, and only with --explain (never silently ignored).
  const CLI::Validator bandwidth = sf::samples::positive_finite("of GB/s");
  auto* paper_pcie =
      app.add_option("--pcie_gb_per_s", pcie, "--explain's paper predictions: PCIe bandwidth")
          ->check(bandwidth);
  auto* paper_nvlink =
      app.add_option("--nvlink_gb_per_s", nvlink, "--explain's paper predictions: NVLink bandwidth")
          ->check(bandwidth);
  auto* paper_network = app.add_option("--network_gb_per_s", network,
                                       "--explain's paper predictions: network bandwidth")
                            ->check(bandwidth);
  auto* allreduce = app.add_subcommand(
      "allreduce", "all-reduce microbenchmark over --num_devices devices (nccl-tests' columns)");
  std::int64_t min_bytes = 1 << 10, max_bytes = 64 << 20;
  int iters = 20;
  allreduce->add_option("--min_bytes", min_bytes, "smallest size (sizes grow 4x)");
  allreduce->add_option("--max_bytes", max_bytes, "largest size");
  allreduce->add_option("--iters", iters, "timed runs per size (the median is reported)");
  int rounds = 1;
  allreduce
      ->add_option("--rounds", rounds,
                   "all-reduces per Session run, back to back (nccl-tests' iterations between "
                   "two synchronizations); the time reported is per all-reduce")
      ->check(CLI::Range(1, 1 << 20));
  std::string op = "mean";
  allreduce
      ->add_option("--op", op,
                   "mean (the replicated strategy's exchange: sum, then 1/K) | sum (the "
                   "all-reduce alone, as nccl-tests' all_reduce_perf)")
      ->check(CLI::IsMember({"mean", "sum"}));
  // `sf-bench allreduce --json F --num_devices 4` as well as `sf-bench --json F ... allreduce`.
  allreduce->fallthrough();
  CLI11_PARSE(app, argc, argv);

  // tf_cnn_benchmarks' --use_nccl (default True): what `replicated` all-reduces with when no
  // --all_reduce_spec says (the allreduce subcommand times the replicated exchange too).
  // Given with --all_reduce_spec, or for another strategy, it is refused, not ignored.
  auto resolve_all_reduce = [&](bool replicated) {
    if (use_nccl_opt->count() > 0) {
      if (!c.all_reduce_spec.empty())
        throw sf::InvalidArgumentError(
            "--use_nccl and --all_reduce_spec both given: --all_reduce_spec nccl or copy says it "
            "alone");
      if (!replicated)
        throw sf::InvalidArgumentError(
            sf::str_cat("--use_nccl applies to --variable_update replicated only (got ",
                        c.variable_update, ")"));
    }
    if (replicated && c.all_reduce_spec.empty()) c.all_reduce_spec = use_nccl ? "nccl" : "copy";
  };

  // --device auto: the GPUs when there are any (tf_cnn_benchmarks' towers are GPUs), else the
  // CPU devices, said on stderr so that a GPU run's command never measures CPUs unnoticed.
  if (c.device == "auto") {
    const auto& gpus = sf::devices::gpu_inventory();
    c.device = gpus.gpus.empty() ? "cpu" : "gpu";
    if (gpus.gpus.empty())
      std::cerr << "sf-bench: --device auto: no GPU (" << gpus.unavailable_reason
                << "), so the towers run on CPU devices\n";
  }

  if (*allreduce) {
    try {
      // The microbenchmark's spec is its own flag (default copy), not --use_nccl's; it packs
      // nothing.
      if (use_nccl_opt->count() > 0)
        throw sf::InvalidArgumentError(
            "--use_nccl does not apply to allreduce: --all_reduce_spec copy|ring|nccl says what "
            "it times (default copy)");
      if (c.gradient_repacking != 0)
        throw sf::InvalidArgumentError(
            "--gradient_repacking does not apply to allreduce: it times one buffer per size");
      if (!json_path.empty()) sf::samples::check_output_file("--json", json_path);
      auto rows = bench::run_allreduce(c, min_bytes, max_bytes, iters, op, rounds);
      const auto links = bench::measure_links(c);
      std::printf(
          "# all-reduce (%s, float32) over %d %s device(s), --all_reduce_spec %s (%s), %d per "
          "Session run\n",
          op.c_str(), c.num_devices, c.device.c_str(),
          c.all_reduce_spec.empty() ? "copy" : c.all_reduce_spec.c_str(),
          bench::all_reduce_implementation(c).c_str(), rounds);
      if (links.worker_gb_per_s > 0)
        std::printf("# device-to-device copy: %.1f GB/s\n", links.worker_gb_per_s);
      std::printf("%14s %12s %14s %14s\n", "size(B)", "time(us)", "algbw(GB/s)", "busbw(GB/s)");
      nlohmann::json j = nlohmann::json::array();
      for (const auto& r : rows) {
        std::printf("%14lld %12.1f %14.2f %14.2f\n", static_cast<long long>(r.bytes), r.time_us,
                    r.algbw_gb_per_s, r.busbw_gb_per_s);
        j.push_back({{"bytes", r.bytes},
                     {"time_us", r.time_us},
                     {"algbw_gb_per_s", r.algbw_gb_per_s},
                     {"busbw_gb_per_s", r.busbw_gb_per_s},
                     {"copy_gb_per_s", links.worker_gb_per_s},
                     {"op", op},
                     {"all_reduce_spec", c.all_reduce_spec.empty() ? "copy" : c.all_reduce_spec},
                     {"rounds", r.rounds},
                     {"nodes_per_run", r.nodes_per_run}});
      }
      if (!json_path.empty())
        sf::samples::write_file_atomically("--json", json_path, j.dump(1) + "\n");
      return 0;
    } catch (const sf::Error& e) {
      std::cerr << "sf-bench allreduce: " << e.what() << "\n";
      return 1;
    }
  }

  try {
    resolve_all_reduce(c.variable_update == "replicated");
    // tf_cnn_benchmarks' defaults for parameter_server: the variables spread over the worker
    // devices, greedily by size (its ParamServerDeviceSetter). The library's BenchConfig keeps
    // CPU:0 and round robin; only flags given say otherwise here.
    if (c.variable_update == "parameter_server") {
      if (local_parameter_device_opt->count() == 0) c.local_parameter_device = "gpu";
      if (ps_strategy_opt->count() == 0 && c.local_parameter_device == "gpu")
        c.ps_strategy = "greedy";
    }
    // Given, it must apply (round_robin, the library's default, passed validate() silently).
    if (ps_strategy_opt->count() > 0 &&
        (c.variable_update != "parameter_server" || c.local_parameter_device != "gpu"))
      throw sf::InvalidArgumentError(
          "--ps_strategy applies to --variable_update parameter_server with "
          "--local_parameter_device gpu only");
    bench::validate(c);
    for (const CLI::Option* o : {paper_pcie, paper_nvlink, paper_network})
      if (o->count() > 0 && !explain)
        throw sf::InvalidArgumentError(
            sf::str_cat(o->get_name(), " applies to --explain's paper predictions only"));
    if (!json_path.empty()) sf::samples::check_output_file("--json", json_path);
    std::cout << sf::build_info_string() << "\n" << bench::header(c) << std::endl;
    std::optional<bench::Prediction> predicted;
    bench::CostInputs in;
    bench::TransferCosts costs;              // --explain's per-transfer calibrations
    std::optional<bench::HostOverlap> host;  // and the host-overlap one (GPUs towers share)
    if (explain) {
      auto cal = bench::independent_config(c);
      cal.num_devices = 1;
      cal.num_batches = std::min(c.num_batches, 10);
      cal.num_warmup_batches = std::max(2, std::min(c.num_warmup_batches, 5));
      auto one = bench::run_benchmark(cal);
      const auto links = bench::measure_links(c);
      in.compute_ms = one.step_ms_median;
      for (const auto& p : one.placement) in.param_bytes += static_cast<double>(p.bytes);
      in.towers = c.num_devices;
      in.compute_units = bench::compute_units(c);
      in.link_gb_per_s = links.worker_gb_per_s;
      in.ps_link_gb_per_s = links.ps_gb_per_s;
      in.batch = c.batch_size;
      // The shared-device model: one tower at the packed batch ceil(K/U) x b when K > U towers
      // share U compute units (same steps as the first calibration), and per-transfer costs.
      const int units = bench::units_used(in);
      if (in.towers > units) {
        auto packed = cal;
        packed.batch_size = c.batch_size * ((in.towers + units - 1) / units);
        in.packed_compute_ms = bench::run_benchmark(packed).step_ms_median;
      }
      // The copies in a step are also measured beside the towers' own step.
      costs = bench::measure_transfer_costs(c, /*in_step=*/true);
      if (costs.copy_in_step_ms)
        std::printf(
            "Copies in a step: %.4f ms each (%lld copies) beside the towers' step "
            "(independent, %.3f ms), %.4f ms alone\n",
            *costs.copy_in_step_ms, static_cast<long long>(costs.step_copies), costs.step_ms,
            costs.copy_ms);
      in.copy_in_step_ms = costs.copy_in_step_ms;
      in.towers_step_ms = costs.step_ms;
      in.copy_ms = costs.copy_ms;
      in.ps_copy_ms = costs.ps_copy_ms;
      in.collective_ms = costs.collective_ms;
      in.variables = static_cast<int>(one.placement.size());
      in.gradient_repacking = c.variable_update == "replicated" ? c.gradient_repacking : 0;
      in.cpu_devices = c.device == "cpu";
      // Whether this machine hides host-link traffic under the compute (only the shared-device
      // model's parameter_server/cpu on GPUs that towers share has such a part).
      if (c.device != "cpu" && in.towers > units) {
        std::vector<std::int64_t> variable_bytes;
        for (const auto& p : one.placement) variable_bytes.push_back(p.bytes);
        const auto& h = host.emplace(bench::measure_host_overlap(c, variable_bytes));
        in.host_overlap = h.overlap;
        in.host_link_ms = h.link_ms;
        std::printf(
            "Host-link overlap: copies %.2f ms, the towers' step %.2f ms (independent), both "
            "%.2f ms (%lld copies beside the step): %.2f of the shorter hidden; the copies' "
            "link time %.2f ms (less a run without them)\n"
            "CPU:0's mean and update of the %d gradient sets (parameter_server/cpu), alone: "
            "%.2f ms (reported, not a term of the model)\n"
            "With that update in the host part (reported, not the model's): copies and update "
            "%.2f ms, beside the step %.2f ms: %.2f of the shorter hidden; host part %.2f ms\n",
            h.copies_ms, h.compute_ms, h.both_ms, static_cast<long long>(h.step_copies), h.overlap,
            h.link_ms, c.num_devices, h.update_ms, h.part_copies_ms, h.part_both_ms, h.part_overlap,
            h.part_ms);
      }
      std::cout << bench::explain_text(in, pcie, nvlink, network);
      for (const auto& p : bench::predict(in))
        if (p.strategy == bench::strategy_key(c)) predicted = p;
    }
    auto r =
        bench::run_benchmark(c, [](const std::string& line) { std::cout << line << std::endl; });
    // The shared-device model for this strategy with the transfers the executor made in a step.
    std::optional<bench::SharedPrediction> shared, shared_host_part;
    if (predicted) {
      const bench::Transfers counted{
          .worker_copies = static_cast<double>(r.copies_per_step - r.host_copies_per_step),
          .host_copies = static_cast<double>(r.host_copies_per_step),
          .collectives = static_cast<double>(r.collectives_per_step)};
      shared = bench::predict_shared(in, bench::strategy_key(c), counted);
      // The same with CPU:0's mean and update in parameter_server/cpu's host part (reported).
      if (host && bench::strategy_key(c) == "parameter_server/cpu") {
        auto with_update = in;
        with_update.host_link_ms = host->part_ms;
        with_update.host_overlap = host->part_overlap;
        shared_host_part = bench::predict_shared(with_update, bench::strategy_key(c), counted);
      }
    }
    if (explain) {
      std::cout << "Placement (variable -> device, bytes):\n";
      for (const auto& p : r.placement)
        std::cout << "  " << p.variable << " -> " << p.device << ", " << p.bytes << "\n";
      std::cout << "Copied per step: " << r.bytes_copied_per_step << " bytes\n";
      if (c.variable_update == "replicated" && c.num_devices > 1)
        std::cout << "All-reduce: --all_reduce_spec "
                  << (c.all_reduce_spec.empty() ? "copy" : c.all_reduce_spec) << " runs on "
                  << bench::all_reduce_implementation(c) << "\n";
      if (predicted)
        std::printf(
            "Measured step %.2f ms; predicted %.2f ms (no overlap), %.2f ms (overlap): %+.1f%%\n",
            r.step_ms_median, predicted->step_ms, predicted->step_ms_overlap,
            100.0 * (r.step_ms_median - predicted->step_ms) / predicted->step_ms);
      if (shared) {
        const auto formula = bench::transfers_per_step(bench::strategy_key(c), in);
        std::printf(
            "Shared-device model: predicted %.2f ms (no overlap), %.2f ms (overlap): %+.1f%% "
            "(compute %.2f ms; %lld copies, %lld of them to/from CPU:0, %lld collectives in the "
            "step; counted from the graph: %.0f, %.0f, %.0f)\n",
            shared->step_ms, shared->step_ms_overlap,
            100.0 * (r.step_ms_median - shared->step_ms) / shared->step_ms, shared->compute_ms,
            static_cast<long long>(r.copies_per_step),
            static_cast<long long>(r.host_copies_per_step),
            static_cast<long long>(r.collectives_per_step),
            formula.worker_copies + formula.host_copies, formula.host_copies, formula.collectives);
      }
      if (shared_host_part)
        std::printf(
            "With CPU:0's mean and update in the host part (reported, not the model's): "
            "predicted %.2f ms: %+.1f%%\n",
            shared_host_part->step_ms,
            100.0 * (r.step_ms_median - shared_host_part->step_ms) / shared_host_part->step_ms);
    }
    std::cout << "----------------------------------------------------------------\n";
    std::printf("total images/sec: %.2f\n", r.images_per_sec);
    std::cout << "----------------------------------------------------------------" << std::endl;
    if (!json_path.empty()) {
      nlohmann::json placement = nlohmann::json::array();
      for (const auto& p : r.placement)
        placement.push_back({{"variable", p.variable}, {"device", p.device}, {"bytes", p.bytes}});
      nlohmann::json j = {
          {"images_per_sec", r.images_per_sec},
          {"images_per_sec_mean", r.images_per_sec_mean},
          {"images_per_sec_stderr", r.images_per_sec_stderr},
          {"jitter", r.jitter},
          {"step_ms_median", r.step_ms_median},
          {"bytes_copied_per_step", r.bytes_copied_per_step},
          {"copies_per_step", r.copies_per_step},
          {"host_copies_per_step", r.host_copies_per_step},
          {"collectives_per_step", r.collectives_per_step},
          {"final_loss", r.final_loss},
          {"param_checksum", r.param_checksum},
          {"placement", placement},
          {"devices", r.devices},
          {"num_devices", c.num_devices},
          {"device", c.device},
          {"model", c.model},
          {"data", c.data},
          {"batch_size", c.batch_size},
          {"num_batches", c.num_batches},
          {"optimizer", c.optimizer},
          {"learning_rate", c.learning_rate},
          {"momentum", c.momentum},
          {"rmsprop_decay", c.rmsprop_decay},
          {"rmsprop_momentum", c.rmsprop_momentum},
          {"rmsprop_epsilon", c.rmsprop_epsilon},
          {"variable_update", c.variable_update},
          {"local_parameter_device", c.local_parameter_device},
          {"ps_strategy", c.ps_strategy},
          {"inbound_copy_streams", c.inbound_copy_streams},
          {"pin_host_memory", c.pin_host_memory},
          {"gradient_repacking", c.gradient_repacking},
          {"all_reduce_spec", c.all_reduce_spec.empty() && c.variable_update == "replicated"
                                  ? "copy"
                                  : c.all_reduce_spec},
          {"num_variables", r.num_variables},
          {"graph_nodes", r.graph_nodes},
          {"build", sf::build_info_string()}};
      if (predicted) {  // --explain: the cost model's prediction for this strategy
        j["predicted_step_ms"] = predicted->step_ms;
        j["predicted_step_ms_overlap"] = predicted->step_ms_overlap;
      }
      if (shared) {  // --explain: the shared-device model (packed compute, per-transfer costs)
        j["predicted_step_ms_shared"] = shared->step_ms;
        j["predicted_step_ms_shared_overlap"] = shared->step_ms_overlap;
        j["predicted_compute_ms_shared"] = shared->compute_ms;
        j["calibration_step_ms"] = in.compute_ms;
        j["packed_calibration_step_ms"] = in.packed_compute_ms;
        j["copy_ms"] = in.copy_ms;
        j["ps_copy_ms"] = in.ps_copy_ms;
        j["host_overlap"] = in.host_overlap;
        j["collective_ms"] = in.collective_ms;
        if (in.copy_in_step_ms) {
          j["copy_in_step_ms"] = *in.copy_in_step_ms;
          // Its background (the towers' independent step with the probe tensors read where
          // made) and the copy nodes the crossing step ran beyond it.
          j["in_step_background_ms"] = costs.step_ms;
          j["in_step_copies"] = costs.step_copies;
        }
        if (in.host_link_ms) j["host_link_ms"] = *in.host_link_ms;
        if (host) {
          j["host_traffic_copies"] = host->step_copies;
          j["host_update_ms"] = host->update_ms;
          j["host_part_ms"] = host->part_ms;
          j["host_part_overlap"] = host->part_overlap;
          j["host_part_both_ms"] = host->part_both_ms;
        }
        if (shared_host_part) j["predicted_step_ms_shared_host_part"] = shared_host_part->step_ms;
      }
      sf::samples::write_file_atomically("--json", json_path, j.dump(1) + "\n");
    }
    return 0;
  } catch (const sf::Error& e) {
    std::cerr << "sf-bench: " << e.what() << "\n";
    return 1;
  }
}
