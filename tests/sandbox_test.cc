// The sandbox's contract: every way a case can misbehave becomes exactly one
// outcome, and nothing it did survives it.
#include "ipcspec/sandbox.h"

#include <fcntl.h>
#include <mqueue.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ipcspec/inventory.h"
#include "ipcspec/watch.h"
#include "tests/support/scoped_tmpdir.h"

namespace ipcspec {
namespace {

using ::testing::AllOf;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;

SandboxOptions Fast() { return {.timeout = absl::Milliseconds(800)}; }

// After every test: no child, no zombie, no IPC object, nothing in /dev/shm
// that was not there before.
class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sysv_before_ = ListSysv().size();
    shm_before_ = ListDir("/dev/shm");
  }
  void TearDown() override {
    EXPECT_THAT(ChildrenOfSelf(), ::testing::IsEmpty());
    errno = 0;
    EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
    EXPECT_EQ(errno, ECHILD);
    EXPECT_EQ(ListSysv().size(), sysv_before_);
    EXPECT_EQ(ListDir("/dev/shm"), shm_before_);
  }
  size_t sysv_before_ = 0;
  std::vector<std::string> shm_before_;
};

TEST_F(SandboxTest, PassingCaseIsPass) {
  CaseResult r = RunCase(Fast(), [](const CaseEnv& env) {
    struct stat st;
    if (::stat(env.scratch_dir.c_str(), &st) != 0) return Verdict::Fail("no scratch dir");
    if ((st.st_mode & 0777) != 0700) return Verdict::Fail("scratch dir is not private");
    if (::getpgrp() != ::getpid()) return Verdict::Fail("not a process group leader");
    return Verdict::Pass();
  });
  EXPECT_EQ(r.outcome, Outcome::kPass) << r.message;
}

// Where the case's watch board is, as the case process sees it.
std::string BoardOfACase() {
  return RunCase(Fast(),
                 [](const CaseEnv&) {
                   return Verdict::Fail(absl::StrFormat("%p", static_cast<void*>(CaseBoard())));
                 })
      .message;
}

// A watch board is shared memory, so one made before a fork is one board in
// both processes. A process that runs cases after a fork (each fork server,
// started after `run --plugin` probed the plugin in a case of the main
// process) must make boards of its own: two cases on one board judged and
// reset each other's participants, so a crash became a stranger's "hang".
TEST_F(SandboxTest, AProcessForkedAfterACaseMakesWatchBoardsOfItsOwn) {
  const std::string here = BoardOfACase();
  ASSERT_THAT(here, ::testing::StartsWith("0x"));
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string there = BoardOfACase();
    ::_exit(::write(fds[1], there.data(), there.size()) == static_cast<ssize_t>(there.size()) ? 0
                                                                                              : 1);
  }
  ::close(fds[1]);
  std::string there(64, '\0');
  const ssize_t n = ::read(fds[0], there.data(), there.size());
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  there.resize(n > 0 ? static_cast<size_t>(n) : 0);
  ASSERT_THAT(there, ::testing::StartsWith("0x"));
  EXPECT_NE(there, here) << "the forked process ran its case on the board it inherited";
}

TEST_F(SandboxTest, FailMessageArrives) {
  CaseResult r = RunCase(Fast(), [](const CaseEnv&) { return Verdict::Fail("message 4 lost"); });
  EXPECT_EQ(r.outcome, Outcome::kFail);
  EXPECT_EQ(r.message, "message 4 lost");
}

TEST_F(SandboxTest, SegfaultIsCrashedWithSignalName) {
  CaseResult r = RunCase(Fast(), [](const CaseEnv&) -> Verdict {
    volatile int* p = nullptr;
    *p = 1;
    return Verdict::Pass();
  });
  EXPECT_EQ(r.outcome, Outcome::kCrashed);
  EXPECT_EQ(r.signal, SIGSEGV);
  EXPECT_THAT(r.message, HasSubstr("SIGSEGV"));
}

