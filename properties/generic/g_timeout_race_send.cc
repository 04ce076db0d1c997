// G-TIMEOUT-RACE-SEND: a bounded send that gives up as room comes says
// truly what it sent.
//
// The mirror of G-TIMEOUT-RACE. A send into a full channel that times out
// has more to do after its sleep ends: withdraw the message from a thread
// of its own or from the kernel (io_uring, AIO), take back a reservation, a
// last look for room. If the reader makes room then, the message may go in
// after all, and the send must say so: a send that reports -ETIMEDOUT for a
// message that arrives has its caller send it again (twice delivered), and
// one that reports it sent when it was withdrawn loses it.
//
// Each step is a round. The writer fills the channel (sends that do not
// block until one is refused; a channel that takes 16 MiB, or 65,536
// sends, is not filled and the property has nothing to judge), then makes
// a send of two time units, held at the entry of the i-th system call it
// makes once its bound has passed (i = 0, 1, 2, ...). While it is held the
// reader drains the channel, and every other thread of the writer's process
// (a thread of the transport, which the room woke) sleeps again; then the
// call goes on. The walk ends at the first i the send never reaches. After
// each round the reader takes what is left, and a receive of one time unit
// must find nothing more.
//
// The oracle for each capability class:
//   message       the held send's message arrives once if the send gave 0,
//                 never if it gave -ETIMEDOUT (or any error)
//   byte stream   what arrives is the fill and exactly the bytes the send
//                 reported (none with -ETIMEDOUT); it sends 4 KiB
//   reliable      the fill and a message reported sent all arrive; lossy:
//                 no more than was reported, never the timed-out message
//   counter       does not apply: an add waits only near 2^64
//   capacity, max_queued, realtime, peer-close, duplex   change nothing: the
//                 fill finds the edge, the writer's end speaks
//
// It needs seccomp user notification with WAIT_KILLABLE_RECV (Linux 5.19):
// without it the property does not apply.
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_format.h"
#include "ipcspec/proc.h"
#include "properties/generic/generic_property.h"
#include "properties/generic/wakeup.h"
#include "properties/support/call_gate.h"
#include "properties/support/common.h"

namespace ipcspec::props::wakeup {
namespace {
namespace g_timeout_race_send {

constexpr int kCalls = 16;          // the calls after the bound walked
constexpr int64_t kBoundUnits = 2;  // the bound of each held send
// A channel that takes more, or more sends, without refusing never fills.
constexpr uint64_t kFillBytes = uint64_t{16} << 20, kFillSends = uint64_t{1} << 16;
constexpr size_t kStreamFill = 64 * 1024, kStreamSend = 4096;
constexpr uint32_t kFiller = 1, kHeld = 2;  // the payloads' writer numbers

// Round r's flags: 5r the writer filled the channel (or found it never
// fills), 5r+1 the reader is to drain it (the held send asks for room, or
// the send returned without a hold), 5r+2 the reader drained it, 5r+3 the
// send returned, 5r+4 the reader judged the round. Counters: what the
// round's fill and send moved, and whether the walk ends.
size_t Filled(int r) { return 5 * static_cast<size_t>(r); }
size_t Drain(int r) { return 5 * static_cast<size_t>(r) + 1; }
size_t Drained(int r) { return 5 * static_cast<size_t>(r) + 2; }
size_t Returned(int r) { return 5 * static_cast<size_t>(r) + 3; }
size_t Judged(int r) { return 5 * static_cast<size_t>(r) + 4; }
constexpr size_t kFlags = 5 * kCalls;
constexpr size_t kFillMoved = 0, kNeverFull = 1, kRc = 2, kSentBytes = 3, kHeldAt = 4, kStop = 5,
                 kHeldNr = 6, kReaderPid = 7, kDraining = 8;

// The sizes of the fill's sends and of the held send.
size_t FillSize(const Capabilities& c) {
  if (c.framing == Framing::kStream) return kStreamFill;
  return static_cast<size_t>(
      std::clamp<uint64_t>(c.max_message == 0 ? 4096 : c.max_message, 1, 4096));
}
size_t HeldSize(const Capabilities& c) {
  return c.framing == Framing::kStream ? kStreamSend : FillSize(c);
}

// The writer's side.
class Sender {
 public:
  Sender(End& end, const Capabilities& c, SharedFlags& flags, CallGate& gate, absl::Duration unit,
         int deliver_ms, const Deadline& deadline)
      : end_(end),
        c_(c),
        flags_(flags),
        gate_(gate),
        bound_ms_(static_cast<int>(
            absl::ToInt64Milliseconds(std::max(unit, absl::Milliseconds(1)) * kBoundUnits))),
        deliver_ms_(deliver_ms),
        deadline_(deadline) {}

