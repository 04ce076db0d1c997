// SIG-MODEL: generated signal sequences (which signals, how often, blocked or
// not, in what order, with which dispositions, collected by handlers or by
// sigtimedwait) performed on the case process and compared, after every
// step, with a small model of the kernel's signal contract:
//
//   - a signal sent while unblocked and handled is delivered before the send
//     returns; unblocked and ignored, it is discarded;
//   - blocked, it is pending (even when ignored); a standard signal pends at
//     most once (later instances are dropped: Linux keeps the first si_value),
//     a realtime one queues every instance;
//   - unblocking delivers what is pending for that signal before sigprocmask
//     returns (FIFO for a realtime one) unless it is ignored (discarded);
//   - setting SIG_IGN discards what is pending for that signal;
//   - draining with sigtimedwait takes pending signals lowest number first,
//     FIFO within a number.
//
// Handlers block every played signal (sa_mask), so two unblocked at once
// would run one after another, never nested.
//
// Steps (the op is carried by the Step's op field):
//   kSend     actor = slot, size = value   sigqueue(self, signal of slot, value)
//   kOpen     actor = slot                 block the slot's signal
//   kClose    actor = slot                 unblock it
//   kPriority actor = slot, size = 0 | 1   handle it | ignore it
//   kTryRecv                               drain every blocked signal with sigtimedwait
// Parameter 0, if present, replaces the signal of slot 2 (a realtime slot in
// the model): with a standard signal there the property must fail (tests).
#include <signal.h>
#include <unistd.h>

#include <array>
#include <deque>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "properties/signal/signal_util.h"
#include "properties/support/common.h"
#include "properties/support/proc_util.h"

namespace ipcspec::props {
namespace {
namespace signal_model {

constexpr int kSlots = 5;

// What was seen: handler or sigtimedwait, signal, value.
struct Event {
  bool waited;
  int sig;
  int value;
  bool operator==(const Event&) const = default;
};
std::string Show(const Event& e) {
  return absl::StrFormat("%s %s(%d)", e.waited ? "took" : "handled", Sig(e.sig), e.value);
}
std::string Show(const std::vector<Event>& es, size_t from) {
  std::vector<std::string> parts;
  for (size_t i = from; i < es.size(); ++i) parts.push_back(Show(es[i]));
  return parts.empty() ? "nothing" : absl::StrJoin(parts, ", ");
}

class Model {
 public:
  explicit Model(std::array<int, kSlots> sigs, std::array<bool, kSlots> realtime)
      : sigs_(sigs), realtime_(realtime) {}

  void Send(int slot, int value) {
    Slot& s = slots_[slot];
    if (!s.blocked) {
      if (!s.ignored) events_.push_back({false, sigs_[slot], value});
      return;
    }
    if (realtime_[slot] || s.queue.empty()) s.queue.push_back(value);
  }
  void Block(int slot) { slots_[slot].blocked = true; }
  void Unblock(int slot) {
    Slot& s = slots_[slot];
    s.blocked = false;
    for (int v : s.queue) {
      if (!s.ignored) events_.push_back({false, sigs_[slot], v});
    }
    s.queue.clear();
  }
  void Dispose(int slot, bool ignore) {
    slots_[slot].ignored = ignore;
    if (ignore) slots_[slot].queue.clear();
  }
  void Drain() {
    std::array<int, kSlots> order = {0, 1, 2, 3, 4};
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return sigs_[a] < sigs_[b]; });
    for (int slot : order) {
      Slot& s = slots_[slot];
      if (!s.blocked) continue;
      for (int v : s.queue) events_.push_back({true, sigs_[slot], v});
      s.queue.clear();
    }
  }
  bool Pending(int slot) const { return !slots_[slot].queue.empty(); }
  const std::vector<Event>& events() const { return events_; }

