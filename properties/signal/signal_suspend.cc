// SIG-SUSPEND-MASK, SIG-SUSPEND-EINTR, SIG-SUSPEND-TERM, SIG-PAUSE and
// SIG-PPOLL-MASK: waiting for a signal with a temporary mask. A helper
// thread that must act while the main thread is inside the call waits for
// that with WaitTaskBlockedIn (/proc/self/task/TID/syscall); a signal that
// must already be pending is sent before the call.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
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
#include "properties/support/verdicts.h"

namespace ipcspec::props {
namespace {
namespace signal_suspend {

// Installs the recorder on every play signal with an empty sa_mask.
bool RecordAll() {
  for (int sig : PlaySignals()) {
    if (InstallRecorder(sig) != 0) return false;
  }
  return true;
}

// Checks the handler masks: each delivery ran with at least M and its own
// signal blocked, and with no play signal blocked beyond M and the signals
// delivered in the same call (nested frames add theirs).
std::string CheckHandlerMasks(uint64_t m, uint64_t delivered) {
  for (const Delivery& d : Deliveries()) {
    const uint64_t want = (m | Bit(d.signo)) & PlayBits();
    const uint64_t got = d.mask & PlayBits();
    if ((got & want) != want || (got & ~(m | delivered)) != 0) {
      return absl::StrCat("the handler of ", SignalName(d.signo), " ran with ", SayMask(got),
                          " blocked, expected the sigsuspend mask ", SayMask(m & PlayBits()),
                          " and ", SignalName(d.signo));
    }
  }
  return "";
}

class SuspendMaskProperty final : public SignalProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      const uint64_t old_mask = *GenMask(PlaySignals());
      uint64_t temp = *GenMask(PlaySignals());
      std::vector<int> wakers;
      for (int sig : PlaySignals()) {
        if ((temp & Bit(sig)) == 0) wakers.push_back(sig);
      }
      if (wakers.empty()) {
        temp &= ~Bit(SIGUSR1);
        wakers.push_back(SIGUSR1);
      }
      const uint64_t pre = *GenMask(PlaySignals()) & old_mask;
      return std::vector<Step>{old_.Step(old_mask), temp_.Step(temp), pre_.Step(pre),
                               waker_.Step(*rc::gen::elementOf(wakers)),
                               early_.Step(*rc::gen::arbitrary<bool>())};
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const int waker = waker_.Of(s);
    const uint64_t temp = temp_.Of(s) & ~Bit(waker);
    const bool early = early_.Of(s);
    const uint64_t old_mask = old_.Of(s) | (early ? Bit(waker) : 0);
    const uint64_t pre = pre_.Of(s) & old_.Of(s);
    // A pre-sent signal the call unblocks ends it at once: then the waker
    // is never sent.
    const bool late = !early && (pre & ~temp) == 0;
    const uint64_t waker_bit = early || late ? Bit(waker) : 0;
    ResetDeliveries();
    if (!RecordAll()) return Verdict::Broken("sigaction");
    const sigset_t old_set = BitsSet(old_mask), temp_set = BitsSet(temp);
    sigprocmask(SIG_SETMASK, &old_set, nullptr);
    for (int sig : BitsSignals(pre | (early ? Bit(waker) : 0))) ::kill(::getpid(), sig);
    std::atomic<uint64_t> seen_blk{~uint64_t{0}};
    CancelFlag done;
    int r = 0, err = 0;
    {
      const pid_t me = ::getpid();
      const Deadline deadline = CaseDeadline(env);
      std::unique_ptr<HelperThread> helper;
      if (late) {
        helper = std::make_unique<HelperThread>([&] {
          if (!WaitTaskBlockedIn(me, me, SYS_rt_sigsuspend, deadline, done.fd())) return;
          SigStatus st;
          if (ReadSigStatus(me, me, &st)) seen_blk = st.blk;
          ::tgkill(me, me, waker);
        });
        if (!helper->started()) return Verdict::Broken("pthread_create");
      }
      r = ::sigsuspend(&temp_set);
      err = errno;
      done.Set();
    }
    const sigset_t after = CurrentMask();
    const uint64_t delivered = ((pre | waker_bit) & ~temp) & PlayBits();
    std::string failure;
    if (r != -1 || err != EINTR) {
      failure = absl::StrFormat("sigsuspend returned %d (%s), expected -1 with EINTR", r,
                                r == -1 ? ErrnoName(err) : "no error");
    } else if (!SameSet(after, old_set)) {
      failure = absl::StrCat("after sigsuspend the mask is ", DescribeSet(after),
                             ", expected the one from before the call, ", SayMask(old_mask));
    } else if (late && seen_blk.load() != temp) {
      failure = absl::StrCat("inside sigsuspend /proc showed SigBlk ", SayMask(seen_blk.load()),
                             ", expected the mask argument ", SayMask(temp));
    } else {
      uint64_t got = 0;
      for (const Delivery& d : Deliveries()) {
        if ((got & Bit(d.signo)) != 0 || (delivered & Bit(d.signo)) == 0) {
          failure = absl::StrCat(SignalName(d.signo), " was delivered during sigsuspend(",
                                 SayMask(temp), "); expected exactly ", SayMask(delivered));
        }
        got |= Bit(d.signo);
      }
      if (failure.empty() && got != delivered) {
        failure = absl::StrCat("during sigsuspend(", SayMask(temp), ") ", SayMask(got),
                               " were delivered, expected ", SayMask(delivered));
      }
      if (failure.empty()) failure = CheckHandlerMasks(temp, delivered);
      const uint64_t still = SetBits(PendingSet()) & PlayBits();
      if (failure.empty() && still != (pre & temp)) {
        failure = absl::StrCat("after sigsuspend ", SayMask(still), " are pending, expected ",
                               SayMask(pre & temp), " (blocked by its mask)");
      }
    }
    DrainPending(BitsSet(PlayBits()));
    return PassUnless(failure);
  }

