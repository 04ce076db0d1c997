// G-EOF-RACE: a last message and the close after it, both made while a
// receive is between two of its system calls, still come in that order:
// the message, then END.
//
// A receive that reports END looks at two things: whether a message is
// there, and whether every writer has gone. Looked at in that order, with
// no way to see that both changed in between (a count of writers read
// after the queue was found empty, a "closed" flag read without a sequence
// number that the send also moves), a writer that sends its last message
// and closes in the gap makes the receive see an empty channel and no
// writers: END, with the message still in the channel. The message then
// comes after END, or never. G-EOF closes only once the reader has taken
// everything, and a send and a close at random moments almost never land
// in a gap a few microseconds wide.
//
// This property puts them there. On a channel of its own per step, the
// writer sends message 0 (which the reader takes), and the reader's next
// receive runs under a call gate (support/call_gate.h) that holds it at the
// entry of its system call i; while it is held, the writer sends message 1
// whole and closes its end. Then the call goes on. The steps walk i = 0,
// 1, 2, ...: every gap between two system calls of the receive, up to the
// one it sleeps in. The walk ends at the first i the receive never reaches.
//
// The oracle for each capability class:
//   reliable, peer-close   the held receive (or, where it returns early,
//                          the next) gives message 1; the receive after it
//                          gives END within the deliver bound (a pipe
//                          waits for the writer's process to detach)
//   byte stream            message 1 may come in parts, each before END
//   lossy, no peer-close   does not apply: a lost message may be the last,
//                          and without peer-close no END is owed
//   counter                does not apply: an add and the close leave a
//                          sum, not a message to be owed before END
//   duplex, capacity, realtime   change nothing: one message each way
//                          that matters, and how soon is G-WAKEUP's
//
// It needs seccomp user notification with WAIT_KILLABLE_RECV (Linux 5.19):
// without it the property does not apply.
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/generic/generic_property.h"
#include "properties/generic/wakeup.h"
#include "properties/support/call_gate.h"
#include "properties/support/common.h"

