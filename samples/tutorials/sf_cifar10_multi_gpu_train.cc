// sf-cifar10-multi-gpu-train: TF's cifar10_multi_gpu_train.py (and, with --eval, cifar10_eval.py)
// on ScopeFlow. The graph is cifar10_model.h's port of the tutorial: variables on /cpu:0, one
// tower per device ("tower_%d") sharing them, averaged gradients, an exponential_decay learning
// rate and moving averages of every weight; evaluation restores the averages into a fresh
// graph and scores precision @ 1 with in_top_k. Prints the tutorial's lines; --json writes a
// summary. Data: CIFAR-10's binary version (--data_dir) or synthetic images (--data synthetic).
#include <scopeflow/scopeflow.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <new>
#include <nlohmann/json.hpp>
#include <random>

#include "samples/common/output_file.h"
#include "samples/tutorials/cifar10_input.h"
#include "samples/tutorials/cifar10_model.h"

namespace sf = scopeflow;
namespace c10 = scopeflow::tutorials::cifar10;

namespace {

// Python's datetime.now() as the tutorial prints it.
std::string now() {
  const auto t = std::chrono::system_clock::now();
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count() % 1000000;
  std::tm tm{};
  localtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  char out[80];
  std::snprintf(out, sizeof out, "%s.%06lld", buf, static_cast<long long>(micros));
  return out;
}

sf::SessionOptions session_options(const std::string& device, int towers, bool log_placement) {
  sf::SessionOptions options{.log_device_placement = log_placement};
  if (device == "cpu") {
    options.device_count = {{"CPU", std::max(1, towers)}};
  } else {
    const auto& inv = sf::devices::gpu_inventory();
    if (inv.gpus.empty())
      throw sf::InvalidArgumentError(
          sf::str_cat("--device gpu: no GPU (", inv.unavailable_reason, ")"));
    // More towers than cards: each card split into logical GPUs, as sf-train does.
    if (static_cast<int>(inv.gpus.size()) < towers)
      options.logical_gpus[0] =
          std::vector<sf::devices::LogicalGpuConfig>(static_cast<std::size_t>(towers));
  }
  return options;
}

// cifar10_eval.eval_once: the averages restored into the model, precision @ 1 over `examples`.
double evaluate(const std::string& checkpoint, const c10::Dataset& test, std::int64_t batch,
                std::int64_t examples, const std::string& device, std::int64_t* counted) {
  sf::reset_default_graph();
  sf::Output images, labels, top_k_op;
  {
    sf::device d(device == "gpu" ? "/gpu:0" : "/cpu:0");
    images = sf::placeholder(sf::float32, {batch, c10::kImageSize, c10::kImageSize, 3}, "images");
    labels = sf::placeholder(sf::int32, {batch}, "labels");
    auto logits = c10::inference(images);
    top_k_op = sf::nn::in_top_k(logits, labels, 1);
  }
  sf::train::ExponentialMovingAverage ema(c10::kMovingAverageDecay);
  sf::train::Saver saver({.var_dict = ema.variables_to_restore()});
  sf::Session sess(session_options(device, 1, false));
  saver.restore(sess, checkpoint);
  const std::int64_t iters = (examples + batch - 1) / batch;  // math.ceil, as the tutorial
  std::vector<float> pixels(
      static_cast<std::size_t>(batch * c10::kImageSize * c10::kImageSize * 3));
  std::vector<std::int32_t> ids(static_cast<std::size_t>(batch));
  std::mt19937_64 unused(0);
  std::int64_t true_count = 0;
  for (std::int64_t step = 0; step < iters; ++step) {
    c10::make_batch(test, step * batch, batch, false, unused, pixels.data(), ids.data());
    auto hit =
        sess.run(top_k_op, {{images, sf::Tensor::from_vector<float>(
                                         pixels, {batch, c10::kImageSize, c10::kImageSize, 3})},
                            {labels, sf::Tensor::from_vector<std::int32_t>(ids, {batch})}});
    for (bool b : hit.to_vector<bool>()) true_count += b;
  }
  *counted = iters * batch;
  return double(true_count) / double(iters * batch);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "sf-cifar10-multi-gpu-train: TF's cifar10 multi-GPU tutorial (cifar10_multi_gpu_train.py, "
      "and cifar10_eval.py with --eval) on ScopeFlow"};
  std::string data = "cifar10", data_dir = "/tmp/cifar10_data/cifar-10-batches-bin";
  std::string train_dir = "/tmp/cifar10_train", device = "auto", json_path, trace_file;
  std::int64_t batch = 128, max_steps = 1000, num_examples = 10000, synthetic_size = 1024;
  int num_gpus = 1, log_frequency = 10;
  std::int64_t seed = 1;
  bool log_placement = false, eval = false;
  app.add_option("--data", data, "cifar10 (the binary version in --data_dir) | synthetic")
      ->check(CLI::IsMember({"cifar10", "synthetic"}));
  app.add_option("--data_dir", data_dir, "folder with data_batch_1..5.bin and test_batch.bin");
  app.add_option("--train_dir", train_dir, "where the checkpoint is written");
  app.add_option("--batch_size", batch, "images per tower per step")->check(CLI::Range(1, 4096));
  app.add_option("--max_steps", max_steps, "steps to run")->check(CLI::Range(1, 100000000));
  app.add_option("--num_gpus", num_gpus, "towers (one per device)")->check(CLI::Range(1, 64));
  app.add_option("--device", device,
                 "gpu (towers on GPUs, split into logical GPUs when fewer cards), cpu (towers on "
                 "logical CPU devices) or auto (gpu when the machine has one)")
      ->check(CLI::IsMember({"auto", "cpu", "gpu"}));
  app.add_option("--log_frequency", log_frequency, "steps between the loss lines")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--seed", seed, "graph-level seed (weights) and the input's seed")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--synthetic_size", synthetic_size, "images in the synthetic set")
      ->check(CLI::Range(1, 1000000));
  app.add_flag("--eval", eval, "then score the moving averages on the test set (cifar10_eval)");
  app.add_option("--num_examples", num_examples, "test images to score with --eval")
      ->check(CLI::Range(1, 10000000));
  app.add_flag("--log_device_placement", log_placement, "print each node's device");
  app.add_option("--json", json_path, "write a JSON summary here");
  app.add_option("--trace_file", trace_file,
                 "write a Chrome trace (chrome://tracing) of the last training step");
  CLI11_PARSE(app, argc, argv);

