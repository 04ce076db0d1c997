// Every deliberately broken transport is caught by the property written for
// its class of bug, with default settings, and the counterexample is small.
#include <unistd.h>

#include <algorithm>
#include <ostream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ipcspec/engine.h"
#include "ipcspec/registry.h"
#include "properties/support/call_gate.h"
#include "properties/support/touch_trap.h"
#include "tests/support/broken_transports.h"

namespace ipcspec {
namespace {

class BrokenTest : public ::testing::TestWithParam<testing::BrokenInfo> {
 protected:
  static void SetUpTestSuite() { testing::RegisterBrokenTransports(); }
};

// `property` run on the broken transport `transport` at seed 1, each case
// given `timeout`; fails the test (and gives a default result) when either
// is missing.
PropertyResult RunAtSeed1(std::string_view transport, std::string_view property,
                          absl::Duration timeout) {
  testing::RegisterBrokenTransports();
  const Transport* t = TransportRegistry::Global().Find(transport);
  const Property* p = PropertyRegistry::Global().Find(property);
  EXPECT_NE(t, nullptr) << transport;
  EXPECT_NE(p, nullptr) << property;
  if (t == nullptr || p == nullptr) return {};
  DirectRunner runner({.timeout = timeout});
  RunConfig config;
  config.seed = 1;
  return RunProperty(*t, *p, config, runner);
}

// Whether this is a sanitized build, whose allocator maps memory of its own
// (G-FULL then judges a refusal's heap alone, not its mappings). Weak: the
// hook exists only there.
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*)(const volatile void*, size_t),
                                                         void (*)(const volatile void*))
    __attribute__((weak));
bool Sanitized() { return &__sanitizer_install_malloc_and_free_hooks != nullptr; }

// Whether a case here can stop a writer at its transport's first read of a
// message (props::TouchTrap): as root, through /dev/userfaultfd (a case
// gives up root), else through the system call.
bool CasesCanTrap() {
  if (!props::TouchTrap::Available()) return false;
  return ::geteuid() != 0 || ::access("/dev/userfaultfd", R_OK | W_OK) == 0;
}

TEST_P(BrokenTest, CaughtByItsProperty) {
  const testing::BrokenInfo& b = GetParam();
  const Transport* t = TransportRegistry::Global().Find(b.name);
  if (t == nullptr) GTEST_SKIP() << b.inner << " is not built here";
  if (b.bug == testing::Bug::kCopiesUnderTheLock && !CasesCanTrap()) {
    GTEST_SKIP() << "no userfaultfd for a case here: the kill inside the copy needs it";
  }
  if ((b.bug == testing::Bug::kLockFileLeft || b.bug == testing::Bug::kLockFileOpen) &&
      ::geteuid() != 0) {
    GTEST_SKIP() << "only a root run gives a case a uid of its own, which tells its /tmp nodes";
  }
  if (b.bug == testing::Bug::kMapPerRefusal && Sanitized()) {
    GTEST_SKIP() << "a sanitizer's allocator maps memory of its own: G-FULL judges the heap alone";
  }
  const Property* p = PropertyRegistry::Global().Find(b.property);
  ASSERT_NE(p, nullptr) << b.property;
  if (!p->AppliesTo(*t).applies && !props::CallGate::Available()) {
    GTEST_SKIP() << "no seccomp user notification here: " << b.property
                 << " holds a system call, which needs it";
  }
  ASSERT_TRUE(p->AppliesTo(*t).applies) << p->AppliesTo(*t).reason;
  DirectRunner runner({.timeout = absl::Seconds(2)});
  RunConfig config;
  config.seed = 1;
  config.examples = b.examples;
  PropertyResult r = RunProperty(*t, *p, config, runner);
  EXPECT_NE(r.outcome, Outcome::kPass) << b.name << " slipped through " << b.property;
  EXPECT_NE(r.outcome, Outcome::kBroken) << r.message;
  ASSERT_TRUE(r.failing.has_value());
  // Shrunk: a handful of steps at most, not the generated dozens.
  EXPECT_LE(r.failing->steps.size(), 8u) << r.counterexample;
  EXPECT_FALSE(r.reproduce.empty());
  RecordProperty("counterexample", r.counterexample);
  RecordProperty("message", r.message);
}

// G-BACKPRESSURE's first send, min(capacity, max_message) bytes into the
// empty channel, refused: the writer's failure is the verdict, at once (the
// reader, waiting for that message, was once left to hang for a grace and
// be reported as a hang in the harness's own wait).
TEST(BrokenBackpressureTest, AFullSizeSendRefusedIntoAnEmptyChannelIsAFailureNotAHang) {
  const PropertyResult r =
      RunAtSeed1("broken_full_size_refused", "G-BACKPRESSURE", absl::Seconds(5));
  EXPECT_EQ(r.outcome, Outcome::kFail) << r.message;
  EXPECT_THAT(r.message, ::testing::HasSubstr("into an empty channel gave -EAGAIN")) << r.message;
}

