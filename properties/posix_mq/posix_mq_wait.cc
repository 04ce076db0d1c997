// POSIX-MQ-ETIMEDOUT and POSIX-MQ-NOTIFY: waiting on a POSIX message queue,
// for a timeout or for a notification.
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/posix_mq/mq_queue.h"
#include "properties/support/common.h"
#include "properties/support/mech_common.h"
#include "properties/support/proc_util.h"

namespace ipcspec::props {
namespace {
namespace posix_mq_wait {

constexpr std::string_view kTimedCalls[] = {"mq_timedreceive on an empty queue",
                                            "mq_timedsend on a full queue"};

class TimedProperty final : public NamedProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const bool send = send_.Of(s);
    const int64_t ms = static_cast<int64_t>(std::min<uint64_t>(timeout_.Of(s), 10000));
    MqQueue q(1, 64, O_RDWR);
    if (!q.ok()) return NotOpened(q);
    if (send && ::mq_send(q.q(), "f", 1, 0) != 0) return Verdict::Broken("mq_send");
    const absl::Time until = absl::Now() + absl::Milliseconds(ms);
    const struct timespec abs = absl::ToTimespec(until);
    char buf[64];
    long rc;
    {
      // Last resort: a call that never times out would hang the case.
      InterruptAfter guard(absl::Milliseconds(ms) + env.hang_grace);
      rc = send ? ::mq_timedsend(q.q(), "g", 1, 0, &abs)
                : ::mq_timedreceive(q.q(), buf, sizeof(buf), nullptr, &abs);
    }
    const absl::Time after = absl::Now();
    const char* call = send ? "mq_timedsend on a full queue" : "mq_timedreceive on an empty queue";
    if (rc >= 0 || errno != ETIMEDOUT) {
      return Verdict::Fail(absl::StrFormat("%s with a %dms timeout %s, not ETIMEDOUT", call, ms,
                                           rc < 0 && errno == EINTR ? "never returned" : Said(rc)));
    }
    if (after < until) {
      return Verdict::Fail(absl::StrFormat("%s gave ETIMEDOUT %s before the %dms timeout", call,
                                           absl::FormatDuration(until - after), ms));
    }
    return Verdict::Pass();
  }

  const ChoiceParam<bool> send_{this, 0, "the timed call is %s", false, kTimedCalls};
  const Param<uint64_t> timeout_{
      this,
      1,
      "its absolute timeout is %s from now",
      10,
      rc::gen::oneOf(rc::gen::just<uint64_t>(0), rc::gen::inRange<uint64_t>(1, 80)),
      SayMilliseconds};
};
IPCSPEC_REGISTER_PROPERTY(TimedProperty, "POSIX-MQ-ETIMEDOUT",
                          {.applies = ForPosixMq, .examples = 15});

// Blocks `sig` in this thread while alive; the old mask comes back.
class BlockSignal {
 public:
  explicit BlockSignal(int sig) {
    sigemptyset(&set_);
    sigaddset(&set_, sig);
    ::sigprocmask(SIG_BLOCK, &set_, &old_);
  }
  ~BlockSignal() { ::sigprocmask(SIG_SETMASK, &old_, nullptr); }
  BlockSignal(const BlockSignal&) = delete;
  BlockSignal& operator=(const BlockSignal&) = delete;
  const sigset_t& set() const { return set_; }

