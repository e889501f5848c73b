// Seed article 003_b340686fec93be67.txt: "TF 变量共享 - TF Variables Sharing" (the TensorFlow
// r0.9 variable_scope how-to, in Chinese), every example transliterated; each print's comment
// holds what the article prints, asserts or states.
#include <scopeflow/scopeflow.h>

#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

std::string py(bool b) { return b ? "True" : "False"; }
std::string str(float x) {
  std::ostringstream os;
  os << x;
  return os.str();
}

// Prints what an assert of the article looks at; a value other than the asserted one is
// reported and makes main return 1.
int failures = 0;
void show(const std::string& got, const std::string& asserted) {
  std::cout << got << '\n';
  if (got != asserted) {
    std::cout << "  ^ MISMATCH: the article asserts " << asserted << '\n';
    ++failures;
  }
}

// The names of sf::global_variables(), space-separated.
std::string global_names() {
  std::string out;
  for (const auto& v : sf::global_variables()) out += (out.empty() ? "" : " ") + v.name();
  return out;
}

// The article gives no image shape: the images are the TensorFlow guide's [1, 10, 10, 32].
sf::Output image(const char* name) { return sf::placeholder(sf::float32, {1, 10, 10, 32}, name); }

// "The problem": my_image_filter built from tf.Variable makes new variables on every call.
namespace with_variables {
sf::Output my_image_filter(const sf::Output& input_images) {
  sf::Variable conv1_weights(sf::random_normal({5, 5, 32, 32}), {.name = "conv1_weights"});
  sf::Variable conv1_biases(sf::zeros({32}), {.name = "conv1_biases"});
  auto conv1 = sf::nn::conv2d(input_images, conv1_weights, {1, 1, 1, 1}, "SAME");
  auto relu1 = sf::nn::relu(conv1 + conv1_biases);

  sf::Variable conv2_weights(sf::random_normal({5, 5, 32, 32}), {.name = "conv2_weights"});
  sf::Variable conv2_biases(sf::zeros({32}), {.name = "conv2_biases"});
  auto conv2 = sf::nn::conv2d(relu1, conv2_weights, {1, 1, 1, 1}, "SAME");
  return sf::nn::relu(conv2 + conv2_biases);
}
}  // namespace with_variables

void problem_example() {
  sf::reset_default_graph();
  auto image1 = image("image1");
  auto image2 = image("image2");
  // First call creates one set of variables.
  auto result1 = with_variables::my_image_filter(image1);
  // Another set is created in the second call.
  auto result2 = with_variables::my_image_filter(image2);
  // (text) two sets of 4 variables:
  // conv1_weights:0 conv1_biases:0 conv2_weights:0 conv2_biases:0
  // conv1_weights_1:0 conv1_biases_1:0 conv2_weights_1:0 conv2_biases_1:0
  std::cout << global_names() << '\n';
}

// The variables_dict workaround: the caller creates the variables and passes them in.
namespace with_dict {
using VariablesDict = std::map<std::string, sf::Variable>;
sf::Output my_image_filter(const sf::Output& input_images, const VariablesDict& variables_dict) {
  auto conv1 =
      sf::nn::conv2d(input_images, variables_dict.at("conv1_weights"), {1, 1, 1, 1}, "SAME");
  auto relu1 = sf::nn::relu(conv1 + variables_dict.at("conv1_biases"));

  auto conv2 = sf::nn::conv2d(relu1, variables_dict.at("conv2_weights"), {1, 1, 1, 1}, "SAME");
  return sf::nn::relu(conv2 + variables_dict.at("conv2_biases"));
}
}  // namespace with_dict

void dict_example() {
  sf::reset_default_graph();
  // The article's dict lists two entries and "... etc. ..."; the other two follow the pattern.
  // (Entries are made in the order written; std::map only orders lookups.)
  with_dict::VariablesDict variables_dict;
  variables_dict.emplace(
      "conv1_weights", sf::Variable(sf::random_normal({5, 5, 32, 32}), {.name = "conv1_weights"}));
  variables_dict.emplace("conv1_biases", sf::Variable(sf::zeros({32}), {.name = "conv1_biases"}));
  variables_dict.emplace(
      "conv2_weights", sf::Variable(sf::random_normal({5, 5, 32, 32}), {.name = "conv2_weights"}));
  variables_dict.emplace("conv2_biases", sf::Variable(sf::zeros({32}), {.name = "conv2_biases"}));
  auto image1 = image("image1");
  auto image2 = image("image2");
  // The 2 calls to my_image_filter() now use the same variables
  auto result1 = with_dict::my_image_filter(image1, variables_dict);
  auto result2 = with_dict::my_image_filter(image2, variables_dict);
  // (text) one set: conv1_weights:0 conv1_biases:0 conv2_weights:0 conv2_biases:0
  std::cout << global_names() << '\n';
}

