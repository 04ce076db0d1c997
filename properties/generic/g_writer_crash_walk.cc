// G-WRITER-CRASH-WALK: a writer killed between any two system calls of a
// send leaves the channel whole for the writer that is left: its sends
// complete, even one of max_message after a lap of the channel, they all
// arrive, and END comes after its close.
//
// A send that reserves room (a count of bytes or slots in shared memory),
// takes a lock or marks a cell, then makes the system call that moves the
// message, leaves what it took behind if it dies in between. G-WRITER-CRASH
// kills its writer where the transport's own code first reads the message,
// or at a moment it runs inside a send; a send that makes no user-space copy
// and keeps its window between two system calls a few microseconds wide is
// there by chance only.
//
// This property puts the death there. On a channel of its own per step,
// writer 1 sends message 0 (which the reader takes), then sends message 1
// under a call gate (support/call_gate.h) that holds it at the entry of its
// system call i, and the case process SIGKILLs it there. Then writer 2 sends
// a lap of 8-byte messages (as many as the channel holds, and 8 more) and
// one of max_message, each within the deliver bound, and closes. The steps
// walk i = 0, 1, 2, ...: every gap between two system calls of the send.
// The walk ends at the first i the send never reaches.
//
// The oracle for each capability class:
//   peer-close, a death    writer 2's sends each complete within the
//   counts as a close,     deliver bound (one that times out waits for what
//   reliable, messages     the dead writer held: a lock, room it reserved,
//                          a cell); the reader gets writer 1's message 0,
//                          then every one of writer 2's, whole and once (in
//                          order where ordered), writer 1's message 1 whole
//                          at most once among them, then END within the
//                          deliver bound (one -ECONNRESET may come first)
//   CLOSE_ONLY, no peer-   does not apply: nothing is promised after a death
//   close, or lossy        (G-WRITER-CRASH)
//   byte stream            does not apply: a death may cut a write, and the
//                          writes can then not be told apart (G-WRITER-CRASH
//                          counts the bytes)
//   counter                does not apply: a sum keeps no writer's share
//   max_message under 8    does not apply: writer 2's messages could not be
//                          told from writer 1's
//   duplex, capacity,      change nothing: the lap and the largest message
//   realtime               follow the declared capacity and max_message
//
// It needs seccomp user notification with WAIT_KILLABLE_RECV (Linux 5.19):
// without it the property does not apply.
#include <unistd.h>

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ipcspec/proc.h"
#include "properties/generic/generic_property.h"
#include "properties/generic/kill_in_send.h"
#include "properties/generic/wakeup.h"
#include "properties/support/call_gate.h"
#include "properties/support/common.h"

