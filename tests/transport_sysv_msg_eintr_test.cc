// sysv_msg's bounded waits when a call that never fails with EINTR does:
// the interrupt timer's clean-up makes it again. A call gate (a seccomp user
// notification) that a signal reaches before its thread has taken the call
// fails the call so, without running it; a timer_delete that never ran left
// the timer firing at a thread whose handler was put back next, and the
// process died of the interrupt signal (G-TIMEOUT-RACE-SEND, about one run
// of sysv_msg in eight). Here the interposed timer_delete below fails that
// way on its next call. Its own binary: the interposer is process-wide.
#include <dlfcn.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <string>

#include "tests/transport_test_util.h"

namespace {
// The next this many calls of timer_delete fail with EINTR, unrun.
std::atomic<int> g_interrupted_deletes{0};
}  // namespace

extern "C" int timer_delete(timer_t timer) {
  using Fn = int (*)(timer_t);
  static const Fn real = reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, "timer_delete"));
  if (g_interrupted_deletes.load() > 0) {
    g_interrupted_deletes.fetch_sub(1);
    errno = EINTR;
    return -1;
  }
  return real(timer);
}

namespace ipcspec::testing {
namespace {

// The POSIX timers of this process (/proc/self/timers: an "ID:" line each).
int TimersNow() {
  std::ifstream in("/proc/self/timers");
  int n = 0;
  for (std::string line; std::getline(in, line);) n += line.rfind("ID:", 0) == 0 ? 1 : 0;
  return n;
}

// What the child found, as its exit code.
enum Found { kClean = 0, kNotTimedOut = 2, kNotInterposed = 3, kTimerLeft = 4, kHandlerLeft = 5 };

class SysvMsgEintrTest : public ScratchDirTest {};

TEST_F(SysvMsgEintrTest, ATimerDeleteThatFailsWithEintrUnrunIsMadeAgain) {
  if (!std::ifstream("/proc/self/timers").good()) GTEST_SKIP() << "no /proc/self/timers here";
  Channel* ch = CreateChannel("sysv_msg");
  ASSERT_NE(ch, nullptr);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    absl::StatusOr<std::unique_ptr<End>> reader = ch->Open(Role::kReader);
    if (!reader.ok()) ::_exit(1);
    g_interrupted_deletes.store(1);
    std::vector<std::byte> buf(16);
    size_t n = 0;
    // An empty queue: the receive's timer fires, and is deleted after.
    const int rc = (*reader)->Recv(buf, &n, 20);
    if (rc != -ETIMEDOUT) ::_exit(kNotTimedOut);
    if (g_interrupted_deletes.load() != 0) ::_exit(kNotInterposed);
    if (TimersNow() != 0) ::_exit(kTimerLeft);
    struct sigaction now = {};
    ::sigaction(SIGRTMAX - 1, nullptr, &now);
    if (now.sa_handler != SIG_DFL) ::_exit(kHandlerLeft);
    ::_exit(kClean);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_FALSE(WIFSIGNALED(status)) << "the receiving process died of signal " << WTERMSIG(status)
                                    << " (SIGRTMAX-1 is " << SIGRTMAX - 1 << ")";
  EXPECT_EQ(WEXITSTATUS(status), kClean)
      << "2: the receive did not time out; 3: the interposed timer_delete was not called; 4: a "
         "timer was left; 5: the interrupt's handler was left";
}

}  // namespace
}  // namespace ipcspec::testing
