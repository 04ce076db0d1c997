#include "fuzz/fuzz_signal.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "fuzz/fuzz_decode.h"
#include "properties/support/common.h"

namespace ipcspec {
namespace {

// What the handler saw, in order (async-signal-safe: a fixed array).
constexpr int kLog = 4096;
std::array<std::pair<int, uint64_t>, kLog> g_log;
std::atomic<int> g_logged{0};

void Record(int sig, siginfo_t* si, void*) {
  const int i = g_logged.load(std::memory_order_relaxed);
  if (i < kLog) {
    g_log[i] = {sig, reinterpret_cast<uintptr_t>(si->si_value.sival_ptr)};
    g_logged.store(i + 1, std::memory_order_relaxed);
  }
}

bool DefaultIgnores(int sig) { return sig == SIGCHLD || sig == SIGURG || sig == SIGWINCH; }
bool Realtime(int sig) { return sig >= SIGRTMIN && sig <= SIGRTMAX; }

enum class Disp { kDefault, kIgnore, kHandle };

struct SigModel {
  bool known = false;  // one of FuzzSignals()
  bool blocked = true;
  Disp disp = Disp::kDefault;
  std::vector<uint64_t> pending;  // values, oldest first (no allocation while empty)
};

using Events = std::vector<std::pair<int, uint64_t>>;

std::string Say(const Events& es) {
  if (es.empty()) return "nothing";
  std::vector<std::string> parts;
  for (const auto& [sig, v] : es) parts.push_back(absl::StrFormat("%s(%d)", SignalName(sig), v));
  return absl::StrJoin(parts, ", ");
}

sigset_t Ours() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : FuzzSignals()) sigaddset(&set, s);
  return set;
}

}  // namespace

const std::vector<int>& FuzzSignals() {
  static const auto* sigs = new std::vector<int>{
      SIGHUP,       SIGPIPE,      SIGCHLD,      SIGURG,       SIGWINCH,     SIGVTALRM,
      SIGPWR,       SIGSTKFLT,    SIGRTMIN,     SIGRTMIN + 1, SIGRTMIN + 2, SIGRTMIN + 3,
      SIGRTMIN + 5, SIGRTMIN + 8, SIGRTMAX - 1, SIGRTMAX};
  return *sigs;
}

std::string DescribeSignalStep(const Step& s) {
  const std::string sig = SignalName(static_cast<int>(s.size));
  switch (s.op) {
    case Op::kSend:
      return absl::StrFormat("sigqueue(self, %s, %d)", sig, s.arg);
    case Op::kTryRecv:
      return s.size == 0 ? "sigtimedwait(any, 0)" : absl::StrFormat("sigtimedwait({%s}, 0)", sig);
    case Op::kParam:
      switch (s.arg) {
        case kSigBlock:
          return absl::StrCat("block ", sig);
        case kSigUnblock:
          return absl::StrCat("unblock ", sig);
        case kSigIgnore:
          return absl::StrCat("ignore ", sig, " (SIG_IGN)");
        case kSigDefault:
          return absl::StrCat("default action for ", sig, " (SIG_DFL)");
        case kSigHandle:
          return absl::StrCat("handle ", sig);
      }
      break;
    default:
      break;
  }
  return absl::StrCat("(ignored) ", DescribeStep(s));
}

namespace {

// One run of signal steps in this thread, checked step by step against the
// model. Arrays indexed by signal number, so that a run allocates nothing
// while the model is empty (the fuzz target runs thousands a second).
class SignalRun {
 public:
  SignalRun() : ours_(Ours()) {
    // Ascending signal numbers: the order sigtimedwait takes them in.
    for (int s = 1; s < NSIG; ++s) {
      if (std::find(FuzzSignals().begin(), FuzzSignals().end(), s) != FuzzSignals().end()) {
        sorted_.push_back(s);
        model_[s].known = true;
      }
    }
    // Save, then start from: all ours blocked, default action, none pending.
    pthread_sigmask(SIG_BLOCK, &ours_, &old_mask_);
    struct sigaction dfl = {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int s : sorted_) sigaction(s, &dfl, &old_actions_[s]);
    DropPending();
    g_logged.store(0);
  }
  ~SignalRun() {
    // Restore: block, drop whatever pends, old actions, old mask.
    pthread_sigmask(SIG_BLOCK, &ours_, nullptr);
    DropPending();
    for (int s : sorted_) sigaction(s, &old_actions_[s], nullptr);
    pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
  }

