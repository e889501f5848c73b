// The "image filter" model of the seed articles (000, 002, 003, 004: the TensorFlow guide's
// my_image_filter with conv1/ and conv2/ weights and biases), shared three ways; after each,
// sf::global_variables() must hold exactly its 4 variables, and both towers compute the same.
#include <scopeflow/scopeflow.h>

#include <functional>
#include <iostream>
#include <string>
#include <vector>

namespace {

// conv2d and relu are not in ScopeFlow yet: `input * weights + biases` stands in for
// relu(conv2d(input, weights, strides=[1, 1, 1, 1], padding='SAME') + biases), so the images
// are [5, 5, 32, 32], the kernel's shape, for the product to broadcast.
const sf::Shape kImageShape{5, 5, 32, 32};

sf::Output conv_relu(const sf::Output& input, const sf::Shape& kernel_shape,
                     const sf::Shape& bias_shape) {
  auto weights =
      sf::get_variable("weights", kernel_shape, {.initializer = sf::random_normal_initializer()});
  auto biases =
      sf::get_variable("biases", bias_shape, {.initializer = sf::constant_initializer(0.0)});
  return input * weights + biases;
}

sf::Output my_image_filter(const sf::Output& input_images) {
  sf::Output relu1;
  {
    sf::variable_scope s("conv1");  // conv1/weights, conv1/biases
    relu1 = conv_relu(input_images, {5, 5, 32, 32}, {32});
  }
  sf::variable_scope s("conv2");  // conv2/weights, conv2/biases
  return conv_relu(relu1, {5, 5, 32, 32}, {32});
}

int failures = 0;

// Prints the global variables' names and checks they are exactly the model's 4; then feeds
// the same image to both towers and checks they agree (they read the same weights).
void report(const sf::Output& in1, const sf::Output& out1, const sf::Output& in2,
            const sf::Output& out2) {
  const std::vector<std::string> expected{"model/conv1/weights:0", "model/conv1/biases:0",
                                          "model/conv2/weights:0", "model/conv2/biases:0"};
  std::vector<std::string> names;
  for (const auto& v : sf::global_variables()) {
    names.push_back(v.name());
    std::cout << "  " << v.name() << ' ' << v.shape() << '\n';
  }
  // model/conv1/weights:0 [5,5,32,32]
  // model/conv1/biases:0 [32]
  // model/conv2/weights:0 [5,5,32,32]
  // model/conv2/biases:0 [32]
  std::cout << "  " << names.size() << " variables\n";  // 4 variables
  if (names != expected) {
    std::cout << "  CHECK FAILED: expected exactly the 4 model variables\n";
    ++failures;
  }

  std::vector<float> pixels(static_cast<std::size_t>(kImageShape.num_elements()));
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<float>(i % 7) - 3.0f;
  const auto image = sf::Tensor::from_vector(pixels, kImageShape);
  sf::Session sess;
  sess.run(sf::global_variables_initializer());
  auto outs = sess.run({out1, out2}, {{in1, image}, {in2, image}});
  const bool same = outs[0].to_vector<float>() == outs[1].to_vector<float>();
  std::cout << "  output1 == output2: " << (same ? "true" : "false") << '\n';  // true
  if (!same) {
    std::cout << "  CHECK FAILED: the two towers differ\n";
    ++failures;
  }
}

// 1. Two variable_scope("model") blocks, the second with reuse=true.
void two_blocks_with_reuse() {
  sf::reset_default_graph();
  auto input1 = sf::placeholder(sf::float32, kImageShape, "input1");
  auto input2 = sf::placeholder(sf::float32, kImageShape, "input2");
  sf::Output output1, output2;
  {
    sf::variable_scope s("model");
    output1 = my_image_filter(input1);
  }
  {
    sf::variable_scope s("model", {.reuse = true});
    output2 = my_image_filter(input2);
  }
  report(input1, output1, input2, output2);
}

// 2. One block: scope.reuse_variables() between the two calls.
void one_block_reuse_variables() {
  sf::reset_default_graph();
  auto input1 = sf::placeholder(sf::float32, kImageShape, "input1");
  auto input2 = sf::placeholder(sf::float32, kImageShape, "input2");
  sf::Output output1, output2;
  {
    sf::variable_scope s("model");
    output1 = my_image_filter(input1);
    s->reuse_variables();
    output2 = my_image_filter(input2);
  }
  report(input1, output1, input2, output2);
}

// 3. Re-entering by the VariableScope object, with reuse=true.
void reenter_by_object() {
  sf::reset_default_graph();
  auto input1 = sf::placeholder(sf::float32, kImageShape, "input1");
  auto input2 = sf::placeholder(sf::float32, kImageShape, "input2");
  sf::Output output1, output2;
  sf::VariableScope scope;
  {
    sf::variable_scope s("model");
    scope = s.get();
    output1 = my_image_filter(input1);
  }
  {
    sf::variable_scope s(scope, {.reuse = true});
    output2 = my_image_filter(input2);
  }
  report(input1, output1, input2, output2);
}

}  // namespace

int main() {
  try {
    std::cout << "1. variable_scope(\"model\") twice, the second with reuse=true\n";
    two_blocks_with_reuse();
    std::cout << "2. one variable_scope(\"model\"), reuse_variables() between the calls\n";
    one_block_reuse_variables();
    std::cout << "3. variable_scope(scope object, reuse=true)\n";
    reenter_by_object();
  } catch (const sf::Error& e) {
    std::cout << "unexpected error: " << e.what() << '\n';
    return 1;
  }
  return failures == 0 ? 0 : 1;
}
