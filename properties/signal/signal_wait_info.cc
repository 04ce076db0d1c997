// SIG-WAIT-INFO, SIG-WAIT-IGNORED and SIG-WAIT-UNCATCHABLE: what a wait
// reports about the sender, ignored signals during a wait, and SIGKILL /
// SIGSTOP in the wait set.
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/signal/signal_proc.h"
#include "properties/signal/signal_util.h"
#include "properties/support/common.h"
#include "properties/support/proc_util.h"

namespace ipcspec::props {
namespace {
namespace signal_wait_info {

// Sends `sig` to process `to` (its main thread for tgkill) from here.
int SendTo(pid_t to, int method, int sig, int value) {
  int rc = 0;
  if (method == kBySigqueue) {
    rc = ::sigqueue(to, sig, sigval{.sival_int = value});
  } else if (method == kByTgkill) {
    rc = ::tgkill(to, to, sig);
  } else {
    rc = ::kill(to, sig);
  }
  return rc == 0 ? 0 : -errno;
}

class WaitInfoProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const uint64_t sender = sender_.Of(s), method = method_.Of(s);
    const int sig = signal_.Of(s), value = value_.Of(s);
    const pid_t me = ::getpid();
    const sigset_t one = SetOf({sig});
    sigprocmask(SIG_BLOCK, &one, nullptr);
    pid_t from = me;
    int rc = 0;
    if (sender == kThread) {
      HelperThread t([&] { rc = SendTo(me, static_cast<int>(method), sig, value); });
      if (!t.started()) return Verdict::Broken("pthread_create");
    } else if (sender == kChild) {
      from =
          ForkChild([&] { return SendTo(me, static_cast<int>(method), sig, value) == 0 ? 0 : 1; });
      int status = 0;
      if (from < 0 || !WaitChild(from, 0, CaseDeadline(env), &status) || !WIFEXITED(status) ||
          WEXITSTATUS(status) != 0) {
        KillAndReap(from);
        return Verdict::Broken(absl::StrCat("the sending child ", DescribeWaitStatus(status)));
      }
    } else {
      rc = SendTo(me, static_cast<int>(method), sig, value);
    }
    if (rc != 0) return Verdict::Broken(absl::StrCat(SayMethod(method), ": ", Errno(rc)));
    siginfo_t si = {};
    const int r = ::sigwaitinfo(&one, &si);
    const std::string what = absl::StrCat(SignalName(sig), " sent with ", SayMethod(method), " by ",
                                          sender_.Name(sender));
    if (r != sig || si.si_signo != sig) {
      return Verdict::Fail(
          absl::StrFormat("%s: sigwaitinfo returned %d with si_signo %d", what, r, si.si_signo));
    }
    const bool code_ok = method == kBySigqueue ? si.si_code == SI_QUEUE
                         : method == kByTgkill ? (si.si_code == SI_USER || si.si_code == SI_TKILL)
                                               : si.si_code == SI_USER;
    if (!code_ok || si.si_pid != from || si.si_uid != ::getuid() ||
        (method == kBySigqueue && si.si_value.sival_int != value)) {
      return Verdict::Fail(absl::StrFormat(
          "%s: si_code %d si_pid %d si_uid %d value %d; expected si_code %s, si_pid %d, "
          "si_uid %d%s",
          what, si.si_code, si.si_pid, si.si_uid, si.si_value.sival_int,
          method == kBySigqueue ? "SI_QUEUE" : "SI_USER", from, ::getuid(),
          method == kBySigqueue ? absl::StrCat(", value ", value) : ""));
    }
    return Verdict::Pass();
  }

