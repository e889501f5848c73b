// Test helper for ResumeTest.KilledSavesLeaveTheLatestCheckpointLoadable: saves checkpoints
// of one variable filled with the step number, forever, until killed.
// Usage: save_loop DIR ELEMENTS
#include <scopeflow/scopeflow.h>

#include <cstdlib>
#include <iostream>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: save_loop DIR ELEMENTS\n";
    return 2;
  }
  const std::string dir = argv[1];
  const std::int64_t n = std::atoll(argv[2]);
  auto v = sf::get_variable("v", {n}, {.initializer = sf::zeros_initializer()});
  auto value = sf::placeholder(sf::float32, sf::Shape{n});
  auto assign = v.assign(value);
  sf::Session s;
  s.run(v.initializer());
  sf::train::Saver saver({.max_to_keep = 3});
  for (std::int64_t step = 1;; ++step) {
    s.run(assign, {{value, sf::Tensor::from_vector(std::vector<float>(static_cast<std::size_t>(n),
                                                                      static_cast<float>(step)))}});
    saver.save(s, dir + "/model.ckpt", step);
  }
}
