// The watchdog (ipcspec/watch.h): an operation that overruns its timeout, or
// a case where every participant waits and nothing moves, ends at once as
// `timeout` with a diagnosis naming the call, its timeout, the step and the
// kernel's wait; such hangs shrink like failures, for a built-in transport
// and for a plugin. Speed is not asserted here (bench/hang_bench prints it).
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ipcspec/engine.h"
#include "ipcspec/proc.h"
#include "ipcspec/registry.h"
#include "ipcspec/watch.h"
#include "nlohmann/json.hpp"
#include "tests/support/hanging_transports.h"
#include "tests/support/one_cpu.h"
#include "tests/support/subprocess.h"

namespace ipcspec {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

SandboxOptions Options() {
  return {.timeout = absl::Seconds(20), .hang_grace = absl::Milliseconds(300)};
}

// A participant that is in `call` for ever.
Verdict Forever(const char* call, int timeout_ms) {
  WatchedCall watched(call, timeout_ms);
  for (;;) ::pause();
}

// A process kept runnable beside another on one CPU accrues time waiting
// for it (what the wake-up properties take out of a call's lateness); one
// asleep on that CPU meanwhile accrues none; a process that is not there
// has no figure.
TEST(KernelWaitTest, RunQueueWaitGrowsOnlyWhileRunnableWithoutACpu) {
  if (RunQueueWaitNs(::getpid()) < 0) GTEST_SKIP() << "no /proc/PID/schedstat here";
  const cpu_set_t one = ipcspec::testing::OneOfMyCpus();
  ASSERT_EQ(CPU_COUNT(&one), 1);
  pid_t pids[3];  // two spinners and a sleeper, on one CPU
  for (int i = 0; i < 3; ++i) {
    pids[i] = ::fork();
    ASSERT_GE(pids[i], 0);
    if (pids[i] == 0) {
      if (::sched_setaffinity(0, sizeof one, &one) != 0) ::_exit(1);
      for (;;) {
        if (i == 2) ::pause();
      }
    }
  }
  const pid_t sleeper = pids[2];
  ASSERT_TRUE(WaitUntilBlockedIn(sleeper, SYS_pause, Deadline::After(absl::Seconds(10))));
  const int64_t asleep = RunQueueWaitNs(sleeper);
  const int64_t first = RunQueueWaitNs(pids[0]);
  EXPECT_GE(first, 0);
  const Deadline deadline = Deadline::After(absl::Seconds(20));
  while (RunQueueWaitNs(pids[0]) <= first + 1000000 && !deadline.Passed()) {
    ::sched_yield();
  }
  EXPECT_GT(RunQueueWaitNs(pids[0]), first + 1000000);
  // The spinners queued for their CPU a millisecond and more; the sleeper
  // on that CPU did not.
  EXPECT_TRUE(WaitUntilBlockedIn(sleeper, SYS_pause, Deadline::After(absl::Seconds(10))));
  EXPECT_EQ(RunQueueWaitNs(sleeper), asleep);
  for (pid_t pid : pids) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  EXPECT_EQ(RunQueueWaitNs(sleeper), -1);
}

// The kernel part of a diagnosis names the call a process sleeps in, the
// newer ones (io_uring_enter, futex_waitv) too; an unnamed one is "syscall N".
// A probe that rereads the state through one descriptor reads what
// ProcessState reads.
TEST(KernelWaitTest, NamesTheCallAProcessSleepsIn) {
#ifdef SYS_io_uring_enter
  EXPECT_EQ(SyscallName(SYS_io_uring_enter), "io_uring_enter");
#endif
  EXPECT_EQ(SyscallName(99999), "syscall 99999");
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    for (;;) ::pause();
  }
  EXPECT_TRUE(WaitUntilBlockedIn(child, SYS_pause, Deadline::After(absl::Seconds(10))));
  EXPECT_THAT(DescribeKernelWait(child), HasSubstr("(syscall pause)"));
  const ProcessStateProbe probe(child);
  EXPECT_EQ(probe.Now(), 'S');
  EXPECT_EQ(probe.Now(), ProcessState(child));
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
}

