// SIG-RESETHAND-INFO, SIG-ONSTACK, SIG-ALTSTACK-ERRORS, SIG-SELF-SYNC and
// SIG-COALESCE-INFO: details of one delivery, seen from inside the handler
// (the recorder notes its siginfo, its mask, its stack and sigaltstack's
// flags). Signals sent to the calling thread with nothing else eligible are
// delivered before the send returns, so none of these waits.
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "properties/signal/signal_proc.h"
#include "properties/signal/signal_util.h"
#include "properties/support/common.h"
#include "properties/support/proc_util.h"

namespace ipcspec::props {
namespace {
namespace signal_delivery {

// What sigaction() said inside the handler.
struct sigaction g_inside;
int g_inside_rc = -1;
void QueryInside(int sig, int depth) {
  if (depth == 1) g_inside_rc = ::sigaction(sig, nullptr, &g_inside);
}

constexpr std::string_view kExtraNames[] = {"SA_NODEFER", "SA_RESTART", "SA_ONSTACK"};
constexpr unsigned kExtraFlags[] = {SA_NODEFER, SA_RESTART, SA_ONSTACK};
std::string SayExtra(uint64_t v) { return SayBitNames(v, kExtraNames, "no other flag"); }

class ResethandInfoProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const uint64_t extra = extra_.Of(s), method = method_.Of(s);
    const uint64_t mask = mask_.Of(s) & PlayBits();
    const int sig = signal_.Of(s), value = value_.Of(s);
    ResetDeliveries();
    g_inside_rc = -1;
    if (InstallRecorder(sig, SA_RESETHAND | BitFlags(extra, kExtraFlags), BitsSet(mask)) != 0) {
      return Verdict::Broken("sigaction");
    }
    SetHandlerHook(QueryInside);
    const sigset_t one = SetOf({sig});
    sigprocmask(SIG_UNBLOCK, &one, nullptr);
    const int rc = SendSelf(static_cast<int>(method), sig, value);
    SetHandlerHook(nullptr);
    struct sigaction after = {};
    ::sigaction(sig, nullptr, &after);
    SetDisposition(sig, SIG_DFL);
    if (rc != 0) return Verdict::Broken(absl::StrCat(SayMethod(method), ": ", Errno(rc)));
    const std::string what =
        absl::StrCat(SignalName(sig), " with SA_RESETHAND | SA_SIGINFO | ", SayExtra(extra),
                     ", sa_mask ", SayMask(mask), ", sent with ", SayMethod(method));
    if (DeliveryCount() != 1) {
      return Verdict::Fail(absl::StrCat(what, ": the handler ran ", DeliveryCount(), " times"));
    }
    const Delivery d = Deliveries()[0];
    if (d.code != CodeOf(static_cast<int>(method)) || d.pid != ::getpid() ||
        (method == kBySigqueue && d.value != value)) {
      return Verdict::Fail(absl::StrFormat("%s: the handler saw si_code %d si_pid %d value %d",
                                           what, d.code, d.pid, d.value));
    }
    const bool want_blocked = (extra & 1) == 0 || (mask & Bit(sig)) != 0;
    if (d.self_blocked != want_blocked) {
      return Verdict::Fail(absl::StrCat(what, ": inside its handler the signal was ",
                                        d.self_blocked ? "blocked" : "not blocked"));
    }
    for (const struct sigaction* q : {&g_inside, &after}) {
      const bool kept = (q->sa_flags & (SA_SIGINFO | SA_RESETHAND)) == (SA_SIGINFO | SA_RESETHAND);
      if (g_inside_rc != 0 || q->sa_handler != SIG_DFL || !kept) {
        return Verdict::Fail(absl::StrFormat(
            "%s: sigaction %s the handler says %s with sa_flags 0x%x; expected SIG_DFL with "
            "SA_SIGINFO | SA_RESETHAND kept",
            what, q == &g_inside ? "inside" : "after",
            q->sa_handler == SIG_DFL ? "SIG_DFL" : "a handler", q->sa_flags));
      }
    }
    return Verdict::Pass();
  }