  enum Sender : uint64_t { kSelf, kThread, kChild };
  static constexpr std::string_view kSenders[] = {"the thread itself", "another thread",
                                                  "a forked child"};
  const ChoiceParam<uint64_t> sender_{this, 0, "the sender is %s", kSelf, kSenders};
  const ChoiceParam<uint64_t> method_{this, 1, "it sends with %s", kByKill, kMethodNames};
  const Param<int> signal_{this,     2, "the signal is %s", SIGUSR1, GenSignal(PlaySignals()),
                           SaySignal};
  const Param<int> value_{this, 3, "the sigqueue value is %s", 7, rc::gen::inRange(0, 1 << 30)};
};
IPCSPEC_REGISTER_PROPERTY(WaitInfoProperty, "SIG-WAIT-INFO", {.examples = 20});

class WaitIgnoredProperty final : public SignalProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      const int i = *GenSignal(PlaySignals());
      const int e = *rc::gen::suchThat(GenSignal(PlaySignals()), [i](int x) { return x != i; });
      return std::vector<Step>{ignored_.Step(i), marker_.Step(e),
                               blocked_.Step(*rc::gen::arbitrary<bool>())};
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const int ign = ignored_.Of(s), marker = marker_.Of(s);
    const bool blocked = blocked_.Of(s);
    if (ign == marker) return Verdict::Broken("the two signals must differ");
    if (SetDisposition(ign, SIG_IGN) != 0 || SetDisposition(marker, NoopHandler) != 0) {
      return Verdict::Broken("sigaction");
    }
    const sigset_t mask = BitsSet(PlayBits() & ~(blocked ? 0 : Bit(ign)));
    const sigset_t wait_set = SetOf({ign, marker});
    sigprocmask(SIG_SETMASK, &mask, nullptr);
    const Deadline deadline = CaseDeadline(env);
    CancelFlag done;
    int r;
    siginfo_t si;
    {
      const pid_t me = ::getpid();
      HelperThread helper([&] {
        if (!WaitTaskBlockedIn(me, me, SYS_rt_sigtimedwait, deadline, done.fd())) return;
        ::tgkill(me, me, ign);
        ::tgkill(me, me, marker);
      });
      if (!helper.started()) return Verdict::Broken("pthread_create");
      r = ::sigwaitinfo(&wait_set, &si);
      done.Set();
    }
    // Whatever else arrived is pending now: take it without waiting.
    uint64_t taken = r > 0 ? Bit(r) : 0;
    const sigset_t all = BitsSet(PlayBits());
    sigprocmask(SIG_SETMASK, &all, nullptr);
    struct timespec zero = {0, 0};
    for (int more; (more = ::sigtimedwait(&wait_set, &si, &zero)) > 0;) taken |= Bit(more);
    const uint64_t want = blocked ? Bit(ign) | Bit(marker) : Bit(marker);
    if (r <= 0 || taken != want) {
      return Verdict::Fail(absl::StrCat(
          SignalName(ign), " set to SIG_IGN and ", blocked ? "blocked" : "unblocked",
          " before sigwaitinfo(", SayMask(Bit(ign) | Bit(marker)), "), then sent with ",
          SignalName(marker), ": the wait returned ", r > 0 ? SignalName(r) : "an error", " and ",
          SayMask(taken), " were taken in all, expected ", SayMask(want)));
    }
    return Verdict::Pass();
  }

  const Param<int> ignored_{this, 0, "the ignored signal is %s", SIGUSR1, SaySignal};
  const Param<int> marker_{this, 1, "the marker signal sent after it is %s", SIGUSR2, SaySignal};
  const Param<bool> blocked_{this, 2, "the ignored signal is blocked before the call: %s", false,
                             SayYesNo};
};
IPCSPEC_REGISTER_PROPERTY(WaitIgnoredProperty, "SIG-WAIT-IGNORED", {.examples = 20});

class WaitUncatchableProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const uint64_t api = api_.Of(s);
    const int sig = stop_.Of(s) ? SIGSTOP : SIGKILL;
    // SIGUSR1 is always in the set: the shim's stand-in for a SIGKILL that
    // was wrongly taken by the wait.
    const sigset_t set = BitsSet((extra_.Of(s) & PlayBits()) | Bit(SIGUSR1) | Bit(sig));
    const pid_t pid = ForkChild([&] {
      sigprocmask(SIG_BLOCK, &set, nullptr);
      siginfo_t si;
      if (api == kSignalfdRead) {
        const int fd = ::signalfd(-1, &set, SFD_CLOEXEC);
        signalfd_siginfo in;
        if (fd < 0 || ::read(fd, &in, sizeof in) < 0) return 4;
      } else if (api == kSigtimedwait) {
        const struct timespec ts = {3600, 0};
        ::sigtimedwait(&set, &si, &ts);
      } else {
        ::sigwaitinfo(&set, &si);
      }
      return 3;  // the wait returned
    });
    if (pid < 0) return Verdict::Broken("fork");
    const Deadline deadline = CaseDeadline(env);
    if (!WaitUntilBlockedIn(pid, api == kSignalfdRead ? SYS_read : SYS_rt_sigtimedwait, deadline)) {
      KillAndReap(pid);
      return Verdict::Broken(absl::StrCat("the child never slept in ", api_.Name(api)));
    }
    ::tgkill(pid, pid, sig);
    int status = 0;
    const Deadline grace = Deadline::After(env.hang_grace);
    const bool ended = WaitChild(pid, sig == SIGSTOP ? WUNTRACED : 0,
                                 grace.when() < deadline.when() ? grace : deadline, &status);
    if (!ended || WIFSTOPPED(status)) KillAndReap(pid);
    const bool ok = ended && (sig == SIGSTOP ? WIFSTOPPED(status) && WSTOPSIG(status) == SIGSTOP
                                             : IsKilledBy(status, SIGKILL));
    if (!ok) {
      return Verdict::Fail(
          absl::StrCat(SignalName(sig), " sent with tgkill to a child in ", api_.Name(api),
                       " for a set holding ", "it: the child ",
                       !ended ? "was neither stopped nor killed"
                       : WIFEXITED(status) && WEXITSTATUS(status) == 3 ? "saw its wait return"
                                                                       : DescribeWaitStatus(status),
                       sig == SIGSTOP ? ", expected stopped" : ", expected killed"));
    }
    return Verdict::Pass();
  }

  enum WaitApi : uint64_t { kSigwaitinfo, kSigtimedwait, kSignalfdRead };
  static constexpr std::string_view kWaitApis[] = {"sigwaitinfo", "sigtimedwait",
                                                   "read on a signalfd"};
  const ChoiceParam<uint64_t> api_{this, 0, "the child waits in %s", kSigwaitinfo, kWaitApis};
  const YesNoParam stop_{this, 1, "the signal is SIGSTOP (else SIGKILL): %s", false};
  const Param<uint64_t> extra_{
      this, 2, "its set also holds SIGUSR1 and %s", 0, GenMask(PlaySignals()), SayMask};
};
IPCSPEC_REGISTER_PROPERTY(WaitUncatchableProperty, "SIG-WAIT-UNCATCHABLE", {.examples = 15});

}  // namespace signal_wait_info
}  // namespace
}  // namespace ipcspec::props
