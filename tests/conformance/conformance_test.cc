// CONFORMANCE.md section 2, case by case (numbers as there), translated with API.md's
// vocabulary. Each case starts on a fresh default graph. Golden texts from TensorFlow itself
// are checked in tf_golden_test.cc.
#include <gtest/gtest.h>
#include <scopeflow/scopeflow.h>

#include <cmath>

namespace {

class Conformance : public ::testing::Test {
 protected:
  void SetUp() override { sf::reset_default_graph(); }
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const sf::ValueError& e) {
    return e.what();
  }
  return "no ValueError";
}
std::string already(const std::string& n) {
  return "Variable " + n +
         " already exists, disallowed. Did you mean to set reuse=true or reuse=sf::AUTO_REUSE in "
         "variable_scope?";
}
std::string missing(const std::string& n) {
  return "Variable " + n +
         " does not exist, or was not created with get_variable(). Did you mean to set "
         "reuse=sf::AUTO_REUSE in variable_scope?";
}
bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

std::vector<std::string> names(const std::vector<sf::Variable>& vs) {
  std::vector<std::string> out;
  for (const auto& v : vs) out.push_back(v.name());
  return out;
}

float value_of(const sf::Variable& v) {
  sf::Session sess;
  sess.run(v.initializer());
  return sess.run(v).to_vector<float>()[0];
}

// ---------------------------------------------------------------- A. root scope, naming
TEST_F(Conformance, A1_RootScope) {
  auto& s = sf::get_variable_scope();
  EXPECT_EQ(s.name(), "");
  EXPECT_FALSE(s.reuse());
  EXPECT_EQ(s.original_name_scope(), "");
  EXPECT_TRUE(s.initializer().empty());
  EXPECT_EQ(s.dtype(), sf::float32);
}

TEST_F(Conformance, A2_A3_A11_RootNamesAndAlready) {
  auto v = sf::get_variable("v", {1});
  EXPECT_EQ(v.name(), "v:0");
  EXPECT_EQ(v.shape(), sf::Shape({1}));
  EXPECT_TRUE(starts_with(error_of([] { sf::get_variable("v", {1}); }), already("v")));
  EXPECT_EQ(sf::get_variable("a/b", {1}).name(), "a/b:0");
}

TEST_F(Conformance, A4_A5_A6_NestedNames) {
  {
    sf::variable_scope foo("foo");
    sf::variable_scope bar("bar");
    EXPECT_EQ(sf::get_variable("v", {1}).name(), "foo/bar/v:0");
  }
  {
    sf::variable_scope t("tower4");
    EXPECT_EQ(t->name(), "tower4");
    sf::name_scope sc("scope");
    EXPECT_EQ(sc.name(), "tower4/scope/");
  }
  {
    sf::variable_scope t("tower5");
    sf::variable_scope b("bar");
    EXPECT_EQ(b->name(), "tower5/bar");
    sf::name_scope sc("scope");
    EXPECT_EQ(sc.name(), "tower5/bar/scope/");
  }
}

TEST_F(Conformance, A7_A8_A9_A10_Reuse) {
  sf::Variable v;
  {
    sf::variable_scope foo("foo");
    v = sf::get_variable("v", {1});
  }
  {
    sf::variable_scope foo("foo", {.reuse = true});
    EXPECT_TRUE(sf::get_variable("v", {1}) == v);
  }
  sf::reset_default_graph();
  {
    sf::variable_scope s("foo");
    auto a = sf::get_variable("v", {1});
    s->reuse_variables();
    EXPECT_TRUE(sf::get_variable("v", {1}) == a);
  }
  sf::reset_default_graph();
  EXPECT_EQ(error_of([] {
              sf::variable_scope foo("foo", {.reuse = true});
              sf::get_variable("v", {1});
            }),
            missing("foo/v"));
  EXPECT_TRUE(starts_with(error_of([] {
                            sf::variable_scope foo("foo");
                            sf::get_variable("v", {1});
                            sf::get_variable("v", {1});
                          }),
                          already("foo/v")));
}

// ---------------------------------------------------------------- B. reuse
TEST_F(Conformance, B12_RootReuseVariables) {
  sf::get_variable_scope().reuse_variables();
  {
    sf::variable_scope f("foo");
    EXPECT_TRUE(f->reuse());
    EXPECT_EQ(error_of([] { sf::get_variable("v", {1}); }), missing("foo/v"));
  }
  EXPECT_EQ(error_of([] { sf::get_variable("x", {1}); }), missing("x"));
}

TEST_F(Conformance, B13_B14_ReuseLostOnExitKeptByObject) {
  sf::VariableScope s;
  {
    sf::variable_scope b("foo");
    s = b.get();
    s.reuse_variables();
    EXPECT_TRUE(sf::get_variable_scope().reuse());
  }
  EXPECT_FALSE(sf::get_variable_scope().reuse());
  {
    sf::variable_scope b2("foo");
    EXPECT_FALSE(b2->reuse());
    EXPECT_FALSE(b2.get() == s);
  }
  {
    sf::variable_scope b3(s);
    EXPECT_TRUE(b3->reuse());
  }
}

TEST_F(Conformance, B16_ReuseFalseInsideReusingScopeIsIgnored) {
  sf::variable_scope a("a", {.reuse = true});
  sf::variable_scope b("b", {.reuse = false});
  EXPECT_TRUE(b->reuse());
}

TEST_F(Conformance, B19_B20_BadReuse) {
  EXPECT_EQ(error_of([] { sf::variable_scope a("a", {.reuse = 1}); }),
            "The reuse parameter must be True or False or None.");
  EXPECT_EQ(error_of([] { sf::variable_scope a("", {.reuse = true, .default_name = "default"}); }),
            "reuse=true cannot be used without a name_or_scope");
  EXPECT_EQ(sf::get_name_scope(), "");
  EXPECT_EQ(sf::get_variable_scope().name(), "");
}

