// Every block of API.md's "The seeds' examples, in ScopeFlow", compiled as written and
// checked against what its comment says.
#include <gtest/gtest.h>
#include <scopeflow/scopeflow.h>

#include <sstream>

namespace {

std::string q(const std::string& s) { return "\"" + s + "\""; }

class ApiBlocksTest : public ::testing::Test {
 protected:
  void SetUp() override { sf::reset_default_graph(); }
};

// my_image_filter from the seed article: two conv layers under conv1/ and conv2/.
sf::Output conv_relu(const sf::Output& input, const sf::Shape& kernel_shape,
                     const sf::Shape& bias_shape) {
  auto weights =
      sf::get_variable("weights", kernel_shape, {.initializer = sf::random_normal_initializer()});
  auto biases =
      sf::get_variable("biases", bias_shape, {.initializer = sf::constant_initializer(0.0f)});
  return input * weights +
         biases;  // stands in for relu(conv2d(...) + biases) until the kernels land
}
sf::Output my_image_filter(const sf::Output& input) {
  sf::Output relu1;
  {
    sf::variable_scope s("conv1");
    relu1 = conv_relu(input, {5, 5, 32, 32}, {32});
  }
  sf::variable_scope s("conv2");
  return conv_relu(relu1, {5, 5, 32, 32}, {32});
}

TEST_F(ApiBlocksTest, Block1_ReuseIsInheritedAndLostWhenTheBlockEnds) {
  std::ostringstream out;
  sf::get_variable_scope().reuse_variables();
  {
    sf::variable_scope vs("vs");
    out << q(sf::get_variable_scope().name()) << ' ' << sf::get_variable_scope().reuse();
  }
  EXPECT_EQ(out.str(), "\"vs\" 1");
}

TEST_F(ApiBlocksTest, Block2_ReopeningByObjectTakesItsReuse) {
  std::ostringstream out;
  sf::VariableScope kept;
  {
    sf::variable_scope vs1("vs1");
    sf::get_variable_scope().reuse_variables();
    {
      sf::variable_scope vs2("vs2");
      kept = vs2.get();
    }
  }
  {
    sf::variable_scope vs1("vs1");
    {
      sf::variable_scope vs2("vs2");
      out << sf::get_variable_scope().reuse();
      EXPECT_EQ(sf::get_variable_scope().name(), "vs1/vs2");
    }
  }
  {
    sf::variable_scope s(kept);
    out << ' ' << q(sf::get_variable_scope().name()) << ' ' << sf::get_variable_scope().reuse();
  }
  EXPECT_EQ(out.str(), "0 \"vs1/vs2\" 1");
}

TEST_F(ApiBlocksTest, Block3_VariableAlwaysCreates) {
  sf::Variable v1(sf::constant(1), {.name = "v"});
  sf::Variable v2(sf::constant(1), {.name = "v"});
  sf::get_variable_scope().reuse_variables();
  sf::Variable v3(sf::constant(1), {.name = "v"});
  EXPECT_EQ(v1.name(), "v:0");
  EXPECT_EQ(v2.name(), "v_1:0");
  EXPECT_EQ(v3.name(), "v_2:0");
}

TEST_F(ApiBlocksTest, Block4_GetVariableAfterVariableIsRenamedThenThrows) {
  sf::variable_scope vs("vs");
  sf::Variable v1(sf::constant(1), {.name = "v"});
  auto v2 = sf::get_variable("v", {});
  EXPECT_EQ(v1.name(), "vs/v:0");
  EXPECT_EQ(v2.name(), "vs/v_1:0");
  const int line = __LINE__ - 3;
  try {
    auto v3 = sf::get_variable("v", {});
    FAIL() << "no error";
  } catch (const sf::ValueError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("Variable vs/v already exists, disallowed. Did you mean to set reuse=true "
                        "or reuse=sf::AUTO_REUSE in variable_scope? Originally defined at: ",
                        0),
              0u)
        << msg;
    EXPECT_NE(msg.find(std::string("api_blocks_test.cc:") + std::to_string(line)),
              std::string::npos)
        << msg;
  }
}

TEST_F(ApiBlocksTest, Block5_ReuseFindsOnlyGetVariableVariables) {
  sf::Variable v, r;
  {
    sf::variable_scope vs("vs");
    v = sf::get_variable("v", {});
  }
  {
    sf::variable_scope vs("vs", {.reuse = true});
    r = sf::get_variable("v", {});
  }
  EXPECT_TRUE(r == v);
  EXPECT_EQ(r.name(), "vs/v:0");
  try {
    sf::variable_scope vs("vs1", {.reuse = true});
    sf::get_variable("v", {});
    FAIL();
  } catch (const sf::ValueError& e) {
    EXPECT_STREQ(e.what(),
                 "Variable vs1/v does not exist, or was not created with get_variable(). Did you "
                 "mean to set reuse=sf::AUTO_REUSE in variable_scope?");
  }
  EXPECT_EQ(sf::get_variable_scope().name(), "") << "scope stack not restored after the error";
}

