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
// after the event (polled, not realtime: --hang-grace more); each sleeping call is bounded
// by 20 time units (at least 4 x that allowance). Up to 9 rounds run and
// the majority decides: noise in a few rounds is no bug, while a wait that
// polls instead of being woken is late in most of them. END comes once and
// has a quarter of the bound.
//
// The oracle for each capability class; what wakes whom:
//   every class         a blocked receive, by a message (counter: an add)
//   peer-close          a blocked receive, by the writer's close (END)
//   capacity or         a blocked send into a full channel, by the reader
//   max_queued,         draining it; with peer-close also by the reader's
//   not counter         close (any result but -ETIMEDOUT, once)
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
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ipcspec/proc.h"
#include "properties/generic/generic_property.h"
#include "properties/support/common.h"

namespace ipcspec::props {
namespace {

enum Mode : uint64_t {
  kByMessage = 0,
  kByEnd = 1,
  kByRoom = 2,
  kByReaderClose = 3,
  kAmongSleepers = 4,
  kRoomForTwo = 5
};
constexpr std::string_view kModes[] = {
    "a blocked receive is woken by a message",
    "a blocked receive is woken by the writer's close (END)",
    "a blocked send into a full channel is woken by the reader's drain",
    "a blocked send into a full channel is woken by the reader's close (EPIPE)",
    "a blocked receive is woken by a message while two other writers sleep in receives",
    "two blocked sends into a full channel are both woken by one drain"};
constexpr size_t kAsleepAside = 2;  // kAmongSleepers: the writers asleep beside the reader
constexpr int kRounds = 9;
constexpr size_t kMajority = kRounds / 2 + 1;
constexpr int64_t kUnitsBound = 20;

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
  }
  return false;
}

// The shared state of the two sides: round r's flags are 3r (the sleeper
// is about to call), 3r+1 (the waker acted, at Counter(kEventNs)) and 3r+2
// (the sleeper judged the round; Counter(kAgain) != 0 asks for another).
class Exchange {
 public:
  Exchange(const CaseEnv& env, bool realtime)
      : flags_(3 * kRounds + 4), deadline_(Deadline::After(env.deadline - absl::Now())) {
    const int64_t unit_us = std::max<int64_t>(absl::ToInt64Microseconds(env.time_unit), 1000);
    allowed_us_ = std::max<int64_t>(unit_us / 2, 2000);  // 2 ms at least: scheduling
    if (!realtime) allowed_us_ += absl::ToInt64Microseconds(env.hang_grace) + unit_us;
    bound_ms_ = std::max(kUnitsBound * unit_us, 4 * allowed_us_) / 1000;
  }

  // The sleeper: announces round r, with its pid.
  void Go(int r) {
    flags_.Counter(kPid).store(static_cast<uint64_t>(::getpid()));
    flags_.Raise(3 * r);
  }
  // The waker: waits for round r's sleeper to be asleep in a call (or, for
  // a call that never sleeps, half the bound: it is judged on its return).
  bool AwaitSleeper(int r) {
    if (!flags_.WaitFor(3 * r, deadline_)) return false;
    const auto pid = static_cast<pid_t>(flags_.Counter(kPid).load());
    WaitUntilAsleep(pid, Deadline::After(absl::Milliseconds(bound_ms_ / 2)));
    return true;
  }
  // The waker: its act is done.
  void Woke(int r) {
    flags_.Counter(kEventNs).store(static_cast<uint64_t>(MonotonicNs()));
    flags_.Raise(3 * r + 1);
  }
  // The sleeper, its call returned at `returned_ns`: how many microseconds
  // after the waker's act (0 if before; -1 if the act never came).
  int64_t LateUs(int r, int64_t returned_ns) const {
    if (!flags_.WaitFor(3 * r + 1, deadline_)) return -1;
    const auto event = static_cast<int64_t>(flags_.Counter(kEventNs).load());
    return std::max<int64_t>(returned_ns - event, 0) / 1000;
  }
  // The sleeper's verdict on round r, which the waker reads (true: again).
  void Judge(int r, bool again) {
    flags_.Counter(kAgain).store(again ? 1 : 0);
    flags_.Raise(3 * r + 2);
  }
  bool Again(int r) const {
    return flags_.WaitFor(3 * r + 2, deadline_) && flags_.Counter(kAgain).load() != 0;
  }

