// G-TIMEOUT-RACE: a message that comes as a bounded receive gives up is
// neither lost nor taken twice.
//
// A receive that times out has more to do after its sleep ends: cancel a
// read it had handed to the kernel (io_uring, AIO) or to a thread of its
// own, take back a reservation, unregister a waiter, take a last look. A
// message that comes then may be taken by the cancelled read, or the last
// look, and the receive still reports -ETIMEDOUT: the message is gone,
// though its send succeeded. Or it is reported and also left where the next
// receive takes it again. The window is a few system calls wide, at the
// very end of a bound, so a send at a random moment almost never lands in
// it.
//
// This property puts the send there. The reader's thread runs under a call
// gate (support/call_gate.h). Each step is a round: a receive with a bound
// of two time units on the empty channel, held at the entry of the i-th
// system call it makes once its bound has passed (i = 0, 1, 2, ...: the
// calls after its sleep), while the writer sends a message whole and every
// other thread of the reader's process (a thread of the transport, which
// the message woke) is asleep again. The walk ends at the first i the
// receive never reaches. Last, a receive of one time unit must find the
// channel empty.
//
// The oracle for each capability class:
//   every class   the held receive returns the round's message, or gives
//                 -ETIMEDOUT (or -EAGAIN) and the next receive (up to the
//                 deliver bound) returns it; nothing else, and no message
//                 twice: the final receive finds nothing. A counter: the
//                 read sums the add
//   lossy         the message may be lost (the round then counts as
//                 passed); one that comes twice still fails
//   byte stream   the message may come in parts: the rest is owed at once
//   realtime, peer-close, capacity, duplex   change nothing: one message a
//                 round into the empty channel, the writer's end speaks
//
// It needs seccomp user notification with WAIT_KILLABLE_RECV (Linux 5.19):
// without it the property does not apply.
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "ipcspec/proc.h"
#include "properties/generic/generic_property.h"
#include "properties/generic/wakeup.h"
#include "properties/support/call_gate.h"
#include "properties/support/common.h"

namespace ipcspec::props::wakeup {
namespace {
namespace g_timeout_race {

constexpr int kCalls = 16;           // the calls after the bound walked
constexpr int64_t kBoundUnits = 2;   // the bound of each receive
constexpr int kRounds = kCalls + 1;  // and a last one that stops the writer
// What the writer does in a round.
constexpr uint64_t kSend = 1, kStop = 2;

// Round r's flags: 2r the reader decided what the writer does (Act(r)),
// 2r+1 the writer sent. Counters: the writer's pid, each round's act, the
// round whose message the writer is sending (r + 1; 0: none).
size_t Decided(int r) { return 2 * static_cast<size_t>(r); }
size_t SentFlag(int r) { return 2 * static_cast<size_t>(r) + 1; }
constexpr size_t kPid = 0;
size_t Act(int r) { return 1 + static_cast<size_t>(r); }
constexpr size_t kSending = kRounds + 1;
constexpr size_t kFlags = 2 * kRounds;

void Decide(SharedFlags& flags, int r, uint64_t act) {
  flags.Counter(Act(r)).store(act);
  flags.Raise(Decided(r));
}

// The reader's side of the walk.
class Walker {
 public:
  Walker(End& end, const Capabilities& c, SharedFlags& flags, CallGate& gate, absl::Duration unit,
         int deliver_ms)
      : end_(end),
        c_(c),
        flags_(flags),
        gate_(gate),
        bound_ms_(static_cast<int>(
            absl::ToInt64Milliseconds(std::max(unit, absl::Milliseconds(1)) * kBoundUnits))),
        deliver_ms_(deliver_ms),
        messages_(end, c, deliver_ms) {}

  // Round r, the receive held at the `index`-th call it makes once its
  // bound has passed: "" or the failure; `*held` whether the hold came.
  std::string Play(int r, int index, bool* held) {
    const Sent want = MessageOf(c_, r);
    const int64_t bound_ends = MonotonicNs() + int64_t{bound_ms_} * 1000000;
    gate_.Arm(
        index,
        [&](long) {
          Decide(flags_, r, kSend);
          if (AwaitSent(r))
            AwaitOtherThreadsAsleep(Deadline::After(absl::Milliseconds(2 * bound_ms_)));
        },
        bound_ends);
    size_t got = 0;
    int rc = messages_.Receive(want, bound_ms_, &got);
    const CallGate::Calls calls = gate_.Disarm();
    *held = calls.held;
    if (!calls.held) {  // it made fewer calls after its bound: the walk ends
      Decide(flags_, r, kStop);
      return "";
    }
    const std::string where = absl::StrFormat(
        "round %d: %s, sent while the receive was held at the entry of its system call %d (%s), "
        "the %s it made after its %d ms bound had passed,",
        r + 1, Name(want), calls.held_at + 1, calls.NameOf(calls.held_at), Ordinal(index + 1),
        bound_ms_);
    if (rc == -ETIMEDOUT || rc == -EAGAIN) {
      rc = messages_.Receive(want, deliver_ms_, &got);
      if (rc == -ETIMEDOUT || rc == -EAGAIN) {
        if (!c_.reliable) return "";
        return absl::StrFormat(
            "%s never came: the receive gave -ETIMEDOUT, and the next one (%d ms) found nothing: "
            "a message taken as the receive gave up, and dropped. The receive's system calls: %s",
            where, deliver_ms_, calls.Names());
      }
    }
    if (rc != 0) return absl::StrFormat("%s: a receive gave %s", where, Errno(rc));
    if (!messages_.Matches(want, got)) {
      return absl::StrFormat("%s: a receive got %d bytes that are not it (a message taken twice?)",
                             where, got);
    }
    return "";
  }

