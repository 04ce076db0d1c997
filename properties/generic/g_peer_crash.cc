// G-PEER-CRASH: a producer killed by SIGKILL mid-stream: the consumer gets
// end of stream or an error within its timeout, and never a torn or
// corrupted message.
#include <signal.h>

#include <algorithm>

#include "absl/strings/str_format.h"
#include "properties/support/common.h"

namespace ipcspec::props {
namespace {

class PeerCrashProperty : public NamedProperty {
 public:
  PeerCrashProperty()
      : NamedProperty(
            "G-PEER-CRASH",
            "a producer killed by SIGKILL mid-stream: the consumer gets end of stream or an "
            "error within its timeout, never a torn message",
            "signal(7) SIGKILL; pipe(7), unix(7) on a dying peer; SEM_UNDO in semop(2)") {}
  Applicability AppliesTo(const Transport& t) const override {
    if (!t.caps().reliable) return Needs(false, "reliable=false");
    return Needs(t.caps().model != ModelClass::kCounter, "model=counter");
  }
  int DefaultExamples() const override { return 12; }
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const Capabilities c = t.caps();
    return rc::gen::exec([c] {
      std::vector<Step> steps = {Step::Param(0, *rc::gen::inRange<uint64_t>(0, 6))};
      auto sizes = *rc::gen::resize(
          4, rc::gen::nonEmpty(rc::gen::container<std::vector<uint64_t>>(EdgeSize(c))));
      for (size_t i = 0; i < sizes.size(); ++i) steps.push_back(Step::Send(1, sizes[i], i));
      return steps;
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const Capabilities& c = t.caps();
    const uint64_t before_kill = s.Param(0, 0);
    std::vector<uint64_t> sizes;
    // On a stream an empty write sends nothing: every write carries a byte.
    for (const Sent& m : SendsOf(s, 1))
      sizes.push_back(c.framing == Framing::kStream ? std::max<uint64_t>(m.size, 1) : m.size);
    if (sizes.empty()) sizes.push_back(1);
    // Message i of the endless stream has sizes[i % n] bytes.
    auto nth = [&](uint64_t i) { return Sent{1, i, sizes[i % sizes.size()]}; };
    SharedFlags flags;
    const Deadline deadline = Deadline::After(env.deadline - absl::Now() - absl::Milliseconds(500));
    Actor writer{"writer", Role::kWriter, [&](std::unique_ptr<End>& end) -> std::string {
                   for (uint64_t i = 0;; ++i) {
                     std::string e = SendAll(*end, nth(i), c.framing, -1);
                     if (!e.empty()) return flags.IsRaised(1) ? "" : e;
                   }
                 }};
    Actor reader{
        "reader", Role::kReader, [&](std::unique_ptr<End>& end) -> std::string {
          std::vector<std::byte> buf(RecvBufferSize(c));
          uint64_t msg = 0, offset = 0;  // stream position
          uint64_t received = 0;
          for (;;) {
            if (received >= before_kill) flags.Raise(0);
            size_t n = 0;
            // Without peer-close detection, a timeout is the error owed.
            const bool killed = flags.IsRaised(1);
            int rc = end->Recv(buf, &n, killed && !c.peer_close ? 300 : kOpTimeoutMs);
            if (rc == kEnd)
              return killed || flags.IsRaised(1) ? ""
                                                 : "end of stream before the writer was killed";
            if (rc == -ETIMEDOUT && flags.IsRaised(1)) return "";  // an error within the timeout
            if (rc != 0) {
              if (flags.IsRaised(1) && rc != -EAGAIN) return "";
              return absl::StrFormat("receive after %d messages: %s", received, Errno(rc));
            }
            if (received > 1000000) return "still receiving long after the writer was killed";
            if (c.framing == Framing::kMessage) {
              const Sent want = nth(msg);
              std::vector<std::byte> got(buf.begin(), buf.begin() + static_cast<long>(n));
              if (got != Payload(want.writer, want.msg, want.size)) {
                return absl::StrFormat("%s arrived as %d bytes that do not match%s", Name(want), n,
                                       flags.IsRaised(1) ? " (torn by the writer's death?)" : "");
              }
              ++msg;
              ++received;
              continue;
            }
            for (size_t i = 0; i < n; ++i) {
              while (offset == nth(msg).size) {
                ++msg;
                offset = 0;
              }
              if (static_cast<uint8_t>(buf[i]) != PatternByte(1, msg, offset)) {
                return absl::StrFormat("stream corrupted in message %d at byte %d", msg, offset);
              }
              ++offset;
            }
            received = msg;
          }
        }};
    return RunActors(t, env, {writer, reader}, [&](ActorControl& control) -> Verdict {
      if (!flags.WaitFor(0, deadline)) return Verdict::Fail("the reader never got going");
      flags.Raise(1);  // before the kill, so the reader may expect the end from now on
      return control.Kill("writer");
    });
  }
};

IPCSPEC_REGISTER_PROPERTY(PeerCrashProperty);

}  // namespace
}  // namespace ipcspec::props
