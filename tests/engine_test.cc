// The property engine end to end: generated scenarios run in the sandbox,
// failures shrink to a minimal scenario even when the transport crashes or
// hangs, and the reproduce string replays exactly that scenario.
#include "ipcspec/engine.h"

#include <map>
#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ipcspec/registry.h"
#include "tests/support/broken_transports.h"
#include "tests/support/run_property.h"

namespace ipcspec {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class EngineTest : public testing::BrokenTransportsTest {
 protected:
  PropertyResult Run(std::string_view transport, std::string_view property,
                     absl::Duration timeout = absl::Seconds(5), std::string reproduce = "") {
    RunConfig config;
    config.seed = 42;
    config.reproduce = std::move(reproduce);
    return testing::RunRegistered(transport, property, config, timeout);
  }
};

TEST_F(EngineTest, OrderPassesOnPipeAndPosixMq) {
  const int p_default_examples = PropertyRegistry::Global().Find("G-ORDER")->DefaultExamples();
  for (const char* t : {"pipe", "posix_mq"}) {
    PropertyResult r = Run(t, "G-ORDER");
    EXPECT_EQ(r.outcome, Outcome::kPass) << t << ": " << r.message << "\n" << r.counterexample;
    EXPECT_EQ(r.examples, p_default_examples);
  }
}

// --examples does not multiply a property whose every example is the same
// scenario: one example says all, and --repeat is there to run it again.
TEST_F(EngineTest, AOneScenarioPropertyMakesOneExampleWhateverIsAsked) {
  RunConfig asked;
  asked.examples = 25;
  for (const char* id : {"G-VOLUME", "G-TIMEOUT-RANGE"}) {
    const Property* p = PropertyRegistry::Global().Find(id);
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(p->OneScenario()) << id;
    EXPECT_EQ(ExamplesToRun(*p, asked), 1) << id;
  }
  EXPECT_EQ(ExamplesToRun(*PropertyRegistry::Global().Find("G-ORDER"), asked), 25);
  RunConfig config = asked;
  config.seed = 42;
  PropertyResult r = testing::RunRegistered("pipe", "G-VOLUME", config, absl::Seconds(30));
  EXPECT_EQ(r.outcome, Outcome::kPass) << r.message;
  EXPECT_EQ(r.examples, 1);
}

TEST_F(EngineTest, SwappedMessagesAreCaughtAndNamed) {
  PropertyResult r = Run("broken_swap45", "G-ORDER");
  ASSERT_EQ(r.outcome, Outcome::kFail);
  EXPECT_THAT(r.message, HasSubstr("message 4"));
  ASSERT_TRUE(r.failing.has_value());
  // Five messages are the fewest that reach the bug: message 4 is held back
  // for a message 5 that never comes. No size matters to it, so every size
  // shrinks to 0 (edge sizes such as 4096 once stayed as drawn).
  EXPECT_EQ(r.failing->steps.size(), 5u);
  for (const Step& st : r.failing->steps) EXPECT_EQ(st.size, 0u) << r.counterexample;
}

TEST_F(EngineTest, DroppedMessageShrinksToOneMessageOfThatSize) {
  PropertyResult r = Run("broken_drop4096", "G-ORDER");
  ASSERT_EQ(r.outcome, Outcome::kFail) << r.message;
  ASSERT_TRUE(r.failing.has_value());
  EXPECT_THAT(r.failing->steps, ElementsAre(Step::Send(1, 4096, 0)));
  EXPECT_THAT(r.counterexample, HasSubstr("writer 1 sends message 0: 4096 bytes"));
}

// Fails a scenario the first time it sees it and passes it after: a failure
// that depends on timing, as the harness sees it.
class FailsEachScenarioOnce : public CaseRunner {
 public:
  CaseResult Run(const Scenario& s) override {
    CaseResult r;
    r.outcome = seen_.insert(s.Serialize()).second ? Outcome::kFail : Outcome::kPass;
    r.message = "reader: message 2 was lost";
    return r;
  }

