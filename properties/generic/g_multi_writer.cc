// G-MULTI-WRITER: K producers, one consumer: each producer's messages arrive
// in its own order, and sends up to the atomic limit never interleave.
//
// The oracle for each capability class (generic/oracle.h):
//   reliable + ordered  every writer's exact sequence, interleaved in any way
//                       (empty messages of different writers are told apart
//                       by what comes after them)
//   ordered only        a subsequence of each writer's sequence
//   unordered           a sub-multiset (reliable: all of them)
//   byte stream         atomic_write > 0 only: the stream is the writers'
//                       writes, each whole and in its writer's order
//                       (without atomic_write writes may interleave: skipped)
//   counter             skipped: values are summed (G-FANIN)
//   capacity            any: writers block while the reader reads
//   peer-close          END once every writer closed; without, nothing more
//   duplex              the writers' ends speak (G-DUPLEX: both ends)
//   realtime or not     alike: no clock
//
// A parameter makes the last writer open its end late: once every other
// writer is asleep, blocked on a full channel or done (each keeps its end
// open until then), and before the reader reads. What the others sent is
// then in the channel when it opens: a transport whose writer's open sets
// the ring or queue up afresh wipes it, which no test where all open first
// can see.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/generic/generic_property.h"
#include "properties/generic/traffic.h"

namespace ipcspec::props {
namespace {

// One send per message: a stream send of at most atomic_write bytes must go
// in one piece.
std::string SendWhole(End& end, const std::vector<Sent>& msgs, const Capabilities& c,
                      int timeout_ms) {
  for (const Sent& m : msgs) {
    const std::vector<std::byte> data = Payload(m.writer, m.msg, m.size);
    size_t n = 0;
    const int rc = end.Send(data, &n, timeout_ms);
    if (rc != 0) return absl::StrCat("sending ", Name(m), ": ", Errno(rc));
    if (n != m.size) {
      return absl::StrFormat("sending %s took %d bytes of %d (atomic_write %d)", Name(m), n, m.size,
                             c.atomic_write);
    }
  }
  return "";
}

class MultiWriterProperty final : public GenericProperty {
  Applicability AppliesToCaps(const Capabilities& c) const override {
    if (!c.multi_writer) return Needs(false, "multi_writer=false");
    if (c.model == ModelClass::kCounter) return Needs(false, "model=counter (see G-FANIN)");
    return Needs(c.framing == Framing::kMessage || c.atomic_write > 0,
                 "atomic_write=0 on a byte stream (writes may interleave)");
  }
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const Capabilities c = t.caps();
    return rc::gen::exec([this, c] {
      const auto writers = *rc::gen::inRange<uint32_t>(2, 5);
      std::vector<Step> steps = {writers_.Step(writers),
                                 late_writer_.Step(*rc::gen::arbitrary<bool>())};
      for (uint32_t w = 1; w <= writers; ++w) {
        auto sizes = *rc::gen::resize(12, rc::gen::container<std::vector<uint64_t>>(AtomicSize(c)));
        // On a stream a write is recognised by its bytes; 8 of them tell two
        // writers' writes apart.
        if (c.framing == Framing::kStream) {
          for (uint64_t& sz : sizes)
            sz = std::max<uint64_t>(sz, std::min<uint64_t>(8, c.atomic_write));
        }
        for (size_t i = 0; i < sizes.size(); ++i) steps.push_back(Step::Send(w, sizes[i], i));
      }
      return steps;
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const Capabilities& c = t.caps();
    const uint32_t writers = std::clamp<uint32_t>(writers_.Of(s), 1, 31);
    std::vector<std::vector<Sent>> per;
    for (uint32_t w = 1; w <= writers; ++w) per.push_back(SendsOf(s, w));
    Traffic traffic(c, env, per);
    // With a late writer, flag 0: it has its end open (the others keep theirs
    // open and the reader does not read until then); flag w: writer w has
    // begun to send.
    const bool late = writers > 1 && late_writer_.Of(s);
    SharedFlags marks(1 + writers);
    const Deadline deadline = Deadline::After(env.deadline - absl::Now());
    std::vector<Actor> actors;
    for (uint32_t w = 1; w <= writers; ++w) {
      actors.push_back(
          {absl::StrCat("writer ", w), Role::kWriter, [&, w](std::unique_ptr<End>& end) {
             marks.Raise(late && w == writers ? 0 : w);
             std::string e = SendWhole(*end, per[w - 1], c, traffic.waits().deliver_ms);
             if (e.empty() && !c.reliable) e = traffic.SendMarkers(*end, w - 1);
             if (late && w < writers) marks.WaitFor(0, deadline);
             traffic.Finished(w - 1);
             return e;
           }});
    }
    if (late) {
      actors.back().before_open = [&marks, writers](const ActorPids& pids, const Deadline& d) {
        for (uint32_t w = 1; w < writers; ++w) {
          if (marks.WaitFor(w, d)) pids.AwaitAsleep(w - 1, d);
        }
      };
    }
    actors.push_back({"reader", Role::kReader, [&](std::unique_ptr<End>& end) {
                        if (late) marks.WaitFor(0, deadline);
                        return traffic.Read(*end);
                      }});
    return RunActors(t, env, std::move(actors));
  }

  const Param<uint32_t> writers_{this, 0, "%s writers send at once", 2};
  const YesNoParam late_writer_{
      this, 1, "the last writer opens its end only once the others are asleep or done: %s", false};
};
IPCSPEC_REGISTER_PROPERTY(MultiWriterProperty, "G-MULTI-WRITER");

}  // namespace
}  // namespace ipcspec::props