  // After the walk: the channel is empty.
  std::string Quiet() {
    size_t got = 0;
    const int rc = end_.Recv(messages_.buffer(), &got, bound_ms_ / 2);
    if (rc != 0) return "";
    return absl::StrFormat(
        "once every round's message had been received, a receive got %d more bytes: a message "
        "that came as a receive gave up was delivered twice",
        got);
  }

 private:
  // Until the writer sent, sleeps in its send (a send that waits for this
  // receive) or the deliver bound passes. A sleep before its send began
  // (in the wait for this round's word) does not count.
  bool AwaitSent(int r) {
    const auto pid = static_cast<pid_t>(flags_.Counter(kPid).load());
    const AsleepWatch watch{
        .event =
            [&](int64_t us) {
              return flags_.WaitFor(SentFlag(r), Deadline::After(absl::Microseconds(us)), false);
            },
        .counts = [&] { return flags_.Counter(kSending).load() == static_cast<uint64_t>(r + 1); },
        .looks = 2};
    return WaitUntilAsleep(pid, Deadline::After(absl::Milliseconds(deliver_ms_)), watch) ==
           Asleep::kEvent;
  }
  End& end_;
  const Capabilities& c_;
  SharedFlags& flags_;
  CallGate& gate_;
  const int bound_ms_, deliver_ms_;
  RoundReceiver messages_;
};

// The reader: a round per step, each held at the step's call after the
// bound; "" or the failure.
std::string WalkAfterBound(End& end, const Capabilities& c, SharedFlags& flags, const CaseEnv& env,
                           const std::vector<int>& after_bound, int deliver_ms) {
  std::unique_ptr<CallGate> gate = CallGate::Install();
  if (gate == nullptr) {
    Decide(flags, 0, kStop);
    return CallGate::NotInstalled("the reader");
  }
  Walker walker(end, c, flags, *gate, env.time_unit, deliver_ms);
  int r = 0;
  for (const int k : after_bound) {
    bool held = false;
    std::string e = walker.Play(r++, k, &held);
    if (!e.empty()) {
      Decide(flags, r, kStop);
      return e;
    }
    if (!held) return walker.Quiet();  // the writer has stopped
  }
  Decide(flags, r, kStop);
  return walker.Quiet();
}

// The writer: round r's message when the reader asks for it.
std::string SendWhenHeld(End& end, const Capabilities& c, SharedFlags& flags, int deliver_ms,
                         const Deadline& deadline) {
  flags.Counter(kPid).store(static_cast<uint64_t>(::getpid()));
  for (int r = 0; r < kRounds; ++r) {
    if (!flags.WaitFor(Decided(r), deadline)) return "";
    const uint64_t act = flags.Counter(Act(r)).load();
    if (act == kStop) return "";
    if (act != kSend) continue;
    flags.Counter(kSending).store(static_cast<uint64_t>(r + 1));
    const std::string err = SendMessageOf(end, c, r, deliver_ms);
    flags.Counter(kSending).store(0);
    flags.Raise(SentFlag(r));
    if (!err.empty()) return absl::StrFormat("round %d: %s", r + 1, err);
  }
  return "";
}

class TimeoutRaceProperty final : public CallWalkProperty {
 public:
  TimeoutRaceProperty() : CallWalkProperty(kCalls) {}

 private:
  Applicability AppliesToCaps(const Capabilities&) const override { return CallGate::Applies(); }
  bool MostlyWaits() const override { return true; }
  // The calls after the bound, 0..kCalls-1.
  std::string DescribeCall(int index) const override {
    return absl::StrFormat(
        "the writer sends while a receive is held at the entry of the %s system call it makes "
        "after its bound has passed",
        Ordinal(index + 1));
  }
  Verdict Walk(const Transport& t, const CaseEnv& env,
               const std::vector<int>& after_bound) const override {
    SharedFlags flags(kFlags);
    const Deadline deadline = Deadline::After(env.deadline - absl::Now());
    const int deliver = Waits::For(env).deliver_ms;
    const Capabilities& c = t.caps();
    // The reader first: the last actor runs in the case process, which
    // must not carry the gate.
    Actor reader{"reader", Role::kReader, [&](std::unique_ptr<End>& end) {
                   return WalkAfterBound(*end, c, flags, env, after_bound, deliver);
                 }};
    Actor writer{"writer", Role::kWriter, [&](std::unique_ptr<End>& end) {
                   return SendWhenHeld(*end, c, flags, deliver, deadline);
                 }};
    return RunActors(t, env, {reader, writer});
  }
};
IPCSPEC_REGISTER_PROPERTY(TimeoutRaceProperty, "G-TIMEOUT-RACE", {.examples = 1});

}  // namespace g_timeout_race
}  // namespace
}  // namespace ipcspec::props::wakeup
