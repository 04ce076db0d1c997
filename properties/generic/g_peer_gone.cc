// G-PEER-GONE: after the reader closes, a send fails (EPIPE-like) instead of
// hanging or succeeding forever; a blocking stream send cut short by the
// close reports its partial count first.
//
// The oracle for each capability class (generic/oracle.h):
//   peer-close          the messages before the close arrive as G-ORDER
//                       says (a lossy transport: a subsequence); then,
//                       after the reader's close, sends give -EPIPE or
//                       -ECONNRESET within a bounded number of sends (a
//                       socket may take a few into its buffer first) and
//                       each within the deliver bound, never -ETIMEDOUT
//   byte stream with    a blocking send of 2 x capacity + 4096 bytes, cut
//   capacity            short by the close, returns its partial count (or
//                       -EPIPE; or part at once, before the reader took
//                       its 1000 bytes and closed), and the sends after the
//                       close give -EPIPE as above
//   no peer-close       skipped: a send after the reader closed may
//                       succeed, block or fail (G-TIMEOUT checks that a
//                       bounded one returns on time)
//   duplex              the writer's end sends after the reader's end closed;
//                       in half of the examples it first receives, and
//                       where that gives END (or -ECONNRESET: plugin.h does
//                       not promise either) the end knows the reader is
//                       gone, and its next send gives -EPIPE at once, not a
//                       send or a few later
//   realtime or not     alike: every wait is on an event
//   several writers     a second writer, open all along, sends once the
//                       first has met the closed reader, and gets -EPIPE
//                       as the first did: the first's -EPIPE path left
//                       nothing held (a lock) that makes the second wait
//   any timeout         the sends after the close have the timeout the
//                       scenario picks: the deliver bound, 0 (-EAGAIN
//                       counts as a send taken) or -1 (a hang is the
//                       watchdog's to report)
//   every class         in half of the examples the writer's process leads
//                       a session of its own (setsid), as a daemon's does:
//                       a transport that opens a terminal without
//                       O_NOCTTY makes it the session's controlling
//                       terminal, and the reader's close (a hang-up) kills
//                       the writer with SIGHUP instead of failing its send
//   every class         what the EPIPE path set in the writer's process (a
//                       blocked SIGPIPE, SIG_IGN for it) is put back once
//                       its end is closed, as G-CLEANUP demands of the
//                       paths it runs; in half of the examples the writer's
//                       process has SIGPIPE blocked from the start (a
//                       program that takes it with sigwait or a signalfd),
//                       and a transport that blocks it for a write and then
//                       unblocks it, rather than putting back the mask it
//                       found, leaves it unblocked
#include <signal.h>
#include <unistd.h>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "ipcspec/inventory.h"
#include "properties/generic/generic_property.h"
#include "properties/generic/traffic.h"

