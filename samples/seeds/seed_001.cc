// Seed article 001_0b25ba334a326af2.txt: "scope 命名方法" (Morvan's naming with scopes:
// tf.name_scope vs tf.variable_scope, reuse_variables, sharing an RNN between train and test),
// every example transliterated; each print's comment holds what the article prints.
#include <scopeflow/scopeflow.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "seed_common.h"

namespace {

using seeds::check;
using seeds::failures;

// A float32 vector as the article's (pre-1.14) numpy prints it: 8 decimals, trailing zeros
// dropped, a sign column: [ 1.], [ 2.0999999], [ 2.20000005].
std::string np(const sf::Tensor& t) {
  std::string out = "[";
  for (float x : t.to_vector<float>()) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.8f", static_cast<double>(x));
    std::string s = buf;
    while (s.back() == '0') s.pop_back();
    out += (x < 0 ? "" : " ") + s;
  }
  return out + "]";
}

// tf.name_scope(): get_variable ignores it, tf.Variable is prefixed and uniquified.
void name_scope_example() {
  sf::reset_default_graph();
  sf::Variable var1, var2, var21, var22;
  {
    sf::name_scope ns("a_name_scope");
    auto initializer = sf::constant_initializer(1);
    var1 = sf::get_variable("var1", {1}, {.dtype = sf::float32, .initializer = initializer});
    var2 = sf::Variable(sf::constant(std::vector<float>{2}, {1}),
                        {.name = "var2", .dtype = sf::float32});
    var21 = sf::Variable(sf::constant(std::vector<float>{2.1f}, {1}),
                         {.name = "var2", .dtype = sf::float32});
    var22 = sf::Variable(sf::constant(std::vector<float>{2.2f}, {1}),
                         {.name = "var2", .dtype = sf::float32});
  }
  sf::Session sess;
  sess.run(sf::global_variables_initializer());  // tf.initialize_all_variables()
  std::cout << var1.name() << '\n';              // var1:0
  std::cout << np(sess.run(var1)) << '\n';       // [ 1.]
  std::cout << var2.name() << '\n';              // a_name_scope/var2:0
  std::cout << np(sess.run(var2)) << '\n';       // [ 2.]
  std::cout << var21.name() << '\n';             // a_name_scope/var2_1:0
  std::cout << np(sess.run(var21)) << '\n';      // [ 2.0999999]
  std::cout << var22.name() << '\n';             // a_name_scope/var2_2:0
  std::cout << np(sess.run(var22)) << '\n';      // [ 2.20000005]
}

// tf.variable_scope(): with scope.reuse_variables(), get_variable returns the same variable;
// tf.Variable still makes a new one.
void variable_scope_example() {
  sf::reset_default_graph();
  sf::Variable var3, var3_reuse, var4, var4_reuse;
  {
    sf::variable_scope scope("a_variable_scope");
    auto initializer = sf::constant_initializer(3);
    var3 = sf::get_variable("var3", {1}, {.dtype = sf::float32, .initializer = initializer});
    scope->reuse_variables();
    var3_reuse = sf::get_variable("var3");  // no shape: the existing variable's
    var4 = sf::Variable(sf::constant(std::vector<float>{4}, {1}),
                        {.name = "var4", .dtype = sf::float32});
    var4_reuse = sf::Variable(sf::constant(std::vector<float>{4}, {1}),
                              {.name = "var4", .dtype = sf::float32});
  }
  sf::Session sess;
  sess.run(sf::global_variables_initializer());
  std::cout << var3.name() << '\n';               // a_variable_scope/var3:0
  std::cout << np(sess.run(var3)) << '\n';        // [ 3.]
  std::cout << var3_reuse.name() << '\n';         // a_variable_scope/var3:0
  std::cout << np(sess.run(var3_reuse)) << '\n';  // [ 3.]
  std::cout << var4.name() << '\n';               // a_variable_scope/var4:0
  std::cout << np(sess.run(var4)) << '\n';        // [ 4.]
  std::cout << var4_reuse.name() << '\n';         // a_variable_scope/var4_1:0
  std::cout << np(sess.run(var4_reuse)) << '\n';  // [ 4.]
  check(var3_reuse == var3, "var3_reuse is var3");
}

