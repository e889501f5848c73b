// Seed article 001_0b25ba334a326af2.txt: "scope 命名方法" (Morvan's naming with scopes:
// tf.name_scope vs tf.variable_scope, reuse_variables, sharing an RNN between train and test),
// every example transliterated; each print's comment holds what the article prints.
#include <scopeflow/scopeflow.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

namespace {

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

// A claim the article makes without printing it; a failed one makes main return 1.
int failures = 0;
void check(bool ok, const std::string& what) {
  if (!ok) {
    std::cout << "CHECK FAILED: " << what << '\n';
    ++failures;
  }
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
  int batch_size = 20;
  int time_steps = 20;
  int input_size = 10;
  int output_size = 2;
  int cell_size = 11;
  double learning_rate = 0.01;
};
struct TestConfig : TrainConfig {
  TestConfig() { time_steps = 1; }
};

// The article does not show the RNN class (Morvan's linked code). Its layers need reshape,
// matmul and an LSTM cell, which ScopeFlow does not have yet; this stand-in keeps the
// inputs and the get_variable calls of its in_hidden / out_hidden layers, which are what
// the sharing is about.
struct RNN {
  sf::Output xs;
  explicit RNN(const TrainConfig& config) {
    const std::int64_t b = config.batch_size, t = config.time_steps;
    {
      sf::name_scope ns("inputs");
      xs = sf::placeholder(sf::float32, {b, t, config.input_size}, "xs");
    }
    layer("in_hidden", config.input_size, config.cell_size);
    layer("out_hidden", config.cell_size, config.output_size);
  }
  static void layer(const std::string& scope, std::int64_t in, std::int64_t out) {
    sf::variable_scope s(scope);
    sf::get_variable("weights", {in, out},
                     {.initializer = sf::random_normal_initializer(0.0, 0.5)});
    sf::get_variable("biases", {out}, {.initializer = sf::constant_initializer(0.1)});
  }
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
  // The article prints nothing here; both RNNs hold the same 4 variables.
  std::vector<std::string> names;
  for (const auto& v : sf::global_variables()) names.push_back(v.name());
  check(names == std::vector<std::string>{"rnn/in_hidden/weights:0", "rnn/in_hidden/biases:0",
                                          "rnn/out_hidden/weights:0", "rnn/out_hidden/biases:0"},
        "train_rnn and test_rnn share their 4 variables");
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
