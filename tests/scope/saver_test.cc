// Saver: safetensors round trip, restore checks (names, shapes, checksums), max_to_keep,
// latest_checkpoint, an interrupted save, a file read back by numpy, and the dict form of
// var_list (names of the checkpoint's choosing).
#include <gtest/gtest.h>
#include <scopeflow/scopeflow.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

namespace {

class SaverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sf::reset_default_graph();
    dir_ = fs::temp_directory_path() /
           ("sf_saver_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(SaverTest, RoundTripKeyedByVariableName) {
  sf::Variable w, b;
  {
    sf::variable_scope s("conv1");
    w = sf::get_variable("weights", {2, 3},
                         {.initializer = sf::random_normal_initializer(0, 1, 1)});
    b = sf::get_variable("biases", {3},
                         {.dtype = sf::int64, .initializer = sf::ones_initializer()});
  }
  sf::Session s1;
  s1.run(sf::global_variables_initializer());
  sf::train::Saver saver;
  const std::string path = saver.save(s1, (dir_ / "model.ckpt").string(), 7);
  EXPECT_EQ(fs::path(path).filename(), "model.ckpt-7.safetensors");
  EXPECT_EQ(sf::train::latest_checkpoint(dir_.string()), path);
  sf::Session s2;
  EXPECT_THROW(s2.run(w), sf::FailedPreconditionError);
  saver.restore(s2, path);
  EXPECT_EQ(s2.run(w).to_vector<float>(), s1.run(w).to_vector<float>());
  EXPECT_EQ(s2.run(b).to_vector<std::int64_t>(), std::vector<std::int64_t>(3, 1));
}

TEST_F(SaverTest, RestoreChecksShapesNamesAndChecksums) {
  auto v = sf::get_variable("v", {4}, {.initializer = sf::constant_initializer(3.0)});
  sf::Session s;
  s.run(v.initializer());
  sf::train::Saver saver;
  const std::string path = saver.save(s, (dir_ / "ok").string());
  // Corrupt one data byte: the checksum catches it and the variable keeps its value.
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-2, std::ios::end);
    f.put(static_cast<char>(0x7f));
  }
  s.run(v.assign(sf::constant(std::vector<float>{9, 9, 9, 9}, {4})));
  try {
    saver.restore(s, path);
    FAIL();
  } catch (const sf::InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("checksum mismatch for v"), std::string::npos) << e.what();
  }
  EXPECT_EQ(s.run(v).to_vector<float>(), std::vector<float>(4, 9.0f));
  EXPECT_THROW(saver.restore(s, (dir_ / "missing.safetensors").string()), sf::NotFoundError);

  // A graph whose variable has another shape.
  const std::string good = saver.save(s, (dir_ / "good").string());
  sf::reset_default_graph();
  auto v2 = sf::get_variable("v", {5});
  sf::Session s2;
  try {
    sf::train::Saver().restore(s2, good);
    FAIL();
  } catch (const sf::InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("v has shape [4] in the file, the variable has shape [5]"),
              std::string::npos)
        << e.what();
  }
  sf::reset_default_graph();
  auto other = sf::get_variable("other", {4});
  sf::Session s3;
  EXPECT_THROW(sf::train::Saver().restore(s3, good), sf::NotFoundError);
}

TEST_F(SaverTest, MaxToKeepAndAnInterruptedSave) {
  auto v = sf::get_variable("v", {2}, {.initializer = sf::zeros_initializer()});
  sf::Session s;
  s.run(v.initializer());
  sf::train::Saver saver({.max_to_keep = 2});
  std::vector<std::string> paths;
  for (int step = 1; step <= 3; ++step) paths.push_back(saver.save(s, (dir_ / "m").string(), step));
  EXPECT_FALSE(fs::exists(paths[0]));
  EXPECT_TRUE(fs::exists(paths[1]));
  EXPECT_TRUE(fs::exists(paths[2]));
  // A save killed before its rename leaves only a .tmp: the last good checkpoint still loads.
  std::ofstream(paths[2] + ".tmp") << "partial";
  EXPECT_EQ(sf::train::latest_checkpoint(dir_.string()), paths[2]);
  EXPECT_NO_THROW(saver.restore(s, sf::train::latest_checkpoint(dir_.string())));
  EXPECT_EQ(sf::train::latest_checkpoint((dir_ / "nowhere").string()), "");
}

