// Resume equivalence: training 2K steps in one session ends with exactly the parameters of
// training K steps, saving, restoring into a new graph and session, and training K more
// (Adam's slots and beta powers, the global step and the dropout masks' random counters all
// travel in the checkpoint). And a save killed with SIGKILL at random moments never leaves
// the latest checkpoint unreadable.
#include <gtest/gtest.h>
#include <scopeflow/scopeflow.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

namespace fs = std::filesystem;

namespace {

class ResumeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sf::reset_default_graph();
    dir_ = fs::temp_directory_path() /
           ("sf_resume_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

constexpr int kBatch = 4;

struct Model {
  sf::Output images, labels, loss;
  sf::Operation train_op;
};

// conv 3x3x1->4, relu, 2x2 max pool, dense 36->16 with dropout 0.5, dense 16->3, Adam.
Model build() {
  sf::set_random_seed(1234);
  Model m;
  m.images = sf::placeholder(sf::float32, sf::Shape{kBatch, 6, 6, 1}, "images");
  m.labels = sf::placeholder(sf::int64, sf::Shape{kBatch}, "labels");
  sf::Output h;
  {
    sf::variable_scope s("conv1");
    auto w = sf::get_variable("weights", {3, 3, 1, 4},
                              {.initializer = sf::truncated_normal_initializer(0.0, 0.3)});
    auto b = sf::get_variable("biases", {4}, {.initializer = sf::constant_initializer(0.1)});
    h = sf::nn::relu(sf::nn::bias_add(sf::nn::conv2d(m.images, w, {1, 1, 1, 1}, "SAME"), b));
    h = sf::nn::max_pool(h, {1, 2, 2, 1}, {1, 2, 2, 1}, "SAME");
  }
  h = sf::reshape(h, {kBatch, 36});
  {
    sf::variable_scope s("fc1");
    auto w = sf::get_variable("weights", {36, 16},
                              {.initializer = sf::truncated_normal_initializer(0.0, 0.3)});
    h = sf::nn::dropout(sf::nn::relu(sf::matmul(h, w)), 0.5);
  }
  sf::Output logits;
  {
    sf::variable_scope s("fc2");
    auto w = sf::get_variable("weights", {16, 3},
                              {.initializer = sf::truncated_normal_initializer(0.0, 0.3)});
    logits = sf::matmul(h, w);
  }
  m.loss = sf::reduce_mean(sf::nn::sparse_softmax_cross_entropy_with_logits(m.labels, logits));
  sf::train::AdamOptimizer opt(0.01);
  m.train_op = opt.minimize(m.loss, sf::train::get_or_create_global_step());
  return m;
}

// Batch `step` of a deterministic synthetic stream.
sf::FeedDict batch(const Model& m, int step) {
  std::mt19937 gen(static_cast<unsigned>(step) * 7919u + 1u);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(kBatch * 36);
  for (auto& v : x) v = u(gen);
  std::vector<std::int64_t> y(kBatch);
  for (auto& v : y) v = static_cast<std::int64_t>(gen() % 3);
  return {{m.images, sf::Tensor::from_vector(x, sf::Shape{kBatch, 6, 6, 1})},
          {m.labels, sf::Tensor::from_vector(y)}};
}

std::map<std::string, std::vector<float>> parameters(sf::Session& s) {
  std::map<std::string, std::vector<float>> out;
  for (const auto& v : sf::global_variables())
    if (v.dtype() == sf::float32) out[v.op().name()] = s.run(v.value()).to_vector<float>();
  return out;
}

TEST_F(ResumeTest, TwoHalvesWithACheckpointEqualOneRun) {
  constexpr int kSteps = 6;
  std::map<std::string, std::vector<float>> straight;
  {
    auto m = build();
    sf::Session s;
    s.run(sf::global_variables_initializer());
    for (int i = 0; i < 2 * kSteps; ++i) s.run(m.train_op, batch(m, i));
    straight = parameters(s);
  }
  std::string path;
  {
    sf::reset_default_graph();
    auto m = build();
    sf::Session s;
    s.run(sf::global_variables_initializer());
    for (int i = 0; i < kSteps; ++i) s.run(m.train_op, batch(m, i));
    path = sf::train::Saver().save(s, (dir_ / "model.ckpt").string(), kSteps);
  }
  sf::reset_default_graph();
  auto m = build();
  sf::Session s;
  sf::train::Saver().restore(s, sf::train::latest_checkpoint(dir_.string()));
  for (int i = kSteps; i < 2 * kSteps; ++i) s.run(m.train_op, batch(m, i));
  auto resumed = parameters(s);
  ASSERT_EQ(resumed.size(), straight.size());
  for (const auto& [name, values] : straight) {
    EXPECT_EQ(resumed[name], values) << name << " differs after resuming";
  }
  EXPECT_GE(straight.size(), 10u) << "weights, biases, Adam slots and beta powers";

  // Without the random counters (a checkpoint from before they were kept), the dropout masks
  // after resuming differ: the test above is not passing by accident.
  sf::reset_default_graph();
  auto m2 = build();
  sf::Session s2;
  sf::train::Saver().restore(s2, path);
  s2.set_random_counters({});
  std::map<std::string, std::uint64_t> zeros;
  for (const auto& [name, offset] : s2.random_counters()) zeros[name] = 0;
  for (const auto& op : sf::get_default_graph().operations())
    if (op.type() == "RandomUniform") zeros[op.name()] = 0;
  ASSERT_FALSE(zeros.empty());
  s2.set_random_counters(zeros);
  for (int i = kSteps; i < 2 * kSteps; ++i) s2.run(m2.train_op, batch(m2, i));
  EXPECT_NE(parameters(s2)["fc1/weights"], straight["fc1/weights"]);
}

// The helper program saves a growing checkpoint series until it is killed.
TEST_F(ResumeTest, KilledSavesLeaveTheLatestCheckpointLoadable) {
  for (int round = 0; round < 4; ++round) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::execl(SF_SAVE_LOOP_BIN, SF_SAVE_LOOP_BIN, dir_.c_str(), "262144", nullptr);
      ::_exit(127);
    }
    // Wait for the first complete checkpoint, then kill at a moment that varies per round.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (sf::train::latest_checkpoint(dir_.string()).empty() &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(7 + 23 * round));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the save loop exited by itself (status " << status << ")";

    const std::string latest = sf::train::latest_checkpoint(dir_.string());
    ASSERT_FALSE(latest.empty());
    sf::reset_default_graph();
    auto v = sf::get_variable("v", {262144}, {.initializer = sf::zeros_initializer()});
    sf::Session s;
    ASSERT_NO_THROW(sf::train::Saver().restore(s, latest)) << latest;
    auto values = s.run(v.value()).to_vector<float>();
    // Every element holds the step number of that checkpoint ("...-<step>.safetensors").
    const auto stem = fs::path(latest).stem().string();
    const float step = std::stof(stem.substr(stem.rfind('-') + 1));
    EXPECT_EQ(values.front(), step);
    EXPECT_EQ(values.back(), step);
  }
}

}  // namespace
