// G-INTEGRITY: a reliable transport loses, duplicates and corrupts nothing,
// whatever the mix of blocking and non-blocking calls and read chunking.
#include <cstring>

#include "absl/strings/str_format.h"
#include "properties/support/common.h"

namespace ipcspec::props {
namespace {

uint64_t CounterValue(const Sent& s) { return (s.msg + 1) * 1000 + s.size; }

class IntegrityProperty : public NamedProperty {
 public:
  IntegrityProperty()
      : NamedProperty("G-INTEGRITY",
                      "reliable transports: no loss, no duplication, no corruption, whatever the "
                      "blocking mode and read chunking",
                      "pipe(7), unix(7), mq_overview(7); LTP testcases/kernel/ipc/pipeio") {}
  Applicability AppliesTo(const Transport& t) const override {
    return Needs(t.caps().reliable, "reliable=false");
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
    std::vector<Sent> sent = SendsOf(s, 1);
    std::vector<bool> try_send;
    std::vector<uint64_t> chunks;
    for (const Step& st : s.steps) {
      if (st.op == Op::kSend || st.op == Op::kTrySend) try_send.push_back(st.op == Op::kTrySend);
      if (st.op == Op::kRecv) chunks.push_back(st.size);
      if (st.op == Op::kTryRecv) chunks.push_back(st.size | kTryFirst);
    }
    const bool counter = c.model == ModelClass::kCounter;
    Actor writer{"writer", Role::kWriter, [&](std::unique_ptr<End>& end) -> std::string {
                   for (size_t i = 0; i < sent.size(); ++i) {
                     if (counter) {
                       uint64_t v = CounterValue(sent[i]);
                       size_t n = 0;
                       int rc = end->Send(std::as_bytes(std::span(&v, 1)), &n, kOpTimeoutMs);
                       if (rc != 0) return absl::StrCat("adding ", v, ": ", Errno(rc));
                       continue;
                     }
                     std::string e = SendAll(*end, sent[i], c.framing, kOpTimeoutMs, try_send[i]);
                     if (!e.empty()) return e;
                   }
                   return "";
                 }};
    Actor reader{
        "reader", Role::kReader, [&](std::unique_ptr<End>& end) -> std::string {
          std::string e;
          if (counter) {
            uint64_t want = 0, got = 0;
            for (const Sent& m : sent) want += CounterValue(m);
            while (got < want) {
              uint64_t v = 0;
              size_t n = 0;
              int rc = end->Recv(std::as_writable_bytes(std::span(&v, 1)), &n, kOpTimeoutMs);
              if (rc != 0)
                return absl::StrFormat("counter read at %d of %d: %s", got, want, Errno(rc));
              if (n != 8 || v == 0)
                return absl::StrFormat("counter read gave %d bytes, value %d", n, v);
              got += v;
            }
            if (got != want) return absl::StrFormat("counter summed to %d, sent %d", got, want);
          } else if (c.framing == Framing::kStream) {
            e = ExpectStream(*end, sent, chunks, kOpTimeoutMs);
          } else if (c.ordered) {
            for (const Sent& m : sent) {
              e = ExpectMessage(*end, m, sent, RecvBufferSize(c), kOpTimeoutMs);
              if (!e.empty()) break;
            }
          } else {
            e = ExpectUnordered(*end, c, sent, /*reliable=*/true);
          }
          return e.empty() ? ExpectNothingMore(*end, c, /*writers_closed=*/true) : e;
        }};
    return RunActors(t, env, {writer, reader});
  }
};

IPCSPEC_REGISTER_PROPERTY(IntegrityProperty);

}  // namespace
}  // namespace ipcspec::props
