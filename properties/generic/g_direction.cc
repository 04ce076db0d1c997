// G-DIRECTION: a one-way transport refuses the wrong direction with EBADF at
// either end, at once even when the call may block, and the refused call
// leaves the data in flight alone.
//
// What this checks is the End contract of plugin.h. Who enforces it depends
// on the transport: the kernel, where an end is a descriptor opened one way
// (pipe, FIFO, a POSIX queue opened O_RDONLY or O_WRONLY, the file
// transport's O_RDONLY reader), or the transport's own role check, where the
// kernel object has no direction (a SysV queue, a shared-memory ring,
// signals, most plugins). The kernel's own check is tested directly by
// PIPE-EBADF and POSIX-MQ-EBADF.
//
// The oracle for each capability class (generic/oracle.h):
//   one-way             every wrong-way call gives -EBADF without waiting,
//                       whatever else is wrong with it (a send past
//                       max_message, a receive into an empty buffer)
//                       (a blocking one is given the deliver bound, and
//                       returning -ETIMEDOUT after it is a failure); then
//                       the reader gets what the writer sent, as G-ORDER
//                       (ordered), G-INTEGRITY (unordered) or, for a
//                       counter, nothing is checked of the data
//   reliable or lossy   the data check follows the class: every message
//                       (reliable) or a subsequence / sub-multiset (lossy)
//   duplex              skipped: both ends may send (G-DUPLEX)
//   capacity            any: the reader makes its wrong-way calls once the
//                       writer is done, or asleep in a send the channel has
//                       no room for (a bounded or undeclared capacity);
//                       at most max_queued messages
//   peer-close          after the data END; without, nothing more
//   realtime or not     alike: no clock
#include "absl/strings/str_format.h"
#include "properties/generic/generic_property.h"
#include "properties/generic/traffic.h"

namespace ipcspec::props {
namespace {
namespace g_direction {

constexpr size_t kWriterDone = 0;

// A wrong-way call: `blocking` gives it the deliver bound, else timeout 0.
std::string WrongWay(End& end, bool send, uint64_t size, bool blocking, int deliver_ms) {
  std::vector<std::byte> buf(size, std::byte{0xee});
  size_t n = 0;
  const int timeout = blocking ? deliver_ms : 0;
  const int rc = send ? end.Send(buf, &n, timeout) : end.Recv(buf, &n, timeout);
  if (rc == -EBADF) return "";
  return absl::StrFormat("a %s%s on the %s's end gave %s (%d bytes), not -EBADF",
                         blocking ? "blocking " : "non-blocking ", send ? "send" : "receive",
                         send ? "reader" : "writer", Errno(rc), n);
}

class DirectionProperty final : public GenericProperty {
  Applicability AppliesToCaps(const Capabilities& c) const override {
    return Needs(c.direction == Direction::kOneWay,
                 "direction=duplex (both ends may send; see G-DUPLEX)");
  }
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const Capabilities c = t.caps();
    return rc::gen::exec([c] {
      std::vector<Step> steps;
      const int n = *rc::gen::inRange(0, 6);
      // The wrong way is -EBADF whatever else is wrong with the call: a
      // send past max_message, a receive into an empty buffer (a size
      // checked before the role gives -EMSGSIZE).
      auto wrong = [&](uint32_t actor) {
        const bool blocking = *rc::gen::arbitrary<bool>();
        const bool oversize = *OneInThree();
        if (actor == 0) {
          const uint64_t size = oversize && c.max_message > 0 && c.max_message < (1u << 20)
                                    ? c.max_message + 1
                                    : *rc::gen::inRange<uint64_t>(0, 64);
          return Step{blocking ? Op::kSend : Op::kTrySend, 0, size, 99};
        }
        return Step{blocking ? Op::kRecv : Op::kTryRecv, 1, oversize ? 0u : 4096u, 0};
      };
      for (int i = 0; i < n; ++i) {
        uint64_t size = *rc::gen::inRange<uint64_t>(c.framing == Framing::kStream ? 1 : 0, 300);
        if (c.max_message > 0) size = std::min(size, c.max_message);
        if (c.model == ModelClass::kCounter) size = 8;
        if (c.max_queued > 0 && static_cast<uint64_t>(i) >= c.max_queued) break;
        steps.push_back(Step::Send(1, size, static_cast<uint64_t>(i)));
        if (*rc::gen::arbitrary<bool>()) steps.push_back(wrong(0));
        if (*rc::gen::arbitrary<bool>()) steps.push_back(wrong(1));
      }
      steps.push_back(wrong(0));
      steps.push_back(wrong(1));
      return steps;
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const Capabilities& c = t.caps();
    const bool counter = c.model == ModelClass::kCounter;
    Traffic traffic(c, env, {counter ? std::vector<Sent>{} : SendsOf(s, 1)});
    const int deliver = traffic.waits().deliver_ms;
    SharedFlags flags;
    ActorPids pids(1);  // the writer's, for the reader to wait until it sleeps
    // The writer does its sends and wrong-way receives in step order; then
    // the reader its wrong-way sends; then the reader receives everything.
    Actor writer{"writer", Role::kWriter, [&](std::unique_ptr<End>& end) -> std::string {
                   pids.Publish(0);
                   size_t k = 0;
                   for (const Step& st : s.steps) {
                     if (st.actor != 1) continue;
                     std::string e;
                     if (st.op == Op::kSend) {
                       e = counter ? AddOne(*end, deliver) : traffic.SendOne(*end, 0, k++);
                     } else if (st.op == Op::kRecv || st.op == Op::kTryRecv) {
                       e = WrongWay(*end, false, st.size, st.op == Op::kRecv, deliver);
                     }
                     if (!e.empty()) return e;
                   }
                   flags.Raise(kWriterDone);
                   std::string e = traffic.markers() ? traffic.SendMarkers(*end, 0) : "";
                   traffic.Finished(0);
                   return e;
                 }};
    Actor reader{"reader", Role::kReader, [&](std::unique_ptr<End>& end) -> std::string {
                   // Until the writer is done, or asleep: in a send that
                   // finds no room (nothing promises room for all it sends
                   // before anyone reads), or in a wrong-way call that
                   // waits, which its own check then reports.
                   const Deadline deadline = Deadline::After(env.deadline - absl::Now());
                   if (pids.Of(0, deadline) == 0) return "the writer did not start";
                   pids.AwaitAsleep(0, deadline);
                   for (const Step& st : s.steps) {
                     if (st.actor != 0 || (st.op != Op::kSend && st.op != Op::kTrySend)) continue;
                     std::string e = WrongWay(*end, true, st.size, st.op == Op::kSend, deliver);
                     if (!e.empty()) return e;
                   }
                   return counter ? "" : traffic.Read(*end);
                 }};
    return RunActors(t, env, {writer, reader});
  }

  static std::string AddOne(End& end, int timeout_ms) {
    uint64_t v = 1;
    size_t n = 0;
    const int rc = end.Send(std::as_bytes(std::span(&v, 1)), &n, timeout_ms);
    return rc == 0 ? "" : absl::StrCat("adding 1: ", Errno(rc));
  }
};
IPCSPEC_REGISTER_PROPERTY(DirectionProperty, "G-DIRECTION");

}  // namespace g_direction
}  // namespace
}  // namespace ipcspec::props
