// Seed article 000_0e7a94ce6114cd3d.txt: "tensorflow变量共享——VariableScope的reuse模式、
// tf.get_variable()、tf.Variable() 探索" (reuse modes of VariableScope, get_variable, Variable),
// every example transliterated; each print's comment holds what the article prints.
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

// Python's print('"' + name + '"', reuse): the name in quotes, then True / False.
std::string py(bool b) { return b ? "True" : "False"; }
void print_scope() {
  const auto& s = sf::get_variable_scope();
  std::cout << '"' << s.name() << "\" " << py(s.reuse()) << '\n';
}

// 1.2: reuse_variables() and reuse=True both put a scope in reuse mode.
void section_1_2() {
  sf::reset_default_graph();
  {
    sf::variable_scope vs1("vs1");
    sf::get_variable_scope().reuse_variables();
    print_scope();  // "vs1" True
  }
  {
    sf::variable_scope vs2("vs2", {.reuse = true});
    print_scope();  // "vs2" True
  }
}

// 1.3: child scopes inherit reuse mode.
void section_1_3() {
  sf::reset_default_graph();
  sf::get_variable_scope().reuse_variables();  // the root scope (name "") now reuses
  print_scope();                               // "" True
  {
    sf::variable_scope vs("vs");
    print_scope();  // "vs" True
  }
}

// 1.4: a mode set inside a with block is lost when the block ends.
void section_1_4() {
  sf::reset_default_graph();
  {
    sf::variable_scope vs1("vs1");
    sf::get_variable_scope().reuse_variables();
    print_scope();  // "vs1" True
  }
  {
    sf::variable_scope vs1("vs1");
    print_scope();  // "vs1" False
  }
}

// 1.5: opening a scope through its VariableScope object.
void section_1_5() {
  // The TensorFlow site's example (the article prints nothing for it; the images are the
  // guide's [1, 10, 10, 32]).
  sf::reset_default_graph();
  auto input1 = sf::placeholder(sf::float32, {1, 10, 10, 32}, "input1");
  auto input2 = sf::placeholder(sf::float32, {1, 10, 10, 32}, "input2");
  {
    sf::variable_scope scope("model");
    auto output1 = my_image_filter(input1);
    {
      sf::variable_scope reused(scope.get(), {.reuse = true});
      auto output2 = my_image_filter(input2);
    }
  }
  check(global_names() == std::vector<std::string>{"model/conv1/weights:0", "model/conv1/biases:0",
                                                   "model/conv2/weights:0", "model/conv2/biases:0"},
        "model shares its 4 variables");

  // The scope object carries its own reuse mode.
  sf::reset_default_graph();
  sf::VariableScope scope;
  {
    sf::variable_scope vs1("vs1");
    sf::get_variable_scope().reuse_variables();
    print_scope();  // "vs1" True
    {
      sf::variable_scope vs2("vs2");  // vs1/vs2 inherits vs1's reuse
      scope = vs2.get();
      print_scope();  // "vs1/vs2" True
    }
  }
  {
    sf::variable_scope vs1("vs1");
    print_scope();  // "vs1" False
    {
      sf::variable_scope vs2("vs2");
      print_scope();  // "vs1/vs2" False
    }
  }
  {
    sf::variable_scope s(scope);
    print_scope();  // "vs1/vs2" True
  }
}

// 2: tf.Variable always creates, reuse or not; same names get _1, _2.
void section_2() {
  sf::reset_default_graph();
  print_scope();  // "" False
  sf::Variable v1(sf::constant(1), {.name = "v"});
  sf::Variable v2(sf::constant(1), {.name = "v"});
  sf::get_variable_scope().reuse_variables();
  print_scope();                                    // "" True
  sf::Variable v3(sf::constant(1), {.name = "v"});  // still a new variable: v_2
  std::cout << v1.name() << '\n';                   // v:0
  std::cout << v2.name() << '\n';                   // v_1:0
  std::cout << v3.name() << '\n';                   // v_2:0
}

// 3.1: without reuse, get_variable creates; a name taken by a tf.Variable is renamed, one
// taken by get_variable is an error.
void section_3_1() {
  sf::reset_default_graph();
  sf::variable_scope vs("vs");
  print_scope();  // "vs" False
  sf::Variable v1(sf::constant(1), {.name = "v"});
  std::cout << v1.name() << '\n';  // vs/v:0
  auto v2 = sf::get_variable("v", {});
  std::cout << v2.name() << '\n';  // vs/v_1:0
  try {
    auto v3 = sf::get_variable("v", {});
    std::cout << v3.name() << '\n';  // (not reached)
  } catch (const sf::ValueError& e) {
    // ValueError: Variable vs/v already exists, disallowed. Did you mean to set reuse=True or
    // reuse=tf.AUTO_REUSE in VarScope?
    std::cout << "ValueError: " << e.what() << '\n';
  }
}

