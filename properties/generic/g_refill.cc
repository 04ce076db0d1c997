// G-REFILL: rounds of "fill the channel with small messages until a send is
// refused, then receive without blocking until a receive finds nothing", on
// one fresh channel, both ends in one process. A transport that frames its
// messages over a byte stream of the kernel (a length prefix on TCP, a
// record in a ring) meets its records in pieces here: the receive window
// opens as the reader drains, and what the kernel sends on then is cut
// wherever the window ends, inside a header or a body. A receive that finds
// only part of a record must keep that part for the next receive (or leave
// it queued), never take it for the whole, drop it, or report an error.
// The fill stops at kMaxSends sends when nothing is refused, and then
// after one round.
//
// The oracle for each capability class:
//   reliable + ordered  what the receives take is exactly what the sends
//                       took, in order: message by message, or the byte
//                       concatenation of a stream's (partial) sends;
//                       nothing else comes, and a receive that does not
//                       block gives data or -EAGAIN, never an error or END
//                       (the writer is open); after the last round every
//                       message still owed arrives within the deliver bound
//   lossy, unordered    skipped: without every message in order there is no
//                       stream position to check a piece against
//   counter             skipped: values are summed, not framed
//   capacity            any, declared or not: a send that is refused ends
//                       the fill (a send refused while a declared capacity
//                       still has room is G-FULL's and G-BACKPRESSURE's)
//   peer-close or not   alike: the writer stays open throughout
//   duplex              the writer's end speaks
//   realtime or not     alike: nothing waits but the last drain
#include <algorithm>
#include <deque>
#include <vector>

#include "absl/strings/str_format.h"
#include "properties/generic/generic_property.h"
#include "properties/support/common.h"

namespace ipcspec::props {
namespace {
namespace g_refill {

// The most sends one fill makes when none is refused.
constexpr uint64_t kMaxSends = 1 << 16;
// The largest message drawn: small, so that a window's edge falls inside a
// record's header as often as inside its body.
constexpr uint64_t kLargest = 16;
// Rounds on one channel unless a scenario says otherwise.
constexpr uint64_t kRounds = 3;

// What the sends took, in order, and where the receives have got to.
class Expected {
 public:
  explicit Expected(Framing framing) : stream_(framing == Framing::kStream) {}
  void Took(uint64_t msg, uint64_t size) {
    if (size > 0 || !stream_) pieces_.push_back({1, msg, size});
  }
  bool Empty() const { return pieces_.empty(); }
  uint64_t received() const { return received_; }
  // Checks what one receive took; "" or what is wrong with it.
  std::string Check(std::span<const std::byte> got) {
    ++received_;
    if (!stream_) return CheckMessage(got);
    for (size_t at = 0; at < got.size();) {
      if (pieces_.empty()) {
        return absl::StrCat(ByteCount(got.size() - at), " more than were sent");
      }
      const Sent& p = pieces_.front();
      const size_t n = std::min<size_t>(got.size() - at, p.size - offset_);
      const std::span<const std::byte> part = got.subspan(at, n);
      if (size_t bad = PayloadMismatch(1, p.msg, offset_, part); bad < n) {
        return absl::StrFormat("its byte %d is not byte %d of %s", at + bad, offset_ + bad,
                               Name(p));
      }
      at += n;
      offset_ += n;
      if (offset_ == p.size) {
        pieces_.pop_front();
        offset_ = 0;
      }
    }
    return "";
  }
  // What the next receive is owed, in words.
  std::string Next() const {
    if (pieces_.empty()) return "nothing";
    return offset_ == 0 ? Name(pieces_.front())
                        : absl::StrFormat("byte %d of %s", offset_, Name(pieces_.front()));
  }

 private:
  std::string CheckMessage(std::span<const std::byte> got) {
    if (pieces_.empty()) return absl::StrCat(ByteCount(got.size()), " when nothing was owed");
    const Sent want = pieces_.front();
    pieces_.pop_front();
    if (IsPayload(got, want)) return "";
    std::vector<Sent> later(pieces_.begin(), pieces_.begin() + std::min<size_t>(pieces_.size(), 4));
    if (std::optional<Sent> s = Identify(got, later)) {
      return absl::StrFormat("it is %s, not %s", Name(*s), Name(want));
    }
    return absl::StrCat("not the bytes of ", Name(want));
  }

