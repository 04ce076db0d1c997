// G-BOUNDARY: a message transport never merges or splits messages; a
// message over max_message fails with EMSGSIZE without disturbing the queue;
// a receive buffer smaller than the next message gives EMSGSIZE, never a
// part of the message.
//
// The writer queues its messages (the reader starts once they are all in,
// or once a non-blocking send finds the channel full), so merging would
// show. The oracle for each capability class (generic/oracle.h):
//   reliable + ordered  every message whole, in order
//   ordered only        a subsequence, every message whole
//   unordered           a sub-multiset (reliable: all), every message whole;
//                       no short receive (which message it refused is unknown)
//   byte stream         skipped: a stream has no boundaries
//   short receive       -EMSGSIZE; then SHORT_RECV_KEEPS: the same message
//                       comes next (in some examples only after 1-3 more
//                       receives into the too-small buffer, each refused
//                       alike); SHORT_RECV_DROPS: the one after it;
//                       undeclared: either. Reliable: in some examples
//                       after up to 32 small messages received whole, each
//                       (SHORT_RECV_KEEPS) first refused by a buffer one
//                       byte short, so that a refused message sits at every
//                       place of the queue (a receiver that reads ahead in
//                       batches keeps it at any place in its batch)
//   capacity            any: a full channel starts the reader early
//   peer-close          after the last message END; without, nothing more
//   duplex              in half of the examples the other way round:
//                       the writer's end says one message, then the
//                       reader's end sends and the writer's end receives
//                       (its short receive too); without end of stream
//   realtime or not     alike: no clock
#include <algorithm>

#include "absl/strings/str_format.h"
#include "properties/generic/generic_property.h"
#include "properties/generic/traffic.h"

