// G-CONTENTION: several writers send thousands of small messages each, all
// at once, through one channel.
//
// G-MULTI-WRITER and G-FANIN send a handful of messages per writer, so two
// sends overlap a few times per example. A reservation that is not atomic
// (a ticket or slot index read, then written back; a compare-and-swap whose
// failure path publishes anyway; a lock given up before the copy is done)
// goes wrong only when two sends are inside it at the same instant, a window
// of nanoseconds that a few overlaps almost never hit. Here three writers,
// started together once every end is open, send 10,000 messages of 0-16
// bytes each (a byte stream: 8-23, within its atomic_write), and the reader
// checks every arrival against the oracle of the transport's class: two
// writers that took one slot leave a message lost, doubled or torn, and a
// ring whose indices disagree hangs, which the watchdog reports with the
// call that hung. A POLLED transport with a bounded channel sends 200 each
// (see G-VOLUME: it waits a polling interval each time it fills).
//
// The oracle for each capability class (generic/oracle.h, as
// G-MULTI-WRITER):
//   reliable + ordered  every writer's exact sequence, interleaved any way
//   reliable only       (a lossy transport is not checked: its writers end
//                       with markers, which thousands of dropped sends drown)
//   unordered           the messages sent, each whole, once
//   byte stream         atomic_write > 0 only: each write whole, in order
//   counter             the reads sum to the 30,000 adds (reliable only)
//   capacity            any: writers block while the reader reads
//   peer-close          END once every writer closed; without, nothing more
//   duplex, realtime    change nothing: the writers' ends speak, no clock
#include <algorithm>

#include "absl/strings/str_format.h"
#include "properties/generic/generic_property.h"
#include "properties/generic/traffic.h"

namespace ipcspec::props {
namespace {
namespace g_contention {

constexpr uint32_t kWriters = 3;
constexpr uint64_t kEach = 10000, kPolledEach = 200;

std::vector<Sent> MessagesOf(const Capabilities& c, uint32_t writer, uint64_t n) {
  std::vector<Sent> sent;
  sent.reserve(n);
  for (uint64_t k = 0; k < n; ++k) {
    // A stream's writes are told apart by their bytes: 8 at least, so that
    // no two writers' next writes begin alike.
    uint64_t size = c.framing == Framing::kStream ? 8 + (k + writer) % 16 : (k + writer) % 17;
    if (c.model == ModelClass::kCounter) size = 8;
    if (c.max_message != 0) size = std::min(size, c.max_message);
    if (c.atomic_write != 0) size = std::min(size, c.atomic_write);
    sent.push_back({writer, k, size});
  }
  return sent;
}

class ContentionProperty final : public GenericProperty {
  Applicability AppliesToCaps(const Capabilities& c) const override {
    if (!c.multi_writer) return Needs(false, "multi_writer=false");
    // A lossy channel's writers end with markers the reader may not wait
    // for among 30,000 sends; what it may lose leaves little to count.
    if (!c.reliable) return Needs(false, "reliable=false");
    if (c.model == ModelClass::kCounter) return SummableIfCounter(c);
    return Needs(c.framing == Framing::kMessage || c.atomic_write > 0,
                 "atomic_write=0 on a byte stream (writes may interleave)");
  }
  // Every example is the same scenario: one says all.
  bool OneScenario() const override { return true; }
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const Capabilities& c = t.caps();
    const bool polled_bounded = !c.realtime && (c.capacity > 0 || c.max_queued > 0);
    return rc::gen::just(std::vector<Step>{each_.Step(polled_bounded ? kPolledEach : kEach)});
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const Capabilities& c = t.caps();
    const uint64_t each = each_.Of(s);
    if (each == 0 || each > kEach) {
      return Verdict::Broken(
          absl::StrFormat("%s sends 1-%d messages per writer, not %d", id(), kEach, each));
    }
    std::vector<std::vector<Sent>> per_writer;
    for (uint32_t w = 1; w <= kWriters; ++w) per_writer.push_back(MessagesOf(c, w, each));
    Traffic traffic(c, env, per_writer);
    std::vector<Actor> actors;
    for (size_t w = 0; w < kWriters; ++w) {
      actors.push_back(
          {absl::StrFormat("writer %d", w + 1), Role::kWriter,
           [&traffic, w](std::unique_ptr<End>& end) { return traffic.Write(*end, w); }});
    }
    actors.push_back(
        {"reader", Role::kReader, [&](std::unique_ptr<End>& end) { return traffic.Read(*end); }});
    return RunActors(t, env, std::move(actors));
  }

  const Param<uint64_t> each_{this, 0, "%s messages from each of 3 writers at once", kEach};
};
IPCSPEC_REGISTER_PROPERTY(ContentionProperty, "G-CONTENTION", {.examples = 1});

}  // namespace g_contention
}  // namespace
}  // namespace ipcspec::props
