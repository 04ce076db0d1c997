// The exec probe (signal_exec_probe.h): ExecProbe() on the property's side
// and, on the new image's side, a constructor that runs before main().
#include "properties/signal/signal_exec_probe.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "properties/signal/signal_proc.h"
#include "properties/signal/signal_util.h"
#include "properties/support/proc_util.h"

extern char** environ;

namespace ipcspec::props {
namespace {

constexpr const char* kProbeVar = "IPCSPEC_SIG_PROBE";
constexpr uint32_t kSaRestorer = 0x04000000;

ProbeReport g_report;
volatile sig_atomic_t g_ndeliveries = 0;

void ProbeRecorder(int sig, siginfo_t* si, void*) {
  const int i = g_ndeliveries;
  if (i < 64) {
    g_report.deliveries[i] = {sig, si->si_code, si->si_pid, si->si_value.sival_int};
    g_ndeliveries = i + 1;
  }
}

// "Sig...:\t<hex>" from /proc/self/status.
uint64_t StatusField(const std::string& text, const char* field) {
  const size_t at = text.find(std::string(field) + ":");
  if (at == std::string::npos) return 0;
  return std::strtoull(text.c_str() + at + std::strlen(field) + 1, nullptr, 16);
}

void Snapshot(ProbeReport* r) {
  r->magic = kProbeMagic;
  for (int sig = 1; sig <= kProbeMaxSignal; ++sig) {
    struct sigaction sa = {};
    if (::sigaction(sig, nullptr, &sa) != 0) {
      r->action[sig] = {kProbeUnknown, 0, 0};
      continue;
    }
    const int32_t kind = sa.sa_handler == SIG_DFL   ? kProbeDefault
                         : sa.sa_handler == SIG_IGN ? kProbeIgnore
                                                    : kProbeHandler;
    r->action[sig] = {kind, static_cast<uint32_t>(sa.sa_flags) & ~kSaRestorer, SetBits(sa.sa_mask)};
  }
  sigset_t s;
  ::sigprocmask(SIG_BLOCK, nullptr, &s);
  r->blocked = SetBits(s);
  ::sigpending(&s);
  r->pending = SetBits(s);
  std::string status;
  if (FILE* f = std::fopen("/proc/self/status", "r"); f != nullptr) {
    char buf[8192];
    status.assign(buf, std::fread(buf, 1, sizeof buf, f));
    std::fclose(f);
  }
  r->status_cgt = StatusField(status, "SigCgt");
  r->status_ign = StatusField(status, "SigIgn");
  r->status_blk = StatusField(status, "SigBlk");
  r->status_pnd = StatusField(status, "SigPnd");
  r->status_shd = StatusField(status, "ShdPnd");
  stack_t ss = {};
  ::sigaltstack(nullptr, &ss);
  r->ss_flags = ss.ss_flags;
  r->ss_size = ss.ss_size;
  r->ss_sp = reinterpret_cast<uintptr_t>(ss.ss_sp);
}

// Forks a child that exits at once and waits for it: a zombie is reaped
// here (0); a child the kernel reaped itself makes waitid fail with ECHILD (1).
int ChildReaped() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  if (pid < 0) return -1;
  siginfo_t si = {};
  return ::waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED) != 0 && errno == ECHILD ? 1 : 0;
}

// Whether `fd` is open and a signalfd (a closed number may have been reused).
bool IsSignalfd(int fd) {
  static constexpr char kWant[] = "anon_inode:[signalfd]";
  char link[64] = {};
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  const ssize_t n = ::readlink(path.c_str(), link, sizeof link - 1);
  return n == static_cast<ssize_t>(sizeof kWant - 1) && std::memcmp(link, kWant, n) == 0;
}

void ReadSignalfd(int fd, ProbeReport* r) {
  r->sfd_open = IsSignalfd(fd) ? 1 : 0;
  r->nsfd = 0;
  if (r->sfd_open == 0) return;
  signalfd_siginfo in[32];
  const ssize_t n = ::read(fd, in, sizeof in);
  for (ssize_t i = 0; n > 0 && i < n / static_cast<ssize_t>(sizeof in[0]); ++i) {
    r->sfd[r->nsfd++] = {static_cast<int32_t>(in[i].ssi_signo), in[i].ssi_code,
                         static_cast<int32_t>(in[i].ssi_pid), in[i].ssi_int};
  }
}

bool Flag(const std::string& opts, const std::string& name, int* value) {
  const size_t at = ("," + opts).find("," + name + "=");
  if (at == std::string::npos) return false;
  *value = std::atoi(opts.c_str() + at + name.size() + 1);
  return true;
}

