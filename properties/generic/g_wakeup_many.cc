// G-WAKEUP's layouts with several writers (the property: g_wakeup.cc):
// a receive woken while two other writers sleep in receives of their own
// (kAmongSleepers), and two sends woken by one drain (kRoomForTwo) or by
// one receive of a message twice their size (kOneForTwo).
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/generic/wakeup.h"

namespace ipcspec::props::wakeup {
namespace {

constexpr size_t kAsleepAside = 2;  // kAmongSleepers: the writers asleep beside the reader

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

}  // namespace

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

namespace {

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
// both sleep in a send until the reader's one drain (`one_receive`: its
// one receive of a message twice their size), and note when it returned.
// A channel that never fills is not judged.
std::string SleepForRoom(End& end, const Capabilities& c, Rooms& rooms, size_t w, const Exchange& x,
                         const Deadline& deadline, bool one_receive) {
  const uint64_t size = one_receive ? OneForTwoSize(c) : TwoSendSize(c);
  const std::vector<std::byte> data = Payload(static_cast<uint32_t>(w + 1), 0, size);
  const std::vector<std::byte> fill = one_receive ? Payload(1, 1, 2 * size) : data;
  rooms.Counter(Rooms::kPid + w).store(static_cast<uint64_t>(::getpid()));
  for (int r = 0; r < kRounds; ++r) {
    std::string err;
    if (w == 0) {
      const int rc = FillWithoutWaiting(end, c, fill);
      if (rc != -EAGAIN) rooms.Counter(Rooms::kNoFill).store(1);
      if (rc != -EAGAIN && rc != 0) {
        err = absl::StrFormat("filling the channel with %d-byte sends: %s", fill.size(), Errno(rc));
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
      return absl::StrFormat("round %d: the send gave %s though the reader %s while it slept",
                             r + 1, Errno(rc),
                             one_receive ? "took a message twice its size" : "drained the channel");
    }
    if (!rooms.WaitFor(r, Rooms::kNext, deadline) || rooms.Counter(Rooms::kAgain).load() == 0) {
      return "";
    }
  }
  return "";
}

// kRoomForTwo, the reader: drains everything (`one_receive`: takes one
// message) once both writers sleep in their sends, then everything once
// both returned; a round is as late as the later of the two.
std::string DrainForTwo(End& end, const Capabilities& c, Rooms& rooms, const Exchange& x,
                        const Deadline& deadline, bool one_receive) {
  std::vector<std::byte> buf(std::max<uint64_t>(RecvBufferSize(c), 65536));
  const char* what =
      one_receive ? "the later of the two sends, after one receive" : "the later of the two sends";
  Tally tally(x);
  for (int r = 0; r < kRounds; ++r) {
    for (size_t w = 0; w < 2; ++w) {
      if (!rooms.WaitFor(r, Rooms::kGoing + w, deadline)) return "";
      const auto pid = static_cast<pid_t>(rooms.Counter(Rooms::kPid + w).load());
      WaitUntilAsleep(pid, Deadline::After(absl::Milliseconds(x.bound_ms() / 2)));
    }
    const bool judged = rooms.Counter(Rooms::kNoFill).load() == 0;
    size_t took = 0;
    const int rc = one_receive ? end.Recv(buf, &took, 0) : DrainWithoutBlocking(end, c, buf);
    const int64_t drained = MonotonicNs();
    int64_t late = 0;
    for (size_t w = 0; w < 2; ++w) {
      if (!rooms.WaitFor(r, Rooms::kReturned + w, deadline)) return "";
      const auto at = static_cast<int64_t>(rooms.Counter(Rooms::kReturnedNs + w).load());
      late = std::max(late, std::max<int64_t>(at - drained, 0) / 1000);
    }
    DrainWithoutBlocking(end, c, buf);
    std::string err;
    if (judged && !one_receive && rc != -EAGAIN) {
      err = absl::StrFormat("draining the channel without blocking: %s, not -EAGAIN", Errno(rc));
    } else if (judged && one_receive && (rc != 0 || took != 2 * OneForTwoSize(c))) {
      err = absl::StrFormat(
          "a receive without waiting from the channel full of %d-byte messages gave %s (%d "
          "bytes)",
          2 * OneForTwoSize(c), Errno(rc), took);
    }
    const bool again = judged && err.empty() && tally.Add(late);
    rooms.Counter(Rooms::kAgain).store(again ? 1 : 0);
    rooms.Raise(r, Rooms::kNext);
    if (!again) return !err.empty() ? err : judged ? tally.Failure(what) : "";
  }
  return tally.Failure(what);
}

}  // namespace

Verdict RunRoomForTwo(const Transport& t, const CaseEnv& env, const Exchange& x, bool one_receive) {
  const Capabilities& c = t.caps();
  const Deadline deadline = Deadline::After(env.deadline - absl::Now());
  Rooms rooms;
  std::vector<Actor> actors;
  for (size_t w = 0; w < 2; ++w) {
    actors.push_back(
        {absl::StrCat("writer ", w + 1), Role::kWriter, [&, w](std::unique_ptr<End>& end) {
           return SleepForRoom(*end, c, rooms, w, x, deadline, one_receive);
         }});
  }
  actors.push_back({"reader", Role::kReader, [&](std::unique_ptr<End>& end) {
                      return DrainForTwo(*end, c, rooms, x, deadline, one_receive);
                    }});
  return RunActors(t, env, std::move(actors));
}

namespace {

// kByReaderClose with two writers: flags (writer 1 filled the channel,
// writer w + 1 is about to send) and counters (the writers' pids, whether
// the channel never filled).
constexpr size_t kClosedFull = 0, kClosedGoing = 1;
constexpr size_t kClosedPid = 0, kClosedNoFill = 2;

// Writer w + 1: sleeps in a send into the channel writer 1 filled until
// the reader closes.
std::string SleepUntilClose(End& end, const Capabilities& c, SharedFlags& flags, size_t w,
                            Exchange& x, const Deadline& deadline) {
  const std::vector<std::byte> data = Payload(static_cast<uint32_t>(w + 1), 0, RoomSendSize(c));
  if (w == 0) {
    const int rc = FillWithoutWaiting(end, c, data);
    if (rc != -EAGAIN) flags.Counter(kClosedNoFill).store(1);
    flags.Raise(kClosedFull);
    if (rc != -EAGAIN && rc != 0) {
      return absl::StrFormat("filling the channel with %d-byte sends: %s", data.size(), Errno(rc));
    }
  } else if (!flags.WaitFor(kClosedFull, deadline)) {
    return "writer 1 never filled the channel";
  }
  flags.Counter(kClosedPid + w).store(static_cast<uint64_t>(::getpid()));
  x.Sleeps();
  flags.Raise(kClosedGoing + w);
  if (flags.Counter(kClosedNoFill).load() != 0) return "";  // nothing to judge
  size_t n = 0;
  const int rc = end.Send(data, &n, x.bound_ms());
  const int64_t late = x.LateUs(0, RunMark::Stop());
  x.NoteLate(late);
  return JudgeSendAtReaderClose(x, rc, late);
}

}  // namespace

Verdict RunReaderCloseForTwo(const Transport& t, const CaseEnv& env, Exchange& x) {
  const Capabilities& c = t.caps();
  const Deadline deadline = Deadline::After(env.deadline - absl::Now());
  SharedFlags flags(3);
  std::vector<Actor> actors;
  for (size_t w = 0; w < 2; ++w) {
    actors.push_back(
        {absl::StrCat("writer ", w + 1), Role::kWriter, [&, w](std::unique_ptr<End>& end) {
           return SleepUntilClose(*end, c, flags, w, x, deadline);
         }});
  }
  actors.push_back({"reader", Role::kReader, [&](std::unique_ptr<End>& end) -> std::string {
                      for (size_t w = 0; w < 2; ++w) {
                        if (!flags.WaitFor(kClosedGoing + w, deadline)) return "";
                        const auto pid = static_cast<pid_t>(flags.Counter(kClosedPid + w).load());
                        WaitUntilAsleep(pid, Deadline::After(absl::Milliseconds(x.bound_ms() / 2)));
                      }
                      end.reset();  // both writers asleep in their sends
                      x.Woke(0);
                      return "";
                    }});
  return RunActors(t, env, std::move(actors));
}

}  // namespace ipcspec::props::wakeup