  // One step: "" or what went wrong.
  std::string Step(const ::ipcspec::Step& st) {
    const int s = static_cast<int>(st.size);
    const size_t handled_before = expect_handled_.size();
    std::string failure;
    if (st.op == Op::kSend && Known(s)) {
      failure = Send(s, st.arg);
    } else if (st.op == Op::kTryRecv && (s == 0 || Known(s))) {
      failure = Take(s);
    } else if (st.op == Op::kParam && Known(s)) {
      Param(s, st.arg);
    }
    if (failure.empty()) failure = CheckHandlers(handled_before);
    if (failure.empty()) failure = CheckPending();
    return failure;
  }

  // Whatever pends must come out lowest number first, FIFO within one.
  std::string Drain() {
    pthread_sigmask(SIG_BLOCK, &ours_, nullptr);
    siginfo_t si;
    for (int sig : sorted_) {
      for (uint64_t val : model_[sig].pending) {
        const int got = sigtimedwait(&ours_, &si, &kZero);
        const uint64_t gv = reinterpret_cast<uintptr_t>(si.si_value.sival_ptr);
        if (got != sig || gv != val) {
          return absl::StrFormat("expected %s, got %s", Say({{sig, val}}),
                                 got > 0 ? Say({{got, gv}}) : ErrnoName(errno));
        }
      }
    }
    return "";
  }

 private:
  static constexpr struct timespec kZero = {0, 0};

  bool Known(int s) const { return s > 0 && s < NSIG && model_[s].known; }
  // Would delivering `s` now terminate the process?
  bool Fatal(int s) const { return model_[s].disp == Disp::kDefault && !DefaultIgnores(s); }
  // What an unblocked signal gets: a handler call, or nothing.
  void Deliver(int s, uint64_t v) {
    if (model_[s].disp == Disp::kHandle) expect_handled_.push_back({s, v});
  }
  void DropPending() {
    siginfo_t si;
    while (sigtimedwait(&ours_, &si, &kZero) > 0) {
    }
  }

  std::string Send(int s, uint64_t value) {
    SigModel& m = model_[s];
    if (!m.blocked && Fatal(s)) return "";  // skipped: it would terminate the process
    if (m.blocked) {
      if (Realtime(s) || m.pending.empty()) m.pending.push_back(value);
    } else {
      Deliver(s, value);
    }
    sigval val;
    val.sival_ptr = reinterpret_cast<void*>(static_cast<uintptr_t>(value));
    if (int rc = pthread_sigqueue(pthread_self(), s, val); rc != 0) {
      return absl::StrCat("pthread_sigqueue: ", ErrnoName(rc));
    }
    return "";
  }

  // sigtimedwait for `s` (0: any of ours) without waiting.
  std::string Take(int s) {
    sigset_t set;
    sigemptyset(&set);
    if (s == 0) {
      set = ours_;
    } else {
      sigaddset(&set, s);
    }
    // The model: the lowest pending signal of the set (pending implies blocked).
    Events want;
    for (int sig : sorted_) {
      SigModel& m = model_[sig];
      if ((s == 0 || sig == s) && !m.pending.empty()) {
        want.push_back({sig, m.pending.front()});
        m.pending.erase(m.pending.begin());
        break;
      }
    }
    siginfo_t si;
    const int got = sigtimedwait(&set, &si, &kZero);
    Events took;
    if (got > 0) took.push_back({got, reinterpret_cast<uintptr_t>(si.si_value.sival_ptr)});
    if (took == want) return "";
    return absl::StrFormat("sigtimedwait: expected %s, got %s", Say(want),
                           got > 0 ? Say(took) : ErrnoName(errno));
  }

