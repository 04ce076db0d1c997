// G-PEER-GONE: after the reader closes, a send fails (EPIPE-like) instead of
// hanging or succeeding forever; a blocking stream send cut short by the
// close reports its partial count first.
#include "absl/strings/str_format.h"
#include "properties/support/common.h"

namespace ipcspec::props {
namespace {

bool PipeLike(int rc) { return rc == -EPIPE || rc == -ECONNRESET; }

class PeerGoneProperty : public NamedProperty {
 public:
  PeerGoneProperty()
      : NamedProperty(
            "G-PEER-GONE",
            "after the reader closes, send fails with EPIPE instead of hanging or "
            "succeeding forever; a cut-short blocking send reports its partial count first",
            "pipe(7), write(2) EPIPE; LTP pipe08; gVisor pipe.cc BlockPartialWriteClosed") {}
  Applicability AppliesTo(const Transport& t) const override {
    return Needs(t.caps().peer_close, "peer_close=false");
  }
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const Capabilities c = t.caps();
    return rc::gen::exec([c] {
      std::vector<Step> steps;
      // What the reader takes before it closes.
      const int before = *rc::gen::inRange(0, 4);
      for (int i = 0; i < before; ++i) {
        uint64_t size = *rc::gen::inRange<uint64_t>(c.framing == Framing::kStream ? 1 : 0, 2000);
        if (c.max_message) size = std::min(size, c.max_message);
        steps.push_back(Step::Send(1, size, static_cast<uint64_t>(i)));
      }
      const bool partial =
          c.framing == Framing::kStream && c.capacity > 0 && *rc::gen::arbitrary<bool>();
      steps.push_back(Step::Param(0, partial ? 1 : 0));
      steps.push_back(
          Step::Param(1, *rc::gen::elementOf(std::vector<uint64_t>{1, 100, 4096, 65536})));
      return steps;
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const Capabilities& c = t.caps();
    const std::vector<Sent> sent = SendsOf(s, 1);
    const bool partial = s.Param(0, 0) != 0;
    uint64_t size = s.Param(1, 100);
    if (c.max_message) size = std::min(size, c.max_message);
    SharedFlags flags;
    const Deadline deadline = Deadline::After(env.deadline - absl::Now());
    Actor writer{
        "writer", Role::kWriter, [&](std::unique_ptr<End>& end) -> std::string {
          for (const Sent& m : sent) {
            if (std::string e = SendAll(*end, m, c.framing, kOpTimeoutMs); !e.empty()) return e;
          }
          if (partial) {
            // Blocks on a full channel; the reader reads a little, then closes.
            std::vector<std::byte> big(2 * c.capacity + 4096, std::byte{1});
            if (!flags.WaitFor(2, deadline)) return "the reader did not take the first messages";
            flags.Raise(0);
            size_t n = 0;
            int rc = end->Send(big, &n, -1);
            if (rc != 0 && !PipeLike(rc)) {
              return absl::StrFormat("a blocking send cut short by the reader's close gave %s",
                                     Errno(rc));
            }
            if (rc == 0 && n >= big.size()) {
              return absl::StrFormat(
                  "a %d-byte blocking send reported all sent, though the reader closed",
                  big.size());
            }
            if (rc == 0) {
              size_t m = 0;
              rc = end->Send(std::span(big).first(1), &m, -1);
              if (!PipeLike(rc)) {
                return absl::StrFormat(
                    "after a partial send (%d of %d bytes), the next send gave %s, not -EPIPE", n,
                    big.size(), Errno(rc));
              }
            }
            return "";
          }
          flags.Raise(0);
          if (!flags.WaitFor(1, deadline)) return "the reader never closed";
          std::vector<std::byte> buf(size, std::byte{2});
          // Buffering may swallow a few sends (TCP's first send after the
          // peer closed succeeds), but never an unbounded number.
          const uint64_t limit = 64 + (c.capacity + (4 << 20)) / std::max<uint64_t>(size, 1);
          for (uint64_t i = 0; i < limit; ++i) {
            size_t n = 0;
            int rc = end->Send(buf, &n, -1);
            if (PipeLike(rc)) return "";
            if (rc != 0)
              return absl::StrFormat("send after the reader closed gave %s, not -EPIPE", Errno(rc));
          }
          return absl::StrFormat("%d sends of %d bytes succeeded after the reader closed", limit,
                                 size);
        }};
    Actor reader{"reader", Role::kReader, [&](std::unique_ptr<End>& end) -> std::string {
                   std::string e;
                   if (c.framing == Framing::kStream) {
                     e = ExpectStream(*end, sent, {}, kOpTimeoutMs);
                   } else {
                     for (const Sent& m : sent) {
                       e = ExpectMessage(*end, m, sent, RecvBufferSize(c), kOpTimeoutMs);
                       if (!e.empty()) return e;
                     }
                   }
                   if (!e.empty()) return e;
                   flags.Raise(2);
                   if (!flags.WaitFor(0, deadline)) return "the writer did not get going";
                   if (partial) {
                     // Take a little of the blocked send, so it has made progress.
                     std::vector<std::byte> buf(1000);
                     size_t n = 0;
                     int rc = end->Recv(buf, &n, kOpTimeoutMs);
                     if (rc != 0)
                       return absl::StrCat("reading part of the blocked send: ", Errno(rc));
                   }
                   end.reset();
                   flags.Raise(1);
                   return "";
                 }};
    return RunActors(t, env, {writer, reader});
  }
};

IPCSPEC_REGISTER_PROPERTY(PeerGoneProperty);

}  // namespace
}  // namespace ipcspec::props