  bool stream_;
  std::deque<Sent> pieces_;
  uint64_t offset_ = 0;    // into pieces_.front(), a stream's
  uint64_t received_ = 0;  // receives checked
};

class RefillProperty final : public GenericProperty {
  Applicability AppliesToCaps(const Capabilities& c) const override {
    if (c.model == ModelClass::kCounter) return Needs(false, "model=counter (values are summed)");
    if (!c.reliable) return Needs(false, "reliable=false (a lost piece leaves no position)");
    return Needs(c.ordered, "ordered=false (no position in the sequence to check a piece at)");
  }
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const Capabilities c = t.caps();
    const uint64_t largest = c.max_message > 0 ? std::min(c.max_message, kLargest) : kLargest;
    const uint64_t least = c.framing == Framing::kStream ? 1 : 0;
    return rc::gen::exec([this, largest, least] {
      std::vector<Step> steps;
      // Each count as likely from the first example on (inRange would keep
      // the early examples of a long run at one round).
      const uint64_t rounds = 1 + *UniformBelow(5);
      if (rounds != kRounds) steps.push_back(rounds_.Step(rounds));
      const auto sizes =
          *rc::gen::resize(6, rc::gen::nonEmpty(rc::gen::container<std::vector<uint64_t>>(
                                  rc::gen::inRange<uint64_t>(least, largest + 1))));
      for (size_t i = 0; i < sizes.size(); ++i) steps.push_back(Step::Send(1, sizes[i], i));
      return steps;
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    std::vector<uint64_t> sizes;
    for (const Sent& x : SendsOf(s, 1)) sizes.push_back(x.size);
    if (sizes.empty()) return Verdict::Broken("no message sizes");
    const uint64_t rounds = rounds_.Of(s);
    const Capabilities& c = t.caps();
    const Waits waits = Waits::For(env);
    Actor both{"writer and reader",
               Role::kWriter,
               nullptr,
               0,
               {{0, Role::kReader}, {0, Role::kWriter}},
               [&](std::vector<std::unique_ptr<End>>& ends) {
                 return Refill(*ends[1], *ends[0], c, sizes, rounds, waits);
               }};
    return RunActors(t, env, {both});
  }

  static std::string Refill(End& writer, End& reader, const Capabilities& c,
                            const std::vector<uint64_t>& sizes, uint64_t rounds,
                            const Waits& waits) {
    Expected expected(c.framing);
    std::vector<std::byte> buf(RecvBufferSize(c));
    uint64_t msg = 0;
    for (uint64_t round = 1; round <= rounds; ++round) {
      const std::string where = absl::StrFormat("round %d of %d: ", round, rounds);
      bool refused = false;
      if (std::string e = Fill(writer, c, sizes, where, &msg, &expected, &refused); !e.empty()) {
        return e;
      }
      if (std::string e = Drain(reader, buf, 0, where, &expected); !e.empty()) return e;
      // A channel that took kMaxSends without refusing one has no window
      // to open again: another round would only repeat this one.
      if (!refused) break;
    }
    // The rest, however late the transport delivers it.
    if (std::string e = Drain(reader, buf, waits.deliver_ms, "after the last round: ", &expected);
        !e.empty()) {
      return e;
    }
    size_t n = 0;
    if (const int rc = reader.Recv(buf, &n, 0); rc != -EAGAIN) {
      return absl::StrFormat("once all %d messages were received, a receive (timeout 0) gave %s%s",
                             msg, Errno(rc), rc == 0 ? absl::StrCat(" with ", ByteCount(n)) : "");
    }
    return "";
  }

  // Sends message *msg on, without blocking, until one is refused
  // (*refused) or kMaxSends went in.
  static std::string Fill(End& writer, const Capabilities& c, const std::vector<uint64_t>& sizes,
                          const std::string& where, uint64_t* msg, Expected* expected,
                          bool* refused) {
    for (uint64_t k = 0; k < kMaxSends; ++k, ++*msg) {
      const uint64_t size = sizes[*msg % sizes.size()];
      size_t sent = 0;
      const int rc = writer.Send(Payload(1, *msg, size), &sent, 0);
      if (rc == -EAGAIN) {
        *refused = true;
        return "";
      }
      if (rc != 0) {
        return absl::StrFormat("%ssend of message %d (%d bytes, timeout 0) gave %s", where, *msg,
                               size, Errno(rc));
      }
      if (c.framing != Framing::kStream && sent != size) {
        return absl::StrFormat("%ssend of message %d took %d of its %d bytes", where, *msg, sent,
                               size);
      }
      expected->Took(*msg, sent);
    }
    return "";
  }

  // Receives with `timeout_ms`: 0, until a receive finds nothing; else
  // until everything owed has come.
  static std::string Drain(End& reader, std::vector<std::byte>& buf, int timeout_ms,
                           const std::string& where, Expected* expected) {
    while (timeout_ms == 0 || !expected->Empty()) {
      size_t n = 0;
      const int rc = reader.Recv(buf, &n, timeout_ms);
      if (rc == -EAGAIN && timeout_ms == 0) return "";
      const std::string what =
          absl::StrFormat("%sreceive %d (timeout %s), owed %s, ", where, expected->received() + 1,
                          SayCallTimeout(timeout_ms), expected->Next());
      if (rc != 0) return absl::StrCat(what, "gave ", Errno(rc));
      if (std::string err = expected->Check(std::span(buf.data(), n)); !err.empty()) {
        return absl::StrCat(what, "took ", ByteCount(n), ": ", err);
      }
    }
    return "";
  }

  const Param<uint64_t> rounds_{this, 0, "%s rounds of fill and drain", kRounds};
};
IPCSPEC_REGISTER_PROPERTY(RefillProperty, "G-REFILL", {.examples = 10});

}  // namespace g_refill
}  // namespace
}  // namespace ipcspec::props
