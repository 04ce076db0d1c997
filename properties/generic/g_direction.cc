// G-DIRECTION: a one-way transport refuses the wrong direction with EBADF at
// either end, and the refused call leaves the data in flight alone.
#include "absl/strings/str_format.h"
#include "properties/support/common.h"

namespace ipcspec::props {
namespace {

class DirectionProperty : public NamedProperty {
 public:
  DirectionProperty()
      : NamedProperty("G-DIRECTION",
                      "one-way transports reject the wrong direction (EBADF) at either end without "
                      "disturbing the data in flight",
                      "pipe(2), mq_send(3) EBADF; LTP pipe03; gVisor pipe.cc") {}
  Applicability AppliesTo(const Transport& t) const override {
    return Needs(t.caps().direction == Direction::kOneWay, "direction=duplex");
  }
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const Capabilities c = t.caps();
    return rc::gen::exec([c] {
      std::vector<Step> steps;
      const int n = *rc::gen::inRange(0, 6);
      for (int i = 0; i < n; ++i) {
        uint64_t size = *rc::gen::inRange<uint64_t>(c.framing == Framing::kStream ? 1 : 0, 300);
        if (c.max_message > 0) size = std::min(size, c.max_message);
        if (c.model == ModelClass::kCounter) size = 8;
        if (c.max_queued > 0 && static_cast<uint64_t>(i) >= c.max_queued) break;
        steps.push_back(Step::Send(1, size, static_cast<uint64_t>(i)));
        // The wrong-way calls, between the sends.
        if (*rc::gen::arbitrary<bool>())
          steps.push_back({Op::kSend, 0, *rc::gen::inRange<uint64_t>(0, 64), 99});
        if (*rc::gen::arbitrary<bool>()) steps.push_back({Op::kRecv, 1, 4096, 0});
      }
      steps.push_back({Op::kSend, 0, 1, 99});
      steps.push_back({Op::kRecv, 1, 4096, 0});
      return steps;
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const Capabilities& c = t.caps();
    std::vector<Sent> sent = SendsOf(s, 1);
    SharedFlags flags;
    // The writer does its sends and wrong-way receives; the reader then does
    // its wrong-way sends; then the reader receives everything.
    Actor writer{"writer", Role::kWriter, [&](std::unique_ptr<End>& end) -> std::string {
                   for (const Step& st : s.steps) {
                     if (st.op == Op::kSend && st.actor == 1) {
                       std::string e = SendAll(*end, {1, st.arg, st.size}, c.framing, kOpTimeoutMs);
                       if (!e.empty()) return e;
                     } else if (st.op == Op::kRecv && st.actor == 1) {
                       std::vector<std::byte> buf(st.size);
                       size_t n = 0;
                       int rc = end->Recv(buf, &n, 0);
                       if (rc != -EBADF) {
                         return absl::StrFormat(
                             "receive on the writer's end gave %s (%d bytes), not -EBADF",
                             Errno(rc), n);
                       }
                     }
                   }
                   flags.Raise(0);
                   return "";
                 }};
    Actor reader{"reader", Role::kReader, [&](std::unique_ptr<End>& end) -> std::string {
                   if (!flags.WaitFor(0, Deadline::After(absl::Milliseconds(2 * kOpTimeoutMs)))) {
                     return "the writer did not finish";
                   }
                   for (const Step& st : s.steps) {
                     if (st.op != Op::kSend || st.actor != 0) continue;
                     std::vector<std::byte> junk(st.size, std::byte{0xee});
                     size_t n = 0;
                     int rc = end->Send(junk, &n, 0);
                     if (rc != -EBADF) {
                       return absl::StrFormat(
                           "a %d-byte send on the reader's end gave %s, not -EBADF", st.size,
                           Errno(rc));
                     }
                   }
                   std::string e;
                   if (c.framing == Framing::kStream) {
                     e = ExpectStream(*end, sent, {}, kOpTimeoutMs);
                   } else if (c.model == ModelClass::kCounter) {
                     return "";
                   } else {
                     for (const Sent& m : sent) {
                       e = ExpectMessage(*end, m, sent, RecvBufferSize(c), kOpTimeoutMs);
                       if (!e.empty()) break;
                     }
                   }
                   return e.empty() ? ExpectNothingMore(*end, c, true) : e;
                 }};
    return RunActors(t, env, {writer, reader});
  }
};

IPCSPEC_REGISTER_PROPERTY(DirectionProperty);

}  // namespace
}  // namespace ipcspec::props
