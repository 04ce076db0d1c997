// SIG-IGNORE, SIG-IGNORE-BLOCKED, SIG-BLOCK, SIG-COALESCE and
// SIG-HANDLE-INFO: the kernel's signal contract checked on the case process
// itself, with sigaction, sigprocmask, kill, sigqueue, sigpending and
// sigtimedwait. They apply to the `signal` transport, the built-in transport
// made of these calls.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/signal/signal_util.h"
#include "properties/support/common.h"
#include "properties/support/proc_util.h"

namespace ipcspec::props {
namespace {
namespace signal_props {

rc::Gen<int> PlaySignal() { return GenSignal(PlaySignals()); }

// Sends `sig` to this process: kill for even i, sigqueue(value i) for odd i.
int SendAlternating(int sig, int i) { return SendSelf(i % 2 == 0 ? kByKill : kBySigqueue, sig, i); }

// Sends `sig` to this process n times (SendAlternating); the broken verdict
// of the first send that fails.
std::optional<Verdict> SendTimes(int sig, int n) {
  for (int i = 0; i < n; ++i) {
    if (int rc = SendAlternating(sig, i); rc != 0) {
      return Verdict::Broken(absl::StrCat("send: ", Errno(rc)));
    }
  }
  return std::nullopt;
}

// A property of one signal (parameter 0, worded by `signal_words`) sent to
// this process 1 to `most_times` times (parameter 1): a subclass checks
// `Check(sig, n)`.
class RepeatedSignalProperty : public SignalProperty {
 public:
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const final {
    return Check(signal_.Of(s), times_.Of(s));
  }

 protected:
  RepeatedSignalProperty(std::string_view signal_words, int most_times)
      : signal_{this, 0, signal_words, SIGUSR1, PlaySignal(), SaySignal},
        times_{this, 1, "it is sent %s times", 3, rc::gen::inRange(1, most_times)} {}
  // The check for signal `sig`, sent `n` times.
  virtual Verdict Check(int sig, int n) const = 0;

 private:
  const Param<int> signal_;
  const Param<int> times_;
};

class IgnoreProperty final : public RepeatedSignalProperty {
 public:
  IgnoreProperty() : RepeatedSignalProperty("the signal, set to SIG_IGN, is %s", 20) {}

 private:
  Verdict Check(int sig, int n) const override {
    ResetDeliveries();
    if (InstallRecorder(sig) != 0 || SetDisposition(sig, SIG_IGN) != 0) {
      return Verdict::Broken("sigaction failed");
    }
    if (auto broken = SendTimes(sig, n)) return *broken;
    if (DeliveryCount() != 0) {
      return Verdict::Fail(
          absl::StrFormat("%s ignored: the old handler ran %d times", Sig(sig), DeliveryCount()));
    }
    if (IsPending(sig)) {
      return Verdict::Fail(absl::StrFormat(
          "%s ignored and unblocked, sent %d times: sigpending shows it", Sig(sig), n));
    }
    // Nothing was kept for later either: blocking it now finds nothing to take.
    sigset_t one = SetOf({sig});
    sigprocmask(SIG_BLOCK, &one, nullptr);
    const int late = DrainPending(one);
    sigprocmask(SIG_UNBLOCK, &one, nullptr);
    if (late != 0) {
      return Verdict::Fail(absl::StrFormat("%s ignored: %d instances were kept and later collected",
                                           Sig(sig), late));
    }
    return Verdict::Pass();
  }
};
IPCSPEC_REGISTER_PROPERTY(IgnoreProperty, "SIG-IGNORE", {.examples = 30});

class IgnoreBlockedProperty final : public RepeatedSignalProperty {
 public:
  IgnoreBlockedProperty()
      : RepeatedSignalProperty("the signal, set to SIG_IGN and blocked, is %s", 20) {}

