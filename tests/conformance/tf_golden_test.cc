// Golden outputs from TensorFlow itself: tf_golden.py ran the same cases on tf.compat.v1
// and wrote tf_golden.json; here ScopeFlow runs them and must agree, after mapping only
// TF's Python spellings to ScopeFlow's (CONFORMANCE.md's error table).
#include <gtest/gtest.h>
#include <scopeflow/scopeflow.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "samples/tutorials/cifar10_model.h"

namespace {

using Result = std::vector<std::string>;

std::string err(const std::function<void()>& f) {
  try {
    f();
  } catch (const sf::ValueError& e) {
    std::string m = e.what();
    auto at = m.find(" Originally defined at");
    return at == std::string::npos ? m : m.substr(0, at);
  }
  return "no error";
}
std::string flag(bool b) { return b ? "True" : "False"; }
// tf_golden.py's _vals: each value as %g, tensors joined with " | ".
std::string golden_vals(const std::vector<sf::Tensor>& ts, const char* format = "%g") {
  std::string s;
  char buf[32];
  for (std::size_t k = 0; k < ts.size(); ++k) {
    if (k > 0) s += " | ";
    const sf::Tensor& t = ts[k];
    std::string one;
    auto put = [&](double v) {
      std::snprintf(buf, sizeof buf, format, v);
      one += (one.empty() ? "" : " ") + std::string(buf);
    };
    if (t.dtype() == sf::int32)
      for (auto v : t.to_vector<std::int32_t>()) put(v);
    else if (t.dtype() == sf::int64)
      for (auto v : t.to_vector<std::int64_t>()) put(static_cast<double>(v));
    else
      for (float v : t.to_vector<float>()) put(static_cast<double>(v));
    s += one;
  }
  return s;
}
std::string c() { return sf::constant(std::vector<float>{}, {0}, "c").name(); }

// The op a node is colocated with, as TF's colocation groups: followed through ops that are
// themselves colocated.
std::string colocation_group(const sf::Node* n, const sf::Graph& g, int depth = 0) {
  if (depth > 16) return n->name;
  if (!n->colocate_with.empty()) {
    auto next = g.find_operation(n->colocate_with);
    if (!next || next->node() == n) return n->colocate_with;
    return colocation_group(next->node(), g, depth + 1);
  }
  // TF colocates an op that takes a variable reference (Assign, AssignSub, RefMerge) with it.
  static const std::set<std::string> ref_ops = {"VariableV2", "RefSwitch", "Assign",
                                                "AssignAdd",  "AssignSub", "RefMerge"};
  if (n->op != "VariableV2" && !n->inputs.empty() && ref_ops.count(n->inputs[0].first->op))
    return colocation_group(n->inputs[0].first, g, depth + 1);
  return n->name;
}

// tf_golden.py's _op_line: name, type, inputs, ^control inputs, @the op it is colocated with
// (followed through ops that are themselves colocated, as TF's colocation groups).
std::string op_line(const sf::Operation& o) {
  std::string s = o.name() + " " + o.type();
  for (const auto& in : o.inputs()) s += " " + in.name();
  for (const auto& c : o.control_inputs()) s += " ^" + c.name();
  return s + " @" + colocation_group(o.node(), o.graph());
}

// A static shape as tf_golden.py prints a TensorShape's list: [2, None, 3].
std::string dims(const sf::Shape& shape) {
  std::string r;
  for (auto v : shape.dims()) r += (r.empty() ? "" : ", ") + (v < 0 ? "None" : std::to_string(v));
  return "[" + r + "]";
}

// n floats f(0), f(1), ... (f takes the index as a float): tf_golden.py's input patterns.
template <class F>
std::vector<float> pattern(std::int64_t n, F f) {
  std::vector<float> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = f(static_cast<float>(i));
  return v;
}

// TF's Python spellings -> ScopeFlow's.
std::string map_tf(std::string s) {
  auto replace_all = [&](const std::string& from, const std::string& to) {
    for (std::size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
      s.replace(p, from.size(), to);
  };
  replace_all("reuse=True or reuse=tf.AUTO_REUSE in VarScope?",
              "reuse=true or reuse=sf::AUTO_REUSE in variable_scope?");
  replace_all("reuse=tf.AUTO_REUSE in VarScope?", "reuse=sf::AUTO_REUSE in variable_scope?");
  replace_all("tf.get_variable()", "get_variable()");
  replace_all("reuse=True cannot", "reuse=true cannot");
  replace_all("reuse=False or", "reuse=false or");
  replace_all("float32_ref", "float32");
  s = std::regex_replace(s, std::regex("<dtype: '([a-z0-9]+)'>"), "$1");
  s = std::regex_replace(s, std::regex("\\((\\d+),\\)"), "[$1]");
  s = std::regex_replace(s,
                         std::regex("is not a valid root scope name\\. A root scope name has to "
                                    "match the following pattern: .*$"),
                         "is not a valid scope name");
  return s;
}

std::map<std::string, std::function<Result()>> cases() {
  std::map<std::string, std::function<Result()>> m;
  m["api1_reuse_inherited"] = [] {
    sf::get_variable_scope().reuse_variables();
    sf::variable_scope vs("vs");
    return Result{sf::get_variable_scope().name(), sf::get_variable_scope().reuse() ? "1" : "0"};
  };
  m["api2_reopen_by_object"] = [] {
    sf::VariableScope kept;
    {
      sf::variable_scope vs1("vs1");
      sf::get_variable_scope().reuse_variables();
      sf::variable_scope vs2("vs2");
      kept = vs2.get();
    }
    Result out;
    {
      sf::variable_scope a("vs1");
      sf::variable_scope b("vs2");
      out = {sf::get_variable_scope().name(), sf::get_variable_scope().reuse() ? "1" : "0"};
    }
    sf::variable_scope s(kept);
    out.push_back(sf::get_variable_scope().name());
    out.push_back(sf::get_variable_scope().reuse() ? "1" : "0");
    return out;
  };
  m["api3_variable_always_creates"] = [] {
    sf::Variable v1(sf::constant(1), {.name = "v"});
    sf::Variable v2(sf::constant(1), {.name = "v"});
    sf::get_variable_scope().reuse_variables();
    sf::Variable v3(sf::constant(1), {.name = "v"});
    return Result{v1.name(), v2.name(), v3.name()};
  };
  m["api4_get_after_variable"] = [] {
    sf::variable_scope vs("vs");
    sf::Variable v1(sf::constant(1), {.name = "v"});
    auto v2 = sf::get_variable("v", {});
    return Result{v1.name(), v2.name(), err([] { sf::get_variable("v", {}); })};
  };
  m["api5_reuse_only_get_variable"] = [] {
    sf::Variable v, r;
    {
      sf::variable_scope vs("vs");
      v = sf::get_variable("v", {});
    }
    {
      sf::variable_scope vs("vs", {.reuse = true});
      r = sf::get_variable("v", {});
    }
    return Result{r.name(), flag(r == v), err([] {
                    sf::variable_scope vs("vs1", {.reuse = true});
                    sf::get_variable("v", {});
                  })};
  };
  m["api6_name_scope"] = [] {
    Result out;
    {
      sf::name_scope ns("ns");
      out.push_back(sf::get_variable("v", {}).name());
      out.push_back(sf::Variable(sf::constant(1), {.name = "v"}).name());
      sf::variable_scope vs("vs");
      out.push_back(sf::get_variable("v", {}).name());
      out.push_back(sf::Variable(sf::constant(1), {.name = "v"}).name());
    }
    sf::variable_scope vs("vs");
    sf::name_scope ns("ns");
    out.push_back(sf::Variable(sf::constant(1), {.name = "v"}).name());
    out.push_back(err([] { sf::get_variable("v", {}); }));
    return out;
  };
  m["api8_op_names"] = [] {
    sf::variable_scope foo("foo");
    auto x = 1.0f + sf::get_variable("v", {1});
    sf::name_scope bar("bar");
    auto w = sf::get_variable("w", {1});
    auto y = 1.0f + w;
    return Result{x.op().name(), y.op().name(), w.name()};
  };
  m["api9_share_model"] = [] {
    auto conv_relu = [](const sf::Output& in, const sf::Shape& k, const sf::Shape& b) {
      auto w = sf::get_variable("weights", k, {.initializer = sf::random_normal_initializer()});
      auto bias = sf::get_variable("biases", b, {.initializer = sf::constant_initializer(0.0)});
      return in * w + bias;
    };
    auto f = [&](const sf::Output& in) {
      sf::Output r;
      {
        sf::variable_scope s("conv1");
        r = conv_relu(in, {5, 5, 32, 32}, {32});
      }
      sf::variable_scope s("conv2");
      return conv_relu(r, {5, 5, 32, 32}, {32});
    };
    auto i1 = sf::placeholder(sf::float32, {5, 5, 32, 32});
    auto i2 = sf::placeholder(sf::float32, {5, 5, 32, 32});
    {
      sf::variable_scope s("model");
      f(i1);
    }
    {
      sf::variable_scope s("model", {.reuse = true});
      f(i2);
    }
    Result out;
    for (const auto& v : sf::global_variables()) out.push_back(v.name());
    return out;
  };
  m["a2_a3_root"] = [] {
    auto v = sf::get_variable("v", {1});
    return Result{v.name(), err([] { sf::get_variable("v", {1}); }),
                  sf::get_variable("a/b", {1}).name()};
  };
  m["a5_a6_scopes"] = [] {
    Result out;
    {
      sf::variable_scope t("tower4");
      out.push_back(t->name());
      sf::name_scope sc("scope");
      out.push_back(sc.name());
    }
    sf::variable_scope t("tower5");
    sf::variable_scope b("bar");
    out.push_back(b->name());
    sf::name_scope sc("scope");
    out.push_back(sc.name());
    return out;
  };
  m["a9_missing"] = [] {
    return Result{err([] {
      sf::variable_scope foo("foo", {.reuse = true});
      sf::get_variable("v", {1});
    })};
  };
  m["b12_root_reuse"] = [] {
    sf::get_variable_scope().reuse_variables();
    Result out;
    {
      sf::variable_scope f("foo");
      out.push_back(flag(f->reuse()));
      out.push_back(err([] { sf::get_variable("v", {1}); }));
    }
    out.push_back(err([] { sf::get_variable("x", {1}); }));
    return out;
  };
  m["b16_reuse_false_ignored"] = [] {
    sf::variable_scope a("a", {.reuse = true});
    sf::variable_scope b("b", {.reuse = false});
    return Result{flag(b->reuse())};
  };
  m["b19_b20_bad_reuse"] = [] {
    return Result{err([] { sf::variable_scope a("a", {.reuse = 1}); }), err([] {
                    sf::variable_scope a("", {.reuse = true, .default_name = "default"});
                  })};
  };
  m["b26_b29_variable_vs_get_variable"] = [] {
    sf::variable_scope s("vs");
    Result out{sf::Variable(1.0f, {.name = "v"}).name()};
    s->reuse_variables();
    out.push_back(sf::Variable(1.0f, {.name = "v"}).name());
    out.push_back(sf::Variable(1.0f, {.name = "v"}).name());
    return out;
  };
  m["b28_get_after_variable"] = [] {
    sf::variable_scope s("vs");
    sf::Variable a(1.0f, {.name = "v"});
    auto b = sf::get_variable("v", {1});
    return Result{a.name(), b.name(), err([] { sf::get_variable("v", {1}); })};
  };
  m["b29_variable_after_get"] = [] {
    sf::variable_scope s("vs");
    auto b = sf::get_variable("v", {1});
    sf::Variable a(1.0f, {.name = "v"});
    return Result{b.name(), a.name()};
  };
  m["c33_original_name_scope"] = [] {
    sf::name_scope ns("ns");
    sf::variable_scope s("vs");
    sf::Variable t(1.0f, {.name = "v"});
    auto g = sf::get_variable("v", {1});
    return Result{t.name(), g.name(), s->name(), s->original_name_scope()};
  };
  m["c35_same_string_twice"] = [] {
    sf::Output x, y;
    {
      sf::variable_scope foo("foo");
      x = 1.0f + sf::get_variable("v", {1});
    }
    {
      sf::variable_scope foo("foo", {.reuse = true});
      y = 1.0f + sf::get_variable("v", {1});
    }
    return Result{x.op().name(), y.op().name()};
  };
  m["c38_original_name_scope_jump"] = [] {
    Result out;
    sf::VariableScope tower;
    {
      sf::name_scope s1("scope1");
      sf::variable_scope t("tower");
      tower = t.get();
      out.push_back(tower.original_name_scope());
    }
    {
      sf::name_scope s2("scope2");
      sf::variable_scope t1(tower);
      out.push_back(t1->original_name_scope());
      sf::name_scope foo("foo");
      out.push_back(foo.name());
    }
    for (int i = 0; i < 2; ++i) {
      sf::name_scope o(tower.original_name_scope());
      sf::name_scope bar("bar");
      out.push_back(bar.name());
    }
    return out;
  };
  m["c41_jump"] = [] {
    sf::VariableScope tower4;
    {
      sf::variable_scope t("tower4");
      tower4 = t.get();
    }
    sf::variable_scope t6("tower6");
    sf::variable_scope ts(tower4, {.reuse = true});
    sf::name_scope sc("scope");
    return Result{ts->name(), sc.name()};
  };
  m["c44_aux_false"] = [] {
    Result out;
    sf::VariableScope s;
    {
      sf::variable_scope a("scope", {.auxiliary_name_scope = false});
      s = a.get();
      out.push_back(s.original_name_scope());
      out.push_back(sf::get_variable("w", {}).name());
      out.push_back(c());
    }
    {
      sf::variable_scope a(s, {.auxiliary_name_scope = false});
      out.push_back(sf::get_variable("w1", {}).name());
      out.push_back(sf::constant(std::vector<float>{}, {0}, "c1").name());
    }
    {
      sf::name_scope ns("scope");
      out.push_back(c());
    }
    sf::variable_scope outer("outer");
    {
      sf::variable_scope inner("inner", {.auxiliary_name_scope = false});
      out.push_back(inner->original_name_scope());
      out.push_back(sf::get_variable("w", {}).name());
      out.push_back(c());
    }
    sf::name_scope ns("inner");
    out.push_back(c());
    return out;
  };
  m["d50_var_op_scope"] = [] {
    Result out;
    {
      sf::name_scope t1("T1");
      {
        sf::variable_scope s("tower", {.default_name = "default"});
        out.push_back(sf::get_variable("w", {}).name());
        sf::name_scope t2("T2");
        out.push_back(t2.name());
      }
      {
        sf::variable_scope s("tower", {.default_name = "default"});
        sf::name_scope t2("T2");
        out.push_back(t2.name());
      }
    }
    sf::name_scope t2("T2");
    for (int i = 0; i < 2; ++i) {
      sf::variable_scope s("", {.default_name = "default"});
      out.push_back(sf::get_variable("w", {}).name());
      sf::name_scope t("T2");
      out.push_back(t.name());
    }
    return out;
  };
  m["d51_interleaved"] = [] {
    Result out;
    for (const char* d : {"defaultScope1", "defaultScope1", "defaultScope", "defaultScope1"}) {
      sf::variable_scope s("", {.default_name = d});
      sf::variable_scope l("", {.default_name = "layer"});
      out.push_back(sf::get_variable("w", {}).name());
    }
    return out;
  };
  m["d53_counter_reset"] = [] {
    Result out;
    sf::VariableScope vs;
    {
      sf::variable_scope foo("foo");
      vs = foo.get();
      {
        sf::variable_scope b("", {.default_name = "bar"});
        out.push_back(sf::get_variable("a", {}).name());
      }
      {
        sf::variable_scope b("", {.default_name = "bar"});
        out.push_back(sf::get_variable("b", {}).name());
      }
    }
    sf::variable_scope foo(vs);
    sf::variable_scope b("", {.default_name = "bar"});
    out.push_back(sf::get_variable("c", {}).name());
    return out;
  };
  m["d58_var_op_scope_reuse"] = [] {
    Result out;
    auto body = [&] {
      {
        sf::variable_scope s("tower", {.default_name = "default"});
        out.push_back(sf::get_variable("w", {}).name());
        sf::name_scope sc("scope2");
        out.push_back(sc.name());
      }
      sf::variable_scope s("", {.default_name = "default"});
      out.push_back(sf::get_variable("w", {}).name());
      sf::name_scope sc("scope2");
      out.push_back(sc.name());
    };
    sf::VariableScope outer;
    {
      sf::variable_scope o("outer");
      outer = o.get();
      body();
    }
    sf::variable_scope o(outer, {.reuse = true});
    body();
    return out;
  };
  m["e62_e63_initializer_op_names"] = [] {
    auto v = sf::get_variable("v", {2, 3});
    auto i = sf::get_variable("i", {2}, {.dtype = sf::int32});
    return Result{v.initial_value().op().name(), i.initial_value().op().name()};
  };
  m["e65_initialize_from_value"] = [] {
    auto init = sf::constant(0.1f);
    return Result{
        err([&] { sf::get_variable("u", {1}, {.initializer = init}); }),
        std::string(
            sf::dtype_name(sf::get_variable("t", {.initializer = sf::constant(1)}).dtype())),
        err([] { sf::get_variable("s", {.dtype = sf::float64, .initializer = sf::constant(1)}); })};
  };
  m["f70_shape_dtype_on_reuse"] = [] {
    {
      sf::variable_scope vs("vs");
      sf::get_variable("v", {1});
    }
    return Result{err([] {
                    sf::variable_scope vs("vs", {.reuse = true});
                    sf::get_variable("v", {2});
                  }),
                  err([] {
                    sf::variable_scope vs("vs", {.reuse = true});
                    sf::get_variable("v", {1}, {.dtype = sf::int32});
                  })};
  };
  m["g75_collections"] = [] {
    sf::get_variable("v", {1}, {.trainable = false});
    sf::get_variable("m", {1}, {.collections = {{"my"}}});
    auto join = [](const std::vector<sf::Variable>& vs) {
      std::string s;
      for (const auto& v : vs) s += (s.empty() ? "" : ",") + v.name();
      return s;
    };
    return Result{join(sf::global_variables()), join(sf::trainable_variables()),
                  join(sf::get_collection<sf::Variable>("my"))};
  };
  m["e69_i90_constraint_regularizer"] = [] {
    Result out;
    sf::Constraint c = [](const sf::Output& x) { return x * 0.0f; };
    {
      sf::variable_scope a("a", {.constraint = c});
      out.push_back(flag(static_cast<bool>(sf::get_variable("v", {}).constraint())));
      sf::variable_scope b("b");
      out.push_back(flag(!sf::get_variable("w", {}).constraint()));
    }
    const auto init = sf::constant_initializer(0.3f);
    sf::Regularizer r1 = [](const sf::Output& v) { return sf::reduce_mean(v) + 0.1f; };
    sf::Regularizer r2 = [](const sf::Output& v) { return sf::reduce_mean(v) + 0.2f; };
    {
      sf::variable_scope tower("tower3", {.regularizer = r1});
      {
        sf::variable_scope foo("foo", {.initializer = init});
        sf::get_variable("v", {});
      }
      {
        sf::variable_scope vs(tower.get(), {.initializer = init});
        sf::get_variable("u", {});
        vs->set_regularizer(r2);
        sf::get_variable("w", {});
        sf::get_variable("x", {}, {.regularizer = sf::no_regularizer});
        {
          sf::variable_scope baz("baz", {.regularizer = sf::no_regularizer});
          sf::get_variable("y", {});
        }
        vs->set_regularizer(sf::no_regularizer);
        sf::get_variable("z", {});
      }
      sf::variable_scope foo("foo", {.reuse = true});
      sf::get_variable("v", {});
    }
    auto losses = sf::get_collection<sf::Output>(sf::GraphKeys::REGULARIZATION_LOSSES);
    out.push_back(std::to_string(losses.size()));
    for (const auto& t : losses) out.push_back(t.name());
    sf::Session s;
    s.run(sf::global_variables_initializer());
    for (const auto& t : losses) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.4f", static_cast<double>(s.run(t).scalar<float>()));
      out.push_back(buf);
    }
    return out;
  };
  m["h81_h87_names"] = [] {
    Result out{sf::Variable(1.0f).name(), sf::Variable(1.0f).name(),
               sf::Variable(1.0f, {.name = "v"}).name(), sf::Variable(1.0f, {.name = "V"}).name()};
    out.push_back(err([] { sf::name_scope ns("_x"); }));
    out.push_back(err([] { sf::Variable(1.0f, {.name = "_v"}); }));
    out.push_back(err([] { sf::get_variable("_v", {1}); }));
    out.push_back(err([] { sf::variable_scope vs("_"); }));
    sf::variable_scope vs("vs");
    out.push_back(sf::get_variable("_v", {1}).name());
    return out;
  };
  m["i91_partitioned_variables"] = [] {
    auto lst = [](const std::vector<std::int64_t>& v) {
      std::string s = "[";
      for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
      return s + "]";
    };
    auto fmt = [](const sf::Tensor& t, int digits) {
      std::string s;
      char buf[32];
      for (float f : t.to_vector<float>()) {
        std::snprintf(buf, sizeof buf, "%.*f", digits, static_cast<double>(f));
        s += (s.empty() ? "" : " ") + std::string(buf);
      }
      return s;
    };
    Result out;
    sf::Variable v;
    {
      sf::variable_scope s("scope0", {.partitioner = sf::fixed_size_partitioner(2)});
      v = sf::get_variable("name0", {3, 1, 1});
      out = {v.name(), v.value().name(), lst(v.partition_counts())};
      for (const auto& x : sf::global_variables()) out.push_back(x.name());
      out.push_back(sf::get_variable("name1", {}).name());
    }
    auto w = sf::get_variable("w", {7, 3},
                              {.initializer = sf::constant_initializer(0.5),
                               .partitioner = sf::fixed_size_partitioner(3)});
    for (const auto& x : w.partitions()) out.push_back(lst(x.shape().dims()));
    auto c = sf::get_variable(
        "c", {.initializer = sf::constant(std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {2, 5}),
              .partitioner = sf::fixed_size_partitioner(2, 1)});
    for (const auto& x : c.partitions()) out.push_back(x.name() + lst(x.shape().dims()));
    const auto f32 = sf::float32;
    const auto st = sf::string;
    for (const auto& p : {
             sf::fixed_size_partitioner(4)({10, 3}, f32),
             sf::fixed_size_partitioner(4)({2, 3}, f32),
             sf::fixed_size_partitioner(2, -1)({4, 6}, f32),
             sf::variable_axis_size_partitioner(4096)({1000, 64}, f32),
             sf::variable_axis_size_partitioner(4096, 0, 16, 10)({1000, 64}, f32),
             sf::variable_axis_size_partitioner(1)({5, 64}, f32),
             sf::variable_axis_size_partitioner(64, 1)({4, 8}, f32),
             sf::variable_axis_size_partitioner(64, 0, 32)({8, 1}, st),
             sf::min_max_variable_partitioner(32)({1024, 1024}, f32),
             sf::min_max_variable_partitioner(8)({1024, 1024}, f32),
             sf::min_max_variable_partitioner()({1024, 1024}, f32),
             sf::min_max_variable_partitioner(100, 0, 4)({3, 100}, f32),
             sf::min_max_variable_partitioner(100, 1, 16)({2, 10}, f32),
             sf::min_max_variable_partitioner(100, 0, 16, 4)({8}, st),
         })
      out.push_back(lst(p));
    out.push_back(err([] { sf::variable_axis_size_partitioner(0); }));
    out.push_back(err([] { sf::variable_axis_size_partitioner(10, 0, 16, -1); }));
    // ScopeFlow adds " (variable <name>)" to the partitioner checks only, not to these.
    {
      sf::variable_scope s("scope0", {.reuse = true, .partitioner = sf::fixed_size_partitioner(3)});
      out.push_back(err([] { sf::get_variable("name0", {3, 1, 1}); }));
    }
    {
      sf::variable_scope s("scope0", {.reuse = true});
      out.push_back(flag(sf::get_variable("name0", {3, 1, 1}) == v));
    }
    {
      sf::variable_scope s("scope0", {.partitioner = sf::fixed_size_partitioner(2)});
      out.push_back(err([] { sf::get_variable("name0", {3, 1, 1}); }));
    }
    {
      sf::variable_scope s("scope0");
      out.push_back(err([] { sf::get_variable("name0", {3, 1, 1}); }));
      sf::get_variable("plain", {4});
      out.push_back(err(
          [] { sf::get_variable("plain", {4}, {.partitioner = sf::fixed_size_partitioner(2)}); }));
    }
    {
      sf::variable_scope s("scope1", {.reuse = true, .partitioner = sf::fixed_size_partitioner(2)});
      out.push_back(err([] { sf::get_variable("nope", {4}); }));
    }
    auto x = sf::constant(std::vector<float>{1, 2, 3, 4, 5, -1, 0.5f, 2, -2, 1}, {2, 5});
    auto t = sf::get_variable(
        "t", {.initializer = sf::constant(
                  std::vector<float>{0.1f, -0.2f, 0.3f, 0.4f, -0.5f, 0.6f, 0.7f, 0.8f, -0.9f, 1.0f},
                  {5, 2}),
              .partitioner = sf::fixed_size_partitioner(3)});
    auto y = sf::matmul(x, t);
    auto train = sf::train::GradientDescentOptimizer(0.01).minimize(sf::reduce_sum(y * y));
    sf::Session s;
    s.run(sf::global_variables_initializer());
    out.push_back(fmt(s.run(c), 2));
    s.run(train);
    for (const auto& p : t.partitions()) out.push_back(fmt(s.run(p), 4));
    return out;
  };
  m["i91b_partitioned_checkpoint"] = [] {
    auto lst = [](const std::vector<std::int64_t>& v) {
      std::string s = "[";
      for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
      return s + "]";
    };
    auto vals = [](const sf::Tensor& t) {
      std::string s;
      char buf[32];
      for (float f : t.to_vector<float>()) {
        std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(f));
        s += (s.empty() ? "" : " ") + std::string(buf);
      }
      return s;
    };
    struct Model {
      sf::Variable w;
      sf::Operation train;
    };
    auto model = [](const sf::Partitioner& part, const std::vector<float>& w0) {
      Model m;
      m.w = w0.empty() ? sf::get_variable("emb", {4, 6}, {.partitioner = part})
                       : sf::get_variable(
                             "emb", {.initializer = sf::constant(w0, {4, 6}), .partitioner = part});
      auto x = sf::constant(std::vector<float>{1, 2, 3, 4, -1, 0.5f, 2, -2}, {2, 4});
      m.train =
          sf::train::AdamOptimizer(0.1).minimize(sf::reduce_sum(sf::square(sf::matmul(x, m.w))));
      return m;
    };
    Result out;
    const auto dir =
        std::filesystem::temp_directory_path() / ("sf_golden_ckpt_" + std::to_string(::getpid()));
    std::vector<float> w0;
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 6; ++j) w0.push_back(0.5f * static_cast<float>(6 * i + j) - 3);
    Model a = model(sf::fixed_size_partitioner(3, 1), w0);
    for (const auto& v : sf::global_variables()) {
      const auto& si = v.save_slice_info();
      out.push_back(v.op().name() + (si ? " " + si->full_name + " " + lst(si->full_shape.dims()) +
                                              " " + lst(si->var_offset) + " " + lst(si->var_shape)
                                        : ""));
    }
    std::string path;
    {
      sf::Session s;
      s.run(sf::global_variables_initializer());
      s.run(a.train);
      path = sf::train::Saver().save(s, (dir / "ck").string());
    }
    {  // the checkpoint's tensors: its safetensors header
      std::ifstream in(path, std::ios::binary);
      unsigned char len[8] = {};
      in.read(reinterpret_cast<char*>(len), 8);
      std::uint64_t n = 0;
      for (int i = 7; i >= 0; --i) n = (n << 8) | len[i];
      std::string header(n, '\0');
      in.read(header.data(), static_cast<std::streamsize>(n));
      const nlohmann::json h = nlohmann::json::parse(header);
      for (auto it = h.begin(); it != h.end(); ++it)
        if (it.key() != "__metadata__")
          out.push_back(it.key() + " " +
                        lst(it.value().at("shape").get<std::vector<std::int64_t>>()));
    }
    // Restored into two shards along axis 0, and unpartitioned; then one more Adam step.
    for (const auto& part : {sf::fixed_size_partitioner(2), sf::Partitioner()}) {
      sf::Graph g;
      auto as_default = g.as_default();
      Model b = model(part, {});
      sf::Session s(sf::SessionOptions{}, g);
      sf::train::Saver().restore(s, path);
      for (const auto& p : b.w.partitions()) out.push_back(vals(s.run(p)));
      s.run(b.train);
      out.push_back(vals(s.run(b.w)));
    }
    std::filesystem::remove_all(dir);
    return out;
  };
  m["nn_gather_embedding_lookup"] = [] {
    auto vals = [](const sf::Tensor& t) {
      std::string s;
      char buf[32];
      for (float f : t.to_vector<float>()) {
        std::snprintf(buf, sizeof buf, "%g", static_cast<double>(f));
        s += (s.empty() ? "" : " ") + std::string(buf);
      }
      return s;
    };
    Result out;
    auto p = sf::constant(std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {4, 3});
    auto g = sf::gather(p, sf::constant(std::vector<std::int32_t>{3, 0, 1, 1}, {2, 2}));
    auto g1 = sf::gather(p, sf::constant(std::vector<std::int32_t>{2, 0}, {2}), 1);
    auto lst = [](const sf::Shape& sh) {
      std::string s = "[";
      for (std::size_t i = 0; i < sh.dims().size(); ++i)
        s += (i ? ", " : "") + std::to_string(sh.dims()[i]);
      return s + "]";
    };
    out = {g.op().name(), g.op().inputs()[2].op().name(), lst(g.shape()), g1.op().name(),
           lst(g1.shape())};
    std::vector<float> table;
    for (int i = 0; i < 7; ++i) {
      table.push_back(10.0f * static_cast<float>(i));
      table.push_back(10.0f * static_cast<float>(i) + 1);
    }
    auto emb = sf::get_variable("emb", {.initializer = sf::constant(table, {7, 2}),
                                        .partitioner = sf::fixed_size_partitioner(3)});
    auto ids = sf::constant(std::vector<std::int32_t>{5, 1, 5, 6, 0}, {5});
    auto by_mod = sf::nn::embedding_lookup(emb, ids);
    auto by_div = sf::nn::embedding_lookup(emb, ids, "div");
    auto w = sf::constant(std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {5, 2});
    auto train = sf::train::GradientDescentOptimizer(0.5).minimize(sf::reduce_sum(by_mod * w) +
                                                                   sf::reduce_sum(by_div * w));
    sf::Session s;
    s.run(sf::global_variables_initializer());
    for (const auto& x : {g, g1, by_mod, by_div}) out.push_back(vals(s.run(x)));
    s.run(train);
    for (const auto& v : emb.partitions()) out.push_back(vals(s.run(v)));
    return out;
  };
  m["i91c_partitioned_device_setter"] = [] {
    Result out;
    sf::Variable w, x, y;
    {
      sf::device d(sf::train::replica_device_setter({.ps_tasks = 2}));
      w = sf::get_variable("emb", {10, 4}, {.partitioner = sf::fixed_size_partitioner(4)});
      x = sf::get_variable("x", {3});
      y = sf::get_variable("y", {5}, {.partitioner = sf::fixed_size_partitioner(3)});
    }
    for (const auto& v : w.partitions()) out.push_back(v.name() + " " + v.device());
    out.push_back(x.device());
    for (const auto& v : y.partitions()) out.push_back(v.name() + " " + v.device());
    return out;
  };
  m["math_maximum_minimum"] = [] {
    auto vals = [](const sf::Tensor& t) {
      std::string s;
      char buf[32];
      auto put = [&](double v) {
        std::snprintf(buf, sizeof buf, "%g", v);
        s += (s.empty() ? "" : " ") + std::string(buf);
      };
      if (t.dtype() == sf::int32)
        for (auto v : t.to_vector<std::int32_t>()) put(v);
      else
        for (float v : t.to_vector<float>()) put(static_cast<double>(v));
      return s;
    };
    auto bools = [](const sf::Tensor& t) {
      std::string s;
      for (bool v : t.to_vector<bool>())
        s += std::string(s.empty() ? "" : " ") + (v ? "True" : "False");
      return s;
    };
    const float nan = std::numeric_limits<float>::quiet_NaN();
    auto x = sf::constant(std::vector<float>{nan, 1, 2, 3, -0.0f, 0.0f}, {6});
    auto y = sf::constant(std::vector<float>{1, nan, 2, 1, 0.0f, -0.0f}, {6});
    auto mx = sf::maximum(x, y);
    auto mn = sf::minimum(x, y);
    auto w = sf::constant(std::vector<float>{1, 2, 3, 4, 5, 6}, {6});
    auto g = sf::gradients(sf::reduce_sum(mx * w), {x, y});
    auto h = sf::gradients(sf::reduce_sum(mn * w), {x, y});
    auto a = sf::constant(std::vector<float>{-2, -1, 0, 1, 2, 3}, {2, 3});
    auto b = sf::constant(std::vector<float>{0.5f, -1, 4}, {3});
    auto leaky = sf::maximum(a * 0.1f, a);
    auto gb = sf::gradients(sf::reduce_sum(sf::minimum(a, b)), {a, b});
    auto ints = sf::maximum(sf::constant(std::vector<std::int32_t>{1, 5, -3}, {3}),
                            sf::constant(std::vector<std::int32_t>{3, 2, -3}, {3}));
    auto ge = sf::greater_equal(x, y);
    auto le = sf::less_equal(x, y);
    Result out = {mx.op().name(), mn.op().name(), ge.op().name(), le.op().name()};
    sf::Session s;
    for (const auto& t : {mx, mn, g[0], g[1], h[0], h[1], leaky, gb[0], gb[1], ints})
      out.push_back(vals(s.run(t)));
    out.push_back(bools(s.run(ge)));
    out.push_back(bools(s.run(le)));
    return out;
  };
  m["math_pow"] = [] {
    auto x = sf::constant(std::vector<float>{0, 0.5f, 2, -2, 3, 1}, {2, 3});
    auto y = sf::constant(std::vector<float>{2, -1.5f, 0.5f}, {3});
    auto p = sf::pow(x, y);
    auto q = sf::pow(x, 3.0);
    auto r = sf::pow(2.0, y);
    auto g = sf::gradients(
        sf::reduce_sum(sf::pow(x, y) * sf::constant(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3})),
        {x, y});
    auto ints = sf::pow(sf::constant(std::vector<std::int32_t>{2, -3, 5, 0}, {4}),
                        sf::constant(std::vector<std::int32_t>{10, 3, 0, 0}, {4}));
    auto big = sf::pow(sf::constant(std::vector<std::int32_t>{3}, {1}),
                       sf::constant(std::vector<std::int32_t>{21}, {1}));
    Result out = {p.op().name(), q.op().name(), q.op().inputs()[1].op().name(), r.op().name(),
                  r.op().inputs()[0].op().name()};
    sf::Session s;
    for (const auto& t : {p, q, r, g[0], g[1], ints, big}) out.push_back(golden_vals({s.run(t)}));
    auto a = sf::placeholder(sf::int32);
    auto b = sf::placeholder(sf::int32);
    try {
      s.run(sf::pow(a, b), {{a, sf::Tensor::from_vector<std::int32_t>({2}, {1})},
                            {b, sf::Tensor::from_vector<std::int32_t>({-1}, {1})}});
      out.push_back("no error");
    } catch (const sf::InvalidArgumentError& e) {
      const std::string msg = e.what();
      out.push_back(msg.substr(msg.find("Integers")));
    }
    return out;
  };
  m["train_lr_schedules"] = [] {
    namespace tr = sf::train;
    auto gs = tr::get_or_create_global_step();
    auto step = sf::placeholder(sf::int64, sf::Shape{});
    const std::size_t n0 = sf::get_default_graph().operations().size();
    auto e = tr::exponential_decay(0.1, gs, 100, 0.96, true);
    Result out;
    auto ops = sf::get_default_graph().operations();
    for (std::size_t i = n0; i < ops.size(); ++i)
      out.push_back(ops[i].name() + " " + ops[i].type());
    auto ex = tr::exponential_decay(0.1, step, 100, 0.96);
    auto es = tr::exponential_decay(0.1, step, 100, 0.96, true);
    auto po = tr::polynomial_decay(0.1, step, 1000, 0.01, 0.5);
    auto pc = tr::polynomial_decay(0.1, step, 1000, 0.01, 0.5, true);
    auto it = tr::inverse_time_decay(0.1, step, 100, 0.5, true);
    auto ne = tr::natural_exp_decay(0.1, step, 100, 0.5);
    auto co = tr::cosine_decay(0.1, step, 1000, 0.1);
    auto pw = tr::piecewise_constant(step, {100, 200}, {1.0, 0.5, 0.1});
    for (const auto& t : {ex, es, po, pc, it, ne, co}) out.push_back(t.name());
    sf::Session s;
    for (std::int64_t v : {0, 1, 99, 100, 150, 200, 201, 1000, 2500})
      out.push_back(golden_vals(
          s.run({ex, es, po, pc, it, ne, co, pw}, {{step, sf::Tensor::from_scalar(v)}})));
    auto w = sf::get_variable("w", {2}, {.initializer = sf::constant_initializer(1.0)});
    auto lr = tr::exponential_decay(0.1, gs, 2, 0.5, true);
    auto train = tr::GradientDescentOptimizer(lr).minimize(sf::reduce_sum(w * w), gs);
    auto mom = sf::get_variable("m", {2}, {.initializer = sf::constant_initializer(1.0)});
    auto mt = tr::MomentumOptimizer(lr, sf::constant(0.5f)).minimize(sf::reduce_sum(mom * mom));
    s.run(sf::global_variables_initializer());
    for (int i = 0; i < 5; ++i) {
      s.run(mt);
      s.run(train);
      out.push_back(golden_vals(s.run({w.value(), mom.value(), lr, gs.value()})));
    }
    return out;
  };
  m["train_schedule_op_names"] = [] {
    namespace tr = sf::train;
    auto gs = tr::get_or_create_global_step();
    Result out;
    auto record = [&](const std::function<void()>& build) {
      const std::size_t n0 = sf::get_default_graph().operations().size();
      build();
      auto ops = sf::get_default_graph().operations();
      for (std::size_t i = n0; i < ops.size(); ++i)
        out.push_back(ops[i].name() + " " + ops[i].type());
    };
    record([&] { tr::polynomial_decay(0.1, gs, 1000, 0.01, 0.5); });
    record([&] { tr::inverse_time_decay(0.1, gs, 100, 0.5, true); });
    record([&] { tr::natural_exp_decay(0.1, gs, 100, 0.5); });
    record([&] { tr::cosine_decay(0.1, gs, 1000, 0.1); });
    record([&] { tr::exponential_decay(0.1, gs, 390.625, 0.5); });
    auto w = sf::get_variable("w", {2}, {.initializer = sf::constant_initializer(1.0)});
    tr::ExponentialMovingAverage ema(0.9, gs.value());
    const std::size_t n0 = sf::get_default_graph().operations().size();
    (void)ema.apply({w});
    auto ops = sf::get_default_graph().operations();
    for (std::size_t i = n0; i < ops.size(); ++i)
      if (ops[i].name().rfind("ExponentialMovingAverage", 0) == 0)
        out.push_back(ops[i].name() + " " + ops[i].type());
    return out;
  };
  m["train_rmsprop"] = [] {
    namespace tr = sf::train;
    auto w = sf::get_variable("w", {3}, {.initializer = sf::constant_initializer(1.0)});
    auto u = sf::get_variable("u", {2}, {.initializer = sf::constant_initializer(-2.0)});
    auto loss = sf::reduce_sum(w * w * sf::constant(std::vector<float>{1, 2, 3}, {3})) +
                sf::reduce_sum(u * u * u);
    tr::RMSPropOptimizer opt(0.1, 0.9, 0.9, 1.0);
    auto step = opt.minimize(loss, {}, std::vector<sf::Variable>{w});
    tr::RMSPropOptimizer opt2(0.05, 0.8, 0.5, 1e-3, /*centered=*/true);
    auto step2 = opt2.minimize(loss, {}, std::vector<sf::Variable>{u});
    auto names = opt2.get_slot_names();
    std::sort(names.begin(), names.end());
    std::string list = "[";
    for (std::size_t i = 0; i < names.size(); ++i) list += (i ? ", '" : "'") + names[i] + "'";
    list += "]";
    Result out = {opt.get_slot(w, "rms").op().name(),       opt.get_slot(w, "momentum").op().name(),
                  opt2.get_slot(u, "rms").op().name(),      opt2.get_slot(u, "mg").op().name(),
                  opt2.get_slot(u, "momentum").op().name(), list};
    std::vector<std::string> applies;
    for (const auto& o : sf::get_default_graph().operations())
      if (o.type() == "ApplyRMSProp" || o.type() == "ApplyCenteredRMSProp")
        applies.push_back(o.name() + " " + o.type());
    std::sort(applies.begin(), applies.end());
    out.insert(out.end(), applies.begin(), applies.end());
    sf::Session s;
    s.run(sf::global_variables_initializer());
    for (int i = 0; i < 3; ++i) {
      s.run({}, {step, step2});
      out.push_back(golden_vals(s.run(
          {w.value(), u.value(), opt.get_slot(w, "rms").value(), opt2.get_slot(u, "mg").value()})));
    }
    return out;
  };
  m["train_adagrad"] = [] {
    namespace tr = sf::train;
    auto w = sf::get_variable("w", {3}, {.initializer = sf::constant_initializer(1.0)});
    auto loss = sf::reduce_sum(w * w * sf::constant(std::vector<float>{1, 2, 3}, {3}));
    tr::AdagradOptimizer opt(0.1, 0.5);
    auto step = opt.minimize(loss);
    Result out = {opt.get_slot(w, "accumulator").op().name(), step.name()};
    for (const auto& o : sf::get_default_graph().operations())
      if (o.type() == "ApplyAdagrad") out.push_back(o.name() + " " + o.type());
    try {
      tr::AdagradOptimizer bad(0.1, 0.0);
      out.push_back("no error");
    } catch (const sf::ValueError& e) {
      out.push_back(e.what());
    }
    sf::Session s;
    s.run(sf::global_variables_initializer());
    out.push_back(golden_vals({s.run(opt.get_slot(w, "accumulator").value())}));
    for (int i = 0; i < 3; ++i) {
      s.run(step);
      out.push_back(golden_vals(s.run({w.value(), opt.get_slot(w, "accumulator").value()})));
    }
    return out;
  };
  m["train_exponential_moving_average"] = [] {
    auto gs = sf::train::get_or_create_global_step();
    sf::Variable w;
    {
      sf::device d("/cpu:0");
      sf::variable_scope vs("conv1");
      w = sf::get_variable("w", {2}, {.initializer = sf::constant_initializer(1.0)});
    }
    sf::Variable b(sf::constant(std::vector<float>{3, 4}, {2}), {.name = "b"});
    auto loss = sf::reduce_sum(w * b);
    sf::train::ExponentialMovingAverage ema(0.9, gs);
    sf::Operation op;
    {
      sf::variable_scope vs("tower");
      op = ema.apply({w, b, loss});
    }
    Result out = {op.name(),
                  ema.average(w).name(),
                  ema.average(b).name(),
                  ema.average(loss).name(),
                  ema.average(w).device(),
                  ema.average_name(w)};
    for (const auto& [k, v] : ema.variables_to_restore()) out.push_back(k);
    for (const auto& v : sf::train::moving_average_variables()) out.push_back(v.name());
    sf::train::ExponentialMovingAverage ema2(0.5, {}, "avg");
    auto op2 = ema2.apply({w});
    out.push_back(ema2.average(w).name());
    out.push_back(op2.name());
    out.push_back(ema2.average_name(b));
    try {
      (void)ema.apply({gs});
      out.push_back("no error");
    } catch (const sf::TypeError& e) {
      out.push_back(e.what());
    }
    sf::Session s;
    s.run(sf::global_variables_initializer());
    out.push_back(golden_vals(s.run({ema.average(w).value(), ema.average(loss).value()})));
    s.run(w.assign(sf::constant(std::vector<float>{2, 5}, {2})));
    s.run(op);
    out.push_back(golden_vals(
        s.run({ema.average(w).value(), ema.average(b).value(), ema.average(loss).value()})));
    s.run(gs.assign_add(sf::constant(std::int64_t{100})));
    s.run({}, {op, op2});
    out.push_back(golden_vals(
        s.run({ema.average(w).value(), ema.average(loss).value(), ema2.average(w).value()})));
    return out;
  };
  m["nn_lrn_in_top_k"] = [] {
    auto linspace = [](float a, float b, int n) {
      std::vector<float> v(static_cast<std::size_t>(n));
      for (int i = 0; i < n; ++i)
        v[static_cast<std::size_t>(i)] =
            static_cast<float>(a + (double(b) - a) * i / (n - 1));  // numpy's linspace in double
      return v;
    };
    auto x = sf::constant(linspace(-1.5f, 2.0f, 28), {2, 1, 2, 7});
    auto y = sf::nn::lrn(x, 2, 1.0, 0.001 / 9.0, 0.75, "norm1");
    auto y2 = sf::nn::local_response_normalization(x, 1, 2.0, 0.5, 0.5);
    auto w = sf::constant(linspace(0.5f, 3.0f, 28), {2, 1, 2, 7});
    auto gx = sf::gradients(sf::reduce_sum(y2 * w), {x})[0];
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    auto p =
        sf::constant(std::vector<float>{0.1f, 0.3f, 0.3f, 0.2f, 1, 2, 3, 4,   5, 5, 5, 5, nan, 1,
                                        2,    0,    1,    nan,  2, 0, 1, inf, 2, 0, 0, 0, 1,   0},
                     {7, 4});
    auto t = sf::constant(std::vector<std::int32_t>{1, 0, 3, 2, 1, 2, 9}, {7});
    std::vector<sf::Output> ks;
    for (int k : {0, 1, 2, 4}) ks.push_back(sf::nn::in_top_k(p, t, k));
    auto k64 = sf::nn::in_top_k(p, sf::cast(t, sf::int64), 2);
    Result out = {y.op().name(),
                  y2.op().name(),
                  ks[0].op().name(),
                  ks[1].op().name(),
                  ks[0].op().inputs()[2].op().name(),
                  gx.op().type()};
    sf::Session s;
    for (const auto& v : s.run({y, y2, gx})) out.push_back(golden_vals({v}));
    ks.push_back(k64);
    for (const auto& v : s.run(ks)) {
      std::string line;
      for (bool b : v.to_vector<bool>()) line += (line.empty() ? "" : " ") + flag(b);
      out.push_back(line);
    }
    return out;
  };
  m["tutorial_cifar10_multi_gpu"] = [] {
    return scopeflow::tutorials::cifar10::build_towers(
               2, 2, [](int i) { return "/gpu:" + std::to_string(i); })
        .trace;
  };
  m["clip_by_norms"] = [] {
    Result out;
    auto ops_since = [&](std::size_t n0) {
      auto ops = sf::get_default_graph().operations();
      for (std::size_t i = n0; i < ops.size(); ++i)
        out.push_back(ops[i].name() + " " + ops[i].type());
    };
    auto a = sf::constant(std::vector<float>{3, 4}, {1, 2});
    auto b = sf::constant(std::vector<float>{12}, {1});
    std::size_t n0 = sf::get_default_graph().operations().size();
    auto [clipped, norm] = sf::clip_by_global_norm({a, sf::Output(), b}, 6.5);
    ops_since(n0);
    out.insert(out.end(), {clipped[0].name(), clipped[1].valid() ? "?" : "None", clipped[2].name(),
                           norm.name()});
    n0 = sf::get_default_graph().operations().size();
    auto c2 = sf::clip_by_norm(a, 2.0);
    ops_since(n0);
    auto z = sf::constant(std::vector<float>{3, 4, 0, 0}, {2, 2});
    auto c3 = sf::clip_by_norm(z, 2.0, {1});
    auto g3 = sf::gradients(
        sf::reduce_sum(c3 * sf::constant(std::vector<float>{1, 2, 3, 4}, {2, 2})), {z})[0];
    auto big = sf::clip_by_global_norm({sf::constant(std::vector<float>{1, INFINITY}, {2})}, 1.0);
    auto small = sf::clip_by_global_norm({a}, 100.0);
    auto gn = sf::global_norm({a, b});
    sf::Session s;
    for (const auto& t :
         {clipped[0], clipped[2], norm, c2, c3, g3, small.first[0], small.second, gn})
      out.push_back(golden_vals({s.run(t)}));
    std::string nans;
    for (float v : s.run(big.first[0]).to_vector<float>())
      nans += (nans.empty() ? "" : " ") + std::string(std::isnan(v) ? "nan" : "?");
    out.push_back(nans);
    return out;
  };
  m["nn_moments_batch_normalization"] = [] {
    auto x = sf::constant(std::vector<float>{1, 2, 4, 3, 5, 9}, {2, 3});
    std::size_t n0 = sf::get_default_graph().operations().size();
    auto [m, v] = sf::nn::moments(x, {0});
    auto offset = sf::constant(std::vector<float>{0.5f, 0, -1}, {3});
    auto scale = sf::constant(std::vector<float>{2, 1, 3}, {3});
    auto y = sf::nn::batch_normalization(x, m, v, offset, scale, 1e-3);
    Result out;
    auto ops = sf::get_default_graph().operations();
    for (std::size_t i = n0; i < ops.size(); ++i)
      out.push_back(ops[i].name() + " " + ops[i].type());
    auto [mk, vk] = sf::nn::moments(x, {1}, true);
    auto y2 = sf::nn::batch_normalization(x, mk, vk, sf::Output(), sf::Output(), 0.0);
    auto w = sf::constant(std::vector<float>{1, -2, 0.5f, 0.25f, 3, -1}, {2, 3});
    auto gx = sf::gradients(sf::reduce_sum(y * w), {x})[0];
    auto gx2 = sf::gradients(sf::reduce_sum(y2 * w), {x})[0];
    auto a = sf::constant(std::vector<float>{1, 4}, {2, 1});
    auto b = sf::constant(std::vector<float>{0.5f, 2, -1}, {3});
    auto sd = sf::squared_difference(a, b);
    auto g = sf::gradients(sf::reduce_sum(sd * w), {a, b});
    auto isd = sf::squared_difference(sf::constant(std::vector<std::int32_t>{3, -4}, {2}),
                                      sf::constant(std::vector<std::int32_t>{5, 6}, {2}));
    std::string dims;
    const sf::Shape mk_shape = mk.shape();
    for (auto d : mk_shape.dims()) dims += (dims.empty() ? "" : ", ") + std::to_string(d);
    out.push_back("[" + dims + "]");
    out.push_back(y2.op().name());
    sf::Session s;
    for (const auto& t : {m, v, y, mk, vk, y2, gx, gx2, sd, g[0], g[1], isd})
      out.push_back(golden_vals({s.run(t)}, "%.5g"));
    return out;
  };
  m["nn_conv2d_transpose_l2_normalize"] = [] {
    auto range = [](int n, float scale) {
      std::vector<float> v(static_cast<std::size_t>(n));
      for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = static_cast<float>(i) / scale;
      return v;
    };
    auto linspace = [](float a, float b, int n) {
      std::vector<float> v(static_cast<std::size_t>(n));
      for (int i = 0; i < n; ++i)
        v[static_cast<std::size_t>(i)] = static_cast<float>(a + (double(b) - a) * i / (n - 1));
      return v;
    };
    auto x = sf::constant(range(36, 10), {2, 3, 3, 2});
    auto f = sf::constant(linspace(-1, 1, 72), {3, 3, 4, 2});
    std::size_t n0 = sf::get_default_graph().operations().size();
    auto y = sf::nn::conv2d_transpose(x, f, {2, 6, 6, 4}, {1, 2, 2, 1}, "SAME");
    Result out;
    auto ops_since = [&](std::size_t from) {
      auto ops = sf::get_default_graph().operations();
      for (std::size_t i = from; i < ops.size(); ++i)
        out.push_back(ops[i].name() + " " + ops[i].type());
    };
    ops_since(n0);
    auto yv = sf::nn::conv2d_transpose(x, f, {2, 7, 7, 4}, {1, 2, 2, 1}, "VALID");
    auto w = sf::constant(linspace(-2, 2, 288), {2, 6, 6, 4});
    auto g = sf::gradients(sf::reduce_sum(y * w), {x, f});
    for (const auto& bad : std::vector<std::function<void()>>{
             [&] {
               sf::nn::conv2d_transpose(x, f, {2, 6, 6, 5}, {1, 2, 2, 1});
             },
             [&] {
               sf::nn::conv2d_transpose(sf::zeros({2, 3, 3, 3}), f, {2, 6, 6, 4}, {1, 2, 2, 1});
             }}) {
      try {
        bad();
        out.push_back("no error");
      } catch (const sf::ValueError& e) {
        out.push_back(e.what());
      }
    }
    auto v = sf::constant(std::vector<float>{3, 4, 0, 0, 1, -1}, {3, 2});
    n0 = sf::get_default_graph().operations().size();
    auto n = sf::nn::l2_normalize(v, {1});
    ops_since(n0);
    auto gn = sf::gradients(
        sf::reduce_sum(n * sf::constant(std::vector<float>{1, 2, 3, 4, 5, 6}, {3, 2})), {v})[0];
    auto na = sf::nn::l2_normalize(v);
    sf::Session s;
    for (const auto& t : {y, yv, g[0], g[1], n, gn, na})
      out.push_back(golden_vals({s.run(t)}, "%.4g"));
    return out;
  };
  m["m_device_merging"] = [] {
    Result out;
    {
      sf::device a("/job:ps");
      sf::device b("/gpu:1");
      out.push_back(sf::constant(1).device());
    }
    {
      sf::device a("/gpu:1");
      sf::device b(nullptr);
      out.push_back(sf::constant(1).device());
    }
    sf::device d("/job:ps/task:0");
    auto v = sf::get_variable("v", {1});
    out.push_back(v.device());
    out.push_back(v.initial_value().device());
    return out;
  };
  m["control_flow_cond"] = [] {
    auto x = sf::placeholder(sf::float32, {2}, "x");
    auto p = sf::placeholder(sf::bool_, {}, "p");
    auto w = sf::get_variable("w", {2}, {.initializer = sf::ones_initializer()});
    auto g = sf::get_default_graph();
    const std::size_t n0 = g.operations().size();
    auto r = sf::cond(
        p,
        [&] {
          auto xw = x * w;  // (two statements: C++ may evaluate an operator's right side first)
          return xw + sf::constant(std::vector<float>{1, 1}, {2});
        },
        [&] { return x; });
    const std::size_t n1 = g.operations().size();
    auto grads = sf::gradients(r, {x, w.value()});
    Result out{r.name(), "[2]"};
    auto ops = g.operations();
    for (std::size_t i = n0; i < n1; ++i) out.push_back(op_line(ops[i]));
    for (std::size_t i = n1; i < ops.size(); ++i)
      if (ops[i].name().find("grad_ys") == std::string::npos && ops[i].name() != "gradients/Shape")
        out.push_back(op_line(ops[i]));
    out.push_back(grads[0].name());
    out.push_back(grads[1].name());
    sf::Session s;
    s.run(sf::global_variables_initializer());
    for (bool pv : {true, false}) {
      const sf::FeedDict f{{x, sf::Tensor::from_vector<float>({1, 2}, {2})},
                           {p, sf::Tensor::from_scalar(pv)}};
      for (const auto& t : s.run({r, grads[0], grads[1]}, f)) out.push_back(golden_vals({t}));
    }
    out.push_back(err([&] {
      s.run(g.operation_by_name("cond/mul").output(0),
            {{x, sf::Tensor::from_vector<float>({1, 2}, {2})}, {p, sf::Tensor::from_scalar(true)}});
    }));
    try {
      sf::cond(
          sf::placeholder(sf::float32, {}), [&] { return x; }, [&] { return x; });
      out.push_back("no error");
    } catch (const sf::TypeError& e) {
      out.push_back(e.what());
    }
    out.push_back(err([&] {
      sf::cond(
          p, [&] { return x; }, [&] { return sf::constant(1); });
    }));
    return out;
  };
  m["control_flow_nested_assign"] = [] {
    auto p = sf::placeholder(sf::bool_, {}, "p");
    auto q = sf::placeholder(sf::bool_, {}, "q");
    auto x = sf::constant(std::vector<float>{1, 2}, {2}, "x");
    auto g = sf::get_default_graph();
    const std::size_t n0 = g.operations().size();
    auto r = sf::cond(
        p,
        [&] {
          auto v = sf::get_variable("v", {2}, {.initializer = sf::constant_initializer(3.0)});
          return sf::cond(
              q, [&] { return x * v; }, [&] { return x + v; });
        },
        [&] { return -x; });
    auto ops = g.operations();
    Result out{r.name()};
    for (std::size_t i = n0; i < ops.size(); ++i) out.push_back(op_line(ops[i]));
    auto a = sf::get_variable("a", {}, {.initializer = sf::zeros_initializer()});
    const std::size_t n1 = g.operations().size();
    auto ra = sf::cond(
        p, [&] { return a.assign(sf::constant(1.0f, "Assign/value")); },
        [&] { return a.assign_add(sf::constant(5.0f, "AssignAdd/value")); });
    auto done = sf::cond(
        p, [&] { return a.assign_add(sf::constant(100.0f, "AssignAdd/value")).op(); },
        [&] { return sf::no_op(); });
    ops = g.operations();
    out.push_back(ra.name());
    out.push_back(done.name());
    out.push_back(std::string(sf::dtype_name(done.dtype())));
    for (std::size_t i = n1; i < ops.size(); ++i) out.push_back(op_line(ops[i]));
    out.push_back(std::to_string(g.collection("cond_context").size()));
    sf::Session s;
    s.run(sf::global_variables_initializer());
    auto feed = [&](bool pv, bool qv) {
      return sf::FeedDict{{p, sf::Tensor::from_scalar(pv)}, {q, sf::Tensor::from_scalar(qv)}};
    };
    for (auto [pv, qv] : {std::pair{true, true}, {true, false}, {false, true}})
      out.push_back(golden_vals({s.run(r, feed(pv, qv))}));
    for (bool pv : {false, false, true}) out.push_back(golden_vals({s.run(ra, feed(pv, false))}));
    for (bool pv : {false, true}) {
      const bool d = s.run(done, feed(pv, false)).scalar<bool>();
      out.push_back(flag(d) + " " + golden_vals({s.run(a.value())}));
    }
    return out;
  };
  m["control_flow_batch_norm_ema"] = [] {
    std::vector<float> xv(8);
    for (int i = 0; i < 8; ++i) xv[static_cast<std::size_t>(i)] = static_cast<float>(i) / 4.0f;
    auto x = sf::constant(xv, {4, 2}, "x");
    auto training = sf::placeholder(sf::bool_, {}, "is_training");
    auto w = sf::get_variable("w", {2, 2}, {.initializer = sf::constant_initializer(0.5)});
    auto h =
        sf::matmul(x, w) + sf::constant(std::vector<float>{0, 1, 2, -1, 0.5f, 0.25f, 1, 3}, {4, 2});
    const auto mv = sf::nn::moments(h, {0});
    const sf::Output mean = mv.first, var = mv.second;
    sf::train::ExponentialMovingAverage ema(0.5);
    auto g = sf::get_default_graph();
    const std::size_t n0 = g.operations().size();
    auto stats = sf::cond(
        training,
        [&] {
          auto update = ema.apply({mean, var});
          sf::control_dependencies after({update});
          return std::vector<sf::Output>{sf::identity(mean), sf::identity(var)};
        },
        [&] {
          return std::vector<sf::Output>{ema.average(mean).value(), ema.average(var).value()};
        });
    auto ops = g.operations();
    Result out{stats[0].name(), stats[1].name()};
    for (std::size_t i = n0; i < ops.size(); ++i) out.push_back(op_line(ops[i]));
    auto y = sf::nn::batch_normalization(h, stats[0], stats[1], sf::Output(), sf::Output(), 1e-3);
    auto loss = sf::reduce_sum(
        y * sf::constant(std::vector<float>{1, -2, 0.5f, 3, -1, 0.25f, 2, 1}, {4, 2}));
    auto train = sf::train::GradientDescentOptimizer(0.1).minimize(loss);
    for (const auto& v : sf::global_variables()) out.push_back(v.op().name());
    for (const auto& v : sf::trainable_variables()) out.push_back(v.op().name());
    sf::Session s;
    s.run(sf::global_variables_initializer());
    const sf::FeedDict train_feed{{training, sf::Tensor::from_scalar(true)}};
    for (int i = 0; i < 2; ++i) s.run({}, {train}, train_feed);
    auto state = [&] {
      for (const auto& t : s.run({w.value(), ema.average(mean).value(), ema.average(var).value()}))
        out.push_back(golden_vals({t}, "%.5g"));
    };
    state();
    out.push_back(golden_vals({s.run(loss, {{training, sf::Tensor::from_scalar(false)}})}, "%.5g"));
    state();
    return out;
  };
  m["control_flow_case"] = [] {
    auto x = sf::placeholder(sf::float32, {}, "x");
    auto g = sf::get_default_graph();
    const std::size_t n0 = g.operations().size();
    auto zero = sf::constant(0.0f, "Less/y");  // TF's names for the converted scalars
    auto negative = sf::less(x, zero);
    auto ten = sf::constant(10.0f, "Greater/y");
    auto large = sf::greater(x, ten);
    auto r = sf::case_({{negative, [&] { return -x; }}, {large, [&] { return x - 10.0f; }}},
                       [&] { return x * 2.0f; });
    Result out{r.name()};
    auto ops = g.operations();
    for (std::size_t i = n0; i < ops.size(); ++i) out.push_back(op_line(ops[i]));
    sf::Session s;
    std::string vals;
    for (float v : {-3.0f, 5.0f, 20.0f, 0.0f, 10.0f})
      vals +=
          (vals.empty() ? "" : " ") + golden_vals({s.run(r, {{x, sf::Tensor::from_scalar(v)}})});
    out.push_back(vals);
    try {
      sf::case_({{x, [&] { return x; }}}, [&] { return x; });
      out.push_back("no error");
    } catch (const sf::TypeError& e) {
      out.push_back(e.what());
    }
    return out;
  };
  m["layers_cnn"] = [] {
    auto x = sf::placeholder(sf::float32, {-1, 6, 6, 1}, "x");
    auto training = sf::placeholder(sf::bool_, {}, "training");
    auto g = sf::get_default_graph();
    const std::size_t n0 = g.operations().size();
    auto relu = [](const sf::Output& t) { return sf::nn::relu(t); };
    auto h = sf::layers::conv2d(x, 4, {3, 3},
                                {.padding = "same",
                                 .activation = relu,
                                 .kernel_initializer = sf::constant_initializer(0.1)});
    h = sf::layers::max_pooling2d(h, {2, 2}, {2, 2});
    h = sf::layers::conv2d(h, 2, {3, 3},
                           {.kernel_initializer = sf::constant_initializer(0.1),
                            .bias_initializer = sf::constant_initializer(0.5)});
    h = sf::layers::average_pooling2d(h, {1, 1}, {1, 1}, "same");
    auto f = sf::layers::flatten(h);
    auto d = sf::layers::dense(
        f, 5,
        {.activation = relu, .kernel_initializer = sf::constant_initializer(0.1), .name = "fc"});
    d = sf::layers::dropout(d, 0.4, training);
    auto logits = sf::layers::dense(
        d, 3, {.use_bias = false, .kernel_initializer = sf::constant_initializer(-0.2)});
    auto ev = sf::layers::dropout(logits, 0.5, false);
    Result out;
    auto ops = g.operations();
    for (std::size_t i = n0; i < ops.size(); ++i)
      if (ops[i].name().find("/Initializer/") == std::string::npos &&
          ops[i].name().rfind("dropout/cond/dropout", 0) != 0)  // (TF1.15's dropout ops)
        out.push_back(ops[i].name() + " " + ops[i].type());
    for (const auto& v : sf::global_variables())
      out.push_back(v.op().name() + " " + dims(v.shape()));
    out.push_back(dims(f.shape()));
    out.push_back(dims(logits.shape()));
    out.push_back(ev.op().name());
    {
      sf::variable_scope tower("tower", {.reuse = sf::AUTO_REUSE});
      auto a = sf::layers::dense(f, 3, {.name = "shared"});
      auto b = sf::layers::dense(f, 3, {.name = "shared"});
      out.push_back(a.op().name());
      out.push_back(b.op().name());
      out.push_back(std::to_string(sf::global_variables().size()));
    }
    auto c = sf::layers::dense(f, 3, {.name = "fc2"});
    auto e = sf::layers::dense(f, 3, {.name = "fc2", .reuse = true});
    out.push_back(c.op().name());
    out.push_back(e.op().name());
    out.push_back(std::to_string(sf::global_variables().size()));
    out.push_back(err([&] { sf::layers::dense(f, 3, {.name = "fc"}); }));
    sf::Session s;
    s.run(sf::global_variables_initializer());
    std::vector<float> xv(72);
    for (int i = 0; i < 72; ++i)
      xv[static_cast<std::size_t>(i)] = (static_cast<float>(i) - 30.0f) / 10.0f;
    const sf::FeedDict feed{{x, sf::Tensor::from_vector<float>(xv, {2, 6, 6, 1})},
                            {training, sf::Tensor::from_scalar(false)}};
    out.push_back(golden_vals({s.run(logits, feed)}, "%.5g"));
    out.push_back(golden_vals({s.run(ev, feed)}, "%.5g"));
    return out;
  };
  m["layers_batch_norm"] = [] {
    auto g = sf::get_default_graph();
    auto x = sf::placeholder(sf::float32, {2, 3, 3, 4}, "x");
    auto training = sf::placeholder(sf::bool_, {}, "training");
    const std::size_t n0 = g.operations().size();
    auto values_of = [](const std::vector<sf::Variable>& vs) {
      std::vector<sf::Output> out;
      for (const auto& v : vs) out.push_back(v.value());
      return out;
    };
    auto with = [](std::vector<sf::Output> a, const std::vector<sf::Output>& b) {
      a.insert(a.end(), b.begin(), b.end());
      return a;
    };
    auto y1 = sf::layers::batch_normalization(x, true, {.name = "bn1"});
    auto w = sf::placeholder(sf::float32, {2, 3, 3, 4}, "w");
    auto l1 = sf::reduce_sum(y1 * w);
    auto gr1 = sf::gradients(l1, with({x}, values_of(sf::trainable_variables("bn1"))));
    auto y2 = sf::layers::batch_normalization(x, training,
                                              {.momentum = 0.9,
                                               .beta_initializer = sf::constant_initializer(0.25),
                                               .gamma_initializer = sf::constant_initializer(1.5),
                                               .name = "bn2"});
    auto l2 = sf::reduce_sum(y2 * w);
    auto gr2 = sf::gradients(l2, with({x}, values_of(sf::trainable_variables("bn2"))));
    auto xc = sf::placeholder(sf::float32, {2, 4, 3, 3}, "xc");
    auto y3 =
        sf::layers::batch_normalization(xc, true, {.axis = 1, .center = false, .scale = false});
    auto z = sf::placeholder(sf::float32, {5, 3}, "z");
    auto y4 = sf::layers::batch_normalization(z, training, {.epsilon = 0.01, .name = "dense_bn"});
    auto wz = sf::placeholder(sf::float32, {5, 3}, "wz");
    auto l4 = sf::reduce_sum(y4 * wz);
    auto gr4 = sf::gradients(l4, with({z}, values_of(sf::trainable_variables("dense_bn"))));
    auto y5 = sf::layers::batch_normalization(z, false, {.name = "dense_bn", .reuse = true});
    Result out;
    auto ops = g.operations();
    for (std::size_t i = n0; i < ops.size(); ++i)
      if (const std::string line = op_line(ops[i]);
          ops[i].name().find("/Initializer/") == std::string::npos &&
          ops[i].name().rfind("gradients_2/", 0) != 0)
        out.push_back(line);
    for (const auto& v : sf::global_variables())
      out.push_back(v.op().name() + " " + dims(v.shape()) + (v.trainable() ? " True" : " False"));
    std::string updates = "UPDATE_OPS";
    for (const auto& u : sf::get_collection<sf::Operation>(sf::GraphKeys::UPDATE_OPS))
      updates += " " + u.name();
    out.push_back(updates);
    for (const auto& y : {y1, y2, y3, y4, y5}) out.push_back(dims(y.shape()));
    {
      const std::string e = err([] {
        sf::layers::batch_normalization(sf::placeholder(sf::float32, {2, -1}));
      });
      out.push_back(e.substr(0, e.find(" Received")));
    }
    out.push_back(err([&] { sf::layers::batch_normalization(x, false, {.name = "bn1"}); }));
    const auto xv = pattern(72, [](float i) { return (std::fmod(i * 7, 11.0f) - 5.0f) / 4.0f; });
    const auto xcv = pattern(72, [](float i) {
      const float a = (std::fmod(i * 5, 13.0f) - 5.5f) / 3.0f;
      return a + i / 32.0f;
    });
    const auto zv = pattern(15, [](float i) {
      const float a = (std::fmod(i * 3, 7.0f) - 2.25f) / 2.0f;
      return a + i / 16.0f;
    });
    const auto wv = pattern(72, [](float i) { return (std::fmod(i * 5, 9.0f) - 2.5f) / 3.0f; });
    const auto wzv = pattern(15, [](float i) { return (std::fmod(i * 2, 5.0f) - 1.5f) / 2.0f; });
    std::vector<sf::Variable> moving;
    for (const auto& v : sf::global_variables())
      if (v.op().name().find("moving") != std::string::npos) moving.push_back(v);
    std::vector<sf::Operation> update_ops =
        sf::get_collection<sf::Operation>(sf::GraphKeys::UPDATE_OPS);
    sf::Session s;
    s.run(sf::global_variables_initializer());
    sf::FeedDict feed{{x, sf::Tensor::from_vector<float>(xv, {2, 3, 3, 4})},
                      {xc, sf::Tensor::from_vector<float>(xcv, {2, 4, 3, 3})},
                      {z, sf::Tensor::from_vector<float>(zv, {5, 3})},
                      {w, sf::Tensor::from_vector<float>(wv, {2, 3, 3, 4})},
                      {wz, sf::Tensor::from_vector<float>(wzv, {5, 3})},
                      {training, sf::Tensor::from_scalar(true)}};
    auto emit = [&](const std::vector<sf::Output>& ts) {
      for (const auto& t : s.run(ts, feed)) out.push_back(golden_vals({t}, "%.4g"));
    };
    auto moving_values = [&] {
      for (const auto& v : moving)
        out.push_back(v.op().name() + " " + golden_vals({s.run(v.value())}, "%.4g"));
    };
    emit(with(with(with({y1, y2, y3, y4}, gr1), gr2), gr4));
    s.run({}, update_ops, feed);
    s.run({}, update_ops, feed);
    moving_values();
    feed.back().second = sf::Tensor::from_scalar(false);  // training
    emit(with(with({y2, y4, y5}, gr2), gr4));
    s.run({}, update_ops, feed);
    moving_values();
    return out;
  };
  m["layers_batch_norm_layouts"] = [] {
    auto g = sf::get_default_graph();
    auto xc = sf::placeholder(sf::float32, {2, 4, 3, 3}, "xc");
    auto wc = sf::placeholder(sf::float32, {2, 4, 3, 3}, "wc");
    auto training = sf::placeholder(sf::bool_, {}, "training");
    auto x5 = sf::placeholder(sf::float32, {2, 3, 2, 2, 4}, "x5");
    const std::size_t n0 = g.operations().size();
    auto y1 = sf::layers::batch_normalization(xc, training, {.axis = 1, .name = "nchw"});
    std::vector<sf::Output> xs{xc};
    for (const auto& v : sf::trainable_variables("nchw")) xs.push_back(v.value());
    auto gr1 = sf::gradients(sf::reduce_sum(y1 * wc), xs);
    auto y5 = sf::layers::batch_normalization(x5, true, {.name = "ndhwc"});
    auto y6 = sf::layers::batch_normalization(x5, true, {.axis = 1, .name = "ncdhw"});
    auto ones = sf::ones({4});
    auto zeros = sf::zeros({4});
    auto ye = sf::nn::fused_batch_norm(xc, ones, zeros, {}, {}, 1e-7, "NCHW", true, "eps").y;
    Result out;
    auto ops = g.operations();
    for (std::size_t i = n0; i < ops.size(); ++i)
      if (const std::string line = op_line(ops[i]);
          ops[i].name().find("/Initializer/") == std::string::npos)
        out.push_back(line);
    char eps[32];
    std::snprintf(eps, sizeof eps, "epsilon %.3g",
                  static_cast<double>(ye.op().attrs().get<float>("epsilon")));
    out.push_back(eps);
    for (const auto& y : {y1, y5, y6}) out.push_back(dims(y.shape()));
    const auto xcv = pattern(72, [](float i) {
      const float a = (std::fmod(i * 5, 13.0f) - 5.5f) / 3.0f;
      return a + i / 32.0f;
    });
    const auto wcv = pattern(72, [](float i) { return (std::fmod(i * 7, 9.0f) - 3.5f) / 4.0f; });
    const auto x5v = pattern(96, [](float i) {
      const float a = (std::fmod(i * 3, 11.0f) - 4.5f) / 3.0f;
      return a + i / 64.0f;
    });
    std::vector<sf::Variable> moving;
    for (const auto& v : sf::global_variables())
      if (v.op().name().find("moving") != std::string::npos) moving.push_back(v);
    const auto updates = sf::get_collection<sf::Operation>(sf::GraphKeys::UPDATE_OPS);
    sf::Session s;
    s.run(sf::global_variables_initializer());
    for (bool t : {true, false}) {
      const sf::FeedDict feed{{xc, sf::Tensor::from_vector<float>(xcv, {2, 4, 3, 3})},
                              {wc, sf::Tensor::from_vector<float>(wcv, {2, 4, 3, 3})},
                              {x5, sf::Tensor::from_vector<float>(x5v, {2, 3, 2, 2, 4})},
                              {training, sf::Tensor::from_scalar(t)}};
      std::vector<sf::Output> fetch{y1};
      fetch.insert(fetch.end(), gr1.begin(), gr1.end());
      for (const auto& r : s.run(fetch, feed)) out.push_back(golden_vals({r}, "%.4g"));
      s.run({}, updates, feed);
    }
    const sf::FeedDict feed{{xc, sf::Tensor::from_vector<float>(xcv, {2, 4, 3, 3})},
                            {x5, sf::Tensor::from_vector<float>(x5v, {2, 3, 2, 2, 4})}};
    for (const auto& r : s.run({y5, y6, ye}, feed)) out.push_back(golden_vals({r}, "%.4g"));
    for (const auto& v : moving)
      out.push_back(v.op().name() + " " + golden_vals({s.run(v.value())}, "%.4g"));
    return out;
  };
  m["layers_dense_tensordot"] = [] {
    auto g = sf::get_default_graph();
    auto x = sf::placeholder(sf::float32, {-1, 5, 3}, "x");
    auto x2 = sf::placeholder(sf::float32, {2, 5, 3}, "x2");
    auto a = sf::placeholder(sf::float32, {2, 3, 4}, "a");
    auto b = sf::placeholder(sf::float32, {4, 3, 6}, "b");
    const std::size_t n0 = g.operations().size();
    auto y = sf::layers::dense(
        x, 4, {.activation = [](const sf::Output& v) { return sf::nn::relu(v); }, .name = "proj"});
    auto y2 = sf::layers::dense(x2, 4, {.name = "proj", .reuse = true});
    auto t = sf::tensordot(a, b, {1, 2}, {1, 0});
    auto t2 = sf::tensordot(a, b, 1);
    auto tm = sf::tensordot(a, x, {1}, {2}, "mixed");
    const auto vars = sf::trainable_variables("proj");
    const sf::Variable kernel = vars.at(0), bias = vars.at(1);
    auto gr = sf::gradients(sf::reduce_sum(y * y), {x, kernel.value(), bias.value()});
    auto gt = sf::gradients(sf::reduce_sum(tm * tm), {x, a});
    Result out;
    auto ops = g.operations();
    for (std::size_t i = n0; i < ops.size(); ++i)
      if (const std::string line = op_line(ops[i]);
          ops[i].name().find("/Initializer/") == std::string::npos)
        out.push_back(line);
    std::vector<sf::Output> fetch{y, y2, t, t2, tm};
    fetch.insert(fetch.end(), gr.begin(), gr.end());
    fetch.insert(fetch.end(), gt.begin(), gt.end());
    for (const auto& f : fetch) out.push_back(dims(f.shape()));
    for (const auto& v : sf::global_variables())
      out.push_back(v.op().name() + " " + dims(v.shape()));
    const auto xv =
        pattern(30, [](float i) { return (std::fmod(i * 7, 11.0f) - 5.0f) / 4.0f + i / 41.0f; });
    const auto av =
        pattern(24, [](float i) { return (std::fmod(i * 5, 13.0f) - 6.0f) / 5.0f + i / 37.0f; });
    const auto bv = pattern(72, [](float i) { return (std::fmod(i * 3, 7.0f) - 3.0f) / 3.0f; });
    const auto kv = pattern(12, [](float i) { return (std::fmod(i * 5, 9.0f) - 4.0f) / 3.0f; });
    auto set_kernel = kernel.assign(sf::constant(kv, {3, 4}));
    auto set_bias = bias.assign(sf::constant(std::vector<float>{0.25f, -0.5f, 0.75f, 0.0f}, {4}));
    sf::Session s;
    s.run(sf::global_variables_initializer());
    s.run({set_kernel, set_bias});
    const auto xt = sf::Tensor::from_vector<float>(xv, {2, 5, 3});
    for (const auto& r : s.run(fetch, {{x, xt},
                                       {x2, xt},
                                       {a, sf::Tensor::from_vector<float>(av, {2, 3, 4})},
                                       {b, sf::Tensor::from_vector<float>(bv, {4, 3, 6})}}))
      out.push_back(golden_vals({r}, "%.4g"));
    return out;
  };
  m["math_broadcast_gradients"] = [] {
    auto g = sf::get_default_graph();
    auto a = sf::placeholder(sf::float32, {-1, 3}, "a");
    auto b = sf::placeholder(sf::float32, {3}, "b");
    auto c = sf::placeholder(sf::float32, {2, 1}, "c");
    auto d = sf::placeholder(sf::float32, {2, 3}, "d");
    auto e = sf::placeholder(sf::float32, {-1, -1}, "e");
    auto r = sf::placeholder(sf::float32, {1, 3}, "r");
    auto u = sf::placeholder(sf::float32, sf::Shape::unknown(), "u");
    auto big = sf::placeholder(sf::float32, {40, 40}, "big");
    auto c2 = sf::placeholder(sf::float32, {40, 1}, "c2");
    const std::size_t n0 = g.operations().size();
    // One statement each: C++ leaves the order of a braced list's operands unspecified, not
    // its elements.
    std::vector<sf::Output> ys;
    ys.push_back(a + b);
    ys.push_back(a - b);
    ys.push_back(a * b);
    ys.push_back(a / b);
    ys.push_back(sf::pow(d, c));
    ys.push_back(sf::squared_difference(d, c));
    ys.push_back(d * d);
    ys.push_back(d - c);
    ys.push_back(e * b);
    ys.push_back(d + 2.0f);
    ys.push_back(sf::squared_difference(d, d));
    ys.push_back(d + d);
    ys.push_back(b * r);
    ys.push_back(u * b);
    ys.push_back(r * a);
    ys.push_back(sf::pow(big, c2));
    auto gr = sf::gradients(ys, {a, b, c, d, e, r, u, big, c2});
    Result out;
    auto ops = g.operations();
    for (std::size_t i = n0; i < ops.size(); ++i) out.push_back(op_line(ops[i]));
    for (const auto& t : gr) out.push_back(t.shape().has_rank() ? dims(t.shape()) : "None");
    auto vals = [](std::int64_t n, auto f) { return pattern(n, f); };
    sf::Session s;
    const sf::FeedDict feed{
        {a, sf::Tensor::from_vector<float>(
                vals(6, [](float i) { return std::fmod(i * 5, 7.0f) / 3.0f + 0.5f; }), {2, 3})},
        {b, sf::Tensor::from_vector<float>({1.5f, -0.75f, 2.0f}, {3})},
        {c, sf::Tensor::from_vector<float>({0.5f, 1.25f}, {2, 1})},
        {d, sf::Tensor::from_vector<float>(
                vals(6, [](float i) { return std::fmod(i * 3, 5.0f) / 2.0f + 0.25f; }), {2, 3})},
        {e, sf::Tensor::from_vector<float>(
                vals(6, [](float i) { return std::fmod(i * 7, 11.0f) / 4.0f - 1.0f; }), {2, 3})},
        {r, sf::Tensor::from_vector<float>({0.25f, -1.5f, 0.5f}, {1, 3})},
        {u, sf::Tensor::from_vector<float>(
                vals(6, [](float i) { return std::fmod(i * 2, 5.0f) / 3.0f - 0.5f; }), {2, 3})},
        {big,
         sf::Tensor::from_vector<float>(
             vals(1600, [](float i) { return std::fmod(i, 13.0f) / 7.0f + 0.125f; }), {40, 40})},
        {c2, sf::Tensor::from_vector<float>(
                 vals(40, [](float i) { return std::fmod(i, 3.0f) / 2.0f + 0.5f; }), {40, 1})}};
    const auto rs = s.run(gr, feed);
    for (std::size_t k = 0; k < rs.size(); ++k)
      if (k != 7) out.push_back(golden_vals({rs[k]}, k == 8 ? "%.4g" : "%.5g"));
    double big_sum = 0.0;  // numpy's sum of the float32 gradient: pairwise, in float32
    for (float v : rs[7].to_vector<float>()) big_sum += v;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", big_sum);
    out.push_back(buf);
    return out;
  };
  m["math_tile_range_reductions"] = [] {
    auto g = sf::get_default_graph();
    auto x = sf::placeholder(sf::float32, {-1, 3}, "x");
    auto y = sf::placeholder(sf::float32, {2, 3}, "y");
    auto u = sf::placeholder(sf::float32, sf::Shape::unknown(), "u");
    auto w = sf::placeholder(sf::float32, {2, 1, 3}, "w");
    auto big = sf::placeholder(sf::float32, {40, 40}, "big");
    const std::size_t n0 = g.operations().size();
    auto ints = [](std::vector<std::int32_t> v) {
      const auto n = static_cast<std::int64_t>(v.size());
      return sf::constant(v, {n});
    };
    auto floats = [](std::vector<float> v) {
      const auto n = static_cast<std::int64_t>(v.size());
      return sf::constant(v, {n});
    };
    // One statement each (C++ leaves the order of a call's arguments unspecified).
    std::vector<sf::Output> fwd;
    fwd.push_back(sf::tile(y, {2, 1}));
    auto mult = ints({1, 2});
    fwd.push_back(sf::tile(x, mult));
    fwd.push_back(sf::range(5));
    fwd.push_back(sf::range(1, 10, 3));
    fwd.push_back(sf::range(0.5, 2.0, 0.25));
    fwd.push_back(sf::range(10, 1, -4));
    fwd.push_back(sf::range(0, 2.5, 0.5));
    auto r_start = sf::constant(3);
    auto r_limit = sf::constant(std::int64_t{9});
    fwd.push_back(sf::range(r_start, r_limit, 2));
    auto fm_x = ints({7, -7, 7, -7, 0});
    auto fm_y = ints({3, 3, -3, -3, 5});
    fwd.push_back(sf::floormod(fm_x, fm_y));
    auto mod_x = floats({5.5f, -5.5f, 5.5f, -5.5f});
    auto mod_y = floats({2.0f, 2.0f, -2.0f, -2.0f});
    fwd.push_back(mod_x % mod_y);
    auto fd_x = ints({7, -7, 7, -7});
    auto fd_y = ints({3, 3, -3, -3});
    fwd.push_back(sf::floordiv(fd_x, fd_y));
    auto fdf_x = floats({5.5f, -5.5f});
    auto fdf_y = floats({2.0f, 2.0f});
    fwd.push_back(sf::floordiv(fdf_x, fdf_y));
    auto st_0 = ints({0, 2});
    auto st_1 = sf::constant(std::vector<std::int32_t>{1, 3}, {2, 1});
    fwd.push_back(sf::dynamic_stitch({st_0, st_1}, {y, w}));
    fwd.push_back(sf::zeros_like(x));
    fwd.push_back(sf::zeros_like(y));
    fwd.push_back(sf::ones_like(x));
    fwd.push_back(sf::ones_like(y));
    fwd.push_back(sf::zeros_like(big));
    fwd.push_back(sf::zeros_like(x, sf::int32));
    fwd.push_back(sf::ones_like(y, sf::int32));
    std::vector<sf::Output> ys{fwd[0], fwd[1]};
    ys.push_back(sf::reduce_sum(x));
    ys.push_back(sf::reduce_sum(x, 1));
    ys.push_back(sf::reduce_sum(y, 0));
    auto yy = y * y;
    ys.push_back(sf::reduce_sum(yy, 0));
    ys.push_back(sf::reduce_sum(y, -1, true));
    ys.push_back(sf::reduce_sum(y));
    ys.push_back(sf::reduce_sum(u, {0}));
    ys.push_back(sf::reduce_mean(x));
    ys.push_back(sf::reduce_mean(x, 1, true));
    ys.push_back(sf::reduce_mean(y, 0));
    ys.push_back(sf::reduce_mean(u, 1));
    ys.push_back(sf::reduce_max(x, 1));
    ys.push_back(sf::reduce_max(y, 1, true));
    ys.push_back(sf::reduce_max(y, {0, 1}));
    auto divisors = floats({2.0f, 3.0f, 4.0f});
    ys.push_back(sf::floormod(x, divisors));
    ys.push_back(fwd[12]);
    ys.push_back(sf::reduce_mean(u));
    auto max_y = sf::reduce_max(y);
    ys.push_back(sf::reduce_sum(max_y));
    auto y2 = y * 2.0f;
    auto sum_y2 = sf::reduce_sum(y2);
    ys.push_back(sf::reduce_max(sum_y2));
    auto gr = sf::gradients(ys, {x, y, u, w});
    Result out;
    auto ops = g.operations();
    for (std::size_t i = n0; i < ops.size(); ++i) out.push_back(op_line(ops[i]));
    for (const auto* list : {&fwd, &ys, &gr})
      for (const auto& t : *list) out.push_back(t.shape().has_rank() ? dims(t.shape()) : "None");
    auto yv = pattern(6, [](float i) { return std::fmod(i * 3, 5.0f) / 2.0f + 0.25f; });
    for (std::size_t k = 1; k < yv.size(); k += 3) yv[k] = -yv[k];
    const sf::FeedDict feed{
        {x, sf::Tensor::from_vector<float>(
                pattern(6, [](float i) { return std::fmod(i * 5, 7.0f) / 3.0f + 0.5f; }), {2, 3})},
        {y, sf::Tensor::from_vector<float>(yv, {2, 3})},
        {u, sf::Tensor::from_vector<float>(
                pattern(6, [](float i) { return std::fmod(i * 7, 11.0f) / 4.0f - 1.0f; }), {2, 3})},
        {w,
         sf::Tensor::from_vector<float>(
             pattern(6, [](float i) { return std::fmod(i * 2, 5.0f) / 3.0f - 0.5f; }), {2, 1, 3})},
        {big, sf::Tensor::from_vector<float>(std::vector<float>(1600, 0.0f), {40, 40})}};
    sf::Session s;
    std::vector<sf::Output> fetch(fwd.begin(), fwd.begin() + 17);
    fetch.insert(fetch.end(), fwd.begin() + 18, fwd.end());
    fetch.insert(fetch.end(), gr.begin(), gr.end());
    for (const auto& t : s.run(fetch, feed)) out.push_back(golden_vals({t}, "%.5g"));
    out.push_back(golden_vals({s.run(sf::reduce_sum(fwd[17]), feed)}, "%.5g"));
    // TF's words, without its " for '{{node ...}}'" and ScopeFlow's "node: " prefix.
    auto bare = [](std::string e) {
      const auto colon = e.find(": ");
      return colon == std::string::npos || e.rfind("no error", 0) == 0 ? e : e.substr(colon + 2);
    };
    out.push_back(bare(err([] { sf::range(1, 5, 0); })));
    out.push_back(bare(err([] { sf::range(5, 1, 1); })));
    out.push_back(bare(err([] { sf::range(1, 5, -1); })));
    out.push_back(bare(err([&] { sf::tile(y, {1, 2, 3}); })));
    out.push_back(bare(err([&] { sf::tile(y, {-1, 2}); })));
    return out;
  };
  return m;
}

