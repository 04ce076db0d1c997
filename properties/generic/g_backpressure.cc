// G-BACKPRESSURE: non-blocking sends into a channel that nobody reads are
// refused (EAGAIN) within the declared bounds, lose nothing, and succeed
// again once the reader has drained it; a blocking send (timeout -1) into
// the full channel waits for the room the reader's drain makes, never
// gives -EAGAIN; a non-blocking receive on an empty channel would-blocks.
//
// The oracle for each capability class (plugin.h, caps.capacity):
//   byte-bounded        the payload taken never passes `capacity`; an empty
//                       channel takes one send of min(capacity, max_message)
//                       bytes whole; how far a fill must get depends on the
//                       room a message costs: none (IPCSPEC_EXACT_CAPACITY):
//                       until the next send would not fit; page-rounded
//                       (built-in pipes): at least half; unknown (plugins):
//                       at least one message
//   count-bounded       never more than max_queued messages; exactly
//                       max_queued when their payload leaves room (always
//                       for empty messages, which only a count bounds: a
//                       channel bounded by bytes alone fills with 1 or more)
//   reliable            the reader then gets every message taken, in order
//   lossy               a subsequence of them; nothing owed
//   no declared bound   skipped: nothing to check the refusal against
//   counter             its room is its largest value: filled to a drawn
//                       distance below 0xfffffffffffffffe, an add one past
//                       it is refused, one to it exactly is taken, a 0
//                       always is; an add with no bound into the full
//                       counter waits for the reader, who then takes the
//                       maximum exactly, and then the add (counter_full.h)
//   peer-close, duplex  change nothing; realtime or not: no clock
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ipcspec/proc.h"
#include "properties/generic/counter_full.h"
#include "properties/generic/generic_property.h"
#include "properties/generic/oracle.h"