  // Round r, the send held at the `index`-th call it makes once its bound
  // has passed: false when the walk ends (the channel never fills, the hold
  // never came, or the reader failed the round).
  bool Play(int r, int index) {
    if (!Fill()) {
      flags_.Counter(kNeverFull).store(1);
      flags_.Raise(Filled(r));
      return false;
    }
    flags_.Raise(Filled(r));
    const std::vector<std::byte> msg = Payload(kHeld, static_cast<uint64_t>(r), HeldSize(c_));
    gate_.Arm(
        index,
        [&](long) {
          flags_.Raise(Drain(r));
          if (AwaitDrained(r)) {
            AwaitOtherThreadsAsleep(Deadline::After(absl::Milliseconds(2 * bound_ms_)));
          }
        },
        MonotonicNs() + int64_t{bound_ms_} * 1000000);
    size_t n = 0;
    const int rc = end_.Send(msg, &n, bound_ms_);
    const CallGate::Calls calls = gate_.Disarm();
    flags_.Counter(kRc).store(static_cast<uint64_t>(static_cast<int64_t>(rc)));
    flags_.Counter(kSentBytes).store(rc == 0 ? n : 0);
    flags_.Counter(kHeldAt).store(static_cast<uint64_t>(calls.held_at + 1));
    const auto at = static_cast<size_t>(calls.held_at);
    flags_.Counter(kHeldNr).store(static_cast<uint64_t>(
        calls.held && at < calls.numbers.size() ? calls.numbers[at] : long{-2}));
    if (!calls.held) {
      flags_.Counter(kStop).store(1);
      flags_.Raise(Drain(r));  // what is left is taken all the same
    }
    flags_.Raise(Returned(r));
    // The next round fills the channel once the reader has taken this one's.
    return flags_.WaitFor(Judged(r), deadline_) && flags_.Counter(kStop).load() == 0;
  }

 private:
  // Until the reader drained the channel, or sleeps while it drains (it
  // waits for something the held send holds, a lock say: the send must go
  // on first), or the deliver bound passes. True when it drained.
  bool AwaitDrained(int r) const {
    const auto reader = static_cast<pid_t>(flags_.Counter(kReaderPid).load());
    const Deadline d = Deadline::After(absl::Milliseconds(deliver_ms_));
    if (reader <= 0) return flags_.WaitFor(Drained(r), d, false);
    const AsleepWatch watch{
        .event =
            [&](int64_t us) {
              return flags_.WaitFor(Drained(r), Deadline::After(absl::Microseconds(us)), false);
            },
        .counts = [&] { return flags_.Counter(kDraining).load() == static_cast<uint64_t>(r + 1); },
        .looks = 2};
    return WaitUntilAsleep(reader, d, watch) == Asleep::kEvent;
  }
  // Sends without blocking until one is refused: false when 16 MiB, or
  // 65,536 sends, went in without a refusal.
  bool Fill() {
    uint64_t moved = 0;
    for (uint64_t sends = 0; moved < kFillBytes && sends < kFillSends; ++sends) {
      const std::vector<std::byte> m = Payload(kFiller, sends, FillSize(c_));
      size_t n = 0;
      if (end_.Send(m, &n, 0) != 0) {
        flags_.Counter(kFillMoved).store(moved);
        return true;
      }
      moved += n;
    }
    return false;
  }

