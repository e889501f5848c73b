// Seed article 004_d4a114c3b44134a5.txt: "Variables(变量)" (the TensorFlow 1 variables guide, in
// Chinese): creating, collections, devices, initializing, using and sharing variables, every
// example transliterated. The article shows almost no output: comments say what TF gives.
#include <scopeflow/scopeflow.h>

#include <cmath>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

// Prints a value the article states (in code or words); a different value is reported and
// makes main return 1.
int failures = 0;
void show(const std::string& got, const std::string& stated) {
  std::cout << got << '\n';
  if (got != stated) {
    std::cout << "  ^ MISMATCH: the article says " << stated << '\n';
    ++failures;
  }
}

// Python's repr of a float: 1.0, 0.25.
std::string py(float x) {
  std::ostringstream os;
  os << x;
  if (std::isfinite(x) && x == std::floor(x)) os << ".0";
  return os.str();
}
// A list of names as Python prints it: ['a', 'b'].
std::string py(const std::vector<std::string>& names) {
  std::string out = "[";
  for (std::size_t i = 0; i < names.size(); ++i) out += (i ? ", '" : "'") + names[i] + "'";
  return out + "]";
}
std::vector<std::string> names(const std::vector<sf::Variable>& vars) {
  std::vector<std::string> out;
  for (const auto& v : vars) out.push_back(v.op().name());
  return out;
}
// A fetched string tensor as numpy prints it in Python 3: [b'a' b'b'].
std::string np_bytes(const sf::Tensor& t) {
  std::string out = "[";
  for (const auto& s : t.to_strings()) out += (out.size() > 1 ? " b'" : "b'") + s + "'";
  return out + "]";
}
// An int32 tensor's values, flat: [0 0 0].
std::string np_ints(const sf::Tensor& t) {
  std::string out = "[";
  for (auto x : t.to_vector<std::int32_t>()) out += (out.size() > 1 ? " " : "") + std::to_string(x);
  return out + "]";
}

// ---------------------------------------------------------------- creating a variable
void creating() {
  sf::reset_default_graph();
  auto my_variable = sf::get_variable("my_variable", {1, 2, 3});
  // (text) named "my_variable", a 3-D tensor of shape [1, 2, 3], dtype tf.float32, initial
  // value from tf.glorot_uniform_initializer.
  show(my_variable.name(), "my_variable:0");
  show(my_variable.shape().to_string(), "[1,2,3]");
  show(std::string(sf::dtype_name(my_variable.dtype())), "float32");

  // tf.zeros_initializer (the class) is spelled sf::zeros_initializer().
  auto my_int_variable = sf::get_variable(
      "my_int_variable", {1, 2, 3}, {.dtype = sf::int32, .initializer = sf::zeros_initializer()});
  // A tensor as initializer: no shape, the value gives it.
  auto other_variable = sf::get_variable(
      "other_variable",
      {.dtype = sf::int32, .initializer = sf::constant(std::vector<std::int32_t>{23, 42}, {2})});

  sf::Session sess;
  sess.run(sf::global_variables_initializer());
  std::cout << sf::dtype_name(my_int_variable.dtype()) << ' ' << np_ints(sess.run(my_int_variable))
            << '\n';  // (not shown) int32 [0 0 0 0 0 0]
  std::cout << other_variable.shape() << ' ' << np_ints(sess.run(other_variable))
            << '\n';  // (not shown) [2] [23 42]
}

// ---------------------------------------------------------------- variable collections
void collections() {
  sf::reset_default_graph();
  auto my_local = sf::get_variable(
      "my_local", {}, {.collections = std::vector<std::string>{sf::GraphKeys::LOCAL_VARIABLES}});
  auto my_non_trainable = sf::get_variable("my_non_trainable", {}, {.trainable = false});
  auto plain = sf::get_variable("plain", {});  // by default: global and trainable (text)

  // (not shown) TF: ['my_non_trainable', 'plain']
  std::cout << "global:    " << py(names(sf::global_variables())) << '\n';
  // (not shown) TF: ['my_local', 'plain'] -- my_local too: TF adds TRAINABLE_VARIABLES to the
  // given collections when trainable is True (its default), whatever the text suggests.
  std::cout << "trainable: " << py(names(sf::trainable_variables())) << '\n';
  // (not shown) TF: ['my_local']
  std::cout << "local:     " << py(names(sf::local_variables())) << '\n';

  sf::add_to_collection("my_collection_name", my_local);
  // (not shown) TF: ['my_local']
  std::cout << py(names(sf::get_collection<sf::Variable>("my_collection_name"))) << '\n';
}

