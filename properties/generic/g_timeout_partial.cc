// G-TIMEOUT-PARTIAL: a bounded send that makes progress, or is woken, and
// still cannot finish returns within its bound. The writer fills the
// channel (sends that do not block, until one gives -EAGAIN), then makes
// one bounded send of a few time units that no drain of the trickle below
// lets finish. Once it sleeps in that call, the reader takes a little
// every quarter of the bound, and goes on past the bound and its slack.
// The send may return at once with what it moved, or go on until its
// bound, but not later. A transport whose wait gets the caller's whole
// timeout again each time it wakes (a poll() or futex loop that passes
// timeout_ms, not what is left of it) keeps its caller for as long as the
// reader trickles, and G-TIMEOUT, whose calls nothing wakes, never sees it.
//
// On a stream the send is a buffer far larger than the room any drain
// makes, and each drain lets it move a little: the reader takes a quarter
// of what filled the channel each time, then, in a second series, a
// sixteenth. The fast trickle is for sockets, which wake a writer only once
// much of their buffer is free. The slow one is for a send that moves at
// most a fixed amount per call (what a staging buffer holds): quarter
// drains free that much within one bound, and such a send ends in time
// however it counts its bound. On a message channel the fill is of small
// messages (a sixteenth of the largest), the send is of the largest
// message an empty channel takes with a bound of 16 units, and the reader
// takes one small message at 1/4, 1/2, 3/4 and 7/8 of the bound, then
// none: each wakes a send that waits for room, which finds too little and
// must sleep on for what is left of its bound (a channel bounded by count
// lets it in, on time). A wait that takes the whole bound again at a
// wake-up returns a bound after the last drain, 30 units in, whether or
// not it looks at its deadline as it wakes.
//
// The property is about time: the reader's drains are a quarter bound
// apart, and end as soon as the send has returned.
//
// The oracle for each capability class:
//   stream              the send returns 0 with what it moved, or
//                       -ETIMEDOUT having moved nothing, within bound * 1.25
//                       + 5 time units (a late call is tried twice more:
//                       scheduling noise is not a bug)
//   message             the send returns 0 (the whole message) or
//                       -ETIMEDOUT (nothing), within the same slack
//   polled (realtime    as above, but up to --hang-grace late; the reader
//   false)              trickles past that too
//   counter             does not apply: an add waits only near 2^64
//   a channel that      nothing to judge: it takes 16 MiB (a message
//   never fills         channel: 65,536 small messages) without refusing
//   capacity declared   the message send is min(capacity, max_message)
//   or not              bytes, else max_message (64 KiB if unbounded);
//                       the fill finds the edge either way
//   max_message on a    no send larger: the fill's sends are 64 KiB at
//   stream              most, the bounded one at most max_message
//   reliable            what the reader drains in an attempt is what the
//                       writer's sends reported sent: the fill and what the
//                       bounded send said it moved (a send that gives
//                       -ETIMEDOUT, or too small a count, after moving part
//                       of its buffer has its caller send those bytes
//                       twice); the bytes are counted, not checked (G-FULL
//                       checks what a partial send moved)
//   not reliable        no more than was reported sent
//   duplex, peer-close  change nothing
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <optional>
#include <span>
#include <vector>

#include "absl/strings/str_format.h"
#include "ipcspec/proc.h"
#include "ipcspec/util.h"
#include "properties/generic/generic_property.h"
#include "properties/support/common.h"

