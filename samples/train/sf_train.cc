// sf-train: trains TF's Fashion-MNIST convnet (conv5x5x32 -> maxpool -> conv5x5x64 -> maxpool ->
// dense 1024 -> dense 10) the TF1 multi-tower way (cifar10_multi_gpu_train.py): the model is
// built under variable_scope("model") once per tower, sharing its variables through reuse;
// towers sit under name scopes tower_i on /device:CPU:i or /device:GPU:i; their gradients are
// averaged and applied once per step. Prints a progress line per epoch, test accuracy at each
// epoch end, and writes a JSON summary.
#include <scopeflow/scopeflow.h>

#include <unistd.h>
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>

#include "runtime/session/timeline.h"
#include "samples/common/flags.h"
#include "samples/common/output_file.h"

namespace {

constexpr std::int64_t kClasses = 10;

// Variables live on `ps_device` whatever device the tower runs on (TF's _variable_on_cpu),
// through a custom getter: the device scope applies to the variable ops it creates.
sf::CustomGetter on_device(std::string ps_device) {
  return [ps_device](const sf::Getter& next, const std::string& name, const sf::Shape& shape,
                     const sf::GetVariableOptions& options) {
    sf::device d(ps_device);
    return next(name, shape, options);
  };
}

sf::Output dense(const sf::Output& x, std::int64_t in, std::int64_t out, bool relu) {
  auto w = sf::get_variable("weights", {in, out},
                            {.initializer = sf::truncated_normal_initializer(0.0, 0.1)});
  auto b = sf::get_variable("biases", {out}, {.initializer = sf::constant_initializer(0.1)});
  auto y = sf::nn::bias_add(sf::matmul(x, w), b);
  return relu ? sf::nn::relu(y) : y;
}

sf::Output conv_pool(const sf::Output& x, std::int64_t in, std::int64_t out) {
  auto w = sf::get_variable("weights", {5, 5, in, out},
                            {.initializer = sf::truncated_normal_initializer(0.0, 0.1)});
  auto b = sf::get_variable("biases", {out}, {.initializer = sf::constant_initializer(0.1)});
  auto h = sf::nn::relu(sf::nn::bias_add(sf::nn::conv2d(x, w, {1, 1, 1, 1}, "SAME"), b));
  return sf::nn::max_pool(h, {1, 2, 2, 1}, {1, 2, 2, 1}, "SAME");
}

// The convnet: images [B, 28, 28, 1] -> logits [B, 10]; dropout on fc1 when keep_prob < 1
// (training towers only, as TF's tutorial does).
sf::Output model(const sf::Output& images, std::int64_t batch, double keep_prob = 1.0) {
  sf::Output h;
  {
    sf::variable_scope s("conv1");
    h = conv_pool(images, 1, 32);
  }
  {
    sf::variable_scope s("conv2");
    h = conv_pool(h, 32, 64);
  }
  h = sf::reshape(h, {batch, 7 * 7 * 64});
  {
    sf::variable_scope s("fc1");
    h = dense(h, 7 * 7 * 64, 1024, true);
  }
  if (keep_prob < 1.0) h = sf::nn::dropout(h, keep_prob);
  sf::variable_scope s("fc2");
  return dense(h, 1024, kClasses, false);
}

std::int64_t count_correct(const sf::Tensor& logits, const sf::Tensor& labels) {
  const auto l = logits.to_vector<float>();
  const auto y = labels.to_vector<std::int32_t>();
  std::int64_t correct = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    const float* row = l.data() + i * kClasses;
    correct += (std::max_element(row, row + kClasses) - row) == y[i];
  }
  return correct;
}

}  // namespace

// Beside the checkpoints: the settings that place a resumed run in the data.
constexpr const char* kRunSettings = "sf-train-run.json";