 private:
  sigset_t set_, old_;
};

// A second process's mq_notify registration while one is in place: EBUSY.
Verdict SecondRegistrationRefused(mqd_t q, const Deadline& deadline) {
  Participants ps(deadline);
  ps.Spawn("second registrant", [&]() -> Verdict {
    struct sigevent none = {};
    none.sigev_notify = SIGEV_NONE;
    if (::mq_notify(q, &none) == 0)
      return Verdict::Fail("a second process registered too, no EBUSY");
    if (errno != EBUSY)
      return Verdict::Fail(absl::StrCat("second registration: ", ErrnoName(errno), ", not EBUSY"));
    return Verdict::Pass();
  });
  return ps.Join();
}

// One round: register, a second registrant is refused, a message on the empty
// queue queues the signal once (the kernel queues it within mq_send), a
// second message queues nothing. With `nonempty` the queue holds a message
// as the round registers, and one more sent then queues nothing either:
// only an arrival on an empty queue notifies (mq_notify(3)).
Verdict NotifyRound(const MqQueue& q, const BlockSignal& blocked, int round, int sig, int value,
                    bool nonempty, const Deadline& deadline) {
  if (nonempty && Hooks().mq_send(q.q(), "x", 1, 0) != 0) return Verdict::Broken("mq_send");
  struct sigevent ev = {};
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = sig;
  ev.sigev_value.sival_int = value;
  if (::mq_notify(q.q(), &ev) != 0) {
    return Verdict::Fail(
        absl::StrFormat("round %d: mq_notify %s%s", round, ErrnoName(errno),
                        round > 1 ? " (the delivered registration was not removed)" : ""));
  }
  if (Verdict v = SecondRegistrationRefused(q.q(), deadline); !v.ok()) return v;
  char buf[64];
  siginfo_t si = {};
  const struct timespec now = {0, 0};
  if (nonempty) {
    // Registered on a queue that holds a message: one more is no arrival on
    // an empty queue, so nothing is sent until the queue empties.
    if (Hooks().mq_send(q.q(), "y", 1, 0) != 0) return Verdict::Broken("mq_send");
    if (::sigtimedwait(&blocked.set(), &si, &now) == sig) {
      return Verdict::Fail(absl::StrFormat(
          "round %d: %s for a message sent to a queue that was not empty", round, SignalName(sig)));
    }
    for (int i = 0; i < 2; ++i) {
      if (::mq_receive(q.q(), buf, sizeof(buf), nullptr) != 1) return Verdict::Broken("mq_receive");
    }
  }
  if (Hooks().mq_send(q.q(), "a", 1, 0) != 0) return Verdict::Broken("mq_send");
  const struct timespec until = absl::ToTimespec(absl::Milliseconds(deadline.RemainingMs()));
  if (::sigtimedwait(&blocked.set(), &si, &until) != sig) {
    return Verdict::Fail(absl::StrFormat("round %d: no %s after a message reached the empty queue",
                                         round, SignalName(sig)));
  }
  if (si.si_code != SI_MESGQ || si.si_value.sival_int != value) {
    return Verdict::Fail(
        absl::StrFormat("notification had si_code %d, value %d; expected SI_MESGQ (%d), %d",
                        si.si_code, si.si_value.sival_int, SI_MESGQ, value));
  }
  if (::mq_receive(q.q(), buf, sizeof(buf), nullptr) != 1) return Verdict::Broken("mq_receive");
  // Unregistered now: another empty -> non-empty transition queues nothing.
  if (Hooks().mq_send(q.q(), "b", 1, 0) != 0) return Verdict::Broken("mq_send");
  if (::sigtimedwait(&blocked.set(), &si, &now) == sig) {
    return Verdict::Fail(
        absl::StrFormat("round %d: a second notification without registering again", round));
  }
  if (::mq_receive(q.q(), buf, sizeof(buf), nullptr) != 1) return Verdict::Broken("mq_receive");
  return Verdict::Pass();
}

class NotifyProperty final : public NamedProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const int sig = signal_.Of(s) == SIGUSR2 ? SIGUSR2 : SIGUSR1;
    MqQueue q(4, 64);
    if (!q.ok()) return NotOpened(q);
    BlockSignal blocked(sig);
    const Deadline deadline = CaseDeadline(env);
    for (int r = 1; r <= rounds_.Of(s); ++r) {
      if (Verdict v = NotifyRound(q, blocked, r, sig, value_.Of(s), nonempty_.Of(s), deadline);
          !v.ok()) {
        return v;
      }
    }
    return Verdict::Pass();
  }

  const Param<int> rounds_{this, 0, "rounds of register, notify, re-register: %s", 2,
                           rc::gen::inRange(1, 4)};
  const Param<int> value_{this, 1, "the notification's sigev_value is %s", 7,
                          rc::gen::inRange(0, 1000)};
  const Param<int> signal_{this,
                           2,
                           "the notification signal is %s",
                           SIGUSR1,
                           rc::gen::element<int>(SIGUSR1, SIGUSR2),
                           SaySignal};
  const YesNoParam nonempty_{
      this, 3, "each round registers on a queue holding a message and sends one more first: %s",
      false};
};
IPCSPEC_REGISTER_PROPERTY(NotifyProperty, "POSIX-MQ-NOTIFY",
                          {.applies = ForPosixMq, .examples = 10});

}  // namespace posix_mq_wait
}  // namespace
}  // namespace ipcspec::props