  int bound_ms() const { return static_cast<int>(bound_ms_); }
  int64_t allowed_us() const { return allowed_us_; }
  // For what comes once (END, a close): no majority to take, so a quarter
  // of the bound.
  int64_t once_allowed_us() const { return std::max<int64_t>(allowed_us_, bound_ms_ * 1000 / 4); }

 private:
  static constexpr size_t kPid = 0, kEventNs = 1, kAgain = 2;
  SharedFlags flags_;
  Deadline deadline_;
  int64_t allowed_us_ = 0, bound_ms_ = 0;
};

// The message of round r: 8 bytes, or the largest message there is.
Sent MessageOf(const Capabilities& c, int r) {
  const uint64_t size = c.max_message == 0 ? 8 : std::min<uint64_t>(8, c.max_message);
  return {1, static_cast<uint64_t>(r), size};
}

// The sleeper's count of rounds in time and late; the first to a majority
// decides.
class Tally {
 public:
  explicit Tally(const Exchange& x) : x_(x) {}
  // Records one round (-1: the other side never acted); true while
  // undecided.
  bool Add(int64_t late_us) {
    if (late_us < 0) {
      broken_ = true;
      return false;
    }
    (late_us > x_.allowed_us() ? late_ : on_time_).push_back(late_us);
    return late_.size() < kMajority && on_time_.size() < kMajority;
  }
  // "" or the failure: the late rounds, for `what` ("the receive").
  std::string Failure(std::string_view what) const {
    if (broken_) return "the other side never acted";
    if (late_.size() < kMajority) return "";
    std::string each;
    for (int64_t us : late_)
      absl::StrAppendFormat(&each, "%s%.1f", each.empty() ? "" : ", ", us / 1e3);
    return absl::StrFormat(
        "%s returned %s ms after it could complete, late in %d of %d rounds (allowed: %.1f ms; "
        "its bound: %d ms): a missed wake-up, or a wait that polls",
        what, each, late_.size(), late_.size() + on_time_.size(), x_.allowed_us() / 1e3,
        x_.bound_ms());
  }

 private:
  const Exchange& x_;
  std::vector<int64_t> late_, on_time_;
  bool broken_ = false;
};

