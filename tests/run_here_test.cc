// Participants::RunHereAndJoin: a participant run in the case process itself
// is watched, judged and named exactly as one forked for it would be: its
// failure, its hang (with the kernel's diagnosis), its crash, and a failure
// of a forked participant while it is still blocked all end the case with
// the right verdict. Outside a case process it is forked like any other.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ipcspec/inventory.h"
#include "ipcspec/sandbox.h"
#include "ipcspec/watch.h"

namespace ipcspec {
namespace {

SandboxOptions Options() {
  return {.timeout = absl::Seconds(20), .hang_grace = absl::Milliseconds(200)};
}

// Blocks in read() on a pipe nobody writes to, for good.
[[noreturn]] void BlockForever() {
  int fds[2];
  if (::pipe(fds) != 0) std::abort();
  char c;
  for (;;) [[maybe_unused]] ssize_t n = ::read(fds[0], &c, 1);
}

class RunHereTest : public ::testing::Test {
 protected:
  void TearDown() override { EXPECT_THAT(ChildrenOfSelf(), ::testing::IsEmpty()); }
};

TEST_F(RunHereTest, RunsInTheCaseProcessBesideAForkedOne) {
  CaseResult r = RunCase(Options(), [](const CaseEnv&) {
    SharedMemory pids(2 * sizeof(std::atomic<pid_t>));
    auto* pid = new (pids.data()) std::atomic<pid_t>[2] {};
    int fds[2];
    if (::pipe(fds) != 0) return Verdict::Broken("pipe");
    Participants ps(Deadline::After(absl::Seconds(10)));
    ps.Spawn("writer", [&] {
      pid[0] = ::getpid();
      return ::write(fds[1], "x", 1) == 1 ? Verdict::Pass() : Verdict::Fail("write");
    });
    ::close(fds[1]);
    Verdict v = ps.RunHereAndJoin("reader", [&] {
      pid[1] = ::getpid();
      char c = 0;
      return ::read(fds[0], &c, 1) == 1 && c == 'x' ? Verdict::Pass() : Verdict::Fail("read");
    });
    if (!v.ok()) return v;
    if (pid[1] != ::getpid()) return Verdict::Fail("the reader ran in another process");
    if (pid[0] == ::getpid()) return Verdict::Fail("the writer ran in the case process");
    return Verdict::Pass();
  });
  EXPECT_EQ(r.outcome, Outcome::kPass) << r.message;
}

TEST_F(RunHereTest, ItsFailureIsNamed) {
  CaseResult r = RunCase(Options(), [](const CaseEnv&) {
    Participants ps(Deadline::After(absl::Seconds(10)));
    ps.Spawn("writer", [] { return Verdict::Pass(); });
    return ps.RunHereAndJoin("reader", [] { return Verdict::Fail("got 3, expected 4"); });
  });
  EXPECT_EQ(r.outcome, Outcome::kFail);
  EXPECT_EQ(r.message, "reader: got 3, expected 4");
}

TEST_F(RunHereTest, WhenBothFailTheForkedOnesFailureComesFirst) {
  CaseResult r = RunCase(Options(), [](const CaseEnv&) {
    Participants ps(Deadline::After(absl::Seconds(10)));
    ps.Spawn("writer", [] { return Verdict::Fail("sending message 3: EIO"); });
    return ps.RunHereAndJoin("reader", [] { return Verdict::Fail("message 3 never arrived"); });
  });
  EXPECT_EQ(r.outcome, Outcome::kFail);
  EXPECT_EQ(r.message, "writer: sending message 3: EIO");
}

TEST_F(RunHereTest, AForkedFailureEndsTheCaseWhileItIsStillBlocked) {
  CaseResult r = RunCase(Options(), [](const CaseEnv&) {
    Participants ps(Deadline::After(absl::Seconds(10)));
    ps.Spawn("writer", [] { return Verdict::Fail("sending message 0: EPIPE"); });
    return ps.RunHereAndJoin("reader", []() -> Verdict { BlockForever(); });
  });
  EXPECT_EQ(r.outcome, Outcome::kFail) << r.message;
  EXPECT_EQ(r.message, "writer: sending message 0: EPIPE");
  EXPECT_THAT(r.leaks, ::testing::IsEmpty());
}

TEST_F(RunHereTest, ItsHangIsATimeoutWithTheKernelsDiagnosis) {
  CaseResult r = RunCase(Options(), [](const CaseEnv&) {
    Participants ps(Deadline::After(absl::Seconds(10)));
    ps.Spawn("writer", [] { return Verdict::Pass(); });
    return ps.RunHereAndJoin("reader", []() -> Verdict {
      WatchedCall call("recv", 50);
      BlockForever();
    });
  });
  EXPECT_EQ(r.outcome, Outcome::kTimeout) << r.message;
  EXPECT_THAT(
      r.message,
      ::testing::AllOf(::testing::StartsWith("reader blocked in recv(timeout 50 ms) at step 1 for"),
                       ::testing::HasSubstr("kernel:"), ::testing::HasSubstr("syscall read")));
}

TEST_F(RunHereTest, StillRunningAtTheDeadlineIsATimeout) {
  CaseResult r = RunCase(Options(), [](const CaseEnv&) {
    Participants ps(Deadline::After(absl::Milliseconds(100)));
    return ps.RunHereAndJoin("reader", []() -> Verdict { BlockForever(); });
  });
  EXPECT_EQ(r.outcome, Outcome::kTimeout) << r.message;
  EXPECT_EQ(r.message, "reader: still running at the deadline");
}

TEST_F(RunHereTest, ItsCrashIsNamed) {
  CaseResult r = RunCase(Options(), [](const CaseEnv&) {
    Participants ps(Deadline::After(absl::Seconds(10)));
    ps.Spawn("writer", [] { return Verdict::Pass(); });
    return ps.RunHereAndJoin("reader", []() -> Verdict { std::abort(); });
  });
  EXPECT_EQ(r.outcome, Outcome::kCrashed) << r.message;
  EXPECT_EQ(r.message, "reader killed by SIGABRT");
}

TEST_F(RunHereTest, OutsideACaseProcessItIsForked) {
  SharedMemory where(sizeof(std::atomic<pid_t>));
  auto* pid = new (where.data()) std::atomic<pid_t>(0);
  Participants ps(Deadline::After(absl::Seconds(10)));
  Verdict v = ps.RunHereAndJoin("reader", [&] {
    *pid = ::getpid();
    return Verdict::Pass();
  });
  EXPECT_TRUE(v.ok()) << v.message;
  EXPECT_NE(pid->load(), 0);
  EXPECT_NE(pid->load(), ::getpid());
}

}  // namespace
}  // namespace ipcspec
