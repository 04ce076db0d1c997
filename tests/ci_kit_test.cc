// The CI kit: ipcspec_discover_tests() gives examples/spsc_ring, built
// against the installed package, one ctest per applicable property; the
// example GitHub Actions workflow parses and runs ci/conformance sharded
// with the GoogleTest variables, then merges the shards' reports.
#include <set>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli_test_util.h"

namespace ipcspec {
namespace {

using testing::CliFixture;
using ::testing::Contains;
using ::testing::HasSubstr;
using testing::Python;
using testing::Ran;
using testing::RunCommand;

class CiKitTest : public CliFixture {};

// Every step's `run` script of a job, joined.
std::string Scripts(const nlohmann::json& job) {
  std::string out;
  for (const auto& step : job["steps"]) out += step.value("run", "") + "\n";
  return out;
}

bool Uses(const nlohmann::json& job, const std::string& action) {
  for (const auto& step : job["steps"]) {
    if (step.value("uses", "").rfind(action, 0) == 0) return true;
  }
  return false;
}

TEST_F(CiKitTest, WorkflowExampleParsesAndRunsConformanceSharded) {
  const std::string path = std::string(IPCSPEC_SOURCE_DIR) + "/examples/ci/github-conformance.yml";
  Ran yaml = RunCommand({Python(), "-c",
                         "import json, sys, yaml\n"
                         "d = yaml.safe_load(open(sys.argv[1]))\n"
                         "d['on'] = d.pop(True, d.get('on'))\n"  // YAML 1.1 reads `on` as true
                         "print(json.dumps(d))\n",
                         path});
  ASSERT_EQ(yaml.exit_code, 0) << yaml.out;
  const nlohmann::json w = nlohmann::json::parse(yaml.out);
  ASSERT_TRUE(w["jobs"].contains("conformance")) << w;
  const nlohmann::json& shard = w["jobs"]["conformance"];
  EXPECT_EQ(shard["strategy"]["matrix"]["shard"], nlohmann::json({0, 1, 2, 3}));
  EXPECT_EQ(shard["env"]["GTEST_TOTAL_SHARDS"], 4);
  EXPECT_EQ(shard["env"]["GTEST_SHARD_INDEX"], "${{ matrix.shard }}");
  EXPECT_TRUE(shard["env"].contains("GTEST_SHARD_STATUS_FILE"));
  EXPECT_THAT(Scripts(shard), HasSubstr("ci/conformance"));
  EXPECT_THAT(Scripts(shard), HasSubstr("$GITHUB_STEP_SUMMARY"));
  EXPECT_TRUE(Uses(shard, "actions/upload-artifact@"));
  EXPECT_TRUE(Uses(shard, "actions/checkout@"));

  const nlohmann::json& merge = w["jobs"]["merge"];
  EXPECT_EQ(merge["needs"], "conformance");
  EXPECT_TRUE(Uses(merge, "actions/download-artifact@"));
  EXPECT_THAT(Scripts(merge), HasSubstr("ipcspec merge shards/ipcspec-shard-*.json"));
  EXPECT_THAT(Scripts(merge), HasSubstr("$GITHUB_STEP_SUMMARY"));
  // ci/conformance names each shard's reports as the merge step expects.
  const std::string conformance =
      testing::ReadFileOrEmpty(std::string(IPCSPEC_SOURCE_DIR) + "/ci/conformance");
  EXPECT_THAT(conformance, HasSubstr("ipcspec${GTEST_SHARD_INDEX:+-shard-$GTEST_SHARD_INDEX}"));
  EXPECT_THAT(conformance, HasSubstr("--summary-md="));
}

TEST_F(CiKitTest, DiscoverTestsGivesSpscRingOneCtestPerApplicableProperty) {
  const std::string prefix = dir_ + "/prefix", build = dir_ + "/spsc_ring";
  Ran install = RunCommand({"/usr/bin/cmake", "--install", IPCSPEC_BUILD_DIR, "--prefix", prefix});
  ASSERT_EQ(install.exit_code, 0) << install.out;
  Ran configure =
      RunCommand({"/usr/bin/cmake", "-S", std::string(IPCSPEC_SOURCE_DIR) + "/examples/spsc_ring",
                  "-B", build, "-G", "Ninja", "-DCMAKE_PREFIX_PATH=" + prefix});
  ASSERT_EQ(configure.exit_code, 0) << configure.out;
  Ran built = RunCommand({"/usr/bin/cmake", "--build", build});
  ASSERT_EQ(built.exit_code, 0) << built.out;

  Ran list = RunCommand({prefix + "/bin/ipcspec", "list", "--plugin=" + build + "/libspsc_ring.so",
                         "--transport=spsc_ring", "--format=json"});
  ASSERT_EQ(list.exit_code, 0) << list.out;
  std::set<std::string> expected;
  const nlohmann::json listed = nlohmann::json::parse(list.out);
  for (const auto& p : listed["run"]) {
    expected.insert("spsc_ring." + p["property"].get<std::string>());
  }
  ASSERT_GE(expected.size(), 5u) << list.out;

  Ran shown = RunCommand({"/usr/bin/ctest", "--test-dir", build, "--show-only=json-v1"});
  ASSERT_EQ(shown.exit_code, 0) << shown.out;
  std::set<std::string> names;
  const nlohmann::json tests = nlohmann::json::parse(shown.out);
  for (const auto& t : tests["tests"]) {
    names.insert(t["name"]);
    std::map<std::string, nlohmann::json> props;
    for (const auto& p : t["properties"]) props[p["name"]] = p["value"];
    EXPECT_THAT(props["LABELS"], Contains("spsc_ring")) << t;
    // Each test is labelled with its property's family: "G" for G-ORDER.
    const std::string name = t["name"];
    const std::string id = name.substr(name.find('.') + 1);
    EXPECT_THAT(props["LABELS"], Contains(id.substr(0, id.find('-')))) << t;
    EXPECT_EQ(props["TIMEOUT"], 600.0) << t;
    if (t["name"] == "spsc_ring.G-TIMEOUT") {
      EXPECT_EQ(props["RESOURCE_LOCK"], nlohmann::json({"ipcspec-clock"})) << t;
    }
  }
  EXPECT_EQ(names, expected);

  Ran one = RunCommand({"/usr/bin/ctest", "--test-dir", build, "-R", "^spsc_ring\\.G-ORDER$",
                        "--output-on-failure"});
  EXPECT_EQ(one.exit_code, 0) << one.out;
  EXPECT_EQ(testing::CheckJsonReport(build + "/ipcspec-reports/spsc_ring.G-ORDER.json"), "");
}

TEST_F(CiKitTest, ACppTransportRunsThroughTheCAbi) {
  const std::string json = dir_ + "/r.json";
  Ran r = RunCommand({IPCSPEC_BINARY, "run", absl::StrCat("--plugin=", IPCSPEC_EXAMPLE_CPP_PIPE),
                      "--transport=cpp_pipe", "--property=G-ORDER,G-EOF,G-PEER-GONE",
                      "--examples=10", "--json=" + json});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  const nlohmann::json j = testing::ReadJson(json);
  EXPECT_EQ(j["summary"]["passed"], 3) << r.out;
}

}  // namespace
}  // namespace ipcspec