TEST_F(Conformance, B22_AutoReuse) {
  auto foo = [] {
    sf::variable_scope s("foo", {.reuse = sf::AUTO_REUSE});
    return sf::get_variable("v", {1});
  };
  auto a = foo();
  EXPECT_TRUE(foo() == a);
  EXPECT_EQ(a.name(), "foo/v:0");
  sf::variable_scope s("bar", {.reuse = sf::AUTO_REUSE});
  EXPECT_TRUE(sf::get_variable("v", {1}) == sf::get_variable("v", {1}));
  EXPECT_TRUE(s->reuse());
  EXPECT_EQ(s->reuse_mode(), sf::ReuseMode::kAuto);
}

TEST_F(Conformance, B25_ReuseIgnoresOtherArgs) {
  auto v = sf::get_variable("v", {1});
  sf::get_variable_scope().reuse_variables();
  auto w = sf::get_variable("v", {1}, {.initializer = sf::ones_initializer(), .trainable = false});
  EXPECT_TRUE(w == v);
  EXPECT_EQ(names(sf::trainable_variables()), std::vector<std::string>{"v:0"});
  EXPECT_EQ(sf::global_variables().size(), 1u);
}

TEST_F(Conformance, B26_B27_B28_B29_VariableVersusGetVariable) {
  {
    sf::variable_scope s("vs");
    sf::Variable a(1.0f, {.name = "v"});
    s->reuse_variables();
    sf::Variable b(1.0f, {.name = "v"});
    sf::Variable c(1.0f, {.name = "v"});
    EXPECT_EQ(a.name(), "vs/v:0");
    EXPECT_EQ(b.name(), "vs/v_1:0");
    EXPECT_EQ(c.name(), "vs/v_2:0");
  }
  sf::reset_default_graph();
  {
    sf::variable_scope s("vs");
    sf::Variable a(1.0f, {.name = "v"});
  }
  EXPECT_EQ(error_of([] {
              sf::variable_scope s("vs", {.reuse = true});
              sf::get_variable("v", {});
            }),
            missing("vs/v"));
  sf::reset_default_graph();
  {
    sf::variable_scope s("vs");
    sf::Variable a(1.0f, {.name = "v"});
    auto b = sf::get_variable("v", {1});
    EXPECT_EQ(a.name(), "vs/v:0");
    EXPECT_EQ(b.name(), "vs/v_1:0");
    EXPECT_TRUE(starts_with(error_of([] { sf::get_variable("v", {1}); }), already("vs/v")));
  }
  sf::reset_default_graph();
  {
    sf::variable_scope s("vs");
    auto b = sf::get_variable("v", {1});
    sf::Variable a(1.0f, {.name = "v"});
    EXPECT_EQ(b.name(), "vs/v:0");
    EXPECT_EQ(a.name(), "vs/v_1:0");
  }
}

// ---------------------------------------------------------------- C. name_scope vs variable_scope
TEST_F(Conformance, C31_C32_C33_C34) {
  {
    sf::name_scope ns("ns");
    EXPECT_EQ(sf::get_variable("v", {1}).name(), "v:0");
    EXPECT_EQ(sf::Variable(1.0f, {.name = "w"}).name(), "ns/w:0");
    EXPECT_EQ(sf::get_variable_scope().name(), "");
  }
  sf::reset_default_graph();
  {
    sf::variable_scope vs("vs");
    sf::name_scope ns("ns");
    EXPECT_EQ(sf::Variable(1.0f, {.name = "v"}).name(), "vs/ns/v:0");
    EXPECT_EQ(sf::get_variable("v", {1}).name(), "vs/v:0");
  }
  sf::reset_default_graph();
  {
    sf::name_scope ns("ns");
    sf::variable_scope s("vs");
    EXPECT_EQ(sf::Variable(1.0f, {.name = "v"}).name(), "ns/vs/v:0");
    EXPECT_EQ(sf::get_variable("v", {1}).name(), "vs/v:0");
    EXPECT_EQ(s->name(), "vs");
    EXPECT_EQ(s->original_name_scope(), "ns/vs/");
  }
  sf::reset_default_graph();
  {
    sf::variable_scope foo("foo");
    sf::name_scope bar("bar");
    auto v = sf::get_variable("v", {1});
    auto x = 1.0f + v;
    EXPECT_EQ(v.name(), "foo/v:0");
    EXPECT_EQ(x.op().name(), "foo/bar/add");
  }
}

TEST_F(Conformance, C35_SameStringTwice) {
  sf::Output x, y;
  {
    sf::variable_scope foo("foo");
    x = 1.0f + sf::get_variable("v", {1});
  }
  {
    sf::variable_scope foo("foo", {.reuse = true});
    y = 1.0f + sf::get_variable("v", {1});
  }
  EXPECT_EQ(x.op().name(), "foo/add");
  EXPECT_EQ(y.op().name(), "foo_1/add");
  EXPECT_EQ(x.op().inputs()[1].op().name(), "foo/v/read");
  EXPECT_EQ(y.op().inputs()[1].op().name(), "foo/v/read");
}

TEST_F(Conformance, C38_OriginalNameScope) {
  sf::VariableScope tower;
  {
    sf::name_scope s1("scope1");
    sf::variable_scope t("tower");
    tower = t.get();
    EXPECT_EQ(tower.original_name_scope(), "scope1/tower/");
  }
  {
    sf::name_scope s2("scope2");
    sf::variable_scope t1(tower);
    EXPECT_EQ(t1->original_name_scope(), "scope1/tower/");
    sf::name_scope foo("foo");
    EXPECT_EQ(foo.name(), "scope2/tower/foo/");
  }
  {
    sf::name_scope o(tower.original_name_scope());
    sf::name_scope bar("bar");
    EXPECT_EQ(bar.name(), "scope1/tower/bar/");
  }
  {
    sf::name_scope o(tower.original_name_scope());
    sf::name_scope bar("bar");
    EXPECT_EQ(bar.name(), "scope1/tower/bar_1/");
  }
}

TEST_F(Conformance, C39_CrossNameScopeCollision) {
  {
    sf::name_scope ns("ns");
    sf::variable_scope vs("vs");
    sf::get_variable("v", {1});
  }
  EXPECT_TRUE(starts_with(error_of([] {
                            sf::variable_scope vs("vs");
                            sf::get_variable("v", {1});
                          }),
                          already("vs/v")));
}

