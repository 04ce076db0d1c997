// G-AFTER-REFUSAL: a send the transport refuses gives back everything it
// took on its way: another writer's sends then go as before.
//
// A send that finds the channel full, or a message too big, returns an
// error. On the way it may have taken a lock among the writers, a slot, a
// reservation of room; the success path gives them back, and an error path
// written in a hurry does not (an early `return -EAGAIN` above the unlock).
// The writer that was refused lives on with its end open, so nothing is
// given back by its death or its close either, and every other writer then
// waits for good. A single writer never sees it: its own lock may be taken
// again by it (an OFD lock, a recursive mutex), and G-FULL counts only what
// a refusal leaves in the refused process.
//
// Writer 1 fills the channel with sends that do not wait, then is refused
// (one kind per example, each in turn):
//   full, at once     one more send with timeout 0: -EAGAIN
//   full, bounded     one more send with a bound of 1 ms: -ETIMEDOUT
//   too big           (without the fill) a send of max_message + 1 bytes:
//                     -EMSGSIZE
// and stays open and idle. The reader drains the channel; then writer 2
// sends its messages, each within the deliver bound, and the reader takes
// them. Then both writers close.
//
// The oracle for each capability class:
//   multi-writer, reliable   writer 2's sends each complete within the
//                            deliver bound, and its messages arrive whole,
//                            once and in its order (a stream: its bytes in
//                            order)
//   a refusal that does not  the example checks the rest all the same (a
//   come (the fill never     fill that is never refused is G-BACKPRESSURE's
//   refused, a big message   business, a big message taken G-BOUNDARY's)
//   taken)
//   kinds                    full ones where the channel can be filled
//                            (capacity or max_queued declared); too big
//                            where max_message is declared and messages
//   single writer, lossy,    does not apply: no other writer, or nothing
//   counter                  owed to check it by
//   peer-close, capacity,    change nothing: both writers stay open until
//   duplex, realtime         writer 2's messages are taken
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/generic/generic_property.h"
#include "properties/generic/wakeup.h"
#include "properties/support/common.h"

