// SIG-RT-QUEUE and SIG-RT-LIMIT: realtime signals queue, in order, up to
// RLIMIT_SIGPENDING.
//
// SIG-RT-QUEUE reads parameter 0 as a signal that replaces every realtime
// signal it would use: with a standard signal there (SIGUSR1) the property
// must fail, which the tests use to prove it detects a non-queueing signal.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/signal/signal_util.h"
#include "properties/support/common.h"
#include "properties/support/proc_util.h"
#include "properties/support/verdicts.h"

namespace ipcspec::props {
namespace {
namespace signal_rt {

std::string SayCollect(uint64_t v) { return v != 0 ? "their handlers" : "sigtimedwait"; }

// SIG-RT-QUEUE: realtime signals queue; FIFO per number, lowest number first
// across numbers; si_value carries the payload; SI_QUEUE and our pid.
class RtQueueProperty final : public SignalProperty {
  // Send steps: actor is the slot (SIGRTMIN + slot), size the value.
  std::string DescribeStep(const Step& s) const override {
    if (s.op != Op::kSend) return SignalProperty::DescribeStep(s);
    return absl::StrFormat("sigqueue(self, %s, value %d)",
                           SignalName(SIGRTMIN + static_cast<int>(s.actor)), s.size);
  }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      std::vector<Step> steps;
      steps.push_back(handlers_.Step(*rc::gen::arbitrary<bool>()));
      const int n = *rc::gen::inRange(2, 40);
      for (int i = 0; i < n; ++i) {
        steps.push_back(Step::Send(*rc::gen::inRange<uint32_t>(0, 4),
                                   *rc::gen::inRange<uint64_t>(0, 1 << 20), i));
      }
      return steps;
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const int substitute = substitute_.Of(s);
    const bool handlers = handlers_.Of(s);
    auto sig_of = [&](uint32_t slot) {
      return substitute != 0 ? substitute : SIGRTMIN + static_cast<int>(slot);
    };
    struct Sent {
      int sig;
      int value;
    };
    std::vector<Sent> sent;
    std::vector<int> sigs;
    for (const Step& st : s.steps) {
      if (st.op != Op::kSend) continue;
      sent.push_back({sig_of(st.actor), static_cast<int>(st.size)});
      sigs.push_back(sig_of(st.actor));
    }
    const sigset_t set = SetOf(sigs);
    ResetDeliveries();
    for (int sig : sigs) {
      if (handlers && InstallRecorder(sig, 0, set) != 0) return Verdict::Broken("sigaction failed");
    }
    sigprocmask(SIG_BLOCK, &set, nullptr);
    for (const Sent& m : sent) {
      if (::sigqueue(::getpid(), m.sig, sigval{.sival_int = m.value}) != 0) {
        return Verdict::Broken(absl::StrCat("sigqueue: ", ErrnoName(errno)));
      }
    }
    std::vector<Sent> want = sent;
    std::stable_sort(want.begin(), want.end(),
                     [](const Sent& a, const Sent& b) { return a.sig < b.sig; });
    std::vector<Delivery> got;
    if (handlers) {
      sigprocmask(SIG_UNBLOCK, &set, nullptr);
      got = Deliveries();
    } else {
      siginfo_t si;
      struct timespec zero = {0, 0};
      while (::sigtimedwait(&set, &si, &zero) > 0) {
        got.push_back({si.si_signo, si.si_code, si.si_pid, si.si_uid, si.si_value.sival_int, 1,
                       false, 0, 0, 0, 0});
      }
    }
    for (size_t i = 0; i < std::max(want.size(), got.size()); ++i) {
      if (i >= got.size()) {
        return Verdict::Fail(absl::StrFormat(
            "%d signals queued, only %d %s; the first missing: %s value %d", want.size(),
            got.size(), handlers ? "delivered" : "collected", Sig(want[i].sig), want[i].value));
      }
      if (i >= want.size()) {
        return Verdict::Fail(
            absl::StrFormat("%d signals queued, %d arrived", want.size(), got.size()));
      }
      const Delivery& g = got[i];
      if (g.signo != want[i].sig || g.value != want[i].value) {
        return Verdict::Fail(absl::StrFormat(
            "arrival %d: %s value %d, expected %s value %d (FIFO per number, lowest number first)",
            i, Sig(g.signo), g.value, Sig(want[i].sig), want[i].value));
      }
      if (g.code != SI_QUEUE || g.pid != ::getpid() || g.uid != ::getuid()) {
        return Verdict::Fail(
            absl::StrFormat("arrival %d: si_code %d si_pid %d si_uid %d, expected SI_QUEUE %d %d",
                            i, g.code, g.pid, g.uid, ::getpid(), ::getuid()));
      }
    }
    return Verdict::Pass();
  }

