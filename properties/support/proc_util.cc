#include "properties/support/proc_util.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace ipcspec::props {

Applicability OnlyFor(const Transport& t, std::initializer_list<std::string_view> names,
                      std::string_view why) {
  for (std::string_view n : names) {
    if (t.name() == n) return Applicability::Yes();
  }
  return Applicability::No(std::string(why));
}

std::string Sig(int sig) { return SignalName(sig); }

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return absl::StrFormat("exited %d", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return absl::StrCat("killed by ", Sig(WTERMSIG(status)),
                        WCOREDUMP(status) ? " (core dumped)" : "");
  }
  if (WIFSTOPPED(status)) return absl::StrCat("stopped by ", Sig(WSTOPSIG(status)));
  if (WIFCONTINUED(status)) return "continued";
  return absl::StrFormat("wait status 0x%x", status);
}

bool IsKilledBy(int status, int sig) { return WIFSIGNALED(status) && WTERMSIG(status) == sig; }

pid_t ForkChild(const std::function<int()>& fn) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(fn());
  return pid;
}

bool WaitChild(pid_t pid, int flags, const Deadline& deadline, int* status) {
  sigset_t chld, old;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, &old);
  bool done = false;
  for (;;) {
    pid_t r = ::waitpid(pid, status, flags | WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR)) {
      done = r == pid;
      break;
    }
    if (deadline.Passed()) break;
    const int ms = std::min(deadline.RemainingMs(), 100);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    ::sigtimedwait(&chld, nullptr, &ts);
  }
  sigprocmask(SIG_SETMASK, &old, nullptr);
  return done;
}

void KillAndReap(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGKILL);
  ::kill(pid, SIGCONT);
  ::waitpid(pid, nullptr, 0);
}

Deadline CaseDeadline(const CaseEnv& env) {
  return Deadline::After(env.deadline - absl::Now() - absl::Milliseconds(300));
}

}  // namespace ipcspec::props