TEST_F(Conformance, C41_JumpFromElsewhere) {
  sf::VariableScope tower4;
  {
    sf::variable_scope t("tower4");
    tower4 = t.get();
  }
  sf::variable_scope t6("tower6");
  sf::variable_scope ts(tower4, {.reuse = true});
  EXPECT_EQ(ts->name(), "tower4");
  sf::name_scope sc("scope");
  EXPECT_EQ(sc.name(), "tower6/tower4/scope/");
}

TEST_F(Conformance, C44_AuxiliaryNameScopeFalse) {
  sf::VariableScope scope;
  {
    sf::variable_scope s("scope", {.auxiliary_name_scope = false});
    scope = s.get();
    EXPECT_EQ(s->original_name_scope(), "");
    EXPECT_EQ(sf::get_variable("w", {}).name(), "scope/w:0");
    EXPECT_EQ(sf::constant(std::vector<float>{}, {0}, "c").name(), "c:0");
  }
  {
    sf::variable_scope s(scope, {.auxiliary_name_scope = false});
    EXPECT_EQ(s->original_name_scope(), "");
    EXPECT_EQ(sf::get_variable("w1", {}).name(), "scope/w1:0");
    EXPECT_EQ(sf::constant(std::vector<float>{}, {0}, "c1").name(), "c1:0");
  }
  {
    sf::name_scope ns("scope");
    EXPECT_EQ(sf::constant(std::vector<float>{}, {0}, "c").name(), "scope/c:0");
  }
  {
    sf::variable_scope outer("outer");
    {
      sf::variable_scope inner("inner", {.auxiliary_name_scope = false});
      EXPECT_EQ(inner->original_name_scope(), "outer/");
      EXPECT_EQ(sf::get_variable("w", {}).name(), "outer/inner/w:0");
      EXPECT_EQ(sf::constant(std::vector<float>{}, {0}, "c").name(), "outer/c:0");
    }
    sf::name_scope ns("inner");
    EXPECT_EQ(sf::constant(std::vector<float>{}, {0}, "c").name(), "outer/inner/c:0");
  }
}

TEST_F(Conformance, C45_C46_AuxFalseWithDefaultNameAndRoot) {
  {
    sf::variable_scope s("", {.default_name = "default", .auxiliary_name_scope = false});
    EXPECT_EQ(sf::get_variable("w", {}).name(), "default/w:0");
    EXPECT_EQ(sf::constant(std::vector<float>{}, {0}, "c").name(), "c:0");
    EXPECT_EQ(s->original_name_scope(), "");
  }
  sf::reset_default_graph();
  sf::VariableScope root = sf::get_variable_scope();
  {
    sf::variable_scope s(root, {.auxiliary_name_scope = false});
    EXPECT_EQ(sf::get_variable("w", {}).name(), "w:0");
    EXPECT_EQ(sf::constant(std::vector<float>{}, {0}, "c").name(), "c:0");
  }
  {
    sf::variable_scope outer("outer");
    sf::variable_scope s(root, {.auxiliary_name_scope = false});
    EXPECT_EQ(sf::get_variable("w1", {}).name(), "w1:0");
    EXPECT_EQ(sf::constant(std::vector<float>{}, {0}, "c1").name(), "outer/c1:0");
  }
}

TEST_F(Conformance, C47_ReuseScopeWithoutNameScopeCollision) {
  sf::VariableScope inner;
  {
    sf::variable_scope o("outer");
    sf::variable_scope i("inner");
    inner = i.get();
  }
  {
    sf::variable_scope s(inner, {.auxiliary_name_scope = false});
    sf::name_scope ns(s->original_name_scope());
    EXPECT_EQ(sf::get_variable("w", {}).name(), "outer/inner/w:0");
    EXPECT_EQ(sf::constant(std::vector<float>{}, {0}, "c").name(), "outer/inner/c:0");
    sf::name_scope n2("inner");
    EXPECT_EQ(sf::constant(std::vector<float>{}, {0}, "c").name(), "outer/inner/inner/c:0");
  }
  {
    sf::name_scope n3("inner");
    EXPECT_EQ(sf::constant(std::vector<float>{}, {0}, "c").name(), "inner/c:0");
  }
  {
    sf::variable_scope another("another");
    {
      sf::variable_scope s(inner, {.auxiliary_name_scope = false});
      sf::name_scope ns(s->original_name_scope());
      EXPECT_EQ(sf::get_variable("w1", {}).name(), "outer/inner/w1:0");
      EXPECT_EQ(sf::constant(std::vector<float>{}, {0}, "c1").name(), "outer/inner/c1:0");
    }
    sf::name_scope n("inner");
    EXPECT_EQ(sf::constant(std::vector<float>{}, {0}, "c").name(), "another/inner/c:0");
  }
}

TEST_F(Conformance, C48_CustomGetterCalledWithRootNameScope) {
  // The getter makes two variables; ScopeFlow getters return Variables, so it returns the
  // first and records the sum it builds under the root name scope.
  sf::Output sum;
  sf::CustomGetter getter = [&](const sf::Getter& next, const std::string& name,
                                const sf::Shape& shape, const sf::GetVariableOptions& o) {
    auto g0 = next(name + "/0", shape, o);
    auto g1 = next(name + "/1", shape, o);
    sf::name_scope ns("custom_getter");
    sum = g0 + g1;
    return g0;
  };
  sf::variable_scope s("scope", {.custom_getter = getter});
  sf::get_variable("v", {1, 2, 3});
  EXPECT_EQ(names(sf::trainable_variables()),
            (std::vector<std::string>{"scope/v/0:0", "scope/v/1:0"}));
  EXPECT_EQ(sum.name(), "custom_getter/add:0");
}

TEST_F(Conformance, C49_CustomGetterSeesReuse) {
  std::vector<bool> seen;
  sf::CustomGetter getter = [&](const sf::Getter& next, const std::string& name,
                                const sf::Shape& shape, const sf::GetVariableOptions& o) {
    seen.push_back(o.reuse.value_or(sf::ReuseMode::kFalse) != sf::ReuseMode::kFalse);
    return next(name, shape, o);
  };
  sf::VariableScope scope;
  {
    sf::variable_scope s("scope", {.custom_getter = getter});
    scope = s.get();
    sf::get_variable("v", {1});
  }
  {
    sf::variable_scope s(scope, {.reuse = true});
    sf::get_variable("v", {1});
  }
  EXPECT_EQ(seen, (std::vector<bool>{false, true}));
}

