// G-ORDER: one producer, one consumer; the consumer sees exactly the sent
// sequence, message by message or as the byte concatenation, whatever the
// read chunking.
#include "absl/strings/str_format.h"
#include "properties/support/common.h"

namespace ipcspec::props {
namespace {

class OrderProperty : public Property {
 public:
  std::string_view id() const override { return "G-ORDER"; }
  std::string_view summary() const override {
    return "one producer, one consumer: the consumer sees exactly the sent sequence";
  }
  std::string_view reference() const override {
    return "pipe(7), mq_overview(7), unix(7); gVisor test/syscalls/linux/pipe.cc";
  }
  Applicability AppliesTo(const Transport& t) const override {
    const Capabilities& c = t.caps();
    if (!c.reliable) return Needs(false, "reliable=false");
    if (!c.ordered) return Needs(false, "ordered=false");
    return Needs(OrderedModel(c), absl::StrFormat("model=%s", ModelClassName(c.model)));
  }
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const Capabilities c = t.caps();
    return rc::gen::exec([c] {
      auto sizes = *rc::gen::resize(20, rc::gen::container<std::vector<uint64_t>>(EdgeSize(c)));
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
    const Capabilities& c = t.caps();
    std::vector<Sent> sent;
    std::vector<uint64_t> chunks;
    for (const Step& st : s.steps) {
      if (st.op == Op::kSend) sent.push_back({1, st.arg, st.size});
      if (st.op == Op::kRecv) chunks.push_back(st.size);
    }
    Actor writer{"writer", Role::kWriter, [&](std::unique_ptr<End>& end) {
                   for (const Sent& m : sent) {
                     if (std::string e = SendAll(*end, m, c.framing, kOpTimeoutMs); !e.empty())
                       return e;
                   }
                   return std::string();
                 }};
    Actor reader{"reader", Role::kReader, [&](std::unique_ptr<End>& end) -> std::string {
                   std::string e;
                   if (c.framing == Framing::kStream) {
                     e = ExpectStream(*end, sent, chunks, kOpTimeoutMs);
                   } else {
                     for (const Sent& m : sent) {
                       e = ExpectMessage(*end, m, sent, RecvBufferSize(c), kOpTimeoutMs);
                       if (!e.empty()) break;
                     }
                   }
                   return e.empty() ? ExpectNothingMore(*end, c, /*writers_closed=*/true) : e;
                 }};
    return RunActors(t, env, {writer, reader});
  }
};

IPCSPEC_REGISTER_PROPERTY(OrderProperty);

}  // namespace
}  // namespace ipcspec::props