  // Only the tests set it: a standard signal here must make the property fail.
  const Param<int> substitute_{this, 0, "every realtime signal is replaced by %s", 0,
                               SaySignalOrNone};
  const Param<bool> handlers_{this, 1, "they are collected by %s", false, SayCollect};
};
IPCSPEC_REGISTER_PROPERTY(RtQueueProperty, "SIG-RT-QUEUE", {.examples = 30});

// SIG-RT-LIMIT: with RLIMIT_SIGPENDING lowered to L, the case's uid can queue
// L realtime signals; the next sigqueue gives EAGAIN and loses nothing; room
// freed by taking one is usable again.
class RtLimitProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const int limit = limit_.Of(s);
    const int sig = SIGRTMIN + offset_.Of(s);
    struct rlimit old;
    getrlimit(RLIMIT_SIGPENDING, &old);
    struct rlimit lowered = {static_cast<rlim_t>(limit), old.rlim_max};
    if (setrlimit(RLIMIT_SIGPENDING, &lowered) != 0)
      return Verdict::Broken("setrlimit RLIMIT_SIGPENDING");
    const sigset_t one = SetOf({sig});
    sigprocmask(SIG_BLOCK, &one, nullptr);
    int queued = 0, err = 0;
    while (queued <= limit + 4) {
      if (::sigqueue(::getpid(), sig, sigval{.sival_int = queued}) != 0) {
        err = errno;
        break;
      }
      ++queued;
    }
    std::string failure;
    // The case runs under a uid of its own when the harness is root; then
    // nothing else holds a queue entry of this user and the limit is exact.
    const bool own_uid = env.own_uid;
    if (err != EAGAIN) {
      failure = absl::StrFormat(
          "RLIMIT_SIGPENDING=%d: %d sigqueue calls succeeded, then %s (expected EAGAIN)", limit,
          queued, err == 0 ? "no error" : ErrnoName(err));
    } else if (queued > limit || (own_uid && queued != limit)) {
      failure =
          absl::StrFormat("RLIMIT_SIGPENDING=%d: EAGAIN after %d queued signals", limit, queued);
    } else {
      siginfo_t si;
      struct timespec zero = {0, 0};
      if (::sigtimedwait(&one, &si, &zero) != sig || si.si_value.sival_int != 0) {
        failure = "after EAGAIN, the first queued signal could not be taken";
      } else {
        // Without a uid of its own, another process of the user (a parallel
        // case) may have taken the freed entry: EAGAIN then is no failure.
        const bool requeued = ::sigqueue(::getpid(), sig, sigval{.sival_int = queued}) == 0;
        if (!requeued && (own_uid || errno != EAGAIN)) {
          failure = absl::StrCat("after taking one, sigqueue still fails: ", ErrnoName(errno));
        }
        for (int want = 1; failure.empty() && want <= (requeued ? queued : queued - 1); ++want) {
          if (::sigtimedwait(&one, &si, &zero) != sig || si.si_value.sival_int != want) {
            failure = absl::StrFormat("queued signal with value %d lost after EAGAIN", want);
          }
        }
      }
    }
    DrainPending(one);
    setrlimit(RLIMIT_SIGPENDING, &old);
    return PassUnless(failure);
  }

  const Param<int> limit_{this, 0, "RLIMIT_SIGPENDING is lowered to %s", 4,
                          rc::gen::inRange(1, 33)};
  const Param<int> offset_{this, 1, "the signal is SIGRTMIN+%s", 0, rc::gen::inRange(0, 3)};
};
IPCSPEC_REGISTER_PROPERTY(RtLimitProperty, "SIG-RT-LIMIT", {.examples = 25});

}  // namespace signal_rt
}  // namespace
}  // namespace ipcspec::props