// ---------------------------------------------------------------- device placement
void device_placement() {
  sf::reset_default_graph();
  sf::Variable v;
  {
    sf::device d("/device:GPU:1");
    v = sf::get_variable("v", {1});
  }
  show(v.device(), "/device:GPU:1");  // (text) placed on the second GPU
  sf::Session sess;
  sess.run(sf::global_variables_initializer());
  // Where the session put it: GPU:1 with two GPUs or more; otherwise soft placement moves it
  // to .../device:CPU:0 (and logs that it did).
  std::cout << sess.assigned_device(v.op()) << '\n';

  // Skipped, the replica_device_setter(cluster=cluster_spec) example: sf::train has none yet.
}

// ---------------------------------------------------------------- initializing variables
void initializing() {
  sf::reset_default_graph();
  auto my_variable = sf::get_variable("my_variable", {1, 2, 3});
  auto other_variable = sf::get_variable("other_variable", {2});
  sf::Session session;
  // print(session.run(tf.report_uninitialized_variables()))  (output not shown)
  std::cout << np_bytes(session.run(sf::report_uninitialized_variables()))
            << '\n';                       // TF: [b'my_variable' b'other_variable']
  session.run(my_variable.initializer());  // session.run(my_variable.initializer)
  std::cout << np_bytes(session.run(sf::report_uninitialized_variables()))
            << '\n';                                // TF: [b'other_variable']
  session.run(sf::global_variables_initializer());  // Now all variables are initialized.
  std::cout << np_bytes(session.run(sf::report_uninitialized_variables())) << '\n';  // TF: []
}

void initialized_value() {
  sf::reset_default_graph();
  auto v = sf::get_variable("v", {}, {.initializer = sf::zeros_initializer()});
  auto w = sf::get_variable("w", {.initializer = v.initialized_value() + 1});
  sf::Session sess;
  sess.run(sf::global_variables_initializer());
  std::cout << py(sess.run(w).scalar<float>()) << '\n';  // (not shown) 1.0
}

// ---------------------------------------------------------------- using variables
void using_variables() {
  sf::reset_default_graph();
  auto v = sf::get_variable("v", {}, {.initializer = sf::zeros_initializer()});
  auto w = v + 1;  // w is a tensor computed from v's value.
  sf::Session sess;
  sess.run(sf::global_variables_initializer());
  std::cout << py(sess.run(w).scalar<float>()) << '\n';  // (not shown) 1.0
}

void assign_add() {
  sf::reset_default_graph();
  auto v = sf::get_variable("v", {}, {.initializer = sf::zeros_initializer()});
  auto assignment = v.assign_add(sf::constant(1.0f));
  sf::Session sess;                                      // .run() uses the default session
  sess.run(sf::global_variables_initializer());          // tf.global_variables_initializer().run()
  sess.run(assignment);                                  // assignment.run()
  std::cout << py(sess.run(v).scalar<float>()) << '\n';  // (not shown) 1.0
}

void read_value() {
  sf::reset_default_graph();
  auto v = sf::get_variable("v", {}, {.initializer = sf::zeros_initializer()});
  auto assignment = v.assign_add(sf::constant(1.0f));
  sf::Output w;
  {
    sf::control_dependencies deps({assignment});
    // w is guaranteed to reflect v's value after the assign_add operation.
    w = v.read_value();
  }
  sf::Session sess;
  sess.run(sf::global_variables_initializer());
  std::cout << py(sess.run(w).scalar<float>()) << '\n';  // (text) after assign_add: 1.0
}

// ---------------------------------------------------------------- sharing variables
sf::Output conv_relu(const sf::Output& input, const sf::Shape& kernel_shape,
                     const sf::Shape& bias_shape) {
  // Create variable named "weights".
  auto weights =
      sf::get_variable("weights", kernel_shape, {.initializer = sf::random_normal_initializer()});
  // Create variable named "biases".
  auto biases =
      sf::get_variable("biases", bias_shape, {.initializer = sf::constant_initializer(0.0)});
  auto conv = sf::nn::conv2d(input, weights, {1, 1, 1, 1}, "SAME");
  return sf::nn::relu(conv + biases);
}