 private:
  Verdict Check(int sig, int n) const override {
    if (SetDisposition(sig, SIG_IGN) != 0) return Verdict::Broken("sigaction SIG_IGN failed");
    sigset_t one = SetOf({sig});
    sigprocmask(SIG_BLOCK, &one, nullptr);
    if (auto broken = SendTimes(sig, n)) return *broken;
    if (!IsPending(sig)) {
      return Verdict::Fail(
          absl::StrFormat("%s ignored but blocked, sent %d times: not pending", Sig(sig), n));
    }
    int got = 0;
    if (sigwait(&one, &got) != 0 || got != sig) {
      return Verdict::Fail(absl::StrFormat("sigwait for pending %s gave %s", Sig(sig), Sig(got)));
    }
    const int rest = DrainPending(one);
    const int want = IsRealtime(sig) ? n : 1;
    if (1 + rest != want) {
      return Verdict::Fail(
          absl::StrFormat("%s ignored but blocked, sent %d times: collected %d, expected %d",
                          Sig(sig), n, 1 + rest, want));
    }
    return Verdict::Pass();
  }
};
IPCSPEC_REGISTER_PROPERTY(IgnoreBlockedProperty, "SIG-IGNORE-BLOCKED", {.examples = 30});

// SIG-BLOCK: block, send n times, check pending, unblock: delivery happens
// before sigprocmask returns, once for a standard signal, n times in order
// for a realtime one.
class BlockProperty final : public RepeatedSignalProperty {
 public:
  BlockProperty() : RepeatedSignalProperty("the blocked signal is %s", 25) {}

 private:
  Verdict Check(int sig, int n) const override {
    const sigset_t one = SetOf({sig});
    if (RecordBlocked(sig) != 0) return Verdict::Broken("sigaction failed");
    if (auto broken = SendTimes(sig, n)) return *broken;
    if (DeliveryCount() != 0) {
      return Verdict::Fail(absl::StrFormat("%s blocked: the handler ran %d times anyway", Sig(sig),
                                           DeliveryCount()));
    }
    if (!IsPending(sig)) {
      return Verdict::Fail(absl::StrFormat(
          "%s blocked and sent %d times: sigpending does not show it", Sig(sig), n));
    }
    sigprocmask(SIG_UNBLOCK, &one, nullptr);
    const int delivered = DeliveryCount();  // before anything else can run
    const int want = IsRealtime(sig) ? n : 1;
    if (delivered != want) {
      return Verdict::Fail(absl::StrFormat(
          "%s sent %d times while blocked: %d deliveries by the time sigprocmask(SIG_UNBLOCK) "
          "returned, expected %d (%s)",
          Sig(sig), n, delivered, want,
          IsRealtime(sig) ? "realtime signals queue" : "standard signals coalesce"));
    }
    if (IsRealtime(sig)) {
      std::vector<Delivery> d = Deliveries();
      for (int i = 0; i < n; ++i) {
        const int code = i % 2 == 0 ? SI_USER : SI_QUEUE;
        if (d[i].code != code || (code == SI_QUEUE && d[i].value != i)) {
          return Verdict::Fail(
              absl::StrFormat("delivery %d of %s: si_code %d value %d, expected send %d", i,
                              Sig(sig), d[i].code, d[i].value, i));
        }
      }
    }
    if (IsPending(sig)) {
      return Verdict::Fail(absl::StrFormat("%s still pending after its delivery", Sig(sig)));
    }
    return Verdict::Pass();
  }
};
IPCSPEC_REGISTER_PROPERTY(BlockProperty, "SIG-BLOCK", {.examples = 30});

// SIG-COALESCE, on its own: a standard signal generated N >= 2 times while
// blocked is one pending instance. The sends are all process-directed (kill
// and sigqueue in turn) or all directed at this thread (tgkill): the thread's
// own pending set and the process's are separate, so one of each would be
// two instances (SIG-THREAD-PENDING).
// Collected by sigwaitinfo, the second call finds nothing (sigtimedwait
// with a zero timeout gives EAGAIN); collected by unblocking, its handler
// runs once; either way nothing stays pending.
class CoalesceProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const int sig = signal_.Of(s);
    const int n = times_.Of(s);
    const bool by_wait = by_wait_.Of(s);
    const sigset_t one = SetOf({sig});
    if (RecordBlocked(sig) != 0) return Verdict::Broken("sigaction failed");
    for (int i = 0; i < n; ++i) {
      const int method = to_thread_.Of(s) ? kByTgkill : i % 2 == 0 ? kByKill : kBySigqueue;
      if (int rc = SendSelf(method, sig, i); rc != 0) {
        return Verdict::Broken(absl::StrCat(SayMethod(method), ": ", Errno(rc)));
      }
    }
    int got = 0;
    if (by_wait) {
      siginfo_t si;
      if (::sigwaitinfo(&one, &si) != sig) {
        return Verdict::Fail(
            absl::StrCat("sigwaitinfo for the pending ", Sig(sig), ": ", ErrnoName(errno)));
      }
      got = 1;
      struct timespec zero = {0, 0};
      while (got <= n && ::sigtimedwait(&one, &si, &zero) == sig) ++got;
      sigprocmask(SIG_UNBLOCK, &one, nullptr);
      got += DeliveryCount();
    } else {
      sigprocmask(SIG_UNBLOCK, &one, nullptr);
      got = DeliveryCount();
    }
    if (got != 1) {
      return Verdict::Fail(absl::StrFormat(
          "%s generated %d times while blocked arrived %d times (%s); a standard signal is "
          "pending at most once",
          Sig(sig), n, got, by_wait ? "taken by sigwaitinfo" : "delivered on unblock"));
    }
    return Verdict::Pass();
  }

