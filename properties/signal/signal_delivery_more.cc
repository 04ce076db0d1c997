// SIG-ALTSTACK-INHERIT, SIG-RT-LIMIT-LOSSY, SIG-QUEUEINFO-PERM and
// SIG-IGN-FLUSH: the alternate stack across fork and exec, what happens at
// the queue limit to sends that may not fail, who may forge a siginfo, and
// what installing SIG_IGN does to pending signals.
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/signal/signal_exec_probe.h"
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
namespace signal_delivery_more {

// AddressSanitizer's runtime gives every new image (and thread) an
// alternate stack of its own before main.
constexpr bool kSanitizerStacks =
#if defined(__SANITIZE_ADDRESS__)
    true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    true;
#else
    false;
#endif
#else
    false;
#endif

class AltstackInheritProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const size_t size = static_cast<size_t>(size_.Of(s));
    const bool exec = exec_.Of(s);
    stack_t old = {};
    ::sigaltstack(nullptr, &old);
    void* sp = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (sp == MAP_FAILED) return Verdict::Broken("mmap");
    const stack_t ss = {sp, 0, size};
    ::sigaltstack(&ss, nullptr);
    ProbeOptions options;
    options.exec = exec;
    const ProbeRun run = RunProbe(nullptr, options, 1, CaseDeadline(env));
    ::sigaltstack(&old, nullptr);
    ::munmap(sp, size);
    if (run.reports.empty()) {
      return Verdict::Broken(absl::StrCat("the child ", DescribeWaitStatus(run.status)));
    }
    const ProbeReport& r = run.reports[0];
    // Under a sanitizer the new image has its runtime's stack: not ours.
    const bool disabled = (r.ss_flags & SS_DISABLE) != 0 ||
                          (kSanitizerStacks && r.ss_sp != reinterpret_cast<uintptr_t>(sp));
    if (exec ? !disabled
             : (disabled || r.ss_sp != reinterpret_cast<uintptr_t>(sp) || r.ss_size != size)) {
      return Verdict::Fail(absl::StrFormat(
          "with an alternate stack at %p (%d bytes), %s sees ss_sp 0x%x ss_size %d ss_flags %d; "
          "expected %s",
          sp, size, exec ? "the exec'd image" : "the fork child", r.ss_sp, r.ss_size, r.ss_flags,
          exec ? "SS_DISABLE" : "the same stack, enabled"));
    }
    return Verdict::Pass();
  }

  const Param<int> size_{this, 0, "the alternate stack has %s", 16384, GenStackBytes(4), SayBytes};
  const YesNoParam exec_{this, 1, "the child then calls execve: %s", false};
};
IPCSPEC_REGISTER_PROPERTY(AltstackInheritProperty, "SIG-ALTSTACK-INHERIT", {.examples = 15});

class RtLimitLossyProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    // The queue count is per real uid: exact only under the case's own uid.
    if (!env.own_uid) {
      return Verdict::Unsupported(
          "needs the per-case uid (a root harness): the queue count is "
          "shared with the user's other processes");
    }
    const int extra = limit_.Of(s), repeat = repeat_.Of(s);
    const uint64_t probe = probe_.Of(s);
    const int fill = SIGRTMIN, rt = SIGRTMIN + 1, standard = SIGUSR1;
    SigStatus st;
    if (!ReadSigStatus(::getpid(), 0, &st) || st.queued < 0) return Verdict::Broken("SigQ");
    struct rlimit old;
    ::getrlimit(RLIMIT_SIGPENDING, &old);
    const struct rlimit lowered = {static_cast<rlim_t>(st.queued + extra), old.rlim_max};
    const sigset_t all = BitsSet(PlayBits());
    sigprocmask(SIG_SETMASK, &all, nullptr);
    if (::setrlimit(RLIMIT_SIGPENDING, &lowered) != 0) return Verdict::Broken("setrlimit");
    std::string failure;
    for (int i = 0; i < extra && failure.empty(); ++i) {
      if (::sigqueue(::getpid(), fill, sigval{.sival_int = i}) != 0) failure = "filling failed";
    }
    const int probe_sig = probe == kSigqueueStandard ? standard : rt;
    int rc = 0, err = 0;
    for (int i = 0; i < repeat && failure.empty(); ++i) {
      rc = probe == kTgkillRt ? ::tgkill(::getpid(), ::gettid(), rt)
           : probe == kKillRt ? ::kill(::getpid(), rt)
                              : ::sigqueue(::getpid(), standard, sigval{.sival_int = 99});
      err = errno;
      const bool want_fail = probe == kTgkillRt;
      if (want_fail ? (rc != -1 || err != EAGAIN) : rc != 0) {
        failure = absl::StrFormat("%s at the limit returned %d (%s), expected %s",
                                  probe_.Name(probe), rc, rc == -1 ? ErrnoName(err) : "no error",
                                  want_fail ? "-1 with EAGAIN" : "success");
      }
    }
    ::setrlimit(RLIMIT_SIGPENDING, &old);
    if (failure.empty() && probe != kTgkillRt) {
      const sigset_t one = SetOf({probe_sig});
      struct timespec zero = {0, 0};
      siginfo_t si = {};
      const int r = ::sigtimedwait(&one, &si, &zero);
      const int more = DrainPending(one);
      if (r != probe_sig || si.si_code != SI_USER || si.si_pid != 0 || more != 0) {
        failure = absl::StrFormat(
            "%s at the limit, %d times: it arrived with si_code %d si_pid %d and %d more "
            "instances; expected once, with no siginfo (si_code SI_USER, si_pid 0)",
            probe_.Name(probe), repeat, si.si_code, si.si_pid, more);
      }
    }
    DrainPending(all);
    return PassUnless(failure);
  }

  enum LossyProbe : uint64_t { kTgkillRt, kKillRt, kSigqueueStandard };
  static constexpr std::string_view kProbes[] = {"tgkill() of a realtime signal",
                                                 "kill() of a realtime signal",
                                                 "sigqueue() of a standard signal"};
  const Param<int> limit_{this, 0, "RLIMIT_SIGPENDING leaves room for %s queued signals", 1,
                          rc::gen::inRange(1, 5)};
  const ChoiceParam<uint64_t> probe_{this, 1, "at the limit, the send is %s", kTgkillRt, kProbes};
  const Param<int> repeat_{this, 2, "it is made %s times", 1, rc::gen::inRange(1, 4)};
};
IPCSPEC_REGISTER_PROPERTY(RtLimitLossyProperty, "SIG-RT-LIMIT-LOSSY", {.examples = 15});

enum QueueApi : uint64_t { kRtSigqueueinfo, kRtTgsigqueueinfo, kPidfdSendSignal };
constexpr std::string_view kQueueApis[] = {"rt_sigqueueinfo", "rt_tgsigqueueinfo",
                                           "pidfd_send_signal with a siginfo"};
std::string SayCode(uint64_t v) {
  switch (static_cast<int32_t>(static_cast<uint32_t>(v))) {
    case SI_USER:
      return "SI_USER";
    case SI_KERNEL:
      return "SI_KERNEL";
    case SI_TKILL:
      return "SI_TKILL";
    case SI_QUEUE:
      return "SI_QUEUE";
    case SI_MESGQ:
      return "SI_MESGQ";
    default:
      return absl::StrCat("si_code ", static_cast<int32_t>(static_cast<uint32_t>(v)));
  }
}

int QueueInfo(uint64_t api, pid_t pid, int sig, siginfo_t* si) {
  long rc;
  if (api == kPidfdSendSignal) {
    FileDescriptor fd(::pidfd_open(pid, 0));
    if (!fd) return -1;
    rc = ::pidfd_send_signal(fd.get(), sig, si, 0);
  } else if (api == kRtTgsigqueueinfo) {
    rc = ::syscall(SYS_rt_tgsigqueueinfo, pid, pid, sig, si);
  } else {
    rc = ::syscall(SYS_rt_sigqueueinfo, pid, sig, si);
  }
  return static_cast<int>(rc);
}

