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
#include <cstring>

#include "absl/strings/str_format.h"
#include "properties/generic/generic_property.h"
#include "properties/generic/traffic.h"

namespace ipcspec::props {
namespace {

class IntegrityProperty final : public GenericProperty {
  Applicability AppliesToCaps(const Capabilities& c) const override {
    return SummableIfCounter(c);
  }
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const Capabilities c = t.caps();
    return rc::gen::exec([c] {
      const bool counter = c.model == ModelClass::kCounter;
      auto sizes = *rc::gen::resize(40, rc::gen::container<std::vector<uint64_t>>(
                                            counter ? rc::gen::just<uint64_t>(8) : EdgeSize(c)));
      std::vector<Step> steps;
      for (size_t i = 0; i < sizes.size(); ++i) {
        const bool try_first = *rc::gen::arbitrary<bool>();
        steps.push_back({try_first ? Op::kTrySend : Op::kSend, 1, sizes[i], i});
      }
      if (c.framing == Framing::kStream) {
        auto chunks = *rc::gen::resize(
            6, rc::gen::nonEmpty(rc::gen::container<std::vector<uint64_t>>(ChunkSize())));
        for (uint64_t ch : chunks) {
          const bool try_first = *rc::gen::arbitrary<bool>();
          steps.push_back({try_first ? Op::kTryRecv : Op::kRecv, 0, ch, 0});
        }
      }
      return steps;
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const Capabilities& c = t.caps();
    const std::vector<Sent> sent = SendsOf(s, 1);
    std::vector<bool> try_send;
    std::vector<uint64_t> chunks;
    for (const Step& st : s.steps) {
      if (st.op == Op::kSend || st.op == Op::kTrySend) try_send.push_back(st.op == Op::kTrySend);
      if (st.op == Op::kRecv) chunks.push_back(st.size);
      if (st.op == Op::kTryRecv) chunks.push_back(st.size | kTryFirst);
    }
    Traffic traffic(c, env, {sent});
    const bool counter = c.model == ModelClass::kCounter;
    const int deliver = traffic.waits().deliver_ms;
    Actor writer{"writer", Role::kWriter, [&](std::unique_ptr<End>& end) {
                   return counter ? AddAll(*end, sent, deliver) : traffic.Write(*end, 0, try_send);
                 }};
    Actor reader{"reader", Role::kReader, [&](std::unique_ptr<End>& end) -> std::string {
                   if (!counter) return traffic.Read(*end, chunks);
                   std::string e = SumAll(*end, sent, deliver);
                   return e.empty() ? traffic.NothingMore(*end) : e;
                 }};
    return RunActors(t, env, {writer, reader});
  }
};
IPCSPEC_REGISTER_PROPERTY(IntegrityProperty, "G-INTEGRITY");

}  // namespace
}  // namespace ipcspec::props