namespace ipcspec::props::wakeup {
namespace {
namespace g_writer_crash_walk {

constexpr int kCalls = 16;  // the system calls of one send walked

// One channel's shared state. Flags: the reader took message 0; writer 1
// is held at its call, or its send returned unheld; the case killed it (or
// had nothing to kill). Counters: whether the send reached the call to hold
// (1 no, 2 yes), the number of the system call held.
constexpr size_t kWarm = 0, kGo = 1, kKilled = 2;
constexpr size_t kReached = 0, kHeldNr = 1;

// Writer 1's messages: 8 bytes (max_message is 8 or more, or none).
Sent VictimMessage(uint64_t msg) { return {1, msg, 8}; }

// The messages writer 2 sends once writer 1 is dead: a lap, then the
// largest.
std::vector<Sent> SurvivorMessages(const Capabilities& c) {
  std::vector<Sent> out;
  for (uint64_t k = 0, n = LapMessages(c); k < n; ++k) {
    out.push_back({2, k, SurvivorSize(c, 8)});
  }
  if (const uint64_t largest = LargestAfterLap(c); largest > 0) {
    out.push_back({2, out.size(), largest});
  }
  return out;
}

// Writer 1: message 0, then message 1 with its system call `index` held
// until the case process kills it there. "" or the failure.
std::string SendUntilHeld(End& end, const Capabilities& c, SharedFlags& gap, int index,
                          int deliver_ms) {
  std::string err = SendAll(end, VictimMessage(0), c.framing, deliver_ms);
  if (!err.empty()) {
    gap.Raise(kGo);
    return absl::StrCat("message 0: ", err);
  }
  const Deadline d = Deadline::After(absl::Milliseconds(4 * int64_t{deliver_ms}));
  if (!gap.WaitFor(kWarm, d)) return "";
  std::unique_ptr<CallGate> gate = CallGate::Install();
  if (gate == nullptr) {
    gap.Raise(kGo);
    return CallGate::NotInstalled("writer 1");
  }
  gate->Arm(index, [&](long nr) {
    gap.Counter(kHeldNr).store(static_cast<uint64_t>(nr));
    gap.Counter(kReached).store(2);
    gap.Raise(kGo);
    (void)gap.WaitFor(kKilled, d, false);  // the kill comes first
  });
  err = SendAll(end, VictimMessage(1), c.framing, deliver_ms);
  const CallGate::Calls calls = gate->Disarm();
  if (!calls.held) gap.Counter(kReached).store(1);
  gap.Raise(kGo);
  return err.empty() ? "" : absl::StrCat("message 1: ", err);
}

// Writer 2, once writer 1 is dead: the lap and the largest message.
std::string SendAfterTheKill(End& end, const Capabilities& c, SharedFlags& gap, int index,
                             const std::vector<Sent>& msgs, int deliver_ms) {
  const Deadline d = Deadline::After(absl::Milliseconds(4 * int64_t{deliver_ms}));
  if (!gap.WaitFor(kKilled, d)) return "";
  for (const Sent& m : msgs) {
    if (std::string err = SendAll(end, m, c.framing, deliver_ms); !err.empty()) {
      return absl::StrFormat(
          "after writer 1 was killed at the entry of system call %d (%s) of its send: %s: a "
          "send of the writer left waits for what the dead one held (a lock, room it reserved, "
          "a cell it claimed)",
          index + 1, SyscallName(static_cast<long>(gap.Counter(kHeldNr).load())), err);
    }
  }
  return "";
}

// The reader's view of one channel.
class Reader {
 public:
  Reader(End& end, const Capabilities& c, const std::vector<Sent>& survivor, int deliver_ms)
      : end_(end),
        c_(c),
        survivor_(survivor),
        seen_(survivor.size(), false),
        deliver_ms_(deliver_ms),
        buf_(RecvBufferSize(c)) {}

  // Message 0 of writer 1, then everything else and END. "" or the failure.
  std::string Run(SharedFlags& gap) {
    size_t n = 0;
    const int rc = end_.Recv(buf_, &n, deliver_ms_);
    gap.Raise(kWarm);
    if (rc != 0 || !IsPayload(std::span(buf_).first(n), VictimMessage(0))) {
      return absl::StrFormat("writer 1's message 0 gave %s (%d bytes)", Errno(rc), n);
    }
    for (bool reset = false;;) {
      const int r = end_.Recv(buf_, &n, deliver_ms_);
      if (r == -ECONNRESET && !reset) {
        reset = true;
        continue;
      }
      if (r == kEnd) return Missing();
      if (r != 0) {
        return absl::StrFormat(
            "a receive with the deliver bound gave %s after %d of writer 2's "
            "%d messages",
            Errno(r), next_, survivor_.size());
      }
      if (std::string err = Take(std::span(buf_).first(n)); !err.empty()) return err;
    }
  }

