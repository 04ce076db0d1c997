// The command line as CI uses it: exit codes, reports that parse, sharding,
// the reproduce command, and the spec page kept up to date.
#include <unistd.h>

#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ipcspec/scenario.h"
#include "tests/cli_test_util.h"

namespace ipcspec::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class CliTest : public CliFixture {};

TEST_F(CliTest, ListJsonParsesAndNamesEveryPart) {
  Ran r = Ipcspec({"list", "--format=json"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_EQ(j["schema"], 1);
  bool pipe = false, order = false;
  for (const auto& t : j["transports"])
    pipe = pipe || (t["name"] == "pipe" && t["caps"].is_object());
  for (const auto& p : j["properties"]) {
    if (p["id"] != "G-ORDER") continue;
    order = true;
    EXPECT_EQ(p["family"], "G");
    EXPECT_FALSE(p["reference"].get<std::string>().empty());
    EXPECT_THAT(p["applies_to"].get<std::vector<std::string>>(), ::testing::Contains("pipe"));
  }
  EXPECT_TRUE(pipe && order) << r.out;
  EXPECT_FALSE(j["run"].empty());
  EXPECT_FALSE(j["not_applicable"].empty());
}

// Every pair that `list` (and `list --verbose`) leaves out says why.
TEST_F(CliTest, ListGivesAReasonForEverySkip) {
  Ran r = Ipcspec({"list", "--format=json"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  for (const auto& n : j["not_applicable"]) {
    EXPECT_FALSE(n["reason"].get<std::string>().empty()) << n;
  }
  Ran verbose = Ipcspec({"list", "--verbose", "--transport=pipe", "--property=G-BOUNDARY"});
  ASSERT_EQ(verbose.exit_code, 0) << verbose.out;
  EXPECT_THAT(verbose.out, ::testing::ContainsRegex("pipe +G-BOUNDARY +excluded by capability"));
}

TEST_F(CliTest, UsageErrorsExitTwoWithAOneLineMessage) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {{}, "missing command"},
      {{"frobnicate"}, "unknown command 'frobnicate'"},
      {{"run", "--bogus=1"}, "unknown flag --bogus"},
      {{"run", "-x"}, "unknown flag -x"},
      {{"run", "--examples"}, "--examples needs a value"},
      {{"run", "--fail-fast=maybe"}, "--fail-fast=maybe: expected true or false"},
      {{"run", "--transport=nosuch"}, "unknown transport 'nosuch'"},
      {{"run", "--property=G-NOPE"}, "unknown property 'G-NOPE'"},
      {{"run", "--property=G-ORDR"}, "did you mean G-ORDER"},
      {{"run", "--plugin=" IPCSPEC_PLUGIN_PIPE, "--plugin=" IPCSPEC_PLUGIN_PIPE},
       "loaded already (given twice?)"},
      {{"run", "--property=G-*,-G-NOPE"}, "unknown property 'G-NOPE'"},
      {{"run", "--examples=many"}, "--examples=many"},
      {{"run", "--examples=0"}, "--examples=0"},
      {{"run", "--examples=+5"}, "--examples=+5: expected a whole number"},
      {{"run", "--examples= 5"}, "--examples= 5: expected a whole number"},
      {{"--version", "extra"}, "--version takes no arguments"},
      {{"run", "--seed=x"}, "--seed=x"},
      {{"run", "--timeout=soon"}, "--timeout=soon"},
      {{"run", "--time-unit=0s"}, "--time-unit=0s"},
      {{"run", "--hang-grace=-1s"}, "--hang-grace=-1s"},
      {{"run", "--shrink-time=-1s"}, "--shrink-time=-1s: expected a duration from 0 to 24h"},
      {{"run", "--jobs=0"}, "--jobs=0"},
      {{"run", "--repeat=0"}, "--repeat=0"},
      {{"run", "--progress=fancy"}, "--progress=fancy"},
      {{"run", "--format=html=x.html"}, "--format=html=...: expected json, junit"},
      {{"run", "--format=junit"}, "expected KIND=PATH"},
      {{"run", "--json=/nonexistent-dir/r.json"}, "cannot write report"},
      {{"run", "--junit=/nonexistent-dir/r.xml"}, "cannot write report"},
      {{"run", "--summary-md=/nonexistent-dir/s.md"}, "cannot write report"},
      {{"run", "--save-failures=/proc/nope"}, "--save-failures=/proc/nope"},
      {{"run", "--reproduce=abc"}, "--reproduce=abc: not a reproduce string"},
      {{"run", "extra"}, "run takes no arguments, got 'extra'"},
      {{"list", "--format=yaml"}, "--format=yaml"},
      {{"list", "extra"}, "list takes no arguments"},
      {{"list", "--transport=nosuch"}, "unknown transport 'nosuch'"},
      {{"replay", "/nonexistent-file"}, "cannot read /nonexistent-file"},
      {{"replay"}, "replay takes exactly one FILE"},
      {{"merge"}, "merge needs at least one REPORT.json"},
      {{"merge", "/nonexistent.json"}, "cannot read /nonexistent.json"},
      {{"run", "--plugin=/nonexistent.so"}, "plugin /nonexistent.so"},
      // A forgotten value is not the next flag, nor is an empty one "all".
      {{"run", "--json", "--property=G-ORDER"}, "--json needs a value, and the next argument"},
      {{"run", "--save-failures", "--transport=pipe"}, "--save-failures needs a value"},
      {{"run", "--transport="}, "--transport= is empty"},
      {{"run", "--transport=,"}, "--transport=, names nothing"},
      {{"run", "--reproduce="}, "--reproduce= is empty"},
      {{"run", "--json=same.json", "--junit=same.json"}, "both go to same.json"},
      // Nothing selected applies: a filter that checks nothing is no pass.
      {{"run", "--transport=pipe", "--property=EVENTFD-*"}, "nothing to check"},
      {{"merge", "--json", "/nonexistent.json", "/nonexistent.json"},
       "is both a report to merge and where a merged report goes"},
  };
  for (const Case& c : cases) {
    Ran r = Ipcspec(c.args);
    EXPECT_EQ(r.exit_code, 2) << ::testing::PrintToString(c.args) << "\n" << r.out;
    EXPECT_THAT(r.out, HasSubstr(c.message)) << ::testing::PrintToString(c.args);
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1)
        << ::testing::PrintToString(c.args) << ": not one line:\n"
        << r.out;
  }
  Ran r = Ipcspec({"run", "--transport=pipe", "--property=G-ORDER"},
                  {"GTEST_TOTAL_SHARDS=2", "GTEST_SHARD_INDEX=5"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, HasSubstr("bad sharding environment"));
  EXPECT_THAT(r.out, HasSubstr("need 0 <= index < total"));
  // The message names the rule broken.
  r = Ipcspec({"run", "--transport=pipe", "--property=G-ORDER"},
              {"GTEST_TOTAL_SHARDS=2", "GTEST_SHARD_INDEX=one"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, HasSubstr("both must be whole numbers"));
}

TEST_F(CliTest, ReplayOfGarbageIsAClearError) {
  const std::string path = dir_ + "/garbage";
  std::ofstream(path) << "not a scenario";
  Ran r = Ipcspec({"replay", path});
  EXPECT_EQ(r.exit_code, 2) << r.out;
}

// Input that is no scenario at all never replays as an empty pass; a
// scenario of a transport that is not loaded is a set-up error that names
// the ones that are.
TEST_F(CliTest, ReplayOfADirectoryAnEmptyFileOrAnUnknownTransportIsAClearError) {
  const std::string empty = dir_ + "/empty", foreign = dir_ + "/foreign.scenario";
  std::ofstream(empty).flush();
  std::ofstream(foreign, std::ios::binary)
      << ipcspec::Scenario{"G-ORDER", "mine", {ipcspec::Step::Send(1, 10, 0)}}.Serialize();
  struct Case {
    std::string path, message;
  } cases[] = {{dir_, ": not a regular file"},
               {empty, "is empty: no scenario to replay"},
               {foreign, "unknown transport 'mine' (known: eventfd, fifo, "}};
  for (const Case& c : cases) {
    Ran r = Ipcspec({"replay", "--target=pipe", c.path});
    EXPECT_EQ(r.exit_code, 2) << c.path << "\n" << r.out;
    EXPECT_THAT(r.out, HasSubstr(c.message)) << c.path;
  }
}

TEST_F(CliTest, PassingRunWritesReportsThatParse) {
  const std::string json = dir_ + "/r.json", junit = dir_ + "/r.xml";
  Ran r = Ipcspec({"run", "--transport=pipe,posix_mq", "--property=G-ORDER,G-BOUNDARY",
                   "--examples=5", "--json=" + json, "--junit=" + junit});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("transport"));  // the matrix header
  EXPECT_EQ(CheckJsonReport(json), "");
  EXPECT_EQ(CheckXml(junit), "");
  const nlohmann::json j = ReadJson(json);
  EXPECT_EQ(j["seed"], "1");
  EXPECT_EQ(j["complete"], true);
  EXPECT_EQ(j["results"].size(), 3u);
  ASSERT_EQ(j["not_applicable"].size(), 1u);
  EXPECT_EQ(j["not_applicable"][0]["transport"], "pipe");
  EXPECT_EQ(j["not_applicable"][0]["property"], "G-BOUNDARY");
  EXPECT_EQ(j["not_applicable"][0]["reason"], "excluded by capability framing=stream");
  EXPECT_EQ(j["summary"]["passed"], 3);
  EXPECT_EQ(j["summary"]["not_applicable"], 1);
  const std::string x = ReadFileOrEmpty(junit);
  EXPECT_THAT(x, HasSubstr("<testsuites name=\"ipcspec\" tests=\"3\" failures=\"0\" errors=\"0\""));
  EXPECT_THAT(x, HasSubstr("<testcase classname=\"ipcspec.posix_mq\" name=\"G-ORDER\""));
  EXPECT_THAT(x, HasSubstr("<property name=\"seed\" value=\"1\"/>"));
  EXPECT_THAT(x, HasSubstr("<property name=\"ipcspec_version\""));
  EXPECT_THAT(x, Not(HasSubstr("<skipped")));  // a pair that does not apply is left out
}

TEST_F(CliTest, RandomSeedIsPrinted) {
  Ran r =
      Ipcspec({"run", "--transport=pipe", "--property=G-ORDER", "--examples=2", "--seed=random"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, ::testing::ContainsRegex("seed: [0-9]+"));
}

TEST_F(CliTest, ShardsSplitThePairsAndTouchTheStatusFile) {
  std::multiset<std::string> seen, not_applicable;
  int not_applicable_counted = 0;
  for (int shard = 0; shard < 3; ++shard) {
    const std::string json = dir_ + "/s" + std::to_string(shard) + ".json";
    const std::string status = dir_ + "/status" + std::to_string(shard);
    Ran r = Ipcspec({"run", "--transport=pipe,posix_mq",
                     "--property=G-ORDER,G-BOUNDARY,G-DIRECTION", "--examples=2", "--json=" + json},
                    {"GTEST_TOTAL_SHARDS=3", "GTEST_SHARD_INDEX=" + std::to_string(shard),
                     "GTEST_SHARD_STATUS_FILE=" + status});
    ASSERT_EQ(r.exit_code, 0) << r.out;
    EXPECT_EQ(::access(status.c_str(), F_OK), 0) << "status file not touched";
    const nlohmann::json j = ReadJson(json);
    EXPECT_EQ(j["shard"]["index"], shard);
    EXPECT_EQ(j["shard"]["total"], 3);
    for (const auto& res : j["results"]) {
      seen.insert(res["transport"].get<std::string>() + "/" + res["property"].get<std::string>());
    }
    for (const auto& n : j["not_applicable"]) {
      not_applicable.insert(n["transport"].get<std::string>() + "/" +
                            n["property"].get<std::string>());
    }
    not_applicable_counted += j["summary"]["not_applicable"].get<int>();
  }
  EXPECT_EQ(seen.size(), 5u);  // 2 transports x 3 properties, less pipe x G-BOUNDARY
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 5u)
      << "a pair ran on two shards";
  // The pair that does not apply is in one shard's report, as a run's
  // would be: the shards' counts add up to the whole run's.
  EXPECT_THAT(not_applicable, ::testing::ElementsAre("pipe/G-BOUNDARY"));
  EXPECT_EQ(not_applicable_counted, 1);
}

TEST_F(CliTest, SpecPageIsUpToDate) {
  Ran r = Ipcspec({"list", "--format=markdown"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(ReadFileOrEmpty(std::string(IPCSPEC_SOURCE_DIR) + "/docs/spec.md"), r.out)
      << "docs/spec.md is out of date; regenerate it with\n  build/default/ipcspec list "
         "--format=markdown > docs/spec.md";
}

}  // namespace
}  // namespace ipcspec::testing