namespace ipcspec::props {
namespace {
namespace g_peer_gone {

bool PipeLike(int rc) { return rc == -EPIPE || rc == -ECONNRESET; }

// Flags: 0 the writer is about to block or send; 1 the reader closed;
// 2 the reader took the first messages; 3 the writer's sends after the
// close are over.
constexpr size_t kWriterReady = 0, kReaderClosed = 1, kReaderTook = 2, kWriterMetClose = 3;
constexpr size_t kSecondDone = 4;  // writer 2's sends are over

constexpr std::string_view kPartial[] = {
    "the writer sends after the reader has closed",
    "the writer is blocked in a send of 2 x capacity + 4096 bytes when the reader closes"};

// Sends after the reader closed: -EPIPE. A transport that learns of the
// close late (TCP, when the peer's reset comes back; one that forwards
// through a thread or process of its own) may take a send or a few before
// it knows, but it knows within the hang grace: after a send that was
// taken the writer tries again, a 128th of a grace later, then twice as
// late each time (the property is about how late), and a send still taken
// a grace after the close is lost for good. So a transport that looks for
// the close only when it has to wait for room, and takes sends until its
// buffer is full, is caught unless seven sends fill it. `send_ms`: the
// sends' timeout; with 0, -EAGAIN (a full buffer, the close not known yet)
// counts as a send taken.
std::string SendsAfterClose(End& end, uint64_t size, int send_ms, absl::Duration grace) {
  std::vector<std::byte> buf(size, std::byte{2});
  uint64_t taken = 0;
  int sends = 0;
  Backoff again(grace);
  do {
    size_t n = 0;
    const int rc = end.Send(buf, &n, send_ms);
    ++sends;
    if (PipeLike(rc)) return "";
    if (rc != 0 && !(rc == -EAGAIN && send_ms == 0)) {
      return absl::StrFormat("send (timeout %s) after the reader closed gave %s, not -EPIPE",
                             SayCallTimeout(send_ms), Errno(rc));
    }
    taken += n;
  } while (again.Next());
  return absl::StrFormat(
      "%d sends of %d bytes (timeout %s) after the reader closed, the last %s after the first, "
      "were all taken or refused for room (%d bytes lost): PEER_CLOSE promises -EPIPE once the "
      "reader's end is closed, and none of them said so (the transport had not learned of the "
      "close, or kept the error to itself)",
      sends, size, SayCallTimeout(send_ms), again.SayWaited(), taken);
}

// On a duplex, the writer's end receives once the reader has closed. Where
// that gives END (or -ECONNRESET), the end has learnt of the close, and its
// next send gives -EPIPE at once: no send into the void after the end said
// the reader was gone (a TCP socket takes one after the peer's FIN, and a
// transport that does not look for the FIN passes it on). Anything else
// the receive gives is let be: nothing is owed to the writer's end.
std::string SendAfterEnd(End& end, const Capabilities& c, uint64_t size, int send_ms,
                         int quiet_ms) {
  std::vector<std::byte> buf(std::max<uint64_t>(RecvBufferSize(c), 8));
  size_t n = 0;
  const int got = end.Recv(buf, &n, quiet_ms);
  if (got != kEnd && got != -ECONNRESET) return "";
  const std::vector<std::byte> out(size, std::byte{2});
  const int rc = end.Send(out, &n, send_ms);
  if (PipeLike(rc)) return "";
  return absl::StrFormat(
      "after the writer's end's receive gave %s (the reader's end had closed), its next send of "
      "%d bytes (timeout %s) gave %s%s, not -EPIPE: the end knew the reader was gone",
      Errno(got), size, SayCallTimeout(send_ms), Errno(rc),
      rc == 0 ? absl::StrFormat(" (%d bytes taken into the void)", n) : "");
}

// The blocking send that the reader's close cuts short. A send that took
// what fitted at once (a stream may send part of its buffer) may return
// before the reader took its part and closed: the sends after it wait for
// the close, and then give -EPIPE as SendsAfterClose's do.
std::string CutShortSend(End& end, const Capabilities& c, int deliver_ms, const SharedFlags& flags,
                         const Deadline& deadline, absl::Duration grace) {
  std::vector<std::byte> big(2 * c.capacity + 4096, std::byte{1});
  size_t n = 0;
  const int rc = end.Send(big, &n, deliver_ms);
  if (rc != 0 && !PipeLike(rc)) {
    return absl::StrFormat("a blocking send cut short by the reader's close gave %s", Errno(rc));
  }
  if (rc == 0 && n >= big.size()) {
    return absl::StrFormat("a %d-byte blocking send reported all sent, though the reader closed",
                           big.size());
  }
  if (rc != 0) return "";
  if (!flags.WaitFor(kReaderClosed, deadline)) return "the reader never closed";
  if (std::string e = SendsAfterClose(end, 1, deliver_ms, grace); !e.empty()) {
    return absl::StrFormat("after a partial send (%d of %d bytes): %s", n, big.size(), e);
  }
  return "";
}

// The writer's process before its end opens: setsid() (`session`), which
// the fork made no group leader (the subreaper finds it if it outlives the
// case); SIGPIPE blocked (`sigpipe_blocked`), as a program that takes it
// with sigwait(3) or a signalfd has it: a transport that blocks it for a
// write must put back that mask, not unblock it. Then *settings is that
// process's own, to compare with once its end is closed. nullptr: neither.
BeforeOpenFn WriterSetUp(bool session, bool sigpipe_blocked, ProcessSettings* settings) {
  if (!session && !sigpipe_blocked) return nullptr;
  return [=](const ActorPids&, const Deadline&) {
    if (session) ::setsid();
    if (sigpipe_blocked) {
      sigset_t pipe_only;
      ::sigemptyset(&pipe_only);
      ::sigaddset(&pipe_only, SIGPIPE);
      ::pthread_sigmask(SIG_BLOCK, &pipe_only, nullptr);
    }
    *settings = TakeProcessSettings();  // in the writer's process: its copy
  };
}

class PeerGoneProperty final : public GenericProperty {
  Applicability AppliesToCaps(const Capabilities& c) const override {
    return Needs(c.peer_close,
                 "peer_close=false (a send after the reader closed may succeed, block or fail)");
  }
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const Capabilities c = t.caps();
    return rc::gen::exec([this, c] {
      std::vector<Step> steps;
      // What the reader takes before it closes.
      const int before = *rc::gen::inRange(0, 4);
      for (int i = 0; i < before; ++i) {
        uint64_t size = *rc::gen::inRange<uint64_t>(c.framing == Framing::kStream ? 1 : 0, 2000);
        if (c.max_message) size = std::min(size, c.max_message);
        if (c.model == ModelClass::kCounter) size = 8;  // a counter takes 8-byte values only
        steps.push_back(Step::Send(1, size, static_cast<uint64_t>(i)));
      }
      const bool partial =
          c.framing == Framing::kStream && c.capacity > 0 && *rc::gen::arbitrary<bool>();
      steps.push_back(partial_.Step(partial));
      steps.push_back(size_.Step(*rc::gen::elementOf(std::vector<uint64_t>{1, 100, 4096, 65536})));
      steps.push_back(
          send_wait_.Step(*rc::gen::inRange<uint32_t>(0, std::size(kOwedCallTimeouts))));
      if (c.multi_writer && !partial && *rc::gen::arbitrary<bool>()) {
        steps.push_back(second_.Step(true));
      }
      if (*rc::gen::arbitrary<bool>()) steps.push_back(session_.Step(true));
      if (*UniformBelow(2) == 1) steps.push_back(sigpipe_blocked_.Step(true));
      if (c.direction == Direction::kDuplex && !partial && *UniformBelow(2) == 1) {
        steps.push_back(heard_.Step(true));
      }
      return steps;
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const Capabilities& c = t.caps();
    const bool partial = partial_.Of(s) && c.framing == Framing::kStream && c.capacity > 0;
    const bool second = second_.Of(s) && c.multi_writer && !partial;
    const bool heard = heard_.Of(s) && c.direction == Direction::kDuplex && !partial;
    uint64_t size = size_.Of(s);
    if (c.max_message) size = std::min(size, c.max_message);
    // A shorter send to a counter is -EINVAL before anything else is looked at.
    if (c.model == ModelClass::kCounter) size = 8;
    Traffic traffic(c, env, {SendsOf(s, 1)});
    const int deliver = traffic.waits().deliver_ms;
    const int send_ms = OwedCallTimeout(send_wait_.Of(s), traffic.waits());
    SharedFlags flags;
    const Deadline deadline = Deadline::After(env.deadline - absl::Now());
    // Before any end exists; the writer's process inherits them, and takes
    // its own after its setsid() and its block of SIGPIPE (before_open).
    ProcessSettings settings = TakeProcessSettings();
    Actor writer{"writer", Role::kWriter, [&](std::unique_ptr<End>& end) -> std::string {
                   // Whatever happens, writer 2 goes on (here it goes on before
                   // this end closes, which may put back what the EPIPE path held).
                   absl::Cleanup done = [&] { flags.Raise(kWriterMetClose); };
                   if (std::string e = traffic.Write(*end, 0); !e.empty()) return e;
                   if (!flags.WaitFor(kReaderTook, deadline))
                     return "the reader did not take the first messages";
                   flags.Raise(kWriterReady);
                   if (partial)
                     return CutShortSend(*end, c, deliver, flags, deadline, env.hang_grace);
                   if (!flags.WaitFor(kReaderClosed, deadline)) return "the reader never closed";
                   std::string e =
                       heard ? SendAfterEnd(*end, c, size, send_ms, traffic.waits().quiet_ms) : "";
                   if (e.empty()) e = SendsAfterClose(*end, size, send_ms, env.hang_grace);
                   flags.Raise(kWriterMetClose);
                   if (!e.empty()) return e;
                   // Its end stays open while writer 2 sends, as a program's would.
                   if (second && !flags.WaitFor(kSecondDone, deadline))
                     return "writer 2 never finished";
                   end.reset();
                   const std::vector<std::string> changed =
                       ChangedSettings(settings, TakeProcessSettings());
                   if (changed.empty()) return std::string();
                   return absl::StrCat("once its end is closed after sends that met the closed ",
                                       "reader: ", absl::StrJoin(changed, ", "), ": not put back");
                 }};
    Actor reader{"reader", Role::kReader, [&](std::unique_ptr<End>& end) -> std::string {
                   if (std::string e = traffic.Receive(*end); !e.empty()) return e;
                   flags.Raise(kReaderTook);
                   if (!flags.WaitFor(kWriterReady, deadline)) return "the writer did not go on";
                   if (partial) {
                     // Take a little of the blocked send, so it has made progress.
                     std::vector<std::byte> buf(1000);
                     size_t n = 0;
                     const int rc = end->Recv(buf, &n, deliver);
                     if (rc != 0)
                       return absl::StrCat("reading part of the blocked send: ", Errno(rc));
                   }
                   end.reset();
                   flags.Raise(kReaderClosed);
                   return "";
                 }};
    writer.before_open = WriterSetUp(session_.Of(s), sigpipe_blocked_.Of(s), &settings);
    std::vector<Actor> actors = {writer, reader};
    if (second) {
      actors.insert(actors.begin() + 1,
                    {"writer 2", Role::kWriter, [&](std::unique_ptr<End>& end) -> std::string {
                       absl::Cleanup done = [&] { flags.Raise(kSecondDone); };
                       if (!flags.WaitFor(kWriterMetClose, deadline)) return "";
                       std::string e = SendsAfterClose(*end, size, send_ms, env.hang_grace);
                       return e.empty() ? e : absl::StrCat("once writer 1 had met it: ", e);
                     }});
    }
    return RunActors(t, env, std::move(actors));
  }

  const ChoiceParam<bool> partial_{this, 0, "%s", false, kPartial};
  const BytesParam size_{this, 1, "each later send is %s", 100};
  const ChoiceParam<uint32_t> send_wait_{this, 3, "the later sends' timeout is %s", 0,
                                         kOwedCallTimeouts};
  const YesNoParam session_{
      this, 4, "the writer's process leads a session of its own (setsid), as a daemon's does: %s",
      false};
  const YesNoParam heard_{
      this, 5, "the writer's end receives first, and where that gives END sends once more: %s",
      false};
  const YesNoParam sigpipe_blocked_{
      this, 6, "the writer's process has SIGPIPE blocked before its end opens: %s", false};
  const YesNoParam second_{
      this, 2, "a second writer, open all along, sends once the first met the closed reader: %s",
      false};
};
IPCSPEC_REGISTER_PROPERTY(PeerGoneProperty, "G-PEER-GONE");

}  // namespace g_peer_gone
}  // namespace
}  // namespace ipcspec::props