  const Param<uint64_t> old_{this, 0, "the mask before the call blocks %s", 0, SayMask};
  const Param<uint64_t> temp_{this, 1, "sigsuspend's mask blocks %s", 0, SayMask};
  const Param<uint64_t> pre_{this, 2, "%s are pending before the call", 0, SayMask};
  const Param<int> waker_{this, 3, "the waking signal is %s", SIGUSR1, SaySignal};
  const Param<bool> early_{this, 4,
                           "it is pending before the call (else a thread sends it once the "
                           "main thread sleeps in rt_sigsuspend): %s",
                           true, SayYesNo};
};
IPCSPEC_REGISTER_PROPERTY(SuspendMaskProperty, "SIG-SUSPEND-MASK", {.examples = 20});

// Sets SIG_IGN on `ignored` and SIG_DFL on `dfl`, a recorder on `waker`.
bool PrepareWakers(int waker, uint64_t ignored, uint64_t dfl) {
  if (InstallRecorder(waker) != 0) return false;
  for (int sig : BitsSignals(ignored)) SetDisposition(sig, SIG_IGN);
  for (int sig : BitsSignals(dfl)) SetDisposition(sig, SIG_DFL);
  return true;
}

// A helper that waits for the main thread to sleep in `nr`, sends it the
// signals that must not wake it, checks it still sleeps, then sends the
// waker. `still` says whether it slept on after the non-wakers.
std::unique_ptr<HelperThread> StartWaker(long nr, int waker, uint64_t non_wakers,
                                         const Deadline& deadline, const CancelFlag& done,
                                         std::atomic<int>* still) {
  const pid_t me = ::getpid();
  return std::make_unique<HelperThread>([=, &done] {
    if (!WaitTaskBlockedIn(me, me, nr, deadline, done.fd())) return;
    for (int sig : BitsSignals(non_wakers)) ::tgkill(me, me, sig);
    const bool asleep = WaitTaskBlockedIn(me, me, nr, deadline, done.fd());
    still->store(asleep ? 1 : 0);
    if (asleep) ::tgkill(me, me, waker);
  });
}

// How a sleep that a handler should end ended: its return value and errno,
// and whether the thread slept on after the signals that must not wake it
// (-1: never asked).
struct Woken {
  int r = -1, err = 0, still = -1;
};

// SIG-SUSPEND-EINTR and SIG-PAUSE: the main thread sleeps in a call that
// only a handler may end, while a helper thread sends it signals whose
// action is to ignore them (SIG_IGN, or ignored by default), then the waker,
// a handled signal.
class WakerProperty : public SignalProperty {
 public:
  using SignalProperty::SignalProperty;
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      const int w = *GenSignal(PlaySignals());
      return std::vector<Step>{waker_.Step(w), ignored_.Step(*GenMask(PlaySignals()) & ~Bit(w)),
                               dfl_.Step(*GenMask(IgnoredByDefault()))};
    });
  }

 protected:
  // The signals of a case.
  struct Wakers {
    int waker;
    uint64_t ignored, dfl;
  };
  Wakers WakersOf(const Scenario& s) const {
    const int waker = waker_.Of(s);
    return {waker, ignored_.Of(s) & ~Bit(waker), dfl_.Of(s)};
  }
  // Installs the waker's recorder and the ignored actions, sets the thread's
  // mask to `blocked`, and calls `sleep` (system call `nr`) while the helper
  // sends the ignored signals, then the waker, each once the thread sleeps.
  template <typename SleepFn>
  std::optional<Verdict> Sleep(const Wakers& w, const sigset_t& blocked, long nr,
                               const CaseEnv& env, SleepFn sleep, Woken* out) const {
    ResetDeliveries();
    if (!PrepareWakers(w.waker, w.ignored, w.dfl)) return Verdict::Broken("sigaction");
    sigprocmask(SIG_SETMASK, &blocked, nullptr);
    std::atomic<int> still{-1};
    CancelFlag done;
    {
      auto helper = StartWaker(nr, w.waker, w.ignored | w.dfl, CaseDeadline(env), done, &still);
      if (!helper->started()) return Verdict::Broken("pthread_create");
      out->r = sleep();
      out->err = errno;
      done.Set();
    }
    out->still = still.load();
    return std::nullopt;
  }

 private:
  const Param<int> waker_{this, 0, "the handled signal is %s", SIGUSR1, SaySignal};
  const Param<uint64_t> ignored_{this, 1, "%s are set to SIG_IGN and sent first", 0, SayMask};
  const Param<uint64_t> dfl_{this, 2, "%s, ignored by default, are sent first", 0, SayMask};
};

