// Every flag of every subcommand, in both spellings (--flag=value and
// --flag value): help, version, list as a dry run of run, exclusion globs,
// repeats with fresh seeds, fail-fast, report kinds, progress modes, merge.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <set>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli_test_util.h"

namespace ipcspec::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class CliFlagsTest : public CliFixture {
 protected:
  std::set<std::string> Pairs(const nlohmann::json& list) {
    std::set<std::string> out;
    for (const auto& p : list) {
      out.insert(p["transport"].get<std::string>() + "/" + p["property"].get<std::string>());
    }
    return out;
  }
  std::string Drop() { return absl::StrCat("--plugin=", IPCSPEC_PLUGIN_DROP4096); }
  // The two shards of one small run, with every report kind: their JSON
  // reports' paths ("" where a shard failed).
  std::vector<std::string> RunTwoShards() {
    std::vector<std::string> shards;
    for (int i = 0; i < 2; ++i) {
      const std::string d = dir_ + "/" + std::to_string(i);
      Ran r = Ipcspec(
          {"run", "--transport=pipe,posix_mq", "--property=G-ORDER,G-BOUNDARY", "--examples=2",
           "--format=json=" + d + ".json", "--format", "junit=" + d + ".xml",
           "--format=summary-md=" + d + ".md", "--format=matrix-svg=" + d + ".svg"},
          {"GTEST_TOTAL_SHARDS=2", "GTEST_SHARD_INDEX=" + std::to_string(i)});
      EXPECT_EQ(r.exit_code, 0) << r.out;
      shards.push_back(r.exit_code == 0 ? d + ".json" : "");
    }
    return shards;
  }
};

