// Seed article 002_6885757bb7ae74be.txt: "tensorflow的共享变量,tf.Variable(),tf.get_variable(),
// tf.Variable_scope(),tf.name_scope()联系与区别": its one code example (image_filters1 re-opened
// through scope1 with reuse=True) and the behaviour its text states, transliterated.
#include <scopeflow/scopeflow.h>

#include <iostream>
#include <string>
#include <vector>

#include "seed_common.h"

namespace {

using seeds::check;
using seeds::failures;
using seeds::global_names;
using seeds::my_image_filter;

// Section 1's text: tf.Variable resolves name clashes itself (two different variables);
// tf.get_variable raises when the name exists and the scope is not set to share.
void section_1_text() {
  sf::reset_default_graph();
  sf::Variable a(sf::constant(1), {.name = "v"});
  sf::Variable b(sf::constant(1), {.name = "v"});
  std::cout << a.name() << ' ' << b.name() << '\n';  // (text) two variables: v:0 v_1:0
  sf::get_variable("w", {});
  try {
    sf::get_variable("w", {});
  } catch (const sf::ValueError& e) {
    // (text) an error: ValueError: Variable w already exists, disallowed. ...
    std::cout << "ValueError: " << e.what() << '\n';
  }
}

// Section 2's code: create in image_filters1, re-open the scope object with reuse=True.
// (The article's second `with` line lacks its colon; read as intended.) It prints nothing, and
// gives no image shape: the images are the TensorFlow guide's [1, 10, 10, 32].
void section_2_example() {
  sf::reset_default_graph();
  auto image1 = sf::placeholder(sf::float32, {1, 10, 10, 32}, "image1");
  auto image2 = sf::placeholder(sf::float32, {1, 10, 10, 32}, "image2");
  sf::VariableScope scope1;
  {
    sf::variable_scope s("image_filters1");
    scope1 = s.get();
    auto result1 = my_image_filter(image1);
  }
  {
    sf::variable_scope s(scope1, {.reuse = true});
    auto result2 = my_image_filter(image2);
  }
  check(global_names() == std::vector<std::string>{"image_filters1/conv1/weights:0",
                                                   "image_filters1/conv1/biases:0",
                                                   "image_filters1/conv2/weights:0",
                                                   "image_filters1/conv2/biases:0"},
        "result1 and result2 share the 4 variables of image_filters1");
}

}  // namespace

int main() {
  try {
    std::cout << "-- 1 (text)\n";
    section_1_text();
    std::cout << "-- 2\n";
    section_2_example();
  } catch (const sf::Error& e) {
    std::cout << "unexpected error: " << e.what() << '\n';
    return 1;
  }
  return failures == 0 ? 0 : 1;
}
