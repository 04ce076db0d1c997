// SIG-THREAD-SIGWAIT, SIG-TGKILL-ERRORS and SIG-ALTSTACK-THREAD: several
// threads waiting for one signal, tgkill's errors, and the alternate
// signal stack of a new thread.
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/signal/signal_proc.h"
#include "properties/signal/signal_util.h"
#include "properties/support/common.h"
#include "properties/support/proc_util.h"

namespace ipcspec::props {
namespace {
namespace signal_threads_more {

class ThreadSigwaitProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const int k = std::clamp(threads_.Of(s), 2, 4), sig = signal_.Of(s);
    const bool directed = directed_.Of(s);
    const Deadline deadline = CaseDeadline(env);
    const sigset_t all = BitsSet(PlayBits()), one = SetOf({sig});
    ::pthread_sigmask(SIG_SETMASK, &all, nullptr);
    Pipe reports;
    if (!reports.Open()) return Verdict::Broken("pipe2");
    std::string failure;
    std::vector<std::unique_ptr<HelperThread>> waiters;
    for (int i = 0; i < k; ++i) {
      waiters.push_back(std::make_unique<HelperThread>(
          [&, i] {
            // Linux may wake a second waiter for a signal the first takes:
            // re-blocking it as it returns, the first retargets the still
            // pending signal. That waiter gets EINTR and waits again.
            siginfo_t si;
            int r;
            while ((r = ::sigwaitinfo(&one, &si)) == -1 && errno == EINTR) {
            }
            if (r == sig) (void)!::write(reports.w.get(), &i, sizeof i);
          },
          all));
      if (!waiters.back()->started()) return Verdict::Broken("pthread_create");
    }
    std::vector<bool> released(static_cast<size_t>(k), false);
    for (int i = 0; i < k && failure.empty(); ++i) {
      for (int j = 0; j < k && failure.empty(); ++j) {
        if (!released[j] &&
            !WaitTaskBlockedIn(::getpid(), waiters[j]->tid(), SYS_rt_sigtimedwait, deadline)) {
          failure = absl::StrCat("before send ", i + 1, ", waiter ", j + 1,
                                 " is no longer waiting in sigwaitinfo");
        }
      }
      if (!failure.empty()) break;
      if (directed) {
        ::tgkill(::getpid(), waiters[i]->tid(), sig);
      } else {
        ::kill(::getpid(), sig);
      }
      int who = -1;
      if (PollOne(reports.r.get(), POLLIN, deadline) <= 0 ||
          ReadFull(reports.r.get(), &who, sizeof who) != 0 || who < 0 || who >= k ||
          released[who]) {
        failure = absl::StrCat("send ", i + 1, " released no waiting thread");
        break;
      }
      released[who] = true;
      if (directed && who != i) {
        failure = absl::StrCat("tgkill to waiter ", i + 1, " released waiter ", who + 1);
      }
    }
    // Release whoever still waits, so every thread can be joined.
    for (int j = 0; j < k; ++j) {
      if (!released[j]) ::tgkill(::getpid(), waiters[j]->tid(), sig);
    }
    waiters.clear();
    if (failure.empty() && IsPending(sig)) {
      failure = absl::StrCat("after ", k, " sends, each received once, ", SignalName(sig),
                             " is still pending (a send was received twice)");
    }
    DrainPending(all);
    if (!failure.empty()) {
      return Verdict::Fail(absl::StrCat(k, " threads in sigwaitinfo for ", SignalName(sig), ", ",
                                        directed ? "tgkill to each in turn" : "kill one at a time",
                                        ": ", failure));
    }
    return Verdict::Pass();
  }