 private:
  std::string Take(std::span<const std::byte> got) {
    if (IsPayload(got, VictimMessage(1))) {
      if (victim_seen_) return "writer 1's message 1 (its send killed) came twice";
      victim_seen_ = true;
      return "";
    }
    std::optional<Sent> m;
    if (next_ < survivor_.size() && IsPayload(got, survivor_[next_])) m = survivor_[next_];
    if (!m) m = Identify(got, survivor_);
    if (!m || m->writer != 2 || !IsPayload(got, *m)) {
      return absl::StrFormat("a %d-byte message that no writer sent (corrupt, torn or merged)",
                             got.size());
    }
    if (seen_[m->msg]) return absl::StrCat(Name(*m), " came twice");
    if (c_.ordered && m->msg != next_) {
      return absl::StrFormat("%s came where message %d of writer 2 was due", Name(*m), next_);
    }
    seen_[m->msg] = true;
    next_ = m->msg + 1;
    return "";
  }
  std::string Missing() const {
    for (size_t k = 0; k < seen_.size(); ++k) {
      if (!seen_[k]) return absl::StrCat("END came, but ", Name(survivor_[k]), " never did");
    }
    return "";
  }

  End& end_;
  const Capabilities& c_;
  const std::vector<Sent>& survivor_;
  std::vector<bool> seen_;
  size_t next_ = 0;
  bool victim_seen_ = false;
  int deliver_ms_;
  std::vector<std::byte> buf_;
};

class WriterCrashWalkProperty final : public CallWalkProperty {
 public:
  WriterCrashWalkProperty() : CallWalkProperty(kCalls) {}

 private:
  Applicability AppliesToCaps(const Capabilities& c) const override {
    if (!c.multi_writer) return Needs(false, "multi_writer=false (no writer beside the killed)");
    if (!c.peer_close || !c.end_on_death) {
      return Needs(false, "no peer_close, or CLOSE_ONLY (a death is not promised to be survived)");
    }
    if (!c.reliable) return Needs(false, "reliable=false (what the writer left sends may be lost)");
    if (c.framing != Framing::kMessage) {
      return Needs(false, "framing=stream (a death may cut a write)");
    }
    if (c.model == ModelClass::kCounter) return Needs(false, "model=counter (a sum)");
    if (c.max_message != 0 && c.max_message < 8) {
      return Needs(false, "max_message under 8 (the writers' messages look alike)");
    }
    return CallGate::Applies();
  }
  std::string DescribeCall(int index) const override {
    return absl::StrFormat(
        "writer 1 is killed at the entry of system call %d of a send; then writer 2 sends a lap "
        "of the channel and one message of max_message",
        index + 1);
  }
  Verdict Walk(const Transport& t, const CaseEnv& env,
               const std::vector<int>& indices) const override {
    const Capabilities& c = t.caps();
    const int deliver = Waits::For(env).deliver_ms;
    const std::vector<Sent> survivor = SurvivorMessages(c);
    for (int index : indices) {
      SharedFlags gap(3);
      Actor writer1{"writer 1", Role::kWriter, [&](std::unique_ptr<End>& end) {
                      return SendUntilHeld(*end, c, gap, index, deliver);
                    }};
      Actor writer2{"writer 2", Role::kWriter, [&](std::unique_ptr<End>& end) {
                      return SendAfterTheKill(*end, c, gap, index, survivor, deliver);
                    }};
      Actor reader{"reader", Role::kReader, [&](std::unique_ptr<End>& end) {
                     return Reader(*end, c, survivor, deliver).Run(gap);
                   }};
      auto kill = [&](ActorControl& control) {
        const Deadline d = Deadline::After(absl::Milliseconds(8 * int64_t{deliver}));
        Verdict v;
        if (gap.WaitFor(kGo, d) && gap.Counter(kReached).load() == 2) v = control.Kill("writer 1");
        gap.Raise(kKilled);
        return v;
      };
      if (Verdict v = RunActors(t, env, {writer1, writer2, reader}, kill); !v.ok()) return v;
      if (gap.Counter(kReached).load() != 2) break;  // the walk ends
    }
    return Verdict::Pass();
  }
};
IPCSPEC_REGISTER_PROPERTY(WriterCrashWalkProperty, "G-WRITER-CRASH-WALK", {.examples = 1});

}  // namespace g_writer_crash_walk
}  // namespace
}  // namespace ipcspec::props::wakeup