namespace ipcspec::props {
namespace {
namespace g_boundary {

// The receiver may start: all sent, or the channel is full; reversed, the
// receiver has all it will get (the sender may close).
constexpr size_t kStart = 0, kReceived = 1;
// Reversed: the writer's end speaks first (a datagram reader answers the
// last sender), as writer 9.
constexpr uint32_t kHelloWriter = 9;

constexpr std::string_view kOversize[] = {
    "no oversize message", "the writer then tries one message of max_message + 1 bytes"};

class BoundaryProperty final : public GenericProperty {
  Applicability AppliesToCaps(const Capabilities& c) const override {
    if (c.model == ModelClass::kCounter)
      return Needs(false, "model=counter (values are summed, not kept apart)");
    return Needs(c.framing == Framing::kMessage, "framing=stream");
  }
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const Capabilities c = t.caps();
    return rc::gen::exec([this, c] {
      const uint64_t room = c.max_queued > 0 ? std::min<uint64_t>(c.max_queued, 8) : 8;
      auto sizes = *rc::gen::resize(static_cast<int>(room),
                                    rc::gen::container<std::vector<uint64_t>>(EdgeSize(c, true)));
      std::vector<Step> steps;
      for (size_t i = 0; i < sizes.size() && i < room; ++i) {
        steps.push_back(Step::Send(1, sizes[i], i));
      }
      if (c.max_message > 0 && *rc::gen::arbitrary<bool>()) steps.push_back(oversize_.Step(true));
      if (c.direction == Direction::kDuplex && *rc::gen::arbitrary<bool>()) {
        steps.push_back(reversed_.Step(true));
      }
      if (c.ordered && !sizes.empty() && sizes[0] > 0 && *rc::gen::arbitrary<bool>()) {
        const uint64_t first = sizes[0];
        // Small messages first, received whole before the short receive:
        // drawn in one pick, so that shrinking them away leaves the picks
        // after it in their places (a pick that vanishes from the middle
        // left the ones after it unmatched, and the prefix never shrank).
        const uint64_t room_before = c.max_queued > 0 ? c.max_queued - 1 : 32;
        const auto small_sizes =
            c.reliable && room_before > 0
                ? *rc::gen::weightedOneOf<std::vector<uint64_t>>(
                      {{1, rc::gen::just(std::vector<uint64_t>{})},
                       {1,
                        rc::gen::resize(static_cast<int>(std::min<uint64_t>(room_before, 32)),
                                        rc::gen::nonEmpty(rc::gen::container<std::vector<uint64_t>>(
                                            rc::gen::inRange<uint64_t>(
                                                1, std::min<uint64_t>(SizeLimit(c), 64) + 1))))}})
                : std::vector<uint64_t>{};
        const uint64_t before = std::min<uint64_t>(small_sizes.size(), room_before);
        if (before > 0) {
          std::vector<Step> small;
          for (uint64_t k = 0; k < before; ++k) small.push_back(Step::Send(1, small_sizes[k], k));
          for (Step& st : steps) {
            if (st.op == Op::kSend) st.arg += before;
          }
          steps.insert(steps.begin(), small.begin(), small.end());
          steps.push_back(short_after_.Step(before));
        }
        steps.push_back(short_.Step(
            *rc::gen::weightedOneOf<uint64_t>({{2, rc::gen::just(first - 1)},
                                               {1, rc::gen::just<uint64_t>(0)},
                                               {2, rc::gen::inRange<uint64_t>(0, first)}})));
        if (c.short_recv == ShortRecv::kKeeps && *rc::gen::arbitrary<bool>()) {
          steps.push_back(short_again_.Step(*rc::gen::inRange<uint64_t>(1, 4)));
        }
      }
      return steps;
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const Capabilities& c = t.caps();
    std::vector<Sent> sent = SendsOf(s, 1);
    const uint64_t last_size = std::min<uint64_t>(c.max_message ? c.max_message : 100, 100);
    sent.push_back({1, sent.size(), last_size});  // proves the queue still works
    Traffic traffic(c, env, {sent});
    SharedFlags flags;
    const Deadline deadline = Deadline::After(env.deadline - absl::Now());
    // Reversed: the reader's end sends, once the writer's end has spoken,
    // and stays open until the writer's end has received all it will.
    const bool reversed = reversed_.Of(s) && c.direction == Direction::kDuplex;
    const Sent hello{kHelloWriter, 0, 1};
    Actor sender{"writer", Role::kWriter, [&](std::unique_ptr<End>& end) {
                   if (reversed) {
                     std::vector<std::byte> got;
                     const int rc = RecvMessage(*end, c, &got, traffic.waits().deliver_ms);
                     if (rc != 0)
                       return absl::StrCat("receiving the writer's first message: ", Errno(rc));
                     if (!IsPayload(got, hello))
                       return std::string("the writer's first message came changed");
                   }
                   std::string e =
                       Write(*end, c, sent, oversize_.Of(s) && c.max_message > 0, traffic, flags);
                   flags.Raise(kStart);  // also after a failure: nobody waits for it then
                   if (e.empty() && traffic.markers()) e = traffic.SendMarkers(*end, 0);
                   traffic.Finished(0);
                   if (e.empty() && reversed && !flags.WaitFor(kReceived, deadline)) {
                     return std::string("the writer's end never received it all");
                   }
                   return e;
                 }};
    Actor receiver{
        "reader", Role::kReader, [&](std::unique_ptr<End>& end) -> std::string {
          if (reversed) {
            if (std::string e = SendAll(*end, hello, c.framing, traffic.waits().deliver_ms);
                !e.empty()) {
              return absl::StrCat("speaking first: ", e);
            }
          }
          if (!flags.WaitFor(kStart, deadline)) return "the sender never finished its messages";
          if (s.Param(short_.index(), ~uint64_t{0}) != ~uint64_t{0}) {
            // Shrunk, fewer may be left: the last message stays for it.
            const uint64_t whole = std::min<uint64_t>(short_after_.Of(s), sent.size() - 1);
            std::string e = ReceiveWhole(*end, c, sent, whole, short_again_.Of(s), traffic);
            if (e.empty()) e = ShortReceive(*end, c, short_.Of(s), short_again_.Of(s), traffic);
            if (!e.empty()) return e;
          }
          if (!reversed) return traffic.Read(*end);
          // No end of stream is owed this way round.
          std::string e = traffic.Receive(*end);
          if (e.empty()) e = traffic.NothingMore(*end, /*writers_close=*/false);
          flags.Raise(kReceived);
          return e;
        }};
    if (!reversed) return RunActors(t, env, {sender, receiver});
    // The reader's end sends, the writer's end receives.
    sender.role = Role::kReader;
    sender.name = "reader's end";
    receiver.role = Role::kWriter;
    receiver.name = "writer's end";
    return RunActors(t, env, {sender, receiver});
  }

  // Queues `sent` but its last message, tries the oversize message, then
  // sends the last one; raises kStart when done or when the channel is full.
  static std::string Write(End& end, const Capabilities& c, const std::vector<Sent>& sent,
                           bool oversize, Traffic& traffic, SharedFlags& flags) {
    const int deliver = traffic.waits().deliver_ms;
    for (size_t i = 0; i + 1 < sent.size(); ++i) {
      const std::vector<std::byte> data = Payload(sent[i].writer, sent[i].msg, sent[i].size);
      size_t n = 0;
      int rc = end.Send(data, &n, 0);
      if (rc == -EAGAIN) {
        flags.Raise(kStart);
        rc = end.Send(data, &n, deliver);
      }
      if (rc != 0) return absl::StrCat("sending ", Name(sent[i]), ": ", Errno(rc));
      if (n != data.size()) {
        return absl::StrFormat("sending %s: %d bytes reported sent", Name(sent[i]), n);
      }
    }
    if (oversize) {
      std::vector<std::byte> big(c.max_message + 1, std::byte{0x5a});
      size_t n = 0;
      const int rc = end.Send(big, &n, 0);
      if (rc != -EMSGSIZE) {
        flags.Raise(kStart);
        return absl::StrFormat("a %d-byte send (max_message + 1) gave %s, not -EMSGSIZE",
                               big.size(), Errno(rc));
      }
    }
    flags.Raise(kStart);
    return SendAll(end, sent.back(), c.framing, deliver);
  }

  // The first `count` messages of `sent`, each received whole; with
  // SHORT_RECV_KEEPS each first into a buffer one byte short (ShortReceive),
  // which must refuse it and keep it, wherever it sits in the queue.
  static std::string ReceiveWhole(End& end, const Capabilities& c, const std::vector<Sent>& sent,
                                  uint64_t count, uint64_t again, Traffic& traffic) {
    std::vector<std::byte> got;
    for (uint64_t i = 0; i < count && i < sent.size(); ++i) {
      if (c.short_recv == ShortRecv::kKeeps && sent[i].size > 0) {
        if (std::string e = ShortReceive(end, c, sent[i].size - 1, again, traffic); !e.empty()) {
          return e;
        }
        continue;
      }
      const int rc = RecvMessage(end, c, &got, traffic.waits().deliver_ms);
      if (rc != 0) return absl::StrCat("receiving ", Name(sent[i]), ": ", Errno(rc));
      if (std::string e = traffic.expectation().OnMessage(got); !e.empty()) return e;
    }
    return "";
  }

  // A receive into `cap` bytes, smaller than the next message: -EMSGSIZE
  // (with SHORT_RECV_KEEPS `again` more times: the message stays for every
  // receive too small for it); then that message again or the one after
  // it, as the capabilities say.
  static std::string ShortReceive(End& end, const Capabilities& c, uint64_t cap, uint64_t again,
                                  Traffic& traffic) {
    Expectation& expect = traffic.expectation();
    const int deliver = traffic.waits().deliver_ms;
    std::vector<std::byte> buf(std::max<uint64_t>(RecvBufferSize(c), MarkerOf(1, c).size));
    size_t n = 0;
    int rc = end.Recv(std::span(buf).first(cap), &n, deliver);
    if (rc == 0) return expect.OnMessage(std::span(buf).first(std::min(n, cap)));
    if (rc != -EMSGSIZE) {
      return absl::StrFormat(
          "a receive into %d bytes, smaller than the next message, gave %s, not -EMSGSIZE", cap,
          Errno(rc));
    }
    for (uint64_t k = 1; k <= again && c.short_recv == ShortRecv::kKeeps; ++k) {
      rc = end.Recv(std::span(buf).first(cap), &n, deliver);
      if (rc != -EMSGSIZE) {
        return absl::StrFormat(
            "receive %d into the same %d bytes gave %s%s, not -EMSGSIZE again: "
            "SHORT_RECV_KEEPS keeps the message for every receive too small for it",
            k + 1, cap, Errno(rc), rc == 0 ? absl::StrCat(" with ", ByteCount(n)) : "");
      }
    }
    rc = end.Recv(buf, &n, deliver);
    // The refused message was the last one, and is gone.
    const bool ended = rc == kEnd && c.short_recv != ShortRecv::kKeeps;
    if (rc != 0 && !ended) return absl::StrCat("receiving after the refused receive: ", Errno(rc));
    const std::span<const std::byte> got(buf.data(), ended ? 0 : n);
    const bool kept = !ended && expect.IsNext(0, got);
    if (!kept && c.reliable && c.short_recv == ShortRecv::kKeeps) {
      return absl::StrFormat(
          "after -EMSGSIZE on a %d-byte buffer the next message was not the "
          "refused one, yet SHORT_RECV_KEEPS says it stays queued",
          cap);
    }
    if (kept && c.short_recv == ShortRecv::kDrops) {
      return absl::StrFormat(
          "the message refused with -EMSGSIZE on a %d-byte buffer came again, "
          "yet SHORT_RECV_DROPS says it is consumed",
          cap);
    }
    if (!kept) expect.Skip(0);
    return ended ? "" : expect.OnMessage(got);
  }

  const ChoiceParam<bool> oversize_{this, 0, "%s", false, kOversize};
  const BytesParam short_{this, 1, "the receiving end first receives into a buffer of %s", 0};
  const Param<uint64_t> short_after_{
      this, 3,
      "the receiving end first receives %s small messages whole (each first into a buffer one "
      "byte short, with SHORT_RECV_KEEPS)",
      0};
  const Param<uint64_t> short_again_{
      this, 4,
      "with SHORT_RECV_KEEPS, the too-small buffer is tried once more|with SHORT_RECV_KEEPS, the "
      "too-small buffer is tried %s more times",
      0};
  const YesNoParam reversed_{this, 2,
                             "the other way round: the writer's end says one message, then the "
                             "reader's end sends these and the writer's end receives them: %s",
                             false};
};
IPCSPEC_REGISTER_PROPERTY(BoundaryProperty, "G-BOUNDARY");

}  // namespace g_boundary
}  // namespace
}  // namespace ipcspec::props
