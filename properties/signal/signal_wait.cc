// SIG-WAIT-*: sigwaitinfo and sigtimedwait. Signals to take are made pending
// before the call (blocked, then sent), so the call's result does not depend
// on timing; a helper thread that must act while the main thread waits uses
// WaitTaskBlockedIn. Only SIG-WAIT-TIMEOUT is about time.
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <deque>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/signal/signal_proc.h"
#include "properties/signal/signal_util.h"
#include "properties/support/common.h"
#include "properties/support/proc_util.h"
#include "properties/support/verdicts.h"

namespace ipcspec::props {
namespace {
namespace signal_wait {

// What is pending, as the rules say it must be: a standard signal at most
// once (the first instance's siginfo), a realtime one every instance, FIFO.
class PendingModel {
 public:
  void Send(const SelfSend& m) {
    auto& q = pending_[m.sig];
    if (IsRealtime(m.sig) || q.empty()) q.push_back(m);
  }
  bool Has(int sig) const {
    auto it = pending_.find(sig);
    return it != pending_.end() && !it->second.empty();
  }
  SelfSend Take(int sig) {
    SelfSend m = pending_[sig].front();
    pending_[sig].pop_front();
    return m;
  }
  uint64_t Bits() const {
    uint64_t b = 0;
    for (const auto& [sig, q] : pending_) b |= q.empty() ? 0 : Bit(sig);
    return b;
  }

 private:
  std::map<int, std::deque<SelfSend>> pending_;
};

// Sends every generated step to this process (all play signals blocked).
Verdict SendAll(const std::vector<SelfSend>& sends, PendingModel* model) {
  const sigset_t all = BitsSet(PlayBits());
  sigprocmask(SIG_SETMASK, &all, nullptr);
  for (const SelfSend& m : sends) {
    if (int rc = SendSelf(m.method, m.sig, m.value); rc != 0) {
      return Verdict::Broken(absl::StrCat(SayMethod(m.method), ": ", Errno(rc)));
    }
    model->Send(m);
  }
  return Verdict::Pass();
}

// The taken signal against the instance the model expects.
std::string CheckTaken(const siginfo_t& si, int r, const SelfSend& want) {
  const int code = CodeOf(want.method);
  if (si.si_signo != r || si.si_code != code || si.si_pid != ::getpid() ||
      (code == SI_QUEUE && si.si_value.sival_int != want.value)) {
    return absl::StrFormat(
        "sigwaitinfo returned %s with si_signo %d si_code %d si_pid %d value %d; expected the "
        "%s instance (si_code %d, si_pid %d, value %d)",
        SignalName(r), si.si_signo, si.si_code, si.si_pid, si.si_value.sival_int,
        SayMethod(want.method), code, ::getpid(), want.value);
  }
  return "";
}

rc::Gen<std::vector<Step>> PendingSteps(const Param<uint64_t>* set) {
  return rc::gen::exec([set] {
    std::vector<Step> steps;
    if (set != nullptr) steps.push_back(set->Step(*GenMask(PlaySignals(), true)));
    const int n = *rc::gen::inRange(1, 13);
    for (int i = 0; i < n; ++i) {
      steps.push_back(*GenSendStep(PlaySignals(), {kByKill, kBySigqueue}));
    }
    return steps;
  });
}

class WaitTakeProperty final : public SignalProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override { return PendingSteps(&set_); }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const uint64_t set = set_.Of(s) & PlayBits();
    PendingModel model;
    if (Verdict v = SendAll(SelfSendsOf(s), &model); !v.ok()) return v;
    const sigset_t wait_set = BitsSet(set);
    std::string failure;
    for (int round = 0; failure.empty(); ++round) {
      const uint64_t pending = SetBits(PendingSet()) & PlayBits();
      if (pending != model.Bits()) {
        failure = absl::StrCat("after ", round, " sigwaitinfo calls ", SayMask(pending),
                               " are pending, expected ", SayMask(model.Bits()));
        break;
      }
      if ((pending & set) == 0) break;
      siginfo_t si = {};
      const int r = ::sigwaitinfo(&wait_set, &si);
      if (r <= 0 || (set & Bit(r)) == 0 || !model.Has(r)) {
        failure = absl::StrCat("sigwaitinfo(", SayMask(set), ") with ", SayMask(pending & set),
                               " pending returned ", r > 0 ? SignalName(r) : ErrnoName(errno));
        break;
      }
      failure = CheckTaken(si, r, model.Take(r));
    }
    DrainPending(BitsSet(PlayBits()));
    return PassUnless(failure);
  }