  void Param(int s, uint64_t op) {
    SigModel& m = model_[s];
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, s);
    struct sigaction act = {};
    sigemptyset(&act.sa_mask);
    switch (op) {
      case kSigBlock:
        m.blocked = true;
        pthread_sigmask(SIG_BLOCK, &one, nullptr);
        break;
      case kSigUnblock:
        if (!m.pending.empty() && Fatal(s)) break;  // skipped: would terminate
        m.blocked = false;
        for (uint64_t v : m.pending) Deliver(s, v);
        m.pending.clear();
        pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
        break;
      case kSigIgnore:
      case kSigDefault:
        m.disp = op == kSigIgnore ? Disp::kIgnore : Disp::kDefault;
        // POSIX: SIG_IGN, or SIG_DFL where the default is to ignore,
        // discards what is pending, blocked or not.
        if (m.disp == Disp::kIgnore || DefaultIgnores(s)) m.pending.clear();
        act.sa_handler = m.disp == Disp::kIgnore ? SIG_IGN : SIG_DFL;
        sigaction(s, &act, nullptr);
        break;
      case kSigHandle:
        m.disp = Disp::kHandle;
        act.sa_sigaction = Record;
        act.sa_flags = SA_SIGINFO | SA_RESTART;
        sigaction(s, &act, nullptr);
        break;
      default:
        break;
    }
  }

  // The handler invocations since the step began.
  std::string CheckHandlers(size_t handled_before) const {
    const size_t n = static_cast<size_t>(g_logged.load());
    if (n == expect_handled_.size() &&
        std::equal(expect_handled_.begin(), expect_handled_.end(), g_log.begin())) {
      return "";
    }
    const Events want(expect_handled_.begin() + handled_before, expect_handled_.end());
    const Events got(g_log.begin() + std::min(n, handled_before), g_log.begin() + n);
    return absl::StrFormat("handlers: expected %s, got %s", Say(want), Say(got));
  }

  std::string CheckPending() const {
    sigset_t pending;
    sigpending(&pending);
    for (int sig : sorted_) {
      const SigModel& m = model_[sig];
      if ((sigismember(&pending, sig) == 1) != !m.pending.empty()) {
        return absl::StrFormat("sigpending: %s is %spending; the model says %s", SignalName(sig),
                               m.pending.empty() ? "" : "not ",
                               m.pending.empty() ? "not pending" : "pending");
      }
    }
    return "";
  }

  const sigset_t ours_;
  sigset_t old_mask_;
  std::array<struct sigaction, NSIG> old_actions_;
  std::array<SigModel, NSIG> model_;
  std::vector<int> sorted_;
  Events expect_handled_;
};

}  // namespace

Verdict ExecuteSignalSteps(const std::vector<Step>& steps) {
  SignalRun run;
  for (size_t i = 0; i < steps.size(); ++i) {
    if (std::string failure = run.Step(steps[i]); !failure.empty()) {
      return Verdict::Fail(
          absl::StrFormat("step %d: %s: %s", i + 1, DescribeSignalStep(steps[i]), failure));
    }
  }
  if (std::string failure = run.Drain(); !failure.empty()) {
    return Verdict::Fail(absl::StrFormat("after step %d, draining: %s", steps.size(), failure));
  }
  return Verdict::Pass();
}

namespace props {
namespace {

class SignalFuzzProperty final : public NamedProperty {
  Applicability AppliesTo(const Transport& t) const override {
    return Needs(t.name() == "signal", "SIG-FUZZ checks the process's own signals: signal only");
  }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::map(
        rc::gen::resize(60, rc::gen::container<std::string>(rc::gen::arbitrary<char>())),
        [](const std::string& bytes) {
          absl::StatusOr<Scenario> s = DecodeFuzzInput("signal", bytes);
          return s.ok() ? s->steps : std::vector<Step>{};
        });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    return ExecuteSignalSteps(s.steps);
  }
  std::string DescribeStep(const Step& s) const override { return DescribeSignalStep(s); }
};
IPCSPEC_REGISTER_PROPERTY(SignalFuzzProperty, "SIG-FUZZ");

}  // namespace
}  // namespace props
}  // namespace ipcspec
