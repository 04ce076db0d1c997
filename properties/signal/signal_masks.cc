// SIG-MASK-HOW, SIG-MASK-QUERY, SIG-MASK-EINVAL, SIG-MASK-UNBLOCKABLE and
// SIG-MASK-ALIAS: sigprocmask and pthread_sigmask, checked against a set
// model through the returned old set, a query and /proc (SigBlk).
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/signal/signal_proc.h"
#include "properties/signal/signal_util.h"
#include "properties/support/common.h"
#include "properties/support/proc_util.h"

namespace ipcspec::props {
namespace {
namespace signal_masks {

// Never in a mask: SIGKILL, SIGSTOP, and glibc's own 32 and 33.
uint64_t Unmaskable() { return Bit(SIGKILL) | Bit(SIGSTOP) | Bit(32) | Bit(33); }

// A `how` by name, or "how 7" for a number that names none.
std::string SayHow(uint64_t v) {
  return v < std::size(kHowNames) ? std::string(kHowNames[v]) : absl::StrCat("how ", v);
}
// Which call sets the mask: sigprocmask, or pthread_sigmask for any other number.
constexpr std::string_view kMaskApis[] = {"sigprocmask", "pthread_sigmask"};
std::string SayApi(uint64_t v) { return std::string(kMaskApis[v != 0 ? 1 : 0]); }

uint64_t Apply(uint64_t mask, uint64_t how, uint64_t set) {
  set &= ~Unmaskable();
  return how == SIG_BLOCK ? mask | set : how == SIG_UNBLOCK ? mask & ~set : set;
}

// sigprocmask or pthread_sigmask; returns 0 or the error number.
int MaskCall(uint64_t api, int how, const sigset_t* set, sigset_t* old) {
  if (api != 0) return ::pthread_sigmask(how, set, old);
  return ::sigprocmask(how, set, old) == 0 ? 0 : errno;
}

uint64_t SigBlk() {
  SigStatus st;
  return ReadSigStatus(::getpid(), ::gettid(), &st) ? st.blk : ~uint64_t{0};
}

rc::Gen<uint64_t> GenAnySet() {
  return rc::gen::exec([] {
    uint64_t set = *GenMask(PlaySignals());
    if (*rc::gen::inRange(0, 4) == 0) set |= Bit(SIGKILL) | Bit(SIGSTOP);
    if (*rc::gen::inRange(0, 6) == 0) set |= Bit(32) | Bit(33);
    return set;
  });
}

// Mask steps: Step{kSend, actor = how, size = set, arg = api}.
class MaskHowProperty final : public SignalProperty {
  std::string DescribeStep(const Step& s) const override {
    if (s.op != Op::kSend) return SignalProperty::DescribeStep(s);
    return absl::StrCat(SayApi(s.arg), "(", SayHow(s.actor), ", ", SayMask(s.size), ")");
  }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([] {
      std::vector<Step> steps;
      const int n = *rc::gen::inRange(1, 21);
      for (int i = 0; i < n; ++i) {
        steps.push_back(Step{Op::kSend, *rc::gen::inRange<uint32_t>(0, 3), *GenAnySet(),
                             *rc::gen::inRange<uint64_t>(0, 2)});
      }
      return steps;
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const sigset_t none = BitsSet(0);
    ::pthread_sigmask(SIG_SETMASK, &none, nullptr);
    uint64_t model = 0;
    int step = 0;
    for (const Step& st : s.steps) {
      if (st.op != Op::kSend || st.actor > 2) continue;
      ++step;
      const sigset_t set = BitsSet(st.size);
      sigset_t old;
      const int rc = MaskCall(st.arg, static_cast<int>(st.actor), &set, &old);
      const uint64_t before = model;
      model = Apply(model, st.actor, st.size);
      sigset_t now;
      MaskCall(st.arg, SIG_BLOCK, nullptr, &now);
      if (rc != 0 || SetBits(old) != before || SetBits(now) != model || SigBlk() != model) {
        const std::string what = absl::StrCat("step ", step, ", ", DescribeStep(st));
        ::pthread_sigmask(SIG_SETMASK, &none, nullptr);
        return Verdict::Fail(absl::StrFormat(
            "%s: returned %s, oldset %s (expected %s), mask now %s, SigBlk %s (expected %s)", what,
            rc == 0 ? "0" : ErrnoName(rc), SayMask(SetBits(old)), SayMask(before),
            SayMask(SetBits(now)), SayMask(SigBlk()), SayMask(model)));
      }
    }
    ::pthread_sigmask(SIG_SETMASK, &none, nullptr);
    return Verdict::Pass();
  }
};
IPCSPEC_REGISTER_PROPERTY(MaskHowProperty, "SIG-MASK-HOW", {.examples = 25});

class MaskQueryProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const uint64_t how = how_.Of(s), mask = mask_.Of(s) & PlayBits(), api = api_.Of(s);
    const bool no_old = no_old_.Of(s);
    const sigset_t cur = BitsSet(mask), none = BitsSet(0);
    ::pthread_sigmask(SIG_SETMASK, &cur, nullptr);
    sigset_t old;
    sigemptyset(&old);
    const int rc = MaskCall(api, static_cast<int>(how), nullptr, no_old ? nullptr : &old);
    sigset_t now;
    ::pthread_sigmask(SIG_BLOCK, nullptr, &now);
    const uint64_t blk = SigBlk();
    ::pthread_sigmask(SIG_SETMASK, &none, nullptr);
    const std::string what =
        absl::StrCat(SayApi(api), "(", SayHow(how), ", NULL, ", no_old ? "NULL" : "&old", ") with ",
                     SayMask(mask), " blocked");
    if (rc != 0 || (!no_old && SetBits(old) != mask) || SetBits(now) != mask || blk != mask) {
      return Verdict::Fail(absl::StrCat(
          what, ": returned ", rc == 0 ? "0" : ErrnoName(rc),
          no_old ? "" : absl::StrCat(", oldset ", SayMask(SetBits(old))), ", the mask is now ",
          SayMask(SetBits(now)), " (SigBlk ", SayMask(blk), ")"));
    }
    return Verdict::Pass();
  }