// A failure that leaves a peer waiting is the verdict, not the hang that
// follows: G-TIMEOUT's writer gets -EINVAL for its send (bounded by what is
// left of the case, seconds) to the reader asleep in a receive with no
// bound, which then waits for a message that never comes.
TEST(BrokenTimeoutTest, AWritersFailureIsTheVerdictNotTheHangItLeavesBehind) {
  const PropertyResult r = RunAtSeed1("broken_long_bound_invalid", "G-TIMEOUT", absl::Seconds(10));
  EXPECT_EQ(r.outcome, Outcome::kFail) << r.message;
  EXPECT_THAT(r.message, ::testing::HasSubstr("writer: sending to the reader asleep in its "
                                              "unbounded receive: -EINVAL"))
      << r.message;
  EXPECT_THAT(r.message, ::testing::HasSubstr("and then the case hung: reader blocked in recv"))
      << r.message;
}

// The same bug is invisible to a correct transport: the inner one passes.
// Once per (inner transport, property): 122 broken rows wrap 70 such pairs,
// and a pair's run at seed 1 is the same whichever row names it.
struct InnerPair {
  std::string inner;
  std::string property;
};
void PrintTo(const InnerPair& p, std::ostream* os) { *os << p.inner << " " << p.property; }

std::vector<InnerPair> InnerPairs() {
  std::vector<InnerPair> out;
  for (const testing::BrokenInfo& b : testing::BrokenTransports()) {
    const bool seen = std::any_of(out.begin(), out.end(), [&](const InnerPair& p) {
      return p.inner == b.inner && p.property == b.property;
    });
    if (!seen) out.push_back({b.inner, b.property});
  }
  return out;
}

class InnerTest : public ::testing::TestWithParam<InnerPair> {};

TEST_P(InnerTest, InnerTransportPasses) {
  const InnerPair& pair = GetParam();
  const Transport* t = TransportRegistry::Global().Find(pair.inner);
  if (t == nullptr) GTEST_SKIP() << pair.inner << " is not built here";
  const Property* p = PropertyRegistry::Global().Find(pair.property);
  ASSERT_NE(p, nullptr) << pair.property;
  SandboxOptions o;
  DirectRunner runner(o);
  RunConfig config;
  config.seed = 1;
  config.examples = 15;
  PropertyResult r = RunProperty(*t, *p, config, runner);
  EXPECT_EQ(r.outcome, Outcome::kPass) << r.message << "\n" << r.counterexample;
}

// G-CLEANUP judges the settings of both processes of a channel, whichever
// end the making process holds: a reader's end that installs a SIGUSR1
// handler and never takes it away is reported in the making process when
// it reads, and by the forked reader (once its end is closed) when it writes.
TEST(CleanupBothEndsTest, AReaderEndsSettingIsReportedWhereverTheReaderRuns) {
  testing::RegisterBrokenTransports();
  DirectRunner runner({.timeout = absl::Seconds(10)});
  for (const uint64_t writer_here : {0, 1}) {
    const Scenario s{"G-CLEANUP",
                     "broken_reader_end_handler",
                     {Step::Param(0, writer_here), Step::Param(1, 0), Step::Send(1, 1, 0)}};
    const CaseResult r = runner.Run(s);
    EXPECT_EQ(r.outcome, Outcome::kFail) << writer_here << ": " << r.message;
    EXPECT_THAT(r.message, ::testing::HasSubstr("SIGUSR1")) << r.message;
    EXPECT_THAT(r.message,
                ::testing::HasSubstr(writer_here ? "reader: once its end is closed"
                                                 : "the process that made the channel and read"))
        << r.message;
  }
}

// G-WAKEUP's reader close, where several writers may send: two writers
// asleep in sends into the full channel, and a close that wakes only the
// first (a condition signalled, not broadcast) leaves the second to sleep
// out its bound.
TEST(BrokenWakeupTest, AReadersCloseThatWakesOneOfTwoSleepingWritersIsCaught) {
  testing::RegisterBrokenTransports();
  DirectRunner runner({.timeout = absl::Seconds(10)});
  const Scenario s{"G-WAKEUP", "broken_wake_one_writer", {Step::Param(0, 3)}};
  const CaseResult r = runner.Run(s);
  EXPECT_EQ(r.outcome, Outcome::kFail) << r.message;
  EXPECT_THAT(r.message, ::testing::HasSubstr("after the reader closed")) << r.message;
  // The inner pipe wakes both.
  const CaseResult inner = runner.Run(Scenario{"G-WAKEUP", "pipe", {Step::Param(0, 3)}});
  EXPECT_EQ(inner.outcome, Outcome::kPass) << inner.message;
}

// The harness catches SIGPIPE with a handler of its own rather than
// ignoring it, so that a transport that ignores it for its writes, the most
// common action a library changes, is seen not to put it back.
TEST(CleanupSigpipeTest, IgnoringSigpipeAndLeavingItSoIsReported) {
  const PropertyResult r = RunAtSeed1("broken_sigpipe_ignored", "G-CLEANUP", absl::Seconds(10));
  EXPECT_EQ(r.outcome, Outcome::kFail) << r.message;
  EXPECT_THAT(r.message, ::testing::HasSubstr("SIGPIPE ignored (not before)")) << r.message;
}

INSTANTIATE_TEST_SUITE_P(All, BrokenTest, ::testing::ValuesIn(testing::BrokenTransports()),
                         [](const auto& info) { return info.param.name; });
// Test names: "posix_mq_G_ORDER".
INSTANTIATE_TEST_SUITE_P(All, InnerTest, ::testing::ValuesIn(InnerPairs()), [](const auto& info) {
  std::string name = info.param.inner + "_" + info.param.property;
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
});

}  // namespace
}  // namespace ipcspec
