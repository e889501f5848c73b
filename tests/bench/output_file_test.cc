// The programs' output files (samples/common/output_file.h): bad paths fail before a run, and
// a write replaces the previous file whole or leaves it alone.
#include "samples/common/output_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "devices/base/errors.h"

namespace fs = std::filesystem;
namespace sf = scopeflow;
using sf::samples::check_output_dir;
using sf::samples::check_output_file;
using sf::samples::write_file_atomically;

namespace {
class OutputFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("sf_output_file_test_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::permissions(dir_ / "ro", fs::perms::owner_all, ec);
    fs::remove_all(dir_, ec);
  }
  static std::string read(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  // The message of the InvalidArgumentError `f` throws ("" when it throws nothing).
  template <class F>
  static std::string error_of(F f) {
    try {
      f();
    } catch (const sf::InvalidArgumentError& e) {
      return e.what();
    }
    return "";
  }
  fs::path dir_;
};
}  // namespace

TEST_F(OutputFileTest, WritableFileAndMissingFolder) {
  EXPECT_EQ(error_of([&] { check_output_file("--json", (dir_ / "r.json").string()); }), "");
  const std::string missing = (dir_ / "no" / "r.json").string();
  const std::string msg = error_of([&] { check_output_file("--json", missing); });
  EXPECT_NE(msg.find("--json: cannot write " + missing), std::string::npos) << msg;
  EXPECT_NE(msg.find("does not exist"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(dir_ / "no"));  // nothing created by a check
}

TEST_F(OutputFileTest, FolderInPlaceOfFileAndEmptyPath) {
  EXPECT_NE(error_of([&] { check_output_file("--json", dir_.string()); }).find("it is a folder"),
            std::string::npos);
  EXPECT_NE(error_of([&] { check_output_file("--dump_graph", ""); }).find("--dump_graph"),
            std::string::npos);
}

TEST_F(OutputFileTest, CheckKeepsAnExistingFile) {
  const fs::path p = dir_ / "old.json";
  std::ofstream(p) << "previous results";
  check_output_file("--json", p.string());
  EXPECT_EQ(read(p), "previous results");
}

TEST_F(OutputFileTest, ReadOnlyFolderIsRejected) {
  if (::geteuid() == 0) GTEST_SKIP() << "root writes into read-only folders";
  fs::create_directories(dir_ / "ro");
  fs::permissions(dir_ / "ro", fs::perms::owner_read | fs::perms::owner_exec);
  const std::string msg =
      error_of([&] { check_output_file("--json", (dir_ / "ro" / "r.json").string()); });
  EXPECT_NE(msg.find("--json: cannot write"), std::string::npos) << msg;
  EXPECT_NE(error_of([&] {
              check_output_dir("--checkpoint_dir", (dir_ / "ro" / "ck").string());
            }).find("--checkpoint_dir"),
            std::string::npos);
}

TEST_F(OutputFileTest, OutputDirIsCreatedAndFileInItsPlaceRejected) {
  const fs::path d = dir_ / "a" / "b";
  check_output_dir("--checkpoint_dir", d.string());
  EXPECT_TRUE(fs::is_directory(d));
  std::ofstream(dir_ / "file") << "x";
  EXPECT_NE(error_of([&] {
              check_output_dir("--checkpoint_dir", (dir_ / "file").string());
            }).find("not a folder"),
            std::string::npos);
}

TEST_F(OutputFileTest, AtomicWriteReplacesWholeAndLeavesNoTemporary) {
  const fs::path p = dir_ / "r.json";
  std::ofstream(p) << "previous results, longer than the new ones";
  write_file_atomically("--json", p.string(), "{}\n");
  EXPECT_EQ(read(p), "{}\n");
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir_)) files += e.is_regular_file();
  EXPECT_EQ(files, 1);  // no .tmp left behind
}

TEST_F(OutputFileTest, FailedAtomicWriteKeepsThePreviousFile) {
  const fs::path p = dir_ / "r.json";
  std::ofstream(p) << "previous results";
  // The temporary file cannot be created (a folder stands in its place): the write fails with
  // the flag's name and the previous file is intact.
  fs::create_directories(dir_ / ("r.json.tmp." + std::to_string(::getpid())));
  const std::string msg = error_of([&] { write_file_atomically("--json", p.string(), "x"); });
  EXPECT_NE(msg.find("--json: cannot write " + p.string()), std::string::npos) << msg;
  EXPECT_EQ(read(p), "previous results");
}