// 3.2.1: with reuse, get_variable returns the variable of the same full name.
void section_3_2_1() {
  sf::reset_default_graph();
  sf::Variable v;
  {
    sf::variable_scope vs("vs");
    print_scope();  // "vs" False
    v = sf::get_variable("v", {});
    std::cout << v.name() << '\n';  // vs/v:0
  }
  {
    sf::variable_scope vs("vs", {.reuse = true});
    print_scope();  // "vs" True
    auto reused_v = sf::get_variable("v", {});
    std::cout << reused_v.name() << '\n';  // vs/v:0
    check(reused_v == v, "reused_v is v");
  }
}

// 3.2.2: reuse does not look into other scopes.
void section_3_2_2() {
  sf::reset_default_graph();
  {
    sf::variable_scope vs("vs");
    print_scope();  // "vs" False
    auto v = sf::get_variable("v", {});
    std::cout << v.name() << '\n';  // vs/v:0
  }
  try {
    sf::variable_scope vs1("vs1", {.reuse = true});
    print_scope();  // "vs1" True
    auto reused_v = sf::get_variable("v", {});
    std::cout << reused_v.name() << '\n';  // (not reached)
  } catch (const sf::ValueError& e) {
    // ValueError: Variable vs1/v does not exist, or was not created with tf.get_variable().
    // Did you mean to set reuse=tf.AUTO_REUSE in VarScope?
    std::cout << "ValueError: " << e.what() << '\n';
  }
}

// 3.2.3: reuse finds only variables made by get_variable, not by tf.Variable.
void section_3_2_3() {
  sf::reset_default_graph();
  {
    sf::variable_scope vs("vs");
    print_scope();  // "vs" False
    sf::Variable v(sf::constant(1), {.name = "v"});
    std::cout << v.name() << '\n';  // vs/v:0
  }
  try {
    sf::variable_scope vs("vs", {.reuse = true});
    print_scope();  // "vs" True
    auto reused_v = sf::get_variable("v", {});
    std::cout << reused_v.name() << '\n';  // (not reached)
  } catch (const sf::ValueError& e) {
    // ValueError: Variable vs/v does not exist, or was not created with tf.get_variable().
    // Did you mean to set reuse=tf.AUTO_REUSE in VarScope?
    std::cout << "ValueError: " << e.what() << '\n';
  }
}

// Appendix 1: name_scope versus variable_scope (one graph for the whole listing).
void appendix_1() {
  sf::reset_default_graph();
  {
    sf::name_scope ns("ns");
    print_scope();  // "" False   (a name_scope does not change the variable scope)
    auto v1 = sf::get_variable("v", {});
    sf::Variable v2(sf::constant(1), {.name = "v"});
    std::cout << v1.name() << '\n';  // v:0      (name_scope does not prefix get_variable)
    std::cout << v2.name() << '\n';  // ns/v:0   (it prefixes tf.Variable)
    {
      sf::variable_scope vs("vs");
      print_scope();  // "vs" False
      auto v3 = sf::get_variable("v", {});
      sf::Variable v4(sf::constant(1), {.name = "v"});
      std::cout << v3.name() << '\n';  // vs/v:0
      std::cout << v4.name() << '\n';  // ns/vs/v:0
    }
  }
  try {
    sf::variable_scope vs("vs");
    sf::name_scope ns("ns");
    sf::Variable v5(sf::constant(1), {.name = "v"});
    std::cout << v5.name() << '\n';       // vs/ns/v:0
    auto v6 = sf::get_variable("v", {});  // vs/v exists already: throws
    std::cout << v6.name() << '\n';       // (not reached)
  } catch (const sf::ValueError& e) {
    // ValueError: Variable vs/v already exists, disallowed. Did you mean to set reuse=True or
    // reuse=tf.AUTO_REUSE in VarScope?
    std::cout << "ValueError: " << e.what() << '\n';
  }
}

// Appendix 2 only links to another article (multi-GPU sharing): nothing to transliterate.

}  // namespace

int main() {
  try {
    std::cout << "-- 1.2\n";
    section_1_2();
    std::cout << "-- 1.3\n";
    section_1_3();
    std::cout << "-- 1.4\n";
    section_1_4();
    std::cout << "-- 1.5\n";
    section_1_5();
    std::cout << "-- 2\n";
    section_2();
    std::cout << "-- 3.1\n";
    section_3_1();
    std::cout << "-- 3.2.1\n";
    section_3_2_1();
    std::cout << "-- 3.2.2\n";
    section_3_2_2();
    std::cout << "-- 3.2.3\n";
    section_3_2_3();
    std::cout << "-- appendix 1\n";
    appendix_1();
  } catch (const sf::Error& e) {
    std::cout << "unexpected error: " << e.what() << '\n';
    return 1;
  }
  return failures == 0 ? 0 : 1;
}