namespace ipcspec::props {
namespace {
namespace g_after_refusal {

enum Refusal : uint64_t { kFullNow = 0, kFullBounded = 1, kTooBig = 2 };
constexpr std::string_view kRefusals[] = {
    "writer 1 fills the channel, then a send with timeout 0 is refused",
    "writer 1 fills the channel, then a send with a bound of 1 ms is refused",
    "writer 1 sends a message of max_message + 1 bytes, which is refused"};
constexpr uint64_t kWriter2Messages = 3;

// Flags: writer 1 was refused (or tried); the reader drained; the reader
// took writer 2's messages. Counter: what the refusal gave.
constexpr size_t kRefused = 0, kDrained = 1, kDone = 2;
constexpr size_t kRefusedRc = 0;

std::vector<Refusal> RefusalsFor(const Capabilities& c) {
  std::vector<Refusal> out;
  if (CanFill(c)) out.insert(out.end(), {kFullNow, kFullBounded});
  if (c.framing == Framing::kMessage && c.max_message > 0) out.push_back(kTooBig);
  return out;
}

uint64_t FillSize(const Capabilities& c) {
  const uint64_t size = c.capacity > 0 ? std::min<uint64_t>(1024, c.capacity) : 64;
  return c.max_message > 0 ? std::min(size, c.max_message) : size;
}

// Writer 1: the refusal, then its end open and idle until the reader is
// done.
std::string Refuse(End& end, const Capabilities& c, Refusal kind, SharedFlags& flags,
                   const Deadline& deadline) {
  int rc = 0;
  size_t n = 0;
  if (kind == kTooBig) {
    const std::vector<std::byte> big = Payload(1, 0, c.max_message + 1);
    rc = end.Send(big, &n, 0);
  } else {
    const std::vector<std::byte> msg = Payload(1, 0, FillSize(c));
    rc = FillWithoutWaiting(end, c, msg);
    if (rc == -EAGAIN) rc = end.Send(msg, &n, kind == kFullNow ? 0 : 1);
  }
  flags.Counter(kRefusedRc).store(static_cast<uint64_t>(static_cast<int64_t>(rc)));
  flags.Raise(kRefused);
  (void)flags.WaitFor(kDone, deadline);
  return "";
}

// Writer 2, once the reader drained what writer 1 left.
std::string SendAfter(End& end, const Capabilities& c, SharedFlags& flags, const Waits& waits,
                      const Deadline& deadline) {
  if (!flags.WaitFor(kDrained, deadline)) return "";
  for (uint64_t k = 0; k < kWriter2Messages; ++k) {
    const Sent m{2, k, FillSize(c)};
    if (std::string err = SendAll(end, m, c.framing, waits.deliver_ms); !err.empty()) {
      return absl::StrFormat(
          "after writer 1's send was refused (%s) and writer 1 stayed open, with the channel "
          "drained: %s: the refused send kept what the other writers need (a lock, a slot, "
          "room it reserved)",
          Errno(static_cast<int>(static_cast<int64_t>(flags.Counter(kRefusedRc).load()))), err);
    }
  }
  return "";
}

// The reader: drains writer 1's fill, then takes writer 2's messages.
std::string ReadAfter(End& end, const Capabilities& c, SharedFlags& flags, const Waits& waits,
                      const Deadline& deadline) {
  std::vector<std::byte> buf(std::max<uint64_t>(DrainBufferSize(c), FillSize(c)));
  if (!flags.WaitFor(kRefused, deadline)) return "";
  const int drained = wakeup::DrainWithoutBlocking(end, c, buf);
  flags.Raise(kDrained);
  if (drained != -EAGAIN) return absl::StrCat("draining writer 1's messages: ", Errno(drained));
  std::vector<std::byte> want;
  for (uint64_t k = 0; k < kWriter2Messages; ++k) {
    const std::vector<std::byte> p = Payload(2, k, FillSize(c));
    want.insert(want.end(), p.begin(), p.end());
  }
  for (size_t got = 0; got < want.size();) {
    size_t n = 0;
    // Longer than the deliver bound and the hang grace together: a send of
    // writer 2's that waits for good fails first (or is a hang the watchdog
    // explains), and says why.
    const int rc = end.Recv(buf, &n, 2 * waits.deliver_ms + waits.grace_ms);
    if (rc != 0) {
      return absl::StrFormat("receiving writer 2's messages (%d of %d bytes come): %s", got,
                             want.size(), Errno(rc));
    }
    if (got + n > want.size() || std::memcmp(buf.data(), want.data() + got, n) != 0) {
      return absl::StrFormat(
          "%d bytes came at byte %d of writer 2's messages that it did not "
          "send there",
          n, got);
    }
    got += n;
  }
  flags.Raise(kDone);
  return "";
}

class AfterRefusalProperty final : public GenericProperty {
  Applicability AppliesToCaps(const Capabilities& c) const override {
    if (!c.multi_writer) return Needs(false, "multi_writer=false (no other writer to wait)");
    if (!c.reliable) return Needs(false, "reliable=false (nothing owed to check it by)");
    if (c.model == ModelClass::kCounter) return Needs(false, "model=counter");
    return Needs(!RefusalsFor(c).empty(),
                 "nothing to refuse (no capacity, max_queued or max_message declared)");
  }
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const std::vector<Refusal> kinds = RefusalsFor(t.caps());
    return rc::gen::exec([this, kinds] {
      const Refusal kind = kinds.empty() ? kFullNow : kinds[*EachInTurn(kinds.size())];
      std::vector<Step> steps;
      if (kind != kFullNow) steps.push_back(kind_.Step(kind));
      return steps;
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const Capabilities& c = t.caps();
    const auto kind = static_cast<Refusal>(kind_.Of(s));
    // A replay may ask for a kind this transport has not.
    const std::vector<Refusal> kinds = RefusalsFor(c);
    if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) return Verdict::Pass();
    const Waits waits = Waits::For(env);
    const Deadline deadline = Deadline::After(env.deadline - absl::Now() - absl::Milliseconds(500));
    SharedFlags flags(3);
    Actor writer1{"writer 1", Role::kWriter, [&](std::unique_ptr<End>& end) {
                    return Refuse(*end, c, kind, flags, deadline);
                  }};
    Actor writer2{"writer 2", Role::kWriter, [&](std::unique_ptr<End>& end) {
                    return SendAfter(*end, c, flags, waits, deadline);
                  }};
    Actor reader{"reader", Role::kReader, [&](std::unique_ptr<End>& end) {
                   return ReadAfter(*end, c, flags, waits, deadline);
                 }};
    return RunActors(t, env, {writer1, writer2, reader});
  }

  const ChoiceParam<uint64_t> kind_{this, 0, "%s", kFullNow, kRefusals};
};
IPCSPEC_REGISTER_PROPERTY(AfterRefusalProperty, "G-AFTER-REFUSAL", {.examples = 6});

}  // namespace g_after_refusal
}  // namespace
}  // namespace ipcspec::props