// The verdict on a sleep in `call` that only the handler of `waker` may end.
Verdict WakerVerdict(const char* call, int waker, const Woken& got) {
  if (got.still == 0) {
    return Verdict::Fail(
        absl::StrCat(call, " returned after signals whose action is to ignore them"));
  }
  if (got.r != -1 || got.err != EINTR) {
    return Verdict::Fail(
        absl::StrFormat("%s returned %d (%s) after the %s handler, expected -1 with EINTR", call,
                        got.r, got.r == -1 ? ErrnoName(got.err) : "no error", SignalName(waker)));
  }
  if (DeliveriesOf(waker) != 1) {
    return Verdict::Fail(
        absl::StrFormat("%s returned -1/EINTR with the %s handler run %d times, expected once",
                        call, SignalName(waker), DeliveriesOf(waker)));
  }
  return Verdict::Pass();
}

class SuspendEintrProperty final : public WakerProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const Wakers w = WakersOf(s);
    // Nothing reaches the main thread before the call; inside, nothing is blocked.
    const sigset_t all = BitsSet(PlayBits() | w.dfl), none = BitsSet(0);
    Woken got;
    if (auto broken = Sleep(
            w, all, SYS_rt_sigsuspend, env, [&] { return ::sigsuspend(&none); }, &got)) {
      return *broken;
    }
    return WakerVerdict("sigsuspend", w.waker, got);
  }
};
IPCSPEC_REGISTER_PROPERTY(SuspendEintrProperty, "SIG-SUSPEND-EINTR", {.examples = 20});