namespace ipcspec::props {
namespace {
namespace g_timeout_partial {

// A channel that takes more, or more sends, without refusing never fills.
constexpr uint64_t kFillBytes = uint64_t{16} << 20, kFillSends = uint64_t{1} << 16;
constexpr size_t kChunk = 64 * 1024;  // a stream's fill send
// A stream's drains, as parts of what filled the channel, each tried up to
// three times (a late call is tried again: scheduling noise is not a bug).
constexpr uint64_t kStreamParts[] = {4, 16};
// A message channel's drains: one small message each.
constexpr uint64_t kMessageParts[] = {0};
constexpr int kTries = 3, kAttempts = kTries * std::size(kStreamParts);

// Per attempt a, numbered in the order they are made: the writer filled the
// channel (or gave up), its bounded send returned, the reader drained what
// was left.
size_t Filled(int a) { return 3 * static_cast<size_t>(a); }
size_t Returned(int a) { return 3 * static_cast<size_t>(a) + 1; }
size_t Drained(int a) { return 3 * static_cast<size_t>(a) + 2; }
constexpr size_t kFlags = 3 * kAttempts;
// Counters: kMoved is what the writer's sends of the attempt reported sent.
constexpr size_t kWriterPid = 0, kStop = 1, kPiece = 2, kMoved = 3;

struct Timing {
  uint64_t units;
  absl::Duration bound, slack;
  // Past the bound and its slack: a send that restarts its bound after each
  // drain returns no sooner than the last drain.
  absl::Duration trickle() const { return bound + slack + bound / 2; }
};

// What the writer sends into the trickle, and how the reader drains it.
struct Shape {
  bool message = false;
  size_t fill = kChunk;     // one fill send
  size_t message_size = 0;  // message: the bounded send
  uint64_t most = 0;        // stream: the largest send (max_message), 0 any
  std::span<const uint64_t> parts = kStreamParts;

  size_t buffer() const { return std::max(kChunk, message_size); }