namespace ipcspec::props {
namespace {
namespace g_backpressure {

// Flags: the reader saw the empty channel; the big send is in; the reader
// took it; the writer filled the channel, or failed to (then it reports);
// the writer is about to block in a send, and its send returned; the reader
// drained the channel; the writer's send after that returned.
constexpr size_t kEmptyChecked = 0, kBigSent = 1, kBigTaken = 2, kFilled = 3, kDrained = 4,
                 kBlocking = 5, kBlockingDone = 6, kFillFailed = 7, kAgainDone = 8;
constexpr size_t kWriterPid = 2;  // a counter
constexpr uint32_t kFillWriter = 1, kBigWriter = 3, kAgainWriter = 4;

struct Fill {
  uint64_t msgs = 0, bytes = 0;  // sends taken (a torn stream send counts) and their payload
};

constexpr std::string_view kBigFirst[] = {
    "no capacity-sized message first",
    "the writer first sends one message of min(capacity, max_message) bytes"};

std::string Revisit(const Capabilities& c) {
  switch (c.overhead) {
    case Overhead::kNone:
      return "revisit capacity, or drop IPCSPEC_EXACT_CAPACITY if a message costs room beyond "
             "its payload";
    case Overhead::kBounded:
      return "revisit capacity (a fill must reach at least half of it)";
    case Overhead::kUnknown:
      break;
  }
  return "revisit capacity";
}

// The refusal after `f` against the declared bounds; "" when it fits.
std::string CheckFill(const Capabilities& c, uint64_t size, const Fill& f) {
  const bool message = c.framing == Framing::kMessage;
  const std::string what =
      absl::StrFormat("would-block after %d bytes in %d sends of %d", f.bytes, f.msgs, size);
  if (c.capacity > 0 && f.bytes > c.capacity) {
    return absl::StrFormat("%s; declared capacity %d: revisit capacity", what, c.capacity);
  }
  if (message && c.max_queued > 0 && f.msgs > c.max_queued) {
    return absl::StrFormat("%s; declared max_queued %d: revisit max_queued", what, c.max_queued);
  }
  if (f.msgs == 0) return absl::StrFormat("%s: an empty channel refused the first send", what);
  // Whether the payload may be what stopped it, given the room a message
  // may cost beyond its payload.
  bool bytes_full = false;
  if (c.capacity > 0) {
    switch (c.overhead) {
      case Overhead::kNone:
        bytes_full = message ? f.bytes + size > c.capacity : f.bytes >= c.capacity;
        break;
      case Overhead::kBounded:
        bytes_full = 2 * (f.bytes + size) > c.capacity;
        break;
      case Overhead::kUnknown:
        bytes_full = true;
        break;
    }
  }
  if (message && c.max_queued > 0) {
    if (f.msgs >= c.max_queued || (bytes_full && size > 0)) return "";
    if (c.capacity > 0) {
      return absl::StrFormat(
          "%s, short of both declared bounds (max_queued %d, capacity %d): %s; "
          "or revisit max_queued",
          what, c.max_queued, c.capacity, Revisit(c));
    }
    return absl::StrFormat("%s; declared max_queued %d: revisit max_queued", what, c.max_queued);
  }
  if (c.capacity > 0 && !bytes_full) {
    return absl::StrFormat("%s; declared capacity %d: %s", what, c.capacity, Revisit(c));
  }
  return "";
}

class BackpressureProperty final : public GenericProperty {
  Applicability AppliesToCaps(const Capabilities& c) const override {
    if (c.model == ModelClass::kCounter) return Applicability::Yes();
    return Needs(c.capacity > 0 || c.max_queued > 0,
                 "capacity=0 and max_queued=0 (no declared bound to check)");
  }
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const Capabilities c = t.caps();
    uint64_t limit = 4096;
    if (c.max_message) limit = std::min(limit, c.max_message);
    if (c.capacity) limit = std::min(limit, std::max<uint64_t>(c.capacity / 4, 1));
    // Empty messages only against a count: capacity bounds payload, and an
    // empty one has none (with IPCSPEC_EXACT_CAPACITY it always fits).
    const uint64_t low = c.framing == Framing::kStream || c.max_queued == 0 ? 1 : 0;
    return rc::gen::exec([this, c, limit, low] {
      std::vector<Step> steps;
      if (c.model == ModelClass::kCounter) {
        const auto below = *ShrinkingElementOf({0, 1, 2, 255, uint64_t{1} << 32});
        if (below != 0) steps.push_back(below_.Step(below));
        return steps;
      }
      if (c.capacity > 0 && *rc::gen::arbitrary<bool>()) steps.push_back(big_.Step(true));
      const uint64_t size = *rc::gen::weightedOneOf<uint64_t>({
          {2, rc::gen::elementOf(std::vector<uint64_t>{low, limit})},
          {3, rc::gen::inRange<uint64_t>(low, limit + 1)},
      });
      steps.push_back({Op::kTrySend, 1, size, 0});
      return steps;
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const Capabilities& c = t.caps();
    if (c.model == ModelClass::kCounter) return RunCounterFull(t, env, below_.Of(s));
    const std::vector<Sent> sends = SendsOf(s, 1);
    const uint64_t size = sends.empty() ? 1 : sends[0].size;
    const uint64_t big_size = c.max_message > 0 ? std::min(c.capacity, c.max_message) : c.capacity;
    const std::optional<Sent> big = big_.Of(s) && c.capacity > 0
                                        ? std::optional<Sent>(Sent{kBigWriter, 0, big_size})
                                        : std::nullopt;
    const Waits waits = Waits::For(env);
    SharedFlags flags(16);
    const Deadline deadline = Deadline::After(env.deadline - absl::Now());
    Actor writer{"writer", Role::kWriter, [&](std::unique_ptr<End>& end) {
                   return Write(*end, c, size, big, flags, deadline);
                 }};
    Actor reader{"reader", Role::kReader, [&](std::unique_ptr<End>& end) {
                   return Read(*end, c, size, big, waits, flags, deadline);
                 }};
    return RunActors(t, env, {writer, reader});
  }

  static std::string Write(End& end, const Capabilities& c, uint64_t size,
                           const std::optional<Sent>& big, SharedFlags& flags,
                           const Deadline& deadline) {
    if (!flags.WaitFor(kEmptyChecked, deadline)) return "the reader never checked the channel";
    if (big) {
      const std::vector<std::byte> data = Payload(big->writer, big->msg, big->size);
      size_t n = 0;
      const int rc = end.Send(data, &n, 0);
      if (rc != 0 || n != data.size()) {
        // The reader waits for the big message: it is told there is none.
        flags.Raise(kFillFailed);
        flags.Raise(kBigSent);
        return absl::StrFormat(
            "a non-blocking send of %d bytes (min(capacity, max_message)) into an empty channel "
            "gave %s with %d bytes taken; declared capacity %d: revisit capacity",
            data.size(), Errno(rc), n, c.capacity);
      }
      flags.Raise(kBigSent);
      if (!flags.WaitFor(kBigTaken, deadline)) return "the reader never took the big message";
    }
    Fill f;
    std::string e = FillUp(end, c, size, &f);
    if (e.empty()) e = CheckFill(c, size, f);
    flags.Counter(0).store(f.msgs);
    flags.Counter(1).store(f.bytes);
    if (!e.empty()) flags.Raise(kFillFailed);
    flags.Raise(kFilled);
    if (!e.empty()) return e;
    if (std::string b = SendBlocking(end, c, size, f.msgs, flags); !b.empty()) return b;
    if (!flags.WaitFor(kDrained, deadline)) return "the reader never drained";
    const Sent again{kAgainWriter, 0, std::min<uint64_t>(size, 16)};
    const std::vector<std::byte> data = Payload(again.writer, again.msg, again.size);
    size_t n = 0;
    const int rc = end.Send(data, &n, 0);
    flags.Raise(kAgainDone);
    if (rc != 0) return absl::StrFormat("send after the reader drained: %s, not 0", Errno(rc));
    return "";
  }

  // The next message, with no bound, into the full channel: it waits for
  // the room the reader makes (a byte stream may take it in pieces).
  static std::string SendBlocking(End& end, const Capabilities& c, uint64_t size, uint64_t msg,
                                  SharedFlags& flags) {
    flags.Counter(kWriterPid).store(static_cast<uint64_t>(::getpid()));
    flags.Raise(kBlocking);
    const std::string e = SendAll(end, {kFillWriter, msg, size}, c.framing, -1);
    flags.Raise(kBlockingDone);
    if (e.empty()) return e;
    return absl::StrCat(
        "a blocking send (timeout -1) into the channel the non-blocking sends filled: ", e,
        ": -1 waits for the room a receive makes");
  }

  // Non-blocking sends of `size` bytes until one is refused.
  static std::string FillUp(End& end, const Capabilities& c, uint64_t size, Fill* f) {
    // Four times the declared bound and 64 KiB: room for a relay's stages
    // and a kernel's rounding, and still few enough 1-byte sends that a
    // transport which never pushes back is caught in a second, shrinks
    // included (1 MiB of slack made that 15 s).
    const uint64_t give_up =
        4 * std::max(c.capacity, c.max_queued * std::max<uint64_t>(size, 1)) + (1 << 16);
    for (;;) {
      const std::vector<std::byte> data = Payload(kFillWriter, f->msgs, size);
      size_t n = 0;
      const int rc = end.Send(data, &n, 0);
      if (rc == -EAGAIN) return "";
      if (rc != 0) return absl::StrFormat("non-blocking send %d: %s", f->msgs, Errno(rc));
      if (n > size || (n != size && c.framing == Framing::kMessage)) {
        return absl::StrFormat("non-blocking send %d took %d of %d bytes", f->msgs, n, size);
      }
      f->bytes += n;
      ++f->msgs;
      if (n != size) return "";  // a stream took what fitted: full
      if (f->bytes > give_up || f->msgs > give_up) {
        return absl::StrFormat(
            "no EAGAIN after %d bytes in %d sends, far past the declared capacity %d and "
            "max_queued %d: the channel holds more than it declares (or the sends are lost)",
            f->bytes, f->msgs, c.capacity, c.max_queued);
      }
    }
  }

  static std::string Read(End& end, const Capabilities& c, uint64_t size,
                          const std::optional<Sent>& big, const Waits& waits, SharedFlags& flags,
                          const Deadline& deadline);

  const ChoiceParam<bool> big_{this, 0, "%s", false, kBigFirst};
  const Param<uint64_t> below_{this, 1,
                               "a counter: the writer first fills it to %s below its maximum", 0};
};
IPCSPEC_REGISTER_PROPERTY(BackpressureProperty, "G-BACKPRESSURE", {.examples = 20});

std::string BackpressureProperty::Read(End& end, const Capabilities& c, uint64_t size,
                                       const std::optional<Sent>& big, const Waits& waits,
                                       SharedFlags& flags, const Deadline& deadline) {
  std::vector<std::byte> buf(std::max<uint64_t>(RecvBufferSize(c), 65536));
  size_t n = 0;
  int rc = end.Recv(buf, &n, 0);
  flags.Raise(kEmptyChecked);
  if (rc != -EAGAIN) {
    return absl::StrFormat("non-blocking receive on an empty channel: %s, not -EAGAIN", Errno(rc));
  }
  if (big) {
    if (!flags.WaitFor(kBigSent, deadline)) return "";
    if (flags.IsRaised(kFillFailed)) return "";  // the writer says why
    Expectation e(c, {{*big}}, false, {kBigWriter});
    if (std::string err = ReceiveAll(end, c, e, waits.deliver_ms); !err.empty()) return err;
    flags.Raise(kBigTaken);
  }
  if (!flags.WaitFor(kFilled, deadline)) return "the writer never filled the channel";
  if (flags.IsRaised(kFillFailed)) return "";  // the writer says why
  const uint64_t msgs = flags.Counter(0).load(), total = flags.Counter(1).load();
  std::vector<Sent> want;
  for (uint64_t i = 0; i < msgs; ++i) want.push_back({kFillWriter, i, size});
  if (c.framing == Framing::kStream && total < msgs * size) want.back().size -= msgs * size - total;
  // The drain begins once the writer sleeps in its blocking send (or that
  // send has returned, or a grace went by: a send that spins for room).
  if (!flags.WaitFor(kBlocking, deadline)) return "the writer never made its blocking send";
  const auto writer = static_cast<pid_t>(flags.Counter(kWriterPid).load());
  if (!flags.IsRaised(kBlockingDone))
    WaitUntilAsleep(writer, Deadline::After(absl::Milliseconds(waits.deliver_ms)));
  want.push_back({kFillWriter, msgs, size});
  Expectation e(c, {want}, false, {kFillWriter});
  // A lossy transport owes nothing: what is there now is what came, and
  // once the blocking send has returned, what it added.
  std::string err = ReceiveAll(end, c, e, c.reliable ? waits.deliver_ms : 0);
  if (err.empty() && !c.reliable) {
    if (!flags.WaitFor(kBlockingDone, deadline)) return "";
    err = ReceiveAll(end, c, e, 0);
  }
  if (!err.empty()) return absl::StrCat("draining: ", err);
  rc = end.Recv(buf, &n, 0);
  if (rc != -EAGAIN) {
    return absl::StrFormat("drained channel: non-blocking receive gave %s, not -EAGAIN", Errno(rc));
  }
  flags.Raise(kDrained);
  // A lossy transport is owed nothing more, but the reader keeps its end
  // open until that send is made: a close would turn it into -EPIPE.
  if (!c.reliable) return flags.WaitFor(kAgainDone, deadline) ? "" : "the writer never sent again";
  Expectation again(c, {{Sent{kAgainWriter, 0, std::min<uint64_t>(size, 16)}}}, false,
                    {kAgainWriter});
  return ReceiveAll(end, c, again, waits.deliver_ms);
}

}  // namespace g_backpressure
}  // namespace
}  // namespace ipcspec::props
