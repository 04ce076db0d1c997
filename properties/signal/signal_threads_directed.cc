// SIG-THREAD-DIRECTED, SIG-THREAD-PENDING and SIG-SFD-THREAD: signals sent
// to one thread (tgkill, pthread_kill, pthread_sigqueue) and the per-thread
// pending set next to the process's.
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/signal/signal_proc.h"
#include "properties/signal/signal_util.h"
#include "properties/support/common.h"
#include "properties/support/proc_util.h"
#include "properties/support/verdicts.h"

namespace ipcspec::props {
namespace {
namespace signal_threads_directed {

// A parked helper that blocks `blocked`; 'u' unblocks `sig`, 'p' answers
// its sigpending(), 'r' reads `*sfd` (non-blocking) and answers the
// signals, 'd' takes what is pending for it.
std::unique_ptr<ParkedThread> Park(uint64_t blocked, int sig, const int* sfd = nullptr) {
  return std::make_unique<ParkedThread>(BitsSet(blocked), [sig, sfd](char c) -> uint64_t {
    const sigset_t one = SetOf({sig});
    switch (c) {
      case 'u':
        ::pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
        return 0;
      case 'p': {
        sigset_t p;
        ::sigpending(&p);
        return SetBits(p);
      }
      case 'r': {
        uint64_t got = 0;
        signalfd_siginfo r[8];
        ssize_t n;
        while ((n = ::read(*sfd, r, sizeof r)) > 0) {
          for (ssize_t i = 0; i < n / static_cast<ssize_t>(sizeof r[0]); ++i) {
            got |= Bit(static_cast<int>(r[i].ssi_signo));
          }
        }
        return got;
      }
      case 'd':
        return static_cast<uint64_t>(DrainPending(BitsSet(PlayBits())));
      default:
        return 0;
    }
  });
}

Delivery NextDelivery(int fd, const Deadline& deadline) {
  Delivery d = {};
  if (PollOne(fd, POLLIN, deadline) <= 0 || ReadFull(fd, &d, sizeof d) != 0) d.signo = 0;
  return d;
}

class ThreadDirectedProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const uint64_t api = api_.Of(s);
    const int sig = signal_.Of(s), target = target_.Of(s) == 2 ? 1 : 0, value = value_.Of(s);
    const bool blocks = blocks_.Of(s);
    const Deadline deadline = CaseDeadline(env);
    ResetDeliveries();
    Pipe deliveries;
    if (!deliveries.Open()) return Verdict::Broken("pipe2");
    SetDeliveryPipe(deliveries.w.get());
    const sigset_t all = BitsSet(PlayBits()), open = BitsSet(PlayBits() & ~Bit(sig));
    InstallRecorder(sig, 0, all);
    // Everyone but the target (when it blocks it) has the signal unblocked.
    ::pthread_sigmask(SIG_SETMASK, &open, nullptr);
    std::string failure;
    {
      auto mask_of = [&](int i) {
        return (PlayBits() & ~Bit(sig)) | (i == target && blocks ? Bit(sig) : 0);
      };
      std::unique_ptr<ParkedThread> t[2] = {Park(mask_of(0), sig), Park(mask_of(1), sig)};
      if (!t[0]->started() || !t[1]->started()) return Verdict::Broken("pthread_create");
      ParkedThread& to = *t[target];
      int rc = 0;
      if (api == kPthreadKill) {
        rc = ::pthread_kill(to.handle(), sig);
      } else if (api == kPthreadSigqueue) {
        rc = ::pthread_sigqueue(to.handle(), sig, sigval{.sival_int = value});
      } else {
        rc = ::tgkill(::getpid(), to.tid(), sig) == 0 ? 0 : errno;
      }
      if (rc != 0) return Verdict::Broken(absl::StrCat(api_.Name(api), ": ", ErrnoName(rc)));
      const std::string what =
          absl::StrCat(SignalName(sig), " sent with ", api_.Name(api), " to thread ", target + 1,
                       blocks ? ", which blocks it" : "");
      if (blocks) {
        SigStatus tst, other, proc;
        ReadSigStatus(::getpid(), to.tid(), &tst);
        ReadSigStatus(::getpid(), t[1 - target]->tid(), &other);
        ReadSigStatus(::getpid(), 0, &proc);
        uint64_t main_view = 0;
        sigset_t p;
        ::sigpending(&p);
        main_view = SetBits(p);
        if ((tst.pnd & Bit(sig)) == 0 || (proc.shd & Bit(sig)) != 0 ||
            (other.pnd & Bit(sig)) != 0 || (main_view & Bit(sig)) != 0 || DeliveryCount() != 0) {
          failure =
              absl::StrCat(what, ": its SigPnd ", SayMask(tst.pnd), ", the process's ShdPnd ",
                           SayMask(proc.shd), ", the other thread's SigPnd ", SayMask(other.pnd),
                           ", the main thread's sigpending ", SayMask(main_view), ", ",
                           DeliveryCount(), " deliveries; expected it pending on the target alone");
        } else if (!to.Ask('u', deadline)) {
          failure = "the target did not unblock it";
        }
      }
      if (failure.empty()) {
        const Delivery d = NextDelivery(deliveries.r.get(), deadline);
        if (d.signo != sig || d.tid != to.tid() ||
            (api == kPthreadSigqueue && (d.code != SI_QUEUE || d.value != value))) {
          failure = absl::StrCat(
              what, d.signo == 0 ? ": it was never handled"
                                 : absl::StrFormat(": handled in tid %d (the target is %d, "
                                                   "the main thread %d) with si_code %d "
                                                   "value %d",
                                                   d.tid, to.tid(), ::getpid(), d.code, d.value));
        }
      }
    }
    SetDeliveryPipe(-1);
    ::pthread_sigmask(SIG_SETMASK, &all, nullptr);
    DrainPending(all);
    return PassUnless(failure);
  }

