// SIG-ACTION-EINVAL and SIG-ACTION-ROUNDTRIP: what sigaction accepts and
// what it gives back.
#include <signal.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "properties/signal/signal_util.h"
#include "properties/support/common.h"
#include "properties/support/proc_util.h"
#include "properties/support/verdicts.h"

namespace ipcspec::props {
namespace {
namespace signal_action_api {

constexpr int kSaRestorer = 0x04000000;

enum Bad : uint64_t { kZero, kNegative, kAboveMax, kFar, kGlibc32, kGlibc33, kKillSet, kStopSet };
constexpr std::string_view kBadSignals[] = {"signal 0",
                                            "a negative signal",
                                            "SIGRTMAX + 1",
                                            "signal 200",
                                            "signal 32 (glibc's own)",
                                            "signal 33 (glibc's own)",
                                            "a handler for SIGKILL",
                                            "SIG_IGN for SIGSTOP"};
int SignalOf(uint64_t v) {
  static constexpr int kSigs[] = {0, -1, 0, 200, 32, 33, SIGKILL, SIGSTOP};
  return v == kAboveMax ? SIGRTMAX + 1 : kSigs[v % 8];
}

void Mark(int) {}

class ActionEinvalProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const uint64_t bad = bad_.Of(s);
    const int sig = SignalOf(bad);
    const bool uncatchable = bad == kKillSet || bad == kStopSet;
    const bool set = set_.Of(s) || uncatchable;
    // A marker action elsewhere must survive the failed call untouched.
    SetDisposition(SIGUSR1, Mark);
    struct sigaction act = {}, old = {}, marker = {};
    act.sa_handler = bad == kStopSet ? SIG_IGN : Mark;
    sigemptyset(&act.sa_mask);
    old.sa_handler = Mark;
    errno = 0;
    const int rc = ::sigaction(sig, set ? &act : nullptr, &old);
    const int err = errno;
    ::sigaction(SIGUSR1, nullptr, &marker);
    struct sigaction query = {};
    const int qrc = uncatchable ? ::sigaction(sig, nullptr, &query) : 0;
    SetDisposition(SIGUSR1, SIG_DFL);
    const std::string what = absl::StrCat(set ? "setting " : "querying ", bad_.Name(bad));
    if (rc != -1 || err != EINVAL) {
      return Verdict::Fail(absl::StrFormat("sigaction %s returned %d (%s), expected -1 with EINVAL",
                                           what, rc, rc == -1 ? ErrnoName(err) : "no error"));
    }
    if (marker.sa_handler != Mark) {
      return Verdict::Fail(
          absl::StrCat("sigaction ", what, " failed but changed SIGUSR1's action"));
    }
    if (uncatchable && (qrc != 0 || query.sa_handler != SIG_DFL)) {
      return Verdict::Fail(absl::StrCat("after ", what, ", querying it gave ",
                                        qrc != 0 ? ErrnoName(errno) : "a handler or SIG_IGN",
                                        ", expected SIG_DFL"));
    }
    return Verdict::Pass();
  }

