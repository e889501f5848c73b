// sf-demo: the main job until training lands. Lists the devices ScopeFlow finds (CPU:0..k-1,
// GPUs and logical GPUs), then on each device fills a tensor with the Fill kernel, copies
// it back to the host, checks every element and prints the allocator's statistics.
#include <scopeflow/scopeflow.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>

namespace {

// Runs Fill(dims, value) on `device` and returns the number of wrong elements.
std::int64_t fill_and_check(const std::shared_ptr<sf::devices::Device>& device, std::int64_t n,
                            float value) {
  sf::kernels::KernelContext ctx;
  ctx.device = device.get();
  ctx.inputs = {sf::Tensor::from_vector<std::int64_t>({n}, {1}), sf::Tensor::from_scalar(value)};
  ctx.outputs = {sf::Tensor(sf::float32, {n}, device)};
  const auto& kernel = sf::kernels::kernel_registry().find("Fill", device->type(), sf::float32);
  kernel(ctx);
  device->compute_stream().synchronize();
  std::int64_t wrong = 0;
  for (float x : ctx.outputs[0].to_vector<float>()) wrong += x != value;
  return wrong;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sf-demo: list ScopeFlow's devices and run a kernel on each"};
  int cpus = 2;
  int logical_gpus = 1;
  std::int64_t elements = 1 << 20;
  app.add_option("--cpus", cpus, "logical CPU devices")->check(CLI::Range(1, 256));
  app.add_option("--logical_gpus", logical_gpus, "logical GPUs per physical GPU")
      ->check(CLI::Range(1, 64));
  app.add_option("--elements", elements, "elements per tensor")->check(CLI::Range(1, 1 << 30));
  CLI11_PARSE(app, argc, argv);

  try {
    std::cout << sf::build_info_string() << "\n";
    const auto& inv = sf::devices::gpu_inventory();
    std::cout << "physical GPUs: " << inv.gpus.size();
    if (inv.gpus.empty()) std::cout << " (" << inv.unavailable_reason << ")";
    std::cout << "\n";

    sf::devices::DeviceManagerOptions options;
    options.num_cpus = cpus;
    if (logical_gpus > 1)
      for (const auto& g : inv.gpus)
        options.logical_gpus[g.id] =
            std::vector<sf::devices::LogicalGpuConfig>(static_cast<std::size_t>(logical_gpus));
    sf::devices::DeviceManager manager(options);

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
                << " ms; allocator " << d->allocator().stats().to_string() << "\n";
    }
    std::cout << (failures == 0 ? "all devices ok" : "FAILED") << "\n";
    return failures == 0 ? 0 : 1;
  } catch (const sf::Error& e) {
    std::cerr << "sf-demo: " << sf::code_name(e.code()) << ": " << e.what() << "\n";
    return 2;
  }
}
