// G-ORDER: one producer, one consumer; what arrives is the sent sequence.
//
// The oracle for each capability class (generic/oracle.h):
//   reliable + ordered  exactly the sent sequence: message by message, or the
//                       byte concatenation, whatever the read chunking
//   ordered only        a subsequence: losses only, never a reordered,
//                       duplicated or corrupt message (a byte stream: a prefix)
//   unordered           skipped: there is no order (G-INTEGRITY checks
//                       what arrives)
//   duplex              the writer's end speaks (G-DUPLEX: both ends)
//   capacity            any: the writer blocks while the reader reads
//   peer-close          after the last message END; without, a non-blocking
//                       receive finds nothing more
//   realtime or not     alike: every wait returns the moment data comes
#include "absl/strings/str_format.h"
#include "properties/generic/generic_property.h"
#include "properties/generic/traffic.h"

namespace ipcspec::props {
namespace {
namespace g_order {

class OrderProperty final : public GenericProperty {
  Applicability AppliesToCaps(const Capabilities& c) const override {
    if (c.model == ModelClass::kCounter) return Needs(false, "model=counter (values are summed)");
    return Needs(c.ordered, "ordered=false (no order to check; G-INTEGRITY checks the contents)");
  }
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const Capabilities c = t.caps();
    return rc::gen::exec([c] {
      auto sizes =
          *rc::gen::resize(20, rc::gen::container<std::vector<uint64_t>>(EdgeSize(c, true)));
      std::vector<Step> steps;
      for (size_t i = 0; i < sizes.size(); ++i) steps.push_back(Step::Send(1, sizes[i], i));
      if (c.framing == Framing::kStream) {
        auto chunks = *rc::gen::resize(
            5, rc::gen::nonEmpty(rc::gen::container<std::vector<uint64_t>>(ChunkSize())));
        for (uint64_t ch : chunks) steps.push_back(Step::Recv(0, ch));
      }
      return steps;
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    Traffic traffic(t.caps(), env, {SendsOf(s, 1)});
    const std::vector<uint64_t> chunks = ChunksOf(s);
    Actor writer{"writer", Role::kWriter,
                 [&](std::unique_ptr<End>& end) { return traffic.Write(*end, 0); }};
    Actor reader{"reader", Role::kReader,
                 [&](std::unique_ptr<End>& end) { return traffic.Read(*end, chunks); }};
    return RunActors(t, env, {writer, reader});
  }
};
IPCSPEC_REGISTER_PROPERTY(OrderProperty, "G-ORDER");

}  // namespace g_order
}  // namespace
}  // namespace ipcspec::props
