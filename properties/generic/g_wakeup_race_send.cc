// G-WAKEUP-RACE-SEND: room made while a send into a full channel is on its
// way to sleep, after it found no room and before it sleeps, still wakes
// it.
//
// The mirror of G-WAKEUP-RACE. A send that finds the channel full arms what
// wakes it (reads a sequence word it will sleep on, drains a notification
// descriptor, publishes that it waits) and sleeps. Room made between its
// check and that arming wakes nobody: a send that reads the word only as it
// goes to sleep, or empties its notification descriptor just before, then
// sleeps to its bound, or to its next look for a dead peer, with room in the
// channel. G-WAKEUP makes room only once the send is asleep.
//
// This property makes the room there. The writer fills the channel with
// sends that do not wait, then sends once more under a call gate
// (support/call_gate.h) that holds it at the entry of its system call i;
// while it is held the reader drains the channel. Then the call goes on.
// The steps walk i = 0, 1, 2, ...: every gap between two system calls of
// the send, up to the one it sleeps in. The walk ends at the first i the
// send never reaches (it returned, or slept in an earlier call, which the
// drain then wakes as G-WAKEUP's does). A first round held nowhere comes
// before the walk, so that what a send does only once is done.
//
// The room is owed at once: the send must return within a sixteenth of its
// bound (12.5 ms at the default unit) after the drain, not counting the time
// the writer's threads (the gate's among them) then spent runnable but
// waiting for a CPU. Late at some i, the round is tried twice more there and
// two late tries of three fail.
//
// The oracle for each capability class (G-WAKEUP's for a blocked send):
//   a channel that fills   the send held in the gap completes within the
//                          allowance after the drain (a stream: with some
//                          bytes); one that gives up at its bound is late.
//                          Where no capacity or max_queued is declared the
//                          fill is 64 sends of 4096 bytes (or max_message):
//                          a channel they do not fill ends the walk at once
//   counter                does not apply: no send ever waits for room
//   realtime               no: a POLLED transport's allowance is
//                          --hang-grace more
//   peer-close, lossy, duplex, multi-writer   change nothing: one writer,
//                          one send a round that waits for room
//
// It needs seccomp user notification with WAIT_KILLABLE_RECV (Linux 5.19):
// without it the property does not apply.
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/generic/generic_property.h"
#include "properties/generic/wakeup.h"
#include "properties/support/call_gate.h"
#include "properties/support/common.h"
#include "properties/support/run_mark.h"

namespace ipcspec::props::wakeup {
namespace {
namespace g_wakeup_race_send {

constexpr int kCalls = 16;  // the system calls of one send walked
constexpr int kTries = 3;   // at a call with a late round: two late decide
constexpr int kMaxRounds = kCalls * kTries + 1;

// The size of the fill's messages and of the held send: one an empty
// channel takes; where no bound is declared, 4096 bytes (or max_message),
// so that the fill's 64 sends can reach a socket's buffer.
uint64_t FillMessageSize(const Capabilities& c) {
  if (CanFill(c)) return RoomSendSize(c);
  return c.max_message > 0 ? std::min<uint64_t>(4096, c.max_message) : 4096;
}

class Writer {
 public:
  Writer(End& end, const Capabilities& c, const Exchange& x, GapRounds& race, int deliver_ms)
      : end_(end),
        x_(x),
        race_(race),
        deliver_ms_(deliver_ms),
        msg_(Payload(1, 0, FillMessageSize(c))),
        c_(c) {}

  // Round r: the channel filled, then a send held before its call `index`.
  GapRound Play(CallGate& gate, int r, int index) {
    GapRound out;
    const int fill = FillWithoutWaiting(end_, c_, msg_);
    if (fill != -EAGAIN) {
      out.ends = true;
      if (fill != 0) out.err = absl::StrFormat("round %d: filling: %s", r + 1, Errno(fill));
      return out;
    }
    race_.Arm(gate, r, index, deliver_ms_);
    size_t n = 0;
    const int rc = end_.Send(msg_, &n, x_.bound_ms());
    const int64_t returned_ns = MonotonicNs();
    out.calls = gate.Disarm();
    out.held = out.calls.held;
    const RunMark returned{returned_ns, RunMark::Stop().queued_ns};
    out.late_us = race_.LateUs(r, returned);
    if (out.late_us < 0) {
      out.err = absl::StrFormat("round %d: the reader never drained the channel", r + 1);
    } else if (rc == -ETIMEDOUT || rc == -EAGAIN) {
      out.timed_out = true;
    } else if (rc != 0) {
      out.err =
          absl::StrFormat("round %d: the send into the drained channel gave %s", r + 1, Errno(rc));
    } else if (c_.framing == Framing::kMessage && n != msg_.size()) {
      out.err = absl::StrFormat("round %d: the send took %d of %d bytes", r + 1, n, msg_.size());
    }
    return out;
  }

