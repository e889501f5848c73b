// Uses the installed umbrella header and library; exits non-zero if anything is off.
#include <scopeflow/scopeflow.h>

#include <iostream>

int main() {
  auto t = sf::Tensor::from_vector<float>({1, 2, 3}, {3});
  auto spec = sf::DeviceSpec::from_string("/gpu:0").to_string();
  sf::devices::DeviceManager manager;
  bool ok = t.to_vector<float>()[2] == 3.0f && spec == "/device:GPU:0" && manager.num_cpus() == 1;
  try {
    sf::DeviceSpec::from_string("/foo:0");
    ok = false;
  } catch (const sf::ValueError&) {
  }
  std::cout << sf::build_info_string() << "\nconsumer " << (ok ? "ok" : "FAILED") << "\n";
  return ok ? 0 : 1;
}