  const Param<uint64_t> set_{this, 0, "sigwaitinfo waits for %s", 0, SayMask};
};
IPCSPEC_REGISTER_PROPERTY(WaitTakeProperty, "SIG-WAIT-TAKE", {.examples = 25});

class WaitOrderProperty final : public SignalProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return PendingSteps(nullptr);
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    PendingModel model;
    if (Verdict v = SendAll(SelfSendsOf(s), &model); !v.ok()) return v;
    const sigset_t wait_set = BitsSet(PlayBits());
    std::string failure;
    std::vector<std::string> order;
    while (failure.empty() && model.Bits() != 0) {
      uint64_t standard = 0;
      for (int sig : StandardSignals()) standard |= model.Has(sig) ? Bit(sig) : 0;
      int lowest_rt = 0;
      for (int sig : RealtimeSignals()) {
        if (lowest_rt == 0 && model.Has(sig)) lowest_rt = sig;
      }
      siginfo_t si = {};
      const int r = ::sigwaitinfo(&wait_set, &si);
      order.push_back(r > 0 ? SignalName(r) : ErrnoName(errno));
      const bool ok = standard != 0 ? (r > 0 && (standard & Bit(r)) != 0) : r == lowest_rt;
      if (!ok) {
        failure = absl::StrCat(
            "pending ", SayMask(model.Bits()), ": sigwaitinfo returned ", order.back(),
            ", expected ",
            standard != 0 ? absl::StrCat("one of ", SayMask(standard)) : SignalName(lowest_rt));
        break;
      }
      failure = CheckTaken(si, r, model.Take(r));
    }
    DrainPending(wait_set);
    return PassUnless(failure);
  }
};
IPCSPEC_REGISTER_PROPERTY(WaitOrderProperty, "SIG-WAIT-ORDER", {.examples = 25});

std::string SayTimeout(uint64_t v) {
  if (v == 0) return "zero";
  if (v == 1) return "one time unit";
  return absl::StrCat("one time unit and ", v - 1, " us");
}

class WaitTimeoutProperty final : public SignalProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      const uint64_t set = *GenMask(PlaySignals(), true);
      const std::vector<int> members = BitsSignals(set);
      const bool pending = *rc::gen::arbitrary<bool>();
      return std::vector<Step>{
          timeout_.Step(*rc::gen::oneOf(rc::gen::just<uint64_t>(0), rc::gen::just<uint64_t>(1),
                                        rc::gen::inRange<uint64_t>(2, 1000))),
          set_.Step(set), pending_.Step(pending ? *rc::gen::elementOf(members) : 0)};
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const uint64_t t = timeout_.Of(s), set = set_.Of(s) & PlayBits();
    const int pending = (set & Bit(pending_.Of(s))) != 0 ? pending_.Of(s) : 0;
    const absl::Duration timeout =
        t == 0 ? absl::ZeroDuration() : env.time_unit + absl::Microseconds(t - 1);
    const sigset_t wait_set = BitsSet(set), all = BitsSet(PlayBits());
    sigprocmask(SIG_SETMASK, &all, nullptr);
    if (pending != 0) ::kill(::getpid(), pending);
    const struct timespec ts = absl::ToTimespec(timeout);
    siginfo_t si;
    const absl::Time t0 = absl::Now();
    const int r = ::sigtimedwait(&wait_set, &si, &ts);
    const int err = errno;
    const absl::Duration took = absl::Now() - t0;
    DrainPending(all);
    const std::string what =
        absl::StrCat("sigtimedwait(", SayMask(set), ", timeout ", absl::FormatDuration(timeout),
                     ") with ", pending != 0 ? SignalName(pending) : "nothing", " pending");
    if (pending != 0) {
      if (r != pending) {
        return Verdict::Fail(
            absl::StrCat(what, " returned ", r > 0 ? SignalName(r) : ErrnoName(err)));
      }
      if (took > env.hang_grace) {
        return Verdict::Fail(absl::StrCat(what, " took ", absl::FormatDuration(took)));
      }
      return Verdict::Pass();
    }
    if (r != -1 || err != EAGAIN) {
      return Verdict::Fail(absl::StrFormat("%s returned %d (%s), expected -1 with EAGAIN", what, r,
                                           r == -1 ? ErrnoName(err) : "no error"));
    }
    if (took < timeout || took > timeout + env.hang_grace) {
      return Verdict::Fail(absl::StrCat(what, " gave EAGAIN after ", absl::FormatDuration(took)));
    }
    return Verdict::Pass();
  }

  const Param<uint64_t> timeout_{this, 0, "the timeout is %s", 1, SayTimeout};
  const Param<uint64_t> set_{this, 1, "sigtimedwait waits for %s", 0, SayMask};
  const Param<int> pending_{
      this, 2, "pending beforehand: %s", 0,
      [](uint64_t v) { return v == 0 ? std::string("nothing") : SignalName(static_cast<int>(v)); }};
};
IPCSPEC_REGISTER_PROPERTY(WaitTimeoutProperty, "SIG-WAIT-TIMEOUT", {.examples = 15});

constexpr std::string_view kWaitApis[] = {"sigwaitinfo", "sigtimedwait with a timeout"};