nlohmann::json load_golden() {
  std::ifstream in(SF_TF_GOLDEN_JSON);
  if (!in) throw std::runtime_error("cannot open " SF_TF_GOLDEN_JSON);
  return nlohmann::json::parse(in);
}

TEST(TfGoldenTest, EveryGoldenCaseHasAScopeFlowTwinAndAgrees) {
  const auto golden = load_golden();
  const auto impls = cases();
  ASSERT_FALSE(golden["cases"].empty());
  for (const auto& [name, expected] : golden["cases"].items()) {
    SCOPED_TRACE(name);
    auto it = impls.find(name);
    ASSERT_NE(it, impls.end()) << "no ScopeFlow implementation of golden case " << name;
    Result want;
    for (const auto& s : expected) want.push_back(map_tf(s.get<std::string>()));
    sf::reset_default_graph();
    const Result got = it->second();
    EXPECT_EQ(got, want);
    // The first lines that differ, whole (gtest elides long lists).
    for (std::size_t i = 0, shown = 0; i < std::max(got.size(), want.size()) && shown < 4; ++i) {
      const std::string g = i < got.size() ? got[i] : "(none)";
      const std::string w = i < want.size() ? want[i] : "(none)";
      if (g != w) {
        ADD_FAILURE() << name << " line " << i << ":\n  got  " << g << "\n  want " << w;
        ++shown;
      }
    }
  }
  for (const auto& [name, fn] : impls)
    EXPECT_TRUE(golden["cases"].contains(name)) << name << " has no golden result";
}

}  // namespace
