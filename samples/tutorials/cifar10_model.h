// TF's cifar10 tutorial (models/tutorials/image/cifar10: cifar10.py's inference and loss,
// cifar10_multi_gpu_train.py's towers and average_gradients) written against ScopeFlow's API
// line by line. Used by sf-cifar10-multi-gpu-train, the golden case tutorial_cifar10_multi_gpu
// and the training tests. Variables live on /cpu:0 (_variable_on_cpu), towers on
// `tower_device(i)`.
#pragma once

#include <scopeflow/scopeflow.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace scopeflow::tutorials::cifar10 {

inline Variable variable_on_cpu(const std::string& name, const Shape& shape, Initializer init) {
  device cpu("/cpu:0");
  return get_variable(name, shape, {.initializer = std::move(init)});
}

inline Variable variable_with_weight_decay(const std::string& name, const Shape& shape,
                                           double stddev, std::optional<double> wd) {
  Variable var = variable_on_cpu(name, shape, truncated_normal_initializer(0.0, stddev));
  if (wd)
    add_to_collection("losses",
                      multiply(nn::l2_loss(var), constant(static_cast<float>(*wd)), "weight_loss"));
  return var;
}

// inference(images): logits [batch, 10]; images [batch, 24, 24, 3] with a known batch.
inline Output inference(const Output& images) {
  Output conv1, norm1, pool1, conv2, norm2, pool2, local3, local4;
  {
    variable_scope scope("conv1");
    auto kernel = variable_with_weight_decay("weights", {5, 5, 3, 64}, 5e-2, {});
    auto conv = nn::conv2d(images, kernel, {1, 1, 1, 1}, "SAME");
    auto biases = variable_on_cpu("biases", {64}, constant_initializer(0.0));
    conv1 = nn::relu(nn::bias_add(conv, biases), scope.get().name());
  }
  pool1 = nn::max_pool(conv1, {1, 3, 3, 1}, {1, 2, 2, 1}, "SAME", "pool1");
  norm1 = nn::lrn(pool1, 4, 1.0, 0.001 / 9.0, 0.75, "norm1");
  {
    variable_scope scope("conv2");
    auto kernel = variable_with_weight_decay("weights", {5, 5, 64, 64}, 5e-2, {});
    auto conv = nn::conv2d(norm1, kernel, {1, 1, 1, 1}, "SAME");
    auto biases = variable_on_cpu("biases", {64}, constant_initializer(0.1));
    conv2 = nn::relu(nn::bias_add(conv, biases), scope.get().name());
  }
  norm2 = nn::lrn(conv2, 4, 1.0, 0.001 / 9.0, 0.75, "norm2");
  pool2 = nn::max_pool(norm2, {1, 3, 3, 1}, {1, 2, 2, 1}, "SAME", "pool2");
  {
    variable_scope scope("local3");
    auto reshaped = reshape(pool2, {images.shape().dims()[0], -1});
    const std::int64_t dim = reshaped.shape().dims()[1];
    auto weights = variable_with_weight_decay("weights", {dim, 384}, 0.04, 0.004);
    auto biases = variable_on_cpu("biases", {384}, constant_initializer(0.1));
    local3 = nn::relu(matmul(reshaped, weights) + biases, scope.get().name());
  }
  {
    variable_scope scope("local4");
    auto weights = variable_with_weight_decay("weights", {384, 192}, 0.04, 0.004);
    auto biases = variable_on_cpu("biases", {192}, constant_initializer(0.1));
    local4 = nn::relu(matmul(local3, weights) + biases, scope.get().name());
  }
  variable_scope scope("softmax_linear");
  auto weights = variable_with_weight_decay("weights", {192, 10}, 1 / 192.0, {});
  auto biases = variable_on_cpu("biases", {10}, constant_initializer(0.0));
  return add(matmul(local4, weights), biases, scope.get().name());
}

// cifar10.loss: the mean cross entropy added to "losses", and the sum of "losses".
inline Output loss(const Output& logits, const Output& labels) {
  auto xent = nn::sparse_softmax_cross_entropy_with_logits(cast(labels, int64), logits,
                                                           "cross_entropy_per_example");
  add_to_collection("losses", reduce_mean(xent, {}, false, "cross_entropy"));
  return add_n(get_collection<Output>("losses"), "total_loss");
}

