// G-EOF: once every writer has closed its end (closed, not exited), the
// reader still gets everything that was sent and then, with peer-close, end
// of stream: never before the last writer closes, and never a hang.
//
// Writer 1 sends, then closes at once, so its data is still buffered when
// its close comes; the other writers close in turn, each after the reader
// has checked that the stream did not end early.
//
// The oracle for each capability class (generic/oracle.h):
//   peer-close, reliable     every message, then END once the last writer
//                            closed; no END while one still holds its end;
//                            END again to every receive after it: at once
//                            with timeout 0, as soon as G-WAKEUP wants a
//                            close's END with a bound
//   peer-close, lossy        a subsequence (a stream: a prefix), then END
//   reliable, no peer-close  a close loses nothing: every message still
//                            comes; then nothing more (END allowed, as all
//                            writers closed)
//   neither                  skipped: nothing is owed after a close
//   counter                  skipped: no end of stream, and a close leaves
//                            the sum (G-INTEGRITY reads it)
//   multi-writer             up to 3 writers, closing one by one
//   capacity                 writer 1 blocks while the reader reads (lossy:
//                            the reader drains until writer 1 has closed)
//   duplex                   the writer's end speaks and closes (G-DUPLEX: both
//                            ends)
//   realtime or not          alike: the no-END check before the last close
//                            is one receive of one time unit; the others
//                            are non-blocking
//   peer-close, any timeout  END comes to the timeout the scenario picks:
//                            the deliver bound, 0 (asked again on -EAGAIN,
//                            later each time, for up to the deliver bound:
//                            a transport may learn of a close late) or -1
//   any class, a late        opens and traffic are not ordered: writer 1
//   writer                   may open its end only after the reader has
//                            asked for data (parameter 3), and the
//                            reader's receives before that, one that does
//                            not wait and one of a time unit, find nothing:
//                            no END (no writer has closed; a FIFO read
//                            before any writer opened gives 0), no data,
//                            no error
//   byte stream              a receive into no room, while a writer holds
//                            its end (before a late writer 1 opens, or
//                            before the last of several closes), may give
//                            0 bytes or an error, never END (a read of 0
//                            bytes returns 0, which is no end of file)
#include <algorithm>

#include "absl/strings/str_format.h"
#include "properties/generic/generic_property.h"
#include "properties/generic/traffic.h"