  End& end_;
  const Capabilities& c_;
  SharedFlags& flags_;
  CallGate& gate_;
  const int bound_ms_, deliver_ms_;
  const Deadline deadline_;
};

// What the reader took in a round.
struct Taken {
  uint64_t bytes = 0;
  bool held_message = false;  // the held send's message, whole
};

// The reader's side.
class Drainer {
 public:
  Drainer(End& end, const Capabilities& c, SharedFlags& flags, int deliver_ms, absl::Duration unit)
      : end_(end),
        c_(c),
        flags_(flags),
        deliver_ms_(deliver_ms),
        quiet_ms_(
            static_cast<int>(absl::ToInt64Milliseconds(std::max(unit, absl::Milliseconds(1))))),
        buf_(std::max<uint64_t>(RecvBufferSize(c), kStreamFill)) {}

  // Round r: "" or the failure; *stop when the walk ends.
  std::string Play(int r, const Deadline& deadline, bool* stop) {
    *stop = true;
    if (!flags_.WaitFor(Filled(r), deadline) || flags_.Counter(kNeverFull).load() != 0) return "";
    Taken taken;
    // Room while the send is held (or, if the hold never came, once it
    // returned).
    if (!flags_.WaitFor(Drain(r), deadline)) return "";
    flags_.Counter(kDraining).store(static_cast<uint64_t>(r + 1));
    TakeAll(r, taken, 0);
    flags_.Counter(kDraining).store(0);
    flags_.Raise(Drained(r));
    if (!flags_.WaitFor(Returned(r), deadline)) return "";
    const int rc = static_cast<int>(static_cast<int64_t>(flags_.Counter(kRc).load()));
    const uint64_t sent = flags_.Counter(kSentBytes).load();
    const uint64_t owed = flags_.Counter(kFillMoved).load() + sent;
    // What is left, waiting for what is owed; then one quiet receive.
    TakeAll(r, taken, 0);
    while (c_.reliable && taken.bytes < owed && TakeOne(r, taken, deliver_ms_)) {
    }
    TakeAll(r, taken, quiet_ms_);
    std::string e = Judge(r, rc, sent, owed, taken);
    if (!e.empty()) flags_.Counter(kStop).store(1);
    *stop = flags_.Counter(kStop).load() != 0;
    flags_.Raise(Judged(r));
    return e;
  }

 private:
  // Receives until one gives nothing, each waiting up to `timeout_ms`.
  void TakeAll(int r, Taken& taken, int timeout_ms) {
    while (TakeOne(r, taken, timeout_ms)) {
    }
  }
  bool TakeOne(int r, Taken& taken, int timeout_ms) {
    size_t n = 0;
    if (end_.Recv(buf_, &n, timeout_ms) != 0) return false;
    if (c_.framing != Framing::kStream && n == HeldSize(c_) &&
        IsPayload(std::span(buf_).first(n), {kHeld, static_cast<uint64_t>(r), n})) {
      taken.held_message = true;
    }
    taken.bytes += n;
    return n > 0 || c_.framing != Framing::kStream;
  }
  std::string Judge(int r, int rc, uint64_t sent, uint64_t owed, const Taken& taken) const {
    const auto held_at = static_cast<int>(flags_.Counter(kHeldAt).load());
    const auto nr = static_cast<long>(static_cast<int64_t>(flags_.Counter(kHeldNr).load()));
    const std::string where =
        held_at > 0
            ? absl::StrFormat(
                  "round %d: a %d-unit send into the full channel, held at the entry of its "
                  "system call %d (%s) after its bound had passed while the reader made room,",
                  r + 1, kBoundUnits, held_at, SyscallName(nr))
            : absl::StrFormat("round %d: a %d-unit send into the full channel", r + 1, kBoundUnits);
    if (rc != 0 && rc != -ETIMEDOUT) return absl::StrFormat("%s gave %s", where, Errno(rc));
    if (c_.framing != Framing::kStream) {
      if (rc != 0 && taken.held_message) {
        return absl::StrFormat(
            "%s gave -ETIMEDOUT, and its message arrived all the same: the caller, told it was "
            "not sent, sends it again",
            where);
      }
      if (rc == 0 && c_.reliable && !taken.held_message) {
        return absl::StrFormat("%s gave 0, and its message never came", where);
      }
    }
    if (taken.bytes > owed || (c_.reliable && taken.bytes < owed)) {
      return absl::StrFormat(
          "%s gave %s having reported %d bytes sent; the reader got %d bytes in all, %s the fill "
          "and what the send reported (%d)",
          where, rc == 0 ? "0" : Errno(rc), sent, taken.bytes,
          taken.bytes > owed ? "more than" : "less than", owed);
    }
    return "";
  }