  const Param<int> signal_{
      this,     0, "the blocked standard signal is %s", SIGUSR1, GenSignal(StandardSignals()),
      SaySignal};
  const Param<int> times_{this, 1, "it is generated %s times", 3, rc::gen::inRange(2, 25)};
  const YesNoParam by_wait_{this, 2, "it is collected by sigwaitinfo (else by unblocking): %s",
                            false};
  const YesNoParam to_thread_{this, 3,
                              "it is sent with tgkill to this thread (else kill and "
                              "sigqueue to the process): %s",
                              false};
};
IPCSPEC_REGISTER_PROPERTY(CoalesceProperty, "SIG-COALESCE", {.examples = 30});

// SIG-HANDLE-INFO: the handler sees the right signo, si_pid, si_uid, si_code
// (SI_USER for kill, SI_QUEUE for sigqueue) and value, from this process or
// from a forked child.
class HandleInfoProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const int sig = signal_.Of(s);
    const bool queue = queue_.Of(s);
    const bool from_child = from_child_.Of(s);
    const int value = value_.Of(s);
    const sigset_t one = SetOf({sig});
    if (RecordBlocked(sig) != 0) return Verdict::Broken("sigaction failed");
    const pid_t me = ::getpid();
    auto send = [&] {
      return queue ? ::sigqueue(me, sig, sigval{.sival_int = value}) : ::kill(me, sig);
    };
    pid_t sender = me;
    if (from_child) {
      sender = ForkChild([&] { return send() == 0 ? 0 : 1; });
      int status = 0;
      if (sender < 0 || !WaitChild(sender, 0, CaseDeadline(env), &status)) {
        KillAndReap(sender);
        return Verdict::Broken("sending child did not finish");
      }
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        return Verdict::Broken(absl::StrCat("sending child ", DescribeWaitStatus(status)));
      }
    } else if (send() != 0) {
      return Verdict::Broken(absl::StrCat("send: ", ErrnoName(errno)));
    }
    sigprocmask(SIG_UNBLOCK, &one, nullptr);
    if (DeliveryCount() != 1) {
      return Verdict::Fail(
          absl::StrFormat("%d deliveries of %s, expected 1", DeliveryCount(), Sig(sig)));
    }
    const Delivery d = Deliveries()[0];
    const int code = queue ? SI_QUEUE : SI_USER;
    if (d.signo != sig || d.pid != sender || d.uid != ::getuid() || d.code != code ||
        (queue && d.value != value)) {
      return Verdict::Fail(absl::StrFormat(
          "%s by %s from %s: handler saw signo %s si_pid %d si_uid %d si_code %d value %d; "
          "expected "
          "si_pid %d si_uid %d si_code %d value %d",
          Sig(sig), queue ? "sigqueue" : "kill", from_child ? "a child" : "itself", Sig(d.signo),
          d.pid, d.uid, d.code, d.value, sender, ::getuid(), code, value));
    }
    return Verdict::Pass();
  }

  const Param<int> signal_{this, 0, "the signal is %s", SIGUSR1, PlaySignal(), SaySignal};
  const YesNoParam queue_{this, 1, "it is sent with sigqueue (else kill): %s", false};
  const YesNoParam from_child_{this, 2, "a forked child sends it: %s", false};
  const Param<int> value_{this, 3, "the sigqueue value is %s", 7, rc::gen::inRange(0, 1 << 30)};
};
IPCSPEC_REGISTER_PROPERTY(HandleInfoProperty, "SIG-HANDLE-INFO", {.examples = 25});

}  // namespace signal_props
}  // namespace
}  // namespace ipcspec::props