// "Variable scope example": conv_relu with get_variable, one variable_scope per layer.
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

void calling_twice_fails() {
  sf::reset_default_graph();
  auto image1 = image("image1");
  auto image2 = image("image2");
  auto result1 = my_image_filter(image1);
  try {
    auto result2 = my_image_filter(image2);
  } catch (const sf::ValueError& e) {
    // Raises ValueError(... conv1/weights already exists ...)
    std::cout << "ValueError: " << e.what() << '\n';
  }
}

void reuse_variables_shares() {
  sf::reset_default_graph();
  auto image1 = image("image1");
  auto image2 = image("image2");
  {
    sf::variable_scope scope("image_filters");
    auto result1 = my_image_filter(image1);
    scope->reuse_variables();
    auto result2 = my_image_filter(image2);
  }
  // (text) shared: image_filters/conv1/weights:0 image_filters/conv1/biases:0
  // image_filters/conv2/weights:0 image_filters/conv2/biases:0
  std::cout << global_names() << '\n';
}

// "Understanding tf.get_variable()", mode 1: reuse == False creates.
void mode_1_creates() {
  sf::reset_default_graph();
  sf::variable_scope foo("foo");
  auto v = sf::get_variable("v", {1});
  show(v.name(), "foo/v:0");  // assert v.name == "foo/v:0"
}

// Mode 2: reuse == True returns the existing variable.
void mode_2_reuses() {
  sf::reset_default_graph();
  sf::Variable v, v1;
  {
    sf::variable_scope foo("foo");
    v = sf::get_variable("v", {1});
  }
  {
    sf::variable_scope foo("foo", {.reuse = true});
    v1 = sf::get_variable("v", {1});
  }
  show(py(v1 == v), "True");  // assert v1 == v
}

// "Basics of tf.variable_scope()": nested scopes name like directories.
void nested_names() {
  sf::reset_default_graph();
  sf::variable_scope foo("foo");
  sf::Variable v;
  {
    sf::variable_scope bar("bar");
    v = sf::get_variable("v", {1});
  }
  show(v.name(), "foo/bar/v:0");  // assert v.name == "foo/bar/v:0"
}

void reuse_variables_in_block() {
  sf::reset_default_graph();
  sf::Variable v, v1;
  {
    sf::variable_scope foo("foo");
    v = sf::get_variable("v", {1});
    sf::get_variable_scope().reuse_variables();
    v1 = sf::get_variable("v", {1});
  }
  show(py(v1 == v), "True");  // assert v1 == v
}

// Reuse is inherited by sub-scopes and cannot be turned off inside a reusing scope; leaving
// the reusing scope goes back to non-reusing. (The article's indentation is broken; this is
// the original guide's nesting.)
void reuse_inheritance() {
  sf::reset_default_graph();
  sf::variable_scope root("root");
  // At start, the scope is not reusing.
  show(py(sf::get_variable_scope().reuse()), "False");  // assert reuse == False
  {
    sf::variable_scope foo("foo");
    // Opened a sub-scope, still not reusing.
    show(py(sf::get_variable_scope().reuse()), "False");  // assert reuse == False
  }
  {
    sf::variable_scope foo("foo", {.reuse = true});
    // Explicitly opened a reusing scope.
    show(py(sf::get_variable_scope().reuse()), "True");  // assert reuse == True
    {
      sf::variable_scope bar("bar");
      // Now sub-scope inherits the reuse flag.
      show(py(sf::get_variable_scope().reuse()), "True");  // assert reuse == True
    }
  }
  // Exited the reusing scope, back to a non-reusing one.
  show(py(sf::get_variable_scope().reuse()), "False");  // assert reuse == False
}

// "Capturing variable scope": open a scope through its object.
void capturing_scope() {
  sf::reset_default_graph();
  sf::VariableScope foo_scope;
  sf::Variable v, w, v1, w1;
  {
    sf::variable_scope s("foo");
    foo_scope = s.get();
    v = sf::get_variable("v", {1});
  }
  {
    sf::variable_scope s(foo_scope);
    w = sf::get_variable("w", {1});
  }
  {
    sf::variable_scope s(foo_scope, {.reuse = true});
    v1 = sf::get_variable("v", {1});
    w1 = sf::get_variable("w", {1});
  }
  show(py(v1 == v), "True");  // assert v1 == v
  show(py(w1 == w), "True");  // assert w1 == w
}