TEST(WatchdogTest, OverrunOfItsOwnTimeoutIsAHangWithDiagnosis) {
  CaseResult r = RunCase(Options(), [](const CaseEnv&) {
    Participants ps(Deadline::After(absl::Seconds(15)));
    ps.Spawn("reader", [] { return Forever("recv", 100); });
    ps.Spawn("busy", [] {
      // Not in any operation: the standstill rule cannot fire, the overrun must.
      for (;;) ::pause();
      return Verdict::Pass();
    });
    return ps.Join();
  });
  EXPECT_EQ(r.outcome, Outcome::kTimeout) << r.message;
  EXPECT_THAT(r.message,
              StartsWith("reader blocked in recv(timeout 100 ms) (its transport call 1) for "));
  EXPECT_THAT(r.message, HasSubstr("; kernel: "));
  EXPECT_THAT(r.message, HasSubstr("(syscall pause)"));
}

TEST(WatchdogTest, EveryoneWaitingIsAHangNamingTheTransportCall) {
  CaseResult r = RunCase(Options(), [](const CaseEnv&) {
    ProcessBarrier never(3);  // the third party never comes
    Participants ps(Deadline::After(absl::Seconds(15)));
    ps.Spawn("writer", [&] {
      return never.Wait(Deadline::Infinite()) ? Verdict::Pass() : Verdict::Fail("x");
    });
    ps.Spawn("reader", [] { return Forever("recv", -1); });
    return ps.Join();
  });
  EXPECT_EQ(r.outcome, Outcome::kTimeout) << r.message;
  EXPECT_THAT(r.message,
              StartsWith("reader blocked in recv(no timeout) (its transport call 1) for "));
}

TEST(WatchdogTest, ABoundPastTheCaseDeadlineIsJudgedAsNone) {
  // recv(INT_MAX ms) would be judged in 24 days; the case ends in 20 s. With
  // its peer waiting for it, nothing moves: a standstill within the grace
  // (the case deadline would say "no verdict within 20s" instead).
  CaseResult r = RunCase(Options(), [](const CaseEnv&) {
    ProcessBarrier never(3);
    Participants ps(Deadline::After(absl::Seconds(15)));
    ps.Spawn("writer", [&] {
      return never.Wait(Deadline::Infinite()) ? Verdict::Pass() : Verdict::Fail("x");
    });
    ps.Spawn("reader", [] { return Forever("recv", INT_MAX); });
    return ps.Join();
  });
  EXPECT_EQ(r.outcome, Outcome::kTimeout) << r.message;
  EXPECT_THAT(r.message,
              StartsWith("reader blocked in recv(timeout 2147483647 ms) (its transport call 1) "));
}

TEST(WatchdogTest, ABoundedWaitThatEndsInTimeIsNoHang) {
  SandboxOptions o = Options();
  CaseResult r = RunCase(o, [](const CaseEnv&) {
    ProcessBarrier done(2);
    Participants ps(Deadline::After(absl::Seconds(15)));
    ps.Spawn("waiter", [&] {
      return done.Wait(Deadline::Infinite()) ? Verdict::Pass() : Verdict::Fail("x");
    });
    ps.Spawn("reader", [&] {
      // Three times the grace in bounded receives that each time out, as a
      // property about time does, while the peer waits for it.
      for (int i = 0; i < 9; ++i) {
        WatchedCall watched("recv", 100);
        ::poll(nullptr, 0, 100);
      }
      done.Wait(Deadline::Infinite());
      return Verdict::Pass();
    });
    return ps.Join();
  });
  EXPECT_EQ(r.outcome, Outcome::kPass) << r.message;
}

// The case process as a participant (Participants::RunHere): the sandbox,
// not the case process, is then the one watching.
TEST(RunHereTest, AHangInTheCaseProcessItselfIsDiagnosedByName) {
  CaseResult r = RunCase(Options(), [](const CaseEnv&) {
    Participants ps(Deadline::After(absl::Seconds(15)));
    if (!ps.WatchedFromOutside()) return Verdict::Broken("not watched from outside");
    ps.Spawn("busy", [] {
      // Not in any operation: the standstill rule cannot fire, the overrun must.
      for (;;) ::pause();
      return Verdict::Pass();
    });
    return ps.RunHere("reader", [] { return Forever("recv", 100); });
  });
  EXPECT_EQ(r.outcome, Outcome::kTimeout) << r.message;
  EXPECT_THAT(r.message,
              StartsWith("reader blocked in recv(timeout 100 ms) (its transport call 1) for "));
  EXPECT_THAT(r.message, HasSubstr("(syscall pause)"));
  EXPECT_TRUE(r.leaks.empty()) << r.message;
}

