// SIG-KILL-PROBE, SIG-KILL-ERRNO, SIG-KILL-EPERM, SIG-KILL-ZOMBIE and
// SIG-PIDFD-SEND: kill and its relatives on single targets. A child target
// blocks every play signal, so what was sent to it is visible in its
// /proc/PID/status once the call has returned.
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/signal/signal_proc.h"
#include "properties/signal/signal_util.h"
#include "properties/support/common.h"
#include "properties/support/proc_util.h"
#include "properties/support/verdicts.h"

// glibc 2.36's <sys/pidfd.h> lacks the C linkage of its declarations.
extern "C" {
#include <sys/pidfd.h>
}

namespace ipcspec::props {
namespace {
namespace signal_kill {

uint64_t WatchedBits() { return SetBits(SetOf(PlaySignals())) | Bit(SIGURG) | Bit(SIGWINCH); }

// A child that blocks every watched signal and waits for end of file on
// its hold pipe (or exits at once with `code` when `exit_now`).
struct Target {
  Pipe hold;
  pid_t pid = -1;
  bool Start(bool exit_now, int code = 0) {
    if (!hold.Open()) return false;
    const sigset_t all = BitsSet(WatchedBits());
    pid = ForkChild([&] {
      hold.w.reset();
      sigprocmask(SIG_SETMASK, &all, nullptr);
      if (exit_now) return code;
      char c;
      while (::read(hold.r.get(), &c, 1) != 0) {
      }
      return 0;
    });
    hold.r.reset();
    return pid > 0;
  }
  uint64_t Pending() const {
    SigStatus st;
    return ReadSigStatus(pid, 0, &st) ? (st.shd | st.pnd) & WatchedBits() : 0;
  }
  void Stop(const Deadline& deadline) {
    hold.w.reset();
    int status;
    if (pid > 0 && !WaitChild(pid, 0, deadline, &status)) KillAndReap(pid);
    pid = -1;
  }
};

pid_t PidMax() {
  std::ifstream in("/proc/sys/kernel/pid_max");
  long v = 4194304;
  in >> v;
  return static_cast<pid_t>(v);
}

enum ProbeTarget : uint64_t { kSelf, kChild, kZombie, kThreadTid, kGroup, kGone };
constexpr std::string_view kTargets[] = {"itself",
                                         "a live child",
                                         "a zombie child",
                                         "the tid of one of its threads",
                                         "its process group",
                                         "a process that does not exist"};
enum Api : uint64_t { kKill, kSigqueue, kPidfd };
constexpr std::string_view kApis[] = {"kill", "sigqueue", "pidfd_send_signal"};

int Probe(uint64_t api, pid_t pid) {
  if (api == kSigqueue) return ::sigqueue(pid, 0, sigval{.sival_int = 0});
  if (api == kPidfd) {
    FileDescriptor fd(::pidfd_open(pid, 0));
    if (!fd) return -1;
    return ::pidfd_send_signal(fd.get(), 0, nullptr, 0);
  }
  return ::kill(pid, 0);
}

class KillProbeProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const uint64_t target = target_.Of(s);
    uint64_t api = api_.Of(s);
    const Deadline deadline = CaseDeadline(env);
    ResetDeliveries();
    for (int sig : BitsSignals(WatchedBits())) InstallRecorder(sig, 0, BitsSet(WatchedBits()));
    const sigset_t none = BitsSet(0);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    Target child;
    int rc = 0, want = 0;
    std::string what;
    switch (target) {
      case kChild:
      case kZombie: {
        if (!child.Start(target == kZombie)) return Verdict::Broken("fork");
        siginfo_t w;
        if (target == kZombie) WaitIdFor(child.pid, WEXITED | WNOWAIT, &w);
        rc = Probe(api, child.pid);
        break;
      }
      case kThreadTid: {
        if (api == kPidfd) api = kKill;  // a thread's tid names no process for pidfd_open
        ParkedThread t(BitsSet(WatchedBits()), [](char) { return uint64_t{0}; });
        if (!t.started()) return Verdict::Broken("pthread_create");
        rc = Probe(api, t.tid());
        break;
      }
      case kGroup:
        api = kKill;
        rc = ::killpg(::getpgrp(), 0);
        break;
      case kGone:
        want = ESRCH;
        if (api == kPidfd) {
          // A pidfd whose process is gone (reaped).
          if (!child.Start(true)) return Verdict::Broken("fork");
          FileDescriptor fd(::pidfd_open(child.pid, 0));
          child.Stop(deadline);
          rc = ::pidfd_send_signal(fd.get(), 0, nullptr, 0);
        } else {
          rc = Probe(api, PidMax() + 1);
        }
        break;
      default:
        rc = Probe(api, ::getpid());
        break;
    }
    const int err = errno;
    const uint64_t child_pending = child.pid > 0 ? child.Pending() : 0;
    child.Stop(deadline);
    what = absl::StrCat(target == kGroup ? "killpg" : api_.Name(api), " with signal 0 to ",
                        target_.Name(target));
    if (want == 0 ? rc != 0 : (rc != -1 || err != want)) {
      return Verdict::Fail(absl::StrFormat("%s returned %d (%s), expected %s", what, rc,
                                           rc == -1 ? ErrnoName(err) : "no error",
                                           want == 0 ? "0" : "-1 with ESRCH"));
    }
    const uint64_t own = SetBits(PendingSet()) & WatchedBits();
    if (DeliveryCount() != 0 || own != 0 || child_pending != 0) {
      return Verdict::Fail(absl::StrCat(what, " delivered something: ", DeliveryCount(),
                                        " handlers ran, pending here ", SayMask(own),
                                        ", pending in the child ", SayMask(child_pending)));
    }
    return Verdict::Pass();
  }

