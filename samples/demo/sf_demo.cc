// sf-demo: the main job until training lands. Lists the devices ScopeFlow finds (CPU:0..k-1,
// GPUs, logical GPUs), runs the Fill kernel on each device, then builds and runs a small
// graph the TF1 way: shared variables created once under variable_scope("model") and reused
// by one tower per device (name scopes tower_0, tower_1, ...), and checks every result.
#include <scopeflow/scopeflow.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <iostream>

namespace {

// Runs Fill(dims, value) on `device` and returns the number of wrong elements.
std::int64_t fill_and_check(const std::shared_ptr<sf::devices::Device>& device, std::int64_t n,
                            float value) {
  sf::kernels::KernelContext ctx;
  ctx.device = device.get();
  ctx.device_ptr = device;
  ctx.inputs = {sf::Tensor::from_vector<std::int64_t>({n}, {1}), sf::Tensor::from_scalar(value)};
  sf::kernels::kernel_registry().find("Fill", device->type(), sf::float32)(ctx);
  device->compute_stream().synchronize();
  std::int64_t wrong = 0;
  for (float x : ctx.outputs[0].to_vector<float>()) wrong += x != value;
  return wrong;
}

// One tower: y = x * w + b with w, b from the enclosing (possibly reusing) variable scope.
sf::Output tower(const sf::Output& x) {
  auto w = sf::get_variable("w", {4}, {.initializer = sf::constant_initializer(2.0)});
  auto b = sf::get_variable("b", {4}, {.initializer = sf::random_uniform_initializer(0, 1, 7)});
  return x * w + b;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sf-demo: list ScopeFlow's devices, run a kernel on each, run a small graph"};
  int cpus = 2;
  int logical_gpus = 1;
  std::int64_t elements = 1 << 20;
  bool log_placement = false;
  app.add_option("--cpus", cpus, "logical CPU devices")->check(CLI::Range(1, 256));
  app.add_option("--logical_gpus", logical_gpus, "logical GPUs per physical GPU")
      ->check(CLI::Range(1, 64));
  app.add_option("--elements", elements, "elements per tensor")->check(CLI::Range(1, 1 << 30));
  app.add_flag("--log_device_placement", log_placement, "print each node's device, as TF does");
  CLI11_PARSE(app, argc, argv);

  try {
    std::cout << sf::build_info_string() << "\n";
    const auto& inv = sf::devices::gpu_inventory();
    std::cout << "physical GPUs: " << inv.gpus.size();
    if (inv.gpus.empty()) std::cout << " (" << inv.unavailable_reason << ")";
    std::cout << "\n";

    sf::SessionOptions options{.log_device_placement = log_placement,
                               .device_count = {{"CPU", cpus}}};
    if (logical_gpus > 1)
      for (const auto& g : inv.gpus)
        options.logical_gpus[g.id] =
            std::vector<sf::devices::LogicalGpuConfig>(static_cast<std::size_t>(logical_gpus));
    sf::Session sess(options);
    const auto& manager = sess.device_manager();

    std::cout << "devices:\n";
    for (const auto& d : manager.devices()) std::cout << "  " << d->description() << "\n";

    std::int64_t failures = 0;
    for (const auto& d : manager.devices()) {
      const auto start = std::chrono::steady_clock::now();
      const std::int64_t wrong = fill_and_check(d, elements, 0.5f + static_cast<float>(d->index()));
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count();
      failures += wrong;
      std::cout << "  " << d->name() << ": Fill(" << elements << ") "
                << (wrong == 0 ? "ok" : sf::str_cat(wrong, " wrong elements")) << " in " << ms
                << " ms\n";
    }

    // The graph: one tower per device, sharing model/w and model/b through reuse.
    auto x = sf::placeholder(sf::float32, {4}, "x");
    std::vector<sf::Output> outputs;
    for (std::size_t i = 0; i < manager.devices().size(); ++i) {
      const auto& d = manager.devices()[i];
      sf::device on(d->name());
      sf::name_scope ns(sf::str_cat("tower_", i));
      sf::variable_scope model("model", {.reuse = i > 0});
      outputs.push_back(tower(x));
    }
    std::cout << "graph: " << sf::get_default_graph().num_nodes() << " nodes; variables:";
    for (const auto& v : sf::global_variables()) std::cout << " " << v.name();
    std::cout << "\n";
    sess.run(sf::global_variables_initializer());
    auto b = sess.run(sf::global_variables()[1]).to_vector<float>();
    const auto results = sess.run(outputs, {{x, sf::Tensor::from_vector<float>({1, 2, 3, 4})}});
    for (std::size_t i = 0; i < results.size(); ++i) {
      const auto y = results[i].to_vector<float>();
      std::int64_t wrong = 0;
      for (std::size_t k = 0; k < 4; ++k)
        wrong += std::abs(y[k] - (2.0f * static_cast<float>(k + 1) + b[k])) > 1e-6f;
      failures += wrong;
      std::cout << "  " << outputs[i].name() << " on " << sess.assigned_device(outputs[i].op())
                << ": " << results[i].debug_string() << (wrong ? "  WRONG" : "") << "\n";
    }
    if (sf::global_variables().size() != 2) ++failures;
    std::cout << (failures == 0 ? "all devices ok" : "FAILED") << "\n";
    return failures == 0 ? 0 : 1;
  } catch (const sf::Error& e) {
    std::cerr << "sf-demo: " << sf::code_name(e.code()) << ": " << e.what() << "\n";
    return 2;
  }
}