int main(int argc, char** argv) {
  CLI::App app{"sf-train: train the shared-weight Fashion-MNIST CNN on one or more towers"};
  std::string data_dir = "/usr/share/datasets/fashion-mnist", device = "auto", optimizer = "adam",
              json_path;
  int epochs = 2, towers = 2;
  std::int64_t batch = 64, seed = 1, max_steps = 0;
  double lr = 0.001, keep_prob = 0.5;
  bool log_placement = false, resume = false, cuda_graph = false;
  std::string ps_device = "auto", graph_state = "off";
  std::string checkpoint_dir;
  app.add_option("--data", data_dir, "folder with the Fashion-MNIST .gz files");
  app.add_option("--epochs", epochs, "passes over the training set")->check(CLI::Range(1, 1000));
  app.add_option("--batch_size", batch, "images per tower per step")->check(CLI::Range(1, 4096));
  app.add_option("--towers", towers, "model replicas sharing the variables")
      ->check(CLI::Range(1, 64));
  app.add_option("--device", device,
                 "where towers run: cpu (CPU:0..N-1), gpu (GPU:0..N-1), auto (gpu if present)")
      ->check(CLI::IsMember({"cpu", "gpu", "auto"}));
  std::int64_t eval_limit = 0;
  app.add_option("--eval_limit", eval_limit, "evaluate on at most this many test images (0: all)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--optimizer", optimizer, "sgd | momentum | adam")
      ->check(CLI::IsMember({"sgd", "momentum", "adam"}));
  app.add_option("--lr", lr, "learning rate")->check(sf::samples::positive_finite());
  app.add_option("--keep_prob", keep_prob,
                 "dropout keep probability on fc1 while training (1: no dropout)")
      ->check(CLI::Range(0.01, 1.0))
      ->check(sf::samples::positive_finite());  // (a range alone lets NaN through)
  app.add_option("--seed", seed, "graph-level random seed (weights and shuffling)");
  int intra_threads = 0;
  app.add_option("--num_intra_threads,--intra_op_threads", intra_threads,
                 "OpenMP threads per expensive CPU kernel (TF's intra_op_parallelism_threads; "
                 "0: all; 1 per tower is fastest when towers run side by side)")
      ->check(CLI::Range(0, 4096));
  app.add_option("--max_steps", max_steps, "stop each epoch after this many steps (0: full epochs)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--json", json_path, "write a JSON summary here");
  std::string trace_file;
  app.add_option("--trace_file", trace_file,
                 "write a Chrome trace (chrome://tracing) of the 20th training step (the last "
                 "warm-up step) here");
  int constant_folding = 1, group_updates = 1;  // 1 or 0 (other values are refused)
  app.add_option("--constant_folding", constant_folding,
                 "fold constant subgraphs and forward x*1, x+0 when a plan is built (TF's "
                 "grappler constant folding; SessionOptions::constant_folding): 1 (default) or 0")
      ->check(CLI::IsMember({0, 1}));
  app.add_option("--group_updates", group_updates,
                 "run the optimizer's updates on a GPU as one grouped kernel (one launch; "
                 "SessionOptions::group_updates): 1 (default) or 0")
      ->check(CLI::IsMember({0, 1}));
  bool pin_host_memory = false;
  app.add_flag("--pin_host_memory", pin_host_memory,
               "page-locked memory for the CPU's tensors, so the variables on the CPU and their "
               "gradients copy to and from the GPU as one DMA (SessionOptions::pin_host_memory; "
               "--device gpu only)");
  app.add_option("--checkpoint_dir", checkpoint_dir,
                 "save a checkpoint (safetensors) here after every epoch");
  app.add_flag("--resume", resume, "start from the latest checkpoint in --checkpoint_dir");
  app.add_flag("--log_device_placement", log_placement, "print each node's device, as TF does");
  app.add_flag("--cuda_graph", cuda_graph,
               "capture the training step as a CUDA graph and replay it (needs the whole step on "
               "one GPU: --device gpu --towers 1, whose variables are on the GPU by default)");
  app.add_option("--local_parameter_device", ps_device,
                 "where the variables live: cpu (TF's _variable_on_cpu), gpu (GPU:0), or auto "
                 "(the default: gpu for one GPU tower, else cpu)")
      ->check(CLI::IsMember({"auto", "cpu", "gpu"}));
  CLI11_PARSE(app, argc, argv);

  try {
    // Output paths and flag combinations are checked before the data loads and the run starts.
    if (resume && checkpoint_dir.empty())
      throw sf::InvalidArgumentError("--resume needs --checkpoint_dir");
    if (!json_path.empty()) sf::samples::check_output_file("--json", json_path);
    if (!trace_file.empty()) sf::samples::check_output_file("--trace_file", trace_file);
    if (!checkpoint_dir.empty()) sf::samples::check_output_dir("--checkpoint_dir", checkpoint_dir);
    if (device == "auto") device = sf::devices::gpu_inventory().gpus.empty() ? "cpu" : "gpu";
    if (ps_device == "gpu" && device != "gpu")
      throw sf::InvalidArgumentError("--local_parameter_device gpu needs --device gpu");
    if (pin_host_memory && device != "gpu")
      throw sf::InvalidArgumentError(
          "--pin_host_memory page-locks the CPU's memory for copies to a GPU: it needs --device "
          "gpu");
    if (cuda_graph && device != "gpu")
      throw sf::InvalidArgumentError(
          "--cuda_graph captures the step's GPU work: it needs --device gpu");
    if (device == "gpu" && sf::devices::gpu_inventory().gpus.empty())
      throw sf::InvalidArgumentError(sf::str_cat(
          "--device gpu: no GPU (", sf::devices::gpu_inventory().unavailable_reason, ")"));
    // One GPU tower keeps its whole step on the GPU (nothing to share); towers share the
    // variables on the CPU, as TF's cifar10_multi_gpu_train does.
    if (ps_device == "auto") ps_device = device == "gpu" && towers == 1 ? "gpu" : "cpu";
    // The variables' device also takes what no tower places: the global step, the averaged
    // gradients and the update, the mean loss (left unplaced, they would go to a GPU wherever
    // one exists, --device cpu too).
    const std::string var_device = ps_device == "gpu" ? "/device:GPU:0" : "/device:CPU:0";
    const auto wall_start = std::chrono::steady_clock::now();
    std::cerr << sf::build_info_string() << "\n";
    auto train = sf::data::load_fashion_mnist(data_dir, "train");
    auto test = sf::data::load_fashion_mnist(data_dir, "t10k");
    std::cerr << "data: " << train.size() << " training and " << test.size() << " test images from "
              << data_dir << "\n";

    sf::SessionOptions options{.log_device_placement = log_placement,
                               .intra_op_parallelism_threads = intra_threads,
                               .use_cuda_graphs = cuda_graph,
                               .constant_folding = constant_folding == 1,
                               .group_updates = group_updates == 1
                                                    ? sf::SessionOptions::UpdateGrouping::kGpu
                                                    : sf::SessionOptions::UpdateGrouping::kOff};
    options.pin_host_memory = pin_host_memory;
    if (device == "cpu") options.device_count = {{"CPU", towers}};
    const bool gpu = device == "gpu";
    if (gpu && static_cast<int>(sf::devices::gpu_inventory().gpus.size()) < towers) {
      const auto& inv = sf::devices::gpu_inventory();
      if (inv.gpus.empty())
        throw sf::InvalidArgumentError(
            sf::str_cat("--device gpu: no GPU (", inv.unavailable_reason, ")"));
      options.logical_gpus[0] =
          std::vector<sf::devices::LogicalGpuConfig>(static_cast<std::size_t>(towers));
    }
    sf::set_random_seed(seed);

    // ---- the graph: towers sharing model/*, averaged gradients, one update
    std::vector<sf::Output> images, labels, losses;
    std::vector<sf::GradsAndVars> tower_grads;
    std::unique_ptr<sf::train::Optimizer> opt;
    if (optimizer == "sgd")
      opt = std::make_unique<sf::train::GradientDescentOptimizer>(lr);
    else if (optimizer == "momentum")
      opt = std::make_unique<sf::train::MomentumOptimizer>(lr, 0.9);
    else
      opt = std::make_unique<sf::train::AdamOptimizer>(lr);
    std::optional<sf::device> outside_towers(std::in_place, var_device);
    auto global_step = sf::train::get_or_create_global_step();
    for (int i = 0; i < towers; ++i) {
      sf::device d(sf::str_cat(gpu ? "/device:GPU:" : "/device:CPU:", i));
      sf::name_scope ns(sf::str_cat("tower_", i));
      images.push_back(sf::placeholder(sf::float32, {batch, 28, 28, 1}, "images"));
      labels.push_back(sf::placeholder(sf::int32, {batch}, "labels"));
      sf::variable_scope s("model", {.reuse = i > 0, .custom_getter = on_device(var_device)});
      auto logits = model(images.back(), batch, keep_prob);
      losses.push_back(
          sf::reduce_mean(sf::nn::sparse_softmax_cross_entropy_with_logits(labels.back(), logits)));
      tower_grads.push_back(opt->compute_gradients(losses.back()));
    }
    sf::GradsAndVars averaged;
    for (std::size_t v = 0; v < tower_grads[0].size(); ++v) {
      std::vector<sf::Output> parts;
      for (const auto& tg : tower_grads) parts.push_back(tg[v].first);
      sf::Output sum = parts.size() == 1
                           ? parts[0]
                           : sf::get_default_graph().create_op("AddN", parts, {}, "AddN").output(0);
      averaged.emplace_back(sum * (1.0 / towers), tower_grads[0][v].second);
    }
    auto train_op = opt->apply_gradients(averaged, global_step);
    sf::Output mean_loss = losses[0];
    for (int i = 1; i < towers; ++i) mean_loss = mean_loss + losses[static_cast<std::size_t>(i)];
    mean_loss = mean_loss * (1.0 / towers);
    outside_towers.reset();
    // Evaluation tower: the same variables, one batch of test images at a time.
    const std::int64_t eval_n = eval_limit > 0 ? std::min(eval_limit, test.size()) : test.size();
    const std::int64_t eval_batch = std::min<std::int64_t>(500, eval_n);
    auto eval_images = sf::placeholder(sf::float32, {eval_batch, 28, 28, 1}, "eval_images");
    sf::Output eval_logits;
    {
      sf::device d(gpu ? "/device:GPU:0" : "/device:CPU:0");
      sf::name_scope ns("eval");
      sf::variable_scope s("model", {.reuse = true});
      eval_logits = model(eval_images, eval_batch);
    }
    std::cerr << "graph: " << sf::get_default_graph().num_nodes() << " nodes, "
              << sf::trainable_variables().size() << " trainable variables shared by " << towers
              << " tower(s)\n";

    sf::Session sess(options);
    sess.run(sf::global_variables_initializer());
    const std::int64_t per_step = batch * towers;
    std::int64_t steps = train.size() / per_step;
    if (steps == 0)
      throw sf::InvalidArgumentError(sf::str_cat(
          "--batch_size ", batch, " x --towers ", towers, " = ", per_step,
          " images per step, more than the ", train.size(), " training images: no step to run"));
    if (max_steps > 0) steps = std::min(steps, max_steps);
    // What places a resumed run in the data: the step count means images only with the same
    // batch, towers and steps an epoch, and the optimizer's slots must be those saved. Written
    // beside each checkpoint; --resume refuses other values, naming them.
    const nlohmann::json run_settings = {{"batch_size", batch},
                                         {"towers", towers},
                                         {"steps_per_epoch", steps},
                                         {"optimizer", optimizer}};
    const std::string settings_path =
        checkpoint_dir.empty() ? ""
                               : (std::filesystem::path(checkpoint_dir) / kRunSettings).string();
    sf::train::Saver saver;
    if (resume) {
      if (std::ifstream in(settings_path); in) {
        nlohmann::json saved;
        try {
          saved = nlohmann::json::parse(in);
        } catch (const nlohmann::json::exception& e) {
          throw sf::InvalidArgumentError(
              sf::str_cat("--resume: ", settings_path, " is corrupt: ", e.what()));
        }
        if (saved != run_settings)
          throw sf::InvalidArgumentError(sf::str_cat(
              "--resume: the checkpoints in ", checkpoint_dir, " were written with ", saved.dump(),
              "; this run has ", run_settings.dump(),
              ": resume with the same --batch_size, --towers, --max_steps and --optimizer (the "
              "global step places the run in the data only with the same steps)"));
      } else {
        std::cerr << "--resume: no " << kRunSettings << " beside the checkpoints (written by an "
                  << "older sf-train): resuming with this run's --batch_size, --towers, "
                  << "--max_steps and --optimizer\n";
      }
      const std::string latest = sf::train::latest_checkpoint(checkpoint_dir);
      if (latest.empty()) {
        const auto state = std::filesystem::path(checkpoint_dir) / "checkpoint";
        if (std::filesystem::exists(state))
          throw sf::InvalidArgumentError(
              sf::str_cat("--resume: ", state.string(),
                          " names no checkpoint (unreadable or corrupt; the .safetensors files "
                          "beside it are untouched)"));
        throw sf::NotFoundError(sf::str_cat("--resume: no checkpoint in ", checkpoint_dir));
      }
      saver.restore(sess, latest);
      // The checkpoints the earlier run kept stay in the Saver's count (max_to_keep deletes
      // them in turn), as TF's recover_last_checkpoints.
      saver.recover_last_checkpoints(
          sf::train::get_checkpoint_state(checkpoint_dir)->all_model_checkpoint_paths);
      std::cerr << "resumed from " << latest << " (global step "
                << sess.run(global_step).scalar<std::int64_t>() << ")\n";
    }

    std::vector<std::string> device_names;
    for (int i = 0; i < towers; ++i)
      device_names.push_back(sess.assigned_device(losses[static_cast<std::size_t>(i)].op()));

    // --resume continues where the checkpoint's run stopped: --epochs counts every epoch, the
    // ones before the checkpoint too, and an epoch cut short (another --batch_size, --towers or
    // --max_steps) resumes past the steps it ran, so the batches are those of an uninterrupted
    // run.
    const std::int64_t resumed_steps = resume ? sess.run(global_step).scalar<std::int64_t>() : 0;
    const int first_epoch = static_cast<int>(resumed_steps / steps) + 1;
    const std::int64_t skip_steps = resumed_steps % steps;
    if (resume && first_epoch > epochs)
      throw sf::InvalidArgumentError(sf::str_cat(
          "--resume: the checkpoint is at global step ", resumed_steps, ", the end of epoch ",
          first_epoch - 1, " of ", steps, " steps each: nothing left of --epochs ", epochs));
    double last_loss = 0, accuracy = 0, train_seconds = 0;
    std::vector<double> accuracy_per_epoch;
    std::int64_t images_seen = 0;
    // The first kWarmupSteps steps (the plan, cuDNN's algorithm search, a CUDA-graph capture)
    // are left out of images_per_sec_after_warmup, as the PyTorch peer leaves out its warm-up
    // (benchmarks/compare/pytorch_fashion_cnn.py --warmup 20).
    constexpr std::int64_t kWarmupSteps = 20;
    double warmup_seconds = -1;  // set when the warm-up ends inside the run
    // In the training step's plan.
    std::int64_t nodes_folded = 0, nodes_forwarded = 0, updates_grouped = 0;
    const bool tty = isatty(2);
    // Batches come from a background pipeline, prefetched (and, for one GPU tower, staged in
    // pinned memory and copied to the GPU) while the previous step runs. Epoch e's order is
    // shuffled_indices(N, seed * 1000 + e); tower i of step s gets batch s * towers + i.
    sf::data::BatchPipeline pipeline(
        {train.images, train.labels},
        {.batch_size = batch,
         .seed = static_cast<std::uint64_t>(seed),
         .prefetch = 2 * towers,
         .device = gpu && towers == 1 ? sess.device_manager().find("/device:GPU:0") : nullptr});
    if (!trace_file.empty() && steps - skip_steps < kWarmupSteps)
      std::cerr << "--trace_file: this run has " << steps - skip_steps << " steps in its first "
                << "epoch, fewer than the " << kWarmupSteps << " warm-up steps: tracing its last "
                << "one, whose time still holds the first runs' setup\n";
    for (int epoch = first_epoch; epoch <= epochs; ++epoch) {
      pipeline.start_epoch(epoch);
      const std::int64_t first_step = epoch == first_epoch ? skip_steps : 0;
      for (std::int64_t i = 0; i < first_step * towers; ++i)
        if (!pipeline.next()) throw sf::InternalError("sf-train: the input pipeline ended early");
      const auto start = std::chrono::steady_clock::now();
      double loss_sum = 0;
      for (std::int64_t step = first_step; step < steps; ++step) {
        sf::FeedDict feed;
        for (int i = 0; i < towers; ++i) {
          auto next = pipeline.next();
          if (!next) throw sf::InternalError("sf-train: the input pipeline ended early");
          feed.emplace_back(images[static_cast<std::size_t>(i)], (*next)[0]);
          feed.emplace_back(labels[static_cast<std::size_t>(i)], (*next)[1]);
        }
        // --trace_file: the first epoch's last warm-up step (as sf-bench and tf_cnn_benchmarks):
        // past the plan build and the first runs' setup (cuBLAS handles per pool thread, cuDNN
        // algorithm choice), and not counted in images_per_sec_after_warmup.
        const std::int64_t ran = step - first_step + 1;  // steps of this epoch in this run
        const bool traced = !trace_file.empty() && epoch == first_epoch &&
                            ran == std::min<std::int64_t>(kWarmupSteps, steps - first_step);
        sf::RunMetadata md;
        auto r = traced ? sess.run({mean_loss}, {train_op}, feed,
                                   {.trace_level = sf::RunOptions::kFullTrace}, &md)
                        : sess.run({mean_loss}, {train_op}, feed);
        if (traced)
          sf::samples::write_file_atomically(
              "--trace_file", trace_file,
              sf::timeline::Timeline(md.step_stats).generate_chrome_trace_format());
        if (cuda_graph) graph_state = sess.last_run_stats().cuda_graph;
        if (epoch == first_epoch && ran == 1) {
          const auto stats = sess.last_run_stats();
          nodes_folded = stats.nodes_folded;
          nodes_forwarded = stats.nodes_forwarded;
          updates_grouped = stats.updates_grouped;
        }
        last_loss = r[0].scalar<float>();
        if (!std::isfinite(last_loss))
          throw sf::InternalError(sf::str_cat("loss became ", last_loss, " at step ", step));
        loss_sum += last_loss;
        const double secs =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (epoch == first_epoch && ran == kWarmupSteps && step + 1 < steps) warmup_seconds = secs;
        const double ips = static_cast<double>(ran * per_step) / secs;
        if (tty || (step + 1) % 50 == 0 || step + 1 == steps) {
          const int width = 30, done = static_cast<int>(width * (step + 1) / steps);
          std::cerr << (tty ? "\r" : "") << "epoch " << epoch << "/" << epochs << " ["
                    << std::string(done, '=') << std::string(width - done, ' ') << "] "
                    << (step + 1) << "/" << steps << " loss " << std::fixed << std::setprecision(4)
                    << loss_sum / static_cast<double>(ran) << " " << std::setprecision(0) << ips
                    << " images/sec" << (tty ? "" : "\n") << std::flush;
        }
      }
      train_seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      images_seen += (steps - first_step) * per_step;
      last_loss = loss_sum / static_cast<double>(std::max<std::int64_t>(1, steps - first_step));
      std::int64_t correct = 0, seen = 0;
      // Every one of the eval_n images is scored: a last short batch is padded with copies of
      // its first image, whose predictions are not counted (they were skipped: 999 scored
      // 500).
      for (std::int64_t first = 0; first < eval_n; first += eval_batch) {
        const std::int64_t n = std::min(eval_batch, eval_n - first);
        std::vector<std::int64_t> rows(static_cast<std::size_t>(eval_batch), first);
        std::iota(rows.begin(), rows.begin() + n, first);
        auto logits = sess.run(
            eval_logits, {{eval_images, sf::data::gather_rows(test.images, rows, 0, eval_batch)}});
        correct += count_correct(logits, sf::data::gather_rows(test.labels, rows, 0, n));
        seen += n;
      }
      accuracy = static_cast<double>(correct) / static_cast<double>(seen);
      accuracy_per_epoch.push_back(accuracy);
      std::cerr << (tty ? "\n" : "") << "epoch " << epoch << ": train_loss " << std::setprecision(4)
                << last_loss << " test_accuracy " << accuracy << "\n";
      if (!checkpoint_dir.empty()) {
        const auto step = sess.run(global_step).scalar<std::int64_t>();
        sf::samples::write_file_atomically("--checkpoint_dir", settings_path,
                                           run_settings.dump(1) + "\n");
        std::cerr << "saved " << saver.save(sess, checkpoint_dir + "/model.ckpt", step) << "\n";
      }
    }
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
    nlohmann::json j = {{"test_accuracy", accuracy},
                        {"test_accuracy_per_epoch", accuracy_per_epoch},
                        {"eval_images", eval_n},
                        {"first_epoch", first_epoch},  // > 1 after --resume
                        {"train_loss", last_loss},
                        {"epochs", epochs},
                        {"images_per_sec", static_cast<double>(images_seen) / train_seconds},
                        {"towers", towers},
                        {"devices", device_names},
                        {"wall_seconds", wall},
                        {"batch_size", batch},
                        {"optimizer", optimizer},
                        {"learning_rate", lr},
                        {"seed", seed},
                        {"global_step", sess.run(global_step).scalar<std::int64_t>()},
                        {"device", device},
                        {"keep_prob", keep_prob},
                        {"cuda_graph", cuda_graph},
                        {"cuda_graph_state", graph_state},
                        {"constant_folding", constant_folding == 1},
                        {"nodes_folded", nodes_folded},
                        {"nodes_forwarded", nodes_forwarded},
                        {"group_updates", group_updates == 1},
                        {"pin_host_memory", pin_host_memory},
                        {"updates_grouped", updates_grouped},
                        {"local_parameter_device", ps_device}};
    if (max_steps > 0) j["max_steps"] = max_steps;  // a throughput run, not a full training
    if (warmup_seconds >= 0 && train_seconds > warmup_seconds) {
      j["warmup_steps"] = kWarmupSteps;
      j["images_per_sec_after_warmup"] =
          static_cast<double>(images_seen - kWarmupSteps * per_step) /
          (train_seconds - warmup_seconds);
    }
    std::cout << j.dump(1) << "\n";
    if (!json_path.empty())
      sf::samples::write_file_atomically("--json", json_path, j.dump(1) + "\n");
    return 0;
  } catch (const sf::Error& e) {
    std::cerr << "sf-train: " << sf::code_name(e.code()) << ": " << e.what() << "\n";
    return 2;
  }
}
