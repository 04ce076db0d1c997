#include "properties/signal/signal_proc.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ipcspec/sandbox.h"
#include "properties/support/proc_util.h"

namespace ipcspec::props {
namespace {

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

std::string TaskDir(pid_t pid, pid_t tid) {
  return tid == 0 ? absl::StrCat("/proc/", pid) : absl::StrCat("/proc/", pid, "/task/", tid);
}

// Reads a small /proc file whole; empty when it cannot be read.
std::string ReadSmall(const std::string& path) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return "";
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

bool SleepsIn(const std::string& dir, long nr) {
  auto state_is_s = [&] {
    const std::string stat = ReadSmall(dir + "/stat");
    const size_t paren = stat.rfind(')');
    return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'S';
  };
  if (!state_is_s()) return false;
  long got = -2;
  const std::string sc = ReadSmall(dir + "/syscall");
  if (std::sscanf(sc.c_str(), "%ld", &got) != 1 || got != nr) return false;
  // The syscall file describes the call the task was in when it was read;
  // it may have returned since, so the state must still be S.
  return state_is_s();
}

}  // namespace

bool ReadSigStatus(pid_t pid, pid_t tid, SigStatus* out) {
  const std::string text = ReadSmall(TaskDir(pid, tid) + "/status");
  if (text.empty()) return false;
  *out = SigStatus{};
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    unsigned long long v = 0;
    long a = 0, b = 0;
    if (std::sscanf(line.c_str(), "SigPnd: %llx", &v) == 1) out->pnd = v;
    if (std::sscanf(line.c_str(), "ShdPnd: %llx", &v) == 1) out->shd = v;
    if (std::sscanf(line.c_str(), "SigBlk: %llx", &v) == 1) out->blk = v;
    if (std::sscanf(line.c_str(), "SigIgn: %llx", &v) == 1) out->ign = v;
    if (std::sscanf(line.c_str(), "SigCgt: %llx", &v) == 1) out->cgt = v;
    if (std::sscanf(line.c_str(), "SigQ: %ld/%ld", &a, &b) == 2) {
      out->queued = a;
      out->limit = b;
    }
  }
  return true;
}

char TaskState(pid_t pid, pid_t tid) {
  if (pid == 0) return 0;
  const std::string stat = ReadSmall(TaskDir(pid, tid) + "/stat");
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return 0;
  return stat[paren + 2];
}

bool WaitTaskBlockedIn(pid_t pid, pid_t tid, long nr, const Deadline& deadline, int cancel_fd) {
  const std::string dir = TaskDir(pid, tid);
  FileDescriptor pidfd(static_cast<int>(::syscall(SYS_pidfd_open, tid, PIDFD_THREAD)));
  long backoff_us = 50;
  for (;;) {
    if (SleepsIn(dir, nr)) return true;
    if (TaskState(pid, tid) == 0 || TaskState(pid, tid) == 'Z' || deadline.Passed()) return false;
    struct pollfd fds[2] = {{pidfd.get(), POLLIN, 0}, {cancel_fd, POLLIN, 0}};
    const long left_us =
        deadline.infinite()
            ? backoff_us
            : std::max<long>(0, absl::ToInt64Microseconds(deadline.when() - absl::Now()));
    const long wait_us = std::min(backoff_us, left_us);
    struct timespec ts = {wait_us / 1000000, (wait_us % 1000000) * 1000};
    const int n = ::ppoll(fds, 2, &ts, nullptr);
    if (n > 0 && (fds[0].revents != 0 || fds[1].revents != 0)) return SleepsIn(dir, nr);
    backoff_us = std::min<long>(backoff_us * 2, 2000);
  }
}

HelperThread::HelperThread(std::function<void()> fn) : fn_(std::move(fn)) {
  sigset_t all;
  sigfillset(&all);
  Start(false, &all);
}

HelperThread::HelperThread(std::function<void()> fn, const sigset_t& mask) : fn_(std::move(fn)) {
  Start(false, &mask);
}

HelperThread::HelperThread(std::function<void()> fn, Inherit) : fn_(std::move(fn)) {
  Start(true, nullptr);
}

void HelperThread::Start(bool inherit, const sigset_t* mask) {
  sigset_t old;
  if (!inherit) {
    mask_ = *mask;
    set_mask_ = true;
    // Nothing may be delivered to the new thread before it installs mask_.
    sigset_t all;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
  }
  started_ = ::pthread_create(&thread_, nullptr, &HelperThread::Main, this) == 0;
  if (!inherit) ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (started_) tid_.wait(0);
}

void* HelperThread::Main(void* self) {
  auto* t = static_cast<HelperThread*>(self);
  if (t->set_mask_) ::pthread_sigmask(SIG_SETMASK, &t->mask_, nullptr);
  t->tid_.store(static_cast<pid_t>(::syscall(SYS_gettid)));
  t->tid_.notify_all();
  t->fn_();
  return nullptr;
}

void HelperThread::Join() {
  if (started_ && !joined_) {
    ::pthread_join(thread_, nullptr);
    joined_ = true;
  }
}

bool Pipe::Open(int flags) {
  int p[2];
  if (::pipe2(p, flags) != 0) return false;
  r.reset(p[0]);
  w.reset(p[1]);
  return true;
}

