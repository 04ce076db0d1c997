// G-DUPLEX: on a duplex transport both ends send at once and each end gets
// exactly what the other sent: generated traffic in rounds, from the
// writer's end and the reader's end together.
//
// In each round both ends send their batch, then receive the other's, then
// wait until the other end has all of theirs. A batch is at most 8 messages
// and 32 KiB (less when capacity or max_queued is smaller), so a transport
// buffers it while both ends are sending. Where neither capacity nor
// max_queued is declared, nothing says the two batches fit at once (two
// directions may share one small buffer): there a send that finds no room
// first reads what the other end has sent, and waits for room one time unit
// at a time, reading again in between, so that neither end waits on a send
// while the other's messages fill the channel unread. The writer's end
// speaks first: the reader's end starts its first batch once something has
// arrived (a datagram reader answers the last sender, plugin.h). In some
// examples the two ends are two threads of one process (plugin.h allows a
// process both ends, each used by its own thread), so a transport that
// keeps an end's descriptors once per process, not once per end, crosses
// them.
//
// The oracle for each direction and capability class (generic/oracle.h):
//   reliable + ordered  that direction's exact sequence, round by round
//   ordered only        a subsequence; each end ends its batch with end
//                       markers, re-sent while it waits (one round only)
//   unordered           a sub-multiset (reliable: all of each batch)
//   byte stream         the exact bytes of each batch, any chunking
//   one-way             skipped (G-DIRECTION: the wrong way is refused)
//   counter             no two directions: both ends share the one
//                       counter. The writer's end adds its values, then
//                       the reader's end adds its own, and a recv at one
//                       of them (either, as drawn) takes the sum of both
//                       (a counter per direction gives back one end's)
//   peer-close          neither end closes until both are done; then
//                       nothing more arrives at the reader's end
//   realtime or not     alike: a lost marker costs one time unit
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "properties/generic/generic_property.h"
#include "properties/generic/oracle.h"
#include "properties/generic/traffic.h"

namespace ipcspec::props {
namespace {
namespace g_duplex {

constexpr uint32_t kForward = 1, kBack = 2;  // writer ids of the two directions
constexpr int kMaxIdle = 64;                 // quiet receives before a lossy end gives up
constexpr size_t kBatchMessages = 8;

// Flag 2 * round + dir: the end receiving direction `dir` (0 forward, 1
// back) has all of that round.
size_t Done(size_t round, uint32_t id) { return 2 * round + (id == kForward ? 0 : 1); }

struct Side {
  uint32_t send_id, recv_id;
  std::vector<std::vector<Sent>> send, recv;  // batches by round
};

std::vector<std::vector<Sent>> Batches(std::vector<Sent> all, size_t rounds) {
  std::vector<std::vector<Sent>> out(rounds);
  const size_t per = (all.size() + rounds - 1) / std::max<size_t>(rounds, 1);
  for (size_t i = 0; i < all.size(); ++i) {
    out[std::min(i / std::max<size_t>(per, 1), rounds - 1)].push_back(all[i]);
  }
  return out;
}

class DuplexProperty final : public GenericProperty {
  Applicability AppliesToCaps(const Capabilities& c) const override {
    if (c.direction != Direction::kDuplex) {
      return Needs(false, "direction=one-way (see G-DIRECTION)");
    }
    if (c.model == ModelClass::kCounter) return SummableIfCounter(c);
    return Needs(c.reliable || c.framing == Framing::kMessage,
                 "framing=stream without reliable (a prefix-only stream has no rounds)");
  }
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override;
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override;
  // A counter's two ends: both add, one takes the sum of both.
  Verdict RunSharedCounter(const Transport& t, const Scenario& s, const CaseEnv& env) const;

  // `together`: the other end is a sibling thread, which the watch board
  // does not see, so waits for it are not published as waits for a peer.
  static std::string Play(std::unique_ptr<End>& end, const Capabilities& c, const Side& side,
                          bool speaks_first, const Waits& waits, SharedFlags& flags,
                          const Deadline& deadline, bool together = false);
  static std::string ReceiveBatch(End& end, const Capabilities& c, const Side& side, size_t r,
                                  bool until_first, Expectation& e, const Waits& waits,
                                  SharedFlags& flags);
  // Sends m where no room is promised (see above), reading the other end's
  // messages of round r into e while there is none.
  static std::string SendMakingRoom(End& end, const Capabilities& c, const Sent& m, size_t r,
                                    Expectation& e, const Waits& waits);