void conv_relu_twice_fails() {
  sf::reset_default_graph();
  auto input1 = sf::random_normal({1, 10, 10, 32});
  auto input2 = sf::random_normal({1, 20, 20, 32});
  auto x = conv_relu(input1, /*kernel_shape=*/{5, 5, 32, 32}, /*bias_shape=*/{32});
  try {
    x = conv_relu(x, /*kernel_shape=*/{5, 5, 32, 32}, /*bias_shape=*/{32});  // This fails.
  } catch (const sf::ValueError& e) {
    // (no message shown) TF: ValueError: Variable weights already exists, disallowed. ...
    std::cout << "ValueError: " << e.what() << '\n';
  }
}

sf::Output my_image_filter(const sf::Output& input_images) {
  sf::Output relu1;
  {
    sf::variable_scope s("conv1");
    // Variables created here will be named "conv1/weights", "conv1/biases".
    relu1 = conv_relu(input_images, {5, 5, 32, 32}, {32});
  }
  sf::variable_scope s("conv2");
  // Variables created here will be named "conv2/weights", "conv2/biases".
  return conv_relu(relu1, {5, 5, 32, 32}, {32});
}

const std::vector<std::string> kModelVariables = {"model/conv1/weights", "model/conv1/biases",
                                                  "model/conv2/weights", "model/conv2/biases"};
// (not shown) The same 4 variables filter both images, whatever their size: SAME padding
// keeps input1's [1, 10, 10, 32] and input2's [1, 20, 20, 32].
const std::string kOutputShapes = "[1,10,10,32] [1,20,20,32]";
std::string shapes(const sf::Output& output1, const sf::Output& output2) {
  return output1.shape().to_string() + " " + output2.shape().to_string();
}

void share_by_reuse_true() {
  sf::reset_default_graph();
  auto input1 = sf::random_normal({1, 10, 10, 32});
  auto input2 = sf::random_normal({1, 20, 20, 32});
  sf::Output output1, output2;
  {
    sf::variable_scope s("model");
    output1 = my_image_filter(input1);
  }
  {
    sf::variable_scope s("model", {.reuse = true});
    output2 = my_image_filter(input2);
  }
  show(py(names(sf::global_variables())), py(kModelVariables));  // (text) shared: 4 variables
  show(shapes(output1, output2), kOutputShapes);  // (not shown) [1,10,10,32] [1,20,20,32]
}

void share_by_reuse_variables() {
  sf::reset_default_graph();
  auto input1 = sf::random_normal({1, 10, 10, 32});
  auto input2 = sf::random_normal({1, 20, 20, 32});
  sf::Output output1, output2;
  {
    sf::variable_scope scope("model");
    output1 = my_image_filter(input1);
    scope->reuse_variables();
    output2 = my_image_filter(input2);
  }
  show(py(names(sf::global_variables())), py(kModelVariables));  // (text) shared: 4 variables
  show(shapes(output1, output2), kOutputShapes);  // (not shown) [1,10,10,32] [1,20,20,32]
}

void share_by_scope_object() {
  sf::reset_default_graph();
  auto input1 = sf::random_normal({1, 10, 10, 32});
  auto input2 = sf::random_normal({1, 20, 20, 32});
  sf::VariableScope scope;
  sf::Output output1, output2;
  {
    sf::variable_scope s("model");
    scope = s.get();
    output1 = my_image_filter(input1);
  }
  {
    sf::variable_scope s(scope, {.reuse = true});
    output2 = my_image_filter(input2);
  }
  show(py(names(sf::global_variables())), py(kModelVariables));  // (text) shared: 4 variables
  show(shapes(output1, output2), kOutputShapes);  // (not shown) [1,10,10,32] [1,20,20,32]
}

}  // namespace

int main() {
  try {
    std::cout << "-- creating a variable\n";
    creating();
    std::cout << "-- variable collections\n";
    collections();
    std::cout << "-- device placement\n";
    device_placement();
    std::cout << "-- initializing variables\n";
    initializing();
    initialized_value();
    std::cout << "-- using variables\n";
    using_variables();
    assign_add();
    read_value();
    std::cout << "-- sharing variables\n";
    conv_relu_twice_fails();
    share_by_reuse_true();
    share_by_reuse_variables();
    share_by_scope_object();
  } catch (const sf::Error& e) {
    std::cout << "unexpected error: " << e.what() << '\n';
    return 1;
  }
  return failures == 0 ? 0 : 1;
}