  const Param<uint64_t> extra_{
      this, 0, "the other flags are %s", 0, rc::gen::inRange<uint64_t>(0, 8), SayExtra};
  const Param<uint64_t> mask_{this, 1, "sa_mask is %s", 0, GenMask(PlaySignals()), SayMask};
  const ChoiceParam<uint64_t> method_{this, 2, "it is sent with %s", kByKill, kMethodNames};
  const Param<int> signal_{this,     3, "the signal is %s", SIGUSR1, GenSignal(PlaySignals()),
                           SaySignal};
  const Param<int> value_{this, 4, "the sigqueue value is %s", 7, rc::gen::inRange(0, 1 << 20)};
};
IPCSPEC_REGISTER_PROPERTY(ResethandInfoProperty, "SIG-RESETHAND-INFO", {.examples = 25});

// An alternate stack in an anonymous mapping; the old stack is restored and
// the mapping removed on destruction.
class ScopedAltStack {
 public:
  explicit ScopedAltStack(size_t size) : size_(size) {
    ::sigaltstack(nullptr, &old_);
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    sp_ = p == MAP_FAILED ? nullptr : static_cast<char*>(p);
  }
  ~ScopedAltStack() {
    ::sigaltstack(&old_, nullptr);
    if (sp_ != nullptr) ::munmap(sp_, size_);
  }
  bool ok() const { return sp_ != nullptr; }
  // Installs it (enabled) or SS_DISABLE. Returns 0 or -errno.
  int Install(bool enabled) const {
    const stack_t ss = enabled ? stack_t{sp_, 0, size_} : stack_t{nullptr, SS_DISABLE, 0};
    return ::sigaltstack(&ss, nullptr) == 0 ? 0 : -errno;
  }
  bool Contains(uintptr_t p) const {
    return p >= reinterpret_cast<uintptr_t>(sp_) && p < reinterpret_cast<uintptr_t>(sp_) + size_;
  }
  char* sp() const { return sp_; }

 private:
  size_t size_;
  char* sp_;
  stack_t old_;
};

int g_nested_sig = 0;
void RaiseNested(int, int depth) {
  if (depth == 1 && g_nested_sig != 0) ::raise(g_nested_sig);
}

class OnstackProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const bool onstack = onstack_.Of(s), disabled = disabled_.Of(s), nested = nested_.Of(s);
    const int sig = signal_.Of(s);
    const int other = sig == SIGUSR2 ? SIGUSR1 : SIGUSR2;
    ScopedAltStack stack(static_cast<size_t>(size_.Of(s)));
    if (!stack.ok() || stack.Install(!disabled) != 0) return Verdict::Broken("sigaltstack");
    ResetDeliveries();
    const sigset_t none = BitsSet(0);
    const int flags = onstack ? SA_ONSTACK : 0;
    if (InstallRecorder(sig, flags, none) != 0 || InstallRecorder(other, flags, none) != 0) {
      return Verdict::Broken("sigaction");
    }
    g_nested_sig = nested ? other : 0;
    SetHandlerHook(RaiseNested);
    const sigset_t both = SetOf({sig, other});
    sigprocmask(SIG_UNBLOCK, &both, nullptr);
    ::raise(sig);
    SetHandlerHook(nullptr);
    SetDisposition(sig, SIG_DFL);
    SetDisposition(other, SIG_DFL);
    const bool want = onstack && !disabled;
    const std::string what = absl::StrCat(SignalName(sig), onstack ? " with" : " without",
                                          " SA_ONSTACK, the "
                                          "alternate stack ",
                                          disabled ? "disabled" : "enabled");
    if (DeliveryCount() != (nested ? 2 : 1)) {
      return Verdict::Fail(absl::StrCat(what, ": ", DeliveryCount(), " deliveries"));
    }
    for (const Delivery& d : Deliveries()) {
      const bool on = stack.Contains(d.sp), flagged = (d.ss_flags & SS_ONSTACK) != 0;
      if (on != want || flagged != want) {
        return Verdict::Fail(absl::StrCat(
            what, ": the handler of ", SignalName(d.signo), d.depth > 1 ? " (nested)" : "", " ran ",
            on ? "on" : "off", " the alternate stack with sigaltstack saying ",
            flagged ? "SS_ONSTACK" : "not SS_ONSTACK", "; expected ", want ? "on it" : "off it"));
      }
    }
    return Verdict::Pass();
  }

  const Param<int> size_{this, 0, "the alternate stack has %s", 32768, GenStackBytes(8), SayBytes};
  const YesNoParam onstack_{this, 1, "the handler has SA_ONSTACK: %s", true};
  const YesNoParam disabled_{this, 2, "the stack is disabled (SS_DISABLE): %s", false};
  const YesNoParam nested_{this, 3, "the handler raises a second signal: %s", false};
  const Param<int> signal_{this,     4, "the signal is %s", SIGUSR1, GenSignal(PlaySignals()),
                           SaySignal};
};
IPCSPEC_REGISTER_PROPERTY(OnstackProperty, "SIG-ONSTACK", {.examples = 25});