TEST_F(Conformance, CustomGettersChainInnermostFirst) {
  std::vector<std::string> calls;
  auto make = [&](std::string tag) {
    return sf::CustomGetter([&calls, tag](const sf::Getter& next, const std::string& name,
                                          const sf::Shape& shape, const sf::GetVariableOptions& o) {
      calls.push_back(tag);
      return next(name, shape, o);
    });
  };
  sf::variable_scope outer("outer", {.custom_getter = make("outer")});
  sf::variable_scope inner("inner", {.custom_getter = make("inner")});
  sf::get_variable("v", {1});
  EXPECT_EQ(calls, (std::vector<std::string>{"inner", "outer"}));
}

// ---------------------------------------------------------------- D. default_name
TEST_F(Conformance, D50_VarOpScope) {
  {
    sf::name_scope t1("T1");
    {
      sf::variable_scope s("tower", {.default_name = "default"});
      EXPECT_EQ(sf::get_variable("w", {}).name(), "tower/w:0");
      sf::name_scope t2("T2");
      EXPECT_EQ(t2.name(), "T1/tower/T2/");
    }
    {
      sf::variable_scope s("tower", {.default_name = "default"});
      EXPECT_THROW(sf::get_variable("w", {}), sf::ValueError);
      sf::name_scope t2("T2");
      EXPECT_EQ(t2.name(), "T1/tower_1/T2/");
    }
  }
  {
    sf::name_scope t2("T2");
    {
      sf::variable_scope s("", {.default_name = "default"});
      EXPECT_EQ(sf::get_variable("w", {}).name(), "default/w:0");
      sf::name_scope t("T2");
      EXPECT_EQ(t.name(), "T2/default/T2/");
    }
    {
      sf::variable_scope s("", {.default_name = "default"});
      EXPECT_EQ(sf::get_variable("w", {}).name(), "default_1/w:0");
      sf::name_scope t("T2");
      EXPECT_EQ(t.name(), "T2/default_1/T2/");
    }
  }
}

TEST_F(Conformance, D51_InterleavedSubstringScopes) {
  std::vector<std::string> got;
  for (const char* d : {"defaultScope1", "defaultScope1", "defaultScope", "defaultScope1"}) {
    sf::variable_scope s("", {.default_name = d});
    sf::variable_scope l("", {.default_name = "layer"});
    got.push_back(sf::get_variable("w", {}).name());
  }
  EXPECT_EQ(got, (std::vector<std::string>{"defaultScope1/layer/w:0", "defaultScope1_1/layer/w:0",
                                           "defaultScope/layer/w:0", "defaultScope1_2/layer/w:0"}));
}

TEST_F(Conformance, D53_CounterResetOnReentryByObject) {
  sf::VariableScope vs;
  {
    sf::variable_scope foo("foo");
    vs = foo.get();
    {
      sf::variable_scope b("", {.default_name = "bar"});
      EXPECT_EQ(sf::get_variable("a", {}).name(), "foo/bar/a:0");
    }
    {
      sf::variable_scope b("", {.default_name = "bar"});
      EXPECT_EQ(sf::get_variable("b", {}).name(), "foo/bar_1/b:0");
    }
  }
  {
    sf::variable_scope foo(vs);
    sf::variable_scope b("", {.default_name = "bar"});
    EXPECT_EQ(sf::get_variable("c", {}).name(), "foo/bar/c:0");
  }
}

TEST_F(Conformance, D57_NeitherNameNorDefault) {
  EXPECT_EQ(error_of([] { sf::variable_scope s(""); }),
            "If default_name is empty then name_or_scope is required");
}

TEST_F(Conformance, D58_VarOpScopeReuse) {
  sf::VariableScope outer;
  {
    sf::variable_scope o("outer");
    outer = o.get();
    {
      sf::variable_scope s("tower", {.default_name = "default"});
      EXPECT_EQ(sf::get_variable("w", {}).name(), "outer/tower/w:0");
      sf::name_scope sc("scope2");
      EXPECT_EQ(sc.name(), "outer/tower/scope2/");
    }
    {
      sf::variable_scope s("", {.default_name = "default"});
      EXPECT_EQ(sf::get_variable("w", {}).name(), "outer/default/w:0");
      sf::name_scope sc("scope2");
      EXPECT_EQ(sc.name(), "outer/default/scope2/");
    }
  }
  {
    sf::variable_scope o(outer, {.reuse = true});
    {
      sf::variable_scope s("tower", {.default_name = "default"});
      EXPECT_EQ(sf::get_variable("w", {}).name(), "outer/tower/w:0");
      sf::name_scope sc("scope2");
      EXPECT_EQ(sc.name(), "outer_1/tower/scope2/");
    }
    {
      sf::variable_scope s("", {.default_name = "default"});
      EXPECT_EQ(sf::get_variable("w", {}).name(), "outer/default/w:0");
      sf::name_scope sc("scope2");
      EXPECT_EQ(sc.name(), "outer_1/default/scope2/");
    }
  }
}

// ---------------------------------------------------------------- E. initializers and dtype
TEST_F(Conformance, E59_E61_ScopeInitializer) {
  auto init = sf::constant_initializer(0.3f);
  sf::VariableScope tower;
  sf::Variable v, w;
  {
    sf::variable_scope t("tower0");
    tower = t.get();
    sf::variable_scope foo("foo", {.initializer = init});
    v = sf::get_variable("v", {});
  }
  {
    sf::variable_scope t(tower, {.initializer = init});
    w = sf::get_variable("w", {});
  }
  EXPECT_FLOAT_EQ(value_of(v), 0.3f);
  EXPECT_FLOAT_EQ(value_of(w), 0.3f);
  sf::Variable b;
  {
    sf::variable_scope bar("bar");
    EXPECT_TRUE(sf::get_variable_scope().initializer().empty());
    sf::get_variable_scope().set_initializer(init);
    b = sf::get_variable("v", {1});
    sf::get_variable_scope().reuse_variables();
    EXPECT_THROW(sf::get_variable("w", {1}), sf::ValueError);
  }
  EXPECT_TRUE(sf::get_variable_scope().initializer().empty());
  EXPECT_FLOAT_EQ(value_of(b), 0.3f);
}