 private:
  std::set<std::string> seen_;
};

class AlwaysFails : public CaseRunner {
 public:
  CaseResult Run(const Scenario&) override {
    CaseResult r;
    r.outcome = Outcome::kFail;
    r.message = "reader: message 2 was lost";
    return r;
  }
};

// G-ORDER on pipe at seed 42, its cases run by `runner`.
PropertyResult OrderOnPipe(CaseRunner& runner, std::string reproduce = "") {
  const Transport* t = TransportRegistry::Global().Find("pipe");
  const Property* p = PropertyRegistry::Global().Find("G-ORDER");
  if (t == nullptr || p == nullptr) return {};
  RunConfig config;
  config.seed = 42;
  config.reproduce = std::move(reproduce);
  return RunProperty(*t, *p, config, runner);
}

TEST_F(EngineTest, CounterexampleThatPassesWhenRunAgainSaysHowOftenItFailed) {
  FailsEachScenarioOnce flaky;
  PropertyResult r = OrderOnPipe(flaky);
  ASSERT_EQ(r.outcome, Outcome::kFail);
  EXPECT_EQ(r.message,
            "reader: message 2 was lost (these steps failed in 1 of 5 runs; the others passed: "
            "the failure depends on timing)");
  AlwaysFails steady;
  EXPECT_EQ(OrderOnPipe(steady).message, "reader: message 2 was lost");
}

// Passes one scenario and fails every other.
class PassesOnly : public CaseRunner {
 public:
  explicit PassesOnly(const Scenario& s) : pass_(s.Serialize()) {}
  CaseResult Run(const Scenario& s) override {
    CaseResult r;
    r.outcome = s.Serialize() == pass_ ? Outcome::kPass : Outcome::kFail;
    r.message = "reader: message 2 was lost";
    return r;
  }

 private:
  std::string pass_;
};

// A reproduce string walks rapidcheck's shrinks from the generated example
// to the minimal one, and runs cases on the way. When the minimal example
// passes now (the transport was mended, or a race was missed), that is a
// pass, whatever the cases before it gave; it was once "broken".
TEST_F(EngineTest, AReproducedExampleThatPassesNowIsAPassWhateverTheShrinksBeforeItGave) {
  AlwaysFails steady;
  const PropertyResult first = OrderOnPipe(steady);
  ASSERT_TRUE(first.failing.has_value());
  ASSERT_GT(first.shrinks, 0);
  PassesOnly mended(*first.failing);
  const PropertyResult again = OrderOnPipe(mended, first.reproduce);
  EXPECT_EQ(again.outcome, Outcome::kPass) << again.message;
  EXPECT_EQ(again.message, "the reproduced example passes");
}

// A race as shrinking meets it: the generated scenario fails every time it
// runs, a part of it on every other run, and the smallest parts only on
// the fourth run in a row. Once a shrink has passed when run again, the
// failure is known to depend on timing, and a shrink that passes runs again
// (up to three more times) before it counts as passing: the shrinking goes
// on to the small parts instead of stopping where a first run missed.
class FailsLessOftenWhenSmaller : public CaseRunner {
 public:
  CaseResult Run(const Scenario& s) override {
    const std::string key = s.Serialize();
    streak_ = key == last_ ? streak_ + 1 : 1;
    last_ = key;
    const int k = ++runs_[key];
    const size_t n = s.steps.size();
    const bool fails = n >= 8 || (n >= 3 ? k % 2 == 1 : streak_ % 4 == 0);
    CaseResult r;
    r.outcome = fails ? Outcome::kFail : Outcome::kPass;
    r.message = "reader: message 0 corrupted";
    return r;
  }