  const ChoiceParam<uint64_t> target_{this, 0, "the target is %s", kSelf, kTargets};
  const ChoiceParam<uint64_t> api_{this, 1, "the call is %s", kKill, kApis};
};
IPCSPEC_REGISTER_PROPERTY(KillProbeProperty, "SIG-KILL-PROBE", {.examples = 20});

class KillErrnoProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const uint64_t c = case_.Of(s);
    const bool use_sigqueue = sigqueue_.Of(s) && c != kNotAGroup;
    const int bad = bad_.Of(s);
    const bool bad_signal = c == kBadSelf || c == kBadChild || c == kNoSuchPidBad;
    const int sig = bad_signal ? bad : SIGUSR1;
    const int want = c == kBadSelf || c == kBadChild ? EINVAL : ESRCH;
    ResetDeliveries();
    const sigset_t all = BitsSet(WatchedBits());
    sigprocmask(SIG_SETMASK, &all, nullptr);
    Target child;
    pid_t pid = ::getpid();
    if (c == kBadChild || c == kNotAGroup) {
      if (!child.Start(false)) return Verdict::Broken("fork");
      pid = c == kNotAGroup ? -child.pid : child.pid;
    } else if (c == kNoSuchPid || c == kNoSuchPidBad) {
      pid = PidMax() + 1;
    } else if (c == kIntMin) {
      pid = INT_MIN;
    }
    const int rc = use_sigqueue ? ::sigqueue(pid, sig, sigval{.sival_int = 0}) : ::kill(pid, sig);
    const int err = errno;
    const uint64_t child_pending = child.pid > 0 ? child.Pending() : 0;
    const uint64_t own = SetBits(PendingSet()) & WatchedBits();
    child.Stop(CaseDeadline(env));
    DrainPending(all);
    const std::string what = absl::StrCat(use_sigqueue ? "sigqueue" : "kill", " with ",
                                          case_.Name(c), " (signal ", sig, ")");
    if (rc != -1 || err != want) {
      return Verdict::Fail(absl::StrFormat("%s returned %d (%s), expected -1 with %s", what, rc,
                                           rc == -1 ? ErrnoName(err) : "no error",
                                           ErrnoName(want)));
    }
    if (own != 0 || child_pending != 0 || DeliveryCount() != 0) {
      return Verdict::Fail(absl::StrCat(what, " failed but sent ", SayMask(own | child_pending)));
    }
    return Verdict::Pass();
  }

  enum ErrnoCase : uint64_t { kBadSelf, kBadChild, kNoSuchPid, kIntMin, kNotAGroup, kNoSuchPidBad };
  static constexpr std::string_view kErrnoCases[] = {
      "an invalid signal to itself",
      "an invalid signal to a live child",
      "a valid signal to a pid above pid_max",
      "a valid signal to pid INT_MIN",
      "a valid signal to -pid of a child that leads no group",
      "an invalid signal to a pid above pid_max"};
  const ChoiceParam<uint64_t> case_{this, 0, "the call sends %s", kBadSelf, kErrnoCases};
  const Param<int> bad_{this, 1, "the invalid signal number is %s", 65,
                        rc::gen::element<int>(-1, 65, 200, INT_MAX)};
  const YesNoParam sigqueue_{this, 2, "it uses sigqueue (else kill): %s", false};
};
IPCSPEC_REGISTER_PROPERTY(KillErrnoProperty, "SIG-KILL-ERRNO", {.examples = 20});

