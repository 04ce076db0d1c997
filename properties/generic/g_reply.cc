// G-REPLY: on a duplex transport that takes several writers, what the
// reader's end sends goes back to the writer it last heard from (plugin.h:
// "a datagram reader answers the last sender"). Two writers, each in a
// process of its own, take turns: the writer whose turn it is sends a
// request, the reader's end receives it and sends a reply, and that writer,
// not the other, receives the reply. A reader that answers the first sender
// it ever heard from, keeps its peer's address in a static, or sends every
// reply to one socket crosses them: the other writer's turn then receives
// nothing, or a reply that was not its own.
//
// The oracle for each capability class (generic/oracle.h):
//   reliable + duplex   every request arrives whole, as sent, and every
//                       reply reaches the writer whose request came last
//   lossy               skipped: a lost request or reply cannot be told
//                       from one sent the wrong way
//   byte stream         skipped: a stream has no senders to answer, only
//                       bytes (G-DUPLEX checks both directions)
//   counter             skipped: both ends share one counter
//   one writer          skipped (G-DUPLEX)
//   capacity            one request and one reply in flight at a time
//   peer-close          nobody closes until every turn is done
//   realtime or not     alike: every wait is for a message that is owed
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/generic/generic_property.h"
#include "properties/generic/oracle.h"
#include "properties/support/common.h"

namespace ipcspec::props {
namespace {

// The replies' writer ids: 10 + the writer the reply is for.
constexpr uint32_t kReplyTo = 10;

class ReplyProperty final : public GenericProperty {
  Applicability AppliesToCaps(const Capabilities& c) const override {
    if (c.direction != Direction::kDuplex) return Needs(false, "direction=one-way");
    if (!c.multi_writer) return Needs(false, "multi_writer=false (one writer: see G-DUPLEX)");
    if (c.model == ModelClass::kCounter) return Needs(false, "model=counter (one shared counter)");
    if (c.framing == Framing::kStream) return Needs(false, "framing=stream (no senders to answer)");
    return Needs(c.reliable, "reliable=false (a lost reply looks like a misrouted one)");
  }
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const Capabilities c = t.caps();
    return rc::gen::exec([c] {
      // Turns alternate between writers 1 and 2, from writer 1; each
      // writer's request and the reply to it are sized by the step.
      const auto turns = *rc::gen::inRange<uint64_t>(2, 9);
      uint64_t limit = std::min<uint64_t>(SizeLimit(c), 1024);
      if (c.capacity > 0) limit = std::min(limit, c.capacity / 2);
      std::vector<Step> steps;
      for (uint64_t k = 0; k < turns; ++k) {
        const uint64_t size = *rc::gen::inRange<uint64_t>(0, limit + 1);
        steps.push_back(Step::Send(static_cast<uint32_t>(1 + k % 2), size, k));
      }
      return steps;
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const Capabilities& c = t.caps();
    std::vector<Sent> turns;
    for (const Step& st : s.steps) {
      if (st.op == Op::kSend) turns.push_back({st.actor, st.arg, st.size});
    }
    const Waits waits = Waits::For(env);
    // Flag k: turn k may begin (its request may be sent); flag n (the
    // number of turns): all are done; flag n + 1: an actor failed, and every
    // flag is raised so that nobody waits for a turn that will not come.
    const size_t n = turns.size(), failed = n + 1;
    SharedFlags flags(n + 2);
    flags.Raise(0);
    auto fail = [&](std::string why) {
      flags.Raise(failed);
      for (size_t i = 0; i <= n; ++i) flags.Raise(i);
      return why;
    };
    const Deadline deadline = Deadline::After(env.deadline - absl::Now());
    auto writer = [&](uint32_t w) {
      return [&, w](std::unique_ptr<End>& end) -> std::string {
        for (size_t k = 0; k < n; ++k) {
          if (turns[k].writer != w) continue;
          if (!flags.WaitFor(k, deadline) || flags.IsRaised(failed)) return "";
          if (std::string e = SendAll(*end, turns[k], c.framing, waits.deliver_ms); !e.empty()) {
            return fail(e);
          }
          const Sent reply{kReplyTo + w, k, turns[k].size};
          std::vector<std::byte> got;
          const int rc = RecvMessage(*end, c, &got, waits.deliver_ms);
          if (rc != 0) {
            return fail(absl::StrFormat(
                "turn %d: waiting for the reply to its request: %s (did the reader's end send it "
                "to the other writer?)",
                k + 1, Errno(rc)));
          }
          if (!IsPayload(got, reply)) return fail(WrongReply(k, w, got, turns));
          flags.Raise(k + 1);
        }
        // Its end stays open until every turn is done.
        return flags.WaitFor(n, deadline) ? "" : "the turns never ended";
      };
    };
    Actor reader{
        "reader's end", Role::kReader, [&](std::unique_ptr<End>& end) -> std::string {
          for (size_t k = 0; k < n; ++k) {
            // Each request once its turn has begun (a writer that
            // failed has raised them all).
            if (!flags.WaitFor(k, deadline) || flags.IsRaised(failed)) return "";
            std::vector<std::byte> got;
            const int rc = RecvMessage(*end, c, &got, waits.deliver_ms);
            if (flags.IsRaised(failed)) return "";
            if (rc != 0) {
              return fail(
                  absl::StrFormat("turn %d: receiving %s: %s", k + 1, Name(turns[k]), Errno(rc)));
            }
            if (!IsPayload(got, turns[k])) {
              return fail(absl::StrFormat("turn %d: a %d-byte message where %s was expected", k + 1,
                                          got.size(), Name(turns[k])));
            }
            const Sent reply{kReplyTo + turns[k].writer, k, turns[k].size};
            if (std::string e = SendAll(*end, reply, c.framing, waits.deliver_ms); !e.empty()) {
              return fail(
                  absl::StrFormat("turn %d: replying to writer %d: %s", k + 1, turns[k].writer, e));
            }
          }
          return flags.WaitFor(n, deadline) ? "" : "the turns never ended";
        }};
    return RunActors(
        t, env,
        {{"writer 1", Role::kWriter, writer(1)}, {"writer 2", Role::kWriter, writer(2)}, reader});
  }

  // Writer w's turn k received `got`, not the reply to its own request.
  static std::string WrongReply(size_t k, uint32_t w, std::span<const std::byte> got,
                                const std::vector<Sent>& turns) {
    for (size_t j = 0; j < turns.size(); ++j) {
      const Sent other{kReplyTo + turns[j].writer, j, turns[j].size};
      if (j != k && IsPayload(got, other)) {
        return absl::StrFormat(
            "turn %d: writer %d received the reply to turn %d's request, from writer %d: the "
            "reader's end did not answer the sender it last heard from",
            k + 1, w, j + 1, turns[j].writer);
      }
    }
    return absl::StrFormat(
        "turn %d: writer %d received a %d-byte message that is not the reply "
        "to its request (%d bytes)",
        k + 1, w, got.size(), turns[k].size);
  }
};
IPCSPEC_REGISTER_PROPERTY(ReplyProperty, "G-REPLY");

}  // namespace
}  // namespace ipcspec::props