 private:
  std::map<std::string, int> runs_;
  std::string last_;
  int streak_ = 0;
};

TEST_F(EngineTest, ARaceShrinksPastShrinksThatPassedOnTheirFirstRun) {
  FailsLessOftenWhenSmaller race;
  PropertyResult r = OrderOnPipe(race);
  ASSERT_EQ(r.outcome, Outcome::kFail);
  ASSERT_TRUE(r.failing.has_value());
  EXPECT_LT(r.failing->steps.size(), 3u) << r.counterexample;
  EXPECT_THAT(r.message, HasSubstr("the failure depends on timing"));
}

TEST_F(EngineTest, CrashShrinksLikeAnyFailure) {
  PropertyResult r = Run("broken_crash_empty", "G-ORDER");
  ASSERT_EQ(r.outcome, Outcome::kCrashed) << r.message;
  EXPECT_THAT(r.message, HasSubstr("writer killed by SIGSEGV"));
  ASSERT_TRUE(r.failing.has_value());
  EXPECT_THAT(r.failing->steps, ElementsAre(Step::Send(1, 0, 0)));
}

// A hang that only the whole-case deadline ends. The writer's send never
// returns; the reader's receive waits the deliver bound (the hang grace)
// and the watchdog a grace past the send's own bound, so with a 3 s grace
// the 1 s deadline is the first to end every run, shrinks included. (With
// the default 1 s grace the reader's bound and the deadline raced, and a
// loaded machine sometimes reported the reader's missing message.)
TEST_F(EngineTest, HangShrinksLikeAnyFailure) {
  SandboxOptions o;
  o.timeout = absl::Seconds(1);
  o.hang_grace = absl::Seconds(3);
  DirectRunner runner(o);
  RunConfig config;
  config.seed = 42;
  PropertyResult r = RunProperty(*TransportRegistry::Global().Find("broken_hang4096"),
                                 *PropertyRegistry::Global().Find("G-ORDER"), config, runner);
  ASSERT_EQ(r.outcome, Outcome::kTimeout) << r.message;
  ASSERT_TRUE(r.failing.has_value());
  EXPECT_THAT(r.failing->steps, ElementsAre(Step::Send(1, 4096, 0)));
}

TEST_F(EngineTest, HangNamesTheCounterexampleStepItIsIn) {
  // G-MODEL's executor publishes the step each participant carries out,
  // so a hang's diagnosis and the counterexample printed below it agree:
  // the writer's third transport call is the scenario's fourth step.
  DirectRunner runner({.timeout = absl::Seconds(10), .hang_grace = absl::Milliseconds(300)});
  CaseResult c = runner.Run(Scenario{
      "G-MODEL",
      "broken_hang4096",
      {Step::Send(1, 10, 0), Step::Recv(0, 0), Step::Send(1, 10, 1), Step::Send(1, 4096, 2)}});
  ASSERT_EQ(c.outcome, Outcome::kTimeout) << c.message;
  EXPECT_THAT(
      c.message,
      StartsWith("writer blocked in send(timeout 0 ms) at step 4 (its transport call 3) for "));
  // Shrunk, the same hang is the counterexample's only step.
  PropertyResult r = Run("broken_hang4096", "G-MODEL");
  ASSERT_EQ(r.outcome, Outcome::kTimeout) << r.message;
  ASSERT_TRUE(r.failing.has_value());
  EXPECT_EQ(r.failing->steps.size(), 1u) << r.counterexample;
  EXPECT_THAT(r.message, HasSubstr(" at step 1 (its transport call 1) for ")) << r.counterexample;
}

TEST_F(EngineTest, ReproduceStringReplaysExactlyTheMinimalExample) {
  PropertyResult first = Run("broken_drop4096", "G-ORDER");
  ASSERT_FALSE(first.reproduce.empty());
  ASSERT_TRUE(first.failing.has_value());
  PropertyResult again = Run("broken_drop4096", "G-ORDER", absl::Seconds(5), first.reproduce);
  EXPECT_EQ(again.outcome, Outcome::kFail);
  ASSERT_TRUE(again.failing.has_value());
  EXPECT_EQ(again.failing->steps, first.failing->steps);
}

TEST_F(EngineTest, BadReproduceStringIsBroken) {
  PropertyResult r = Run("pipe", "G-ORDER", absl::Seconds(5), "not base64!");
  EXPECT_EQ(r.outcome, Outcome::kBroken);
}

TEST_F(EngineTest, ForkServerRunsCasesLikeDirectRunner) {
  SandboxOptions o;
  o.timeout = absl::Seconds(5);
  auto server = ForkServer::Start(o);
  ASSERT_TRUE(server.ok()) << server.status();
  CaseResult ok = (*server)->Run({"G-ORDER", "pipe", {Step::Send(1, 70000, 0), Step::Recv(0, 7)}});
  EXPECT_EQ(ok.outcome, Outcome::kPass) << ok.message;
  // The server was forked after the broken transports were registered.
  CaseResult crash = (*server)->Run({"G-ORDER", "broken_crash_empty", {Step::Send(1, 0, 0)}});
  EXPECT_EQ(crash.outcome, Outcome::kCrashed);
  EXPECT_THAT(crash.message, HasSubstr("SIGSEGV"));
}

// Examples spread over several fork servers (lanes) give exactly what one
// server gives: the same outcome, examples, shrinks, message, minimal
// scenario and reproduce string, whether the property passes, fails or
// crashes.
TEST_F(EngineTest, LanesGiveExactlyTheResultOfOneRunner) {
  SandboxOptions o;
  o.timeout = absl::Seconds(5);
  std::vector<std::unique_ptr<ForkServer>> servers;
  for (int i = 0; i < 3; ++i) {
    auto server = ForkServer::Start(o);
    ASSERT_TRUE(server.ok()) << server.status();
    servers.push_back(*std::move(server));
  }
  const std::vector<CaseRunner*> lanes = {servers[0].get(), servers[1].get(), servers[2].get()};
  const Property* p = PropertyRegistry::Global().Find("G-ORDER");
  for (const char* name : {"pipe", "broken_drop4096", "broken_dupchunk", "broken_crash_empty"}) {
    SCOPED_TRACE(name);
    const Transport* t = TransportRegistry::Global().Find(name);
    ASSERT_NE(t, nullptr);
    RunConfig config;
    config.seed = 42;
    int progress = 0;
    config.on_example = [&](int n, bool) { progress = std::max(progress, n); };
    PropertyResult one = RunProperty(*t, *p, config, *servers[0]);
    PropertyResult three = RunProperty(*t, *p, config, lanes);
    EXPECT_EQ(three.outcome, one.outcome);
    EXPECT_EQ(three.examples, one.examples);
    EXPECT_EQ(three.shrinks, one.shrinks);
    EXPECT_EQ(three.message, one.message);
    EXPECT_EQ(three.reproduce, one.reproduce);
    EXPECT_EQ(three.counterexample, one.counterexample);
    EXPECT_EQ(three.failing, one.failing);
    EXPECT_GE(progress, one.examples);
  }
}

// A walk plays a round per call it walks in one case: its last-resort
// deadline is three times --timeout; any other case's is --timeout, and so
// is a case whose property is not registered here.
TEST(CaseTimeoutTest, AWalkHasThreeTimesTheTimeoutAndAnyOtherCaseTheTimeout) {
  const absl::Duration asked = absl::Seconds(10);
  for (const char* walk : {"G-TIMEOUT-RACE-SEND", "G-WAKEUP-RACE", "G-THREADS-WALK"}) {
    EXPECT_EQ(CaseTimeoutOf(Scenario{walk, "pipe", {}}, asked), absl::Seconds(30)) << walk;
  }
  for (const char* other : {"G-ORDER", "G-TIMEOUT", "PIPE-EOF", "NO-SUCH-PROPERTY"}) {
    EXPECT_EQ(CaseTimeoutOf(Scenario{other, "pipe", {}}, asked), asked) << other;
  }
}

TEST(ScenarioTest, SerializeRoundTripsAndRejectsGarbage) {
  Scenario s{"G-ORDER", "pipe", {Step::Send(1, 4096, 0), Step::Recv(0, 7), Step::Param(2, 99)}};
  absl::StatusOr<Scenario> back = Scenario::Parse(s.Serialize());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, s);
  EXPECT_EQ(back->Param(2, 0), 99u);
  EXPECT_FALSE(Scenario::Parse("").ok());
  EXPECT_FALSE(Scenario::Parse("IPCSPEC1\xff\xff\xff\xff").ok());
  std::string truncated = s.Serialize();
  truncated.pop_back();
  EXPECT_THAT(std::string(Scenario::Parse(truncated).status().message()), HasSubstr("truncated"));
}

}  // namespace
}  // namespace ipcspec