TEST_F(SandboxTest, AbortIsCrashedWithSigabrt) {
  CaseResult r = RunCase(Fast(), [](const CaseEnv&) -> Verdict { std::abort(); });
  EXPECT_EQ(r.outcome, Outcome::kCrashed);
  EXPECT_EQ(r.signal, SIGABRT);
  EXPECT_THAT(r.message, HasSubstr("SIGABRT"));
}

TEST_F(SandboxTest, ExitWithoutVerdictIsCrashedWithStatus) {
  CaseResult r = RunCase(Fast(), [](const CaseEnv&) -> Verdict { ::_exit(3); });
  EXPECT_EQ(r.outcome, Outcome::kCrashed);
  EXPECT_EQ(r.signal, 0);
  EXPECT_THAT(r.message, HasSubstr("status 3"));
}

TEST_F(SandboxTest, SpinningCaseTimesOut) {
  CaseResult r = RunCase(Fast(), [](const CaseEnv&) -> Verdict {
    std::atomic<uint64_t> i{0};
    for (;;) i.fetch_add(1, std::memory_order_relaxed);
  });
  EXPECT_EQ(r.outcome, Outcome::kTimeout);
  EXPECT_GE(r.elapsed, absl::Milliseconds(800));
}

TEST_F(SandboxTest, CaseBlockedInReadTimesOut) {
  CaseResult r = RunCase(Fast(), [](const CaseEnv&) -> Verdict {
    int fds[2];
    if (::pipe(fds) != 0) return Verdict::Broken("pipe");
    char c;
    (void)::read(fds[0], &c, 1);
    return Verdict::Fail("read returned");
  });
  EXPECT_EQ(r.outcome, Outcome::kTimeout);
}

TEST_F(SandboxTest, CaseIgnoringSigtermStillTimesOut) {
  CaseResult r = RunCase(Fast(), [](const CaseEnv&) -> Verdict {
    ::signal(SIGTERM, SIG_IGN);
    ::signal(SIGINT, SIG_IGN);
    ::signal(SIGHUP, SIG_IGN);
    for (;;) ::pause();
  });
  EXPECT_EQ(r.outcome, Outcome::kTimeout);
}

TEST_F(SandboxTest, ForkingUntilTheLimitIsBoundedAndCleanedUp) {
  SandboxOptions o = Fast();
  o.max_processes = 16;
  CaseResult r = RunCase(o, [](const CaseEnv&) {
    int forked = 0;
    for (;;) {
      pid_t p = ::fork();
      if (p == 0) {
        for (;;) ::pause();
      }
      if (p < 0) {
        return errno == EAGAIN ? Verdict{Outcome::kPass, std::to_string(forked)}
                               : Verdict::Fail(ErrnoName(errno));
      }
      if (++forked > 1000) return Verdict::Fail("no process limit");
    }
  });
  // The children outlived the case: a leak, each one named and killed.
  ASSERT_EQ(r.outcome, Outcome::kLeaked) << r.message;
  EXPECT_GE(r.leaks.size(), 1u);
  EXPECT_LE(r.leaks.size(), 16u);
}

TEST_F(SandboxTest, ForkBombTimesOutAndIsReaped) {
  SandboxOptions o = Fast();
  o.max_processes = 32;
  CaseResult r = RunCase(o, [](const CaseEnv&) -> Verdict {
    for (;;) (void)::fork();
  });
  EXPECT_EQ(r.outcome, Outcome::kTimeout);
}

TEST_F(SandboxTest, EscapedGrandchildIsCaughtAndReportedAsLeak) {
  CaseResult r = RunCase(Fast(), [](const CaseEnv&) {
    int ready[2];
    if (::pipe(ready) != 0) return Verdict::Broken("pipe");
    pid_t p = ::fork();
    if (p == 0) {
      ::setsid();
      if (::fork() == 0) {
        ::close(ready[0]);
        (void)::write(ready[1], "x", 1);
        for (;;) ::pause();
      }
      ::_exit(0);
    }
    ::close(ready[1]);
    ::waitpid(p, nullptr, 0);
    char c;
    if (::read(ready[0], &c, 1) != 1) return Verdict::Broken("grandchild did not start");
    return Verdict::Pass();
  });
  EXPECT_EQ(r.outcome, Outcome::kLeaked);
  EXPECT_THAT(r.message, HasSubstr("process "));
}

