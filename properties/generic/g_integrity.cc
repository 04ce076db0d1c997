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
//
// A parameter makes the reader open its end late: once the writer, which
// does not wait for it, is asleep (blocked in a send on a full channel, or
// in an open that waits for a reader) or has sent everything and closed.
// The contract does not order one participant's open after another's
// traffic, so what was sent before the reader came is owed as well: a
// transport whose reader's open sets up the ring or queue afresh (and so
// wipes what is in it), or binds the address the writer's sends went to,
// passes wherever the reader opens first, and loses the start of a stream
// whose consumer starts late. (A transport that refuses sends with -EPIPE
// or -ECONNRESET until a reader has opened is let be: that example checks
// nothing. Its sends failed, so nothing was lost.)
//
// Another puts the writer in the reader's process as a second thread, both
// ends open at once and used at once (the contract lets a process hold both
// ends, and bars only concurrent calls on one end): a transport whose send
// and receive share process-wide state (a static frame buffer, one lock
// held while a receive sleeps) corrupts or stalls there, and nowhere else.
// The thread opens, uses and closes the writer's end itself: an end never
// changes threads.
#include "absl/strings/match.h"
#include "properties/generic/generic_property.h"
#include "properties/generic/traffic.h"

namespace ipcspec::props {
namespace {
namespace g_integrity {

constexpr size_t kOpened = 0, kRefused = 1;

class IntegrityProperty final : public GenericProperty {
  Applicability AppliesToCaps(const Capabilities& c) const override { return SummableIfCounter(c); }
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const Capabilities c = t.caps();
    return rc::gen::exec([this, c] {
      const bool late = *rc::gen::arbitrary<bool>();
      std::vector<Step> steps = {late_reader_.Step(late)};
      if (!late) steps.push_back(threads_.Step(*rc::gen::arbitrary<bool>()));
      for (const Step& st : *MixedTraffic(c)) steps.push_back(st);
      return steps;
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const Capabilities& c = t.caps();
    const MixedPlan plan = MixedPlanOf(s);
    const bool late = late_reader_.Of(s);
    Traffic traffic(c, env, {plan.sent});
    SharedFlags flags(2);  // kOpened: the reader has its end; kRefused: see above
    Actor writer{
        "writer", Role::kWriter, [&](std::unique_ptr<End>& end) {
          std::string e = traffic.Write(*end, 0, plan.try_send);
          if (late && !flags.IsRaised(kOpened) &&
              (absl::StrContains(e, ": -EPIPE") || absl::StrContains(e, ": -ECONNRESET"))) {
            flags.Raise(kRefused);
            return std::string();
          }
          return e;
        }};
    Actor reader{"reader", Role::kReader, [&](std::unique_ptr<End>& end) {
                   flags.Raise(kOpened);
                   if (flags.IsRaised(kRefused)) return std::string();
                   return traffic.Read(*end, plan.chunks);
                 }};
    if (threads_.Of(s) && !late) {
      Actor both{"the reader's process", Role::kReader, nullptr};
      both.ends = {{0, Role::kReader}, {0, Role::kWriter, /*own_thread=*/true}};
      both.with_ends = [&](std::vector<std::unique_ptr<End>>& ends) {
        return traffic.Read(*ends[0], plan.chunks);
      };
      both.in_thread = [&](std::unique_ptr<End>& end) {
        return traffic.Write(*end, 0, plan.try_send);
      };
      return RunActors(t, env, {both});
    }
    if (late) {
      reader.before_open = [](const ActorPids& pids, const Deadline& deadline) {
        pids.AwaitAsleep(0, deadline);  // the writer
      };
    }
    return RunActors(t, env, {writer, reader});
  }

  const YesNoParam late_reader_{
      this, 0, "the reader opens its end only once the writer is asleep or done: %s", false};
  const YesNoParam threads_{
      this, 1, "the writer is a second thread of the reader's process, both ends open at once: %s",
      false};
};
IPCSPEC_REGISTER_PROPERTY(IntegrityProperty, "G-INTEGRITY");

}  // namespace g_integrity
}  // namespace
}  // namespace ipcspec::props
