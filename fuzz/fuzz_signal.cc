#include "fuzz/fuzz_signal.h"

#include <pthread.h>
#include <signal.h>

#include <array>
#include <atomic>
#include <deque>
#include <map>

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
  bool blocked = true;
  Disp disp = Disp::kDefault;
  std::deque<uint64_t> pending;
};

std::string Events(const std::vector<std::pair<int, uint64_t>>& es) {
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

Verdict ExecuteSignalSteps(const std::vector<Step>& steps) {
  const std::vector<int>& sigs = FuzzSignals();
  const sigset_t ours = Ours();
  // Save, then start from: all ours blocked, default action, none pending.
  sigset_t old_mask;
  pthread_sigmask(SIG_BLOCK, &ours, &old_mask);
  std::map<int, struct sigaction> old_actions;
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int s : sigs) sigaction(s, &dfl, &old_actions[s]);
  struct timespec zero = {0, 0};
  siginfo_t si;
  while (sigtimedwait(&ours, &si, &zero) > 0) {
  }
  g_logged.store(0);

  std::map<int, SigModel> model;
  for (int s : sigs) model[s];
  std::vector<std::pair<int, uint64_t>> expect_handled;
  auto known = [&](int s) { return model.count(s) != 0; };
  // Delivers what an unblocked signal gets: a handler call, or nothing.
  auto deliver = [&](int s, uint64_t v) {
    if (model[s].disp == Disp::kHandle) expect_handled.push_back({s, v});
  };
  // Would delivering `s` now terminate the process?
  auto fatal = [&](int s) { return model[s].disp == Disp::kDefault && !DefaultIgnores(s); };

  std::string failure;
  size_t i = 0;
  for (; i < steps.size() && failure.empty(); ++i) {
    const Step& st = steps[i];
    const int s = static_cast<int>(st.size);
    const std::vector<std::pair<int, uint64_t>> handled_before = expect_handled;
    std::vector<std::pair<int, uint64_t>> took, want_took;
    if (st.op == Op::kSend && known(s)) {
      SigModel& m = model[s];
      if (!m.blocked && fatal(s)) {
        // Skipped: it would terminate the process.
      } else {
        if (m.blocked) {
          if (Realtime(s) || m.pending.empty()) m.pending.push_back(st.arg);
        } else {
          deliver(s, st.arg);
        }
        sigval val;
        val.sival_ptr = reinterpret_cast<void*>(static_cast<uintptr_t>(st.arg));
        if (int rc = pthread_sigqueue(pthread_self(), s, val); rc != 0) {
          failure = absl::StrCat("pthread_sigqueue: ", ErrnoName(rc));
        }
      }
    } else if (st.op == Op::kTryRecv && (s == 0 || known(s))) {
      sigset_t set;
      sigemptyset(&set);
      if (s == 0) {
        set = ours;
      } else {
        sigaddset(&set, s);
      }
      // The model: lowest pending signal of the set (pending implies blocked).
      int lowest = 0;
      for (const auto& [sig, m] : model) {
        if ((s == 0 || sig == s) && !m.pending.empty()) {
          lowest = sig;
          break;  // std::map: ascending signal numbers
        }
      }
      if (lowest != 0) {
        want_took.push_back({lowest, model[lowest].pending.front()});
        model[lowest].pending.pop_front();
      }
      const int got = sigtimedwait(&set, &si, &zero);
      if (got > 0) took.push_back({got, reinterpret_cast<uintptr_t>(si.si_value.sival_ptr)});
      if (took != want_took) {
        failure = absl::StrFormat("sigtimedwait: expected %s, got %s", Events(want_took),
                                  got > 0 ? Events(took) : ErrnoName(errno));
      }
    } else if (st.op == Op::kParam && known(s)) {
      SigModel& m = model[s];
      sigset_t one;
      sigemptyset(&one);
      sigaddset(&one, s);
      struct sigaction act = {};
      sigemptyset(&act.sa_mask);
      switch (st.arg) {
        case kSigBlock:
          m.blocked = true;
          pthread_sigmask(SIG_BLOCK, &one, nullptr);
          break;
        case kSigUnblock:
          if (!m.pending.empty() && fatal(s)) break;  // skipped: would terminate
          m.blocked = false;
          for (uint64_t v : m.pending) deliver(s, v);
          m.pending.clear();
          pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
          break;
        case kSigIgnore:
        case kSigDefault:
          m.disp = st.arg == kSigIgnore ? Disp::kIgnore : Disp::kDefault;
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
    if (!failure.empty()) break;
    // Handler invocations since the last step.
    std::vector<std::pair<int, uint64_t>> seen(g_log.begin(), g_log.begin() + g_logged.load());
    if (seen != expect_handled) {
      std::vector<std::pair<int, uint64_t>> want(expect_handled.begin() + handled_before.size(),
                                                 expect_handled.end());
      std::vector<std::pair<int, uint64_t>> got(
          seen.begin() + std::min(seen.size(), handled_before.size()), seen.end());
      failure = absl::StrFormat("handlers: expected %s, got %s", Events(want), Events(got));
      break;
    }
    sigset_t pending;
    sigpending(&pending);
    for (const auto& [sig, m] : model) {
      if ((sigismember(&pending, sig) == 1) != !m.pending.empty()) {
        failure = absl::StrFormat("sigpending: %s is %spending; the model says %s", SignalName(sig),
                                  m.pending.empty() ? "" : "not ",
                                  m.pending.empty() ? "not pending" : "pending");
        break;
      }
    }
    if (!failure.empty()) break;
  }
  Verdict v;
  if (!failure.empty()) {
    v = Verdict::Fail(
        absl::StrFormat("step %d: %s: %s", i + 1, DescribeSignalStep(steps[i]), failure));
  } else {
    // Whatever pends must come out lowest number first, FIFO within one.
    pthread_sigmask(SIG_BLOCK, &ours, nullptr);
    for (const auto& [sig, m] : model) {
      for (uint64_t val : m.pending) {
        const int got = sigtimedwait(&ours, &si, &zero);
        const uint64_t gv = reinterpret_cast<uintptr_t>(si.si_value.sival_ptr);
        if (got != sig || gv != val) {
          v = Verdict::Fail(absl::StrFormat("after step %d, draining: expected %s, got %s",
                                            steps.size(), Events({{sig, val}}),
                                            got > 0 ? Events({{got, gv}}) : ErrnoName(errno)));
          break;
        }
      }
      if (!v.ok()) break;
    }
  }
  // Restore: block, drop whatever pends, old actions, old mask.
  pthread_sigmask(SIG_BLOCK, &ours, nullptr);
  while (sigtimedwait(&ours, &si, &zero) > 0) {
  }
  for (auto& [s, act] : old_actions) sigaction(s, &act, nullptr);
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  return v;
}

namespace props {
namespace {

class SignalFuzzProperty : public NamedProperty {
 public:
  SignalFuzzProperty()
      : NamedProperty("SIG-FUZZ",
                      "masks, dispositions, sigqueue to self and sigtimedwait agree step by step "
                      "with the signal model (standard signals coalesce, realtime ones queue in "
                      "order, lowest first); the model of the fuzz_signal target",
                      "signal(7), sigprocmask(2), sigaction(2) (SIG_IGN discards pending), "
                      "sigqueue(3), sigtimedwait(2); POSIX XSH 2.4") {}
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
IPCSPEC_REGISTER_PROPERTY(SignalFuzzProperty);

}  // namespace
}  // namespace props
}  // namespace ipcspec