namespace ipcspec::props::wakeup {
namespace {
namespace g_eof_race {

constexpr int kCalls = 16;  // the system calls of one receive walked

// One channel's shared state. Flags: the reader took message 0; the
// reader is held at its call; the writer sent message 1 and closed.
// Counters: the reader's thread id, the writer's pid, whether the receive
// reached the call to hold (1 no, 2 yes).
constexpr size_t kWarm = 0, kHeld = 1, kClosed = 2;
constexpr size_t kReaderTid = 0, kWriterPid = 1, kReached = 2;

// Until flag i of `gap`, or the other side (whose id is Counter(who)) seen
// asleep outside the gate, or `d`.
void AwaitFlagOrPeerAsleep(const SharedFlags& gap, size_t i, size_t who, const Deadline& d) {
  const auto pid = static_cast<pid_t>(gap.Counter(who).load());
  AwaitFlagOrSleep(gap, i, pid, d, [pid] { return AsleepOutsideTheGate(pid); });
}

// The failure of the held receive, in words.
std::string HeldFailure(int index, const CallGate::Calls& calls, const std::string& what) {
  return absl::StrFormat(
      "the writer sent its last message (message 1) and closed its end while the reader's "
      "receive was held at the entry of its system call %d (%s); %s. The receive's system calls: "
      "%s",
      index + 1, calls.NameOf(index), what, calls.Names());
}

// After the held receive gave END: what became of message 1.
std::string EndFirst(RoundReceiver& messages, const Sent& want, int deliver_ms) {
  size_t got = 0;
  int rc = messages.Receive(want, 0, &got);
  if (rc == kEnd || rc == -EAGAIN || rc == -ETIMEDOUT)
    rc = messages.Receive(want, deliver_ms, &got);
  // How END comes first: the receive looked for a message, then for the
  // writers, and both changed in between.
  const char* why =
      ": the receive looked for a message, then for the writers, and both changed "
      "in between";
  if (rc == 0)
    return absl::StrCat("it gave END, and a receive after END then gave the message", why);
  return absl::StrFormat("it gave END, and the message never came (a receive after it gave %s)%s",
                         Errno(rc), why);
}

// The reader of one channel: message 0, then the held receive of message
// 1, then END. "" or the failure.
std::string ReadAcrossTheClose(End& end, const Capabilities& c, SharedFlags& gap, int index,
                               int deliver_ms) {
  gap.Counter(kReaderTid).store(static_cast<uint64_t>(::gettid()));
  std::unique_ptr<CallGate> gate = CallGate::Install();
  if (gate == nullptr) {
    gap.Raise(kWarm);
    return CallGate::NotInstalled("the reader");
  }
  RoundReceiver messages(end, c, deliver_ms);
  size_t got = 0;
  // Message 0, not held: what a receive does only the first time is done.
  int rc = messages.Receive(MessageOf(c, 0), deliver_ms, &got);
  gap.Raise(kWarm);
  if (rc != 0 || !messages.Matches(MessageOf(c, 0), got)) {
    return absl::StrFormat("message 0 gave %s (%d bytes)", Errno(rc), got);
  }
  const Deadline hold_bound = Deadline::After(absl::Milliseconds(deliver_ms));
  gate->Arm(index, [&](long) {
    gap.Raise(kHeld);
    AwaitFlagOrPeerAsleep(gap, kClosed, kWriterPid, hold_bound);
  });
  const Sent want = MessageOf(c, 1);
  rc = messages.Receive(want, deliver_ms, &got);
  const CallGate::Calls calls = gate->Disarm();
  gap.Counter(kReached).store(calls.held ? 2 : 1);
  if (rc == kEnd) return HeldFailure(index, calls, EndFirst(messages, want, deliver_ms));
  if (rc == -EAGAIN || rc == -ETIMEDOUT) rc = messages.Receive(want, deliver_ms, &got);
  if (rc != 0) {
    return HeldFailure(index, calls, absl::StrFormat("the message never came (%s)", Errno(rc)));
  }
  if (!messages.Matches(want, got)) {
    return HeldFailure(index, calls, absl::StrFormat("%d bytes came that are not it", got));
  }
  rc = messages.Receive(want, deliver_ms, &got);
  if (rc == -ECONNRESET) rc = messages.Receive(want, deliver_ms, &got);
  if (rc != kEnd) {
    return HeldFailure(index, calls,
                       absl::StrFormat("the message came, then a receive with the deliver bound "
                                       "gave %s, not END",
                                       Errno(rc)));
  }
  return "";
}

// The writer of one channel: message 0, then message 1 and its close once
// the reader is held (or asleep in a call the gate does not hold).
std::string SendAndClose(std::unique_ptr<End>& end, const Capabilities& c, SharedFlags& gap,
                         int deliver_ms) {
  gap.Counter(kWriterPid).store(static_cast<uint64_t>(::getpid()));
  std::string err = SendMessageOf(*end, c, 0, deliver_ms);
  if (!err.empty()) return absl::StrCat("message 0: ", err);
  const Deadline d = Deadline::After(absl::Milliseconds(4 * int64_t{deliver_ms}));
  if (!gap.WaitFor(kWarm, d)) return "";
  AwaitFlagOrPeerAsleep(gap, kHeld, kReaderTid, Deadline::After(absl::Milliseconds(deliver_ms)));
  err = SendMessageOf(*end, c, 1, deliver_ms);
  end.reset();
  gap.Raise(kClosed);
  return err.empty() ? "" : absl::StrCat("message 1: ", err);
}

class EofRaceProperty final : public CallWalkProperty {
 public:
  EofRaceProperty() : CallWalkProperty(kCalls) {}

 private:
  Applicability AppliesToCaps(const Capabilities& c) const override {
    if (!c.peer_close) return Needs(false, "peer_close=false (no END is owed)");
    if (!c.reliable) return Needs(false, "reliable=false (the last message may be lost)");
    if (c.model == ModelClass::kCounter) {
      return Needs(false, "model=counter (a sum, not a message, is owed)");
    }
    return CallGate::Applies();
  }
  std::string DescribeCall(int index) const override {
    return absl::StrFormat(
        "the writer sends its last message and closes while the reader's receive is held at the "
        "entry of its system call %d",
        index + 1);
  }
  // A channel per call: a close comes once to a channel.
  Verdict Walk(const Transport& t, const CaseEnv& env,
               const std::vector<int>& indices) const override {
    const Capabilities& c = t.caps();
    const int deliver = Waits::For(env).deliver_ms;
    for (int index : indices) {
      SharedFlags gap(3);
      // The reader first: the last actor runs in the case process, which
      // must not carry the gate.
      Actor reader{"reader", Role::kReader, [&](std::unique_ptr<End>& end) {
                     return ReadAcrossTheClose(*end, c, gap, index, deliver);
                   }};
      Actor writer{"writer", Role::kWriter,
                   [&](std::unique_ptr<End>& end) { return SendAndClose(end, c, gap, deliver); }};
      if (Verdict v = RunActors(t, env, {reader, writer}); !v.ok()) return v;
      if (gap.Counter(kReached).load() != 2) break;  // the walk ends
    }
    return Verdict::Pass();
  }
};
IPCSPEC_REGISTER_PROPERTY(EofRaceProperty, "G-EOF-RACE", {.examples = 1});

}  // namespace g_eof_race
}  // namespace
}  // namespace ipcspec::props::wakeup
