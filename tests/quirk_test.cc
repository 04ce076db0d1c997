// The family of correct but unusual transports (tests/support/quirks.def)
// passes every generic property that applies, with no false alarm, and each
// broken sibling is caught by the property written for its class with a
// minimal counterexample. A correct one runs through the C ABI path (its
// source as a plugin module, run by the real binary with --plugin); a
// broken one through that path and the built-in one (the same source
// registered in this process).
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ipcspec/engine.h"
#include "ipcspec/registry.h"
#include "nlohmann/json.hpp"
#include "properties/support/call_gate.h"
#include "tests/support/shim_run.h"
#include "tests/support/subprocess.h"
#include "tests/support/unusual_transports.h"

namespace ipcspec {
namespace {

using testing::QuirkInfo;

std::vector<QuirkInfo> Quirks(bool broken) {
  std::vector<QuirkInfo> out;
  for (const QuirkInfo& q : testing::QuirkTransports()) {
    if (q.broken == broken) out.push_back(q);
  }
  return out;
}

std::vector<const Property*> GenericProperties() {
  std::vector<const Property*> out;
  for (const Property* p : PropertyRegistry::Global().All()) {
    if (p->id().substr(0, 2) == "G-") out.push_back(p);
  }
  return out;
}

// The numbered steps of a counterexample ("  3. ...").
size_t StepCount(const std::string& counterexample) {
  size_t n = 0;
  std::istringstream in(counterexample);
  for (std::string line; std::getline(in, line);) {
    if (line.size() > 3 && line[0] == ' ' && line[1] == ' ' && std::isdigit(line[2])) ++n;
  }
  return n;
}

std::string Plugin(const QuirkInfo& q) {
  return testing::QuirkPlugin(IPCSPEC_QUIRK_PLUGINS, q.name);
}

PropertyResult RunBuiltin(const QuirkInfo& q, const Property& p, int examples = 0) {
  const Transport* t = TransportRegistry::Global().Find(q.name);
  SandboxOptions o;
  o.timeout = absl::Seconds(30);  // a last resort: ASan under a parallel ctest is slow
  DirectRunner runner(o);
  RunConfig config;
  config.seed = 1;
  config.examples = examples;
  return RunProperty(*t, p, config, runner);
}

// Every skip of a generic property names the capability that excludes it,
// for every transport here (built-in, broken and unusual).
TEST(GenericSkipTest, EverySkipSaysWhy) {
  testing::RegisterQuirkTransports();
  for (const Transport* t : TransportRegistry::Global().All()) {
    for (const Property* p : GenericProperties()) {
      const Applicability a = p->AppliesTo(*t);
      if (a.applies) continue;
      EXPECT_THAT(a.reason, ::testing::StartsWith("excluded by capability "))
          << p->id() << " on " << t->name();
    }
  }
}

class CorrectQuirkTest : public ::testing::TestWithParam<QuirkInfo> {
 protected:
  static void SetUpTestSuite() { testing::RegisterQuirkTransports(); }
};

// Every G-* property that applies, through the C ABI path: the quirk's
// source as a plugin module, run by the real binary with --plugin, the way
// an outside transport is. (The built-in path, the same source registered
// in this process, runs the broken siblings below; run here too, it took
// two fifths of the whole suite's time to find nothing this does not.)
TEST_P(CorrectQuirkTest, PassesEveryApplicablePropertyAsAPlugin) {
  const std::string so = Plugin(GetParam());
  ASSERT_FALSE(so.empty()) << GetParam().name;
  const std::string json = ::testing::TempDir() + "/quirk-" + GetParam().name + ".json";
  testing::Ran ran = testing::RunCommand({IPCSPEC_BINARY, "run", "--plugin=" + so,
                                          "--transport=" + GetParam().name, "--property=G-*",
                                          "--examples=10", "--json=" + json,
                                          // a last resort: G-VOLUME's 66,000 rendezvous
                                          // under ASan and a parallel ctest take 10 s
                                          "--timeout=60s"});
  std::ifstream in(json);
  const nlohmann::json report = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  std::remove(json.c_str());
  ASSERT_TRUE(report.is_object()) << ran.out;
  int passed = 0;
  for (const nlohmann::json& r : report["results"]) {
    const std::string outcome = r.value("outcome", "");
    EXPECT_TRUE(outcome == "pass" || outcome == "skipped")
        << r.value("property", "") << ": " << outcome << ": " << r.value("message", "") << "\n"
        << r.value("counterexample", "");
    passed += outcome == "pass";
  }
  EXPECT_GE(passed, 8) << ran.out;
  EXPECT_EQ(ran.exit_code, 0) << ran.out;
}

INSTANTIATE_TEST_SUITE_P(Family, CorrectQuirkTest, ::testing::ValuesIn(Quirks(false)),
                         [](const auto& info) { return info.param.name; });

// A broken quirk must be caught within this many examples. Runs stop at the
// first failure, so a bug that every example shows costs one; a race (the
// interleaving of quirk_bigframes_broken, which shows only under pressure
// and only when two writers meet the room coming back) may need most of
// them, the more so on a loaded machine.
constexpr int kBrokenExamples = 300;
// A broken quirk's counterexample: four steps of traffic at most, one of
// layout, which a race's counterexample may keep (G-MULTI-WRITER's writers
// as two threads, where quirk_merge_broken's merge shows at once) when the
// shrinker's run without it happened to pass, and one more such step: in a
// whole-suite ctest -j2 on a 2-core host, a second run of
// quirk_merge_broken's shrink passed by chance too.
constexpr size_t kMostSteps = 6;

class BrokenQuirkTest : public ::testing::TestWithParam<QuirkInfo> {
 protected:
  static void SetUpTestSuite() { testing::RegisterQuirkTransports(); }
  void SetUp() override {
    if (absl::StartsWith(GetParam().property, "G-TIMEOUT-RACE") && !props::CallGate::Available()) {
      GTEST_SKIP() << "no seccomp user notification here: a hold at a system call needs it";
    }
  }
};

TEST_P(BrokenQuirkTest, CaughtByItsPropertyBuiltIn) {
  const QuirkInfo& q = GetParam();
  const Property* p = PropertyRegistry::Global().Find(q.property);
  ASSERT_NE(p, nullptr) << q.property;
  const Transport* t = TransportRegistry::Global().Find(q.name);
  ASSERT_TRUE(p->AppliesTo(*t).applies) << p->AppliesTo(*t).reason;
  PropertyResult r = RunBuiltin(q, *p, kBrokenExamples);
  EXPECT_EQ(r.outcome, Outcome::kFail)
      << q.name << " slipped through " << q.property << ": " << r.message;
  EXPECT_LE(StepCount(r.counterexample), kMostSteps) << r.counterexample;
  EXPECT_THAT(r.counterexample, ::testing::Not(::testing::HasSubstr("parameter ")));
  RecordProperty("counterexample", r.counterexample);
}

TEST_P(BrokenQuirkTest, CaughtByItsPropertyAsAPlugin) {
  const QuirkInfo& q = GetParam();
  testing::PairRun r = testing::RunPair(
      IPCSPEC_BINARY, q.name, q.property,
      {.extra_args = {"--plugin=" + Plugin(q), absl::StrCat("--examples=", kBrokenExamples)}});
  EXPECT_EQ(r.outcome, "fail") << r.output;
  // Shrunk and reproducible; it may have no step at all (G-WAKEUP-KILLED's
  // default layout loses a wake-up too, now and then).
  EXPECT_THAT(r.output, ::testing::HasSubstr("minimal counterexample")) << r.output;
  EXPECT_THAT(r.output, ::testing::HasSubstr("--reproduce=")) << r.output;
  EXPECT_LE(StepCount(r.counterexample), kMostSteps) << r.counterexample;
  EXPECT_EQ(r.exit_code, 1) << r.output;
}

// A lossy transport (every third send dropped) whose reader is blocked in
// a receive when its writer dies: the writer sent a fixed number, some of
// which never come, so the reader may not wait for all of them first. (It
// did, and hung until the watchdog called it a hang.) Enough examples that
// several have the reader blocked after three or more messages.
TEST(LossyQuirkTest, ReaderBlockedWhenItsWriterDiesIsNotOwedWhatWasLost) {
  testing::RegisterQuirkTransports();
  const QuirkInfo* lossy = nullptr;
  for (const QuirkInfo& q : testing::QuirkTransports()) {
    if (q.name == "quirk_lossy") lossy = &q;
  }
  ASSERT_NE(lossy, nullptr);
  const Property* p = PropertyRegistry::Global().Find("G-PEER-CRASH");
  ASSERT_NE(p, nullptr);
  PropertyResult r = RunBuiltin(*lossy, *p, 60);
  EXPECT_EQ(r.outcome, Outcome::kPass) << r.message << "\n" << r.counterexample;
}

INSTANTIATE_TEST_SUITE_P(Family, BrokenQuirkTest, ::testing::ValuesIn(Quirks(true)),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace ipcspec
