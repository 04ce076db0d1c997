#include "properties/support/child_watch.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "ipcspec/proc.h"
#include "ipcspec/sandbox.h"
#include "properties/support/proc_util.h"

namespace ipcspec::props {
namespace {

constexpr int kCountExit = 255;

}  // namespace

int ExitCodeOf(ssize_t n, int err) { return n >= 0 ? kCountExit : std::clamp(err, 1, 254); }
int ExitCodeOf(ssize_t n) { return ExitCodeOf(n, errno); }

std::string ChildCall::Said() const {
  if (blocked) return "blocked";
  if (!exited) return "neither returned nor blocked in time";
  if (WIFEXITED(status)) {
    const int code = WEXITSTATUS(status);
    if (code == kCountExit) return "returned a count";
    return absl::StrCat("failed with ", ErrnoName(code));
  }
  return DescribeWaitStatus(status);
}

bool ChildCall::FailedWith(int err) const {
  return exited && WIFEXITED(status) && WEXITSTATUS(status) == err;
}

bool ChildCall::Returned() const {
  return exited && WIFEXITED(status) && WEXITSTATUS(status) == kCountExit;
}

bool SleepsIn(pid_t pid, std::initializer_list<long> calls) {
  if (ProcessState(pid) != 'S') return false;
  const long nr = CurrentSyscall(pid);
  if (std::find(calls.begin(), calls.end(), nr) == calls.end()) return false;
  // The syscall file may describe a call that just returned: look again.
  return ProcessState(pid) == 'S';
}

bool AwaitBlocked(pid_t pid, std::initializer_list<long> calls, const SharedFlags& flags,
                  size_t returned, const Deadline& deadline) {
  for (;;) {
    if (flags.IsRaised(returned)) return false;
    if (SleepsIn(pid, calls)) return true;
    if (deadline.Passed()) return false;
    flags.WaitFor(returned, Deadline::After(absl::Milliseconds(1)));
  }
}

ChildCall WatchCall(const std::function<int()>& fn, std::initializer_list<long> calls,
                    const Deadline& deadline) {
  ChildCall out;
  const pid_t pid = ForkChild(fn);
  if (pid < 0) return out;
  FileDescriptor pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  for (;;) {
    const pid_t r = ::waitpid(pid, &out.status, WNOHANG);
    if (r == pid) {
      out.exited = true;
      return out;
    }
    if (calls.size() > 0 && SleepsIn(pid, calls)) {
      out.blocked = true;
      KillAndReap(pid);
      return out;
    }
    if (deadline.Passed()) {
      KillAndReap(pid);
      return out;
    }
    // The child's exit wakes this at once; /proc is looked at between.
    const Deadline slice = Deadline::After(absl::Milliseconds(1));
    if (pidfd) {
      PollOne(pidfd.get(), POLLIN, slice);
    } else if (WaitChild(pid, 0, slice, &out.status)) {
      out.exited = true;
      return out;
    }
  }
}

std::string CheckInChild(const std::function<std::string()>& check, const Deadline& deadline) {
  SharedMemory text(1024);
  const pid_t pid = ForkChild([&] {
    const std::string e = check();
    e.copy(static_cast<char*>(text.data()), text.size() - 1);
    return e.empty() ? 0 : 1;
  });
  int status = 0;
  if (pid < 0 || !WaitChild(pid, 0, deadline, &status)) {
    KillAndReap(pid);
    return "the checking child did not finish";
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  if (!WIFEXITED(status)) return absl::StrCat("the checking child ", DescribeWaitStatus(status));
  return static_cast<const char*>(text.data());
}

int SurvivesExec(int fd, const Deadline& deadline) {
  const std::string probe = absl::StrCat("/proc/self/fdinfo/", fd);
  const pid_t pid = ForkChild([&] {
    FileDescriptor null(::open("/dev/null", O_WRONLY | O_CLOEXEC));
    ::dup2(null.get(), 1);
    ::dup2(null.get(), 2);
    const char* argv[] = {"cat", probe.c_str(), nullptr};
    ::execv("/bin/cat", const_cast<char* const*>(argv));
    return 127;
  });
  int status = 0;
  if (pid < 0 || !WaitChild(pid, 0, deadline, &status)) {
    KillAndReap(pid);
    return -1;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) == 127) return -1;
  return WEXITSTATUS(status) == 0 ? 1 : 0;
}

void DefaultSignalAction(int sig) {
  // The kernel's struct sigaction: handler, flags, restorer, mask.
  struct {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)();
    uint64_t mask;
  } act = {SIG_DFL, 0, nullptr, 0};
  ::syscall(SYS_rt_sigaction, sig, &act, nullptr, sizeof(act.mask));
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
}

}  // namespace ipcspec::props
