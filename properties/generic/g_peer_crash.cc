// G-PEER-CRASH: a producer killed by SIGKILL mid-stream: the consumer still
// gets what was reported sent, never a torn or corrupted message, and then
// end of stream (peer-close) or, without it, nothing.
//
// The writer sends a sequence (up to 256 messages past the reader's pause)
// and publishes how many sends completed. It dies at one of four moments:
//   - the reader pauses after some messages, so the writer is killed with
//     data in flight, usually blocked in a send on a full channel;
//   - the reader is blocked in a receive when the writer dies, which must
//     wake it;
//   - the reader keeps receiving, and the writer is killed while it runs
//     inside a send (in user space, not asleep): where a transport updates
//     shared state under a lock, or in several stores, the death lands in
//     the middle, which must leave neither a torn message nor a lock held;
//   - the same, with the kill at the moment the transport's own code first
//     reads the bytes of message `before` (TouchTrap): inside the copy,
//     where a lock is held or a header already published, every time and
//     not in one try of dozens. Where no trap can be armed (userfaultfd
//     needs CAP_SYS_PTRACE), or the transport's code never reads the bytes
//     (the kernel copies them, or the message is empty), the kill is the
//     one above.
//
// The oracle for each capability class:
//   reliable            every send that completed before the kill arrives
//                       (the kernel keeps what a dead process wrote); at
//                       most the one send in progress comes on top
//   lossy               a subsequence (unordered: a sub-multiset) of the
//                       sequence, nothing torn; nothing owed, so the
//                       reader's pause also comes after one quiet receive
//   peer-close          then END (or -ECONNRESET) within the deliver bound;
//                       -ETIMEDOUT is a failure: the transport never noticed
//                       its writer died; so is END that comes only as the
//                       receive's own bound runs out (noticed by the clock).
//                       The receives END is due to have the timeout the
//                       scenario picks: the deliver bound, 0 (asked again
//                       for up to the deliver bound) or -1. END then
//                       stays: a receive with timeout 0 gives it at once,
//                       and one with the deliver bound within it
//   peer-close with     (IPCSPEC_CLOSE_ONLY: death is not a close) and no
//   CLOSE_ONLY, or no   peer-close: one receive of one time unit after what
//   peer-close          is owed; it may time out, report END or bring the
//                       one send in progress
//   counter             the sum read covers every completed add, and at
//                       most the one in progress on top
//   capacity            any: a bounded channel fills, so the writer usually
//                       dies blocked in a send
//   duplex              the writer's end speaks (G-DUPLEX: both ends)
//   realtime or not     alike: no clock but that one quiet receive
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/generic/endless.h"
#include "properties/generic/kill_in_send.h"
#include "properties/support/common.h"
#include "properties/support/proc_util.h"

