// G-WAKEUP: a call asleep because it cannot complete returns as soon as it
// can, not when its bound runs out. The other side waits until the sleeper
// is asleep in a system call (/proc: state S in a call, any call), makes the
// call completable, and notes the time; the sleeper notes when its call
// returned. A transport that misses a wake-up (a futex never woken, a
// condition signalled before the waiter waits, a poll that sleeps its whole
// timeout) hands the data over at the end of the bound, which passes every
// property that only counts what arrives.
//
// The property is about time, so it waits on the clock. A realtime
// transport's call may return at most half a time unit (2 ms at least)
// after the event (polled, not realtime: --hang-grace more), not counting
// the time the sleeper spent runnable but waiting for a CPU (from
// /proc/PID/schedstat: a missed wake-up is time asleep, a loaded machine's
// run queue is not the transport's); each sleeping call is bounded
// by 20 time units (at least 4 x that allowance). Up to 9 rounds run and
// the majority decides: noise in a few rounds is no bug, while a wait that
// polls instead of being woken is late in most of them. END, and the
// -EPIPE of a reader's close, come once to a channel: each of their rounds
// has a channel of its own and may be a sixteenth of the bound late (one
// that comes later than three quarters of the bound fails at once).
//
// The oracle for each capability class; what wakes whom:
//   every class         a blocked receive, by a message (counter: an add)
//   peer-close          a blocked receive, by the writer's close (END)
//   capacity or         a blocked send into a full channel, by the reader
//   max_queued,         draining it; with peer-close also by the reader's
//   not counter         close (any result but -ETIMEDOUT); where one message
//                       taken is sure room for one more (EXACT_CAPACITY, or
//                       max_queued alone), by the reader taking one
//                       message (a wake-up only once the channel is nearly
//                       empty, or only when it was full, is late); where
//                       not, the send after one message taken may time
//                       out, but not while a send without waiting, right
//                       after, finds room (a socket's POLLOUT, which waits
//                       for three quarters of the buffer, is no wake-up
//                       for room that a send can use)
//   lossy               a round whose message is lost does not count
//   duplex              alike: the writer's end speaks
//   duplex, several     a blocked receive, by a message, while two other
//   writers, reliable,  writers sleep in receives of their own (each sent
//   not counter         a request the reader never answers): a wake-up
//                       that reaches only the first sleepers (FUTEX_WAKE
//                       of too few, one condition for both directions)
//                       leaves the reader asleep. The other writers must
//                       receive nothing, since the reader sends nothing.
//   several writers,    two blocked sends into a full channel, by one
//   capacity or         drain that leaves room for both: a drain that
//   max_queued >= 2,    wakes one writer (a condition signalled, not
//   room not unknown    broadcast, or only when the channel stops being
//                       full) leaves the other asleep. Each send is a
//                       quarter of the capacity at most (half, with
//                       EXACT_CAPACITY), so both fit.
//   several writers,    two blocked sends of S bytes into a channel full
//   reliable messages,  of messages of 2S, by the reader taking one: a
//   EXACT_CAPACITY      receive that wakes one writer (FUTEX_WAKE 1, a
//                       semaphore posted once) leaves the other asleep
//                       while room for it is there, which a drain (a
//                       receive per message, each waking one) never shows.
//                       Not where a count of messages could be what the
//                       fill reached (one receive is then room for one).
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ipcspec/proc.h"
#include "properties/generic/generic_property.h"
#include "properties/generic/wakeup.h"
#include "properties/support/common.h"