 private:
  End& end_;
  const Exchange& x_;
  GapRounds& race_;
  int deliver_ms_;
  std::vector<std::byte> msg_;
  const Capabilities& c_;
};

std::string LateSendFailure(const Exchange& x, int index, const std::vector<GapRound>& late,
                            int tries) {
  const GapRound& first = late.front();
  return absl::StrFormat(
      "the send into the full channel was held at the entry of its system call %d (%s) while the "
      "reader drained the channel; the send returned %.1f ms after the drain%s (allowed: %.1f "
      "ms; its bound: %d ms), late in %d of %d tries: a wake-up lost between the send's look for "
      "room and its sleep. The send's system calls: %s",
      index + 1, first.calls.NameOf(index), first.late_us / 1e3,
      first.timed_out ? ", giving up at its bound" : "", x.per_channel_allowed_us() / 1e3,
      x.bound_ms(), late.size(), tries, first.calls.Names());
}

// The writer: a round per step, each held at the step's call.
std::string WalkTheSendGaps(End& end, const Capabilities& c, const Exchange& x, GapRounds& race,
                            const std::vector<int>& indices, int deliver_ms) {
  Writer writer(end, c, x, race, deliver_ms);
  return WalkRounds(
      race, "the writer", indices, kCalls * kTries, x.per_channel_allowed_us(),
      [&](CallGate& gate, int r, int index) { return writer.Play(gate, r, index); },
      [&](int index, const std::vector<GapRound>& late, int tries) {
        return LateSendFailure(x, index, late, tries);
      });
}

// The reader: drains the channel once the writer is held, a round at a
// time; then what is left.
std::string DrainInTheGaps(End& end, const Capabilities& c, const Exchange& x, GapRounds& race) {
  race.PublishActor();
  std::vector<std::byte> buf(std::max<uint64_t>(DrainBufferSize(c), 8));
  for (int r = 0; r < kMaxRounds; ++r) {
    race.AwaitHoldOrSleep(r, x.bound_ms() / 2);
    // Until a receive would block (a fill past the drain's own count is
    // taken in several), or END: a writer whose fill was never refused has
    // closed, the walk over.
    int rc = 0;
    for (int k = 0; k < 64 && rc == 0; ++k) rc = DrainWithoutBlocking(end, c, buf);
    race.Acted(r);
    if (rc != -EAGAIN && rc != kEnd && rc != -ECONNRESET) {
      return absl::StrFormat("round %d: draining: %s", r + 1, Errno(rc));
    }
    if (race.Stopped(r)) break;
  }
  // The writer may have closed by now: END then ends the drain. What is
  // left past the drain's count is left.
  const int rc = DrainWithoutBlocking(end, c, buf);
  return rc == 0 || rc == -EAGAIN || rc == kEnd || rc == -ECONNRESET
             ? ""
             : absl::StrCat("draining at the end: ", Errno(rc));
}

class WakeupRaceSendProperty final : public CallWalkProperty {
 public:
  WakeupRaceSendProperty() : CallWalkProperty(kCalls) {}

 private:
  Applicability AppliesToCaps(const Capabilities& c) const override {
    if (c.model == ModelClass::kCounter) return Needs(false, "model=counter (a send never waits)");
    return CallGate::Applies();
  }
  std::string DescribeCall(int index) const override {
    return absl::StrFormat(
        "the reader drains the full channel while the writer's send is held at the entry of its "
        "system call %d",
        index + 1);
  }
  Verdict Walk(const Transport& t, const CaseEnv& env,
               const std::vector<int>& indices) const override {
    const Capabilities& c = t.caps();
    const Exchange x(env, c.realtime);
    GapRounds race(kMaxRounds, Deadline::After(env.deadline - absl::Now()));
    const int deliver = Waits::For(env).deliver_ms;
    // The writer first: the last actor runs in the case process, which
    // must not carry the gate.
    Actor writer{"writer", Role::kWriter, [&](std::unique_ptr<End>& end) {
                   return WalkTheSendGaps(*end, c, x, race, indices, deliver);
                 }};
    Actor reader{"reader", Role::kReader,
                 [&](std::unique_ptr<End>& end) { return DrainInTheGaps(*end, c, x, race); }};
    return RunActors(t, env, {writer, reader});
  }
};
IPCSPEC_REGISTER_PROPERTY(WakeupRaceSendProperty, "G-WAKEUP-RACE-SEND", {.examples = 1});

}  // namespace g_wakeup_race_send
}  // namespace
}  // namespace ipcspec::props::wakeup
