// G-UNBOUNDED: a call with timeout -1 waits as long as it takes, longer than
// any default a transport might put in its place ("never hang for good":
// 200 ms, say). G-TIMEOUT's unbounded receive, held 8 time units at most,
// tells -1 read as "none" or as a short default; here each kind of
// unbounded call is held kHeldUnits (32) time units, once per run:
//   - an unbounded receive on the empty channel, answered only once the
//     reader has slept in it that long: it returns that message;
//   - on a channel that can be filled, an unbounded send: the writer fills
//     the channel with sends of timeout 0 until -EAGAIN, then sends with
//     -1, and the reader makes room once the writer has slept in that call
//     that long. The send returns only then, with what it took.
// Holds are multiples of the case's time unit (--time-unit). The property is
// about time, so it waits on the clock (the scheduler runs it beside the
// busy pairs).
//
// The oracle for each capability class:
//   every class         the unbounded receive returns the message sent to
//                       it, after the hold, not -ETIMEDOUT or -EAGAIN
//   lossy               the message is sent again once a time unit until
//                       it has come; no unbounded send (nothing is owed to
//                       a lossy writer)
//   capacity or         (reliable, not a counter) the unbounded send into
//   max_queued          the full channel returns after the reader began to
//                       make room, having taken its message (a stream: at
//                       least a byte of it); without either, no send can
//                       be made to wait
//   counter             the receive only: a sum refuses only near 2^64
//   peer-close or not   alike: the writer holds its end until the reader
//                       is done, so no END is due
//   duplex              the writer's end speaks
//   realtime or not     alike: only an early return fails, never a late one
#include <algorithm>
#include <vector>

#include "properties/generic/generic_property.h"
#include "properties/generic/unbounded.h"
#include "properties/support/common.h"

namespace ipcspec::props::unbounded {
namespace {
namespace g_unbounded {

// How long each unbounded call is held, in time units: past a default of a
// few hundred milliseconds at the default unit (10 ms).
constexpr uint64_t kHeldUnits = 32;

class UnboundedProperty final : public NamedProperty {
  bool MostlyWaits() const override { return true; }
  // Its one scenario is the transport's: more examples only wait again.
  bool OneScenario() const override { return true; }
  std::string DescribeStep(const Step& s) const override {
    if (s.op != Op::kWait) return NamedProperty::DescribeStep(s);
    return DescribeUnbounded(s);
  }
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    std::vector<Step> steps = {{Op::kWait, kUnboundedActor, kHeldUnits, 0}};
    if (SendCanWait(t.caps())) steps.push_back({Op::kWait, kUnboundedSendActor, kHeldUnits, 0});
    return rc::gen::just(steps);
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const absl::Duration unit = std::max(env.time_unit, absl::Milliseconds(1));
    SharedFlags flags(kFlagCount);
    const Deadline deadline = Deadline::After(env.deadline - absl::Now());
    const Capabilities& c = t.caps();
    const Step* receive = UnboundedStep(s);
    const Step* send = SendCanWait(c) ? UnboundedStep(s, kUnboundedSendActor) : nullptr;
    const std::vector<std::byte> msg = SleeperMessage(c);
    Actor writer{"writer", Role::kWriter, [&](std::unique_ptr<End>& end) -> std::string {
                   std::string e =
                       WriteUnbounded(*end, msg, c, unit, receive, send, flags, deadline);
                   // Holds its end open (so no end of stream) until the reader is done.
                   if (e.empty() && !flags.WaitFor(kReaderDone, deadline)) {
                     return "the reader never finished";
                   }
                   return e;
                 }};
    Actor reader{"reader", Role::kReader, [&](std::unique_ptr<End>& end) -> std::string {
                   std::vector<std::byte> buf(RecvBufferSize(c));
                   std::string e;
                   if (receive != nullptr) {
                     e = ReceiveUnbounded(*end, buf, c, receive->size, false, flags);
                   }
                   if (send != nullptr && e.empty()) {
                     e = MakeRoomLate(*end, buf, unit, send->size, Waits::For(env), flags,
                                      deadline);
                   }
                   flags.Raise(kReaderDone);
                   return e;
                 }};
    return RunActors(t, env, {writer, reader});
  }
};
IPCSPEC_REGISTER_PROPERTY(UnboundedProperty, "G-UNBOUNDED",
                          {.applies = EveryTransport, .examples = 1});

}  // namespace g_unbounded
}  // namespace
}  // namespace ipcspec::props::unbounded
