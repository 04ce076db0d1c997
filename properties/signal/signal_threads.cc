// SIG-THREAD-MASK, SIG-THREAD-PROCDIR, SIG-THREAD-DIRECTED and
// SIG-THREAD-PENDING: signals in a process with several threads. Helper
// threads are parked in read(2) on a command pipe (ParkedThread); a handler
// reports the thread it ran in through a pipe (SetDeliveryPipe), and
// /proc/self/task/TID/status shows each thread's mask and pending sets.
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "properties/signal/signal_proc.h"
#include "properties/signal/signal_util.h"
#include "properties/support/common.h"
#include "properties/support/proc_util.h"
#include "properties/support/verdicts.h"

namespace ipcspec::props {
namespace {
namespace signal_threads {

uint64_t Apply(uint64_t mask, uint64_t how, uint64_t set) {
  return how == SIG_BLOCK ? mask | set : how == SIG_UNBLOCK ? mask & ~set : set;
}

uint64_t ThreadMask() {
  sigset_t m;
  ::pthread_sigmask(SIG_BLOCK, nullptr, &m);
  return SetBits(m);
}

uint64_t TaskBlocked(pid_t tid) {
  SigStatus st;
  return ReadSigStatus(::getpid(), tid, &st) ? st.blk : ~uint64_t{0};
}

class ThreadMaskProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const uint64_t c = creator_.Of(s) & PlayBits();
    const uint64_t after_thread = Apply(c, thread_how_.Of(s), thread_set_.Of(s) & PlayBits());
    const uint64_t after_creator = Apply(c, creator_how_.Of(s), creator_set_.Of(s) & PlayBits());
    const sigset_t cset = BitsSet(c);
    ::pthread_sigmask(SIG_SETMASK, &cset, nullptr);
    const Deadline deadline = CaseDeadline(env);
    SharedFlags flags(4);  // 0 started, 1 go, 2 changed, 3 end
    std::atomic<uint64_t> inherited{0};
    std::string failure;
    {
      HelperThread t(
          [&] {
            inherited = ThreadMask();
            flags.Raise(0);
            if (!flags.WaitFor(1, deadline)) return;
            const sigset_t set = BitsSet(thread_set_.Of(s) & PlayBits());
            ::pthread_sigmask(static_cast<int>(thread_how_.Of(s)), &set, nullptr);
            flags.Raise(2);
            flags.WaitFor(3, deadline);
          },
          HelperThread::Inherit{});
      if (!t.started()) return Verdict::Broken("pthread_create");
      auto done = [&](std::string m) {
        if (failure.empty()) failure = std::move(m);
        flags.Raise(1);
        flags.Raise(3);
      };
      if (!flags.WaitFor(0, deadline)) return Verdict::Broken("the thread never started");
      if (inherited.load() != c || TaskBlocked(t.tid()) != c) {
        done(absl::StrCat("created while its creator blocked ", SayMask(c), ", the thread blocks ",
                          SayMask(inherited.load()), " (SigBlk ", SayMask(TaskBlocked(t.tid())),
                          ")"));
      }
      const sigset_t cop = BitsSet(creator_set_.Of(s) & PlayBits());
      ::pthread_sigmask(static_cast<int>(creator_how_.Of(s)), &cop, nullptr);
      if (failure.empty() && TaskBlocked(t.tid()) != c) {
        done(absl::StrCat("the creator's ", creator_how_.Name(creator_how_.Of(s)),
                          " changed the thread's SigBlk to ", SayMask(TaskBlocked(t.tid()))));
      }
      flags.Raise(1);
      if (failure.empty() && !flags.WaitFor(2, deadline)) done("the thread never changed its mask");
      if (failure.empty() &&
          (TaskBlocked(t.tid()) != after_thread || ThreadMask() != after_creator ||
           TaskBlocked(::getpid()) != after_creator)) {
        done(absl::StrCat("after the thread's ", thread_how_.Name(thread_how_.Of(s)),
                          " and the creator's ", creator_how_.Name(creator_how_.Of(s)),
                          ": the thread blocks ", SayMask(TaskBlocked(t.tid())), " (expected ",
                          SayMask(after_thread), "), the creator ", SayMask(ThreadMask()),
                          " (expected ", SayMask(after_creator), ")"));
      }
      flags.Raise(3);
    }
    return PassUnless(failure);
  }