TEST_F(Conformance, E62_DefaultFloatInitializerIsGlorotUniform) {
  auto v = sf::get_variable("v", {2, 3});
  EXPECT_EQ(v.initial_value().op().name(), "v/Initializer/random_uniform");
  sf::Session sess;
  sess.run(v.initializer());
  const float limit = std::sqrt(6.0f / (2 + 3));
  for (float x : sess.run(v).to_vector<float>()) {
    EXPECT_GE(x, -limit);
    EXPECT_LE(x, limit);
  }
}

TEST_F(Conformance, E63_DefaultIntBoolStringInitializersAreZeros) {
  auto i = sf::get_variable("i", {2}, {.dtype = sf::int32});
  EXPECT_EQ(i.initial_value().op().name(), "i/Initializer/zeros");
  auto b = sf::get_variable("b", {2}, {.dtype = sf::bool_});
  auto s = sf::get_variable("string", {}, {.dtype = sf::string});
  sf::Session sess;
  sess.run(sf::global_variables_initializer());
  EXPECT_EQ(sess.run(i).to_vector<std::int32_t>(), (std::vector<std::int32_t>{0, 0}));
  EXPECT_EQ(sess.run(b).to_vector<bool>(), (std::vector<bool>{false, false}));
  EXPECT_EQ(sess.run(s).to_strings(), std::vector<std::string>{""});
}

TEST_F(Conformance, E64_ComplexNeedsAnInitializer) {
  EXPECT_EQ(error_of([] { sf::get_variable("c", {1}, {.dtype = sf::complex64}); }),
            "An initializer for variable c of complex64 is required");
}

TEST_F(Conformance, E65_InitializeFromValue) {
  auto init = sf::constant(0.1f);
  auto v = sf::get_variable("v", {.initializer = init});
  EXPECT_EQ(v.shape(), sf::Shape{});
  EXPECT_FLOAT_EQ(value_of(v), 0.1f);
  EXPECT_EQ(error_of([&] { sf::get_variable("u", {1}, {.initializer = init}); }),
            "If initializer is a constant, do not specify shape.");
  {
    sf::variable_scope foo("foo", {.initializer = init});
    EXPECT_FLOAT_EQ(value_of(sf::get_variable("v")), 0.1f);
  }
  EXPECT_EQ(sf::get_variable("t", {.initializer = sf::constant(1)}).dtype(), sf::int32);
  EXPECT_EQ(error_of([] {
              sf::get_variable("s", {.dtype = sf::float64, .initializer = sf::constant(1)});
            }),
            "Initializer type 'int32' and explicit dtype 'float64' don't match.");
}

TEST_F(Conformance, E66_InitFromNonTensorValue) {
  auto v4 = sf::get_variable("v4", {.dtype = sf::int32, .initializer = 4});
  auto t = sf::get_variable(
      "x", {.dtype = sf::int64, .initializer = sf::Tensor::from_vector<std::int64_t>({1, 2, 3})});
  sf::Session sess;
  sess.run(sf::global_variables_initializer());
  EXPECT_EQ(sess.run(v4).scalar<std::int32_t>(), 4);
  EXPECT_EQ(sess.run(t).to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, 2, 3}));
}

TEST_F(Conformance, E67_ScopeDType) {
  {
    sf::variable_scope foo("foo", {.dtype = sf::float16});
    EXPECT_EQ(sf::get_variable("v", {}, {.initializer = sf::zeros_initializer()}).dtype(),
              sf::float16);
  }
  sf::VariableScope tower;
  {
    sf::variable_scope t("tower");
    tower = t.get();
  }
  sf::variable_scope t(tower, {.dtype = sf::float16});
  EXPECT_EQ(sf::get_variable("w", {}, {.initializer = sf::zeros_initializer()}).dtype(),
            sf::float16);
}

TEST_F(Conformance, E68_NoShapeNoValue) {
  EXPECT_EQ(error_of([] { sf::get_variable("u"); }),
            "Shape of a new variable (u) must be fully defined, but instead was <unknown>.");
}

// ---------------------------------------------------------------- F. shape/dtype on reuse
TEST_F(Conformance, F70_F72_ShapeAndDTypeChecks) {
  {
    sf::variable_scope vs("vs");
    sf::get_variable("v", {1});
  }
  EXPECT_EQ(error_of([] {
              sf::variable_scope vs("vs", {.reuse = true});
              sf::get_variable("v", {2});
            }),
            "Trying to share variable vs/v, but specified shape [2] and found shape [1].");
  EXPECT_EQ(error_of([] {
              sf::variable_scope vs("vs", {.reuse = true});
              sf::get_variable("v", {1}, {.dtype = sf::int32});
            }),
            "Trying to share variable vs/v, but specified dtype int32 and found dtype float32.");
  sf::variable_scope vs("vs", {.reuse = true});
  EXPECT_EQ(sf::get_variable("v").name(), "vs/v:0");
  EXPECT_EQ(sf::get_variable("v", sf::Shape({-1})).name(), "vs/v:0");
  EXPECT_EQ(sf::get_variable("v", sf::Shape::unknown()).name(), "vs/v:0");
}

// ---------------------------------------------------------------- G. trainable / collections
TEST_F(Conformance, G74_G75_TrainableAndCollections) {
  auto v = sf::get_variable("v", {1}, {.trainable = false});
  EXPECT_EQ(names(sf::global_variables()), std::vector<std::string>{"v:0"});
  EXPECT_TRUE(sf::trainable_variables().empty());
  auto m = sf::get_variable("m", {1}, {.collections = {{"my"}}});
  EXPECT_EQ(names(sf::get_collection<sf::Variable>("my")), std::vector<std::string>{"m:0"});
  EXPECT_EQ(names(sf::trainable_variables()), std::vector<std::string>{"m:0"});
  EXPECT_EQ(names(sf::global_variables()), std::vector<std::string>{"v:0"});
}