  const Param<int> threads_{this, 0, "%s threads wait in sigwaitinfo", 2, rc::gen::inRange(2, 5)};
  const YesNoParam directed_{this, 1, "each send is a tgkill to one of them (else kill): %s",
                             false};
  const Param<int> signal_{this,     2, "the signal is %s", SIGUSR1, GenSignal(PlaySignals()),
                           SaySignal};
};
IPCSPEC_REGISTER_PROPERTY(ThreadSigwaitProperty, "SIG-THREAD-SIGWAIT", {.examples = 15});

enum TgkillCase : uint64_t { kBadTgid, kBadTid, kBadSig, kExited, kForeign, kProbe, kPthreadBad };
constexpr std::string_view kTgkillErrors[] = {"tgkill with tgid 0 or less",
                                              "tgkill with tid 0 or less",
                                              "tgkill with an invalid signal number",
                                              "tgkill to a thread that has exited",
                                              "tgkill to a tid that is not in the thread group",
                                              "tgkill with signal 0 to a live thread",
                                              "pthread_kill with an invalid signal number"};

// Makes the call of case `c`; its return value, errno and the expected
// error (0: success) come back through the pointers.
Verdict Attempt(uint64_t c, int sig, int bad, const Deadline& deadline, int* rc, int* err,
                int* want) {
  const pid_t me = ::getpid();
  switch (c) {
    case kBadTgid:
    case kBadTid:
      *rc = c == kBadTgid ? ::tgkill(bad < 0 ? bad : 0, me, sig)
                          : ::tgkill(me, bad < 0 ? bad : 0, sig);
      *err = errno;
      *want = EINVAL;
      break;
    case kBadSig:
      *rc = ::tgkill(me, me, bad);
      *err = errno;
      *want = EINVAL;
      break;
    case kExited: {
      pid_t tid = 0;
      {
        HelperThread t([] {});
        if (!t.started()) return Verdict::Broken("pthread_create");
        tid = t.tid();
      }
      if (!WaitTaskGone(tid, deadline)) return Verdict::Broken("the joined thread stayed");
      *rc = ::tgkill(me, tid, sig);
      *err = errno;
      *want = ESRCH;
      break;
    }
    case kForeign: {
      Pipe hold;
      if (!hold.Open()) return Verdict::Broken("pipe2");
      const pid_t child = ForkChild([&] {
        hold.w.reset();
        char b;
        return static_cast<int>(::read(hold.r.get(), &b, 1));
      });
      if (child < 0) return Verdict::Broken("fork");
      *rc = ::tgkill(me, child, sig);
      *err = errno;
      *want = ESRCH;
      hold.w.reset();
      int status;
      if (!WaitChild(child, 0, deadline, &status)) KillAndReap(child);
      break;
    }
    case kProbe: {
      ParkedThread t(BitsSet(SetBits(SetOf(PlaySignals()))), [](char) { return uint64_t{0}; });
      if (!t.started()) return Verdict::Broken("pthread_create");
      *rc = ::tgkill(me, t.tid(), 0);
      *err = errno;
      break;
    }
    default:
      *rc = ::pthread_kill(::pthread_self(), bad);
      *err = *rc == -1 ? 0 : *rc;  // a -1 return is itself the failure
      *want = EINVAL;
      break;
  }
  return Verdict::Pass();
}

class TgkillErrorsProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const uint64_t c = case_.Of(s);
    const sigset_t all = BitsSet(PlayBits());
    ::pthread_sigmask(SIG_SETMASK, &all, nullptr);
    int rc = 0, err = 0, want = 0;
    if (Verdict v = Attempt(c, signal_.Of(s), bad_.Of(s), CaseDeadline(env), &rc, &err, &want);
        !v.ok()) {
      return v;
    }
    const uint64_t pending = SetBits(PendingSet()) & PlayBits();
    DrainPending(all);
    const bool ok = want == 0 ? rc == 0 : (c == kPthreadBad ? rc == want : rc == -1 && err == want);
    if (!ok) {
      return Verdict::Fail(absl::StrFormat("%s returned %d (%s), expected %s", case_.Name(c), rc,
                                           err != 0 ? ErrnoName(err) : "no error",
                                           want == 0 ? "0"
                                           : c == kPthreadBad
                                               ? absl::StrCat("the error number ", ErrnoName(want))
                                               : absl::StrCat("-1 with ", ErrnoName(want))));
    }
    if (pending != 0) {
      return Verdict::Fail(absl::StrCat(case_.Name(c), " left ", SayMask(pending), " pending"));
    }
    return Verdict::Pass();
  }

  const ChoiceParam<uint64_t> case_{this, 0, "the call is %s", kBadTgid, kTgkillErrors};
  const Param<int> bad_{this, 1, "the invalid number used is %s", -1,
                        rc::gen::element<int>(-1, 65, 200, 0x7fffffff)};
  const Param<int> signal_{
      this, 2, "the valid signal used is %s", SIGUSR1, GenSignal(PlaySignals()), SaySignal};
};
IPCSPEC_REGISTER_PROPERTY(TgkillErrorsProperty, "SIG-TGKILL-ERRORS", {.examples = 20});