class PauseProperty final : public WakerProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
#ifdef SYS_pause
    const Wakers w = WakersOf(s);
    // Only the other play signals are blocked: the waker and the ignored ones
    // reach the thread while it sleeps in pause.
    const sigset_t mask = BitsSet(PlayBits() & ~Bit(w.waker) & ~w.ignored);
    Woken got;
    if (auto broken = Sleep(
            w, mask, SYS_pause, env, [] { return ::pause(); }, &got)) {
      return *broken;
    }
    if (got.still == -1 && DeliveriesOf(w.waker) == 0) {
      return Verdict::Fail(absl::StrFormat("pause() returned %d (%s) before any signal was sent",
                                           got.r, got.r == -1 ? ErrnoName(got.err) : "no error"));
    }
    return WakerVerdict("pause", w.waker, got);
#else
    return Verdict::Unsupported("no pause system call on this architecture");
#endif
  }
};
IPCSPEC_REGISTER_PROPERTY(PauseProperty, "SIG-PAUSE", {.examples = 20});

class SuspendTermProperty final : public SignalProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      const int t = *GenSignal(PlaySignals());
      return std::vector<Step>{signal_.Step(t), mask_.Step(*GenMask(PlaySignals()) & ~Bit(t)),
                               early_.Step(*rc::gen::arbitrary<bool>())};
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const int sig = signal_.Of(s);
    const bool early = early_.Of(s);
    const sigset_t mask = BitsSet(mask_.Of(s) & ~Bit(sig)), all = BitsSet(PlayBits());
    const pid_t pid = ForkChild([&] {
      sigprocmask(SIG_SETMASK, &all, nullptr);
      if (early) ::kill(::getpid(), sig);
      ::sigsuspend(&mask);
      return 3;
    });
    if (pid < 0) return Verdict::Broken("fork");
    const Deadline deadline = CaseDeadline(env);
    if (!early) {
      if (!WaitUntilBlockedIn(pid, SYS_rt_sigsuspend, deadline)) {
        KillAndReap(pid);
        return Verdict::Broken("the child never slept in rt_sigsuspend");
      }
      ::kill(pid, sig);
    }
    int status = 0;
    if (!WaitChild(pid, 0, deadline, &status)) {
      KillAndReap(pid);
      return Verdict::Fail("the child in sigsuspend neither died nor returned");
    }
    if (!IsKilledBy(status, sig)) {
      return Verdict::Fail(
          absl::StrCat(Sig(sig), " with its default action during sigsuspend: the child ",
                       WIFEXITED(status) && WEXITSTATUS(status) == 3 ? "saw sigsuspend return"
                                                                     : DescribeWaitStatus(status),
                       ", expected killed by it"));
    }
    return Verdict::Pass();
  }

  const Param<int> signal_{this, 0, "the terminating signal is %s", SIGUSR1, SaySignal};
  const Param<uint64_t> mask_{this, 1, "sigsuspend's mask blocks %s", 0, SayMask};
  const Param<bool> early_{this, 2,
                           "it is pending before the call (else sent once the child sleeps in "
                           "rt_sigsuspend): %s",
                           true, SayYesNo};
};
IPCSPEC_REGISTER_PROPERTY(SuspendTermProperty, "SIG-SUSPEND-TERM", {.examples = 15});

enum PollApi : uint64_t { kPpoll, kPselect, kEpollPwait };
constexpr std::string_view kPollApis[] = {"ppoll", "pselect", "epoll_pwait"};