  static Shape Of(const Capabilities& c) {
    // A stream that declares max_message refuses a larger send (plugin.h):
    // neither its fill nor its bounded send is larger.
    if (c.framing == Framing::kStream) {
      const uint64_t most = c.max_message;
      return {.fill = static_cast<size_t>(most != 0 ? std::min<uint64_t>(kChunk, most) : kChunk),
              .most = most};
    }
    // The largest message an empty channel takes (plugin.h: capacity).
    uint64_t m = c.max_message != 0 ? c.max_message : kChunk;
    if (c.capacity != 0) m = std::min(m, c.capacity);
    m = std::min<uint64_t>(m, uint64_t{1} << 20);
    return {.message = true,
            .fill = static_cast<size_t>(std::max<uint64_t>(m / 16, 1)),
            .message_size = static_cast<size_t>(m),
            .parts = kMessageParts};
  }
};

// Sends without blocking until one is refused: the bytes that went in, or
// nullopt when 16 MiB, or 65,536 sends, went in without a refusal.
std::optional<uint64_t> Fill(End& end, const Shape& shape) {
  const std::vector<std::byte> one(shape.fill, std::byte{0x5a});
  uint64_t in = 0;
  for (uint64_t sends = 0; in < kFillBytes && sends < kFillSends; ++sends) {
    size_t n = 0;
    if (end.Send(one, &n, 0) != 0) return in;
    in += n;
  }
  return std::nullopt;
}

// The reader's part of attempt a: once the writer sleeps in its send, a
// piece every quarter bound until the send returned or the trickle ended;
// then everything left, waiting (up to `deliver_ms` a call) for what the
// writer reported sent. "" or why the bytes do not add up.
std::string Trickle(End& end, const Capabilities& c, const Shape& shape, SharedFlags& flags, int a,
                    const Timing& t, int deliver_ms, const Deadline& deadline) {
  const uint64_t piece = flags.Counter(kPiece).load();
  std::vector<std::byte> buf(shape.buffer());
  uint64_t total = 0;
  auto take = [&](uint64_t most, int timeout_ms) {  // at most `most` bytes
    size_t n = 0;
    for (uint64_t got = 0; got < most; got += n) {
      // A message is taken whole, into a buffer that holds any.
      const size_t want = shape.message
                              ? buf.size()
                              : static_cast<size_t>(std::min<uint64_t>(most - got, buf.size()));
      if (end.Recv(std::span(buf).first(want), &n, timeout_ms) != 0 || n == 0) break;
      total += n;
    }
  };
  const auto pid = static_cast<pid_t>(flags.Counter(kWriterPid).load());
  if (!WaitUntilAsleep(pid, deadline)) return "";
  if (shape.message) {
    // A message at 1/4, 1/2, 3/4 and 7/8 of the bound, then none: a wait
    // that takes a whole bound again at a wake-up returns a bound after the
    // last, whether or not it looks at its deadline as it wakes.
    const absl::Time start = absl::Now();
    for (const int eighths : {2, 4, 6, 7}) {
      if (flags.WaitFor(Returned(a), Deadline::After(start + t.bound * eighths / 8 - absl::Now())))
        break;
      take(piece, 0);
    }
  } else {
    const Deadline stop = Deadline::After(t.trickle());
    while (!stop.Passed() && !flags.WaitFor(Returned(a), Deadline::After(t.bound / 4))) {
      take(piece, 0);
    }
  }
  if (!flags.WaitFor(Returned(a), deadline)) return "";
  take(kFillBytes * 2, 0);
  const uint64_t moved = flags.Counter(kMoved).load();
  if (c.reliable && total < moved) take(moved - total, deliver_ms);
  if (total == moved || (!c.reliable && total < moved)) return "";
  return absl::StrFormat(
      "the reader drained %s in attempt %d, but the writer's sends reported %s sent (the fill "
      "and the bounded send into the trickle): %s",
      ByteCount(total), a + 1, ByteCount(moved),
      total > moved ? "a send moved bytes it did not report (its caller would send them again)"
                    : "bytes reported sent never arrived");
}

// One attempt, number a: fills the channel and sends into the trickle of
// 1/part of what filled it. "" when the send returned in time, else why it
// was late or wrong; `nothing` when the channel never filled.
std::string SendOnce(End& end, const Shape& shape, SharedFlags& flags, const Timing& t, int a,
                     uint64_t part, bool* nothing) {
  const int64_t drains = t.trickle() / (t.bound / 4) + 2;
  const std::optional<uint64_t> full = Fill(end, shape);
  *nothing = !full.has_value();
  if (*nothing) return "";
  const uint64_t filled = std::max<uint64_t>(*full, 1);  // the drains' measure
  // A message channel's drain is one small message (the reader takes one
  // message, at least `piece` bytes).
  const uint64_t piece =
      shape.message ? shape.fill : std::clamp<uint64_t>(filled / part, 4096, uint64_t{4} << 20);
  flags.Counter(kPiece).store(piece);
  const std::vector<std::byte> big(
      shape.message ? shape.message_size
                    : std::min({filled + piece * drains + kChunk, uint64_t{64} << 20,
                                shape.most != 0 ? shape.most : UINT64_MAX}),
      std::byte{0x5a});
  flags.Raise(Filled(a));
  size_t n = 0;
  const absl::Time start = absl::Now();
  const int rc = end.Send(big, &n, static_cast<int>(absl::ToInt64Milliseconds(t.bound)));
  const absl::Duration took = absl::Now() - start;
  flags.Counter(kMoved).store(*full + n);
  flags.Raise(Returned(a));
  const std::string what =
      shape.message
          ? absl::StrFormat(
                "a %d-unit send (%s) of a message of %s into the channel full of messages of %s, "
                "while the reader took one at 1/4, 1/2, 3/4 and 7/8 of its bound,",
                t.units, absl::FormatDuration(t.bound), ByteCount(big.size()), ByteCount(piece))
          : absl::StrFormat(
                "a %d-unit send (%s) of %s into the full channel, while the reader took %s every "
                "%s,",
                t.units, absl::FormatDuration(t.bound), ByteCount(big.size()), ByteCount(piece),
                absl::FormatDuration(t.bound / 4));
  if (rc != 0 && rc != -ETIMEDOUT) return absl::StrFormat("%s gave %s", what, Errno(rc));
  if (rc == -ETIMEDOUT && n != 0) {
    return absl::StrFormat("%s gave -ETIMEDOUT but reported %s sent", what, ByteCount(n));
  }
  if (took <= t.bound + t.slack) return "";
  return absl::StrFormat(
      "%s returned %s after %s (%s moved): %s", what, rc == 0 ? "0" : Errno(rc),
      absl::FormatDuration(absl::Trunc(took, absl::Milliseconds(1))), ByteCount(n),
      shape.message ? "a bound holds however often the call wakes to too little room (is it "
                      "started again after each wake-up?)"
                    : "a bound holds however much the call moves (is it restarted after each "
                      "partial write?)");
}

// The writer's attempts: for each part, up to kTries until a send returns
// in time. "" when each part had one in time (or the channel never filled),
// else why the last send of a part that had none was late or wrong.
std::string SendIntoTrickle(End& end, const Shape& shape, SharedFlags& flags, const Timing& t,
                            const Deadline& deadline) {
  flags.Counter(kWriterPid).store(static_cast<uint64_t>(::getpid()));
  int a = 0;
  for (const uint64_t part : shape.parts) {
    std::string late;
    for (int tried = 0; tried < kTries; ++tried) {
      if (a > 0 && !flags.WaitFor(Drained(a - 1), deadline)) {
        return "the reader never drained the channel";
      }
      bool nothing = false;
      late = SendOnce(end, shape, flags, t, a++, part, &nothing);
      if (nothing) return "";  // nothing to judge
      if (late.empty()) break;
    }
    if (!late.empty()) return late;
  }
  return "";
}

class TimeoutPartialProperty final : public GenericProperty {
  bool MostlyWaits() const override { return true; }
  Applicability AppliesToCaps(const Capabilities& c) const override {
    return Needs(c.model != ModelClass::kCounter, "model=counter (an add waits only near 2^64)");
  }
  // A message channel's bound is 16 units: a wait that starts it again at
  // the last drain (7/8) returns after 30, past the 25 allowed.
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const bool message = t.caps().framing != Framing::kStream;
    return rc::gen::map(message ? ShrinkingElementOf({16}) : ShrinkingElementOf({4, 8}),
                        [this](uint64_t units) { return std::vector<Step>{units_.Step(units)}; });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const absl::Duration unit = std::max(env.time_unit, absl::Milliseconds(1));
    Timing timing;
    timing.units = units_.Of(s);
    timing.bound = unit * static_cast<int64_t>(timing.units);
    timing.slack =
        timing.bound / 4 + 5 * unit + (t.caps().realtime ? absl::ZeroDuration() : env.hang_grace);
    const Shape shape = Shape::Of(t.caps());
    SharedFlags flags(kFlags);
    const Waits waits = Waits::For(env);
    const Deadline deadline = Deadline::After(env.deadline - absl::Now());
    Actor writer{"writer", Role::kWriter, [&](std::unique_ptr<End>& end) {
                   std::string e = SendIntoTrickle(*end, shape, flags, timing, deadline);
                   // The reader waits for an attempt that will not come.
                   flags.Counter(kStop).store(1);
                   for (int a = 0; a < kAttempts; ++a) flags.Raise(Filled(a));
                   return e;
                 }};
    Actor reader{"reader", Role::kReader, [&](std::unique_ptr<End>& end) -> std::string {
                   for (int a = 0; a < kAttempts; ++a) {
                     if (!flags.WaitFor(Filled(a), deadline)) return "";
                     if (flags.Counter(kStop).load() != 0 && !flags.IsRaised(Returned(a))) {
                       return "";
                     }
                     std::string e = Trickle(*end, t.caps(), shape, flags, a, timing,
                                             waits.deliver_ms, deadline);
                     if (!e.empty()) return e;
                     flags.Raise(Drained(a));
                   }
                   return "";
                 }};
    return RunActors(t, env, {writer, reader});
  }

  const Param<uint64_t> units_{this, 0, "the send's bound is %s time units", 8};
};
IPCSPEC_REGISTER_PROPERTY(TimeoutPartialProperty, "G-TIMEOUT-PARTIAL", {.examples = 4});

}  // namespace g_timeout_partial
}  // namespace
}  // namespace ipcspec::props