  const ChoiceParam<uint64_t> bad_{this, 0, "the call names %s", kZero, kBadSignals};
  const YesNoParam set_{this, 1, "it sets an action (else only queries): %s", false};
};
IPCSPEC_REGISTER_PROPERTY(ActionEinvalProperty, "SIG-ACTION-EINVAL", {.examples = 25});

constexpr std::string_view kFlagNames[] = {"SA_NOCLDSTOP", "SA_NOCLDWAIT", "SA_SIGINFO",
                                           "SA_ONSTACK",   "SA_RESTART",   "SA_NODEFER",
                                           "SA_RESETHAND"};
constexpr unsigned kFlags[] = {SA_NOCLDSTOP, SA_NOCLDWAIT, SA_SIGINFO,  SA_ONSTACK,
                               SA_RESTART,   SA_NODEFER,   SA_RESETHAND};
std::string SayFlags(uint64_t v) { return SayBitNames(v, kFlagNames, "no flag"); }
enum Kind : uint64_t { kHandler, kSigactionFn, kIgnore, kDefault };
constexpr std::string_view kKinds[] = {"a handler", "an SA_SIGINFO handler", "SIG_IGN", "SIG_DFL"};
void InfoFn(int, siginfo_t*, void*) {}

std::string Show(const struct sigaction& a) {
  return absl::StrFormat("{handler %p, flags 0x%x, mask %s}", reinterpret_cast<void*>(a.sa_handler),
                         a.sa_flags & ~kSaRestorer, SayMask(SetBits(a.sa_mask)));
}
bool SameAction(const struct sigaction& a, const struct sigaction& b) {
  return a.sa_handler == b.sa_handler &&
         (a.sa_flags & ~kSaRestorer) == (b.sa_flags & ~kSaRestorer) &&
         SetBits(a.sa_mask) == SetBits(b.sa_mask);
}

class ActionRoundtripProperty final : public SignalProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      uint64_t mask = *GenMask(PlaySignals());
      if (*rc::gen::inRange(0, 3) == 0) mask |= Bit(SIGKILL) | Bit(SIGSTOP);
      return std::vector<Step>{kind_.Step(*rc::gen::inRange<uint64_t>(0, std::size(kKinds))),
                               flags_.Step(*rc::gen::inRange<uint64_t>(0, 128)), mask_.Step(mask),
                               signal_.Step(*GenSignal(PlaySignals())),
                               via_signal_.Step(*rc::gen::arbitrary<bool>())};
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const uint64_t kind = kind_.Of(s), mask = mask_.Of(s);
    const int sig = signal_.Of(s);
    struct sigaction a = {};
    if (kind == kSigactionFn) {
      a.sa_sigaction = InfoFn;
    } else {
      a.sa_handler = kind == kIgnore ? SIG_IGN : kind == kDefault ? SIG_DFL : Mark;
    }
    a.sa_flags = BitFlags(flags_.Of(s), kFlags) | (kind == kSigactionFn ? SA_SIGINFO : 0);
    a.sa_mask = BitsSet(mask);
    struct sigaction want = a;
    sigdelset(&want.sa_mask, SIGKILL);
    sigdelset(&want.sa_mask, SIGSTOP);
    const sigset_t block = SetOf({sig});
    sigprocmask(SIG_BLOCK, &block, nullptr);  // nothing may arrive meanwhile
    std::string failure;
    struct sigaction q1 = {}, q2 = {}, old = {}, dfl = {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    if (::sigaction(sig, &a, nullptr) != 0) return Verdict::Broken("sigaction");
    ::sigaction(sig, nullptr, &q1);
    ::sigaction(sig, nullptr, &q2);
    ::sigaction(sig, &dfl, &old);
    const std::string what = absl::StrCat(SignalName(sig), " set to ", kind_.Name(kind), " with ",
                                          SayFlags(flags_.Of(s)), " and sa_mask ", SayMask(mask));
    if (!SameAction(q1, want) || !SameAction(q2, want)) {
      failure = absl::StrCat(what, ": queries read ", Show(q1), " then ", Show(q2), ", expected ",
                             Show(want));
    } else if (!SameAction(old, want)) {
      failure = absl::StrCat(what, ": replacing it returned oldact ", Show(old), ", expected ",
                             Show(want));
    } else if (via_signal_.Of(s)) {
      // signal() installs, sigaction reads it back, and that is installed again.
      struct sigaction back = {}, again = {};
      if (::signal(sig, Mark) != SIG_DFL) {
        failure = "signal() did not return the previous SIG_DFL";
      } else if (::sigaction(sig, nullptr, &back) != 0 || back.sa_handler != Mark ||
                 ::sigaction(sig, &dfl, nullptr) != 0 || ::sigaction(sig, &back, nullptr) != 0 ||
                 ::sigaction(sig, nullptr, &again) != 0 || !SameAction(again, back)) {
        failure = absl::StrCat("an action set with signal() read back as ", Show(back),
                               " and reinstalled as ", Show(again));
      }
    }
    SetDisposition(sig, SIG_DFL);
    DrainPending(block);
    return PassUnless(failure);
  }

  const ChoiceParam<uint64_t> kind_{this, 0, "the action is %s", kHandler, kKinds};
  const Param<uint64_t> flags_{this, 1, "with %s", 0, SayFlags};
  const Param<uint64_t> mask_{this, 2, "and sa_mask %s", 0, SayMask};
  const Param<int> signal_{this, 3, "for %s", SIGUSR1, SaySignal};
  const Param<bool> via_signal_{
      this, 4, "then signal() installs one, read back and reinstalled: %s", false, SayYesNo};
};
IPCSPEC_REGISTER_PROPERTY(ActionRoundtripProperty, "SIG-ACTION-ROUNDTRIP", {.examples = 25});

}  // namespace signal_action_api
}  // namespace
}  // namespace ipcspec::props