enum AltError : uint64_t { kChangeOnStack, kDisableOnStack, kTooSmall, kBadFlags };
constexpr std::string_view kAltErrors[] = {"replacing the stack from a handler running on it",
                                           "disabling the stack from a handler running on it",
                                           "a stack smaller than 2048 bytes",
                                           "an unknown ss_flags value"};

// Inside the handler on the alternate stack: the call under test.
const ScopedAltStack* g_alt = nullptr;
uint64_t g_alt_error = 0;
int g_alt_rc = 0, g_alt_errno = 0;
stack_t g_alt_after;
void ChangeWhileOnStack(int, int depth) {
  if (depth != 1) return;
  const stack_t ss = g_alt_error == kDisableOnStack ? stack_t{nullptr, SS_DISABLE, 0}
                                                    : stack_t{g_alt->sp(), 0, 16384};
  g_alt_rc = ::sigaltstack(&ss, nullptr);
  g_alt_errno = errno;
  ::sigaltstack(nullptr, &g_alt_after);
}

class AltstackErrorsProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const uint64_t error = error_.Of(s);
    ScopedAltStack stack(65536);
    if (!stack.ok() || stack.Install(true) != 0) return Verdict::Broken("sigaltstack");
    stack_t before = {}, after = {};
    ::sigaltstack(nullptr, &before);
    int rc = 0, err = 0, want = EINVAL;
    if (error == kChangeOnStack || error == kDisableOnStack) {
      ResetDeliveries();
      g_alt = &stack;
      g_alt_error = error;
      g_alt_rc = 0;
      if (InstallRecorder(SIGUSR1, SA_ONSTACK) != 0) return Verdict::Broken("sigaction");
      SetHandlerHook(ChangeWhileOnStack);
      const sigset_t one = SetOf({SIGUSR1});
      sigprocmask(SIG_UNBLOCK, &one, nullptr);
      ::raise(SIGUSR1);
      SetHandlerHook(nullptr);
      SetDisposition(SIGUSR1, SIG_DFL);
      rc = g_alt_rc;
      err = g_alt_errno;
      after = g_alt_after;
      after.ss_flags &= ~SS_ONSTACK;
      want = EPERM;
    } else {
      const stack_t ss = error == kTooSmall
                             ? stack_t{stack.sp(), 0, static_cast<size_t>(size_.Of(s))}
                             : stack_t{stack.sp(), flags_.Of(s), 16384};
      rc = ::sigaltstack(&ss, nullptr);
      err = errno;
      ::sigaltstack(nullptr, &after);
      want = error == kTooSmall ? ENOMEM : EINVAL;
    }
    const std::string what = error == kTooSmall ? absl::StrCat("a stack of ", size_.Of(s), " bytes")
                             : error == kBadFlags ? absl::StrCat("ss_flags ", flags_.Of(s))
                                                  : error_.Name(error);
    if (rc != -1 || err != want) {
      return Verdict::Fail(
          absl::StrFormat("sigaltstack with %s returned %d (%s), expected -1 with %s", what, rc,
                          rc == -1 ? ErrnoName(err) : "no error", ErrnoName(want)));
    }
    if (after.ss_sp != before.ss_sp || after.ss_size != before.ss_size ||
        after.ss_flags != before.ss_flags) {
      return Verdict::Fail(absl::StrFormat(
          "sigaltstack with %s failed but changed the stack from %p (%d bytes, flags %d) to %p "
          "(%d bytes, flags %d)",
          what, before.ss_sp, before.ss_size, before.ss_flags, after.ss_sp, after.ss_size,
          after.ss_flags));
    }
    return Verdict::Pass();
  }

  const ChoiceParam<uint64_t> error_{this, 0, "the call is %s", kTooSmall, kAltErrors};
  const Param<int> size_{this,    1, "a small stack has %s", 1024, rc::gen::inRange(0, 2048),
                         SayBytes};
  const Param<int> flags_{this, 2, "unknown ss_flags are %s", 4,
                          rc::gen::element<int>(4, 8, 16, 256)};
};
IPCSPEC_REGISTER_PROPERTY(AltstackErrorsProperty, "SIG-ALTSTACK-ERRORS", {.examples = 20});

class SelfSyncProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const uint64_t method = method_.Of(s);
    const int sig = signal_.Of(s), value = value_.Of(s);
    ResetDeliveries();
    if (InstallRecorder(sig) != 0) return Verdict::Broken("sigaction");
    const sigset_t one = SetOf({sig});
    sigprocmask(SIG_UNBLOCK, &one, nullptr);
    const int rc = SendSelf(static_cast<int>(method), sig, value);
    const int seen = DeliveryCount();
    sigprocmask(SIG_BLOCK, &one, nullptr);
    DrainPending(one);
    SetDisposition(sig, SIG_DFL);
    if (rc != 0) return Verdict::Broken(absl::StrCat(SayMethod(method), ": ", Errno(rc)));
    if (seen != 1) {
      return Verdict::Fail(absl::StrCat(SayMethod(method), "(self, ", SignalName(sig),
                                        ") returned with its handler run ", seen,
                                        " times, expected once"));
    }
    return Verdict::Pass();
  }

  const ChoiceParam<uint64_t> method_{this, 0, "it is sent with %s", kByKill, kMethodNames};
  const Param<int> signal_{this,     1, "the signal is %s", SIGUSR1, GenSignal(PlaySignals()),
                           SaySignal};
  const Param<int> value_{this, 2, "the sigqueue value is %s", 7, rc::gen::inRange(0, 1 << 20)};
};
IPCSPEC_REGISTER_PROPERTY(SelfSyncProperty, "SIG-SELF-SYNC", {.examples = 25});

class CoalesceInfoProperty final : public SignalProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([] {
      const int sig = *GenSignal(StandardSignals());
      std::vector<Step> steps;
      const int n = *rc::gen::inRange(2, 6);
      for (int i = 0; i < n; ++i) steps.push_back(*GenSendStep({sig}, {kByKill, kBySigqueue}));
      return steps;
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const std::vector<SelfSend> sends = SelfSendsOf(s);
    if (sends.empty()) return Verdict::Pass();
    const int sig = sends[0].sig;
    const sigset_t one = SetOf({sig});
    sigprocmask(SIG_BLOCK, &one, nullptr);
    for (const SelfSend& m : sends) {
      if (int rc = SendSelf(m.method, m.sig, m.value); rc != 0) {
        return Verdict::Broken(absl::StrCat(SayMethod(m.method), ": ", Errno(rc)));
      }
    }
    siginfo_t si = {};
    const int r = ::sigwaitinfo(&one, &si);
    const int more = DrainPending(one);
    const SelfSend& first = sends[0];
    if (r != sig || si.si_code != CodeOf(first.method) || si.si_pid != ::getpid() ||
        (first.method == kBySigqueue && si.si_value.sival_int != first.value) || more != 0) {
      return Verdict::Fail(absl::StrFormat(
          "%s sent %d times while blocked: the pending instance has si_code %d value %d (and %d "
          "more were pending); expected the first send's, %s with code %d value %d",
          SignalName(sig), sends.size(), si.si_code, si.si_value.sival_int, more,
          SayMethod(first.method), CodeOf(first.method), first.value));
    }
    return Verdict::Pass();
  }
};
IPCSPEC_REGISTER_PROPERTY(CoalesceInfoProperty, "SIG-COALESCE-INFO", {.examples = 25});

}  // namespace signal_delivery
}  // namespace
}  // namespace ipcspec::props