  const Param<uint64_t> how_{
      this,
      0,
      "how is %s",
      SIG_SETMASK,
      rc::gen::oneOf(rc::gen::inRange<uint64_t>(0, 3), rc::gen::inRange<uint64_t>(3, 1000)),
      SayHow};
  const Param<uint64_t> mask_{this, 1, "the mask is %s", 0, GenMask(PlaySignals()), SayMask};
  const ChoiceParam<uint64_t> api_{this, 2, "the call is %s", 0, kMaskApis};
  const YesNoParam no_old_{this, 3, "oldset is NULL too: %s", false};
};
IPCSPEC_REGISTER_PROPERTY(MaskQueryProperty, "SIG-MASK-QUERY", {.examples = 25});

class MaskEinvalProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const int how = static_cast<int>(static_cast<uint32_t>(how_.Of(s)));
    const uint64_t set = set_.Of(s) & PlayBits(), mask = mask_.Of(s) & PlayBits(), api = api_.Of(s);
    const sigset_t cur = BitsSet(mask), none = BitsSet(0), sset = BitsSet(set);
    ::pthread_sigmask(SIG_SETMASK, &cur, nullptr);
    int r;
    errno = 1234;
    if (api != 0) {
      r = ::pthread_sigmask(how, &sset, nullptr);
    } else {
      r = ::sigprocmask(how, &sset, nullptr);
    }
    const int err = errno;
    sigset_t now;
    ::pthread_sigmask(SIG_BLOCK, nullptr, &now);
    ::pthread_sigmask(SIG_SETMASK, &none, nullptr);
    const std::string what = absl::StrCat(SayApi(api), "(how ", how, ", ", SayMask(set), ") with ",
                                          SayMask(mask), " blocked");
    const bool ok = api != 0 ? r == EINVAL && err == 1234 : r == -1 && err == EINVAL;
    if (!ok) {
      return Verdict::Fail(absl::StrFormat("%s returned %d with errno %s, expected %s", what, r,
                                           err == 1234 ? "untouched" : ErrnoName(err),
                                           api != 0 ? "EINVAL" : "-1 with EINVAL"));
    }
    if (SetBits(now) != mask) {
      return Verdict::Fail(
          absl::StrCat(what, " failed but the mask is now ", SayMask(SetBits(now))));
    }
    return Verdict::Pass();
  }

  const Param<uint64_t> how_{
      this,
      0,
      "how is %s",
      3,
      rc::gen::oneOf(rc::gen::inRange<uint64_t>(3, 1000), rc::gen::just<uint64_t>(0xffffffffu)),
      SayHow};
  const Param<uint64_t> set_{this, 1, "the set is %s", 0, GenMask(PlaySignals(), true), SayMask};
  const Param<uint64_t> mask_{this, 2, "the mask before is %s", 0, GenMask(PlaySignals()), SayMask};
  const ChoiceParam<uint64_t> api_{this, 3, "the call is %s", 0, kMaskApis};
};
IPCSPEC_REGISTER_PROPERTY(MaskEinvalProperty, "SIG-MASK-EINVAL", {.examples = 25});

class MaskUnblockableProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const uint64_t via = via_.Of(s), extra = extra_.Of(s) & PlayBits() & ~Bit(SIGUSR1);
    const uint64_t asked = extra | Bit(SIGKILL) | Bit(SIGSTOP);
    const sigset_t ask = BitsSet(asked), none = BitsSet(0);
    ::pthread_sigmask(SIG_SETMASK, &none, nullptr);
    uint64_t seen = 0;
    int rc = 0;
    switch (via) {
      case kSigprocmask:
      case kPthreadSigmask: {
        sigset_t old;
        rc = MaskCall(via == kPthreadSigmask, SIG_BLOCK, &ask, nullptr);
        MaskCall(via == kPthreadSigmask, SIG_BLOCK, nullptr, &old);
        seen = SetBits(old) | SigBlk();
        break;
      }
      case kSaMask:
      case kInHandler: {
        ResetDeliveries();
        rc = InstallRecorder(SIGUSR1, 0, ask) == 0 ? 0 : EINVAL;
        struct sigaction q = {};
        ::sigaction(SIGUSR1, nullptr, &q);
        if (via == kSaMask) {
          seen = SetBits(q.sa_mask);
        } else {
          ::raise(SIGUSR1);
          seen = DeliveryCount() == 1 ? Deliveries()[0].mask : ~uint64_t{0};
        }
        SetDisposition(SIGUSR1, SIG_DFL);
        break;
      }
      default: {
        ResetDeliveries();
        InstallRecorder(SIGUSR1, 0, none);
        std::atomic<uint64_t> blk{~uint64_t{0}};
        CancelFlag done;
        const pid_t me = ::getpid();
        sigset_t all_play = BitsSet(PlayBits());
        ::pthread_sigmask(SIG_SETMASK, &all_play, nullptr);
        {
          HelperThread t([&] {
            if (!WaitTaskBlockedIn(me, me, SYS_rt_sigsuspend, CaseDeadline(env), done.fd())) return;
            SigStatus st;
            if (ReadSigStatus(me, me, &st)) blk = st.blk;
            ::tgkill(me, me, SIGUSR1);
          });
          ::sigsuspend(&ask);
          done.Set();
        }
        seen = blk.load();
        SetDisposition(SIGUSR1, SIG_DFL);
        break;
      }
    }
    ::pthread_sigmask(SIG_SETMASK, &none, nullptr);
    if (rc != 0) {
      return Verdict::Fail(absl::StrCat("asking ", via_.Name(via), " to block ", SayMask(asked),
                                        " failed with ", ErrnoName(rc)));
    }
    if ((seen & (Bit(SIGKILL) | Bit(SIGSTOP))) != 0 || (seen & extra) != extra) {
      return Verdict::Fail(absl::StrCat("asking ", via_.Name(via), " to block ", SayMask(asked),
                                        " gave ", SayMask(seen),
                                        "; expected the others without SIGKILL and SIGSTOP"));
    }
    return Verdict::Pass();
  }

  enum Via : uint64_t { kSigprocmask, kPthreadSigmask, kSaMask, kInHandler, kSigsuspend };
  static constexpr std::string_view kVias[] = {
      "sigprocmask(SIG_BLOCK)", "pthread_sigmask(SIG_BLOCK)", "an sa_mask read back by sigaction",
      "an sa_mask in force inside the handler", "the mask of sigsuspend, seen in /proc"};
  const ChoiceParam<uint64_t> via_{this, 0, "SIGKILL and SIGSTOP are put in %s", kSigprocmask,
                                   kVias};
  const Param<uint64_t> extra_{this, 1, "together with %s", 0, GenMask(PlaySignals()), SayMask};
};
IPCSPEC_REGISTER_PROPERTY(MaskUnblockableProperty, "SIG-MASK-UNBLOCKABLE", {.examples = 20});

class MaskAliasProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const uint64_t mask = mask_.Of(s) & PlayBits(), set = set_.Of(s) & PlayBits();
    const uint64_t how = how_.Of(s), api = api_.Of(s);
    const sigset_t cur = BitsSet(mask), none = BitsSet(0);
    ::pthread_sigmask(SIG_SETMASK, &cur, nullptr);
    sigset_t both = BitsSet(set);
    const int rc = MaskCall(api, static_cast<int>(how), &both, &both);
    sigset_t now;
    ::pthread_sigmask(SIG_BLOCK, nullptr, &now);
    ::pthread_sigmask(SIG_SETMASK, &none, nullptr);
    const uint64_t want = Apply(mask, how, set);
    if (rc != 0 || SetBits(now) != want || SetBits(both) != mask) {
      return Verdict::Fail(absl::StrCat(
          SayApi(api), "(", SayHow(how), ", &x, &x) with x = ", SayMask(set), " and ",
          SayMask(mask), " blocked: the mask became ", SayMask(SetBits(now)), " and x ",
          SayMask(SetBits(both)), "; expected ", SayMask(want), " and ", SayMask(mask)));
    }
    return Verdict::Pass();
  }

  const Param<uint64_t> mask_{this, 0, "the mask before is %s", 0, GenMask(PlaySignals()), SayMask};
  const ChoiceParam<uint64_t> how_{this, 1, "how is %s", SIG_BLOCK, kHowNames};
  const Param<uint64_t> set_{
      this,   2, "set and oldset are one object holding %s", 0, GenMask(PlaySignals(), true),
      SayMask};
  const ChoiceParam<uint64_t> api_{this, 3, "the call is %s", 0, kMaskApis};
};
IPCSPEC_REGISTER_PROPERTY(MaskAliasProperty, "SIG-MASK-ALIAS", {.examples = 25});

}  // namespace signal_masks
}  // namespace
}  // namespace ipcspec::props