class QueueinfoPermProperty final : public SignalProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      const int code = *rc::gen::elementOf(
          std::vector<int>{SI_USER, SI_KERNEL, SI_TKILL, SI_QUEUE, SI_MESGQ, SI_ASYNCIO});
      return std::vector<Step>{code_.Step(static_cast<uint64_t>(static_cast<uint32_t>(code))),
                               to_child_.Step(*rc::gen::arbitrary<bool>()),
                               api_.Step(*rc::gen::inRange<uint64_t>(0, std::size(kQueueApis))),
                               signal_.Step(*GenSignal(PlaySignals())),
                               value_.Step(*rc::gen::inRange(0, 1 << 20))};
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const int code = static_cast<int32_t>(static_cast<uint32_t>(code_.Of(s)));
    const uint64_t api = api_.Of(s);
    const int sig = signal_.Of(s), value = value_.Of(s);
    const bool to_child = to_child_.Of(s);
    siginfo_t si = {};
    si.si_signo = sig;
    si.si_code = code;
    si.si_pid = ::getpid();
    si.si_uid = ::getuid();
    si.si_value.sival_int = value;
    const sigset_t one = SetOf({sig});
    const std::string what =
        absl::StrCat(api_.Name(api), " of ", SignalName(sig), " with ",
                     SayCode(static_cast<uint32_t>(code)), " to ", to_child ? "a child" : "itself");
    if (!to_child) {
      RecordBlocked(sig);
      const int rc = QueueInfo(api, ::getpid(), sig, &si);
      const int err = errno;
      sigprocmask(SIG_UNBLOCK, &one, nullptr);
      SetDisposition(sig, SIG_DFL);
      const std::vector<Delivery> d = Deliveries();
      if (rc != 0 || d.size() != 1 || d[0].code != code || d[0].value != value) {
        return Verdict::Fail(absl::StrFormat(
            "%s returned %d (%s) and %d deliveries followed (si_code %d value %d); expected it "
            "to arrive as given",
            what, rc, rc == 0 ? "no error" : ErrnoName(err), d.size(), d.empty() ? 0 : d[0].code,
            d.empty() ? 0 : d[0].value));
      }
      return Verdict::Pass();
    }
    HeldChild child;
    if (!child.Start([&] { sigprocmask(SIG_BLOCK, &one, nullptr); }, CaseDeadline(env))) {
      return Verdict::Broken("the child never got ready");
    }
    const pid_t pid = child.pid();
    std::string failure;
    {
      const bool forbidden = code >= 0 || code == SI_TKILL;
      const int rc = QueueInfo(api, pid, sig, &si);
      const int err = errno;
      SigStatus st;
      const bool pending = ReadSigStatus(pid, 0, &st) && ((st.shd | st.pnd) & Bit(sig)) != 0;
      if (forbidden ? (rc != -1 || err != EPERM || pending) : (rc != 0 || !pending)) {
        failure = absl::StrFormat(
            "%s returned %d (%s) and the signal is %spending there; "
            "expected %s",
            what, rc, rc == 0 ? "no error" : ErrnoName(err), pending ? "" : "not ",
            forbidden ? "EPERM and nothing sent" : "it queued");
      }
    }
    child.Release(CaseDeadline(env));
    return PassUnless(failure);
  }

  const Param<uint64_t> code_{this, 0, "the siginfo's code is %s",
                              static_cast<uint64_t>(SI_QUEUE) & 0xffffffffu, SayCode};
  const Param<bool> to_child_{this, 1, "it goes to a child (else to itself): %s", true, SayYesNo};
  const ChoiceParam<uint64_t> api_{this, 2, "the call is %s", kRtSigqueueinfo, kQueueApis};
  const Param<int> signal_{this, 3, "the signal is %s", SIGUSR1, SaySignal};
  const Param<int> value_{this, 4, "the value is %s", 7};
};
IPCSPEC_REGISTER_PROPERTY(QueueinfoPermProperty, "SIG-QUEUEINFO-PERM", {.examples = 20});

