// write_graphviz (runtime/graph_dot.h): clusters per name scope, data and control edges,
// colours per device with a legend, collapsed scopes, escaping, and `dot` accepting it.
#include <gtest/gtest.h>
#include <scopeflow/scopeflow.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace {

class GraphDotTest : public ::testing::Test {
 protected:
  void SetUp() override { sf::reset_default_graph(); }
};

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

// The fill colour of the node whose id is `id` ("n3").
std::string fill_of(const std::string& dot, const std::string& id) {
  std::smatch m;
  const std::regex re("\"" + id + "\" \\[[^\\n]*fillcolor=\"(#[0-9a-f]{6})\"");
  return std::regex_search(dot, m, re) ? m[1].str() : "";
}

std::string id_of(const sf::Operation& op) { return "n" + std::to_string(op.node()->id); }

// A weight on CPU:0 shared by two towers on CPU:1 and CPU:2, each under tower_i/conv1/.
struct TwoTowers {
  sf::Variable w;
  std::vector<sf::Output> x, y, loss;
  sf::Operation total;  // tower sums added on CPU:0, after tower_0's relu (control input)
};

TwoTowers build_two_towers() {
  TwoTowers t;
  {
    auto d = sf::device("/device:CPU:0");
    t.w = sf::get_variable("w", {4, 4}, {.initializer = sf::ones_initializer()});
  }
  for (int i = 0; i < 2; ++i) {
    auto d = sf::device("/device:CPU:" + std::to_string(i + 1));
    auto ns = sf::name_scope("tower_" + std::to_string(i));
    t.x.push_back(sf::placeholder(sf::float32, {2, 4}, "x"));
    auto inner = sf::name_scope("conv1");
    t.y.push_back(sf::nn::relu(sf::matmul(t.x.back(), t.w.value())));
    t.loss.push_back(sf::reduce_sum(t.y.back()));
  }
  auto d = sf::device("/device:CPU:0");
  auto deps = sf::control_dependencies({t.y[0].op()});
  t.total = (t.loss[0] + t.loss[1]).op();
  return t;
}

TEST_F(GraphDotTest, TwoTowersHaveClustersEdgesColoursAndLegend) {
  auto t = build_two_towers();
  std::ostringstream s;
  sf::write_graphviz(sf::get_default_graph(), s);
  const std::string dot = s.str();
  ASSERT_EQ(dot.rfind("digraph G {\n", 0), 0u) << dot;
  EXPECT_EQ(dot.substr(dot.size() - 2), "}\n");
  // Nested clusters labelled with their last component.
  for (const char* c : {"tower_0", "tower_1"}) {
    EXPECT_NE(dot.find(std::string("subgraph \"cluster_") + c + "\" {\n    label=\"" + c + "\""),
              std::string::npos)
        << c << "\n"
        << dot;
    EXPECT_NE(
        dot.find(std::string("subgraph \"cluster_") + c + "/conv1\" {\n      label=\"conv1\""),
        std::string::npos)
        << c << "\n"
        << dot;
  }
  // One node per op, labelled "name\nOpType"; the variable is a cylinder, Const small.
  EXPECT_EQ(count(dot, "label=\"MatMul\\nMatMul\""), 2) << dot;
  EXPECT_NE(dot.find("\"" + id_of(t.w.op()) + "\" [label=\"w\\nVariableV2\""), std::string::npos)
      << dot;
  EXPECT_NE(dot.find("shape=cylinder"), std::string::npos);
  EXPECT_NE(dot.find("shape=parallelogram"), std::string::npos);
  // Data edges with dtype and shape; the control edge dashed.
  const std::string x0 = id_of(t.x[0].op()), mm0 = id_of(t.y[0].op().inputs()[0].op());
  EXPECT_NE(dot.find("\"" + x0 + "\" -> \"" + mm0 + "\" [label=\"float32 [2,4]\"];"),
            std::string::npos)
      << dot;
  EXPECT_NE(dot.find("\"" + id_of(t.y[0].op()) + "\" -> \"" + id_of(t.total) +
                     "\" [style=dashed arrowhead=odot];"),
            std::string::npos)
      << dot;
  // Each device gets its own colour, and the legend lists them.
  const std::string c0 = fill_of(dot, id_of(t.w.op())), c1 = fill_of(dot, x0),
                    c2 = fill_of(dot, id_of(t.x[1].op()));
  ASSERT_FALSE(c0.empty());
  EXPECT_NE(c0, c1);
  EXPECT_NE(c1, c2);
  EXPECT_NE(c0, c2);
  EXPECT_EQ(fill_of(dot, mm0), c1);
  EXPECT_EQ(fill_of(dot, id_of(t.total)), c0);
  EXPECT_NE(dot.find("subgraph \"cluster_legend\""), std::string::npos);
  EXPECT_NE(dot.find("[label=\"/device:CPU:1\" shape=box fillcolor=\"" + c1 + "\"]"),
            std::string::npos)
      << dot;
  // The initializer's Const requests no device (it is colocated with w): white, "(no device)".
  EXPECT_NE(dot.find("[label=\"(no device)\" shape=box fillcolor=\"#ffffff\"]"), std::string::npos)
      << dot;
  EXPECT_EQ(count(dot, "\"legend_"), 4) << dot;
}