namespace ipcspec::props {
namespace {
namespace g_peer_crash {

// Flags and counters in shared memory.
constexpr size_t kPaused = 0, kKilled = 1, kWaiting = 2, kAllSent = 3;
// The reader failed before the kill (a torn or lost message): its verdict
// stands, and the wait for its pause ends.
constexpr size_t kReaderFailed = 4;
constexpr size_t kReaderPid = 0;  // a counter
// When the writer dies (the four moments above).
enum When : uint64_t {
  kReaderPaused = 0,
  kReaderBlocked = 1,
  kWriterRunning = 2,
  kWriterTouching = 3
};
constexpr uint64_t kInFlight = 256;  // sends past the reader's pause
constexpr std::string_view kWhen[] = {
    "the writer dies with data in flight, while the reader pauses",
    "the reader is blocked in a receive when the writer dies",
    "the writer is killed while it runs inside a send, the reader receiving",
    "the writer is killed as its transport first reads the bytes of the message after those, "
    "inside its send, the reader receiving"};

class PeerCrashProperty final : public NamedProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const Capabilities c = t.caps();
    return rc::gen::exec([this, c] {
      std::vector<Step> steps = {before_.Step(*rc::gen::inRange<uint64_t>(0, 6))};
      // A reader blocked when the writer dies is woken by END only. The
      // kill inside a send is half the examples.
      const std::vector<uint64_t> whens =
          c.peer_close && c.end_on_death ? std::vector<uint64_t>{kReaderPaused, kReaderBlocked,
                                                                 kWriterRunning, kWriterTouching}
                                         : std::vector<uint64_t>{kReaderPaused, kWriterRunning,
                                                                 kReaderPaused, kWriterTouching};
      if (const uint64_t when = *rc::gen::elementOf(whens); when != kReaderPaused) {
        steps.push_back(when_.Step(when));
      }
      auto sizes = *rc::gen::resize(
          4, rc::gen::nonEmpty(rc::gen::container<std::vector<uint64_t>>(
                 c.model == ModelClass::kCounter ? rc::gen::just<uint64_t>(8) : EdgeSize(c))));
      for (size_t i = 0; i < sizes.size(); ++i) steps.push_back(Step::Send(1, sizes[i], i));
      if (c.peer_close && c.end_on_death) {
        steps.push_back(
            end_wait_.Step(*rc::gen::inRange<uint64_t>(0, std::size(kOwedCallTimeouts))));
      }
      return steps;
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override;

  // `trap_at`: the message whose bytes are trapped (kWriterTouching), or
  // none past `stop_at`.
  static std::string Write(End& end, const Endless& seq, uint64_t stop_at, uint64_t trap_at,
                           SharedFlags& flags, KillInSend& kill, const Deadline& deadline);
  // `end_ms`: the timeout of the receives END is due to (OwedCallTimeout).
  static std::string Read(End& end, const Capabilities& c, Endless& seq, uint64_t before,
                          uint64_t when, const Waits& waits, int end_ms, SharedFlags& flags,
                          const KillInSend& kill, const Deadline& deadline);
  // kWriterRunning: receives until the kill, then AfterKill.
  static std::string ReadThroughKill(End& end, const Capabilities& c, Endless& seq,
                                     const Waits& waits, int end_ms, std::vector<std::byte>& buf,
                                     SharedFlags& flags, const KillInSend& kill,
                                     const Deadline& deadline);
  // `sent` sends (`sent_bytes` bytes) completed before the kill; `ended`:
  // END has already come (nothing more is received).
  // `buf`: the reader's, made before it said it waits (a megabyte's page
  // faults are no sleep of the receive the kill is meant to find).
  static std::string AfterKill(End& end, const Capabilities& c, Endless& seq, const Waits& waits,
                               int end_ms, std::vector<std::byte>& buf, uint64_t sent,
                               uint64_t sent_bytes, bool ended = false);

  const Param<uint64_t> before_{this, 0, "the writer is killed after the reader got %s messages",
                                0};
  const ChoiceParam<uint64_t> when_{this, 1, "%s", kReaderPaused, kWhen};
  const ChoiceParam<uint64_t> end_wait_{this, 2, "the reader asks for the end with timeout %s", 0,
                                        kOwedCallTimeouts};
};
IPCSPEC_REGISTER_PROPERTY(PeerCrashProperty, "G-PEER-CRASH",
                          {.applies = EveryTransport, .examples = 24});

Verdict PeerCrashProperty::Run(const Transport& t, const Scenario& s, const CaseEnv& env) const {
  const Capabilities& c = t.caps();
  const uint64_t before = before_.Of(s);
  uint64_t when = when_.Of(s);
  if (when == kReaderBlocked && !(c.peer_close && c.end_on_death)) when = kReaderPaused;
  const bool waiting = when == kReaderBlocked;
  std::vector<uint64_t> sizes;
  for (const Sent& m : SendsOf(s, 1)) sizes.push_back(m.size);
  Endless seq(c, sizes);
  const Waits waits = Waits::For(env);
  const int end_ms = OwedCallTimeout(end_wait_.Of(s), waits);
  SharedFlags flags;
  KillInSend kill;
  const Deadline deadline = Deadline::After(env.deadline - absl::Now() - absl::Milliseconds(500));
  Actor writer{"writer", Role::kWriter, [&](std::unique_ptr<End>& end) {
                 // Enough in flight to fill a pipe or a queue, so the kill
                 // usually finds the writer blocked in a send; bounded, so an
                 // unbounded channel (a file, signals) costs little.
                 return Write(*end, seq, waiting ? before : before + kInFlight,
                              when == kWriterTouching ? before : UINT64_MAX, flags, kill, deadline);
               }};
  Actor reader{"reader", Role::kReader, [&](std::unique_ptr<End>& end) {
                 std::string e =
                     Read(*end, c, seq, before, when, waits, end_ms, flags, kill, deadline);
                 if (!e.empty() && !flags.IsRaised(kKilled)) {
                   flags.Raise(kReaderFailed);
                   flags.Raise(waiting ? kWaiting : kPaused);
                 }
                 return e;
               }};
  return RunActors(t, env, {writer, reader}, [&](ActorControl& control) -> Verdict {
    // Stopped inside its transport's copy of a message, perhaps holding
    // what the reader needs to get the messages before it (a lock): killed
    // there at once.
    if (when == kWriterTouching && kill.StoppedAtTheTouch(deadline)) {
      Verdict v = control.Kill("writer");
      flags.Raise(kKilled);
      return v;
    }
    const bool paused = flags.WaitFor(waiting ? kWaiting : kPaused, deadline);
    if (flags.IsRaised(kReaderFailed)) return Verdict::Pass();  // the reader's failure stands
    if (!paused) {
      if (waiting) {
        return Verdict::Fail("the reader never started its receive of what comes before the kill");
      }
      return Verdict::Fail(absl::StrFormat(
          "the reader never received the first %d messages, after which the writer is killed: "
          "it stopped or hung before them",
          before));
    }
    if (waiting) {
      // A lossy reader waits before anything came (what it will get is not
      // known): the writer first sends all it has.
      if (!flags.WaitFor(kAllSent, deadline)) return Verdict::Fail("the writer never sent it all");
      // Asleep in whatever call its transport waits in (read, futex,
      // io_uring_enter, ...); where the receive never sleeps (a busy poll),
      // the writer is killed after a quarter of its bound all the same.
      const auto pid = static_cast<pid_t>(flags.Counter(kReaderPid).load());
      (void)WaitUntilAsleep(pid, Deadline::After(absl::Milliseconds(waits.deliver_ms / 4)));
    }
    // kWriterTouching here: no trap, or its transport never read the
    // message's bytes itself.
    Verdict v = when == kWriterRunning || when == kWriterTouching
                    ? kill.KillWhileItRuns(control, "writer")
                    : control.Kill("writer");
    flags.Raise(kKilled);
    return v;
  });
}

std::string PeerCrashProperty::Write(End& end, const Endless& seq, uint64_t stop_at,
                                     uint64_t trap_at, SharedFlags& flags, KillInSend& kill,
                                     const Deadline& deadline) {
  if (std::string e = kill.SendAll(end, seq, stop_at, trap_at, deadline); !e.empty()) return e;
  flags.Raise(kAllSent);
  // The reader waits in a receive; this writer dies here.
  flags.WaitFor(kKilled, deadline);
  return "";
}

std::string PeerCrashProperty::Read(End& end, const Capabilities& c, Endless& seq, uint64_t before,
                                    uint64_t when, const Waits& waits, int end_ms,
                                    SharedFlags& flags, const KillInSend& kill,
                                    const Deadline& deadline) {
  const bool waiting = when == kReaderBlocked;
  std::vector<std::byte> buf(std::max<uint64_t>(RecvBufferSize(c), 8));
  const bool stream = c.framing == Framing::kStream;
  // Where the reader is blocked when the writer dies, the writer sends
  // `before` messages in all: on a lossy transport some may never come,
  // so its reader waits from the start, and they come after (or before)
  // the kill like the rest.
  const uint64_t want = waiting && !c.reliable ? 0 : stream ? seq.BytesBefore(before) : before;
  while (seq.received() < want) {
    size_t n = 0;
    // Lossy: nothing is owed, so the pause comes after `before` messages or
    // after one quiet receive, whichever is first (what was lost never
    // comes, and an overwriting channel hands over only the newest).
    const int rc = end.Recv(buf, &n, c.reliable ? waits.deliver_ms : waits.quiet_ms);
    if (!c.reliable && (rc == -ETIMEDOUT || rc == -EAGAIN)) break;
    if (rc == kEnd) return "end of stream before the writer was killed";
    if (rc != 0) return absl::StrFormat("receive after %d messages: %s", seq.received(), Errno(rc));
    const std::span<const std::byte> got(buf.data(), n);
    std::string e = seq.On(got, kill.Sent(), false);
    if (!e.empty()) return e;
  }
  if (waiting) {
    flags.Counter(kReaderPid).store(static_cast<uint64_t>(::getpid()));
    flags.Raise(kWaiting);
    // Known before the kill: the writer sends `before` in all.
    return AfterKill(end, c, seq, waits, end_ms, buf, before, seq.BytesBefore(before));
  }
  flags.Raise(kPaused);
  if (when == kWriterRunning || when == kWriterTouching)
    return ReadThroughKill(end, c, seq, waits, end_ms, buf, flags, kill, deadline);
  if (!flags.WaitFor(kKilled, deadline)) return "the writer was never killed";
  return AfterKill(end, c, seq, waits, end_ms, buf, kill.Sent(), kill.SentBytes());
}

std::string PeerCrashProperty::ReadThroughKill(End& end, const Capabilities& c, Endless& seq,
                                               const Waits& waits, int end_ms,
                                               std::vector<std::byte>& buf, SharedFlags& flags,
                                               const KillInSend& kill, const Deadline& deadline) {
  while (!flags.IsRaised(kKilled)) {
    size_t n = 0;
    const int rc = end.Recv(buf, &n, waits.quiet_ms);
    if (rc == 0) {
      if (std::string e = seq.On(std::span(buf).first(n), kill.Sent(), false); !e.empty()) {
        return e;
      }
      continue;
    }
    if (rc == -ETIMEDOUT || rc == -EAGAIN) continue;
    // END (or an error) may come before the case process says it killed.
    if (!flags.WaitFor(kKilled, deadline)) return "the writer was never killed";
    if (rc == kEnd || rc == -ECONNRESET) {
      return AfterKill(end, c, seq, waits, end_ms, buf, kill.Sent(), kill.SentBytes(), true);
    }
    return absl::StrCat("receive as the writer was killed: ", Errno(rc));
  }
  return AfterKill(end, c, seq, waits, end_ms, buf, kill.Sent(), kill.SentBytes());
}

std::string PeerCrashProperty::AfterKill(End& end, const Capabilities& c, Endless& seq,
                                         const Waits& waits, int end_ms,
                                         std::vector<std::byte>& buf, uint64_t sent,
                                         uint64_t sent_bytes, bool ended) {
  const bool stream = c.framing == Framing::kStream && c.model != ModelClass::kCounter;
  const uint64_t owed = !c.reliable ? 0 : (stream ? sent_bytes : sent);
  if (ended && seq.received() < owed) {
    return absl::StrFormat("after the kill, %d of the %d %s that completed had arrived, then END",
                           seq.received(), owed, stream ? "bytes" : "sends");
  }
  if (ended && c.peer_close && c.end_on_death) {
    if (std::string e = EndStays(end, buf, waits, int64_t{waits.deliver_ms} * 1000); !e.empty())
      return e;
  }
  if (ended) return seq.Covers(sent, sent_bytes, "before the kill");
  // What completed before the kill is owed, and comes by event.
  while (seq.received() < owed) {
    size_t n = 0;
    const int rc = end.Recv(buf, &n, waits.deliver_ms);
    if (rc != 0) {
      return absl::StrFormat("after the kill, %d of the %d %s that completed had arrived, then %s",
                             seq.received(), owed, stream ? "bytes" : "sends", Errno(rc));
    }
    if (std::string e = seq.On(std::span(buf).first(n), sent, true); !e.empty()) return e;
  }
  // Then END, when the death of the writer is its close; else one quiet
  // receive, which may bring the send that was in progress.
  const bool end_due = c.peer_close && c.end_on_death;
  Backoff again(absl::Milliseconds(waits.deliver_ms));  // for end_ms 0
  for (int guard = 0; guard < 1000000; ++guard) {
    size_t n = 0;
    const int timeout = end_due ? end_ms : waits.quiet_ms;
    const absl::Time start = absl::Now();
    const int rc = end.Recv(buf, &n, timeout);
    if (end_due && timeout > 0 && (rc == kEnd || rc == -ECONNRESET) &&
        absl::Now() - start >= absl::Milliseconds(timeout)) {
      return absl::StrFormat(
          "end of stream after the writer was killed came only as the receive's bound ran out "
          "(%d ms): the death was noticed by the clock, not by an event (PEER_CLOSE counts a death "
          "as a close, which ends a blocked receive at once)",
          timeout);
    }
    if (rc == 0) {
      if (std::string e = seq.On(std::span(buf).first(n), sent, true); !e.empty()) return e;
      continue;
    }
    if (rc == kEnd || rc == -ECONNRESET) {
      if (!end_due) break;
      if (std::string e = EndStays(end, buf, waits, int64_t{waits.deliver_ms} * 1000); !e.empty())
        return e;
      break;
    }
    // A non-blocking receive is asked again, later each time.
    if (end_due && timeout == 0 && rc == -EAGAIN && again.Next()) continue;
    // The hint only where the receive waited in vain: an error (-EIO from
    // a frame the kill tore) is no failure to see the death.
    if (end_due && (rc == -ETIMEDOUT || rc == -EAGAIN)) {
      return absl::StrFormat(
          "no end of stream after the writer was killed: a receive with timeout %s gave %s%s "
          "(PEER_CLOSE counts a death as a close; a transport that cannot see one declares "
          "IPCSPEC_CLOSE_ONLY)",
          SayCallTimeout(timeout), Errno(rc),
          timeout == 0 ? absl::StrFormat(", asked again for %s", again.SayWaited()) : "");
    }
    if (end_due) {
      return absl::StrFormat(
          "after the writer was killed (mid-send, perhaps: what it left half-sent must not break "
          "the stream), receive gave %s where end of stream was due",
          Errno(rc));
    }
    if (rc == -ETIMEDOUT || rc == -EAGAIN) break;
    return absl::StrCat("after the kill, receive gave ", Errno(rc));
  }
  return seq.Covers(sent, sent_bytes, "before the kill");
}

}  // namespace g_peer_crash
}  // namespace
}  // namespace ipcspec::props