// The probe itself: in the exec'd image, or in place in a fork child.
[[noreturn]] void ProbeBody(const ProbeOptions& o) {
  const int fd = o.report_fd;
  std::memset(&g_report, 0, sizeof g_report);
  Snapshot(&g_report);
  g_report.child_reaped = o.fork_child ? ChildReaped() : -1;
  g_report.sfd_open = -1;
  if (o.signalfd >= 0) ReadSignalfd(o.signalfd, &g_report);
  g_report.ndeliveries = -1;
  if (::write(fd, &g_report, sizeof g_report) != sizeof g_report) ::_exit(2);
  if (!o.deliver && !o.deliver_default) ::_exit(0);
  if (o.deliver) {
    for (int sig = 1; sig <= kProbeMaxSignal; ++sig) {
      if (sig == SIGKILL || sig == SIGSTOP || sig == SIGCHLD || sig == SIGSEGV || sig == SIGBUS ||
          sig == SIGFPE || sig == SIGILL || sig == SIGTRAP || (sig > 31 && sig < SIGRTMIN)) {
        continue;
      }
      struct sigaction sa = {};
      sa.sa_sigaction = ProbeRecorder;
      sa.sa_flags = SA_SIGINFO;
      sigfillset(&sa.sa_mask);  // one at a time, in the kernel's order
      ::sigaction(sig, &sa, nullptr);
    }
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);  // pending signals are delivered here
  g_report.ndeliveries = g_ndeliveries;
  if (::write(fd, &g_report, sizeof g_report) != sizeof g_report) ::_exit(2);
  ::_exit(0);
}

[[noreturn]] void ProbeMain(const std::string& opts) {
  int fd = -1, deliver = 0, deliver_default = 0, sfd = -1, child = 0;
  Flag(opts, "fd", &fd);
  Flag(opts, "deliver", &deliver);
  Flag(opts, "dfl", &deliver_default);
  Flag(opts, "sfd", &sfd);
  Flag(opts, "child", &child);
  if (fd < 0 || ::fcntl(fd, F_GETFD) < 0) {
    std::fprintf(stderr,
                 "ipcspec: %s=%s is not a probe request from a SIG-EXEC* property (no report "
                 "descriptor); unset it\n",
                 kProbeVar, opts.c_str());
    ::_exit(2);
  }
  ProbeBody({.report_fd = fd,
             .deliver = deliver != 0,
             .deliver_default = deliver_default != 0,
             .signalfd = sfd,
             .fork_child = child != 0});
}

__attribute__((constructor(101))) void MaybeRunProbe() {
  const char* opts = std::getenv(kProbeVar);
  if (opts != nullptr) ProbeMain(opts);
}

}  // namespace

int ExecProbe(const ProbeOptions& o) {
  if (o.report_fd < 0) return 126;
  if (!o.exec) ProbeBody(o);
  if (::fcntl(o.report_fd, F_SETFD, 0) != 0) return 126;
  const std::string var =
      absl::StrCat(kProbeVar, "=fd=", o.report_fd, ",deliver=", o.deliver,
                   ",dfl=", o.deliver_default, ",sfd=", o.signalfd, ",child=", o.fork_child);
  std::vector<char*> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, kProbeVar, std::strlen(kProbeVar)) != 0) env.push_back(*e);
  }
  env.push_back(const_cast<char*>(var.c_str()));
  env.push_back(nullptr);
  char name[] = "ipcspec-sig-probe";
  char* argv[] = {name, nullptr};
  ::execve("/proc/self/exe", argv, env.data());
  return 127;
}

ProbeRun RunProbe(const std::function<void(ProbeOptions&)>& prepare, ProbeOptions options,
                  int reports, const Deadline& deadline,
                  const std::function<void(pid_t child)>& before_exec) {
  ProbeRun out;
  Pipe report, go;
  if (!report.Open() || !go.Open()) return out;
  out.pid = ForkChild([&] {
    go.w.reset();
    if (prepare) prepare(options);
    (void)!::write(report.w.get(), "r", 1);
    char c;
    if (::read(go.r.get(), &c, 1) != 1) return 125;
    options.report_fd = report.w.get();
    return ExecProbe(options);
  });
  if (out.pid < 0) return out;
  report.w.reset();
  go.r.reset();
  char c;
  if (PollOne(report.r.get(), POLLIN, deadline) > 0 && ::read(report.r.get(), &c, 1) == 1) {
    if (before_exec) before_exec(out.pid);
    (void)!::write(go.w.get(), "g", 1);
    for (int i = 0; i < reports; ++i) {
      ProbeReport r;
      if (!ReadProbeReport(report.r.get(), deadline, &r)) break;
      out.reports.push_back(r);
    }
  }
  go.w.reset();
  if (!WaitChild(out.pid, 0, deadline, &out.status)) KillAndReap(out.pid);
  return out;
}

bool ReadProbeReport(int fd, const Deadline& deadline, ProbeReport* out) {
  size_t got = 0;
  auto* p = reinterpret_cast<char*>(out);
  while (got < sizeof *out) {
    if (PollOne(fd, POLLIN, deadline) <= 0) return false;
    const ssize_t n = ::read(fd, p + got, sizeof *out - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  return out->magic == kProbeMagic;
}

}  // namespace ipcspec::props
