// G-BOUNDARY: a message transport never merges or splits messages, and a
// message over max_message fails with EMSGSIZE without disturbing the queue.
#include <algorithm>

#include "absl/strings/str_format.h"
#include "properties/support/common.h"

namespace ipcspec::props {
namespace {

class BoundaryProperty : public NamedProperty {
 public:
  BoundaryProperty()
      : NamedProperty("G-BOUNDARY",
                      "messages are never merged or split; a message over max_message fails with "
                      "EMSGSIZE and the queue is not disturbed",
                      "mq_send(3), msgsnd(2), unix(7) SOCK_SEQPACKET; gVisor socket tests") {}
  Applicability AppliesTo(const Transport& t) const override {
    return Needs(t.caps().framing == Framing::kMessage && t.caps().model != ModelClass::kCounter,
                 t.caps().framing == Framing::kStream ? "framing=stream" : "model=counter");
  }
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const Capabilities c = t.caps();
    return rc::gen::exec([c] {
      // Queued together before the reader looks, so merging would show.
      const uint64_t room = c.max_queued > 0 ? c.max_queued : 8;
      auto sizes = *rc::gen::resize(static_cast<int>(room),
                                    rc::gen::container<std::vector<uint64_t>>(EdgeSize(c)));
      std::vector<Step> steps;
      uint64_t total = 0;
      for (size_t i = 0; i < sizes.size() && i < room; ++i) {
        // Half the capacity (records may carry headers), 64 KiB when unknown.
        const uint64_t room_bytes = c.capacity > 0 ? c.capacity / 2 : 65536;
        if (total + sizes[i] > room_bytes) {
          // With no declared capacity, one message of any legal size fits.
          if (c.capacity == 0 && steps.empty()) {
            steps.push_back(Step::Send(1, sizes[i], i));
            break;
          }
          continue;
        }
        total += sizes[i];
        steps.push_back(Step::Send(1, sizes[i], i));
      }
      if (c.max_message > 0 && *rc::gen::arbitrary<bool>()) {
        steps.push_back({Op::kParam, 0, 1, 0});  // try one oversize message
      }
      return steps;
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const Capabilities& c = t.caps();
    std::vector<Sent> sent = SendsOf(s, 1);
    const bool oversize = s.Param(0, 0) != 0 && c.max_message > 0;
    // The last message, after everything, proves the queue still works.
    const Sent last{1, sent.size() + 1,
                    std::min<uint64_t>(c.max_message ? c.max_message : 100, 100)};
    SharedFlags flags;
    Actor writer{"writer", Role::kWriter, [&](std::unique_ptr<End>& end) -> std::string {
                   for (const Sent& m : sent) {
                     if (std::string e = SendAll(*end, m, c.framing, kOpTimeoutMs); !e.empty())
                       return e;
                   }
                   flags.Raise(0);
                   if (oversize) {
                     flags.WaitFor(1, Deadline::After(absl::Milliseconds(kOpTimeoutMs)));
                     std::vector<std::byte> big(c.max_message + 1, std::byte{0x5a});
                     size_t n = 0;
                     int rc = end->Send(big, &n, 0);
                     if (rc != -EMSGSIZE) {
                       return absl::StrFormat(
                           "a %d-byte send (max_message + 1) gave %s, not -EMSGSIZE", big.size(),
                           Errno(rc));
                     }
                   }
                   return SendAll(*end, last, c.framing, kOpTimeoutMs);
                 }};
    Actor reader{"reader", Role::kReader, [&](std::unique_ptr<End>& end) -> std::string {
                   if (!flags.WaitFor(0, Deadline::After(absl::Milliseconds(kOpTimeoutMs)))) {
                     return "the writer did not finish its first messages";
                   }
                   std::vector<Sent> all = sent;
                   all.push_back(last);
                   std::string e;
                   if (c.ordered) {
                     for (const Sent& m : sent) {
                       e = ExpectMessage(*end, m, all, RecvBufferSize(c) * 2, kOpTimeoutMs);
                       if (!e.empty()) return e;
                     }
                   } else {
                     e = ExpectUnordered(*end, c, sent, c.reliable);
                     if (!e.empty()) return e;
                   }
                   flags.Raise(1);
                   if (!c.reliable) return "";
                   e = ExpectMessage(*end, last, all, RecvBufferSize(c) * 2, kOpTimeoutMs);
                   return e.empty() ? ExpectNothingMore(*end, c, true) : e;
                 }};
    return RunActors(t, env, {writer, reader});
  }
};

IPCSPEC_REGISTER_PROPERTY(BoundaryProperty);

}  // namespace
}  // namespace ipcspec::props