TEST_F(Conformance, G76_GetLocalVariable) {
  sf::VariableScope outer;
  {
    sf::variable_scope o("outer");
    outer = o.get();
    sf::variable_scope s(outer, {.default_name = "default"});
    auto lv = sf::get_local_variable("w", {}, {.collections = {{"foo"}}});
    EXPECT_EQ(lv.name(), "outer/w:0");
    EXPECT_FALSE(lv.trainable());
  }
  EXPECT_EQ(names(sf::local_variables()), std::vector<std::string>{"outer/w:0"});
  EXPECT_EQ(names(sf::get_collection<sf::Variable>("foo")), std::vector<std::string>{"outer/w:0"});
  EXPECT_TRUE(sf::trainable_variables().empty());
  sf::variable_scope o(outer, {.reuse = true});
  EXPECT_EQ(sf::get_local_variable("w", {}).name(), "outer/w:0");
}

TEST_F(Conformance, G80_ScopeLocalVariablesAndRegexFilter) {
  sf::get_variable("a", {}, {.collections = {{sf::GraphKeys::LOCAL_VARIABLES}}});
  sf::variable_scope foo("foo");
  sf::get_variable("b", {}, {.collections = {{sf::GraphKeys::LOCAL_VARIABLES}}});
  sf::get_variable("c", {});
  EXPECT_EQ(names(foo->local_variables()), std::vector<std::string>{"foo/b:0"});
  EXPECT_EQ(names(foo->global_variables()), std::vector<std::string>{"foo/c:0"});
  EXPECT_EQ(names(sf::local_variables("f.o")), std::vector<std::string>{"foo/b:0"});
  EXPECT_EQ(names(sf::local_variables("oo")), std::vector<std::string>{});
}

// ---------------------------------------------------------------- H. op-name uniquing
TEST_F(Conformance, H81_H84_H85_H86_H87_Names) {
  EXPECT_EQ(sf::Variable(1.0f).name(), "Variable:0");
  EXPECT_EQ(sf::Variable(1.0f).name(), "Variable_1:0");
  EXPECT_EQ(sf::Variable(1.0f, {.name = "v"}).name(), "v:0");
  EXPECT_EQ(sf::Variable(1.0f, {.name = "V"}).name(), "V_1:0");
  {
    sf::name_scope a("a");
    sf::name_scope none("");
    EXPECT_EQ(sf::constant(1, "c").name(), "c:0");
  }
  EXPECT_EQ(error_of([] { sf::name_scope x("_x"); }), "'_x' is not a valid scope name");
  {
    sf::name_scope a("a2");
    sf::name_scope x("_x");
    EXPECT_EQ(x.name(), "a2/_x/");
  }
  EXPECT_EQ(error_of([] { sf::Variable(1.0f, {.name = "_v"}); }), "'_v' is not a valid scope name");
  EXPECT_EQ(error_of([] { sf::get_variable("_v", {1}); }), "'_v' is not a valid scope name");
  {
    sf::variable_scope vs("vs");
    EXPECT_EQ(sf::get_variable("_v", {1}).name(), "vs/_v:0");
  }
  EXPECT_EQ(error_of([] { sf::variable_scope u("_"); }), "'_' is not a valid scope name");
  // '>' is in TF 2's regexes (tf.compat.v1, where the golden cases come from), not first.
  {
    sf::name_scope gt("a>b");
    EXPECT_EQ(gt.name(), "a>b/");
    EXPECT_EQ(sf::constant(1, "c>d").name(), "a>b/c>d:0");
  }
  EXPECT_EQ(error_of([] { sf::name_scope x(">x"); }), "'>x' is not a valid scope name");
  EXPECT_EQ(sf::get_name_scope(), "");
}

TEST_F(Conformance, OpsAndScopesShareOneNameTable) {
  EXPECT_EQ(sf::constant(1, "foo").name(), "foo:0");
  sf::name_scope s("foo");
  EXPECT_EQ(s.name(), "foo_1/");
}

// ---------------------------------------------------------------- devices (section 3)
TEST_F(Conformance, M10_VariableDeviceAndInitialValueDevice) {
  sf::device d("/job:ps/task:0");
  auto v = sf::get_variable("v", {1});
  EXPECT_EQ(v.device(), "/job:ps/task:0");
  EXPECT_EQ(v.initial_value().device(), "");
  EXPECT_EQ(v.value().device(), "/job:ps/task:0");
  sf::Variable w(1.0f);
  EXPECT_EQ(w.initial_value().device(), "/job:ps/task:0");
}

TEST_F(Conformance, M11_DeviceFunctionSeesVariableOps) {
  std::vector<std::pair<std::string, sf::DType>> seen;
  sf::device d([&](const sf::NodeDef& n) {
    if (n.op == "VariableV2") seen.emplace_back(n.name, sf::DType::kInvalid);
    return std::string("/cpu:0");
  });
  auto x = sf::get_variable("x", {1});
  auto y = sf::get_variable("y", {1}, {.dtype = sf::int64});
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].first, "x");
  EXPECT_EQ(seen[1].first, "y");
  EXPECT_EQ(x.device(), "/cpu:0");
  EXPECT_EQ(y.dtype(), sf::int64);
}

TEST_F(Conformance, M_MergeThroughDeviceScopes) {
  {
    sf::device a("/job:ps");
    sf::device b("/gpu:1");
    EXPECT_EQ(sf::constant(1).device(), "/job:ps/device:GPU:1");
  }
  {
    sf::device a("/device:GPU:0");
    sf::device b("/job:worker");
    sf::device c("/device:CPU:0");
    sf::device e("/job:ps");
    EXPECT_EQ(sf::constant(1).device(), "/job:ps/device:CPU:0");
  }
  {
    sf::device a("/gpu:1");
    sf::device b(nullptr);
    EXPECT_EQ(sf::constant(1).device(), "");
  }
  {
    sf::device a("/job:ps");
    sf::device b(nullptr);
    sf::device c("/cpu:0");
    EXPECT_EQ(sf::constant(1).device(), "/device:CPU:0");
  }
  {
    sf::device a("/gpu:1");
    sf::device b("");
    EXPECT_EQ(sf::constant(1).device(), "/device:GPU:1");
  }
  {
    sf::device f([](const sf::NodeDef&) { return std::string("/gpu:0"); });
    EXPECT_EQ(sf::constant(1).device(), "/gpu:0");
  }
  {
    sf::device a("/job:ps");
    sf::device f([](const sf::NodeDef&) { return std::string("/gpu:0"); });
    EXPECT_EQ(sf::constant(1).device(), "/job:ps/device:GPU:0");
  }
}