  const Param<uint64_t> rounds_{this, 0, "%s rounds", 1};
  const YesNoParam together_{
      this, 1, "the two ends are two threads of one process, each end its own: %s", false};
  const YesNoParam reader_takes_{this, 2, "(a counter) the reader's end takes the sum: %s", false};
};
IPCSPEC_REGISTER_PROPERTY(DuplexProperty, "G-DUPLEX");

rc::Gen<std::vector<Step>> DuplexProperty::Steps(const Transport& t) const {
  const Capabilities c = t.caps();
  if (c.model == ModelClass::kCounter) {
    return rc::gen::exec([this] {
      std::vector<Step> steps;
      if (*rc::gen::arbitrary<bool>()) steps.push_back(reader_takes_.Step(true));
      for (uint32_t actor : {1u, 0u}) {
        const uint64_t n = *rc::gen::inRange<uint64_t>(1, 4);
        for (uint64_t i = 0; i < n; ++i) steps.push_back(Step::Send(actor, 8, i));
      }
      return steps;
    });
  }
  return rc::gen::exec([this, c] {
    const uint64_t rounds = c.reliable ? *rc::gen::inRange<uint64_t>(1, 4) : 1;
    uint64_t per_round = kBatchMessages;
    if (c.max_queued > 0) per_round = std::clamp<uint64_t>(c.max_queued / 2, 1, per_round);
    uint64_t size_limit = std::min<uint64_t>(SizeLimit(c), 4096);
    if (c.capacity > 0) size_limit = std::min(size_limit, c.capacity / (2 * per_round));
    const uint64_t low = c.framing == Framing::kStream ? 1 : 0;
    auto size = rc::gen::inRange<uint64_t>(low, std::max(low, size_limit) + 1);
    std::vector<Step> steps = {rounds_.Step(rounds)};
    // Only when together: apart, the usual case, says nothing.
    if (*OneInThree()) steps.push_back(together_.Step(true));
    for (uint32_t actor : {1u, 0u}) {
      // The writer's end sends at least once in the first round.
      const uint64_t n = *rc::gen::inRange<uint64_t>(actor == 1 ? 1 : 0, rounds * per_round + 1);
      for (uint64_t i = 0; i < n; ++i) steps.push_back(Step::Send(actor, *size, i));
    }
    return steps;
  });
}

Verdict DuplexProperty::RunSharedCounter(const Transport& t, const Scenario& s,
                                         const CaseEnv& env) const {
  std::vector<Sent> forward = SendsOf(s, 1), back = SendsOf(s, 0);
  for (Sent& m : forward) m.writer = kForward;
  for (Sent& m : back) m.writer = kBack;
  std::vector<uint64_t> both;
  for (const std::vector<Sent>* side : {&forward, &back}) {
    for (const Sent& m : *side) both.push_back(CounterValue(m));
  }
  const int deliver = Waits::For(env).deliver_ms;
  const bool reader_takes = reader_takes_.Of(s);
  // Flags: 0 the writer's end has added; 1 the reader's end has; 2 taken.
  SharedFlags flags(3);
  const Deadline deadline = Deadline::After(env.deadline - absl::Now());
  auto part = [&](End& end, bool writer) -> std::string {
    if (!writer && !flags.WaitFor(0, deadline)) return "the writer's end never added";
    if (std::string e = AddAll(end, writer ? forward : back, deliver); !e.empty()) return e;
    flags.Raise(writer ? 0 : 1);
    if (writer == reader_takes) return flags.WaitFor(2, deadline) ? "" : "the sum was never taken";
    if (writer && !flags.WaitFor(1, deadline)) return "the reader's end never added";
    std::string e = ReadSum(end, both, deliver);
    flags.Raise(2);
    if (e.empty()) return e;
    return absl::StrCat("taking the sum of what both ends added (both share the one counter): ", e);
  };
  Actor writer{"writer's end", Role::kWriter,
               [&](std::unique_ptr<End>& end) { return part(*end, true); }};
  Actor reader{"reader's end", Role::kReader,
               [&](std::unique_ptr<End>& end) { return part(*end, false); }};
  return RunActors(t, env, {writer, reader});
}

Verdict DuplexProperty::Run(const Transport& t, const Scenario& s, const CaseEnv& env) const {
  const Capabilities& c = t.caps();
  if (c.model == ModelClass::kCounter) return RunSharedCounter(t, s, env);
  const size_t rounds = std::clamp<uint64_t>(rounds_.Of(s), 1, 16);
  auto as = [](std::vector<Sent> v, uint32_t id) {
    for (Sent& m : v) m.writer = id;
    return v;
  };
  const std::vector<std::vector<Sent>> forward = Batches(as(SendsOf(s, 1), kForward), rounds);
  const std::vector<std::vector<Sent>> back = Batches(as(SendsOf(s, 0), kBack), rounds);
  const Side writer_side{kForward, kBack, forward, back};
  const Side reader_side{kBack, kForward, back, forward};
  const Waits waits = Waits::For(env);
  SharedFlags flags(2 * rounds + 2);
  const Deadline deadline = Deadline::After(env.deadline - absl::Now());
  // The back direction's messages carry writer id 2 in their bytes: said as
  // the reader's end's, which sent them.
  auto said = [](std::string e) {
    return absl::StrReplaceAll(e, {{" of writer 2 ", " from the reader's end "}});
  };
  Actor writer{"writer's end", Role::kWriter, [&](std::unique_ptr<End>& end) {
                 return said(Play(end, c, writer_side, true, waits, flags, deadline));
               }};
  Actor reader{"reader's end", Role::kReader, [&](std::unique_ptr<End>& end) {
                 return Play(end, c, reader_side, false, waits, flags, deadline);
               }};
  if (together_.Of(s)) {
    // A failed end lets the other go on (to its own failure or the end).
    auto play = [&](std::unique_ptr<End>& end, const Side& side, std::string_view who) {
      std::string e = Play(end, c, side, side.send_id == kForward, waits, flags, deadline, true);
      if (e.empty()) return e;
      for (size_t r = 0; r < rounds; ++r) flags.Raise(Done(r, side.recv_id));
      return said(absl::StrCat(std::string(who), ": ", e));
    };
    Actor both{"both ends' process", Role::kReader, nullptr};
    both.ends = {{0, Role::kReader}, {0, Role::kWriter, /*own_thread=*/true}};
    both.with_ends = [&](std::vector<std::unique_ptr<End>>& ends) {
      return play(ends[0], reader_side, "reader's end");
    };
    both.in_thread = [&](std::unique_ptr<End>& end) {
      return play(end, writer_side, "writer's end");
    };
    return RunActors(t, env, {both});
  }
  return RunActors(t, env, {writer, reader});
}

std::string DuplexProperty::Play(std::unique_ptr<End>& end_ptr, const Capabilities& c,
                                 const Side& side, bool speaks_first, const Waits& waits,
                                 SharedFlags& flags, const Deadline& deadline, bool together) {
  End& end = *end_ptr;
  const bool lossy = !c.reliable;
  const Sent marker = MarkerOf(side.send_id, c);
  const std::vector<std::byte> marker_bytes = Payload(marker.writer, marker.msg, marker.size);
  for (size_t r = 0; r < side.send.size(); ++r) {
    Expectation e(c, {side.recv[r]}, lossy, {side.recv_id});
    if (r == 0 && !speaks_first) {
      std::string err = ReceiveBatch(end, c, side, r, true, e, waits, flags);
      if (!err.empty()) return err;
    }
    const bool room_promised = c.capacity > 0 || c.max_queued > 0;
    for (const Sent& m : side.send[r]) {
      std::string err = room_promised ? SendAll(end, m, c.framing, waits.deliver_ms)
                                      : SendMakingRoom(end, c, m, r, e, waits);
      if (!err.empty()) return err;
    }
    size_t n = 0;
    if (lossy) end.Send(marker_bytes, &n, waits.deliver_ms);
    if (std::string err = ReceiveBatch(end, c, side, r, false, e, waits, flags); !err.empty())
      return err;
    flags.Raise(Done(r, side.recv_id));
    if (r + 1 == side.send.size() && c.peer_close && !lossy) {
      // All sent and all received: closing now turns a reply that never
      // comes whole into an end of stream at the other end, not a wait.
      end_ptr.reset();
      return "";
    }
    // The other end has all of this round before the next begins.
    for (int k = 0; !flags.WaitFor(
             Done(r, side.send_id),
             lossy ? Deadline::After(absl::Milliseconds(waits.quiet_ms)) : deadline, !together);
         ++k) {
      if (!lossy || k >= kMaxIdle) return lossy ? "" : "the other end never finished the round";
      end.Send(marker_bytes, &n, waits.deliver_ms);
    }
  }
  return "";
}

std::string DuplexProperty::SendMakingRoom(End& end, const Capabilities& c, const Sent& m, size_t r,
                                           Expectation& e, const Waits& waits) {
  const std::vector<std::byte> bytes = Payload(m.writer, m.msg, m.size);
  std::vector<std::byte> buf(DrainBufferSize(c));
  // Given up on once nothing moved either way for the deliver bound.
  const absl::Duration bound = absl::Milliseconds(waits.deliver_ms);
  absl::Time give_up = absl::Now() + bound;
  size_t done = 0;
  for (bool wait = false;;) {
    size_t n = 0;
    const std::span<const std::byte> rest = std::span(bytes).subspan(done);
    const int rc = end.Send(rest, &n, wait ? waits.quiet_ms : 0);
    if (rc == 0) {
      if (n > rest.size() || (c.framing == Framing::kMessage && n != rest.size())) {
        return absl::StrFormat("sending %s: %d bytes reported sent of %d", Name(m), n, rest.size());
      }
      done += n;
      if (done == bytes.size()) return "";
      wait = false;
      give_up = absl::Now() + bound;
      continue;
    }
    if (rc != -EAGAIN && rc != -ETIMEDOUT)
      return absl::StrCat("sending ", Name(m), ": ", Errno(rc));
    if (absl::Now() > give_up) {
      return absl::StrFormat(
          "sending %s: no room for %d ms, though the other end's messages were read as they "
          "came",
          Name(m), waits.deliver_ms);
    }
    // No room: what the other end has sent may be what fills the channel.
    wait = true;
    while (!e.Complete()) {
      const int got = end.Recv(buf, &n, 0);
      if (got == -EAGAIN) break;
      if (got != 0)
        return absl::StrFormat("round %d: receiving %s: %s", r + 1, e.Owed(), Errno(got));
      const std::span<const std::byte> arrived(buf.data(), n);
      std::string err = c.framing == Framing::kStream ? e.OnBytes(arrived) : e.OnMessage(arrived);
      if (!err.empty()) return absl::StrFormat("round %d: %s", r + 1, err);
      wait = false;  // room may be back
      give_up = absl::Now() + bound;
    }
  }
}

// Receives round r of the other direction (or, with until_first, only its
// first arrival); a lossy end re-sends its own marker while it waits.
std::string DuplexProperty::ReceiveBatch(End& end, const Capabilities& c, const Side& side,
                                         size_t r, bool until_first, Expectation& e,
                                         const Waits& waits, SharedFlags& flags) {
  const bool lossy = !c.reliable;
  const Sent marker = MarkerOf(side.send_id, c);
  const std::vector<std::byte> marker_bytes = Payload(marker.writer, marker.msg, marker.size);
  std::vector<std::byte> buf(DrainBufferSize(c));
  int idle = 0;
  while (!e.Complete()) {
    size_t n = 0;
    const int rc = end.Recv(buf, &n, lossy ? waits.quiet_ms : waits.deliver_ms);
    if (rc == 0) {
      const std::span<const std::byte> got(buf.data(), n);
      std::string err = c.framing == Framing::kStream ? e.OnBytes(got) : e.OnMessage(got);
      if (!err.empty()) return absl::StrFormat("round %d: %s", r + 1, err);
      if (until_first) return "";  // the other end has spoken: this one may answer
      continue;
    }
    if (lossy && (rc == -ETIMEDOUT || rc == -EAGAIN)) {
      if (++idle > kMaxIdle) return "";  // everything lost: allowed
      if (!until_first && !flags.IsRaised(Done(r, side.send_id))) {
        size_t sent = 0;
        end.Send(marker_bytes, &sent, waits.deliver_ms);
      }
      continue;
    }
    return absl::StrFormat("round %d: receiving %s: %s", r + 1, e.Owed(), Errno(rc));
  }
  return "";
}

}  // namespace g_duplex
}  // namespace
}  // namespace ipcspec::props
