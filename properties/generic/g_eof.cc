// G-EOF: once every writer has closed its end (closed, not exited), the
// reader drains what is buffered and then sees end of stream; it never
// hangs, and end of stream never comes while a writer still holds its end.
#include "absl/strings/str_format.h"
#include "properties/support/common.h"

namespace ipcspec::props {
namespace {

class EofProperty : public NamedProperty {
 public:
  EofProperty()
      : NamedProperty("G-EOF",
                      "after every writer closes (not exits), the reader drains the buffer, then "
                      "sees end of stream; never before the last writer closes, never a hang",
                      "pipe(7) EOF; LTP pipe13 (all blocked readers wake); read(2)") {}
  Applicability AppliesTo(const Transport& t) const override {
    return Needs(t.caps().peer_close, "peer_close=false");
  }
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const Capabilities c = t.caps();
    return rc::gen::exec([c] {
      const uint32_t writers = c.multi_writer ? *rc::gen::inRange<uint32_t>(1, 4) : 1;
      std::vector<Step> steps = {Step::Param(0, writers)};
      auto sizes = *rc::gen::resize(6, rc::gen::container<std::vector<uint64_t>>(EdgeSize(c)));
      for (size_t i = 0; i < sizes.size(); ++i) {
        if (c.max_queued > 0 && i >= c.max_queued) break;
        steps.push_back(Step::Send(1, sizes[i], i));
      }
      // Whether the reader is already waiting when the last writer closes.
      steps.push_back(Step::Param(1, *rc::gen::arbitrary<bool>() ? 1 : 0));
      return steps;
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const Capabilities& c = t.caps();
    const auto writers = static_cast<uint32_t>(s.Param(0, 1));
    const bool reader_waits = s.Param(1, 0) != 0;
    const std::vector<Sent> sent = SendsOf(s, 1);
    // Flag w: writer w has closed. Flag 10 + w: the reader checked after it.
    SharedFlags flags(32);
    const Deadline deadline = Deadline::After(env.deadline - absl::Now());
    std::vector<Actor> actors;
    for (uint32_t w = 1; w <= writers; ++w) {
      actors.push_back({absl::StrCat("writer ", w), Role::kWriter,
                        [&, w](std::unique_ptr<End>& end) -> std::string {
                          if (w == 1) {
                            for (const Sent& m : sent) {
                              std::string e = SendAll(*end, m, c.framing, kOpTimeoutMs);
                              if (!e.empty()) return e;
                            }
                          }
                          // Close in turn: writer w after the reader checked w - 1.
                          if (w > 1 && !flags.WaitFor(10 + w - 1, deadline)) return "";
                          if (w == writers && reader_waits) {
                            flags.WaitFor(20, deadline);
                          }
                          end.reset();
                          flags.Raise(w);
                          return "";
                        }});
    }
    actors.push_back(
        {"reader", Role::kReader, [&](std::unique_ptr<End>& end) -> std::string {
           std::vector<std::byte> buf(RecvBufferSize(c));
           std::string e;
           if (c.framing == Framing::kStream) {
             e = ExpectStream(*end, sent, {}, kOpTimeoutMs);
           } else {
             for (const Sent& m : sent) {
               e = ExpectMessage(*end, m, sent, buf.size(), kOpTimeoutMs);
               if (!e.empty()) return e;
             }
           }
           if (!e.empty()) return e;
           for (uint32_t w = 1; w < writers; ++w) {
             if (!flags.WaitFor(w, deadline)) return "a writer never closed";
             size_t n = 0;
             int rc = end->Recv(buf, &n, 30);
             if (rc == kEnd) {
               return absl::StrFormat("end of stream after %d of %d writers closed", w, writers);
             }
             if (rc != -ETIMEDOUT) {
               return absl::StrFormat(
                   "with %d of %d writers closed and nothing sent, receive gave %s, not -ETIMEDOUT",
                   w, writers, Errno(rc));
             }
             flags.Raise(10 + w);
           }
           if (reader_waits) flags.Raise(20);
           size_t n = 0;
           int rc = end->Recv(buf, &n, kOpTimeoutMs);
           if (rc == kEnd) return "";
           if (rc == 0) return absl::StrFormat("%d unexpected bytes instead of end of stream", n);
           return absl::StrCat("after every writer closed: ", Errno(rc), ", not end of stream");
         }});
    return RunActors(t, env, std::move(actors));
  }
};

IPCSPEC_REGISTER_PROPERTY(EofProperty);

}  // namespace
}  // namespace ipcspec::props