TEST(RunHereTest, ACrashInTheCaseProcessIsTheParticipantsCrash) {
  CaseResult r = RunCase(Options(), [](const CaseEnv&) {
    Participants ps(Deadline::After(absl::Seconds(15)));
    ps.Spawn("writer", [] { return Verdict::Pass(); });
    Verdict v = ps.RunHere("reader", [] {
      ::raise(SIGSEGV);
      return Verdict::Pass();
    });
    return v;
  });
  EXPECT_EQ(r.outcome, Outcome::kCrashed) << r.message;
  EXPECT_EQ(r.message, "reader killed by SIGSEGV");
  EXPECT_EQ(r.signal, SIGSEGV);
}

// The others' deaths end the case at once (their pidfds), not at the hang
// grace: with a grace longer than the case's deadline, only that can say it.
SandboxOptions NoHangInTime() {
  return {.timeout = absl::Seconds(20), .hang_grace = absl::Seconds(60)};
}

TEST(RunHereTest, ASpawnedParticipantKilledWhileTheCaseProcessWaitsIsReportedAtOnce) {
  CaseResult r = RunCase(NoHangInTime(), [](const CaseEnv&) {
    Participants ps(Deadline::After(absl::Seconds(15)));
    ps.Spawn("writer", [] {
      ::raise(SIGABRT);
      return Verdict::Pass();
    });
    return ps.RunHere("reader", [] { return Forever("recv", -1); });
  });
  EXPECT_EQ(r.outcome, Outcome::kCrashed) << r.message;
  EXPECT_EQ(r.message, "writer killed by SIGABRT");
}

TEST(RunHereTest, ASpawnedParticipantExitingWithoutVerdictIsReportedAtOnce) {
  CaseResult r = RunCase(NoHangInTime(), [](const CaseEnv&) {
    Participants ps(Deadline::After(absl::Seconds(15)));
    ps.Spawn("writer 2", []() -> Verdict { ::_exit(3); });
    return ps.RunHere("reader", [] { return Forever("recv", -1); });
  });
  EXPECT_EQ(r.outcome, Outcome::kCrashed) << r.message;
  EXPECT_EQ(r.message, "writer 2 exited with status 3 without a verdict");
}

TEST(RunHereTest, VerdictsCarryTheNameAndSpawnedOnesFinishingIsNoFailure) {
  CaseResult r = RunCase(NoHangInTime(), [](const CaseEnv&) {
    Participants ps(Deadline::After(absl::Seconds(15)));
    ps.Spawn("writer", [] { return Verdict::Pass(); });
    Verdict v = ps.RunHere("reader", [&] {
      // The writer has finished and exited by now, as it may: no failure.
      if (!ps.JoinOne("writer").ok()) return Verdict::Fail("the writer failed");
      return Verdict::Fail("message 2 missing");
    });
    Verdict joined = ps.Join();
    return joined.ok() ? v : joined;
  });
  EXPECT_EQ(r.outcome, Outcome::kFail) << r.message;
  EXPECT_EQ(r.message, "reader: message 2 missing");
}

class HangShrinkTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { testing::RegisterHangingTransports(); }
  PropertyResult Run(std::string_view transport, std::string_view property) {
    const Transport* t = TransportRegistry::Global().Find(transport);
    const Property* p = PropertyRegistry::Global().Find(property);
    auto server = ForkServer::Start(Options());
    // Nothing is dereferenced unless it is there: a missing part fails the
    // test and returns an empty result (whose outcome the caller asserts).
    if (t == nullptr || p == nullptr || !server.ok()) {
      ADD_FAILURE() << transport << " or " << property << " is not registered, or the fork "
                    << "server did not start: " << server.status();
      return PropertyResult{};
    }
    RunConfig config;
    config.seed = 7;
    return RunProperty(*t, *p, config, **server);
  }
};

TEST_F(HangShrinkTest, RecvIgnoringItsTimeoutShrinksToOneShortWait) {
  PropertyResult r = Run("hang_ignores_timeout", "G-TIMEOUT");
  ASSERT_EQ(r.outcome, Outcome::kTimeout) << r.message;
  EXPECT_THAT(
      r.message,
      MatchesRegex("reader blocked in recv\\(timeout [0-9]+ ms\\) \\(its transport call 1\\) "
                   "for [0-9.]+ s; kernel: .*"));
  ASSERT_TRUE(r.failing.has_value());
  EXPECT_EQ(r.failing->steps.size(), 1u) << r.counterexample;
  EXPECT_FALSE(r.counterexample.empty());
}

