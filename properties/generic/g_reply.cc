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
// In half of the examples (reliable transports) each turn after the first
// is a new writer's: it opens its end when its turn begins and closes it
// once its reply came, before the next turn begins, so that each new writer
// may take over what the one before it left (a slot, a reply queue, an
// address). Writer 1 holds its end throughout, so that no END comes
// between the turns. A reader's end that keeps what it learnt of a writer
// by its slot answers the new one through the old one's queue.
//
// The oracle for each capability class (generic/oracle.h):
//   reliable + duplex   every request arrives whole, as sent, and every
//                       reply reaches the writer whose request came last
//   lossy               nothing is owed, so a writer sends its request
//                       again (4 tries, each waiting one quiet bound for
//                       the reply) and then gives its turn up; a reply
//                       that reaches the other writer is still wrong. Each
//                       writer reads what is left for it once every turn
//                       is over, so a reply sent the wrong way is seen even
//                       when its writer had no turn after it. A reply to
//                       an earlier request of the writer's own (its request
//                       came twice) is let be.
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
namespace g_reply {

// The replies' writer ids: 10 + the writer the reply is for.
constexpr uint32_t kReplyTo = 10;

class ReplyProperty final : public GenericProperty {
  Applicability AppliesToCaps(const Capabilities& c) const override {
    if (c.direction != Direction::kDuplex) return Needs(false, "direction=one-way");
    if (!c.multi_writer) return Needs(false, "multi_writer=false (one writer: see G-DUPLEX)");
    if (c.model == ModelClass::kCounter) return Needs(false, "model=counter (one shared counter)");
    return Needs(c.framing != Framing::kStream, "framing=stream (no senders to answer)");
  }
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const Capabilities c = t.caps();
    return rc::gen::exec([this, c] {
      // Turns alternate between writers 1 and 2, from writer 1; each
      // writer's request and the reply to it are sized by the step.
      const auto turns = *rc::gen::inRange<uint64_t>(2, 9);
      uint64_t limit = std::min<uint64_t>(SizeLimit(c), 1024);
      if (c.capacity > 0) limit = std::min(limit, c.capacity / 2);
      std::vector<Step> steps;
      if (c.reliable && *UniformBelow(2) == 0) steps.push_back(fresh_.Step(true));
      for (uint64_t k = 0; k < turns; ++k) {
        const uint64_t size = *rc::gen::inRange<uint64_t>(0, limit + 1);
        steps.push_back(Step::Send(static_cast<uint32_t>(1 + k % 2), size, k));
      }
      return steps;
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    std::vector<Sent> turns;
    for (const Step& st : s.steps) {
      // Numbered by turn, so that no two turns' requests (or replies) look
      // alike, however the steps were shrunk. Lossy: 8 bytes at least,
      // since a message is then told by its bytes alone, and an empty one
      // has none (reliable: by its place).
      uint64_t size = st.size;
      if (!t.caps().reliable) size = std::max(size, std::min<uint64_t>(8, SizeLimit(t.caps())));
      if (st.op == Op::kSend) turns.push_back({st.actor, turns.size(), size});
    }
    const bool fresh = fresh_.Of(s) && t.caps().reliable && turns.size() >= 2;
    if (fresh) {
      for (Sent& turn : turns) turn.writer = static_cast<uint32_t>(turn.msg + 1);
    }
    Turns x(t.caps(), env, std::move(turns));
    auto writer = [&](uint32_t w) {
      return [&, w](std::unique_ptr<End>& end) -> std::string {
        return x.c.reliable ? x.Ask(*end, w) : x.AskAgain(*end, w);
      };
    };
    Actor reader{"reader's end", Role::kReader, [&](std::unique_ptr<End>& end) -> std::string {
                   return x.c.reliable ? x.Answer(*end) : x.AnswerAny(*end);
                 }};
    if (!fresh) {
      return RunActors(
          t, env,
          {{"writer 1", Role::kWriter, writer(1)}, {"writer 2", Role::kWriter, writer(2)}, reader});
    }
    std::vector<Actor> actors = {{"writer 1", Role::kWriter, writer(1)}};
    for (size_t k = 1; k < x.n; ++k) {
      actors.push_back({absl::StrCat("writer ", k + 1), Role::kWriter,
                        [&, k](std::unique_ptr<End>& end) { return x.AskOnce(end, k); }});
      actors.back().before_open = [&x, k](const ActorPids&, const Deadline& d) {
        (void)x.flags.WaitFor(k, d);
      };
    }
    actors.push_back(reader);
    return RunActors(t, env, std::move(actors));
  }

 private:
  // What the writers and the reader's end share. Flag k: turn k may begin
  // (its request may be sent); flag n (the number of turns): all are done;
  // flag n + 1: an actor failed, and every flag is raised so that nobody
  // waits for a turn that will not come.
  struct Turns {
    Turns(const Capabilities& caps, const CaseEnv& env, std::vector<Sent> t)
        : c(caps),
          turns(std::move(t)),
          n(turns.size()),
          failed(n + 1),
          waits(Waits::For(env)),
          deadline(Deadline::After(env.deadline - absl::Now())),
          flags(n + 2),
          asked(n, 0),
          answers(n, 0) {
      flags.Raise(0);
    }
    std::string Fail(std::string why) {
      flags.Raise(failed);
      for (size_t i = 0; i <= n; ++i) flags.Raise(i);
      return why;
    }
    bool Begun(size_t k) { return flags.WaitFor(k, deadline) && !flags.IsRaised(failed); }
    // The end stays open until every turn is done.
    std::string Stay() { return flags.WaitFor(n, deadline) ? "" : "the turns never ended"; }
    static Sent ReplyTo(const Sent& request) {
      return {kReplyTo + request.writer, request.msg, request.size};
    }

    // Reliable: writer w's turns, each request answered.
    std::string Ask(End& end, uint32_t w);
    // Reliable, turn k's request and its reply; "" or the failure.
    std::string AskTurn(End& end, size_t k, uint32_t w);
    // Reliable, a new writer's one turn k: its request and the reply, then
    // its end closed before the next turn may begin.
    std::string AskOnce(std::unique_ptr<End>& end, size_t k);
    // Reliable: each turn's request, in turn, answered.
    std::string Answer(End& end);
    // Lossy: writer w's turns, each request sent until answered or given
    // up; then what is left for it.
    std::string AskAgain(End& end, uint32_t w);
    // Lossy: one reply received by writer w in turn k (or while it reads
    // what is left, k == n): true once it is the reply to turn k.
    std::string OnReply(std::span<const std::byte> got, size_t k, uint32_t w, bool* answered);
    // Lossy: every request that comes, answered, until the turns are over.
    std::string AnswerAny(End& end);

    const Capabilities& c;
    const std::vector<Sent> turns;
    const size_t n, failed;
    const Waits waits;
    const Deadline deadline;
    SharedFlags flags;
    // Lossy, in a writer: how often it sent each turn's request, and how
    // often the reply to it came (never more often).
    std::vector<int> asked, answers;
  };

  // Writer w's turn k received `got`, not the reply to its own request
  // (k == turns.size(): once every turn was over).
  static std::string WrongReply(size_t k, uint32_t w, std::span<const std::byte> got,
                                const std::vector<Sent>& turns) {
    const std::string when =
        k < turns.size() ? absl::StrFormat("turn %d", k + 1) : "once every turn was over";
    for (size_t j = 0; j < turns.size(); ++j) {
      const Sent other{kReplyTo + turns[j].writer, j, turns[j].size};
      if (j != k && IsPayload(got, other)) {
        return absl::StrFormat(
            "%s: writer %d received the reply to turn %d's request, from writer %d: the "
            "reader's end did not answer the sender it last heard from",
            when, w, j + 1, turns[j].writer);
      }
    }
    if (k == turns.size()) {
      return absl::StrFormat("%s: writer %d received a %d-byte message that is no reply", when, w,
                             got.size());
    }
    return absl::StrFormat(
        "%s: writer %d received a %d-byte message that is not the reply to its request (%d "
        "bytes)",
        when, w, got.size(), turns[k].size);
  }

  const YesNoParam fresh_{
      this, 0,
      "each turn after the first is a new writer's, which closes its end before the next turn: %s",
      false};
};
IPCSPEC_REGISTER_PROPERTY(ReplyProperty, "G-REPLY");

std::string ReplyProperty::Turns::AskTurn(End& end, size_t k, uint32_t w) {
  if (std::string e = SendAll(end, turns[k], c.framing, waits.deliver_ms); !e.empty()) {
    return Fail(e);
  }
  std::vector<std::byte> got;
  const int rc = RecvMessage(end, c, &got, waits.deliver_ms);
  if (rc != 0) {
    return Fail(absl::StrFormat(
        "turn %d: waiting for the reply to its request: %s (did the reader's end send it "
        "to another writer?)",
        k + 1, Errno(rc)));
  }
  if (!IsPayload(got, ReplyTo(turns[k]))) return Fail(WrongReply(k, w, got, turns));
  return "";
}

std::string ReplyProperty::Turns::Ask(End& end, uint32_t w) {
  for (size_t k = 0; k < n; ++k) {
    if (turns[k].writer != w) continue;
    if (!Begun(k)) return "";
    if (std::string e = AskTurn(end, k, w); !e.empty()) return e;
    flags.Raise(k + 1);
  }
  return Stay();
}

std::string ReplyProperty::Turns::AskOnce(std::unique_ptr<End>& end, size_t k) {
  if (!Begun(k)) return "";
  if (std::string e = AskTurn(*end, k, turns[k].writer); !e.empty()) return e;
  end.reset();
  flags.Raise(k + 1);
  return "";
}

std::string ReplyProperty::Turns::Answer(End& end) {
  for (size_t k = 0; k < n; ++k) {
    // Each request once its turn has begun (a writer that failed has
    // raised them all).
    if (!Begun(k)) return "";
    std::vector<std::byte> got;
    const int rc = RecvMessage(end, c, &got, waits.deliver_ms);
    if (flags.IsRaised(failed)) return "";
    if (rc != 0) {
      return Fail(absl::StrFormat("turn %d: receiving %s: %s", k + 1, Name(turns[k]), Errno(rc)));
    }
    if (!IsPayload(got, turns[k])) {
      return Fail(absl::StrFormat("turn %d: a %d-byte message where %s was expected", k + 1,
                                  got.size(), Name(turns[k])));
    }
    if (std::string e = SendAll(end, ReplyTo(turns[k]), c.framing, waits.deliver_ms); !e.empty()) {
      return Fail(absl::StrFormat("turn %d: replying to writer %d: %s", k + 1, turns[k].writer, e));
    }
  }
  return Stay();
}

std::string ReplyProperty::Turns::AskAgain(End& end, uint32_t w) {
  constexpr int kTries = 4;
  std::vector<std::byte> got;
  for (size_t k = 0; k < n; ++k) {
    if (turns[k].writer != w) continue;
    if (!Begun(k)) return "";
    bool answered = false;
    for (int tries = 0; tries < kTries && !answered; ++tries) {
      if (std::string e = SendAll(end, turns[k], c.framing, waits.deliver_ms); !e.empty()) {
        return Fail(absl::StrFormat("turn %d: %s", k + 1, e));
      }
      ++asked[k];
      // Replies until its own, or one quiet bound without any.
      for (int rc; !answered && (rc = RecvMessage(end, c, &got, waits.quiet_ms)) != -ETIMEDOUT &&
                   rc != -EAGAIN;) {
        if (rc != 0) {
          return Fail(absl::StrFormat("turn %d: waiting for the reply: %s", k + 1, Errno(rc)));
        }
        if (std::string e = OnReply(got, k, w, &answered); !e.empty()) return Fail(e);
      }
    }
    flags.Raise(k + 1);  // answered, or given up: nothing is owed
  }
  if (!flags.WaitFor(n, deadline)) return "the turns never ended";
  // What is left for it: replies to its own requests that came twice, and
  // none to the other writer's.
  for (int rc; (rc = RecvMessage(end, c, &got, waits.quiet_ms)) == 0;) {
    bool answered = false;
    if (std::string e = OnReply(got, n, w, &answered); !e.empty()) return e;
  }
  return "";
}

std::string ReplyProperty::Turns::OnReply(std::span<const std::byte> got, size_t k, uint32_t w,
                                          bool* answered) {
  for (size_t j = 0; j < std::min(k + 1, n); ++j) {
    if (turns[j].writer != w || !IsPayload(got, ReplyTo(turns[j]))) continue;
    // Its own: this turn's, or an earlier one's whose request came twice.
    if (++answers[j] > asked[j]) {
      return absl::StrFormat(
          "writer %d received the reply to turn %d's request %d times, but sent the request %d "
          "times: a request or a reply came twice",
          w, j + 1, answers[j], asked[j]);
    }
    *answered = j == k;
    return "";
  }
  return WrongReply(k, w, got, turns);
}

std::string ReplyProperty::Turns::AnswerAny(End& end) {
  std::vector<std::byte> got;
  while (!flags.IsRaised(n)) {
    const int rc = RecvMessage(end, c, &got, waits.quiet_ms);
    if (rc == -ETIMEDOUT || rc == -EAGAIN || flags.IsRaised(failed)) continue;
    if (rc != 0) return Fail(absl::StrFormat("receiving a request: %s", Errno(rc)));
    // Which turn's request it is: one that has begun.
    size_t k = 0;
    while (k < n && !(flags.IsRaised(k) && IsPayload(got, turns[k]))) ++k;
    if (k == n) {
      return Fail(absl::StrFormat("a %d-byte message that is no request of a turn begun so far",
                                  got.size()));
    }
    if (std::string e = SendAll(end, ReplyTo(turns[k]), c.framing, waits.deliver_ms); !e.empty()) {
      return Fail(absl::StrFormat("turn %d: replying to writer %d: %s", k + 1, turns[k].writer, e));
    }
  }
  return "";
}

}  // namespace g_reply
}  // namespace
}  // namespace ipcspec::props