  enum DirectedApi : uint64_t { kTgkill, kPthreadKill, kPthreadSigqueue };
  static constexpr std::string_view kDirectedApis[] = {"tgkill", "pthread_kill",
                                                       "pthread_sigqueue"};
  const ChoiceParam<uint64_t> api_{this, 0, "the signal is sent with %s", kTgkill, kDirectedApis};
  const Param<int> target_{this, 1, "to helper thread %s of 2", 1, rc::gen::inRange(1, 3)};
  const YesNoParam blocks_{this, 2, "the target blocks it: %s", false};
  const Param<int> signal_{this,     3, "the signal is %s", SIGUSR1, GenSignal(PlaySignals()),
                           SaySignal};
  const Param<int> value_{this, 4, "pthread_sigqueue's value is %s", 7,
                          rc::gen::inRange(0, 1 << 20)};
};
IPCSPEC_REGISTER_PROPERTY(ThreadDirectedProperty, "SIG-THREAD-DIRECTED", {.examples = 20});

// Pending steps: Step{kSend, actor = target (0 the process, 1 the main
// thread, 2 and 3 the helpers), size = 0, arg = signal}.
std::string SayTarget(uint32_t target) {
  return target == 0   ? "the process"
         : target == 1 ? "the main thread"
                       : absl::StrCat("helper thread ", target - 1);
}

class ThreadPendingProperty final : public SignalProperty {
  std::string DescribeStep(const Step& s) const override {
    if (s.op != Op::kSend) return SignalProperty::DescribeStep(s);
    return absl::StrCat(s.actor == 0 ? "kill(self, " : "tgkill(",
                        s.actor == 0 ? "" : SayTarget(s.actor), s.actor == 0 ? "" : ", ",
                        SignalName(static_cast<int>(s.arg)), ")");
  }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([] {
      std::vector<Step> steps;
      const int n = *rc::gen::inRange(1, 10);
      for (int i = 0; i < n; ++i) {
        steps.push_back(Step{Op::kSend, *rc::gen::inRange<uint32_t>(0, 4), 0,
                             static_cast<uint64_t>(*GenSignal(PlaySignals()))});
      }
      return steps;
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const Deadline deadline = CaseDeadline(env);
    const sigset_t all = BitsSet(PlayBits());
    ::pthread_sigmask(SIG_SETMASK, &all, nullptr);
    std::string failure;
    {
      std::unique_ptr<ParkedThread> helpers[2] = {Park(PlayBits(), SIGUSR1),
                                                  Park(PlayBits(), SIGUSR1)};
      if (!helpers[0]->started() || !helpers[1]->started())
        return Verdict::Broken("pthread_create");
      const pid_t tids[3] = {::getpid(), helpers[0]->tid(), helpers[1]->tid()};
      uint64_t own[3] = {0, 0, 0}, shared = 0;
      for (const Step& st : s.steps) {
        if (st.op != Op::kSend || st.actor > 3) continue;
        const int sig = static_cast<int>(st.arg);
        if (st.actor == 0) {
          ::kill(::getpid(), sig);
          shared |= Bit(sig);
        } else {
          ::tgkill(::getpid(), tids[st.actor - 1], sig);
          own[st.actor - 1] |= Bit(sig);
        }
      }
      for (int i = 0; i < 3 && failure.empty(); ++i) {
        SigStatus st;
        uint64_t view = 0;
        if (i == 0) {
          sigset_t p;
          ::sigpending(&p);
          view = SetBits(p);
        } else if (!helpers[i - 1]->Ask('p', deadline, &view)) {
          failure = "a helper did not answer";
          break;
        }
        if (!ReadSigStatus(::getpid(), tids[i], &st)) return Verdict::Broken("/proc status");
        if ((st.pnd & PlayBits()) != own[i] || (st.shd & PlayBits()) != shared ||
            (view & PlayBits()) != (own[i] | shared)) {
          failure =
              absl::StrCat(SayTarget(static_cast<uint32_t>(i + 1)), ": SigPnd ",
                           SayMask(st.pnd & PlayBits()), ", ShdPnd ", SayMask(st.shd & PlayBits()),
                           ", sigpending() ", SayMask(view & PlayBits()), "; expected ",
                           SayMask(own[i]), ", ", SayMask(shared), " and their union");
        }
      }
      // Each thread takes what is its own, so nothing is left behind.
      for (auto& h : helpers) h->Ask('d', deadline);
    }
    DrainPending(all);
    return PassUnless(failure);
  }
};
IPCSPEC_REGISTER_PROPERTY(ThreadPendingProperty, "SIG-THREAD-PENDING", {.examples = 20});

class SfdThreadProperty final : public SignalProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      const uint64_t other = *GenMask(PlaySignals(), true);
      const uint64_t proc = *GenMask(PlaySignals()) & ~other;
      return std::vector<Step>{other_.Step(other), process_.Step(proc),
                               own_.Step(*GenMask(PlaySignals()) & ~other & ~proc)};
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const uint64_t other = other_.Of(s) & PlayBits(), proc = process_.Of(s) & PlayBits() & ~other,
                   own = own_.Of(s) & PlayBits() & ~other & ~proc;
    const Deadline deadline = CaseDeadline(env);
    const sigset_t all = BitsSet(PlayBits());
    ::pthread_sigmask(SIG_SETMASK, &all, nullptr);
    FileDescriptor sfd(::signalfd(-1, &all, SFD_NONBLOCK | SFD_CLOEXEC));
    if (!sfd) return Verdict::Broken(absl::StrCat("signalfd: ", ErrnoName(errno)));
    const int fd = sfd.get();
    std::string failure;
    {
      auto reader = Park(PlayBits(), SIGUSR1, &fd), bystander = Park(PlayBits(), SIGUSR1);
      if (!reader->started() || !bystander->started()) return Verdict::Broken("pthread_create");
      for (int sig : BitsSignals(other)) ::tgkill(::getpid(), bystander->tid(), sig);
      for (int sig : BitsSignals(proc)) ::kill(::getpid(), sig);
      for (int sig : BitsSignals(own)) ::tgkill(::getpid(), reader->tid(), sig);
      uint64_t read = 0;
      SigStatus st;
      if (!reader->Ask('r', deadline, &read) || !ReadSigStatus(::getpid(), bystander->tid(), &st)) {
        failure = "the reader did not answer";
      } else if (read != (proc | own) || (st.pnd & PlayBits()) != other) {
        failure = absl::StrCat("a thread read ", SayMask(read),
                               " from the signalfd, expected the "
                               "process's ",
                               SayMask(proc), " and its own ", SayMask(own),
                               "; the other thread's SigPnd is ", SayMask(st.pnd & PlayBits()),
                               ", expected ", SayMask(other));
      }
      bystander->Ask('d', deadline);
    }
    DrainPending(all);
    return PassUnless(failure);
  }

  const Param<uint64_t> other_{this, 0, "%s are sent to another thread", 0, SayMask};
  const Param<uint64_t> process_{this, 1, "%s are sent to the process", 0, SayMask};
  const Param<uint64_t> own_{this, 2, "%s are sent to the reading thread", 0, SayMask};
};
IPCSPEC_REGISTER_PROPERTY(SfdThreadProperty, "SIG-SFD-THREAD", {.examples = 20});

}  // namespace signal_threads_directed
}  // namespace
}  // namespace ipcspec::props