ParkedThread::ParkedThread(const sigset_t& mask, Handler handler) : handler_(std::move(handler)) {
  if (!cmd_.Open() || !reply_.Open()) return;
  thread_ = std::make_unique<HelperThread>(
      [this] {
        char c;
        for (;;) {
          const ssize_t n = ::read(cmd_.r.get(), &c, 1);
          if (n < 0 && errno == EINTR) continue;
          if (n != 1) return;
          const uint64_t r = handler_(c);
          (void)!::write(reply_.w.get(), &r, sizeof r);
        }
      },
      mask);
}

ParkedThread::~ParkedThread() {
  cmd_.w.reset();
  if (thread_ != nullptr) thread_->Join();
}

bool ParkedThread::Ask(char command, const Deadline& deadline, uint64_t* reply) {
  uint64_t r = 0;
  if (!started() || ::write(cmd_.w.get(), &command, 1) != 1) return false;
  if (PollOne(reply_.r.get(), POLLIN, deadline) <= 0) return false;
  if (ReadFull(reply_.r.get(), &r, sizeof r) != 0) return false;
  if (reply != nullptr) *reply = r;
  return true;
}

bool WaitTaskGone(pid_t tid, const Deadline& deadline) {
  const pid_t me = ::getpid();
  FileDescriptor pidfd(static_cast<int>(::syscall(SYS_pidfd_open, tid, PIDFD_THREAD)));
  long backoff_us = 50;
  while (TaskState(me, tid) != 0) {
    if (deadline.Passed()) return false;
    struct pollfd p = {pidfd.get(), POLLIN, 0};
    const long wait_us = pidfd ? 2000 : backoff_us;
    struct timespec ts = {0, wait_us * 1000};
    ::ppoll(&p, 1, &ts, nullptr);
    backoff_us = std::min<long>(backoff_us * 2, 2000);
  }
  return true;
}

bool WaitProcessState(pid_t pid, char state, const Deadline& deadline) {
  FileDescriptor pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  long backoff_us = 50;
  for (;;) {
    const char now = TaskState(pid, 0);
    if (now == state) return true;
    if (now == 0 || now == 'Z' || deadline.Passed()) return false;
    struct pollfd p = {pidfd.get(), POLLIN, 0};
    struct timespec ts = {0, backoff_us * 1000};
    if (::ppoll(&p, 1, &ts, nullptr) > 0) return TaskState(pid, 0) == state;
    backoff_us = std::min<long>(backoff_us * 2, 2000);
  }
}

bool NextSigchld(const Deadline& deadline, siginfo_t* si) {
  const sigset_t chld = [] {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGCHLD);
    return s;
  }();
  while (!deadline.Passed()) {
    const struct timespec ts = absl::ToTimespec(deadline.when() - absl::Now());
    if (::sigtimedwait(&chld, si, &ts) == SIGCHLD) return true;
    if (errno != EINTR && errno != EAGAIN) return false;
  }
  return false;
}

int WaitIdFor(pid_t pid, int flags, siginfo_t* si) {
  *si = siginfo_t{};
  for (;;) {
    if (::waitid(P_PID, static_cast<id_t>(pid), si, flags) == 0) return 0;
    if (errno != EINTR) return -errno;
  }
}

bool HeldChild::Start(const std::function<void()>& prepare, const Deadline& deadline) {
  Pipe ready;
  if (!ready.Open() || !hold_.Open()) return false;
  pid_ = ForkChild([&] {
    hold_.w.reset();
    ready.r.reset();
    if (prepare) prepare();
    if (::write(ready.w.get(), "r", 1) != 1) return 3;
    char c;
    while (::read(hold_.r.get(), &c, 1) != 0) {
    }
    return 0;
  });
  hold_.r.reset();
  ready.w.reset();
  if (pid_ < 0) return false;
  char c;
  if (PollOne(ready.r.get(), POLLIN, deadline) > 0 && ::read(ready.r.get(), &c, 1) == 1)
    return true;
  Release(deadline);
  return false;
}

HeldChild::~HeldChild() {
  hold_.w.reset();
  if (pid_ > 0) KillAndReap(pid_);
}

void HeldChild::Release(const Deadline& deadline) {
  hold_.w.reset();
  int status;
  if (pid_ > 0 && !WaitChild(pid_, 0, deadline, &status)) KillAndReap(pid_);
  pid_ = -1;
}

std::string DescribeChildInfo(const siginfo_t& si) {
  switch (si.si_code) {
    case CLD_EXITED:
      return absl::StrFormat("exited %d", si.si_status);
    case CLD_KILLED:
      return absl::StrCat("killed by ", SignalName(si.si_status));
    case CLD_DUMPED:
      return absl::StrCat("killed by ", SignalName(si.si_status), " (core dumped)");
    case CLD_STOPPED:
      return absl::StrCat("stopped by ", SignalName(si.si_status));
    case CLD_CONTINUED:
      return "continued";
    default:
      return absl::StrFormat("si_code %d si_status %d", si.si_code, si.si_status);
  }
}

}  // namespace ipcspec::props