namespace ipcspec::props::wakeup {
namespace {

enum Mode : uint64_t {
  kByMessage = 0,
  kByEnd = 1,
  kByRoom = 2,
  kByReaderClose = 3,
  kAmongSleepers = 4,
  kRoomForTwo = 5,
  kByOneReceive = 6,
  kRoomAfterOne = 7,
  kOneForTwo = 8
};
constexpr std::string_view kModes[] = {
    "a blocked receive is woken by a message",
    "a blocked receive is woken by the writer's close (END)",
    "a blocked send into a full channel is woken by the reader's drain",
    "a blocked send into a full channel is woken by the reader's close (EPIPE); where several "
    "writers may send, two blocked sends are",
    "a blocked receive is woken by a message while two other writers sleep in receives",
    "two blocked sends into a full channel are both woken by one drain",
    "a blocked send into a full channel is woken by the reader taking one message",
    "a blocked send into a full channel, after the reader took one message, either returns or, "
    "timed out, leaves no room a send without waiting takes",
    "two blocked sends into a full channel are both woken by the reader taking one message "
    "twice their size"};
// A reliable message channel that can be filled: the reader's taking one
// message is a known step (kByOneReceive, kRoomAfterOne).
bool FillsWithMessages(const Capabilities& c) {
  return CanFill(c) && c.framing == Framing::kMessage && c.reliable;
}
bool Applies(const Capabilities& c, Mode m) {
  switch (m) {
    case kByMessage:
      return true;
    case kByEnd:
      return c.peer_close;
    case kByRoom:
      return CanFill(c);
    case kByReaderClose:
      return c.peer_close && Applies(c, kByRoom);
    case kAmongSleepers:
      return c.direction == Direction::kDuplex && c.multi_writer && c.reliable &&
             c.model != ModelClass::kCounter;
    case kRoomForTwo:
      return c.multi_writer && CanFill(c) && c.overhead != Overhead::kUnknown &&
             c.max_queued != 1 && (c.capacity == 0 || c.capacity >= 4);
    case kByOneReceive:
      // One message taken is room for one more of its size: its bytes
      // exactly (EXACT_CAPACITY), or its place in a count.
      return FillsWithMessages(c) &&
             (c.overhead == Overhead::kNone || (c.max_queued > 0 && c.capacity == 0));
    case kRoomAfterOne:
      // Whether one message taken is room for one more is the transport's
      // to know: only a timeout that leaves room behind is judged.
      return FillsWithMessages(c) && !Applies(c, kByOneReceive);
    case kOneForTwo:
      // One message of 2S bytes taken is room for two of S: its bytes
      // exactly, and a count (if any) the fill cannot have reached.
      return c.multi_writer && FillsWithMessages(c) && c.overhead == Overhead::kNone &&
             OneForTwoSize(c) > 0 &&
             (c.max_queued == 0 || c.capacity / (2 * OneForTwoSize(c)) + 1 <= c.max_queued);
  }
  return false;
}

}  // namespace

std::string SleepUntilMessage(End& end, const Capabilities& c, Exchange& x,
                              const std::function<void()>& before_round) {
  std::vector<std::byte> buf(std::max<uint64_t>(RecvBufferSize(c), 8));
  Tally tally(x);
  bool gave_up = false;  // the last round's receive timed out (lossy)
  for (int r = 0; r < kRounds; ++r) {
    const Sent want = MessageOf(c, r);
    if (before_round) before_round();
    x.Go(r);
    size_t n = 0;
    int rc = end.Recv(buf, &n, x.bound_ms());
    const RunMark returned = RunMark::Stop();
    // A byte stream may hand the message over in parts: the first part is
    // the wake-up, the rest is owed at once.
    size_t got = rc == 0 ? n : 0;
    if (rc == 0 && c.framing == Framing::kStream && c.model != ModelClass::kCounter) {
      while (got < want.size && rc == 0) {
        rc = end.Recv(std::span(buf).subspan(got, want.size - got), &n, x.bound_ms());
        got += rc == 0 ? n : 0;
      }
    }
    const int64_t late = x.LateUs(r, returned);
    if ((rc == -ETIMEDOUT || rc == -EAGAIN) && !c.reliable) {
      x.Judge(r, true);  // lost, which a lossy transport may do: not counted
      gave_up = true;
      continue;
    }
    std::string err;
    if (rc != 0) {
      err = absl::StrFormat(
          "round %d: the receive gave %s after the writer sent %s into the "
          "channel it slept on",
          r + 1, Errno(rc), Name(want));
    } else if (c.model == ModelClass::kCounter) {
      uint64_t v = 0;
      std::memcpy(&v, buf.data(), std::min<size_t>(got, sizeof v));
      if (got != 8 || v == 0) err = absl::StrFormat("counter read %d bytes, value %d", got, v);
    } else if (!IsPayload(std::span(buf).first(got), want)) {
      err = absl::StrFormat("round %d: received %d bytes that are not %s", r + 1, got, Name(want));
      // gave_up is only ever set by an earlier round.
      const Sent before = gave_up ? MessageOf(c, r - 1) : want;
      if (gave_up && got >= before.size && IsPayload(std::span(buf).first(before.size), before)) {
        err = absl::StrFormat(
            "round %d: received %s, whose receive in round %d had given up after its bound: it "
            "was not lost but came only with the next send (a lost wake-up?)",
            r + 1, Name(before), r);
      }
    }
    gave_up = false;
    const bool again = err.empty() && tally.Add(late);
    x.Judge(r, again);
    if (!again) return err.empty() ? tally.Failure("the receive") : err;
  }
  return tally.Failure("the receive");
}

std::string SendMessageOf(End& end, const Capabilities& c, int r, int deliver_ms) {
  if (c.model != ModelClass::kCounter) return SendAll(end, MessageOf(c, r), c.framing, deliver_ms);
  uint64_t v = 1;
  size_t n = 0;
  const int rc = end.Send(std::as_bytes(std::span(&v, 1)), &n, deliver_ms);
  return rc == 0 ? "" : absl::StrCat("adding 1: ", Errno(rc));
}

std::string WakeByMessages(End& end, const Capabilities& c, Exchange& x, int deliver_ms) {
  for (int r = 0; r < kRounds; ++r) {
    if (!x.AwaitSleeper(r)) return absl::StrFormat("round %d: the reader never began", r + 1);
    const std::string err = SendMessageOf(end, c, r, deliver_ms);
    x.Woke(r);
    if (!err.empty() || !x.Again(r)) return err;
  }
  return "";
}

namespace {

// Judges what comes once, `late_us` after `event`: "" in time, else what
// `what` was ("END came").
std::string LateOnce(const Exchange& x, int64_t late_us, std::string_view what,
                     std::string_view event) {
  if (late_us <= x.outright_late_us()) return "";
  return absl::StrFormat(
      "%s %.1f ms after %s (allowed: %.1f ms, and no more than %.1f ms in most rounds; the "
      "call's bound: %d ms): a missed wake-up",
      what, late_us / 1e3, event, x.outright_late_us() / 1e3, x.per_channel_allowed_us() / 1e3,
      x.bound_ms());
}

// The reader, kByEnd: asleep in a receive until the writer closes.
std::string SleepUntilEnd(End& end, const Capabilities& c, Exchange& x) {
  x.Go(0);
  // The largest message's size: a transport may refuse any smaller buffer.
  std::vector<std::byte> buf(std::max<uint64_t>(RecvBufferSize(c), 8));
  size_t n = 0;
  const int64_t asleep_ns = MonotonicNs();
  const int rc = end.Recv(buf, &n, x.bound_ms());
  const RunMark returned = RunMark::Stop();
  const int64_t late = x.LateUs(0, returned);
  x.NoteLate(late);
  std::string err;
  if (rc == -ETIMEDOUT && returned.ns - asleep_ns < int64_t{x.bound_ms()} * 1000000) {
    // Not a wake-up missed: the bound itself ran short (G-TIMEOUT's).
    err = absl::StrFormat(
        "the receive gave -ETIMEDOUT after %.3f ms, before its bound of %d ms, where END was due "
        "(the only writer closed its end while it slept)",
        (returned.ns - asleep_ns) / 1e6, x.bound_ms());
  } else if (rc != kEnd) {
    err = absl::StrFormat(
        "the receive gave %s where END was due: the only writer closed its end "
        "while it slept",
        rc == 0 ? absl::StrFormat("%d bytes", n) : Errno(rc));
  } else if (late < 0) {
    err = "the writer never closed";
  } else {
    err = LateOnce(x, late, "END came", "the writer closed");
  }
  x.Judge(0, false);
  return err;
}

// The waker of kByEnd (the writer) and kByReaderClose (the reader): closes
// its end once the other side, `sleeper`, sleeps.
std::string CloseOnceAsleep(std::unique_ptr<End>& end, Exchange& x, std::string_view sleeper) {
  if (!x.AwaitSleeper(0)) return absl::StrFormat("the %s never began", sleeper);
  end.reset();
  x.Woke(0);
  x.Again(0);
  return "";
}

}  // namespace

uint64_t RoomSendSize(const Capabilities& c) {
  uint64_t size = c.capacity > 0 ? std::min<uint64_t>(4096, c.capacity) : 8;
  if (c.max_message > 0) size = std::min(size, c.max_message);
  return std::max<uint64_t>(size, c.framing == Framing::kStream ? 1 : 0);
}

uint64_t OneForTwoSize(const Capabilities& c) {
  uint64_t big = std::min<uint64_t>(c.capacity, 8192);
  if (c.max_message > 0) big = std::min(big, c.max_message);
  return big / 2;
}

uint64_t TwoSendSize(const Capabilities& c) {
  const uint64_t size = RoomSendSize(c);
  if (c.capacity == 0) return size;
  return std::min(size, c.capacity / (c.overhead == Overhead::kNone ? 2 : 4));
}

int DrainWithoutBlocking(End& end, const Capabilities& c, std::vector<std::byte>& buf) {
  int rc = 0;
  for (uint64_t k = 0; k < 4 * (c.capacity + c.max_queued) + 64 && rc == 0; ++k) {
    size_t n = 0;
    rc = end.Recv(buf, &n, 0);
  }
  return rc;
}

namespace {

// Fills the channel with non-blocking sends of `data` until it refuses one,
// then starts round r. False (with *err, "" if no failure) when it never
// refuses, which is G-BACKPRESSURE's business, not this one's: the round is
// then played out without a call to judge.
bool Fill(End& end, const Capabilities& c, const std::vector<std::byte>& data, Exchange& x, int r,
          std::string* err) {
  const int rc = FillWithoutWaiting(end, c, data);
  x.Go(r);
  if (rc == -EAGAIN) return true;
  x.LateUs(r, RunMark::Stop());  // the other side acts and moves on
  x.Judge(r, false);
  *err = rc == 0 ? ""
                 : absl::StrFormat("filling the channel with %d-byte sends: %s", data.size(),
                                   Errno(rc));
  return false;
}

// A send that timed out though the reader made room while it slept, `late`
// microseconds after the room came (less its wait for a CPU): whether it
// had time to take it. Room that came in the bound's last quarter (a
// reader slowed by a loaded machine), or a send that returned at once,
// whose bound ran out while it waited for a CPU, is no missed wake-up.
bool RoomCameWithTimeLeft(const Exchange& x, int64_t asleep_ns, int64_t late) {
  const int64_t left_us = (asleep_ns + int64_t{x.bound_ms()} * 1000000 - x.EventNs()) / 1000;
  return left_us > x.once_allowed_us() && late > x.allowed_us();
}

// The writer, kByRoom: fills the channel, then sleeps in a send until the
// reader has drained it.
std::string SleepUntilRoom(End& end, const Capabilities& c, Exchange& x) {
  const std::vector<std::byte> data = Payload(1, 0, RoomSendSize(c));
  Tally tally(x);
  for (int r = 0; r < kRounds; ++r) {
    std::string err;
    if (!Fill(end, c, data, x, r, &err)) return err;
    size_t n = 0;
    const int64_t asleep_ns = MonotonicNs();
    int rc = end.Send(data, &n, x.bound_ms());
    const int64_t late = x.LateUs(r, RunMark::Stop());
    if (rc == -ETIMEDOUT && late >= 0 && !RoomCameWithTimeLeft(x, asleep_ns, late)) {
      x.Judge(r, true);  // a round that judges nothing
      continue;
    }
    if (rc != 0) {
      err = absl::StrFormat(
          "round %d: the send gave %s though the reader made room for it "
          "while it slept",
          r + 1, Errno(rc));
    }
    const bool again = err.empty() && tally.Add(late);
    x.Judge(r, again);
    if (!again) return err.empty() ? tally.Failure("the send") : err;
  }
  return tally.Failure("the send");
}

// The writer, kRoomAfterOne: fills the channel, then sleeps in a send
// while the reader takes one message. Returning at all is in time (how
// late room came is unknown); timing out is too, unless a send of the
// same message without waiting, right after, takes it: then the room was
// there and nothing woke the sleeper.
std::string SleepUntilOneTaken(End& end, const Capabilities& c, Exchange& x) {
  const std::vector<std::byte> data = Payload(1, 0, RoomSendSize(c));
  constexpr int kTries = 3;
  for (int r = 0; r < kTries; ++r) {
    std::string err;
    if (!Fill(end, c, data, x, r, &err)) return err;
    size_t n = 0;
    const int rc = end.Send(data, &n, x.bound_ms());
    x.LateUs(r, RunMark::Stop());  // the reader took its message
    if (rc == -ETIMEDOUT && end.Send(data, &n, 0) == 0) {
      err = absl::StrFormat(
          "round %d: the send slept its whole bound of %d ms (-ETIMEDOUT) after the reader took "
          "a message, yet a send of the same %s without waiting, right after, took it: the room "
          "was there and nothing woke the sleeper",
          r + 1, x.bound_ms(), ByteCount(data.size()));
    } else if (rc != 0 && rc != -ETIMEDOUT) {
      err = absl::StrFormat("round %d: the send gave %s after the reader took a message", r + 1,
                            Errno(rc));
    }
    x.Judge(r, err.empty() && r + 1 < kTries);
    if (!err.empty()) return err;
  }
  return "";
}

// The reader, kByOneReceive: takes one message from the full channel once
// the writer sleeps (the send it wakes fills it again).
std::string WakeByOneReceive(End& end, const Capabilities& c, Exchange& x) {
  std::vector<std::byte> buf(std::max<uint64_t>(RecvBufferSize(c), 8));
  for (int r = 0; r < kRounds; ++r) {
    if (!x.AwaitSleeper(r)) return absl::StrFormat("round %d: the writer never began", r + 1);
    size_t n = 0;
    const int rc = end.Recv(buf, &n, 0);
    x.Woke(r);
    if (rc != 0) {
      x.Again(r);
      return absl::StrFormat("round %d: a receive (timeout 0) from the full channel gave %s", r + 1,
                             Errno(rc));
    }
    if (!x.Again(r)) return "";
  }
  return "";
}

// The reader, kByRoom: drains the full channel once the writer sleeps.
std::string WakeByDrain(End& end, const Capabilities& c, Exchange& x) {
  std::vector<std::byte> buf(std::max<uint64_t>(RecvBufferSize(c), 65536));
  for (int r = 0; r < kRounds; ++r) {
    if (!x.AwaitSleeper(r)) return absl::StrFormat("round %d: the writer never began", r + 1);
    const int rc = DrainWithoutBlocking(end, c, buf);
    x.Woke(r);
    if (rc != -EAGAIN) {
      x.Again(r);
      return absl::StrFormat("draining the channel without blocking: %s, not -EAGAIN", Errno(rc));
    }
    if (!x.Again(r)) return "";
  }
  return "";
}

// The writer, kByReaderClose: fills the channel, then sleeps in a send
// until the reader closes its end.
std::string SleepUntilReaderCloses(End& end, const Capabilities& c, Exchange& x) {
  const std::vector<std::byte> data = Payload(1, 0, RoomSendSize(c));
  std::string err;
  if (!Fill(end, c, data, x, 0, &err)) return err;
  size_t n = 0;
  const int rc = end.Send(data, &n, x.bound_ms());
  const int64_t late = x.LateUs(0, RunMark::Stop());
  x.NoteLate(late);
  err = JudgeSendAtReaderClose(x, rc, late);
  x.Judge(0, false);
  return err;
}

}  // namespace

std::string JudgeSendAtReaderClose(const Exchange& x, int rc, int64_t late) {
  std::string err;
  // Any result but a timeout: a socket may still take the bytes, a stream
  // may report its partial count.
  if (late < 0) {
    err = "the reader never closed";
  } else if (rc == -ETIMEDOUT || rc == -EAGAIN) {
    err = absl::StrFormat(
        "the send gave %s at its bound of %d ms though the reader closed its "
        "end while it slept: a missed wake-up",
        Errno(rc), x.bound_ms());
  } else {
    err = LateOnce(x, late, absl::StrFormat("the send returned (%s)", Errno(rc)),
                   "the reader closed");
  }
  return err;
}

namespace {

class WakeupProperty final : public GenericProperty {
  Applicability AppliesToCaps(const Capabilities&) const override { return Needs(true, ""); }
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const Capabilities c = t.caps();
    std::vector<uint64_t> modes;
    for (Mode m : {kByMessage, kByEnd, kByRoom, kByReaderClose, kAmongSleepers, kRoomForTwo,
                   kByOneReceive, kRoomAfterOne, kOneForTwo}) {
      if (Applies(c, m)) modes.push_back(m);
    }
    // Each layout in turn: a run of 10 examples sees every one (a bug that
    // one layout alone sees was missed by a quarter of the runs when each
    // example drew its layout).
    return rc::gen::map(EachInTurn(modes.size()), [this, modes](uint64_t i) {
      return std::vector<Step>{mode_.Step(modes[i])};
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const Capabilities& c = t.caps();
    const auto mode = static_cast<Mode>(mode_.Of(s));
    if (!Applies(c, mode)) {
      return Verdict::Broken(absl::StrFormat("not for %s: %s", t.name(), mode_.Name(mode)));
    }
    Exchange x(env, c.realtime);
    if (mode == kAmongSleepers) return RunAmongSleepers(t, env, x);
    if (mode == kRoomForTwo || mode == kOneForTwo) {
      return RunRoomForTwo(t, env, x, mode == kOneForTwo);
    }
    if (mode == kByEnd || mode == kByReaderClose) return RunOnEachChannel(t, env, mode, x);
    return RunTwo(t, env, mode, x);
  }

  // A close comes once to a channel: each round is a channel of its own,
  // and the first outcome to a majority (Tally) decides, as the rounds of
  // one channel do. A round that fails outright (no wake-up until the
  // bound, later than outright_late_us) is the verdict at once. `judge`
  // lends its allowances only; each round has an Exchange of its own.
  static Verdict RunOnEachChannel(const Transport& t, const CaseEnv& env, Mode mode,
                                  const Exchange& judge) {
    Tally tally(judge, judge.per_channel_allowed_us());
    for (;;) {
      Exchange x(env, t.caps().realtime);
      if (Verdict v = RunTwo(t, env, mode, x); !v.ok()) return v;
      // Nothing judged: the channel took every send (G-BACKPRESSURE's).
      if (x.noted_late_us() < 0) return Verdict::Pass();
      if (!tally.Add(x.noted_late_us())) break;
    }
    const std::string err = tally.Failure(
        mode == kByEnd ? "reader: the receive asleep until its only writer closed (END; a channel "
                         "each round)"
                       : "writer: the send asleep in the full channel until the reader closed (a "
                         "channel each round)");
    return err.empty() ? Verdict::Pass() : Verdict::Fail(err);
  }

  // The two-party layouts, on one channel.
  static Verdict RunTwo(const Transport& t, const CaseEnv& env, Mode mode, Exchange& x) {
    const Capabilities& c = t.caps();
    if (mode == kByReaderClose && c.multi_writer) return RunReaderCloseForTwo(t, env, x);
    const int deliver = Waits::For(env).deliver_ms;
    Actor writer{"writer", Role::kWriter, [&](std::unique_ptr<End>& end) -> std::string {
                   if (mode == kByEnd) return CloseOnceAsleep(end, x, "reader");
                   if (mode == kByRoom || mode == kByOneReceive) return SleepUntilRoom(*end, c, x);
                   if (mode == kRoomAfterOne) return SleepUntilOneTaken(*end, c, x);
                   if (mode == kByReaderClose) return SleepUntilReaderCloses(*end, c, x);
                   return WakeByMessages(*end, c, x, deliver);
                 }};
    Actor reader{"reader", Role::kReader, [&](std::unique_ptr<End>& end) -> std::string {
                   if (mode == kByEnd) return SleepUntilEnd(*end, c, x);
                   if (mode == kByRoom) return WakeByDrain(*end, c, x);
                   if (mode == kByOneReceive || mode == kRoomAfterOne) {
                     return WakeByOneReceive(*end, c, x);
                   }
                   if (mode == kByReaderClose) return CloseOnceAsleep(end, x, "writer");
                   return SleepUntilMessage(*end, c, x);
                 }};
    return RunActors(t, env, {writer, reader});
  }

  const ChoiceParam<uint64_t> mode_{this, 0, "%s", kByMessage, kModes};
};
IPCSPEC_REGISTER_PROPERTY(WakeupProperty, "G-WAKEUP", {.examples = 10});

}  // namespace
}  // namespace ipcspec::props::wakeup