TEST_F(Conformance, M12_BadDeviceStringFailsAtScopeEntry) {
  const int before = sf::get_default_graph().num_nodes();
  EXPECT_EQ(error_of([] { sf::device d("/foo:0"); }), "Unknown attribute: 'foo' in '/foo:0'");
  EXPECT_EQ(sf::get_default_graph().num_nodes(), before);
  EXPECT_EQ(sf::constant(1).device(), "") << "device stack not restored";
}

// ---------------------------------------------------------------- sessions
TEST_F(Conformance, UninitializedReadIsFailedPreconditionNamingTheVariable) {
  sf::Variable v;
  {
    sf::variable_scope vs("vs");
    v = sf::get_variable("v", {1});
  }
  sf::Session sess;
  try {
    sess.run(v);
    FAIL();
  } catch (const sf::FailedPreconditionError& e) {
    EXPECT_TRUE(starts_with(e.what(), "Attempting to use uninitialized value vs/v")) << e.what();
  }
  auto report = sf::report_uninitialized_variables();
  EXPECT_EQ(sess.run(report).to_strings(), std::vector<std::string>{"vs/v"});
  sess.run(sf::global_variables_initializer());
  EXPECT_TRUE(sess.run(report).to_strings().empty());
  EXPECT_EQ(sess.run(v).shape(), sf::Shape({1}));
}

TEST_F(Conformance, AssignAddSubAndFeeds) {
  auto v = sf::get_variable("v", {2}, {.initializer = sf::constant_initializer(1.0f)});
  auto x = sf::placeholder(sf::float32, {2}, "x");
  auto add = v.assign_add(x);
  auto sub = v.assign_sub(x);
  sf::Session sess;
  sess.run(v.initializer());
  sess.run(add, {{x, sf::Tensor::from_vector<float>({1, 2})}});
  EXPECT_EQ(sess.run(v).to_vector<float>(), (std::vector<float>{2, 3}));
  sess.run(sub, {{x, sf::Tensor::from_vector<float>({0.5f, 0.5f})}});
  EXPECT_EQ(sess.run(v).to_vector<float>(), (std::vector<float>{1.5f, 2.5f}));
  EXPECT_THROW(sess.run(add), sf::InvalidArgumentError);
  EXPECT_THROW(sess.run(add, {{x, sf::Tensor::from_vector<float>({1, 2, 3})}}),
               sf::InvalidArgumentError);
  EXPECT_THROW(sess.run(add, {{x, sf::Tensor::from_vector<std::int32_t>({1, 2})}}),
               sf::InvalidArgumentError);
  EXPECT_EQ(sess.run(v).to_vector<float>(), (std::vector<float>{1.5f, 2.5f})) << "session unusable";
  EXPECT_EQ(sess.run(v.assign(sf::constant(std::vector<float>{7, 8}, {2}))).to_vector<float>(),
            (std::vector<float>{7, 8}));
}

TEST_F(Conformance, NoSoftPlacementIsTfError) {
  sf::device d("/device:GPU:7");
  auto v = sf::get_variable("v", {1});
  sf::Session sess({.allow_soft_placement = false});
  try {
    sess.run(v.initializer());
    FAIL();
  } catch (const sf::InvalidArgumentError& e) {
    EXPECT_TRUE(starts_with(e.what(),
                            "Cannot assign a device for operation v: Operation was explicitly "
                            "assigned to /device:GPU:7 but available devices are [ "))
        << e.what();
  }
}

TEST_F(Conformance, ControlDependencies) {
  auto v = sf::get_variable("v", {}, {.initializer = sf::constant_initializer(1.0f)});
  auto inc = v.assign_add(sf::constant(1.0f));
  sf::Output after;
  {
    sf::control_dependencies c({inc});
    after = sf::identity(v.ref());
  }
  EXPECT_EQ(after.op().control_inputs().size(), 1u);
  sf::Session sess;
  sess.run(v.initializer());
  EXPECT_FLOAT_EQ(sess.run(after).scalar<float>(), 2.0f);
  EXPECT_FLOAT_EQ(sess.run(after).scalar<float>(), 3.0f);
}

// An op made under control_dependencies(nullptr) (TF's init_scope: a variable's own ops) is
// not seen by the outer blocks, so ops built from it there still take their dependencies (they
// were taken as dominated: the update never ran).
TEST_F(Conformance, ControlDependenciesAfterANoneBlock) {
  auto counter = sf::get_variable("counter", {}, {.initializer = sf::zeros_initializer()});
  auto upd = counter.assign_add(sf::constant(1.0f));
  auto x = sf::placeholder(sf::float32, sf::Shape{1, 2}, "x");
  sf::Output out, y;
  {
    sf::control_dependencies c({upd});
    auto w = sf::get_variable("w", {2, 1}, {.initializer = sf::ones_initializer()});
    out = sf::matmul(x, w.value());
    sf::Output b;
    {
      sf::control_dependencies none(nullptr);
      b = sf::identity(x, "b");
    }
    EXPECT_TRUE(b.op().control_inputs().empty());
    y = sf::identity(b, "y");
  }
  ASSERT_EQ(out.op().control_inputs().size(), 1u);
  EXPECT_EQ(out.op().control_inputs()[0].name(), upd.op().name());
  ASSERT_EQ(y.op().control_inputs().size(), 1u);
  sf::Session sess;
  sess.run(sf::global_variables_initializer());
  const sf::FeedDict feed = {{x, sf::Tensor::from_vector<float>({1, 2}, {1, 2})}};
  sess.run(out, feed);
  sess.run(out, feed);
  EXPECT_FLOAT_EQ(sess.run(counter.value()).scalar<float>(), 2.0f);
}