TEST_F(CliFlagsTest, HelpOnEverySubcommandListsItsFlags) {
  const std::map<std::string, std::vector<std::string>> flags = {
      {"list", {"--transport=", "--property=", "--plugin=", "--format=", "--verbose"}},
      {"run", {"--transport=",  "--property=",  "--plugin=",     "--examples=",      "--seed=",
               "--timeout=",    "--time-unit=", "--hang-grace=", "--shrink-time=",   "--jobs=",
               "--repeat=",     "--until-fail", "--fail-fast",   "--json=",          "--junit=",
               "--summary-md=", "--format=",    "--reproduce=",  "--save-failures=", "--progress=",
               "--verbose"}},
      {"replay", {"--timeout=", "--plugin=", "--target=", "--shrink="}},
      {"merge", {"--json=", "--junit=", "--summary-md=", "--format="}},
  };
  for (const auto& [cmd, names] : flags) {
    for (const char* help : {"--help", "-h"}) {
      Ran r = Ipcspec({cmd, help});
      EXPECT_EQ(r.exit_code, 0) << cmd << " " << help << "\n" << r.out;
      EXPECT_THAT(r.out, HasSubstr("usage: ipcspec " + cmd));
      for (const std::string& n : names) EXPECT_THAT(r.out, HasSubstr(n)) << cmd;
    }
    Ran via_help = Ipcspec({"help", cmd});
    EXPECT_EQ(via_help.exit_code, 0);
    EXPECT_THAT(via_help.out, HasSubstr("usage: ipcspec " + cmd));
  }
  Ran top = Ipcspec({"--help"});
  EXPECT_EQ(top.exit_code, 0);
  EXPECT_THAT(top.out, HasSubstr("ipcspec merge"));
  Ran version = Ipcspec({"--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_THAT(version.out, ::testing::MatchesRegex("ipcspec [0-9]+\\.[0-9]+\\.[0-9]+ \\(plugin ABI "
                                                   "1\\)\n"));
}

TEST_F(CliFlagsTest, ValuesMayFollowAsTheNextArgument) {
  const std::string json = dir_ + "/r.json";
  Ran r = Ipcspec({"run", "--transport", "pipe", "--property", "G-ORDER", "--examples", "2",
                   "--seed", "7", "--json", json, "--progress", "lines"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const nlohmann::json j = ReadJson(json);
  EXPECT_EQ(j["seed"], "7");
  ASSERT_EQ(j["results"].size(), 1u);
  EXPECT_EQ(j["results"][0]["examples"], 2);
}

TEST_F(CliFlagsTest, ExclusionGlobsAndListIsADryRunOfRun) {
  Ran list = Ipcspec({"list", "--format=json", "--transport=pipe,posix_mq",
                      "--property=G-*,-G-TIMEOUT,-G-PEER-CRASH,-G-BACKPRESSURE"});
  ASSERT_EQ(list.exit_code, 0) << list.out;
  const nlohmann::json l = nlohmann::json::parse(list.out);
  for (const auto& p : l["properties"]) {
    EXPECT_THAT(p["id"].get<std::string>(), ::testing::StartsWith("G-"));
    EXPECT_NE(p["id"], "G-TIMEOUT");
  }
  const std::string json = dir_ + "/r.json";
  Ran run = Ipcspec({"run", "--transport=pipe,posix_mq",
                     "--property=G-*,-G-TIMEOUT,-G-PEER-CRASH,-G-BACKPRESSURE", "--examples=2",
                     "--json=" + json});
  ASSERT_EQ(run.exit_code, 0) << run.out;
  const nlohmann::json j = ReadJson(json);
  EXPECT_EQ(Pairs(l["run"]), Pairs(j["results"]));
  EXPECT_EQ(Pairs(l["not_applicable"]), Pairs(j["not_applicable"]));

  Ran only_excluded =
      Ipcspec({"list", "--format=json", "--transport=-*_shm,-sysv_*,-tcp,-udp", "--property=-G-*"});
  ASSERT_EQ(only_excluded.exit_code, 0) << only_excluded.out;
  const nlohmann::json excluded = nlohmann::json::parse(only_excluded.out);
  EXPECT_FALSE(excluded["run"].empty());
  for (const auto& p : excluded["run"]) {
    EXPECT_THAT(p["property"].get<std::string>(), Not(::testing::StartsWith("G-")));
    EXPECT_THAT(p["transport"].get<std::string>(), Not(::testing::StartsWith("sysv_")));
  }

  Ran text = Ipcspec({"list", "--transport=pipe,plugin_pipe", "--property=G-BOUNDARY,G-ORDER",
                      "--verbose", "--plugin", IPCSPEC_PLUGIN_PIPE});
  ASSERT_EQ(text.exit_code, 0) << text.out;
  EXPECT_THAT(text.out, HasSubstr("would check 2 pairs"));
  EXPECT_THAT(text.out, HasSubstr("excluded by capability framing=stream"));
  EXPECT_THAT(text.out, HasSubstr("plugin_pipe"));
}

// --transport and --property may be given more than once: the globs add up
// as if joined with ',' (an exclusion in one applies to all), in list and
// run alike, rather than the last one silently replacing the others.
TEST_F(CliFlagsTest, RepeatedSelectionFlagsAddUp) {
  Ran list = Ipcspec({"list", "--format=json", "--transport=pipe", "--transport", "posix_mq",
                      "--property=G-ORDER", "--property", "G-EOF"});
  ASSERT_EQ(list.exit_code, 0) << list.out;
  const std::set<std::string> want = {"pipe/G-ORDER", "pipe/G-EOF", "posix_mq/G-ORDER",
                                      "posix_mq/G-EOF"};
  EXPECT_EQ(Pairs(nlohmann::json::parse(list.out)["run"]), want);
  const std::string json = dir_ + "/r.json";
  Ran run = Ipcspec({"run", "--transport=pipe", "--transport=posix_mq", "--property=G-ORDER",
                     "--property=G-EOF", "--examples=2", "--json=" + json});
  ASSERT_EQ(run.exit_code, 0) << run.out;
  EXPECT_EQ(Pairs(ReadJson(json)["results"]), want);

  Ran excluded = Ipcspec({"list", "--format=json", "--transport=pipe", "--property=G-*",
                          "--property=-G-TIMEOUT", "--property=-G-PEER-*"});
  ASSERT_EQ(excluded.exit_code, 0) << excluded.out;
  const std::set<std::string> pairs = Pairs(nlohmann::json::parse(excluded.out)["run"]);
  EXPECT_TRUE(pairs.count("pipe/G-ORDER"));
  EXPECT_FALSE(pairs.count("pipe/G-TIMEOUT"));
  EXPECT_FALSE(pairs.count("pipe/G-PEER-CRASH"));
}

TEST_F(CliFlagsTest, RepeatUsesFreshSeedsAndUntilFailStops) {
  const std::string json = dir_ + "/r.json";
  Ran r = Ipcspec({"run", "--transport=pipe", "--property=G-ORDER", "--examples=2", "--repeat=3",
                   "--json=" + json});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const nlohmann::json j = ReadJson(json);
  ASSERT_EQ(j["results"].size(), 3u) << j;
  std::set<std::string> seeds;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(j["results"][i]["iteration"], i + 1);
    seeds.insert(j["results"][i]["seed"].get<std::string>());
  }
  EXPECT_EQ(j["results"][0]["seed"], "1");
  EXPECT_EQ(seeds.size(), 3u);
  EXPECT_THAT(r.out, HasSubstr("repeat 3 (seed "));

  Ran passing = Ipcspec({"run", "--transport=pipe", "--property=G-ORDER", "--examples=2",
                         "--until-fail", "--repeat=2", "--json=" + json});
  EXPECT_EQ(passing.exit_code, 0) << passing.out;
  EXPECT_EQ(ReadJson(json)["results"].size(), 2u);

  Ran failing = Ipcspec({"run", Drop(), "--transport=plugin_drop4096", "--property=G-ORDER",
                         "--until-fail", "--json=" + json});
  EXPECT_EQ(failing.exit_code, 1) << failing.out;
  const nlohmann::json f = ReadJson(json);
  ASSERT_EQ(f["results"].size(), 1u) << "no repeat after the failing one";
  EXPECT_EQ(f["complete"], true);
  EXPECT_THAT(f["results"][0]["reproduce"].get<std::string>(), HasSubstr("--seed=1 "));
  EXPECT_THAT(failing.out, HasSubstr("[  FAILED  ] plugin_drop4096.G-ORDER (fail, seed 1)"));
}

TEST_F(CliFlagsTest, FailFastStopsAtTheFirstFailure) {
  const std::string json = dir_ + "/r.json";
  Ran r = Ipcspec({"run", Drop(), "--transport=plugin_drop4096",
                   "--property=G-ORDER,G-PEER-GONE,G-TIMEOUT", "--fail-fast", "--json=" + json,
                   "--jobs=1"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  const nlohmann::json j = ReadJson(json);
  EXPECT_EQ(j["stopped_by"], "fail-fast");
  EXPECT_EQ(j["complete"], false);
  EXPECT_EQ(j["summary"]["failed"], 1) << j;
  // G-PEER-GONE waits in the queue behind the failing G-ORDER and never
  // starts. G-TIMEOUT, which mostly sleeps, runs beside them from the start
  // (a "waiter" worker, even at --jobs=1), so whether it finished before the
  // failure came depends on the machine's load: it is in the results or not
  // run, never both.
  for (const auto& res : j["results"]) EXPECT_NE(res["property"], "G-PEER-GONE") << j;
  EXPECT_GE(j["summary"]["not_run"].get<int>(), 1) << j;
  EXPECT_EQ(j["results"].size() + j["summary"]["not_run"].get<size_t>(), 3u) << j;
  EXPECT_EQ(CheckJsonReport(json), "");
}

// --shrink-time bounds the shrinking; at 0 the failure is reported as found,
// and the report says its counterexample is not the minimal one.
TEST_F(CliFlagsTest, ShrinkTimeBoundsTheShrinkingAndTheReportSaysItStopped) {
  const std::string json = dir_ + "/stopped.json", junit = dir_ + "/stopped.xml";
  Ran found = Ipcspec({"run", Drop(), "--transport=plugin_drop4096", "--property=G-ORDER",
                       "--shrink-time=0", "--jobs=1", "--json=" + json, "--junit=" + junit});
  EXPECT_EQ(found.exit_code, 1) << found.out;
  EXPECT_THAT(found.out, HasSubstr(", 0 shrinks (seed 1)"));
  EXPECT_THAT(found.out, HasSubstr("counterexample (its shrinking stopped at --shrink-time): "));
  EXPECT_THAT(found.out, Not(HasSubstr("minimal counterexample")));
  // The machine-read reports say so too.
  EXPECT_EQ(ReadJson(json)["results"][0]["shrinking_stopped"], true);
  std::ifstream xml(junit);
  const std::string junit_text((std::istreambuf_iterator<char>(xml)), {});
  EXPECT_THAT(junit_text, HasSubstr("its shrinking stopped at --shrink-time: not minimal"));
  Ran shrunk = Ipcspec({"run", Drop(), "--transport=plugin_drop4096", "--property=G-ORDER",
                        "--shrink-time=1m", "--jobs=1", "--json=" + json});
  EXPECT_EQ(shrunk.exit_code, 1) << shrunk.out;
  EXPECT_THAT(shrunk.out, HasSubstr("minimal counterexample: "));
  EXPECT_THAT(shrunk.out, Not(HasSubstr("its shrinking stopped")));
  EXPECT_EQ(ReadJson(json)["results"][0]["shrinking_stopped"], false);
}

TEST_F(CliFlagsTest, TimingFlagsReachTheReproduceCommandWhichReplays) {
  const std::string json = dir_ + "/r.json", saved = dir_ + "/saved", shrunk = dir_ + "/min";
  Ran r = Ipcspec({"run", Drop(), "--transport=plugin_drop4096", "--property=G-ORDER",
                   "--timeout=5s", "--time-unit=20ms", "--hang-grace=2s", "--jobs=2",
                   "--save-failures=" + saved, "--json=" + json});
  ASSERT_EQ(r.exit_code, 1) << r.out;
  const std::string cmd = ReadJson(json)["results"][0]["reproduce"];
  for (const char* flag : {"--timeout=5s", "--time-unit=20ms", "--hang-grace=2s", "--reproduce="}) {
    EXPECT_THAT(cmd, HasSubstr(flag));
  }
  const std::string first_line = cmd.substr(0, cmd.find('\n'));
  Ran again = RunCommand({"/bin/bash", "-c", first_line});
  EXPECT_EQ(again.exit_code, 1) << again.out;
  EXPECT_THAT(again.out, HasSubstr("writer 1 sends message 0: 4096 bytes"));

  const std::string scenario = saved + "/plugin_drop4096-G-ORDER.scenario";
  ASSERT_EQ(::access(scenario.c_str(), R_OK), 0) << r.out;
  Ran replay = Ipcspec({"replay", "--plugin", IPCSPEC_PLUGIN_DROP4096, "--timeout", "5s",
                        "--shrink", shrunk, "--", scenario});
  EXPECT_EQ(replay.exit_code, 1) << replay.out;
  EXPECT_THAT(replay.out, HasSubstr("verdict: fail"));
  EXPECT_EQ(::access(shrunk.c_str(), R_OK), 0) << replay.out;
  // A --target that names no fuzz target is refused, not ignored.
  for (const char* bogus : {"--target=bogus", "--target=fuzz_pipe"}) {
    Ran wrong = Ipcspec({"replay", "--plugin", IPCSPEC_PLUGIN_DROP4096, bogus, scenario});
    EXPECT_EQ(wrong.exit_code, 2) << wrong.out;
    EXPECT_THAT(wrong.out, HasSubstr("no such fuzz target")) << wrong.out;
  }

  const std::string corpus = std::string(IPCSPEC_SOURCE_DIR) + "/corpus/pipe/t0_basic";
  Ran fuzz_input = Ipcspec({"replay", "--target=pipe", corpus});
  EXPECT_EQ(fuzz_input.exit_code, 0) << fuzz_input.out;
  EXPECT_THAT(fuzz_input.out, HasSubstr("verdict: pass"));
  // A fuzz input that passes on its own says what else its crash needed.
  EXPECT_THAT(fuzz_input.out, HasSubstr("note: this input passes on its own"));
}

TEST_F(CliFlagsTest, ProgressModesAndVerbose) {
  Ran live = Ipcspec({"run", "--transport=pipe,fifo", "--property=G-ORDER,FIFO-RDWR",
                      "--examples=2", "--progress=live"});
  ASSERT_EQ(live.exit_code, 0) << live.out;
  EXPECT_THAT(live.out, HasSubstr("\r\033[K["));
  EXPECT_THAT(live.out, ::testing::ContainsRegex("cases, [0-9]/3 properties, 0 failures, "
                                                 "[0-9]+:[0-9]+ elapsed, ETA"));
  EXPECT_THAT(live.out, Not(HasSubstr("[1/3]")));  // passes get no line of their own

  Ran lines = Ipcspec({"run", "--transport=pipe,fifo", "--property=G-ORDER,FIFO-RDWR",
                       "--examples=1", "--progress=lines"});
  ASSERT_EQ(lines.exit_code, 0) << lines.out;
  EXPECT_THAT(lines.out, HasSubstr("[3/3]"));
  EXPECT_THAT(lines.out, HasSubstr("1 example "));
  EXPECT_THAT(lines.out, Not(HasSubstr("1 examples")));
  EXPECT_THAT(lines.out, Not(HasSubstr("not applicable:")));
  EXPECT_THAT(lines.out, HasSubstr("1 not applicable (--verbose shows why)"));

  Ran verbose = Ipcspec({"run", "--transport=pipe,fifo", "--property=G-ORDER,FIFO-RDWR",
                         "--examples=1", "--verbose", "--progress=live"});
  ASSERT_EQ(verbose.exit_code, 0) << verbose.out;
  EXPECT_THAT(verbose.out, ::testing::ContainsRegex("not applicable: pipe +FIFO-RDWR"));
  EXPECT_THAT(verbose.out, HasSubstr("[3/3]"));  // every result, even on a live line
}

TEST_F(CliFlagsTest, EveryReportKindAndMerge) {
  const std::vector<std::string> shards = RunTwoShards();
  for (const std::string& json : shards) {
    ASSERT_FALSE(json.empty());
    const std::string d = json.substr(0, json.size() - 5);
    EXPECT_EQ(CheckJsonReport(d + ".json"), "");
    EXPECT_EQ(CheckXml(d + ".xml"), "");
    EXPECT_EQ(CheckXml(d + ".svg"), "");
    EXPECT_THAT(ReadFileOrEmpty(d + ".md"), HasSubstr("## ipcspec: "));
  }
  const std::string m = dir_ + "/merged";
  Ran merged =
      Ipcspec({"merge", "--json=" + m + ".json", "--junit", m + ".xml", "--summary-md=" + m + ".md",
               "--format=matrix-svg=" + m + ".svg", shards[0], shards[1]});
  ASSERT_EQ(merged.exit_code, 0) << merged.out;
  EXPECT_EQ(CheckJsonReport(m + ".json"), "");
  EXPECT_EQ(CheckXml(m + ".xml"), "");
  EXPECT_EQ(CheckXml(m + ".svg"), "");
  const nlohmann::json j = ReadJson(m + ".json");
  EXPECT_EQ(j["results"].size(), 3u);
  EXPECT_EQ(j["complete"], true);
  // In the order of the run unsharded.
  const std::string whole = dir_ + "/whole.json";
  ASSERT_EQ(Ipcspec({"run", "--transport=pipe,posix_mq", "--property=G-ORDER,G-BOUNDARY",
                     "--examples=2", "--json=" + whole})
                .exit_code,
            0);
  auto pairs = [](const nlohmann::json& report) {
    std::vector<std::string> out;
    for (const nlohmann::json& r : report["results"]) {
      out.push_back(r["transport"].get<std::string>() + " " + r["property"].get<std::string>());
    }
    return out;
  };
  EXPECT_EQ(pairs(j), pairs(ReadJson(whole)));
  EXPECT_THAT(ReadFileOrEmpty(m + ".md"), HasSubstr("| posix\\_mq | ✅ | ✅ |"));
  EXPECT_THAT(ReadFileOrEmpty(m + ".svg"), HasSubstr("<title>G-ORDER pipe: pass</title>"));
}

// A shard missing or stopped: the merged reports are written, but say they
// are incomplete and why, and the merge fails as the run would. A shard
// twice, or shards of another run, is bad input.
TEST_F(CliFlagsTest, AMergeSaysWhichShardIsMissingAndRefusesShardsOfAnotherRun) {
  const std::vector<std::string> shards = RunTwoShards();
  ASSERT_FALSE(shards[0].empty() || shards[1].empty());
  const std::string m = dir_ + "/merged";
  Ran partial = Ipcspec({"merge", "--json=" + m + ".json", "--summary-md=" + m + ".md", shards[0]});
  EXPECT_EQ(partial.exit_code, 1);
  EXPECT_THAT(partial.out, HasSubstr("incomplete: shard 2 of 2 is missing; 1 not run"));
  const nlohmann::json partial_json = ReadJson(m + ".json");
  EXPECT_EQ(partial_json["complete"], false);
  // What the missing shard meant to run counts as not run: the run's 3
  // applicable pairs, of which shard 1 ran 2.
  EXPECT_EQ(ReadJson(shards[0])["shard"]["run_planned"], 3) << ReadJson(shards[0]);
  EXPECT_EQ(partial_json["planned"], 3) << partial_json;
  EXPECT_EQ(partial_json["summary"]["not_run"], 1) << partial_json;
  // The summary a CI job shows says so, not only the exit status.
  EXPECT_THAT(ReadFileOrEmpty(m + ".md"), HasSubstr("**Incomplete: shard 2 of 2 is missing.**"));
  nlohmann::json stopped = ReadJson(shards[0]);
  stopped["complete"] = false;
  stopped["stopped_by"] = "SIGTERM";
  const std::string stopped_path = dir_ + "/stopped.json";
  std::ofstream(stopped_path) << stopped.dump();
  Ran cut = Ipcspec({"merge", "--json=" + m + ".json", stopped_path, shards[1]});
  EXPECT_EQ(cut.exit_code, 1) << cut.out;
  EXPECT_THAT(cut.out, HasSubstr("incomplete: shard 1 of 2 was stopped by SIGTERM"));
  Ran twice = Ipcspec({"merge", "--json=" + m + ".json", shards[0], shards[1], shards[0]});
  EXPECT_EQ(twice.exit_code, 2) << twice.out;
  EXPECT_THAT(twice.out, HasSubstr("shard 1 of 2 is given twice"));
  nlohmann::json other = ReadJson(shards[1]);
  other["seed"] = "99";
  const std::string other_path = dir_ + "/other.json";
  std::ofstream(other_path) << other.dump();
  Ran mixed = Ipcspec({"merge", "--json=" + m + ".json", shards[0], other_path});
  EXPECT_EQ(mixed.exit_code, 2) << mixed.out;
  EXPECT_THAT(mixed.out, HasSubstr("not shards of one run"));
  // A shard run with fewer examples (or another selection) is another run,
  // whose passes may be the others' failures.
  const std::string fewer = dir_ + "/fewer.json";
  ASSERT_EQ(Ipcspec({"run", "--transport=pipe,posix_mq", "--property=G-ORDER,G-BOUNDARY",
                     "--examples=1", "--json=" + fewer},
                    {"GTEST_TOTAL_SHARDS=2", "GTEST_SHARD_INDEX=1"})
                .exit_code,
            0);
  Ran weaker = Ipcspec({"merge", "--json=" + m + ".json", shards[0], fewer});
  EXPECT_EQ(weaker.exit_code, 2) << weaker.out;
  EXPECT_THAT(weaker.out, HasSubstr("ran with --examples=1"));
  EXPECT_THAT(weaker.out, HasSubstr("not shards of one run"));
}

// A --summary-md that is the job's step summary is appended to, keeping
// what the job's earlier steps wrote there, however the path is spelled.
TEST_F(CliFlagsTest, ASummaryThatIsTheStepSummaryIsAppendedToHoweverItIsSpelled) {
  const std::string summary = dir_ + "/step-summary.md";
  ASSERT_EQ(::mkdir((dir_ + "/sub").c_str(), 0700), 0);
  for (const std::string& spelled : {summary, dir_ + "/sub/../step-summary.md"}) {
    std::ofstream(summary) << "an earlier step's line\n";
    Ran r = Ipcspec({"run", "--transport=pipe", "--property=G-ORDER", "--examples=2",
                     "--summary-md=" + spelled},
                    {"GITHUB_STEP_SUMMARY=" + summary});
    ASSERT_EQ(r.exit_code, 0) << r.out;
    const std::string md = ReadFileOrEmpty(summary);
    EXPECT_THAT(md, ::testing::StartsWith("an earlier step's line\n")) << spelled;
    EXPECT_THAT(md, HasSubstr("## ipcspec: 1 passed")) << spelled;
  }
}

TEST_F(CliFlagsTest, ReproduceOfAMendedTransportPassesAndItsReportsGoThroughDevices) {
  // A reproduce command kept as a regression check: the failing example of
  // the broken plugin, replayed on a correct transport, passes (exit 0).
  const std::string json = dir_ + "/r.json";
  Ran failing = Ipcspec({"run", absl::StrCat("--plugin=", IPCSPEC_PLUGIN_DROP4096),
                         "--transport=plugin_*", "--property=G-ORDER", "--json=" + json});
  ASSERT_EQ(failing.exit_code, 1) << failing.out;
  const std::string reproduce = ReadJson(json)["results"][0]["reproduce_string"];
  Ran mended = Ipcspec({"run", "--transport=pipe", "--property=G-ORDER", "--reproduce=" + reproduce,
                        "--json=/dev/stdout"});
  EXPECT_EQ(mended.exit_code, 0) << mended.out;
  EXPECT_THAT(mended.out, HasSubstr("the reproduced example passes"));
  // The JSON went through /dev/stdout once, at the end, not after every
  // property; /dev/null stays the device it is.
  size_t reports = 0;
  for (size_t at = 0; (at = mended.out.find("\"ipcspec_version\"", at)) != std::string::npos;
       ++at) {
    ++reports;
  }
  EXPECT_EQ(reports, 1u) << mended.out;
  Ran null = Ipcspec({"run", "--transport=pipe", "--property=G-ORDER", "--examples=1",
                      "--summary-md=/dev/null", "--junit=/dev/null"});
  EXPECT_EQ(null.exit_code, 2) << null.out;  // two reports to one file
  null = Ipcspec(
      {"run", "--transport=pipe", "--property=G-ORDER", "--examples=1", "--summary-md=/dev/null"});
  EXPECT_EQ(null.exit_code, 0) << null.out;
  struct stat st;
  ASSERT_EQ(::lstat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
}

}  // namespace
}  // namespace ipcspec::testing