TEST_F(GraphDotTest, AssignedDevicesFromASessionColourTheOps) {
  auto t = build_two_towers();
  sf::Session sess({.device_count = {{"CPU", 3}}});
  std::ostringstream s;
  sf::write_graphviz(sf::get_default_graph(), s, {.device_of = [&](const sf::Operation& op) {
                       return sess.assigned_device(op);
                     }});
  const std::string dot = s.str();
  EXPECT_NE(dot.find("[label=\"/job:localhost/replica:0/task:0/device:CPU:2\" shape=box"),
            std::string::npos)
      << dot;
  EXPECT_EQ(count(dot, "\"legend_"), 3) << dot;
}

TEST_F(GraphDotTest, CollapsedScopesBecomeOneNode) {
  auto t = build_two_towers();
  auto grads = sf::gradients(sf::Output(t.total.output(0)), {t.w.value()});
  ASSERT_EQ(grads.size(), 1u);
  const int n_grad_ops = [] {
    int n = 0;
    for (const auto& op : sf::get_default_graph().operations())
      n += op.name().rfind("gradients/", 0) == 0;
    return n;
  }();
  ASSERT_GT(n_grad_ops, 3);
  std::ostringstream s;
  sf::write_graphviz(sf::get_default_graph(), s, {.collapse_prefixes = {"gradients/"}});
  const std::string dot = s.str();
  EXPECT_EQ(count(dot, "shape=box3d"), 1) << dot;
  EXPECT_NE(dot.find("[label=\"gradients\\n(" + std::to_string(n_grad_ops) + " ops)\""),
            std::string::npos)
      << dot;
  EXPECT_EQ(dot.find("cluster_gradients"), std::string::npos) << dot;
  EXPECT_EQ(dot.find("\"c0\" -> \"c0\""), std::string::npos) << "no self edges";
  // Edges into the collapsed node appear once per source.
  std::set<std::string> lines;
  std::istringstream in(dot);
  for (std::string line; std::getline(in, line);) {
    if (line.find("-> \"c0\"") != std::string::npos) {
      EXPECT_TRUE(lines.insert(line).second) << "duplicate: " << line;
    }
  }
  EXPECT_FALSE(lines.empty());
}

TEST_F(GraphDotTest, AStarPrefixCollapsesTheScopeAtAnyDepth) {
  auto t = build_two_towers();
  for (int i = 0; i < 2; ++i) {
    auto ns = sf::name_scope("tower_" + std::to_string(i) + "/");
    sf::gradients(t.loss[static_cast<std::size_t>(i)], {t.w.value()});
  }
  auto x = sf::placeholder(sf::float32, {2}, "gradientsx");  // not a "gradients" scope
  std::ostringstream s;
  sf::write_graphviz(sf::get_default_graph(), s, {.collapse_prefixes = {"*/gradients"}});
  const std::string dot = s.str();
  EXPECT_EQ(count(dot, "shape=box3d"), 2) << dot;
  for (const char* tower : {"tower_0", "tower_1"}) {
    EXPECT_NE(dot.find(std::string("tooltip=\"") + tower + "/gradients\" shape=box3d"),
              std::string::npos)
        << dot;
  }
  EXPECT_NE(dot.find("\"" + id_of(x.op()) + "\" [label=\"gradientsx\\nPlaceholder\""),
            std::string::npos)
      << dot;
  EXPECT_EQ(dot.find("cluster_tower_0/gradients"), std::string::npos) << dot;
}

TEST_F(GraphDotTest, QuotesAndBackslashesAreEscaped) {
  auto x = sf::placeholder(sf::float32, {2}, "x");
  auto y = x * 2.0f;
  std::ostringstream s;
  sf::write_graphviz(sf::get_default_graph(), s, {.device_of = [](const sf::Operation&) {
                       return std::string("my \"odd\" device\\0");
                     }});
  const std::string dot = s.str();
  EXPECT_NE(dot.find("label=\"my \\\"odd\\\" device\\\\0\""), std::string::npos) << dot;
  EXPECT_NE(dot.find("tooltip=\"x @ my \\\"odd\\\" device\\\\0\""), std::string::npos) << dot;
  // Every line has an even number of unescaped quotes.
  std::istringstream in(dot);
  for (std::string line; std::getline(in, line);) {
    int quotes = 0;
    for (std::size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '\\') {
        ++i;
      } else if (line[i] == '"') {
        ++quotes;
      }
    }
    EXPECT_EQ(quotes % 2, 0) << line;
  }
}

TEST_F(GraphDotTest, DotAcceptsTheOutput) {
  if (std::system("command -v dot >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "graphviz `dot` not on PATH";
  auto t = build_two_towers();
  sf::gradients(sf::Output(t.total.output(0)), {t.w.value()});
  const auto dir =
      std::filesystem::temp_directory_path() / ("sf_graph_dot_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  for (const bool collapse : {false, true}) {
    const auto dot_path = dir / "g.dot", svg_path = dir / "g.svg";
    {
      std::ofstream f(dot_path);
      sf::GraphvizOptions options;
      if (collapse) options.collapse_prefixes = {"gradients"};
      sf::write_graphviz(sf::get_default_graph(), f, options);
    }
    const std::string cmd = "dot -Tsvg '" + dot_path.string() + "' -o '" + svg_path.string() +
                            "' 2>'" + (dir / "err.txt").string() + "'";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    std::ifstream err(dir / "err.txt");
    const std::string warnings((std::istreambuf_iterator<char>(err)), {});
    EXPECT_EQ(warnings, "") << "collapse=" << collapse;
    EXPECT_GT(std::filesystem::file_size(svg_path), 1000u);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
