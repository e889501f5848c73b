// sf-layers-mnist: TF1's layers tutorial model (tensorflow/examples/tutorials/layers/
// cnn_mnist.py) written with sf::layers: conv2d 32 5x5 same relu, max_pooling2d 2, conv2d 64
// 5x5 same relu, max_pooling2d 2, flatten, dense 1024 relu, dropout 0.4 on an `is_training`
// placeholder (a tf.cond), dense 10; sparse softmax cross-entropy, GradientDescent 0.001 as the
// tutorial. Trains on Fashion-MNIST (or synthetic images), evaluates with is_training false
// (the cond's other branch), prints the loss every --log_every steps, writes --json.
// --batch_norm: each conv2d without its bias, then tf.layers.batch_normalization on the same
// `is_training` tensor (TF's fused kernel in a cond), then relu; the train op runs the moving
// statistics' updates (GraphKeys::UPDATE_OPS) as TF's control_dependencies idiom, and the
// evaluation normalizes with them.
// The TensorFlow twin is benchmarks/compare/tf_layers_mnist.py (same model, TF's tf.layers).
#include <scopeflow/scopeflow.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "samples/common/flags.h"
#include "samples/common/output_file.h"

namespace {

struct Model {
  sf::Output images, labels, training, loss, accuracy_count;
  sf::Operation train;
};

Model build(std::int64_t batch, double lr, std::int64_t seed, bool batch_norm) {
  sf::set_random_seed(seed);
  Model m;
  m.images = sf::placeholder(sf::float32, {batch, 28, 28, 1}, "images");
  m.labels = sf::placeholder(sf::int32, {batch}, "labels");
  m.training = sf::placeholder(sf::bool_, {}, "is_training");
  auto relu = [](const sf::Output& x) { return sf::nn::relu(x); };
  // conv2d + relu, or conv2d (no bias) + batch_normalization + relu.
  auto conv = [&](const sf::Output& x, std::int64_t filters) {
    if (!batch_norm)
      return sf::layers::conv2d(x, filters, {5, 5}, {.padding = "same", .activation = relu});
    auto c = sf::layers::conv2d(x, filters, {5, 5}, {.padding = "same", .use_bias = false});
    return relu(sf::layers::batch_normalization(c, m.training));
  };
  auto h = conv(m.images, 32);
  h = sf::layers::max_pooling2d(h, {2, 2}, {2, 2});
  h = conv(h, 64);
  h = sf::layers::max_pooling2d(h, {2, 2}, {2, 2});
  h = sf::layers::dense(sf::layers::flatten(h), 1024, {.activation = relu});
  h = sf::layers::dropout(h, 0.4, m.training);
  auto logits = sf::layers::dense(h, 10);
  m.loss = sf::reduce_mean(sf::nn::sparse_softmax_cross_entropy_with_logits(m.labels, logits));
  {
    // TF's idiom: the batch norm updates (none without --batch_norm) run with each step.
    sf::control_dependencies after(sf::get_collection<sf::Operation>(sf::GraphKeys::UPDATE_OPS));
    m.train = sf::train::GradientDescentOptimizer(lr).minimize(m.loss);
  }
  auto correct = sf::nn::in_top_k(logits, m.labels, 1);
  m.accuracy_count = sf::reduce_sum(sf::cast(correct, sf::float32));
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sf-layers-mnist: TF1's tf.layers CNN tutorial (cnn_mnist.py) on Fashion-MNIST"};
  std::string data = "/usr/share/datasets/fashion-mnist";
  std::int64_t steps = 200, batch = 100, log_every = 50, seed = 1, eval_limit = 2000;
  double lr = 0.001;
  std::string json_path;
  bool batch_norm = false;
  app.add_flag("--batch_norm", batch_norm,
               "batch normalization after each conv2d (tf.layers.batch_normalization)");
  app.add_option("--data", data, "folder with the Fashion-MNIST .gz files, or 'synthetic'");
  app.add_option("--steps", steps, "training steps")->check(CLI::Range(1, 100000000));
  app.add_option("--batch_size", batch, "images per step")->check(CLI::Range(1, 4096));
  app.add_option("--learning_rate", lr, "GradientDescent's rate (the tutorial's 0.001)")
      ->check(sf::samples::positive_finite());
  app.add_option("--log_every", log_every, "steps between the loss lines")
      ->check(CLI::Range(1, 100000000));
  app.add_option("--seed", seed, "graph-level seed")->check(CLI::Range(0, 1 << 30));
  app.add_option("--eval_limit", eval_limit, "test images to score (0: all)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--json", json_path, "write a JSON summary here");
  CLI11_PARSE(app, argc, argv);
  try {
    if (!json_path.empty()) sf::samples::check_output_file("--json", json_path);
    const bool synthetic = data == "synthetic";
    sf::data::ImageDataset train = synthetic
                                       ? sf::data::synthetic_images(4 * batch, 28, 28, 1, 10, 7)
                                       : sf::data::load_fashion_mnist(data, "train");
    sf::data::ImageDataset test = synthetic
                                      ? sf::data::synthetic_images(2 * batch, 28, 28, 1, 10, 8)
                                      : sf::data::load_fashion_mnist(data, "t10k");
    if (train.size() < batch)
      throw sf::InvalidArgumentError(sf::str_cat("--batch_size ", batch, " is larger than the ",
                                                 train.size(), " training images"));
    Model m = build(batch, lr, seed, batch_norm);
    sf::Session sess;
    sess.run(sf::global_variables_initializer());
    const auto order = sf::data::shuffled_indices(train.size(), static_cast<std::uint64_t>(seed));
    const std::int64_t per_epoch = train.size() / batch;
    double loss_sum = 0, final_loss = 0;
    const auto t0 = std::chrono::steady_clock::now();
    auto warm = t0;
    for (std::int64_t step = 0; step < steps; ++step) {
      const std::int64_t start = (step % per_epoch) * batch;
      auto r = sess.run({m.loss}, {m.train},
                        {{m.images, sf::data::gather_rows(train.images, order, start, batch)},
                         {m.labels, sf::data::gather_rows(train.labels, order, start, batch)},
                         {m.training, sf::Tensor::from_scalar(true)}});
      final_loss = r[0].scalar<float>();
      loss_sum += final_loss;
      if (step == 0) warm = std::chrono::steady_clock::now();
      if ((step + 1) % log_every == 0 || step + 1 == steps) {
        std::printf("step %lld: loss = %.4f\n", static_cast<long long>(step + 1), final_loss);
        std::fflush(stdout);
      }
    }
    const auto t1 = std::chrono::steady_clock::now();
    const double seconds = std::chrono::duration<double>(t1 - t0).count();
    const double after_first = std::chrono::duration<double>(t1 - warm).count();
    // Evaluation: is_training false takes the cond's other branch (no dropout).
    const std::int64_t n_eval =
        std::min<std::int64_t>(eval_limit == 0 ? test.size() : eval_limit, test.size()) / batch *
        batch;
    std::vector<std::int64_t> all(static_cast<std::size_t>(test.size()));
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::int64_t>(i);
    double correct = 0;
    for (std::int64_t start = 0; start < n_eval; start += batch)
      correct += sess.run(m.accuracy_count,
                          {{m.images, sf::data::gather_rows(test.images, all, start, batch)},
                           {m.labels, sf::data::gather_rows(test.labels, all, start, batch)},
                           {m.training, sf::Tensor::from_scalar(false)}})
                     .scalar<float>();
    const double accuracy = n_eval > 0 ? correct / static_cast<double>(n_eval) : 0.0;
    const double ips = steps > 1 ? static_cast<double>((steps - 1) * batch) / after_first
                                 : static_cast<double>(batch) / seconds;
    std::printf("accuracy = %.4f on %lld test images; %.1f images/sec\n", accuracy,
                static_cast<long long>(n_eval), ips);
    if (!json_path.empty()) {
      nlohmann::json j = {{"program", "sf-layers-mnist"},
                          {"steps", steps},
                          {"batch_size", batch},
                          {"learning_rate", lr},
                          {"batch_norm", batch_norm},
                          {"final_loss", final_loss},
                          {"mean_loss", loss_sum / static_cast<double>(steps)},
                          {"test_accuracy", accuracy},
                          {"eval_images", n_eval},
                          {"images_per_sec", ips},
                          {"wall_seconds", seconds},
                          {"data", synthetic ? "synthetic" : data}};
      sf::samples::write_file_atomically("--json", json_path, j.dump(1) + "\n");
    }
    return 0;
  } catch (const std::bad_alloc&) {
    std::cerr << "sf-layers-mnist: out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "sf-layers-mnist: " << e.what() << "\n";
    return 1;
  }
}