// An alternate stack in an anonymous mapping, unmapped on destruction.
class AltStack {
 public:
  explicit AltStack(size_t size) : size_(size) {
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    sp_ = p == MAP_FAILED ? nullptr : p;
  }
  ~AltStack() {
    if (sp_ != nullptr) ::munmap(sp_, size_);
  }
  stack_t Stack() const { return stack_t{sp_, 0, size_}; }
  bool ok() const { return sp_ != nullptr; }

 private:
  size_t size_;
  void* sp_;
};

class AltstackThreadProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const size_t size = static_cast<size_t>(size_.Of(s));
    stack_t before = {};
    ::sigaltstack(nullptr, &before);
    // A sanitizer's runtime gives every thread a stack of its own.
    const bool runtime_stacks = (before.ss_flags & SS_DISABLE) == 0;
    AltStack mine(size), theirs(size);
    if (!mine.ok() || !theirs.ok()) return Verdict::Broken("mmap");
    const stack_t ss = mine.Stack();
    if (::sigaltstack(&ss, nullptr) != 0) return Verdict::Broken("sigaltstack");
    stack_t in_thread = {}, in_thread_after = {};
    {
      HelperThread t([&] {
        ::sigaltstack(nullptr, &in_thread);
        if (sets_own_.Of(s)) {
          const stack_t own = theirs.Stack();
          ::sigaltstack(&own, nullptr);
          ::sigaltstack(nullptr, &in_thread_after);
          const stack_t off = {nullptr, SS_DISABLE, 0};
          ::sigaltstack(&off, nullptr);
        }
      });
      if (!t.started()) return Verdict::Broken("pthread_create");
    }
    stack_t now = {};
    ::sigaltstack(nullptr, &now);
    ::sigaltstack(&before, nullptr);
    (void)env;
    if (in_thread.ss_sp == ss.ss_sp ||
        (!runtime_stacks && (in_thread.ss_flags & SS_DISABLE) == 0)) {
      return Verdict::Fail(absl::StrFormat(
          "a thread created while its creator had an alternate stack at %p (%d bytes) starts "
          "with ss_sp %p, ss_size %d, ss_flags %d; expected SS_DISABLE",
          ss.ss_sp, ss.ss_size, in_thread.ss_sp, in_thread.ss_size, in_thread.ss_flags));
    }
    if (now.ss_sp != ss.ss_sp || now.ss_size != ss.ss_size || (now.ss_flags & SS_DISABLE) != 0) {
      return Verdict::Fail(absl::StrFormat(
          "after a thread %s, the creator's alternate stack is %p (%d bytes, flags %d), "
          "expected %p (%d bytes)",
          sets_own_.Of(s) ? "set and cleared its own" : "ran", now.ss_sp, now.ss_size, now.ss_flags,
          ss.ss_sp, ss.ss_size));
    }
    return Verdict::Pass();
  }

  const Param<int> size_{this, 0, "the stacks have %s bytes", 16384, GenStackBytes(4), SayBytes};
  const YesNoParam sets_own_{this, 1, "the thread sets (and clears) one of its own: %s", false};
};
IPCSPEC_REGISTER_PROPERTY(AltstackThreadProperty, "SIG-ALTSTACK-THREAD", {.examples = 20});

}  // namespace signal_threads_more
}  // namespace
}  // namespace ipcspec::props
