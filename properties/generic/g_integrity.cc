// G-INTEGRITY: nothing that arrives is duplicated or corrupted, whatever the
// mix of blocking and non-blocking calls and read chunking; a reliable
// transport also loses nothing.
//
// The oracle for each capability class (generic/oracle.h):
//   reliable + ordered  exactly the sent sequence (a stream: the bytes)
//   ordered only        a subsequence of it (a stream: a prefix)
//   reliable unordered  exactly the messages sent, in any order
//   neither             a sub-multiset of them: nothing corrupt or twice
//   counter             the values read sum to the values added, every
//                       read non-zero (eventfd(2)); a lossy counter has no
//                       oracle and is skipped
//   duplex              the writer's end speaks (G-DUPLEX: both ends)
//   capacity            any: a non-blocking send that would block is
//                       retried blocking, so nothing depends on the bound
//   peer-close          after the last message END; without, nothing more
//   realtime or not     alike: no clock
#include "properties/generic/generic_property.h"
#include "properties/generic/traffic.h"

namespace ipcspec::props {
namespace {

class IntegrityProperty final : public GenericProperty {
  Applicability AppliesToCaps(const Capabilities& c) const override { return SummableIfCounter(c); }
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    return MixedTraffic(t.caps());
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const Capabilities& c = t.caps();
    const MixedPlan plan = MixedPlanOf(s);
    Traffic traffic(c, env, {plan.sent});
    Actor writer{"writer", Role::kWriter,
                 [&](std::unique_ptr<End>& end) { return traffic.Write(*end, 0, plan.try_send); }};
    Actor reader{"reader", Role::kReader,
                 [&](std::unique_ptr<End>& end) { return traffic.Read(*end, plan.chunks); }};
    return RunActors(t, env, {writer, reader});
  }
};
IPCSPEC_REGISTER_PROPERTY(IntegrityProperty, "G-INTEGRITY");

}  // namespace
}  // namespace ipcspec::props