// The reader, kByMessage: asleep in a receive until the message comes;
// `before_round`, if given, runs before each round's call.
std::string SleepUntilMessage(End& end, const Capabilities& c, Exchange& x,
                              const std::function<void()>& before_round = nullptr) {
  std::vector<std::byte> buf(std::max<uint64_t>(RecvBufferSize(c), 8));
  Tally tally(x);
  bool gave_up = false;  // the last round's receive timed out (lossy)
  for (int r = 0; r < kRounds; ++r) {
    const Sent want = MessageOf(c, r);
    if (before_round) before_round();
    x.Go(r);
    size_t n = 0;
    int rc = end.Recv(buf, &n, x.bound_ms());
    const int64_t returned = MonotonicNs();
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

// The writer, kByMessage: sends each round's message once the reader sleeps.
std::string WakeByMessages(End& end, const Capabilities& c, Exchange& x, int deliver_ms) {
  for (int r = 0; r < kRounds; ++r) {
    if (!x.AwaitSleeper(r)) return absl::StrFormat("round %d: the reader never began", r + 1);
    std::string err;
    if (c.model == ModelClass::kCounter) {
      uint64_t v = 1;
      size_t n = 0;
      const int rc = end.Send(std::as_bytes(std::span(&v, 1)), &n, deliver_ms);
      if (rc != 0) err = absl::StrCat("adding 1: ", Errno(rc));
    } else {
      err = SendAll(end, MessageOf(c, r), c.framing, deliver_ms);
    }
    x.Woke(r);
    if (!err.empty() || !x.Again(r)) return err;
  }
  return "";
}

// Judges what comes once, `late_us` after `event`: "" in time, else what
// `what` was ("END came").
std::string LateOnce(const Exchange& x, int64_t late_us, std::string_view what,
                     std::string_view event) {
  if (late_us <= x.once_allowed_us()) return "";
  return absl::StrFormat(
      "%s %.1f ms after %s (allowed: %.1f ms; the call's bound: %d ms): a "
      "missed wake-up",
      what, late_us / 1e3, event, x.once_allowed_us() / 1e3, x.bound_ms());
}

// The reader, kByEnd: asleep in a receive until the writer closes.
std::string SleepUntilEnd(End& end, const Capabilities& c, Exchange& x) {
  x.Go(0);
  // The largest message's size: a transport may refuse any smaller buffer.
  std::vector<std::byte> buf(std::max<uint64_t>(RecvBufferSize(c), 8));
  size_t n = 0;
  const int64_t asleep_ns = MonotonicNs();
  const int rc = end.Recv(buf, &n, x.bound_ms());
  const int64_t returned_ns = MonotonicNs();
  const int64_t late = x.LateUs(0, returned_ns);
  std::string err;
  if (rc == -ETIMEDOUT && returned_ns - asleep_ns < int64_t{x.bound_ms()} * 1000000) {
    // Not a wake-up missed: the bound itself ran short (G-TIMEOUT's).
    err = absl::StrFormat(
        "the receive gave -ETIMEDOUT after %.3f ms, before its bound of %d ms, where END was due "
        "(the only writer closed its end while it slept)",
        (returned_ns - asleep_ns) / 1e6, x.bound_ms());
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

// kByRoom: the size of each send, which an empty channel always takes.
uint64_t RoomSendSize(const Capabilities& c) {
  uint64_t size = c.capacity > 0 ? std::min<uint64_t>(4096, c.capacity) : 8;
  if (c.max_message > 0) size = std::min(size, c.max_message);
  return std::max<uint64_t>(size, c.framing == Framing::kStream ? 1 : 0);
}

// kRoomForTwo: the size of each send, so that two fit in a drained channel
// (a quarter of the capacity; with no overhead, half).
uint64_t TwoSendSize(const Capabilities& c) {
  const uint64_t size = RoomSendSize(c);
  if (c.capacity == 0) return size;
  return std::min(size, c.capacity / (c.overhead == Overhead::kNone ? 2 : 4));
}

// Non-blocking sends of `data` until one is refused: -EAGAIN, or 0 when the
// channel took far more than its declared bounds (G-BACKPRESSURE's
// business), or the error.
int FillWith(End& end, const Capabilities& c, const std::vector<std::byte>& data) {
  const uint64_t most = 4 * (c.capacity / std::max<size_t>(data.size(), 1) + c.max_queued) + 64;
  int rc = 0;
  for (uint64_t k = 0; k < most && rc == 0; ++k) {
    size_t n = 0;
    rc = end.Send(data, &n, 0);
  }
  return rc;
}

// Non-blocking receives until one would block: its result (-EAGAIN), or
// the error that came first.
int DrainWithoutBlocking(End& end, const Capabilities& c, std::vector<std::byte>& buf) {
  int rc = 0;
  for (uint64_t k = 0; k < 4 * (c.capacity + c.max_queued) + 64 && rc == 0; ++k) {
    size_t n = 0;
    rc = end.Recv(buf, &n, 0);
  }
  return rc;
}

// Fills the channel with non-blocking sends of `data` until it refuses one,
// then starts round r. False (with *err, "" if no failure) when it never
// refuses, which is G-BACKPRESSURE's business, not this one's: the round is
// then played out without a call to judge.
bool Fill(End& end, const Capabilities& c, const std::vector<std::byte>& data, Exchange& x, int r,
          std::string* err) {
  const int rc = FillWith(end, c, data);
  x.Go(r);
  if (rc == -EAGAIN) return true;
  x.LateUs(r, MonotonicNs());  // the other side acts and moves on
  x.Judge(r, false);
  *err = rc == 0 ? ""
                 : absl::StrFormat("filling the channel with %d-byte sends: %s", data.size(),
                                   Errno(rc));
  return false;
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
    int rc = end.Send(data, &n, x.bound_ms());
    const int64_t late = x.LateUs(r, MonotonicNs());
    if (rc != 0) {
      err = absl::StrFormat(
          "round %d: the send gave %s though the reader drained the channel "
          "while it slept",
          r + 1, Errno(rc));
    }
    const bool again = err.empty() && tally.Add(late);
    x.Judge(r, again);
    if (!again) return err.empty() ? tally.Failure("the send") : err;
  }
  return tally.Failure("the send");
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
  const int64_t late = x.LateUs(0, MonotonicNs());
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
  x.Judge(0, false);
  return err;
}

// kAmongSleepers, writer 2 + k: sends a request of 8 bytes, then sleeps in
// a receive for an answer that never comes, until the case process kills it
// (or its bound, the case's deadline, runs out). It must receive nothing.
std::string SleepAside(End& end, const Capabilities& c, ActorPids& pids, size_t k,
                       const Deadline& deadline, int deliver_ms) {
  const Sent request{static_cast<uint32_t>(k + 2), 0, 8};
  std::string err = SendAll(end, request, c.framing, deliver_ms);
  if (!err.empty()) return absl::StrCat("sending its request: ", err);
  pids.Publish(k);
  std::vector<std::byte> buf(std::max<uint64_t>(RecvBufferSize(c), 8));
  size_t n = 0;
  const int rc = end.Recv(buf, &n, std::max(deadline.RemainingMs(), 1));
  if (rc != 0) return "";  // its bound, or END or an error once the reader closed
  return absl::StrFormat(
      "its receive gave %d bytes (%s), though the reader sent nothing: what "
      "another writer sent arrived at a writer's end",
      n,
      absl::CEscape(
          std::string(reinterpret_cast<const char*>(buf.data()), std::min<size_t>(n, 16))));
}

// kAmongSleepers, the reader: takes the other writers' requests, then sleeps
// in each round's receive only once both of them sleep in theirs.
std::string SleepAmongSleepers(End& end, const Capabilities& c, Exchange& x, const ActorPids& pids,
                               const Deadline& deadline, int deliver_ms) {
  std::vector<std::byte> buf(std::max<uint64_t>(RecvBufferSize(c), 8));
  // A stream: their 16 bytes, in whatever cut; messages: one each.
  size_t got = 0;
  for (size_t k = 0; k < kAsleepAside && c.framing != Framing::kStream; ++k) {
    size_t n = 0;
    const int rc = end.Recv(buf, &n, deliver_ms);
    if (rc != 0) return absl::StrFormat("receiving the other writers' requests: %s", Errno(rc));
  }
  while (c.framing == Framing::kStream && got < 8 * kAsleepAside) {
    size_t n = 0;
    const int rc = end.Recv(std::span(buf).first(8 * kAsleepAside - got), &n, deliver_ms);
    if (rc != 0) return absl::StrFormat("receiving the other writers' requests: %s", Errno(rc));
    got += n;
  }
  return SleepUntilMessage(end, c, x, [&] {
    for (size_t k = 0; k < kAsleepAside; ++k) pids.AwaitAsleep(k, deadline);
  });
}

// kAmongSleepers: writer 1 wakes the reader, writers 2 and 3 sleep aside
// and are killed once the reader is done.
Verdict RunAmongSleepers(const Transport& t, const CaseEnv& env, Exchange& x) {
  const Capabilities& c = t.caps();
  const int deliver = Waits::For(env).deliver_ms;
  const Deadline deadline = Deadline::After(env.deadline - absl::Now());
  ActorPids pids(kAsleepAside);
  SharedFlags done(1);
  std::vector<Actor> actors{{"writer 1", Role::kWriter, [&](std::unique_ptr<End>& end) {
                               return WakeByMessages(*end, c, x, deliver);
                             }}};
  for (size_t k = 0; k < kAsleepAside; ++k) {
    actors.push_back(
        {absl::StrCat("writer ", k + 2), Role::kWriter, [&, k](std::unique_ptr<End>& end) {
           return SleepAside(*end, c, pids, k, deadline, deliver);
         }});
  }
  actors.push_back({"reader", Role::kReader, [&](std::unique_ptr<End>& end) {
                      std::string err = SleepAmongSleepers(*end, c, x, pids, deadline, deliver);
                      done.Raise(0);
                      return err;
                    }});
  return RunActors(t, env, std::move(actors), [&](ActorControl& control) {
    done.WaitFor(0, deadline);
    Verdict v = Verdict::Pass();
    for (size_t k = 0; k < kAsleepAside; ++k) {
      Verdict killed = control.Kill(absl::StrCat("writer ", k + 2));
      if (v.ok() && !killed.ok()) v = std::move(killed);
    }
    return v;
  });
}

// kRoomForTwo: round r's flags (kFlagsPerRound each: the channel is full,
// writer w is about to send, writer w's send returned, the reader judged)
// and the writers' counters (w = 0, 1).
class Rooms {
 public:
  static constexpr size_t kFull = 0, kGoing = 1, kReturned = 3, kNext = 5, kFlagsPerRound = 6;
  static constexpr size_t kPid = 0, kReturnedNs = 2, kAgain = 4, kNoFill = 5;
  Rooms() : flags_(kFlagsPerRound * kRounds) {}
  void Raise(int r, size_t f) { flags_.Raise(Index(r, f)); }
  bool WaitFor(int r, size_t f, const Deadline& d) const { return flags_.WaitFor(Index(r, f), d); }
  std::atomic<uint64_t>& Counter(size_t c) const { return flags_.Counter(c); }

 private:
  static size_t Index(int r, size_t f) { return kFlagsPerRound * static_cast<size_t>(r) + f; }
  SharedFlags flags_;
};

// kRoomForTwo, writer w + 1: each round, writer 1 fills the channel; then
// both sleep in a send until the reader's one drain, and note when it
// returned. A channel that never fills is not judged.
std::string SleepForRoom(End& end, const Capabilities& c, Rooms& rooms, size_t w, const Exchange& x,
                         const Deadline& deadline) {
  const std::vector<std::byte> data = Payload(static_cast<uint32_t>(w + 1), 0, TwoSendSize(c));
  rooms.Counter(Rooms::kPid + w).store(static_cast<uint64_t>(::getpid()));
  for (int r = 0; r < kRounds; ++r) {
    std::string err;
    if (w == 0) {
      const int rc = FillWith(end, c, data);
      if (rc != -EAGAIN) rooms.Counter(Rooms::kNoFill).store(1);
      if (rc != -EAGAIN && rc != 0) {
        err = absl::StrFormat("filling the channel with %d-byte sends: %s", data.size(), Errno(rc));
      }
      rooms.Raise(r, Rooms::kFull);
    } else if (!rooms.WaitFor(r, Rooms::kFull, deadline)) {
      return "writer 1 never filled the channel";
    }
    rooms.Raise(r, Rooms::kGoing + w);
    size_t n = 0;
    const bool judged = err.empty() && rooms.Counter(Rooms::kNoFill).load() == 0;
    const int rc = judged ? end.Send(data, &n, x.bound_ms()) : 0;
    rooms.Counter(Rooms::kReturnedNs + w).store(static_cast<uint64_t>(MonotonicNs()));
    rooms.Raise(r, Rooms::kReturned + w);
    if (!err.empty()) return err;
    if (rc != 0) {
      return absl::StrFormat(
          "round %d: the send gave %s though the reader drained the channel while it slept", r + 1,
          Errno(rc));
    }
    if (!rooms.WaitFor(r, Rooms::kNext, deadline) || rooms.Counter(Rooms::kAgain).load() == 0) {
      return "";
    }
  }
  return "";
}

// kRoomForTwo, the reader: drains everything once both writers sleep in
// their sends, then again once both returned; a round is as late as the
// later of the two.
std::string DrainForTwo(End& end, const Capabilities& c, Rooms& rooms, const Exchange& x,
                        const Deadline& deadline) {
  std::vector<std::byte> buf(std::max<uint64_t>(RecvBufferSize(c), 65536));
  Tally tally(x);
  for (int r = 0; r < kRounds; ++r) {
    for (size_t w = 0; w < 2; ++w) {
      if (!rooms.WaitFor(r, Rooms::kGoing + w, deadline)) return "";
      const auto pid = static_cast<pid_t>(rooms.Counter(Rooms::kPid + w).load());
      WaitUntilAsleep(pid, Deadline::After(absl::Milliseconds(x.bound_ms() / 2)));
    }
    const bool judged = rooms.Counter(Rooms::kNoFill).load() == 0;
    const int rc = DrainWithoutBlocking(end, c, buf);
    const int64_t drained = MonotonicNs();
    int64_t late = 0;
    for (size_t w = 0; w < 2; ++w) {
      if (!rooms.WaitFor(r, Rooms::kReturned + w, deadline)) return "";
      const auto at = static_cast<int64_t>(rooms.Counter(Rooms::kReturnedNs + w).load());
      late = std::max(late, std::max<int64_t>(at - drained, 0) / 1000);
    }
    DrainWithoutBlocking(end, c, buf);
    std::string err;
    if (judged && rc != -EAGAIN) {
      err = absl::StrFormat("draining the channel without blocking: %s, not -EAGAIN", Errno(rc));
    }
    const bool again = judged && err.empty() && tally.Add(late);
    rooms.Counter(Rooms::kAgain).store(again ? 1 : 0);
    rooms.Raise(r, Rooms::kNext);
    if (!again)
      return !err.empty() ? err : judged ? tally.Failure("the later of the two sends") : "";
  }
  return tally.Failure("the later of the two sends");
}

Verdict RunRoomForTwo(const Transport& t, const CaseEnv& env, const Exchange& x) {
  const Capabilities& c = t.caps();
  const Deadline deadline = Deadline::After(env.deadline - absl::Now());
  Rooms rooms;
  std::vector<Actor> actors;
  for (size_t w = 0; w < 2; ++w) {
    actors.push_back(
        {absl::StrCat("writer ", w + 1), Role::kWriter, [&, w](std::unique_ptr<End>& end) {
           return SleepForRoom(*end, c, rooms, w, x, deadline);
         }});
  }
  actors.push_back({"reader", Role::kReader, [&](std::unique_ptr<End>& end) {
                      return DrainForTwo(*end, c, rooms, x, deadline);
                    }});
  return RunActors(t, env, std::move(actors));
}

class WakeupProperty final : public GenericProperty {
  Applicability AppliesToCaps(const Capabilities&) const override { return Needs(true, ""); }
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const Capabilities c = t.caps();
    std::vector<uint64_t> modes;
    for (Mode m : {kByMessage, kByEnd, kByRoom, kByReaderClose, kAmongSleepers, kRoomForTwo}) {
      if (Applies(c, m)) modes.push_back(m);
    }
    return rc::gen::map(rc::gen::elementOf(modes),
                        [this](uint64_t m) { return std::vector<Step>{mode_.Step(m)}; });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const Capabilities& c = t.caps();
    const auto mode = static_cast<Mode>(mode_.Of(s));
    if (!Applies(c, mode)) {
      return Verdict::Broken(absl::StrFormat("not for %s: %s", t.name(), mode_.Name(mode)));
    }
    Exchange x(env, c.realtime);
    if (mode == kAmongSleepers) return RunAmongSleepers(t, env, x);
    if (mode == kRoomForTwo) return RunRoomForTwo(t, env, x);
    const int deliver = Waits::For(env).deliver_ms;
    Actor writer{"writer", Role::kWriter, [&](std::unique_ptr<End>& end) -> std::string {
                   if (mode == kByEnd) return CloseOnceAsleep(end, x, "reader");
                   if (mode == kByRoom) return SleepUntilRoom(*end, c, x);
                   if (mode == kByReaderClose) return SleepUntilReaderCloses(*end, c, x);
                   return WakeByMessages(*end, c, x, deliver);
                 }};
    Actor reader{"reader", Role::kReader, [&](std::unique_ptr<End>& end) -> std::string {
                   if (mode == kByEnd) return SleepUntilEnd(*end, c, x);
                   if (mode == kByRoom) return WakeByDrain(*end, c, x);
                   if (mode == kByReaderClose) return CloseOnceAsleep(end, x, "writer");
                   return SleepUntilMessage(*end, c, x);
                 }};
    return RunActors(t, env, {writer, reader});
  }

  const ChoiceParam<uint64_t> mode_{this, 0, "%s", kByMessage, kModes};
};
IPCSPEC_REGISTER_PROPERTY(WakeupProperty, "G-WAKEUP", {.examples = 10});

}  // namespace
}  // namespace ipcspec::props