namespace ipcspec::props {
namespace {
namespace g_eof {

// Flag w: writer w closed. Flag 10 + w: the reader checked after it.
// Flag 20: the reader waits for the end. Flag 21: writer 1 closed, or found
// the channel full (the reader starts). Flag 22: the reader has asked for
// data before a late writer 1 opened.
constexpr size_t kClosed = 0, kChecked = 10, kWaiting = 20, kStart = 21, kAsked = 22;

constexpr std::string_view kReaderWaits[] = {
    "the last writer closes before the reader looks",
    "the reader is already waiting when the last writer closes"};

class EofProperty final : public GenericProperty {
  Applicability AppliesToCaps(const Capabilities& c) const override {
    if (c.model == ModelClass::kCounter)
      return Needs(false,
                   "model=counter (a sum has no last message for END to follow; G-MODEL checks a "
                   "PEER_CLOSE counter's END)");
    return Needs(c.peer_close || c.reliable,
                 "peer_close=false and reliable=false (nothing is owed after a close)");
  }
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const Capabilities c = t.caps();
    return rc::gen::exec([this, c] {
      const uint32_t writers = c.multi_writer ? *rc::gen::inRange<uint32_t>(1, 4) : 1;
      std::vector<Step> steps = {writers_.Step(writers)};
      auto sizes = *rc::gen::resize(6, rc::gen::container<std::vector<uint64_t>>(EdgeSize(c)));
      for (size_t i = 0; i < sizes.size(); ++i) {
        if (c.max_queued > 0 && i >= c.max_queued) break;
        steps.push_back(Step::Send(1, sizes[i], i));
      }
      if (c.peer_close) {
        steps.push_back(reader_waits_.Step(*rc::gen::arbitrary<bool>()));
        steps.push_back(
            end_wait_.Step(*rc::gen::inRange<uint32_t>(0, std::size(kOwedCallTimeouts))));
      }
      // Only where drawn: a shrink leaves the step out.
      if (*rc::gen::arbitrary<bool>()) steps.push_back(late_writer_.Step(true));
      return steps;
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const Capabilities& c = t.caps();
    const uint32_t writers = std::clamp<uint32_t>(writers_.Of(s), 1, 9);
    const bool reader_waits = reader_waits_.Of(s) && c.peer_close;
    // The reader stops at END, so a lossy transport needs no markers.
    const std::vector<Sent> sent = SendsOf(s, 1);
    Traffic traffic(c, env, {sent}, {}, /*markers=*/false);
    const int end_timeout = OwedCallTimeout(end_wait_.Of(s), traffic.waits());
    SharedFlags flags(32);
    const Deadline deadline = Deadline::After(env.deadline - absl::Now());
    std::vector<Actor> actors;
    for (uint32_t w = 1; w <= writers; ++w) {
      actors.push_back({absl::StrCat("writer ", w), Role::kWriter,
                        [&, w](std::unique_ptr<End>& end) -> std::string {
                          if (w == 1) {
                            // The reader starts once all is sent, or the channel is full.
                            auto full = [&] { flags.Raise(kStart); };
                            for (const Sent& m : sent) {
                              std::string e = SendAll(*end, m, c.framing,
                                                      traffic.waits().deliver_ms, true, full);
                              if (!e.empty()) return e;
                            }
                          }
                          // Close in turn: writer w after the reader checked w - 1.
                          if (w > 1 && !flags.WaitFor(kChecked + w - 1, deadline)) return "";
                          if (w == writers && reader_waits) flags.WaitFor(kWaiting, deadline);
                          end.reset();
                          flags.Raise(kClosed + w);
                          if (w == 1) flags.Raise(kStart);
                          // Writer 1 closes first: an END the reader finds
                          // once the last has closed came after every close.
                          if (w == 1) traffic.Finished(0);
                          return "";
                        }});
    }
    const bool late = late_writer_.Of(s);
    if (late) {
      actors.front().before_open = [&flags](const ActorPids&, const Deadline& d) {
        flags.WaitFor(kAsked, d);
      };
    }
    actors.push_back(
        {"reader", Role::kReader, [&](std::unique_ptr<End>& end) -> std::string {
           if (late) {
             if (std::string e = AskBeforeTheWriter(*end, c, traffic.waits()); !e.empty()) {
               return e;
             }
             flags.Raise(kAsked);
           }
           return Read(*end, c, writers, reader_waits, end_timeout, traffic, flags, deadline);
         }});
    return RunActors(t, env, std::move(actors));
  }

  // A stream's receive into no room while a writer holds its end: any
  // result but END (and nothing taken).
  static std::string AskWithNoRoom(End& end, const Capabilities& c, std::string_view when) {
    if (c.framing != Framing::kStream) return "";
    size_t n = 0;
    const int rc = end.Recv(std::span<std::byte>(), &n, 0);
    if (rc != kEnd && n == 0) return "";
    return absl::StrFormat("%s, a receive into no room (0 bytes, timeout 0) gave %s", when,
                           rc == kEnd ? "END" : absl::StrFormat("%d bytes", n));
  }

  // Before writer 1 has opened its end: a receive that does not wait and
  // one of a time unit find nothing.
  static std::string AskBeforeTheWriter(End& end, const Capabilities& c, const Waits& waits) {
    if (std::string e = AskWithNoRoom(end, c, "before writer 1 had opened its end"); !e.empty()) {
      return e;
    }
    std::vector<std::byte> buf(DrainBufferSize(c));
    for (const int timeout : {0, waits.quiet_ms}) {
      size_t n = 0;
      const int rc = end.Recv(buf, &n, timeout);
      if (rc == -EAGAIN || rc == -ETIMEDOUT) continue;
      return absl::StrFormat(
          "before writer 1 had opened its end, a receive with timeout %s gave %s: no writer has "
          "closed, and nothing was sent",
          SayCallTimeout(timeout),
          rc == kEnd ? "END"
          : rc == 0  ? absl::StrFormat("%d bytes", n)
                     : Errno(rc));
    }
    return "";
  }

  static std::string Read(End& end, const Capabilities& c, uint32_t writers, bool reader_waits,
                          int end_timeout, Traffic& traffic, SharedFlags& flags,
                          const Deadline& deadline) {
    const Waits& waits = traffic.waits();
    // A reliable transport owes every message whenever the closes come; a
    // lone writer's data is still buffered when it has closed.
    if (c.reliable) {
      if (writers == 1 && !reader_waits && !flags.WaitFor(kStart, deadline)) {
        return "the writer never closed";
      }
      if (std::string e = traffic.Receive(end); !e.empty()) return e;
    }
    Expectation& expect = traffic.expectation();
    std::vector<std::byte> buf(DrainBufferSize(c));
    // One receive while `closed` of the writers have closed (another holds
    // its end): "" when nothing came, "data" when something did (checked),
    // else what went wrong.
    auto receive = [&](int timeout_ms, uint32_t closed) -> std::string {
      size_t n = 0;
      const int rc = end.Recv(buf, &n, timeout_ms);
      if (rc == 0) {
        const std::span<const std::byte> got(buf.data(), n);
        std::string e = c.framing == Framing::kStream ? expect.OnBytes(got) : expect.OnMessage(got);
        return e.empty() ? "data" : e;
      }
      if (rc == kEnd) {
        return absl::StrFormat("end of stream after %d of %d writers closed", closed, writers);
      }
      if (rc != -EAGAIN && rc != -ETIMEDOUT) {
        return absl::StrFormat("with %d of %d writers closed, receive gave %s", closed, writers,
                               Errno(rc));
      }
      return "";
    };
    // A lossy transport is owed nothing, so the reader has not read yet;
    // but writer 1 may be waiting for room. It drains (checking what comes)
    // until writer 1 has closed.
    if (!c.reliable && writers > 1) {
      if (!flags.WaitFor(kStart, deadline)) return "writer 1 never closed";
      while (!flags.IsRaised(kClosed + 1)) {
        if (std::string e = receive(waits.quiet_ms, 0); !e.empty() && e != "data") return e;
      }
    }
    for (uint32_t w = 1; w < writers; ++w) {
      if (!flags.WaitFor(kClosed + w, deadline)) return "a writer never closed";
      // Not the end yet: another writer holds its end. One quiet receive
      // after the last-but-one close, non-blocking ones before it.
      std::string e;
      while ((e = receive(w + 1 == writers ? waits.quiet_ms : 0, w)) == "data") {
      }
      if (!e.empty()) return e;
      e = AskWithNoRoom(end, c, absl::StrFormat("with %d of %d writers closed", w, writers));
      if (!e.empty()) return e;
      flags.Raise(kChecked + w);
    }
    if (reader_waits) flags.Raise(kWaiting);
    if (!c.reliable) {
      // Whatever still comes, then END.
      if (std::string e = traffic.Receive(end); !e.empty()) return e;
    }
    if (!c.peer_close && !flags.WaitFor(kClosed + writers, deadline)) {
      return "the last writer never closed";
    }
    std::string e = traffic.NothingMore(end, true, end_timeout);
    if (e.empty() && c.peer_close) {
      std::vector<std::byte> buf(DrainBufferSize(c));
      // The bounded repeat is for a receive that waits out its timeout
      // before it says END: a quarter of its bound tells that apart from
      // a slow build's own cost, which G-WAKEUP's tighter allowance for a
      // close's wake-up does not have to absorb here.
      const Waits& waits = traffic.waits();
      e = EndStays(end, buf, waits,
                   std::max(waits.AfterCloseUs(c.realtime), int64_t{waits.deliver_ms} * 250));
    }
    return e;
  }

  const Param<uint32_t> writers_{this, 0, "%s writers", 1};
  const ChoiceParam<bool> reader_waits_{this, 1, "%s", false, kReaderWaits};
  const ChoiceParam<uint32_t> end_wait_{this, 2, "the reader asks for the end with timeout %s", 0,
                                        kOwedCallTimeouts};
  const YesNoParam late_writer_{
      this, 3, "writer 1 opens its end only after the reader has asked for data: %s", false};
};
IPCSPEC_REGISTER_PROPERTY(EofProperty, "G-EOF");

}  // namespace g_eof
}  // namespace
}  // namespace ipcspec::props
