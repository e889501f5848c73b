// The "image filter" model of the seed articles (000, 002, 003, 004: the TensorFlow guide's
// my_image_filter, two conv2d + relu layers with conv1/ and conv2/ weights and biases), shared
// three ways; after each, sf::global_variables() must hold exactly its 4 variables, both towers
// must give the same output for the same image, and each tower's output must match a plain C++
// convolution with the shared weights.
#include <scopeflow/scopeflow.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "seed_common.h"

namespace {

using seeds::check;
using seeds::failures;
using seeds::my_image_filter;

const sf::Shape kImageShape{1, 10, 10, 32};  // the guide's input1: tf.random_normal([1,10,10,32])

// relu(conv2d(x, w, strides=[1,1,1,1], padding='SAME') + b) for one NHWC image, in double:
// x [1,h,w,c], w [kh,kw,c,o], b [o]. SAME pads (k-1)/2 before, the rest after.
std::vector<double> reference_conv_relu(const std::vector<double>& x, std::int64_t h,
                                        std::int64_t w, std::int64_t c,
                                        const std::vector<float>& filter, std::int64_t kh,
                                        std::int64_t kw, std::int64_t o,
                                        const std::vector<float>& bias) {
  std::vector<double> y(static_cast<std::size_t>(h * w * o));
  const std::int64_t pt = (kh - 1) / 2, pl = (kw - 1) / 2;
  for (std::int64_t i = 0; i < h; ++i) {
    for (std::int64_t j = 0; j < w; ++j) {
      for (std::int64_t m = 0; m < o; ++m) {
        double acc = bias[static_cast<std::size_t>(m)];
        for (std::int64_t di = 0; di < kh; ++di) {
          for (std::int64_t dj = 0; dj < kw; ++dj) {
            const std::int64_t si = i + di - pt, sj = j + dj - pl;
            if (si < 0 || si >= h || sj < 0 || sj >= w) continue;
            for (std::int64_t k = 0; k < c; ++k) {
              acc += x[static_cast<std::size_t>((si * w + sj) * c + k)] *
                     filter[static_cast<std::size_t>(((di * kw + dj) * c + k) * o + m)];
            }
          }
        }
        y[static_cast<std::size_t>((i * w + j) * o + m)] = std::max(acc, 0.0);
      }
    }
  }
  return y;
}

// True when `got` matches `want` to float precision (relative to the output's scale).
bool close(const std::vector<float>& got, const std::vector<double>& want) {
  if (got.size() != want.size()) return false;
  double scale = 1.0, err = 0.0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    scale = std::max(scale, std::abs(want[i]));
    err = std::max(err, std::abs(static_cast<double>(got[i]) - want[i]));
  }
  return err <= 1e-5 * scale;
}

sf::Tensor image(const std::function<float(std::size_t)>& pixel) {
  std::vector<float> pixels(static_cast<std::size_t>(kImageShape.num_elements()));
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = pixel(i);
  return sf::Tensor::from_vector(pixels, kImageShape);
}

// Prints the global variables' names and checks they are exactly the model's 4, and the two
// outputs' op names and shapes; then runs both towers: the same image gives the same output,
// and each tower computes relu(conv2d(relu(conv2d(image, w1) + b1), w2) + b2) with the 4
// shared variables.
void report(const sf::Output& in1, const sf::Output& out1, const sf::Output& in2,
            const sf::Output& out2, const std::string& out2_op_name) {
  const std::vector<std::string> expected{"model/conv1/weights:0", "model/conv1/biases:0",
                                          "model/conv2/weights:0", "model/conv2/biases:0"};
  std::vector<std::string> names;
  const auto vars = sf::global_variables();
  for (const auto& v : vars) {
    names.push_back(v.name());
    std::cout << "  " << v.name() << ' ' << v.shape() << '\n';
  }
  // model/conv1/weights:0 [5,5,32,32]
  // model/conv1/biases:0 [32]
  // model/conv2/weights:0 [5,5,32,32]
  // model/conv2/biases:0 [32]
  std::cout << "  " << names.size() << " variables\n";  // 4 variables
  check(names == expected, "expected exactly the 4 model variables");
  if (names != expected) return;

  std::cout << "  output1: " << out1.op().name() << ' ' << out1.shape() << '\n';
  std::cout << "  output2: " << out2.op().name() << ' ' << out2.shape() << '\n';
  check(out1.op().name() == "model/conv2/Relu", "output1 is model/conv2/Relu (TF's name)");
  check(out2.op().name() == out2_op_name, "output2 is " + out2_op_name + " (TF's name)");
  check(out1.shape() == kImageShape && out2.shape() == kImageShape,
        "SAME padding keeps the [1,10,10,32] shape");

  sf::Session sess;
  sess.run(sf::global_variables_initializer());
  const auto image_a = image([](std::size_t i) { return static_cast<float>(i % 7) - 3.0f; });
  const auto image_b = image([](std::size_t i) { return 0.5f * static_cast<float>(i % 5) - 1.0f; });

  auto same = sess.run({out1, out2}, {{in1, image_a}, {in2, image_a}});
  const bool identical = same[0].to_vector<float>() == same[1].to_vector<float>();
  std::cout << "  same image:  output1 == output2: " << (identical ? "true" : "false")
            << '\n';  // true
  check(identical, "the two towers give the same output for the same image");

  auto outs = sess.run({out1, out2}, {{in1, image_a}, {in2, image_b}});
  auto w = sess.run({vars[0], vars[1], vars[2], vars[3]});
  const auto reference = [&](const sf::Tensor& img) {
    auto pixels = img.to_vector<float>();
    std::vector<double> x(pixels.begin(), pixels.end());
    auto relu1 = reference_conv_relu(x, 10, 10, 32, w[0].to_vector<float>(), 5, 5, 32,
                                     w[1].to_vector<float>());
    return reference_conv_relu(relu1, 10, 10, 32, w[2].to_vector<float>(), 5, 5, 32,
                               w[3].to_vector<float>());
  };
  const bool differ = outs[0].to_vector<float>() != outs[1].to_vector<float>();
  const bool match1 = close(outs[0].to_vector<float>(), reference(image_a));
  const bool match2 = close(outs[1].to_vector<float>(), reference(image_b));
  std::cout << "  two images:  output1 != output2: " << (differ ? "true" : "false")
            << ", both match the reference: " << (match1 && match2 ? "true" : "false")
            << '\n';  // true, true
  check(differ, "different images give different outputs");
  check(match1, "output1 is relu(conv2d(...) + biases) computed by hand");
  check(match2, "output2 is relu(conv2d(...) + biases) computed by hand");
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
  report(input1, output1, input2, output2, "model_1/conv2/Relu");
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
  report(input1, output1, input2, output2, "model/conv2_1/Relu");
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
  report(input1, output1, input2, output2, "model_1/conv2/Relu");
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