// tf.Variable(0, dtype=tf.int64): a number is made in the dtype asked for (the global-step
// idiom); a tensor of another dtype, or a number that does not fit, is still an error, and
// get_variable's initializer-type check is unchanged.
TEST_F(Conformance, VariableFromANumberTakesTheRequestedDtype) {
  sf::Variable step(0, {.name = "step", .trainable = false, .dtype = sf::int64});
  sf::Variable f(1, {.name = "f", .dtype = sf::float32});
  sf::Variable d(1.0, {.name = "d", .dtype = sf::float64});
  EXPECT_EQ(step.dtype(), sf::int64);
  EXPECT_EQ(f.dtype(), sf::float32);
  EXPECT_EQ(d.dtype(), sf::float64);
  EXPECT_THROW(sf::Variable(1.5, {.name = "bad", .dtype = sf::int32}), sf::ValueError);
  EXPECT_THROW(sf::Variable(sf::constant(1), {.name = "t", .dtype = sf::int64}), sf::ValueError);
  sf::Session sess;
  sess.run(sf::global_variables_initializer());
  EXPECT_EQ(sess.run(step.value()).scalar<std::int64_t>(), 0);
  EXPECT_EQ(sess.run(f.value()).scalar<float>(), 1.0f);
  EXPECT_EQ(sess.run(d.value()).scalar<double>(), 1.0);
}

// get_variable_scope() is the current scope object itself: a reference taken there keeps
// naming that scope (it named whichever scope was current later: re-entering "model" from
// "model/tower" landed in "model/tower", and root.reuse_variables() set the child's reuse).
TEST_F(Conformance, GetVariableScopeReturnsTheScopeObject) {
  auto& root = sf::get_variable_scope();
  {
    sf::variable_scope m("model");
    auto& outer = sf::get_variable_scope();
    EXPECT_EQ(outer.name(), "model");
    {
      sf::variable_scope t("tower");
      EXPECT_EQ(outer.name(), "model");
      sf::variable_scope back(outer);
      EXPECT_EQ(sf::get_variable_scope().name(), "model");
      EXPECT_EQ(sf::get_variable("w", {1}).name(), "model/w:0");
    }
    {
      sf::variable_scope child("child");
      root.reuse_variables();
      EXPECT_FALSE(sf::get_variable_scope().reuse());
    }
  }
  EXPECT_EQ(root.name(), "");
  EXPECT_TRUE(root.reuse());
  EXPECT_TRUE(sf::get_variable_scope().reuse());
}

TEST_F(Conformance, GraphAsDefaultAndReset) {
  sf::Graph g;
  sf::Output c;
  {
    auto guard = g.as_default();
    c = sf::constant(1.0f, "c");
    EXPECT_TRUE(sf::get_default_graph() == g);
    EXPECT_THROW(sf::reset_default_graph(), sf::ValueError);
  }
  EXPECT_FALSE(sf::get_default_graph() == g);
  EXPECT_TRUE(c.graph() == g);
  EXPECT_EQ(sf::constant(1.0f, "c").name(), "c:0");  // another graph, another name table
  sf::Session sess({}, g);
  EXPECT_FLOAT_EQ(sess.run(c).scalar<float>(), 1.0f);
  // A handle whose graph is gone is a clear error, not a crash.
  auto stale = sf::constant(2.0f, "stale");
  sf::reset_default_graph();
  EXPECT_THROW(stale.name(), sf::ValueError);
  EXPECT_THROW(stale.shape(), sf::ValueError);
  EXPECT_THROW(sf::identity(stale), sf::ValueError);
}

}  // namespace

namespace {

class BadInput : public ::testing::Test {
 protected:
  void SetUp() override { sf::reset_default_graph(); }
  // After a failure inside nested scopes, every scope stack is back at the root.
  void expect_stacks_intact() {
    EXPECT_EQ(sf::get_name_scope(), "");
    EXPECT_EQ(sf::get_variable_scope().name(), "");
    EXPECT_FALSE(sf::get_variable_scope().reuse());
    auto c = sf::constant(1.0f);
    EXPECT_EQ(c.device(), "");
    EXPECT_TRUE(c.op().control_inputs().empty());
    EXPECT_EQ(c.op().name().find('/'), std::string::npos) << c.op().name();
  }
  template <class F>
  void expect_value_error(F f, const std::string& prefix) {
    try {
      auto dep = sf::constant(0.0f, "dep");
      sf::device d("/cpu:0");
      sf::control_dependencies cd({dep});
      sf::name_scope ns("outer_ns");
      sf::variable_scope vs("outer_vs", {.reuse = sf::AUTO_REUSE});
      f();
      ADD_FAILURE() << "no error; expected " << prefix;
    } catch (const sf::ValueError& e) {
      EXPECT_NE(std::string(e.what()).find(prefix), std::string::npos) << e.what();
    }
    expect_stacks_intact();
  }
};

TEST_F(BadInput, EveryMisuseIsAValueErrorAndLeavesTheScopesIntact) {
  expect_value_error([] { sf::name_scope ns("bad name!"); },
                     "'bad name!' is not a valid scope name");
  expect_value_error([] { sf::device d("/gpu:0/gpu:1"); }, "Cannot specify multiple device types");
  expect_value_error([] { sf::device d("/gpu:x"); }, "Invalid device index 'x' in '/gpu:x'");
  expect_value_error([] { sf::variable_scope v("x", {.reuse = 2}); },
                     "The reuse parameter must be True or False or None.");
  expect_value_error([] { sf::variable_scope v(""); }, "If default_name is empty");
  expect_value_error(
      [] {
        sf::get_variable("v", {1});
        sf::get_variable("v", {2});
      },
      "Trying to share variable outer_vs/v, but specified shape [2] and found shape [1].");
  expect_value_error([] { sf::get_variable("w", {1}, {.initializer = sf::constant(1.0f)}); },
                     "If initializer is a constant, do not specify shape.");
  expect_value_error([] { sf::get_variable("u"); }, "Shape of a new variable (outer_vs/u)");
  expect_value_error([] { sf::Variable(1.0f, {.name = "a b"}); },
                     "'a b' is not a valid scope name");
  expect_value_error(
      [] {
        sf::constant(1.0f) + sf::constant(std::vector<float>{1, 2}, {2}) +
            sf::constant(std::vector<float>{1, 2, 3}, {3});
      },
      "add_1: Incompatible shapes: [2] vs. [3]");
  expect_value_error([] { sf::constant(1.0f) + sf::constant(1); }, "add: input dtypes differ");
}

}  // namespace