  const Param<uint64_t> creator_{
      this,   0, "the creator blocks %s when it creates the thread", 0, GenMask(PlaySignals()),
      SayMask};
  const ChoiceParam<uint64_t> thread_how_{this, 1, "the thread then calls pthread_sigmask(%s, ...)",
                                          SIG_BLOCK, kHowNames};
  const Param<uint64_t> thread_set_{this, 2, "with %s", 0, GenMask(PlaySignals()), SayMask};
  const ChoiceParam<uint64_t> creator_how_{this, 3, "the creator calls pthread_sigmask(%s, ...)",
                                           SIG_BLOCK, kHowNames};
  const Param<uint64_t> creator_set_{this, 4, "with %s", 0, GenMask(PlaySignals()), SayMask};
};
IPCSPEC_REGISTER_PROPERTY(ThreadMaskProperty, "SIG-THREAD-MASK", {.examples = 20});

// Parked helpers, each blocking every play signal except, when `eligible`
// says so, `sig`. Command 'u' unblocks `sig` in the thread.
std::vector<std::unique_ptr<ParkedThread>> ParkThreads(int count, uint64_t eligible, int sig) {
  std::vector<std::unique_ptr<ParkedThread>> out;
  for (int i = 0; i < count; ++i) {
    const bool open = (eligible >> i) & 1;
    out.push_back(std::make_unique<ParkedThread>(BitsSet(PlayBits() & ~(open ? Bit(sig) : 0)),
                                                 [sig](char c) -> uint64_t {
                                                   const sigset_t one = SetOf({sig});
                                                   if (c == 'u')
                                                     ::pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
                                                   if (c == 'p') return SetBits(PendingSet());
                                                   return 0;
                                                 }));
  }
  return out;
}

// The next delivery reported through the pipe, or a signo of 0 at the deadline.
Delivery NextDelivery(int fd, const Deadline& deadline) {
  Delivery d = {};
  if (PollOne(fd, POLLIN, deadline) <= 0 || ReadFull(fd, &d, sizeof d) != 0) d.signo = 0;
  return d;
}

std::string SayEligible(uint64_t v) {
  std::vector<std::string> parts;
  for (int i = 0; i < 3; ++i) {
    if ((v >> i) & 1) parts.push_back(absl::StrCat("thread ", i + 1));
  }
  return parts.empty() ? "none of them" : absl::StrJoin(parts, ", ");
}

class ThreadProcdirProperty final : public SignalProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      const int k = *rc::gen::inRange(1, 4);
      return std::vector<Step>{
          threads_.Step(k), eligible_.Step(*rc::gen::inRange<uint64_t>(0, 1u << k)),
          signal_.Step(*GenSignal(PlaySignals())), method_.Step(*rc::gen::inRange<uint64_t>(0, 2))};
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const int k = std::clamp(threads_.Of(s), 1, 3), sig = signal_.Of(s);
    const uint64_t eligible = eligible_.Of(s) & ((1u << k) - 1);
    const Deadline deadline = CaseDeadline(env);
    ResetDeliveries();
    Pipe deliveries;
    if (!deliveries.Open()) return Verdict::Broken("pipe2");
    SetDeliveryPipe(deliveries.w.get());
    const sigset_t all = BitsSet(PlayBits());
    InstallRecorder(sig, 0, all);
    ::pthread_sigmask(SIG_SETMASK, &all, nullptr);
    std::string failure;
    {
      auto threads = ParkThreads(k, eligible, sig);
      for (auto& t : threads) {
        if (!t->started()) return Verdict::Broken("pthread_create");
      }
      const int rc = method_.Of(s) == 0 ? ::kill(::getpid(), sig)
                                        : ::sigqueue(::getpid(), sig, sigval{.sival_int = 1});
      if (rc != 0) return Verdict::Broken(absl::StrCat("send: ", ErrnoName(errno)));
      SigStatus main_st, proc_st;
      ReadSigStatus(::getpid(), ::getpid(), &main_st);
      ReadSigStatus(::getpid(), 0, &proc_st);
      const std::string what =
          absl::StrCat(SignalName(sig), " sent to the process with ", k, " threads of which ",
                       SayEligible(eligible), " have it unblocked");
      int want_index = -1;
      if ((main_st.pnd & Bit(sig)) != 0) {
        failure = absl::StrCat(what, ": it is pending on the sending thread alone (SigPnd)");
      } else if (eligible == 0) {
        if ((proc_st.shd & Bit(sig)) == 0) {
          failure = absl::StrCat(what, ": it is not pending for the process (ShdPnd ",
                                 SayMask(proc_st.shd), ")");
        } else if (!threads[0]->Ask('u', deadline)) {
          failure = "thread 1 did not unblock it";
        }
        want_index = 0;
      }
      if (failure.empty()) {
        const Delivery d = NextDelivery(deliveries.r.get(), deadline);
        int index = -1;
        for (int i = 0; i < k; ++i) index = threads[i]->tid() == d.tid ? i : index;
        const bool ok =
            index >= 0 && (want_index >= 0 ? index == want_index : ((eligible >> index) & 1) != 0);
        if (!ok) {
          failure = absl::StrCat(what,
                                 d.signo == 0
                                     ? ": no thread handled it"
                                     : absl::StrCat(": it was handled by ",
                                                    index >= 0 ? absl::StrCat("thread ", index + 1)
                                                               : "the main thread"),
                                 eligible == 0 ? " after thread 1 unblocked it" : "");
        }
      }
    }
    SetDeliveryPipe(-1);
    DrainPending(all);
    return PassUnless(failure);
  }

  const Param<int> threads_{this, 0, "%s helper threads are parked in read(2)", 1};
  const Param<uint64_t> eligible_{this, 1, "the signal is unblocked in %s", 1, SayEligible};
  const Param<int> signal_{this, 2, "the signal is %s", SIGUSR1, SaySignal};
  const ChoiceParam<uint64_t> method_{this, 3, "it is sent with %s", kByKill, kMethodNames};
};
IPCSPEC_REGISTER_PROPERTY(ThreadProcdirProperty, "SIG-THREAD-PROCDIR", {.examples = 20});

}  // namespace signal_threads
}  // namespace
}  // namespace ipcspec::props