// One wait for `fd` readable with `mask` as the temporary signal mask.
int PollWithMask(uint64_t api, int fd, int timeout_ms, const sigset_t& mask) {
  struct timespec ts = {timeout_ms / 1000, (timeout_ms % 1000) * 1000000L};
  switch (api) {
    case kPselect: {
      fd_set rd;
      FD_ZERO(&rd);
      FD_SET(fd, &rd);
      return ::pselect(fd + 1, &rd, nullptr, nullptr, &ts, &mask);
    }
    case kEpollPwait: {
      FileDescriptor ep(::epoll_create1(EPOLL_CLOEXEC));
      struct epoll_event ev = {};
      ev.events = EPOLLIN;
      if (!ep || ::epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return -2;
      struct epoll_event out;
      return ::epoll_pwait(ep.get(), &out, 1, timeout_ms, &mask);
    }
    default: {
      struct pollfd p = {fd, POLLIN, 0};
      return ::ppoll(&p, 1, &ts, &mask);
    }
  }
}

class PpollMaskProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const uint64_t api = api_.Of(s), blocked = thread_.Of(s), call = call_.Of(s);
    const uint64_t interrupting = blocked & ~call;
    // A ready descriptor would let the call return without taking a signal.
    const bool readable = readable_.Of(s) && interrupting == 0;
    ResetDeliveries();
    if (!RecordAll()) return Verdict::Broken("sigaction");
    const sigset_t before = BitsSet(blocked), call_set = BitsSet(call);
    sigprocmask(SIG_SETMASK, &before, nullptr);
    for (int sig : BitsSignals(blocked)) ::kill(::getpid(), sig);
    Pipe p;
    if (!p.Open() || (readable && ::write(p.w.get(), "x", 1) != 1)) return Verdict::Broken("pipe");
    // The signal is pending before the call, so an interrupted call returns
    // at once whatever the load; ten time units only bound one that wrongly
    // waits.
    const int timeout_ms =
        interrupting != 0 ? static_cast<int>(absl::ToInt64Milliseconds(10 * env.time_unit)) : 0;
    const int r = PollWithMask(api, p.r.get(), timeout_ms, call_set);
    const int err = errno;
    const sigset_t after = CurrentMask();
    uint64_t got = 0;
    for (const Delivery& d : Deliveries()) got |= Bit(d.signo);
    const uint64_t pending = SetBits(PendingSet()) & PlayBits();
    std::string failure;
    const std::string what = absl::StrCat(api_.Name(api), " with mask ", SayMask(call), " while ",
                                          SayMask(blocked), " are pending");
    if (r == -2) return Verdict::Broken("epoll_create1/epoll_ctl");
    if (interrupting != 0 && (r != -1 || err != EINTR)) {
      failure = absl::StrFormat("%s returned %d (%s), expected -1 with EINTR", what, r,
                                r == -1 ? ErrnoName(err) : "no error");
    } else if (interrupting == 0 && r != (readable ? 1 : 0)) {
      failure = absl::StrFormat("%s returned %d (%s), expected %d", what, r,
                                r == -1 ? ErrnoName(err) : "no error", readable ? 1 : 0);
    } else if (got != interrupting ||
               DeliveryCount() != static_cast<int>(BitsSignals(got).size())) {
      failure = absl::StrCat(what, ": the handlers of ", SayMask(got), " ran (", DeliveryCount(),
                             " times), expected ", SayMask(interrupting), " once each");
    } else if (pending != (blocked & call)) {
      failure = absl::StrCat(what, ": afterwards ", SayMask(pending), " are pending, expected ",
                             SayMask(blocked & call));
    } else if (!SameSet(after, before)) {
      failure = absl::StrCat(what, ": afterwards the mask is ", DescribeSet(after), ", expected ",
                             SayMask(blocked));
    }
    DrainPending(BitsSet(PlayBits()));
    return PassUnless(failure);
  }

  const ChoiceParam<uint64_t> api_{this, 0, "the call is %s", kPpoll, kPollApis};
  const Param<uint64_t> thread_{
      this, 1, "the thread blocks %s, all pending", 0, GenMask(PlaySignals(), true), SayMask};
  const Param<uint64_t> call_{this,   2, "the call's sigmask blocks %s", 0, GenMask(PlaySignals()),
                              SayMask};
  const YesNoParam readable_{
      this, 3, "a byte waits in the pipe (only when no signal can interrupt): %s", false};
};
IPCSPEC_REGISTER_PROPERTY(PpollMaskProperty, "SIG-PPOLL-MASK", {.examples = 20});

}  // namespace signal_suspend
}  // namespace
}  // namespace ipcspec::props