// A scope opened by object jumps out of the current scope: its name does not change.
void capturing_scope_jumps_out() {
  sf::reset_default_graph();
  sf::VariableScope foo_scope;
  {
    sf::variable_scope s("foo");
    foo_scope = s.get();
    show(foo_scope.name(), "foo");  // assert foo_scope.name == "foo"
  }
  sf::variable_scope bar("bar");
  {
    sf::variable_scope other_scope("baz");
    show(other_scope->name(), "bar/baz");  // assert other_scope.name == "bar/baz"
  }
  {
    sf::variable_scope foo_scope2(foo_scope);
    show(foo_scope2->name(), "foo");  // assert foo_scope2.name == "foo"  # Not changed.
  }
}

// "Initializers in variable scope": inherited by sub-scopes, overridden by an explicit one.
// (The article's `w = ...:` line ends in a stray colon; read as intended.)
void scope_initializers() {
  sf::reset_default_graph();
  sf::Variable v, w, v_bar, v_baz;
  {
    sf::variable_scope foo("foo", {.initializer = sf::constant_initializer(0.4)});
    v = sf::get_variable("v", {1});
    w = sf::get_variable("w", {1}, {.initializer = sf::constant_initializer(0.3)});
    {
      sf::variable_scope bar("bar");
      v_bar = sf::get_variable("v", {1});
    }
    {
      sf::variable_scope baz("baz", {.initializer = sf::constant_initializer(0.2)});
      v_baz = sf::get_variable("v", {1});
    }
  }
  sf::Session sess;  // v.eval() runs in the default session
  sess.run(sf::global_variables_initializer());
  // Default initializer as set above.
  show(str(sess.run(v).scalar<float>()), "0.4");  // assert v.eval() == 0.4
  // Specific initializer overrides the default.
  show(str(sess.run(w).scalar<float>()), "0.3");  // assert w.eval() == 0.3
  // Inherited default initializer.
  show(str(sess.run(v_bar).scalar<float>()), "0.4");  // assert v.eval() == 0.4
  // Changed default initializer.
  show(str(sess.run(v_baz).scalar<float>()), "0.2");  // assert v.eval() == 0.2
}

// "Names of ops in tf.variable_scope()": a variable scope opens a name scope of its name.
void op_names() {
  sf::reset_default_graph();
  sf::variable_scope foo("foo");
  auto x = 1.0f + sf::get_variable("v", {1});
  show(x.op().name(), "foo/add");  // assert x.op.name == "foo/add"
}

// A name scope inside a variable scope names ops only, not variables.
void name_scope_in_variable_scope() {
  sf::reset_default_graph();
  sf::Variable v;
  sf::Output x;
  {
    sf::variable_scope foo("foo");
    {
      sf::name_scope bar("bar");
      v = sf::get_variable("v", {1});
      x = 1.0f + v;
    }
  }
  show(v.name(), "foo/v:0");           // assert v.name == "foo/v:0"
  show(x.op().name(), "foo/bar/add");  // assert x.op.name == "foo/bar/add"
}

// The guide's last remark, in words only: "when opening a variable scope using a captured
// object instead of a string, we do not alter the current name scope for ops". That was
// r0.9; TensorFlow 1.x (which ScopeFlow follows, CONFORMANCE.md) opens a name scope named
// after the scope's last component, made unique.
void reopen_by_object_op_names() {
  sf::reset_default_graph();
  sf::VariableScope foo_scope;
  sf::Variable v;
  {
    sf::variable_scope s("foo");
    foo_scope = s.get();
    v = sf::get_variable("v", {1});
  }
  sf::variable_scope s(foo_scope);
  auto x = 1.0f + v;
  std::cout << x.op().name() << '\n';  // (text, r0.9) add; TensorFlow 1.x: foo_1/add
}

}  // namespace

int main() {
  try {
    std::cout << "-- the problem: tf.Variable in my_image_filter\n";
    problem_example();
    std::cout << "-- variables_dict\n";
    dict_example();
    std::cout << "-- variable scope example\n";
    calling_twice_fails();
    reuse_variables_shares();
    std::cout << "-- understanding tf.get_variable()\n";
    mode_1_creates();
    mode_2_reuses();
    std::cout << "-- basics of tf.variable_scope()\n";
    nested_names();
    reuse_variables_in_block();
    reuse_inheritance();
    std::cout << "-- capturing variable scope\n";
    capturing_scope();
    capturing_scope_jumps_out();
    std::cout << "-- initializers in variable scope\n";
    scope_initializers();
    std::cout << "-- names of ops in tf.variable_scope()\n";
    op_names();
    name_scope_in_variable_scope();
    reopen_by_object_op_names();
  } catch (const sf::Error& e) {
    std::cout << "unexpected error: " << e.what() << '\n';
    return 1;
  }
  return failures == 0 ? 0 : 1;
}