class WaitEintrProperty final : public SignalProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      const int t = *GenSignal(PlaySignals());
      const uint64_t set = *GenMask(PlaySignals()) & ~Bit(t);
      return std::vector<Step>{set_.Step(set != 0 ? set : Bit(t == SIGUSR1 ? SIGUSR2 : SIGUSR1)),
                               interrupter_.Step(t),
                               api_.Step(*rc::gen::inRange<uint64_t>(0, std::size(kWaitApis)))};
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const int t = interrupter_.Of(s);
    const uint64_t set = set_.Of(s) & ~Bit(t) & PlayBits();
    ResetDeliveries();
    if (InstallRecorder(t) != 0) return Verdict::Broken("sigaction");
    const sigset_t mask = BitsSet(PlayBits() & ~Bit(t)), wait_set = BitsSet(set);
    sigprocmask(SIG_SETMASK, &mask, nullptr);
    const Deadline deadline = CaseDeadline(env);
    CancelFlag done;
    int r, err;
    siginfo_t si = {};
    {
      const pid_t me = ::getpid();
      HelperThread helper([&] {
        if (WaitTaskBlockedIn(me, me, SYS_rt_sigtimedwait, deadline, done.fd())) {
          ::tgkill(me, me, t);
        }
      });
      if (!helper.started()) return Verdict::Broken("pthread_create");
      if (api_.Of(s) != 0) {
        const struct timespec ts = absl::ToTimespec(deadline.when() - absl::Now());
        r = ::sigtimedwait(&wait_set, &si, &ts);
      } else {
        r = ::sigwaitinfo(&wait_set, &si);
      }
      err = errno;
      done.Set();
    }
    const sigset_t after = CurrentMask();
    DrainPending(BitsSet(PlayBits()));
    const std::string what =
        absl::StrCat(api_.Name(api_.Of(s)), "(", SayMask(set), ") interrupted by ", SignalName(t));
    if (r != -1 || err != EINTR) {
      return Verdict::Fail(absl::StrFormat("%s returned %d (%s), expected -1 with EINTR", what, r,
                                           r == -1 ? ErrnoName(err) : "no error"));
    }
    if (DeliveriesOf(t) != 1) {
      return Verdict::Fail(
          absl::StrFormat("%s: its handler ran %d times, expected once", what, DeliveriesOf(t)));
    }
    if (!SameSet(after, mask)) {
      return Verdict::Fail(absl::StrCat(what, ": afterwards the mask is ", DescribeSet(after)));
    }
    return Verdict::Pass();
  }

  const Param<uint64_t> set_{this, 0, "the wait is for %s", 0, SayMask};
  const Param<int> interrupter_{this, 1, "the handled signal sent meanwhile is %s", SIGUSR1,
                                SaySignal};
  const ChoiceParam<uint64_t> api_{this, 2, "the call is %s", 0, kWaitApis};
};
IPCSPEC_REGISTER_PROPERTY(WaitEintrProperty, "SIG-WAIT-EINTR", {.examples = 20});

constexpr std::string_view kBadTimeouts[] = {"tv_nsec = 1000000000", "tv_nsec = -1", "tv_sec = -1"};

class WaitEinvalProperty final : public SignalProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      const bool pending = *rc::gen::arbitrary<bool>();
      return std::vector<Step>{bad_.Step(*rc::gen::inRange<uint64_t>(0, std::size(kBadTimeouts))),
                               pending_.Step(pending ? *GenSignal(PlaySignals()) : 0)};
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const uint64_t bad = bad_.Of(s);
    const int pending = pending_.Of(s);
    struct timespec ts = {0, 0};
    if (bad % 3 == 0) ts.tv_nsec = 1000000000L;
    if (bad % 3 == 1) ts.tv_nsec = -1;
    if (bad % 3 == 2) ts.tv_sec = -1;
    const sigset_t all = BitsSet(PlayBits());
    sigprocmask(SIG_SETMASK, &all, nullptr);
    if (pending != 0) ::kill(::getpid(), pending);
    siginfo_t si;
    const int r = ::sigtimedwait(&all, &si, &ts);
    const int err = errno;
    const bool still = pending == 0 || IsPending(pending);
    DrainPending(all);
    const std::string what =
        absl::StrCat("sigtimedwait with ", bad_.Name(bad), " and ",
                     pending != 0 ? SignalName(pending) : "nothing", " pending");
    if (r != -1 || err != EINVAL) {
      return Verdict::Fail(absl::StrFormat("%s returned %s, expected -1 with EINVAL", what,
                                           r > 0 ? SignalName(r) : ErrnoName(err)));
    }
    if (!still) return Verdict::Fail(absl::StrCat(what, ": the signal was taken anyway"));
    return Verdict::Pass();
  }

  const ChoiceParam<uint64_t> bad_{this, 0, "the timeout has %s", 0, kBadTimeouts};
  const Param<int> pending_{
      this, 1, "pending beforehand: %s", 0,
      [](uint64_t v) { return v == 0 ? std::string("nothing") : SignalName(static_cast<int>(v)); }};
};
IPCSPEC_REGISTER_PROPERTY(WaitEinvalProperty, "SIG-WAIT-EINVAL", {.examples = 15});

}  // namespace signal_wait
}  // namespace
}  // namespace ipcspec::props