TEST_F(HangShrinkTest, RecvThatNeverReturnsAfterTheWriterWasKilledShrinks) {
  PropertyResult r = Run("hang_after_kill", "G-PEER-CRASH");
  ASSERT_EQ(r.outcome, Outcome::kTimeout) << r.message;
  EXPECT_THAT(r.message, StartsWith("reader blocked in recv("));
  EXPECT_THAT(r.message, HasSubstr("; kernel: "));
  ASSERT_TRUE(r.failing.has_value());
  // Every example hangs, so the minimal one is the smallest the property can
  // generate: one message, killed before anything was received.
  size_t sends = 0;
  for (const Step& s : r.failing->steps) sends += s.op == Op::kSend;
  EXPECT_EQ(sends, 1u) << r.counterexample;
}

TEST(HangPluginTest, PluginRecvThatNeverReturnsIsATimeoutWithDiagnosisAndShrinks) {
  const std::string json = ::testing::TempDir() + "/watchdog-plugin.json";
  testing::Ran r = testing::RunCommand(
      {IPCSPEC_BINARY, "run", absl::StrCat("--plugin=", IPCSPEC_PLUGIN_HANG_IN_RECV),
       "--transport=plugin_hang_in_recv", "--property=G-TIMEOUT", "--hang-grace=300ms", "--jobs=1",
       absl::StrCat("--json=", json)});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  std::ifstream in(json);
  nlohmann::json report = nlohmann::json::parse(in);
  ASSERT_EQ(report["results"].size(), 1u);
  const nlohmann::json& result = report["results"][0];
  EXPECT_EQ(result["outcome"], "timeout");
  EXPECT_THAT(
      result["message"].get<std::string>(),
      MatchesRegex(
          "reader blocked in recv\\(timeout [0-9]+ ms\\) \\(its transport call 1\\) for .*"));
  EXPECT_THAT(result["message"].get<std::string>(), HasSubstr("; kernel: "));
  // One wait step: "1." and no "2.".
  const std::string cx = result["counterexample"].get<std::string>();
  EXPECT_THAT(cx, HasSubstr("1."));
  EXPECT_THAT(cx, ::testing::Not(HasSubstr("2."))) << cx;
  ::unlink(json.c_str());
}

// create() and open() take no timeout and must return at once: one that
// never does is named a grace after it began, in the case process (which
// makes the channels) or in the participant that opens.
TEST(HangPluginTest, PluginCreateOrOpenThatNeverReturnsIsNamed) {
  struct Want {
    const char* plugin;
    const char* transport;
    const char* message;
  };
  for (const Want& w :
       {Want{IPCSPEC_PLUGIN_HANG_IN_CREATE, "plugin_hang_in_create",
             "the case process blocked in create\\(\\) \\(no timeout: it must return at once\\) "
             "for .*; kernel: .*"},
        Want{IPCSPEC_PLUGIN_HANG_IN_OPEN, "plugin_hang_in_open",
             "reader blocked in open\\(\\) \\(no timeout: it must return at once\\) .*"}}) {
    const std::string json = ::testing::TempDir() + "/watchdog-quick.json";
    testing::Ran r =
        testing::RunCommand({IPCSPEC_BINARY, "run", absl::StrCat("--plugin=", w.plugin),
                             absl::StrCat("--transport=", w.transport), "--property=G-ORDER",
                             "--hang-grace=300ms", "--jobs=1", absl::StrCat("--json=", json)});
    EXPECT_EQ(r.exit_code, 1) << r.out;
    std::ifstream in(json);
    nlohmann::json report = nlohmann::json::parse(in);
    ASSERT_EQ(report["results"].size(), 1u);
    const nlohmann::json& result = report["results"][0];
    EXPECT_EQ(result["outcome"], "timeout") << w.transport;
    EXPECT_THAT(result["message"].get<std::string>(), MatchesRegex(w.message)) << w.transport;
    ::unlink(json.c_str());
  }
}

}  // namespace
}  // namespace ipcspec