// cifar10_multi_gpu_train.average_gradients: per variable, the mean of the towers' gradients
// (expand_dims, concat along 0, reduce_mean over 0).
inline GradsAndVars average_gradients(const std::vector<GradsAndVars>& tower_grads) {
  GradsAndVars average;
  for (std::size_t v = 0; v < tower_grads.front().size(); ++v) {
    std::vector<Output> grads;
    for (const auto& tower : tower_grads) grads.push_back(expand_dims(tower[v].first, 0));
    average.emplace_back(reduce_mean(concat(grads, 0), {0}), tower_grads.front()[v].second);
  }
  return average;
}

struct Towers {
  Variable global_step;
  Output lr;
  std::vector<Output> images, labels, losses;
  Operation apply_op, ema_op, train_op;
  std::vector<std::string> trace;  // what the golden case records, in the Python's order
};

// train()'s graph: `num_towers` towers of `batch` images on tower_device(i), the averaged
// gradients applied with an exponential_decay rate, the moving averages of every trainable
// variable updated after each step.
// cifar10.py's constants.
inline constexpr double kMovingAverageDecay = 0.9999;
inline constexpr double kNumEpochsPerDecay = 350.0;
inline constexpr double kLearningRateDecayFactor = 0.1;
inline constexpr double kInitialLearningRate = 0.1;
inline constexpr std::int64_t kNumExamplesPerEpochForTrain = 50000;

// TF's decay_steps: int(num_batches_per_epoch * NUM_EPOCHS_PER_DECAY), at least 1.
inline std::int64_t decay_steps(std::int64_t batch, int num_towers) {
  const double per_epoch = double(kNumExamplesPerEpochForTrain) / double(batch) / num_towers;
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(per_epoch * kNumEpochsPerDecay));
}

inline Towers build_towers(int num_towers, std::int64_t batch,
                           const std::function<std::string(int)>& tower_device,
                           double initial_lr = kInitialLearningRate,
                           double ema_decay = kMovingAverageDecay,
                           std::int64_t lr_decay_steps = 350) {
  Towers t;
  device cpu("/cpu:0");
  t.global_step = get_variable("global_step", {},
                               {.initializer = constant_initializer(0.0), .trainable = false});
  t.lr = train::exponential_decay(initial_lr, t.global_step, lr_decay_steps,
                                  kLearningRateDecayFactor, true);
  train::GradientDescentOptimizer opt(t.lr);
  std::vector<GradsAndVars> tower_grads;
  {
    variable_scope outer(get_variable_scope());
    for (int i = 0; i < num_towers; ++i) {
      device on(tower_device(i));
      name_scope scope("tower_" + std::to_string(i));
      auto images = placeholder(float32, {batch, 24, 24, 3}, "images");
      auto labels = placeholder(int32, {batch}, "labels");
      auto logits = inference(images);
      (void)loss(logits, labels);
      auto losses = get_collection<Output>("losses", scope.name());
      auto total = add_n(losses, "total_loss");
      t.trace.insert(t.trace.end(),
                     {scope.name(), logits.op().name(), logits.op().device(), total.op().name()});
      for (const auto& l : losses) t.trace.push_back(l.op().name());
      get_variable_scope().reuse_variables();
      tower_grads.push_back(opt.compute_gradients(total));
      t.images.push_back(images);
      t.labels.push_back(labels);
      t.losses.push_back(total);
    }
  }
  auto grads = average_gradients(tower_grads);
  t.trace.push_back(grads.front().first.op().name());
  t.apply_op = opt.apply_gradients(grads, t.global_step);
  train::ExponentialMovingAverage ema(ema_decay, t.global_step.value());
  t.ema_op = ema.apply();
  t.train_op = group({t.apply_op, t.ema_op});
  t.trace.insert(t.trace.end(),
                 {t.apply_op.name(), t.ema_op.name(), t.train_op.name(), t.lr.op().name()});
  for (const auto& v : trainable_variables()) {
    std::string dims;  // Python's list: "[5, 5, 3, 64]"
    const Shape shape = v.shape();
    for (auto d : shape.dims()) dims += (dims.empty() ? "" : ", ") + std::to_string(d);
    t.trace.push_back(str_cat(v.op().name(), " [", dims, "] ", v.device()));
  }
  t.trace.push_back(std::to_string(global_variables().size()));
  auto vars = trainable_variables();
  for (std::size_t i = 0; i < 2; ++i) t.trace.push_back(ema.average(vars[i]).op().name());
  return t;
}

}  // namespace scopeflow::tutorials::cifar10