bool HasCapKill() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    unsigned long long caps = 0;
    if (std::sscanf(line.c_str(), "CapEff: %llx", &caps) == 1) return (caps >> 5) & 1;
  }
  return false;
}

class KillEpermProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    // Only ever signal 0, and only at a process that is certainly another
    // user's: the root harness above a case that runs under its own uid, or
    // else init.
    pid_t target = 0;
    if (env.own_uid && ::getuid() == env.uid) {
      target = ::getppid();
    } else if (::getuid() != 0 && !HasCapKill()) {
      struct stat st;
      if (::stat("/proc/1", &st) == 0 && st.st_uid != ::getuid()) target = 1;
    }
    if (target <= 0 || HasCapKill()) {
      return Verdict::Unsupported(
          "no process of another user is known to be safe to probe "
          "(needs the per-case uid of a root harness, or an unprivileged "
          "run)");
    }
    const uint64_t api = api_.Of(s);
    long rc = 0;
    switch (api) {
      case kPermSigqueue:
        rc = ::sigqueue(target, 0, sigval{.sival_int = 0});
        break;
      case kPermTgkill:
        rc = ::tgkill(target, target, 0);
        break;
      case kPermQueueinfo: {
        siginfo_t si = {};
        si.si_code = SI_QUEUE;
        rc = ::syscall(SYS_rt_sigqueueinfo, target, 0, &si);
        break;
      }
      case kPermPidfd: {
        FileDescriptor fd(::pidfd_open(target, 0));
        if (!fd) return Verdict::Broken(absl::StrCat("pidfd_open: ", ErrnoName(errno)));
        rc = ::pidfd_send_signal(fd.get(), 0, nullptr, 0);
        break;
      }
      default:
        rc = ::kill(target, 0);
        break;
    }
    const int err = errno;
    if (rc != -1 || err != EPERM) {
      return Verdict::Fail(absl::StrFormat(
          "%s with signal 0 to pid %d, another user's process, returned %d (%s), expected -1 "
          "with EPERM",
          api_.Name(api), target, rc, rc == -1 ? ErrnoName(err) : "no error"));
    }
    return Verdict::Pass();
  }

  enum PermApi : uint64_t { kPermKill, kPermSigqueue, kPermTgkill, kPermQueueinfo, kPermPidfd };
  static constexpr std::string_view kPermApis[] = {"kill", "sigqueue", "tgkill", "rt_sigqueueinfo",
                                                   "pidfd_send_signal"};
  const ChoiceParam<uint64_t> api_{this, 0, "the probe uses %s", kPermKill, kPermApis};
};
IPCSPEC_REGISTER_PROPERTY(KillEpermProperty, "SIG-KILL-EPERM", {.examples = 15});

class KillZombieProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const int code = code_.Of(s);
    Target child;
    if (!child.Start(true, code)) return Verdict::Broken("fork");
    siginfo_t w = {};
    WaitIdFor(child.pid, WEXITED | WNOWAIT, &w);
    std::vector<int> sigs = BitsSignals(signals_.Of(s) & WatchedBits());
    if (sigkill_.Of(s)) sigs.push_back(SIGKILL);
    std::string failure;
    for (int sig : sigs) {
      if (::kill(child.pid, sig) != 0 && failure.empty()) {
        failure = absl::StrCat("kill(zombie, ", SignalName(sig), "): ", ErrnoName(errno));
      }
    }
    siginfo_t after = {};
    if (failure.empty() && (WaitIdFor(child.pid, WEXITED, &after) != 0 ||
                            after.si_code != CLD_EXITED || after.si_status != code)) {
      failure = absl::StrCat("after signals to the zombie, waitid says ", DescribeChildInfo(after),
                             ", expected exited ", code);
    }
    ::waitpid(child.pid, nullptr, WNOHANG);
    return PassUnless(failure);
  }

  const Param<int> code_{this, 0, "the child exits with %s", 0, rc::gen::inRange(0, 256)};
  const Param<uint64_t> signals_{
      this, 1, "the zombie is sent %s", 0, GenMask(PlaySignals(), true), SayMask};
  const YesNoParam sigkill_{this, 2, "and SIGKILL: %s", true};
};
IPCSPEC_REGISTER_PROPERTY(KillZombieProperty, "SIG-KILL-ZOMBIE", {.examples = 15});

class PidfdSendProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const uint64_t c = case_.Of(s);
    const int sig = signal_.Of(s);
    const Deadline deadline = CaseDeadline(env);
    Target child;
    if (!child.Start(c == kZombieTarget || c == kReaped)) return Verdict::Broken("fork");
    FileDescriptor fd(::pidfd_open(child.pid, 0));
    if (!fd) return Verdict::Broken(absl::StrCat("pidfd_open: ", ErrnoName(errno)));
    siginfo_t w;
    if (c == kZombieTarget) WaitIdFor(child.pid, WEXITED | WNOWAIT, &w);
    if (c == kReaped) child.Stop(deadline);
    siginfo_t info = {};
    info.si_signo = sig == SIGUSR1 ? SIGUSR2 : SIGUSR1;
    info.si_code = SI_QUEUE;
    info.si_pid = ::getpid();
    const int rc = ::pidfd_send_signal(fd.get(), sig, c == kWrongSigno ? &info : nullptr,
                                       c == kBadFlags ? 1u << 30 : 0);
    const int err = errno;
    const uint64_t pending = c == kLive ? child.Pending() : 0;
    child.Stop(deadline);
    const int want = c == kReaped ? ESRCH : c == kWrongSigno || c == kBadFlags ? EINVAL : 0;
    const std::string what =
        absl::StrCat("pidfd_send_signal of ", SignalName(sig), " ", case_.Name(c));
    if (want == 0 ? rc != 0 : (rc != -1 || err != want)) {
      return Verdict::Fail(absl::StrFormat(
          "%s returned %d (%s), expected %s", what, rc, rc == -1 ? ErrnoName(err) : "no error",
          want == 0 ? "0" : absl::StrCat("-1 with ", ErrnoName(want))));
    }
    if (c == kLive && pending != Bit(sig)) {
      return Verdict::Fail(absl::StrCat(what, ": the child has ", SayMask(pending), " pending"));
    }
    return Verdict::Pass();
  }

  enum PidfdCase : uint64_t { kLive, kZombieTarget, kReaped, kWrongSigno, kBadFlags };
  static constexpr std::string_view kPidfdCases[] = {
      "to a live child", "to a zombie child", "to a child already reaped",
      "to a live child with a siginfo naming another signal",
      "to a live child with an unknown flag (1 << 30)"};
  const ChoiceParam<uint64_t> case_{this, 0, "the signal goes %s", kLive, kPidfdCases};
  const Param<int> signal_{this,     1, "the signal is %s", SIGUSR1, GenSignal(PlaySignals()),
                           SaySignal};
};
IPCSPEC_REGISTER_PROPERTY(PidfdSendProperty, "SIG-PIDFD-SEND", {.examples = 20});

}  // namespace signal_kill
}  // namespace
}  // namespace ipcspec::props