 private:
  struct Slot {
    bool blocked = false;
    bool ignored = false;
    std::deque<int> queue;
  };
  std::array<int, kSlots> sigs_;
  std::array<bool, kSlots> realtime_;
  std::array<Slot, kSlots> slots_;
  std::vector<Event> events_;
};

std::string Describe(const Step& st, const std::array<int, kSlots>& sigs) {
  const int sig = st.actor < kSlots ? sigs[st.actor] : 0;
  switch (st.op) {
    case Op::kSend:
      return absl::StrFormat("sigqueue(self, %s, %d)", Sig(sig), st.size);
    case Op::kOpen:
      return absl::StrCat("block ", Sig(sig));
    case Op::kClose:
      return absl::StrCat("unblock ", Sig(sig));
    case Op::kPriority:
      return absl::StrCat(st.size ? "ignore " : "handle ", Sig(sig));
    case Op::kTryRecv:
      return "sigtimedwait every blocked signal";
    default:
      return "";
  }
}

// Does step `st` on this process and on the model; sigtimedwait's takings
// go to `seen`. Returns what went wrong with the calls, or "".
std::string Perform(const Step& st, const std::array<int, kSlots>& sigs, const sigset_t& all,
                    Model* model, std::array<bool, kSlots>* blocked, std::vector<Event>* seen) {
  const int slot = static_cast<int>(st.actor);
  const int sig = sigs[slot];
  switch (st.op) {
    case Op::kSend:
      model->Send(slot, static_cast<int>(st.size));
      if (::sigqueue(::getpid(), sig, sigval{.sival_int = static_cast<int>(st.size)}) != 0) {
        return absl::StrCat("sigqueue: ", ErrnoName(errno));
      }
      return "";
    case Op::kOpen:
    case Op::kClose: {
      const bool block = st.op == Op::kOpen;
      block ? model->Block(slot) : model->Unblock(slot);
      (*blocked)[slot] = block;
      sigset_t one = SetOf({sig});
      sigprocmask(block ? SIG_BLOCK : SIG_UNBLOCK, &one, nullptr);
      return "";
    }
    case Op::kPriority:
      model->Dispose(slot, st.size != 0);
      if (st.size != 0) {
        SetDisposition(sig, SIG_IGN);
      } else {
        InstallRecorder(sig, 0, all);
      }
      return "";
    case Op::kTryRecv: {
      model->Drain();
      std::vector<int> b;
      for (int i = 0; i < kSlots; ++i) {
        if ((*blocked)[i]) b.push_back(sigs[i]);
      }
      const sigset_t set = SetOf(b);
      siginfo_t si;
      struct timespec zero = {0, 0};
      while (!b.empty() && ::sigtimedwait(&set, &si, &zero) > 0) {
        seen->push_back({true, si.si_signo, si.si_value.sival_int});
      }
      return "";
    }
    default:
      return "";
  }
}

std::array<int, kSlots> DefaultSignals() {
  return {SIGUSR1, SIGUSR2, SIGRTMIN, SIGRTMIN + 1, SIGRTMIN + 3};
}

class SignalModelProperty final : public SignalProperty {
  std::string DescribeStep(const Step& s) const override {
    if (s.op == Op::kParam) return SignalProperty::DescribeStep(s);
    return Describe(s, DefaultSignals());
  }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    auto slot = rc::gen::inRange<uint32_t>(0, kSlots);
    auto step = rc::gen::weightedOneOf<Step>({
        {5, rc::gen::map(rc::gen::pair(slot, rc::gen::inRange<uint64_t>(0, 1000)),
                         [](std::pair<uint32_t, uint64_t> p) {
                           return Step{Op::kSend, p.first, p.second, 0};
                         })},
        {2, rc::gen::map(slot,
                         [](uint32_t s) {
                           return Step{Op::kOpen, s, 0, 0};
                         })},
        {2, rc::gen::map(slot,
                         [](uint32_t s) {
                           return Step{Op::kClose, s, 0, 0};
                         })},
        {1, rc::gen::map(rc::gen::pair(slot, rc::gen::inRange<uint64_t>(0, 2)),
                         [](std::pair<uint32_t, uint64_t> p) {
                           return Step{Op::kPriority, p.first, p.second, 0};
                         })},
        {1, rc::gen::just(Step{Op::kTryRecv, 0, 0, 0})},
    });
    return rc::gen::resize(40, rc::gen::container<std::vector<Step>>(step));
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    std::array<int, kSlots> sigs = DefaultSignals();
    const std::array<bool, kSlots> realtime = {false, false, true, true, true};
    if (const int sub = substitute_.Of(s); sub != 0) sigs[2] = sub;
    const sigset_t all = SetOf(std::vector<int>(sigs.begin(), sigs.end()));
    ResetDeliveries();
    for (int sig : sigs) {
      if (InstallRecorder(sig, 0, all) != 0) return Verdict::Broken("sigaction");
    }
    Model model(sigs, realtime);
    std::array<bool, kSlots> blocked = {};
    std::vector<Event> seen;
    std::vector<std::string> script;
    size_t handled = 0;
    auto collect_handled = [&] {
      std::vector<Delivery> d = Deliveries();
      for (; handled < d.size(); ++handled)
        seen.push_back({false, d[handled].signo, d[handled].value});
    };
    std::string failure;
    for (const Step& st : s.steps) {
      if (st.op == Op::kParam || st.actor >= kSlots) continue;
      const size_t before = model.events().size();
      const size_t seen_before = seen.size();
      script.push_back(absl::StrFormat("%d. %s", script.size() + 1, Describe(st, sigs)));
      collect_handled();
      failure = Perform(st, sigs, all, &model, &blocked, &seen);
      collect_handled();
      if (failure.empty() &&
          std::vector<Event>(model.events().begin() + static_cast<long>(before),
                             model.events().end()) !=
              std::vector<Event>(seen.begin() + static_cast<long>(seen_before), seen.end())) {
        failure =
            absl::StrFormat("after step %d the model expects %s; the kernel gave %s", script.size(),
                            Show(model.events(), before), Show(seen, seen_before));
      }
      if (failure.empty()) {
        const sigset_t pending = PendingSet();
        for (int i = 0; i < kSlots; ++i) {
          if ((sigismember(&pending, sigs[i]) == 1) != model.Pending(i)) {
            failure =
                absl::StrFormat("after step %d sigpending says %s is %spending; the model says %s",
                                script.size(), Sig(sigs[i]), model.Pending(i) ? "not " : "",
                                model.Pending(i) ? "pending" : "not pending");
            break;
          }
        }
      }
      if (!failure.empty()) break;
    }
    sigprocmask(SIG_BLOCK, &all, nullptr);
    DrainPending(all);
    if (failure.empty()) return Verdict::Pass();
    return Verdict::Fail(
        absl::StrCat(failure, "\n  script:\n    ", absl::StrJoin(script, "\n    ")));
  }

  // Only the tests set it: a standard signal in a realtime slot must fail.
  const Param<int> substitute_{this, 0, "the realtime SIGRTMIN is replaced by %s", 0,
                               SaySignalOrNone};
};
IPCSPEC_REGISTER_PROPERTY(SignalModelProperty, "SIG-MODEL", {.examples = 30});

}  // namespace signal_model
}  // namespace
}  // namespace ipcspec::props
