// What /proc says about a process: its system call, its kernel wait channel,
// and a wait until it sleeps in a given call.
#include "ipcspec/proc.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iterator>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ipcspec/inventory.h"

namespace ipcspec {
namespace {

constexpr std::pair<long, const char*> kSyscalls[] = {
#include "syscall_names.inc"
};

// The whole (small) /proc file, or "" when it cannot be read.
std::string ReadProcFile(pid_t pid, const char* what) {
  const std::string path = absl::StrFormat("/proc/%d/%s", pid, what);
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return "";
  char buf[512];
  ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

// The name of a call this table knows, else nullptr.
const char* KnownSyscall(long nr) {
  for (const auto& [number, name] : kSyscalls) {
    if (number == nr) return name;
  }
  return nullptr;
}

}  // namespace

std::string SyscallName(long nr) {
  const char* name = KnownSyscall(nr);
  return name != nullptr ? name : absl::StrCat("syscall ", nr);
}

long CurrentSyscall(pid_t pid) {
  const std::string s = ReadProcFile(pid, "syscall");
  if (s.empty()) return -2;
  if (s.rfind("running", 0) == 0) return -1;
  char* end = nullptr;
  long nr = std::strtol(s.c_str(), &end, 10);
  return end == s.c_str() ? -2 : nr;
}

namespace {
// The state letter of a /proc/PID/stat line: the field after the command,
// which ends at the last ')'.
char StateOf(std::string_view stat) {
  const size_t paren = stat.rfind(')');
  return paren != std::string_view::npos && paren + 2 < stat.size() ? stat[paren + 2] : 0;
}
}  // namespace

char ProcessState(pid_t pid) { return StateOf(ReadProcFile(pid, "stat")); }

int64_t RunQueueWaitNs(pid_t pid) {
  DIR* tasks = ::opendir(absl::StrFormat("/proc/%d/task", pid).c_str());
  if (tasks == nullptr) return -1;
  int64_t sum = 0;
  int counted = 0;
  while (const struct dirent* d = ::readdir(tasks)) {
    if (d->d_name[0] == '.') continue;
    // "<on CPU ns> <waiting for a CPU ns> <time slices>"
    long long on_cpu = 0, waiting = -1;
    const std::string line =
        ReadProcFile(pid, absl::StrCat("task/", d->d_name, "/schedstat").c_str());
    if (std::sscanf(line.c_str(), "%lld %lld", &on_cpu, &waiting) == 2 && waiting >= 0) {
      sum += waiting;
      ++counted;
    }
  }
  ::closedir(tasks);
  return counted > 0 ? sum : -1;
}

ProcessStateProbe::ProcessStateProbe(pid_t pid)
    : fd_(pid > 0 ? ::open(absl::StrCat("/proc/", pid, "/stat").c_str(), O_RDONLY | O_CLOEXEC)
                  : -1) {}

char ProcessStateProbe::Now() const {
  char buf[512];
  const ssize_t n = ok() ? ::pread(fd_.get(), buf, sizeof buf, 0) : -1;
  return n > 0 ? StateOf(std::string_view(buf, static_cast<size_t>(n))) : 0;
}

std::optional<int> ZombieStatus(pid_t pid, pid_t* parent) {
  const std::string s = ReadProcFile(pid, "stat");
  const size_t paren = s.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  // The fields after the command, from the state (field 3) on: the parent
  // is field 4, exit_code field 52.
  std::istringstream fields(s.substr(paren + 1));
  const std::vector<std::string> f{std::istream_iterator<std::string>(fields),
                                   std::istream_iterator<std::string>()};
  int ppid = 0, status = 0;
  if (f.size() < 50 || f[0] != "Z" || !absl::SimpleAtoi(f[1], &ppid) ||
      !absl::SimpleAtoi(f[49], &status)) {
    return std::nullopt;
  }
  if (parent != nullptr) *parent = ppid;
  return status;
}

std::string DescribeKernelWait(pid_t pid) {
  std::string wchan = ReadProcFile(pid, "wchan");
  const long nr = CurrentSyscall(pid);
  if (nr == -1) return "running";
  if (wchan.empty() || wchan == "0") wchan = "(wait channel hidden)";
  if (nr < 0) return wchan;
  // "(syscall futex)", or for a call the table does not name "(syscall 999)".
  const char* name = KnownSyscall(nr);
  return absl::StrCat(wchan, " (syscall ", name != nullptr ? name : std::to_string(nr), ")");
}

namespace {

// Waits until `pid` sleeps in a system call that `in` accepts, `watch.looks`
// looks in a row, or `watch.event` comes.
Asleep WaitUntilSleepingIn(pid_t pid, const std::function<bool(long)>& in, const Deadline& deadline,
                           const AsleepWatch& watch) {
  FileDescriptor pidfd(watch.event ? -1 : PidfdOpen(pid));
  int wait_us = 50;
  int seen = 0;
  for (;;) {
    const char state = ProcessState(pid);
    // Gone: a thread has no pidfd to say so (pidfd_open takes processes).
    if (state == 0) return Asleep::kGone;
    bool asleep = false;
    if (state == 'S' && (!watch.counts || watch.counts())) {
      const long nr = CurrentSyscall(pid);
      // Again after the syscall file: it may describe a call that returned.
      asleep = in(nr) && ProcessState(pid) == 'S';
    }
    seen = asleep ? seen + 1 : 0;
    if (seen >= std::max(watch.looks, 1)) return Asleep::kYes;
    if (deadline.Passed()) return Asleep::kDeadline;
    const int left = deadline.RemainingMs();
    const int64_t us = std::min<int64_t>(wait_us, left < 0 ? 5000 : int64_t{left} * 1000);
    if (watch.event) {
      if (watch.event(us)) return Asleep::kEvent;
    } else {
      struct timespec ts = {0, static_cast<long>(us) * 1000L};
      struct pollfd p = {pidfd.get(), POLLIN, 0};
      if (::ppoll(&p, pidfd ? 1 : 0, &ts, nullptr) > 0) return Asleep::kGone;  // it exited
    }
    wait_us = std::min(wait_us * 2, 5000);
  }
}

}  // namespace

bool WaitUntilBlockedIn(pid_t pid, std::initializer_list<long> syscalls, const Deadline& deadline) {
  return WaitUntilSleepingIn(pid,
                             [&](long nr) {
                               return std::find(syscalls.begin(), syscalls.end(), nr) !=
                                      syscalls.end();
                             },
                             deadline, {}) == Asleep::kYes;
}

bool WaitUntilAsleep(pid_t pid, const Deadline& deadline) {
  return WaitUntilAsleep(pid, deadline, {}) == Asleep::kYes;
}

Asleep WaitUntilAsleep(pid_t pid, const Deadline& deadline, const AsleepWatch& watch) {
  return WaitUntilSleepingIn(
      pid, [](long nr) { return nr >= 0; }, deadline, watch);
}

}  // namespace ipcspec
