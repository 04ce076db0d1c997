// G-OPEN-RACE: while the first writer's open() is between two of its system
// calls, the reader is not told END; the writer's message then comes, and
// END after its close.
//
// A transport that counts its writers marks "a writer has opened" and "this
// writer lives" (a count, a lock on a file, a pid published) as two steps of
// open(). A reader that looks between them sees a writer that opened and
// none alive: END, with the writer's first message still to come. No END is
// owed before the first writer has opened (plugin.h, IPCSPEC_PEER_CLOSE),
// and an END given stays given. Opens and receives at random moments almost
// never meet in a gap a few microseconds wide.
//
// This property puts the look there. On a channel of its own per step, the
// reader opens first; the writer's process installs a call gate
// (support/call_gate.h) before its open, which holds it at the entry of the
// open's system call i, and while it is held the reader receives with
// timeout 0. Then the open goes on, the writer sends message 0 and closes.
// The steps walk i = 0, 1, 2, ...: every gap between two system calls of the
// open. The walk ends at the first i the open never reaches.
//
// The oracle for each capability class:
//   peer-close, reliable   the receive made while the open is held gives
//                          -EAGAIN (nothing yet), never END; then message 0
//                          comes within the deliver bound, then END
//   no peer-close, lossy   does not apply: END may come at any time after a
//                          close, and the message may be lost
//   counter, stream,       alike: message 0 is one add, or bytes
//   duplex, capacity,
//   realtime
//
// It needs seccomp user notification with WAIT_KILLABLE_RECV (Linux 5.19):
// without it the property does not apply.
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ipcspec/proc.h"
#include "properties/generic/generic_property.h"
#include "properties/generic/wakeup.h"
#include "properties/support/call_gate.h"
#include "properties/support/common.h"

namespace ipcspec::props::wakeup {
namespace {
namespace g_open_race {

constexpr int kCalls = 16;  // the system calls of one open walked

// One channel's shared state. Flags: the writer is held in its open (or it
// opened unheld); the reader looked. Counters: whether the open reached the
// call to hold (1 no, 2 yes), the number of the system call held.
constexpr size_t kGo = 0, kLooked = 1;
constexpr size_t kReached = 0, kHeldNr = 1;

// The writer's gate, from before its open to its part (one per process).
std::unique_ptr<CallGate>& WriterGate() {
  static std::unique_ptr<CallGate> gate;
  return gate;
}

// Before the writer's open: the gate, armed at the open's call `index`.
void ArmBeforeOpen(SharedFlags& gap, int index, int deliver_ms) {
  WriterGate() = CallGate::Install();
  if (WriterGate() == nullptr) return;
  WriterGate()->Arm(index, [&gap, deliver_ms](long nr) {
    gap.Counter(kHeldNr).store(static_cast<uint64_t>(nr));
    gap.Counter(kReached).store(2);
    gap.Raise(kGo);
    (void)gap.WaitFor(kLooked, Deadline::After(absl::Milliseconds(deliver_ms)));
  });
}

// The writer, once open: message 0, then its close.
std::string OpenedThenSend(End& end, const Capabilities& c, SharedFlags& gap, int deliver_ms) {
  if (WriterGate() == nullptr) {
    gap.Raise(kGo);
    return CallGate::NotInstalled("the writer");
  }
  const CallGate::Calls calls = WriterGate()->Disarm();
  if (!calls.held) {
    gap.Counter(kReached).store(1);
    gap.Raise(kGo);
  }
  return SendMessageOf(end, c, 0, deliver_ms);
}

// The reader: a look while the writer's open is held, then message 0 and
// END. "" or the failure.
std::string LookDuringTheOpen(End& end, const Capabilities& c, SharedFlags& gap, int index,
                              int deliver_ms) {
  RoundReceiver messages(end, c, deliver_ms);
  const Deadline d = Deadline::After(absl::Milliseconds(4 * int64_t{deliver_ms}));
  const bool go = gap.WaitFor(kGo, d);
  size_t got = 0;
  int rc = -EAGAIN;
  if (go && gap.Counter(kReached).load() == 2) rc = messages.Receive(MessageOf(c, 0), 0, &got);
  gap.Raise(kLooked);
  if (!go) return "";
  const std::string where =
      absl::StrFormat("while the writer's open() was held at the entry of its system call %d (%s)",
                      index + 1, SyscallName(static_cast<long>(gap.Counter(kHeldNr).load())));
  if (rc == kEnd) {
    return absl::StrCat(
        "a receive with timeout 0 ", where,
        " gave END, before any writer had opened: open() marks a writer as come before it marks "
        "it alive, and a look between the two sees one that came and went");
  }
  if (rc != -EAGAIN && rc != -ETIMEDOUT) {
    return absl::StrFormat("a receive with timeout 0 %s gave %s where nothing was sent yet", where,
                           Errno(rc));
  }
  rc = messages.Receive(MessageOf(c, 0), deliver_ms, &got);
  if (rc != 0 || !messages.Matches(MessageOf(c, 0), got)) {
    return absl::StrFormat("after the look, message 0 gave %s (%d bytes)", Errno(rc), got);
  }
  rc = messages.Receive(MessageOf(c, 0), deliver_ms, &got);
  if (rc == -ECONNRESET) rc = messages.Receive(MessageOf(c, 0), deliver_ms, &got);
  if (rc != kEnd) {
    return absl::StrFormat("after message 0 and the writer's close, a receive gave %s, not END",
                           Errno(rc));
  }
  return "";
}

class OpenRaceProperty final : public CallWalkProperty {
 public:
  OpenRaceProperty() : CallWalkProperty(kCalls) {}

 private:
  Applicability AppliesToCaps(const Capabilities& c) const override {
    if (!c.peer_close) return Needs(false, "peer_close=false (END may come after any close)");
    if (!c.reliable) return Needs(false, "reliable=false (message 0 may be lost)");
    return CallGate::Applies();
  }
  std::string DescribeCall(int index) const override {
    return absl::StrFormat(
        "the reader receives with timeout 0 while the writer's open() is held at the entry of its "
        "system call %d",
        index + 1);
  }
  Verdict Walk(const Transport& t, const CaseEnv& env,
               const std::vector<int>& indices) const override {
    const Capabilities& c = t.caps();
    const int deliver = Waits::For(env).deliver_ms;
    for (int index : indices) {
      SharedFlags gap(2);
      // A late writer: the reader does not wait for its open.
      Actor writer{"writer", Role::kWriter, [&](std::unique_ptr<End>& end) {
                     return OpenedThenSend(*end, c, gap, deliver);
                   }};
      writer.before_open = [&, index](const ActorPids&, const Deadline&) {
        ArmBeforeOpen(gap, index, deliver);
      };
      Actor reader{"reader", Role::kReader, [&](std::unique_ptr<End>& end) {
                     return LookDuringTheOpen(*end, c, gap, index, deliver);
                   }};
      if (Verdict v = RunActors(t, env, {writer, reader}); !v.ok()) return v;
      if (gap.Counter(kReached).load() != 2) break;  // the walk ends
    }
    return Verdict::Pass();
  }
};
IPCSPEC_REGISTER_PROPERTY(OpenRaceProperty, "G-OPEN-RACE", {.examples = 1});

}  // namespace g_open_race
}  // namespace
}  // namespace ipcspec::props::wakeup