TEST_F(SaverTest, NumpyReadsTheFile) {
  // Debian's python3-numpy (scripts/setup.sh) lives beside /usr/bin/python3.
  const std::string py = fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  if (std::system((py + " -c 'import numpy' > /dev/null 2>&1").c_str()) != 0)
    GTEST_SKIP() << py << " has no numpy (install python3-numpy)";
  auto v = sf::get_variable("conv1/weights",
                            {.initializer = sf::constant(std::vector<float>{1.5f, -2, 3}, {3})});
  sf::Session s;
  s.run(v.initializer());
  const std::string path = sf::train::Saver().save(s, (dir_ / "np").string());
  const std::string script = (dir_ / "read.py").string();
  std::ofstream(script)
      << "import json, struct, sys\nimport numpy as np\n"
         "b = open(sys.argv[1], 'rb').read()\n"
         "n = struct.unpack('<Q', b[:8])[0]\nh = json.loads(b[8:8 + n])\n"
         "e = h['conv1/weights']\ns, t = e['data_offsets']\n"
         "a = np.frombuffer(b[8 + n + s:8 + n + t], dtype=np.float32).reshape(e['shape'])\n"
         "assert a.tolist() == [1.5, -2.0, 3.0], a\nprint('numpy ok')\n";
  EXPECT_EQ(std::system((py + " " + script + " " + path + " > /dev/null").c_str()), 0);
}

}  // namespace

