// The command line as CI uses it: exit codes, reports that parse, sharding,
// the reproduce command, and the spec page kept up to date.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/subprocess.h"

namespace ipcspec {
namespace {

using ::testing::HasSubstr;
using testing::IsValidJson;
using testing::Ran;
using testing::RunCommand;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ipcspec-cli-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { (void)std::system(("rm -rf " + dir_).c_str()); }
  Ran Ipcspec(std::vector<std::string> args, std::vector<std::string> env = {}) {
    args.insert(args.begin(), IPCSPEC_BINARY);
    return RunCommand(args, env);
  }
  std::string dir_;
};

TEST_F(CliTest, ListJsonParsesAndNamesEveryPart) {
  Ran r = Ipcspec({"list", "--format=json"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(IsValidJson(r.out)) << r.out;
  for (const char* key : {"\"transports\":[", "\"properties\":[", "\"caps\":{", "\"applies_to\":[",
                          "\"name\":\"pipe\"", "\"id\":\"G-ORDER\"", "\"reference\":"}) {
    EXPECT_THAT(r.out, HasSubstr(key));
  }
}

TEST_F(CliTest, UsageErrorsExitTwoWithAMessage) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {{}, "missing command"},
      {{"frobnicate"}, "unknown command 'frobnicate'"},
      {{"run", "--bogus=1"}, "unknown flag --bogus"},
      {{"run", "--transport=nosuch"}, "unknown transport 'nosuch'"},
      {{"run", "--property=G-NOPE"}, "unknown property 'G-NOPE'"},
      {{"run", "--examples=many"}, "--examples=many"},
      {{"run", "--examples=0"}, "--examples=0"},
      {{"run", "--seed=x"}, "--seed=x"},
      {{"run", "--timeout=soon"}, "--timeout=soon"},
      {{"run", "--json=/nonexistent-dir/r.json"}, "cannot write report"},
      {{"run", "--junit=/nonexistent-dir/r.xml"}, "cannot write report"},
      {{"list", "--format=yaml"}, "--format=yaml"},
      {{"replay", "/nonexistent-file"}, "cannot read /nonexistent-file"},
      {{"run", "--plugin=/nonexistent.so"}, "plugin /nonexistent.so"},
  };
  for (const Case& c : cases) {
    Ran r = Ipcspec(c.args);
    EXPECT_EQ(r.exit_code, 2) << ::testing::PrintToString(c.args) << "\n" << r.out;
    EXPECT_THAT(r.out, HasSubstr(c.message)) << ::testing::PrintToString(c.args);
  }
  Ran r = Ipcspec({"run", "--transport=pipe", "--property=G-ORDER"},
                  {"GTEST_TOTAL_SHARDS=2", "GTEST_SHARD_INDEX=5"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, HasSubstr("bad sharding environment"));
}

TEST_F(CliTest, ReplayOfGarbageIsAClearError) {
  const std::string path = dir_ + "/garbage";
  std::ofstream(path) << "not a scenario";
  Ran r = Ipcspec({"replay", path});
  EXPECT_EQ(r.exit_code, 2) << r.out;
}

TEST_F(CliTest, PassingRunWritesReportsThatParse) {
  const std::string json = dir_ + "/r.json", junit = dir_ + "/r.xml";
  Ran r = Ipcspec({"run", "--transport=pipe,posix_mq", "--property=G-ORDER,G-BOUNDARY",
                   "--examples=5", "--json=" + json, "--junit=" + junit});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("transport"));  // the matrix header
  const std::string j = ReadFile(json);
  EXPECT_TRUE(IsValidJson(j)) << j;
  EXPECT_THAT(j, HasSubstr("\"seed\":1"));
  EXPECT_THAT(
      j, HasSubstr("\"transport\":\"pipe\",\"property\":\"G-BOUNDARY\",\"outcome\":\"skipped\""));
  EXPECT_THAT(j, HasSubstr("excluded by capability framing=stream"));
  EXPECT_THAT(j, HasSubstr("\"summary\":{\"passed\":3,\"failed\":0,\"skipped\":1}"));
  const std::string x = ReadFile(junit);
  EXPECT_THAT(x, HasSubstr("<testsuites name=\"ipcspec\" tests=\"4\" failures=\"0\""));
  EXPECT_THAT(x, HasSubstr("<testcase classname=\"ipcspec.posix_mq\" name=\"G-ORDER\""));
  EXPECT_THAT(x,
              HasSubstr("<skipped message=\"skipped: excluded by capability framing=stream\"/>"));
}

TEST_F(CliTest, RandomSeedIsPrinted) {
  Ran r =
      Ipcspec({"run", "--transport=pipe", "--property=G-ORDER", "--examples=2", "--seed=random"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, ::testing::ContainsRegex("seed: [0-9]+"));
}

TEST_F(CliTest, ShardsSplitThePairsAndTouchTheStatusFile) {
  std::multiset<std::string> seen;
  for (int shard = 0; shard < 3; ++shard) {
    const std::string json = dir_ + "/s" + std::to_string(shard) + ".json";
    const std::string status = dir_ + "/status" + std::to_string(shard);
    Ran r = Ipcspec({"run", "--transport=pipe,posix_mq",
                     "--property=G-ORDER,G-BOUNDARY,G-DIRECTION", "--examples=2", "--json=" + json},
                    {"GTEST_TOTAL_SHARDS=3", "GTEST_SHARD_INDEX=" + std::to_string(shard),
                     "GTEST_SHARD_STATUS_FILE=" + status});
    ASSERT_EQ(r.exit_code, 0) << r.out;
    EXPECT_EQ(::access(status.c_str(), F_OK), 0) << "status file not touched";
    const std::string j = ReadFile(json);
    for (size_t at = j.find("\"transport\":"); at != std::string::npos;
         at = j.find("\"transport\":", at + 1)) {
      seen.insert(j.substr(at, j.find(",\"outcome\"", at) - at));
    }
  }
  EXPECT_EQ(seen.size(), 6u);  // 2 transports x 3 properties
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 6u)
      << "a pair ran on two shards";
}

TEST_F(CliTest, SpecPageIsUpToDate) {
  Ran r = Ipcspec({"list", "--format=markdown"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(ReadFile(std::string(IPCSPEC_SOURCE_DIR) + "/docs/spec.md"), r.out)
      << "docs/spec.md is out of date; regenerate it with\n  build/default/ipcspec list "
         "--format=markdown > docs/spec.md";
}

}  // namespace
}  // namespace ipcspec