TEST_F(ApiBlocksTest, Block6_NameScopePrefixesOpsAndVariablesNotGetVariable) {
  {
    sf::name_scope ns("ns");
    auto v1 = sf::get_variable("v", {});
    sf::Variable v2(sf::constant(1), {.name = "v"});
    EXPECT_EQ(v1.name(), "v:0");
    EXPECT_EQ(v2.name(), "ns/v:0");
    {
      sf::variable_scope vs("vs");
      auto v3 = sf::get_variable("v", {});
      sf::Variable v4(sf::constant(1), {.name = "v"});
      EXPECT_EQ(v3.name(), "vs/v:0");
      EXPECT_EQ(v4.name(), "ns/vs/v:0");
    }
  }
  {
    sf::variable_scope vs("vs");
    sf::name_scope ns("ns");
    sf::Variable v5(sf::constant(1), {.name = "v"});
    EXPECT_EQ(v5.name(), "vs/ns/v:0");
    EXPECT_THROW(sf::get_variable("v", {}), sf::ValueError);
  }
}

TEST_F(ApiBlocksTest, Block7_ScopeInitializersAreInheritedAndOverridden) {
  sf::Variable v, w, v2, v3;
  {
    sf::variable_scope foo("foo", {.initializer = sf::constant_initializer(0.4f)});
    v = sf::get_variable("v", {1});
    w = sf::get_variable("w", {1}, {.initializer = sf::constant_initializer(0.3f)});
    {
      sf::variable_scope bar("bar");
      v2 = sf::get_variable("v", {1});
    }
    {
      sf::variable_scope baz("baz", {.initializer = sf::constant_initializer(0.2f)});
      v3 = sf::get_variable("v", {1});
    }
  }
  sf::Session sess;
  sess.run(sf::global_variables_initializer());
  EXPECT_FLOAT_EQ(sess.run(v).scalar<float>(), 0.4f);
  EXPECT_FLOAT_EQ(sess.run(w).scalar<float>(), 0.3f);
  EXPECT_FLOAT_EQ(sess.run(v2).scalar<float>(), 0.4f);
  EXPECT_FLOAT_EQ(sess.run(v3).scalar<float>(), 0.2f);
}

TEST_F(ApiBlocksTest, Block8_OpsTakeTheScopeNameAndNameScopeAddsToOpsOnly) {
  {
    sf::variable_scope foo("foo");
    auto x = 1.0f + sf::get_variable("v", {1});
    EXPECT_EQ(x.op().name(), "foo/add");
    {
      sf::name_scope bar("bar");
      auto w = sf::get_variable("w", {1});
      auto y = 1.0f + w;
      EXPECT_EQ(y.op().name(), "foo/bar/add");
      EXPECT_EQ(w.name(), "foo/w:0");
    }
  }
}

TEST_F(ApiBlocksTest, Block9_SharingAWholeModelThreeWays) {
  const std::vector<std::string> expected{"model/conv1/weights:0", "model/conv1/biases:0",
                                          "model/conv2/weights:0", "model/conv2/biases:0"};
  auto names = [] {
    std::vector<std::string> n;
    for (const auto& v : sf::global_variables()) n.push_back(v.name());
    return n;
  };
  auto in1 = sf::placeholder(sf::float32, {5, 5, 32, 32});
  auto in2 = sf::placeholder(sf::float32, {5, 5, 32, 32});
  {
    sf::variable_scope s("model");
    auto out1 = my_image_filter(in1);
  }
  {
    sf::variable_scope s("model", {.reuse = true});
    auto out2 = my_image_filter(in2);
  }
  EXPECT_EQ(names(), expected);

  sf::reset_default_graph();
  in1 = sf::placeholder(sf::float32, {5, 5, 32, 32});
  in2 = sf::placeholder(sf::float32, {5, 5, 32, 32});
  {
    sf::variable_scope s("model");
    auto out1 = my_image_filter(in1);
    s->reuse_variables();
    auto out2 = my_image_filter(in2);
  }
  EXPECT_EQ(names(), expected);

  sf::reset_default_graph();
  in1 = sf::placeholder(sf::float32, {5, 5, 32, 32});
  in2 = sf::placeholder(sf::float32, {5, 5, 32, 32});
  sf::VariableScope model;
  {
    sf::variable_scope s("model");
    model = s.get();
    auto out1 = my_image_filter(in1);
  }
  {
    sf::variable_scope s(model, {.reuse = true});
    auto out2 = my_image_filter(in2);
  }
  EXPECT_EQ(names(), expected);
}

TEST_F(ApiBlocksTest, Block10_DevicesSoftPlacement) {
  sf::Variable v;
  {
    sf::device d("/device:GPU:1");
    v = sf::get_variable("v", {1});
  }
  EXPECT_EQ(v.device(), "/device:GPU:1");
  sf::Session sess;
  sess.run(sf::global_variables_initializer());
  const int gpus = sess.device_manager().num_gpus();
  if (gpus < 2) {
    EXPECT_EQ(sess.assigned_device(v.op()), "/job:localhost/replica:0/task:0/device:CPU:0");
  } else {
    EXPECT_EQ(sess.assigned_device(v.op()), "/job:localhost/replica:0/task:0/device:GPU:1");
  }
  EXPECT_EQ(sess.run(v).shape(), sf::Shape({1}));
}

}  // namespace