namespace {

// TF's dict var_list: variables saved under the names given, and restored from those names
// into variables named otherwise (a model's weights loaded into another scope); a partitioned
// variable goes whole under its name.
TEST_F(SaverTest, VarDictSavesAndRestoresUnderTheGivenNames) {
  sf::Variable w = sf::get_variable(
      "tower/w", {.initializer = sf::constant(std::vector<float>{1, 2, 3, 4}, {2, 2})});
  sf::Variable emb = sf::get_variable(
      "emb", {.initializer = sf::constant(std::vector<float>{1, 2, 3, 4, 5, 6}, {3, 2}),
              .partitioner = sf::fixed_size_partitioner(2)});
  std::string path;
  {
    sf::Session s;
    s.run(sf::global_variables_initializer());
    sf::train::Saver saver(
        {.var_dict = std::map<std::string, sf::Variable>{{"w", w}, {"table", emb}}});
    path = saver.save(s, (dir_ / "dict").string());
  }
  sf::reset_default_graph();
  sf::Variable w2 = sf::get_variable("other/weights", {2, 2});
  sf::Variable t2 = sf::get_variable("lookup", {3, 2});  // unpartitioned this time
  sf::Session s;
  sf::train::Saver({.var_dict = std::map<std::string, sf::Variable>{{"w", w2}, {"table", t2}}})
      .restore(s, path);
  EXPECT_EQ(s.run(w2).to_vector<float>(), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(s.run(t2).to_vector<float>(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  // A name the file lacks is named in the error, with the variable it was for.
  try {
    sf::train::Saver({.var_dict = std::map<std::string, sf::Variable>{{"nope", w2}}})
        .restore(s, path);
    ADD_FAILURE() << "restored a missing name";
  } catch (const sf::NotFoundError& e) {
    EXPECT_NE(std::string(e.what()).find("no tensor for variable nope (other/weights)"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(sf::train::Saver({.var_list = std::vector<sf::Variable>{w2},
                                 .var_dict = std::map<std::string, sf::Variable>{{"w", w2}}}),
               sf::ValueError);
}

}  // namespace

namespace {

// A path saved again (no global step, or a repeated one) is the newest checkpoint: listed once,
// never deleted by max_to_keep (it was, when it counted twice). Old files go after "checkpoint"
// is rewritten, and an earlier Saver's checkpoints are taken over by recover_last_checkpoints.
TEST_F(SaverTest, ARepeatedPathIsKeptOnceAndNeverDeleted) {
  auto v = sf::get_variable("v", {2}, {.initializer = sf::zeros_initializer()});
  sf::Session s;
  s.run(v.initializer());
  sf::train::Saver saver({.max_to_keep = 2});
  std::string path;
  for (int i = 0; i < 6; ++i) path = saver.save(s, (dir_ / "model.ckpt").string());
  EXPECT_TRUE(fs::exists(path));
  EXPECT_EQ(saver.last_checkpoints(), std::vector<std::string>{path});
  auto state = sf::train::get_checkpoint_state(dir_.string());
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(state->model_checkpoint_path, path);
  EXPECT_EQ(state->all_model_checkpoint_paths, std::vector<std::string>{path});
  for (int step : {3, 3}) path = saver.save(s, (dir_ / "model.ckpt").string(), step);
  EXPECT_TRUE(fs::exists(path));
  EXPECT_EQ(sf::train::get_checkpoint_state(dir_.string())->all_model_checkpoint_paths.size(), 2u);

  // A second Saver (a resumed run) takes over the first one's list: max_to_keep = 2 then
  // deletes the oldest of them when it saves.
  sf::train::Saver resumed({.max_to_keep = 2});
  resumed.recover_last_checkpoints(
      sf::train::get_checkpoint_state((dir_.string() + "/")).value().all_model_checkpoint_paths);
  const std::string oldest = resumed.last_checkpoints().front();
  const std::string newest = resumed.save(s, (dir_ / "model.ckpt").string(), 4);
  EXPECT_FALSE(fs::exists(oldest));
  EXPECT_EQ(resumed.last_checkpoints(), (std::vector<std::string>{path, newest}));
  // Nothing but checkpoints and the state file: no temporary file is left behind.
  for (const auto& f : fs::directory_iterator(dir_))
    EXPECT_EQ(f.path().string().find(".tmp"), std::string::npos) << f.path();
}

// A failed write (a folder where the file should go) leaves no temporary file and the folder
// as it was.
TEST_F(SaverTest, AFailedSaveLeavesNoTemporaryFile) {
  auto v = sf::get_variable("v", {2}, {.initializer = sf::zeros_initializer()});
  sf::Session s;
  s.run(v.initializer());
  fs::create_directories(dir_ / "m-1.safetensors");
  EXPECT_THROW(sf::train::Saver().save(s, (dir_ / "m").string(), 1), sf::UnavailableError);
  std::vector<std::string> left;
  for (const auto& f : fs::directory_iterator(dir_)) left.push_back(f.path().filename().string());
  EXPECT_EQ(left, std::vector<std::string>{"m-1.safetensors"});
}

// Headers of the right syntax but the wrong shape of JSON: an InvalidArgumentError naming the
// file (and the tensor), never an escaped parser exception; no variable changes.
TEST_F(SaverTest, MalformedHeadersAreInvalidArgumentErrors) {
  auto v = sf::get_variable("v", {2}, {.initializer = sf::constant_initializer(1.0)});
  sf::random_uniform({3}, 0, 1, sf::float32, 5, "r");  // op r/RandomUniform: a counter
  sf::Session s;
  s.run(v.initializer());
  auto write = [&](const std::string& name, const std::string& header, std::size_t data = 8) {
    const std::string path = (dir_ / name).string();
    fs::create_directories(dir_);
    std::string h = header;
    while (h.size() % 8 != 0) h.push_back(' ');
    std::string bytes(8, '\0');
    for (int i = 0; i < 8; ++i)
      bytes[static_cast<std::size_t>(i)] = static_cast<char>((h.size() >> (8 * i)) & 0xff);
    std::ofstream(path, std::ios::binary) << bytes << h << std::string(data, '\0');
    return path;
  };
  const std::string ok = R"("dtype":"F32","shape":[2],"data_offsets":[0,8])";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[1,2,3]", "not a JSON object"},
      {R"({"v":5})", "corrupt header entry for v"},
      {R"({"v":{)" + ok + R"(},"__metadata__":7})", "__metadata__ is not an object"},
      {R"({"v":{"dtype":3,"shape":[2],"data_offsets":[0,8]}})", "corrupt header entry for v"},
      {R"({"v":{"dtype":"F32","data_offsets":[0,8]}})", "corrupt header entry for v"},
      {R"({"v":{"dtype":"F32","shape":["a"],"data_offsets":[0,8]}})", "corrupt header entry for v"},
      {R"({"v":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", "negative dimension -2"},
      {R"({"v":{)" + ok + R"(},"__metadata__":{"crc32.v":5}})", "corrupt header entry for v"},
      // A negative counter (it wrapped around to a huge one), and one of an op that is no
      // random op (ignored, as variables a var_list leaves out are).
      {R"({"v":{)" + ok +
           R"(},"__metadata__":{"scopeflow.random_counters":"{\"r/RandomUniform\":-5}"}})",
       "not a counter"},
      {R"({"v":{)" + ok + R"(},"__metadata__":{"scopeflow.random_counters":"{\"v\":-5}"}})", ""},
  };
  int i = 0;
  for (const auto& [header, message] : cases) {
    const std::string path = write("bad" + std::to_string(i++), header);
    if (message.empty()) {
      EXPECT_NO_THROW(sf::train::Saver().restore(s, path)) << header;
      s.run(v.initializer());
      continue;
    }
    try {
      sf::train::Saver().restore(s, path);
      ADD_FAILURE() << "no error for " << header;
    } catch (const sf::InvalidArgumentError& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
    EXPECT_EQ(s.run(v).to_vector<float>(), std::vector<float>(2, 1.0f)) << header;
  }
}

}  // namespace
