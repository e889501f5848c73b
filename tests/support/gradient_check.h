// Test support: the gradient of y = reduce_sum(f(x) * w) with respect to a placeholder x,
// built by sf::gradients and run by a session, against central differences of the same
// session's forward pass (random x and w, seeded).
#pragma once

#include <gtest/gtest.h>
#include <scopeflow/scopeflow.h>

#include <functional>
#include <random>
#include <vector>

namespace scopeflow::testing {

inline std::vector<float> random_floats(std::size_t n, unsigned seed, float scale = 2.0f) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> d(-scale, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

inline void check_gradient(const Shape& shape, const std::function<Output(Output)>& f,
                           unsigned seed, double tolerance = 2e-3) {
  auto x = placeholder(float32, shape, "x");
  auto fx = f(x);
  auto w = constant(random_floats(static_cast<std::size_t>(fx.shape().num_elements()), seed + 1),
                    fx.shape());
  auto y = reduce_sum(fx * w);
  auto g = gradients(y, {x});
  ASSERT_TRUE(g[0].valid());
  ASSERT_EQ(g[0].shape(), shape);
  auto xv = random_floats(static_cast<std::size_t>(shape.num_elements()), seed);
  Session s;
  auto analytic = s.run(g[0], {{x, Tensor::from_vector<float>(xv, shape)}}).to_vector<float>();
  ASSERT_EQ(analytic.size(), xv.size());
  for (std::size_t i = 0; i < xv.size(); ++i) {
    const float h = 1e-2f, saved = xv[i];
    xv[i] = saved + h;
    const double up = s.run(y, {{x, Tensor::from_vector<float>(xv, shape)}}).scalar<float>();
    xv[i] = saved - h;
    const double down = s.run(y, {{x, Tensor::from_vector<float>(xv, shape)}}).scalar<float>();
    xv[i] = saved;
    EXPECT_NEAR(analytic[i], (up - down) / (2 * h), tolerance)
        << fx.op().type() << " x[" << i << "]";
  }
}

}  // namespace scopeflow::testing
