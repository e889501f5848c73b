// Shared by the seed programs (samples/seeds/): the checker for claims an article makes
// without printing them, and the TensorFlow guide's conv_relu / my_image_filter (two conv2d +
// relu layers: conv1/weights, conv1/biases, conv2/weights, conv2/biases), which articles 000
// and 002 call without defining and the image-filter program shares three ways. Articles
// that define them in their own words (003, 004) keep their own text.
#pragma once

#include <scopeflow/scopeflow.h>

#include <iostream>
#include <string>
#include <vector>

namespace seeds {

// A failed claim makes the program's main return 1.
inline int failures = 0;
inline void check(bool ok, const std::string& what) {
  if (!ok) {
    std::cout << "CHECK FAILED: " << what << '\n';
    ++failures;
  }
}

// The names of sf::global_variables(), in creation order.
inline std::vector<std::string> global_names() {
  std::vector<std::string> names;
  for (const auto& v : sf::global_variables()) names.push_back(v.name());
  return names;
}

inline sf::Output conv_relu(const sf::Output& input, const sf::Shape& kernel_shape,
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

inline sf::Output my_image_filter(const sf::Output& input_images) {
  sf::Output relu1;
  {
    sf::variable_scope s("conv1");  // conv1/weights, conv1/biases
    relu1 = conv_relu(input_images, {5, 5, 32, 32}, {32});
  }
  sf::variable_scope s("conv2");  // conv2/weights, conv2/biases
  return conv_relu(relu1, {5, 5, 32, 32}, {32});
}

}  // namespace seeds