// The RNN example: train and test RNNs share their weights in variable_scope('rnn').
struct TrainConfig {
  std::int64_t batch_size = 20;
  std::int64_t time_steps = 20;
  std::int64_t input_size = 10;
  std::int64_t output_size = 2;
  std::int64_t cell_size = 11;
  double learning_rate = 0.01;
};
struct TestConfig : TrainConfig {
  TestConfig() { time_steps = 1; }
};

// The article does not show the RNN class; this is the one its "reuse variable RNN 代码" link
// gives (tf22_scope.py), layer by layer.
class RNN {
 public:
  explicit RNN(const TrainConfig& config)
      : batch_size_(config.batch_size),
        time_steps_(config.time_steps),
        input_size_(config.input_size),
        output_size_(config.output_size),
        cell_size_(config.cell_size),
        lr_(config.learning_rate) {
    built_RNN();
  }
  const sf::Output& xs() const { return xs_; }
  const sf::Output& pred() const { return pred_; }
  const sf::Output& l_in_x() const { return l_in_x_; }

 private:
  void built_RNN() {
    {
      sf::variable_scope s("inputs");
      xs_ = sf::placeholder(sf::float32, {batch_size_, time_steps_, input_size_}, "xs");
      ys_ = sf::placeholder(sf::float32, {batch_size_, time_steps_, output_size_}, "ys");
    }
    {
      sf::name_scope ns("RNN");
      sf::Output l_in_y;
      {
        sf::variable_scope s("input_layer");
        // (batch*n_step, in_size)
        l_in_x_ = sf::reshape(xs_, {-1, input_size_}, "2_2D");
        // Ws (in_size, cell_size)
        auto Wi = weight_variable({input_size_, cell_size_});
        // bs (cell_size, )
        auto bi = bias_variable({cell_size_});
        // l_in_y = (batch * n_steps, cell_size)
        {
          sf::name_scope wx("Wx_plus_b");
          l_in_y = sf::matmul(l_in_x_, Wi) + bi;
        }
        l_in_y = sf::reshape(l_in_y, {-1, time_steps_, cell_size_}, "2_3D");
      }

      // Skipped, variable_scope('cell') (a BasicLSTMCell run over the time steps): ScopeFlow
      // has no LSTM cell yet, so the output layer below takes l_in_y where the cell's outputs
      // would be, reshaped as tf.reshape(tf.concat(self.cell_outputs, 1), [-1, cell_size]) is.
      const sf::Output& cell_outputs = l_in_y;

      {
        sf::variable_scope s("output_layer");
        // cell_outputs_reshaped (BATCH*TIME_STEP, CELL_SIZE)
        auto cell_outputs_reshaped = sf::reshape(cell_outputs, {-1, cell_size_});
        auto Wo = weight_variable({cell_size_, output_size_});
        auto bo = bias_variable({output_size_});
        auto product = sf::matmul(cell_outputs_reshaped, Wo) + bo;
        // _pred shape (batch*time_step, output_size)
        pred_ = sf::nn::relu(product);  // for displacement
      }
    }
    // Skipped, name_scope('cost') (tf.square of the error): ScopeFlow has no square op yet.
    // Skipped, variable_scope('trian') (tf.train.AdamOptimizer(lr).minimize): no optimizer yet.
  }

  static sf::Variable weight_variable(const sf::Shape& shape, const std::string& name = "weights") {
    auto initializer = sf::random_normal_initializer(/*mean=*/0., /*stddev=*/0.5);
    return sf::get_variable(name, shape, {.initializer = initializer});
  }
  static sf::Variable bias_variable(const sf::Shape& shape, const std::string& name = "biases") {
    auto initializer = sf::constant_initializer(0.1);
    return sf::get_variable(name, shape, {.initializer = initializer});
  }

  std::int64_t batch_size_, time_steps_, input_size_, output_size_, cell_size_;
  double lr_;
  sf::Output xs_, ys_, l_in_x_, pred_;
};