  End& end_;
  const Capabilities& c_;
  SharedFlags& flags_;
  const int deliver_ms_, quiet_ms_;
  std::vector<std::byte> buf_;
};

class TimeoutRaceSendProperty final : public CallWalkProperty {
 public:
  TimeoutRaceSendProperty() : CallWalkProperty(kCalls) {}

 private:
  Applicability AppliesToCaps(const Capabilities& c) const override {
    if (c.model == ModelClass::kCounter)
      return Needs(false, "model=counter (an add waits only near 2^64)");
    return CallGate::Applies();
  }
  bool MostlyWaits() const override { return true; }
  // The calls after the bound, 0..kCalls-1.
  std::string DescribeCall(int index) const override {
    return absl::StrFormat(
        "the reader makes room while a send into the full channel is held at the entry of the "
        "%s system call it makes after its bound has passed",
        Ordinal(index + 1));
  }
  Verdict Walk(const Transport& t, const CaseEnv& env,
               const std::vector<int>& after_bound) const override {
    SharedFlags flags(kFlags);
    const Deadline deadline = Deadline::After(env.deadline - absl::Now());
    const int deliver = Waits::For(env).deliver_ms;
    const Capabilities& c = t.caps();
    const int rounds = static_cast<int>(after_bound.size());
    // The writer first: the last actor runs in the case process, which
    // must not carry the gate.
    Actor writer{"writer", Role::kWriter, [&](std::unique_ptr<End>& end) -> std::string {
                   std::unique_ptr<CallGate> gate = CallGate::Install();
                   if (gate == nullptr) {
                     flags.Counter(kNeverFull).store(1);
                     flags.Raise(Filled(0));
                     return CallGate::NotInstalled("the writer");
                   }
                   Sender sender(*end, c, flags, *gate, env.time_unit, deliver, deadline);
                   for (int r = 0; r < rounds; ++r) {
                     if (!sender.Play(r, after_bound[static_cast<size_t>(r)])) break;
                   }
                   return "";
                 }};
    Actor reader{"reader", Role::kReader, [&](std::unique_ptr<End>& end) -> std::string {
                   flags.Counter(kReaderPid).store(static_cast<uint64_t>(::getpid()));
                   Drainer drainer(*end, c, flags, deliver, env.time_unit);
                   for (int r = 0; r < rounds; ++r) {
                     bool stop = false;
                     std::string e = drainer.Play(r, deadline, &stop);
                     if (!e.empty() || stop) return e;
                   }
                   return "";
                 }};
    return RunActors(t, env, {writer, reader});
  }
};
IPCSPEC_REGISTER_PROPERTY(TimeoutRaceSendProperty, "G-TIMEOUT-RACE-SEND", {.examples = 1});

}  // namespace g_timeout_race_send
}  // namespace
}  // namespace ipcspec::props::wakeup
