// CallGate: the gated thread's call number i is held at its entry while the
// hold's callback runs, and then runs as if nothing had happened: what the
// callback did before it is what the call sees, and a signal sent meanwhile
// does not make a call fail that could not fail with EINTR.
#include "properties/support/call_gate.h"

#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "ipcspec/util.h"

namespace ipcspec::props {
namespace {

class CallGateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!CallGate::Available()) {
      GTEST_SKIP() << "no seccomp user notification with WAIT_KILLABLE_RECV here";
    }
  }
  // Runs `fn` on a thread of its own, which carries the gate for the rest of
  // its life (a filter cannot be removed): the test's thread stays ungated.
  template <typename Fn>
  static void OnAGatedThread(Fn fn) {
    std::thread t([&] {
      std::unique_ptr<CallGate> gate = CallGate::Install();
      ASSERT_NE(gate, nullptr);
      fn(*gate);
    });
    t.join();
  }
};

TEST_F(CallGateTest, TheHeldCallIsTheOneAtTheIndexAndEveryCallIsCounted) {
  OnAGatedThread([](CallGate& gate) {
    std::atomic<long> held_nr{-1};
    gate.Arm(1, [&](long nr) { held_nr.store(nr); });
    (void)::syscall(SYS_getppid);
    (void)::syscall(SYS_getpid);
    (void)::syscall(SYS_getuid);
    const CallGate::Calls calls = gate.Disarm();
    EXPECT_TRUE(calls.held);
    EXPECT_EQ(held_nr.load(), SYS_getpid);
    ASSERT_EQ(calls.count, 3);
    EXPECT_EQ(calls.numbers, (std::vector<long>{SYS_getppid, SYS_getpid, SYS_getuid}));
  });
}

// The calls a receive makes once its bound has passed (G-TIMEOUT-RACE): a
// call that entered before `from_ns` does not count, one that enters after
// it does. The sleep is what the test is about: a call that ends after the
// moment it entered before.
TEST_F(CallGateTest, FromAMomentOnlyTheCallsThatEnterFromThenCount) {
  OnAGatedThread([](CallGate& gate) {
    std::atomic<long> held_nr{-1};
    struct timespec now;
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    const int64_t from = now.tv_sec * int64_t{1000000000} + now.tv_nsec + 100'000'000;
    gate.Arm(
        0, [&](long nr) { held_nr.store(nr); }, from);
    (void)::syscall(SYS_getppid);
    const struct timespec until = {from / 1000000000, from % 1000000000};
    while (::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, nullptr) == EINTR) {
    }
    (void)::syscall(SYS_getuid);
    (void)::syscall(SYS_getpid);
    const CallGate::Calls calls = gate.Disarm();
    EXPECT_TRUE(calls.held);
    EXPECT_EQ(held_nr.load(), SYS_getuid);
    EXPECT_EQ(calls.held_at, 2);
    ASSERT_EQ(calls.count, 4);
  });
}

TEST_F(CallGateTest, ACallBeyondTheLastOneMadeIsNeverHeld) {
  OnAGatedThread([](CallGate& gate) {
    gate.Arm(5, [](long) { ADD_FAILURE() << "held"; });
    (void)::syscall(SYS_getpid);
    EXPECT_FALSE(gate.Disarm().held);
    // Disarmed: nothing is held any more.
    (void)::syscall(SYS_getpid);
  });
}

TEST_F(CallGateTest, TheHeldCallRunsAfterTheHoldAndSeesWhatItDid) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  FileDescriptor r(p[0]), w(p[1]);
  OnAGatedThread([&](CallGate& gate) {
    // The read is held at its entry: the byte written meanwhile is there
    // when it runs, so it does not block.
    gate.Arm(0, [&](long) { ASSERT_EQ(::write(w.get(), "x", 1), 1); });
    char c = 0;
    EXPECT_EQ(::read(r.get(), &c, 1), 1);
    EXPECT_EQ(c, 'x');
    EXPECT_TRUE(gate.Disarm().held);
  });
}

std::atomic<int> g_handled{0};

// What became of a signal sent to thread `tid` while its call is held: it
// was handled (the held wait was interrupted, and the call failed), or it
// is pending while the thread sleeps on in a wait only a fatal signal
// breaks (state D). One or the other comes for certain while the hold
// lasts; /proc has no notification for it, so it is looked at with a
// backoff from 50 us to 5 ms.
enum class Fate { kHandled, kPendingWhileHeld, kUnknown };
Fate SignalFate(pid_t tid, int sig) {
  const Deadline deadline = Deadline::After(absl::Seconds(10));
  long wait_us = 50;
  while (!deadline.Passed()) {
    if (g_handled.load() != 0) return Fate::kHandled;
    std::ifstream in(absl::StrCat("/proc/self/task/", tid, "/status"));
    const std::string status((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
    char state = 0;
    uint64_t pending = 0;
    for (absl::string_view line : absl::StrSplit(status, '\n')) {
      if (absl::ConsumePrefix(&line, "State:")) {
        line = absl::StripLeadingAsciiWhitespace(line);
        if (!line.empty()) state = line[0];
      } else if (absl::ConsumePrefix(&line, "SigPnd:")) {
        (void)absl::SimpleHexAtoi(absl::StripAsciiWhitespace(line), &pending);
      }
    }
    if (state == 'D' && (pending & (uint64_t{1} << (sig - 1))) != 0) return Fate::kPendingWhileHeld;
    struct timespec ts = {0, wait_us * 1000};
    ::nanosleep(&ts, nullptr);
    wait_us = std::min<long>(2 * wait_us, 5000);
  }
  return Fate::kUnknown;
}

// Without SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV the held thread waits
// interruptibly: the signal wakes it, its call fails with EINTR and the
// handler runs, all while the hold lasts (the hold's callback has not
// returned). With the flag it sleeps on, the signal pending, until the
// call has run.
TEST_F(CallGateTest, ASignalSentDuringTheHoldWaitsForTheCallAndDoesNotFailIt) {
  struct sigaction sa = {}, old = {};
  sa.sa_handler = [](int) { g_handled.fetch_add(1); };  // no SA_RESTART
  ASSERT_EQ(::sigaction(SIGUSR1, &sa, &old), 0);
  FileDescriptor fd(::dup(STDERR_FILENO));
  ASSERT_TRUE(fd);
  OnAGatedThread([&](CallGate& gate) {
    const pid_t tid = static_cast<pid_t>(::gettid());
    gate.Arm(0, [&](long) {
      ASSERT_EQ(::syscall(SYS_tgkill, ::getpid(), tid, SIGUSR1), 0);
      EXPECT_EQ(SignalFate(tid, SIGUSR1), Fate::kPendingWhileHeld);
    });
    // close(2) cannot fail with EINTR here: the signal comes after it.
    EXPECT_EQ(::close(fd.release()), 0);
    EXPECT_TRUE(gate.Disarm().held);
    EXPECT_EQ(g_handled.load(), 1);
  });
  ::sigaction(SIGUSR1, &old, nullptr);
}

}  // namespace
}  // namespace ipcspec::props