void rnn_example() {
  sf::reset_default_graph();
  const TrainConfig train_config;
  const TestConfig test_config;
  sf::variable_scope scope("rnn");
  sf::Session sess;
  RNN train_rnn(train_config);
  scope->reuse_variables();
  RNN test_rnn(test_config);
  sess.run(sf::global_variables_initializer());

  // The article prints nothing here. Both RNNs hold the same variables (the skipped cell's
  // rnn/cell/basic_lstm_cell/kernel and bias aside), and their ops take TF's names.
  std::vector<std::string> names;
  for (const auto& v : sf::global_variables()) names.push_back(v.name());
  check(
      names == std::vector<std::string>{"rnn/input_layer/weights:0", "rnn/input_layer/biases:0",
                                        "rnn/output_layer/weights:0", "rnn/output_layer/biases:0"},
      "train_rnn and test_rnn share their 4 variables");
  check(train_rnn.xs().name() == "rnn/inputs/xs:0" && test_rnn.xs().name() == "rnn/inputs_1/xs:0",
        "xs are rnn/inputs/xs:0 and rnn/inputs_1/xs:0");
  check(train_rnn.l_in_x().op().name() == "rnn/RNN/input_layer/2_2D" &&
            test_rnn.l_in_x().op().name() == "rnn/RNN_1/input_layer/2_2D",
        "the reshapes are rnn/RNN/input_layer/2_2D and rnn/RNN_1/input_layer/2_2D");
  check(train_rnn.pred().op().name() == "rnn/RNN/output_layer/Relu" &&
            test_rnn.pred().op().name() == "rnn/RNN_1/output_layer/Relu",
        "the predictions are rnn/RNN/output_layer/Relu and rnn/RNN_1/output_layer/Relu");
  check(train_rnn.pred().shape() == sf::Shape({20 * 20, 2}) &&
            test_rnn.pred().shape() == sf::Shape({20 * 1, 2}),
        "pred is (batch*time_steps, output_size): [400,2] and [20,2]");

  // Same weights: test_rnn on the first time step of a batch predicts what train_rnn predicts
  // for that step (it would with the LSTM cell too: both start from its zero state).
  const auto b = train_config.batch_size, t = train_config.time_steps, in = train_config.input_size,
             out = train_config.output_size;
  std::vector<float> train_xs(static_cast<std::size_t>(b * t * in));
  for (std::size_t i = 0; i < train_xs.size(); ++i) {
    train_xs[i] = static_cast<float>(static_cast<int>(i % 13) - 6) * 0.25f;
  }
  std::vector<float> test_xs;
  for (std::int64_t n = 0; n < b; ++n) {
    const auto first = train_xs.begin() + n * t * in;
    test_xs.insert(test_xs.end(), first, first + in);
  }
  auto train_pred =
      sess.run(train_rnn.pred(), {{train_rnn.xs(), sf::Tensor::from_vector(train_xs, {b, t, in})}})
          .to_vector<float>();
  auto test_pred =
      sess.run(test_rnn.pred(), {{test_rnn.xs(), sf::Tensor::from_vector(test_xs, {b, 1, in})}})
          .to_vector<float>();
  std::vector<float> train_first_steps;
  for (std::int64_t n = 0; n < b; ++n) {
    const auto row = train_pred.begin() + n * t * out;
    train_first_steps.insert(train_first_steps.end(), row, row + out);
  }
  // NOTE: equal up to float rounding, not bit for bit: the two matmuls have different row
  // counts, and a fast GEMM may sum in a different order for each.
  bool same = test_pred.size() == train_first_steps.size();
  for (std::size_t i = 0; same && i < test_pred.size(); ++i)
    same = std::abs(test_pred[i] - train_first_steps[i]) <=
           1e-5f * (1.0f + std::abs(train_first_steps[i]));
  check(same, "test_rnn predicts what train_rnn predicts for the same first time step");
}

}  // namespace

int main() {
  try {
    std::cout << "-- tf.name_scope()\n";
    name_scope_example();
    std::cout << "-- tf.variable_scope()\n";
    variable_scope_example();
    rnn_example();
  } catch (const sf::Error& e) {
    std::cout << "unexpected error: " << e.what() << '\n';
    return 1;
  }
  return failures == 0 ? 0 : 1;
}