  try {
    if (!json_path.empty()) sf::samples::check_output_file("--json", json_path);
    if (!trace_file.empty()) sf::samples::check_output_file("--trace_file", trace_file);
    sf::samples::check_output_dir("--train_dir", train_dir);
    if (device == "auto") {
      device = sf::devices::gpu_inventory().gpus.empty() ? "cpu" : "gpu";
      std::cerr << "--device auto: " << device << "\n";
    }
    if (device == "gpu" && sf::devices::gpu_inventory().gpus.empty())
      throw sf::InvalidArgumentError(sf::str_cat(
          "--device gpu: no GPU (", sf::devices::gpu_inventory().unavailable_reason, ")"));
    // --eval's test file is checked before the training it would follow.
    if (eval && data == "cifar10")
      (void)c10::read_cifar10_file((std::filesystem::path(data_dir) / "test_batch.bin").string());
    const c10::Dataset train =
        data == "synthetic"
            ? c10::synthetic_cifar10(synthetic_size, static_cast<std::uint64_t>(seed))
            : c10::read_cifar10(data_dir, false);
    std::cerr << sf::build_info_string() << "\ndata: " << train.size() << " training images ("
              << data << ")\n";

    sf::set_random_seed(seed);
    const std::string tower_prefix = device == "gpu" ? "/gpu:" : "/cpu:";
    auto towers = c10::build_towers(
        num_gpus, batch, [&](int i) { return tower_prefix + std::to_string(i); },
        c10::kInitialLearningRate, c10::kMovingAverageDecay, c10::decay_steps(batch, num_gpus));
    sf::train::Saver saver;
    sf::Session sess(session_options(device, num_gpus, log_placement));
    sess.run(sf::global_variables_initializer());

    const std::int64_t pixels_per_batch = batch * c10::kImageSize * c10::kImageSize * 3;
    std::vector<float> pixels(static_cast<std::size_t>(pixels_per_batch));
    std::vector<std::int32_t> ids(static_cast<std::size_t>(batch));
    std::mt19937_64 rng(static_cast<std::uint64_t>(seed));
    std::int64_t next = 0;
    float loss_value = 0;
    double images_per_sec = 0;
    std::vector<double> rates;
    std::string checkpoint;
    for (std::int64_t step = 0; step < max_steps; ++step) {
      sf::FeedDict feeds;
      for (int i = 0; i < num_gpus; ++i) {
        c10::make_batch(train, next, batch, true, rng, pixels.data(), ids.data());
        next = (next + batch) % train.size();
        feeds.emplace_back(
            towers.images[static_cast<std::size_t>(i)],
            sf::Tensor::from_vector<float>(pixels, {batch, c10::kImageSize, c10::kImageSize, 3}));
        feeds.emplace_back(towers.labels[static_cast<std::size_t>(i)],
                           sf::Tensor::from_vector<std::int32_t>(ids, {batch}));
      }
      const auto start = std::chrono::steady_clock::now();
      // The tutorial fetches the last tower's loss with the train op.
      const bool traced = !trace_file.empty() && step == max_steps - 1;
      sf::RunMetadata md;
      auto out = traced ? sess.run({towers.losses.back()}, {towers.train_op}, feeds,
                                   {.trace_level = sf::RunOptions::kFullTrace}, &md)
                        : sess.run({towers.losses.back()}, {towers.train_op}, feeds);
      if (traced)
        sf::samples::write_file_atomically(
            "--trace_file", trace_file,
            sf::timeline::Timeline(md.step_stats).generate_chrome_trace_format());
      const double duration =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      loss_value = out[0].scalar<float>();
      if (std::isnan(loss_value))  // the tutorial's assert (an infinite loss goes on)
        throw sf::InternalError(sf::str_cat("Model diverged with loss = NaN at step ", step));
      // Step 0 warms up (not timed), unless it is the only step.
      if (step > 0 || max_steps == 1) rates.push_back(double(batch * num_gpus) / duration);
      if (step % log_frequency == 0) {
        char line[160];
        std::snprintf(line, sizeof line,
                      "%s: step %lld, loss = %.2f (%.1f examples/sec; %.3f "
                      "sec/batch)",
                      now().c_str(), static_cast<long long>(step), loss_value,
                      double(batch * num_gpus) / duration, duration / num_gpus);
        std::cout << line << std::endl;
      }
      // As the tutorial: a checkpoint every 1000 steps and after the last, named by the step.
      if (step % 1000 == 0 || step + 1 == max_steps)
        checkpoint =
            saver.save(sess, (std::filesystem::path(train_dir) / "model.ckpt").string(), step);
    }
    if (!rates.empty()) {
      double total = 0;
      for (double r : rates) total += 1.0 / r;  // seconds per image, summed
      images_per_sec = double(rates.size()) / total;
    }
    std::cout << "checkpoint: " << checkpoint << std::endl;

    nlohmann::json summary = {{"program", "sf-cifar10-multi-gpu-train"},
                              {"device", device},
                              {"num_gpus", num_gpus},
                              {"batch_size", batch},
                              {"steps", max_steps},
                              {"data", data},
                              {"final_loss", loss_value},
                              {"images_per_sec", images_per_sec},
                              {"checkpoint", checkpoint}};
    if (eval) {
      const c10::Dataset test = data == "synthetic" ? train : c10::read_cifar10(data_dir, true);
      std::int64_t counted = 0;
      const double precision =
          evaluate(checkpoint, test, std::min(batch, num_examples), num_examples, device, &counted);
      std::printf("%s: precision @ 1 = %.3f\n", now().c_str(), precision);
      summary["precision_at_1"] = precision;
      summary["eval_examples"] = counted;
    }
    if (!json_path.empty())
      sf::samples::write_file_atomically("--json", json_path, summary.dump(1) + "\n");
    return 0;
  } catch (const std::bad_alloc&) {
    std::cerr << "sf-cifar10-multi-gpu-train: out of memory (try a smaller --synthetic_size or "
                 "--batch_size)\n";
    return 1;
  } catch (const sf::Error& e) {
    std::cerr << "sf-cifar10-multi-gpu-train: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {  // a file system or library error outside sf::Error
    std::cerr << "sf-cifar10-multi-gpu-train: " << e.what() << "\n";
    return 1;
  }
}