class IgnFlushProperty final : public SignalProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      std::vector<int> sigs = PlaySignals();
      for (int s : IgnoredByDefault()) sigs.push_back(s);
      return std::vector<Step>{signal_.Step(*GenSignal(sigs)), times_.Step(*rc::gen::inRange(1, 6)),
                               where_.Step(*rc::gen::inRange<uint64_t>(0, std::size(kWheres))),
                               action_.Step(*rc::gen::inRange<uint64_t>(0, std::size(kActions)))};
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const int sig = signal_.Of(s), n = times_.Of(s);
    const uint64_t where = where_.Of(s), action = action_.Of(s);
    const Deadline deadline = CaseDeadline(env);
    const sigset_t all = BitsSet(PlayBits() | Bit(SIGURG) | Bit(SIGWINCH));
    sigprocmask(SIG_SETMASK, &all, nullptr);
    SetDisposition(sig, NoopHandler);
    std::string failure;
    {
      ParkedThread other(all, [&all](char) { return static_cast<uint64_t>(DrainPending(all)); });
      if (!other.started()) return Verdict::Broken("pthread_create");
      const pid_t tid = where == kOtherThread ? other.tid() : ::gettid();
      for (int i = 0; i < n; ++i) {
        if (where == kProcess) {
          ::sigqueue(::getpid(), sig, sigval{.sival_int = i});
        } else {
          ::tgkill(::getpid(), tid, sig);
        }
      }
      void (*handler)(int) = action == kIgnore    ? SIG_IGN
                             : action == kDefault ? SIG_DFL
                                                  : NoopHandler;
      struct sigaction sa = {};
      sa.sa_handler = handler;
      sigemptyset(&sa.sa_mask);
      if (::sigaction(sig, &sa, nullptr) != 0) return Verdict::Broken("sigaction");
      SigStatus st;
      ReadSigStatus(::getpid(), tid, &st);
      const bool pending = ((st.pnd | st.shd) & Bit(sig)) != 0;
      const bool default_ignores = sig == SIGURG || sig == SIGWINCH;
      const bool want_pending = action == kHandler || (action == kDefault && !default_ignores);
      if (pending != want_pending) {
        failure = absl::StrCat(SignalName(sig), " blocked and pending ", n, " times for ",
                               where_.Name(where), ", then set to ", action_.Name(action),
                               ": it is ", pending ? "still pending" : "gone", ", expected ",
                               want_pending ? "kept" : "discarded");
      }
      SetDisposition(sig, NoopHandler);
      other.Ask('d', deadline);
    }
    DrainPending(all);
    SetDisposition(sig, SIG_DFL);
    return PassUnless(failure);
  }

  enum Where : uint64_t { kProcess, kThisThread, kOtherThread };
  static constexpr std::string_view kWheres[] = {"the process", "the calling thread",
                                                 "another thread"};
  enum NewAction : uint64_t { kIgnore, kDefault, kHandler };
  static constexpr std::string_view kActions[] = {"SIG_IGN", "SIG_DFL", "a handler"};
  const Param<int> signal_{this, 0, "the signal is %s", SIGUSR1, SaySignal};
  const Param<int> times_{this, 1, "it is sent %s times while blocked", 1};
  const ChoiceParam<uint64_t> where_{this, 2, "it is pending for %s", kProcess, kWheres};
  const ChoiceParam<uint64_t> action_{this, 3, "then its action is set to %s", kIgnore, kActions};
};
IPCSPEC_REGISTER_PROPERTY(IgnFlushProperty, "SIG-IGN-FLUSH", {.examples = 20});

}  // namespace signal_delivery_more
}  // namespace
}  // namespace ipcspec::props