TEST_F(SandboxTest, LeftSysvQueueIsLeaked) {
  CaseResult r = RunCase(Fast(), [](const CaseEnv&) {
    return ::msgget(IPC_PRIVATE, IPC_CREAT | 0600) >= 0 ? Verdict::Pass()
                                                        : Verdict::Broken("msgget");
  });
  EXPECT_EQ(r.outcome, Outcome::kLeaked);
  EXPECT_THAT(r.message, HasSubstr("SysV message queue"));
}

TEST_F(SandboxTest, LeftPosixQueueIsLeaked) {
  CaseResult r = RunCase(Fast(), [](const CaseEnv&) {
    mqd_t q = ::mq_open("/ipcspec-sandbox-test", O_CREAT | O_RDWR, 0600, nullptr);
    return q != static_cast<mqd_t>(-1) ? Verdict::Pass() : Verdict::Broken("mq_open");
  });
  EXPECT_EQ(r.outcome, Outcome::kLeaked);
  EXPECT_THAT(r.message, HasSubstr("POSIX message queue /ipcspec-sandbox-test"));
}

// Where the system keeps its mqueue file system at /dev/mqueue, a case
// sees its own queues there, never the ones outside it: a transport that
// unlinks "stale" queues by that path cannot reach the machine's.
TEST_F(SandboxTest, DevMqueueInACaseIsTheCasesOwn) {
  struct stat st;
  if (::stat("/dev/mqueue", &st) != 0 || !S_ISDIR(st.st_mode)) {
    GTEST_SKIP() << "no /dev/mqueue on this system";
  }
  const std::string outside = absl::StrFormat("ipcspec-outside-%d", ::getpid());
  struct mq_attr attr = {};
  attr.mq_maxmsg = 1;
  attr.mq_msgsize = 8;
  const mqd_t q = ::mq_open(("/" + outside).c_str(), O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
  ASSERT_NE(q, static_cast<mqd_t>(-1)) << strerror(errno);
  ::mq_close(q);
  CaseResult r = RunCase(Fast(), [&](const CaseEnv&) {
    const mqd_t mine = ::mq_open("/ipcspec-inside", O_CREAT | O_RDWR, 0600, &attr);
    if (mine == static_cast<mqd_t>(-1)) return Verdict::Broken("mq_open");
    ::mq_close(mine);
    const std::vector<std::string> seen = ListDir("/dev/mqueue");
    ::mq_unlink("/ipcspec-inside");
    const bool own = std::find(seen.begin(), seen.end(), "ipcspec-inside") != seen.end();
    const bool other = std::find(seen.begin(), seen.end(), outside) != seen.end();
    return own && !other ? Verdict::Pass()
                         : Verdict::Fail(absl::StrFormat("own queue seen: %d, the outside one: %d",
                                                         own, other));
  });
  ::mq_unlink(("/" + outside).c_str());
  EXPECT_EQ(r.outcome, Outcome::kPass) << r.message;
}

TEST_F(SandboxTest, LeftShmObjectIsLeakedAndRemoved) {
  CaseResult r = RunCase(Fast(), [](const CaseEnv&) {
    int fd = ::shm_open("/ipcspec-sandbox-test", O_CREAT | O_RDWR, 0600);
    return fd >= 0 ? Verdict::Pass() : Verdict::Broken("shm_open");
  });
  EXPECT_EQ(r.outcome, Outcome::kLeaked);
  EXPECT_THAT(r.message, HasSubstr("/dev/shm/ipcspec-sandbox-test"));
}

TEST_F(SandboxTest, LeftFifoIsLeaked) {
  CaseResult r = RunCase(Fast(), [](const CaseEnv& env) {
    return ::mkfifo((env.scratch_dir + "/f").c_str(), 0600) == 0 ? Verdict::Pass()
                                                                 : Verdict::Broken("mkfifo");
  });
  EXPECT_EQ(r.outcome, Outcome::kLeaked);
  EXPECT_THAT(r.message, ContainsRegex("file-system node .*/f"));
}

TEST_F(SandboxTest, HundredMegabytesOnStderrAreBounded) {
  SandboxOptions o = Fast();
  o.timeout = absl::Seconds(20);
  CaseResult r = RunCase(o, [](const CaseEnv&) {
    std::string chunk(1 << 20, 'e');
    for (int i = 0; i < 100; ++i) {
      if (WriteFull(2, chunk.data(), chunk.size()) != 0) return Verdict::Fail("write");
    }
    return Verdict::Pass();
  });
  EXPECT_EQ(r.outcome, Outcome::kPass) << r.message;
  EXPECT_EQ(r.output.size(), o.output_limit);
  EXPECT_EQ(r.output.size() + r.output_dropped, 100u << 20);
}

TEST_F(SandboxTest, OutputIsCaptured) {
  CaseResult r = RunCase(Fast(), [](const CaseEnv&) {
    (void)::write(1, "to stdout\n", 10);
    (void)::write(2, "to stderr\n", 10);
    return Verdict::Fail("see output");
  });
  EXPECT_EQ(r.outcome, Outcome::kFail);
  EXPECT_THAT(r.output, AllOf(HasSubstr("to stdout"), HasSubstr("to stderr")));
}

TEST_F(SandboxTest, ClosingStandardDescriptorsIsHarmless) {
  CaseResult r = RunCase(Fast(), [](const CaseEnv&) {
    ::close(0);
    ::close(1);
    ::close(2);
    return Verdict::Pass();
  });
  EXPECT_EQ(r.outcome, Outcome::kPass) << r.message;
}

// A case forked ahead of its work: set up as RunCase's, given its work and
// timing only when Run is called.
TEST_F(SandboxTest, PendingCaseRunsItsWorkWithTheTimingGivenAtRun) {
  auto pending = PendingCase::Fork(Fast(), [](std::string_view work, const CaseEnv& env) {
    if (work != "the work") return Verdict::Fail("work " + std::string(work));
    struct stat st;
    if (::stat(env.scratch_dir.c_str(), &st) != 0) return Verdict::Fail("no scratch dir");
    if (::getpgrp() != ::getpid()) return Verdict::Fail("not a process group leader");
    if (env.time_unit != absl::Milliseconds(3) || env.hang_grace != absl::Milliseconds(700)) {
      return Verdict::Fail("the timing given at Run did not arrive");
    }
    if (env.deadline - absl::Now() > absl::Seconds(5)) return Verdict::Fail("no deadline");
    return Verdict::Pass();
  });
  ASSERT_TRUE(pending.ok()) << pending.status();
  CaseTiming timing = Fast().timing();
  timing.time_unit = absl::Milliseconds(3);
  timing.hang_grace = absl::Milliseconds(700);
  CaseResult r = std::move(**pending).Run(timing, "the work");
  EXPECT_EQ(r.outcome, Outcome::kPass) << r.message;
}

TEST_F(SandboxTest, PendingCaseIsJudgedAsRunCaseIs) {
  auto crash =
      PendingCase::Fork(Fast(), [](std::string_view, const CaseEnv&) -> Verdict { std::abort(); });
  ASSERT_TRUE(crash.ok()) << crash.status();
  CaseResult r = std::move(**crash).Run(Fast().timing(), "");
  EXPECT_EQ(r.outcome, Outcome::kCrashed);
  EXPECT_EQ(r.signal, SIGABRT);

  auto leak = PendingCase::Fork(Fast(), [](std::string_view, const CaseEnv&) {
    return ::msgget(IPC_PRIVATE, IPC_CREAT | 0600) >= 0 ? Verdict::Pass()
                                                        : Verdict::Broken("msgget");
  });
  ASSERT_TRUE(leak.ok()) << leak.status();
  r = std::move(**leak).Run(Fast().timing(), "");
  EXPECT_EQ(r.outcome, Outcome::kLeaked);
  EXPECT_THAT(r.message, HasSubstr("SysV message queue"));

  auto hang = PendingCase::Fork(Fast(), [](std::string_view, const CaseEnv&) {
    for (;;) ::pause();
    return Verdict::Pass();
  });
  ASSERT_TRUE(hang.ok()) << hang.status();
  r = std::move(**hang).Run(Fast().timing(), "");
  EXPECT_EQ(r.outcome, Outcome::kTimeout);
}

// Never given work, it goes without a trace: no process, no scratch
// directory (the fixture checks processes and IPC objects).
TEST_F(SandboxTest, PendingCaseNeverRunLeavesNothing) {
  testing::ScopedTmpdir tmp;  // where its scratch directory goes
  ASSERT_FALSE(tmp.path().empty());
  {
    auto pending = PendingCase::Fork(Fast(), [](std::string_view, const CaseEnv&) {
      return Verdict::Fail("never meant to run");
    });
    EXPECT_TRUE(pending.ok()) << pending.status();
    EXPECT_THAT(ChildrenOfSelf(), ::testing::SizeIs(1));
    EXPECT_THAT(ListDir(tmp.path()),
                ::testing::Not(::testing::IsEmpty()));  // its scratch (and mqueue)
  }
  EXPECT_THAT(ChildrenOfSelf(), ::testing::IsEmpty());
  EXPECT_THAT(ListDir(tmp.path()), ::testing::IsEmpty());
}

// A case that died before its work came is reported as what killed it, and
// sending it its work does not raise SIGPIPE in the caller.
TEST_F(SandboxTest, PendingCaseKilledBeforeItsWorkIsCrashed) {
  auto pending = PendingCase::Fork(
      Fast(), [](std::string_view, const CaseEnv&) { return Verdict::Fail("never meant to run"); });
  ASSERT_TRUE(pending.ok()) << pending.status();
  const std::vector<pid_t> kids = ChildrenOfSelf();
  ASSERT_THAT(kids, ::testing::SizeIs(1));
  ASSERT_EQ(::kill(kids[0], SIGKILL), 0);
  siginfo_t info;
  ASSERT_EQ(::waitid(P_PID, kids[0], &info, WEXITED | WNOWAIT), 0);  // dead, not reaped
  CaseResult r = std::move(**pending).Run(Fast().timing(), "work");
  EXPECT_EQ(r.outcome, Outcome::kCrashed) << r.message;
  EXPECT_EQ(r.signal, SIGKILL);
}

TEST_F(SandboxTest, ParticipantCrashIsNamed) {
  CaseResult r = RunCase(Fast(), [](const CaseEnv&) {
    Participants ps(Deadline::After(absl::Milliseconds(500)));
    ps.Spawn("writer", [] { return Verdict::Pass(); });
    ps.Spawn("reader", []() -> Verdict { std::abort(); });
    return ps.Join();
  });
  EXPECT_EQ(r.outcome, Outcome::kCrashed);
  EXPECT_EQ(r.message, "reader killed by SIGABRT");
}

TEST_F(SandboxTest, BarrierLinesUpParticipants) {
  CaseResult r = RunCase(Fast(), [](const CaseEnv&) {
    ProcessBarrier b(3);
    SharedMemory seen(sizeof(std::atomic<int>));
    auto* count = new (seen.data()) std::atomic<int>(0);
    Participants ps(Deadline::After(absl::Milliseconds(500)));
    for (int i = 0; i < 3; ++i) {
      ps.Spawn("p" + std::to_string(i), [&] {
        count->fetch_add(1);
        if (!b.Wait(Deadline::After(absl::Milliseconds(400)))) return Verdict::Fail("timeout");
        return count->load() == 3 ? Verdict::Pass() : Verdict::Fail("passed the barrier early");
      });
    }
    return ps.Join();
  });
  EXPECT_EQ(r.outcome, Outcome::kPass) << r.message;
}

TEST_F(SandboxTest, HungParticipantIsTimeoutNotHang) {
  CaseResult r = RunCase(Fast(), [](const CaseEnv&) {
    Participants ps(Deadline::After(absl::Milliseconds(200)));
    ps.Spawn("reader", []() -> Verdict {
      for (;;) ::pause();
    });
    return ps.Join();
  });
  EXPECT_EQ(r.outcome, Outcome::kTimeout);
  EXPECT_THAT(r.message, HasSubstr("reader"));
}

}  // namespace
}  // namespace ipcspec
