// G-WRITER-STALL: a writer that stalls inside a send, alive, while another
// writer sends, and then goes on, loses nothing and duplicates nothing.
//
// G-WRITER-CRASH kills a writer inside a send, and a transport that takes
// over what the dead writer held (a lock, a reserved slot) passes it. The
// same takeover on a writer that is only slow breaks the channel: a
// preempted writer, or one whose message page has to come back from swap,
// holds its lock for as long as the machine makes it, and a peer that
// judges it dead by the time it held the lock (rather than by its death: a
// robust mutex's EOWNERDEAD, a pidfd) enters the critical section beside
// it. Both then use what the section guards (a slot, a sequence number, a
// tail), and when the slow one goes on it overwrites, or is taken for a
// duplicate of, what the other sent. No test in which writers are only
// ever fast or dead sees it.
//
// Here writer 1 sends message 0, then message 1, whose bytes are trapped
// (touch_trap.h): the transport's own code's first read of them (inside its
// copy, where a lock is held or a slot reserved) stops writer 1 there.
// Writer 2 then sends its 8 messages. The case process lets writer 1 go on
// after the stall (2, 8 or 32 time units), or once writer 2 is done if that
// comes first; writer 1 then sends message 2. A transport whose code never
// reads the bytes in user space (a write(2) copies them in the kernel) is
// never stopped, and the example is plain traffic.
//
// The oracle for each capability class (oracle.h, as G-MULTI-WRITER's):
//   reliable     every message of both writers arrives, whole and once;
//                writer 2's sends may wait for writer 1 (its lock), each
//                within the deliver bound, which the stall is shorter than
//   lossy        a subsequence: lost is allowed, torn or twice is not
//   ordered      each writer's messages in its own order
//   peer-close   END once both have closed
//   byte stream, counter, single writer   does not apply: a stream's
//                writes may interleave past atomic_write, a sum keeps no
//                writer's share apart, and one writer has no peer to stall
//   duplex, capacity, realtime   change nothing: the writers' ends speak,
//                the messages are few and small, and the stall's length is
//                the property's only clock
//
// The trap needs userfaultfd (root, or vm.unprivileged_userfaultfd): without
// it the property does not apply.
#include <algorithm>
#include <memory>
#include <optional>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/generic/generic_property.h"
#include "properties/generic/traffic.h"
#include "properties/support/common.h"
#include "properties/support/touch_trap.h"

namespace ipcspec::props {
namespace {
namespace g_writer_stall {

constexpr uint64_t kWriter1Messages = 3, kWriter2Messages = 8;
// Flags: writer 1 is stopped at the touch, or its trapped send is over
// (stopped or not); it was stopped; the case lets it go on; writer 2 is
// done.
constexpr size_t kGo = 0, kStalled = 1, kRelease = 2, kWriter2Done = 3;

constexpr std::string_view kStalls[] = {"2 time units", "8 time units", "32 time units"};
constexpr int kStallUnits[] = {2, 8, 32};

uint64_t MessageSize(const Capabilities& c) {
  return c.max_message == 0 ? 64 : std::min<uint64_t>(64, c.max_message);
}

// Writer 1's message 1, its bytes trapped; "" or the failure. A thread of
// its own lets the stopped send go on once the case process says so.
std::string SendStalled(End& end, const Sent& m, SharedFlags& flags, const Deadline& deadline,
                        int deliver_ms) {
  const std::vector<std::byte> data = Payload(m.writer, m.msg, m.size);
  std::unique_ptr<TouchTrap> trap = TouchTrap::Arm(data, [&flags] {
    flags.Raise(kStalled);
    flags.Raise(kGo);
  });
  std::thread releaser;
  if (trap) {
    releaser = std::thread([&] {
      (void)flags.WaitFor(kRelease, deadline, false);
      trap->Release();
    });
  }
  int rc = 0;
  for (size_t done = 0; done < data.size() && rc == 0;) {
    size_t n = 0;
    std::optional<SendBufferPassedThrough> direct;
    if (trap) direct.emplace();  // a plugin's send() reads the trapped bytes, not a copy
    rc = end.Send((trap ? trap->bytes() : std::span<const std::byte>(data)).subspan(done), &n,
                  deliver_ms);
    done += n;
  }
  flags.Raise(kGo);
  flags.Raise(kRelease);  // ends the releaser where no touch stopped the send
  if (releaser.joinable()) releaser.join();
  return rc == 0 ? "" : absl::StrFormat("sending %s, stalled inside: %s", Name(m), Errno(rc));
}

class WriterStallProperty final : public GenericProperty {
  Applicability AppliesToCaps(const Capabilities& c) const override {
    if (!c.multi_writer) return Needs(false, "multi_writer=false (no writer beside the stalled)");
    if (c.framing != Framing::kMessage) {
      return Needs(false, "framing=stream (writes past atomic_write may interleave)");
    }
    if (c.model == ModelClass::kCounter) return Needs(false, "model=counter (a sum)");
    return Needs(TouchTrap::Available(), "no userfaultfd here (the stall's trap needs it)");
  }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::map(EachInTurn(std::size(kStalls)),
                        [this](uint64_t i) { return std::vector<Step>{stall_.Step(i)}; });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const Capabilities& c = t.caps();
    const uint64_t size = MessageSize(c);
    std::vector<Sent> first, second;
    for (uint64_t k = 0; k < kWriter1Messages; ++k) first.push_back({1, k, size});
    for (uint64_t k = 0; k < kWriter2Messages; ++k) second.push_back({2, k, size});
    Traffic traffic(c, env, {first, second});
    SharedFlags flags(4);
    const Deadline deadline = Deadline::After(env.deadline - absl::Now());
    const int deliver = traffic.waits().deliver_ms;
    const absl::Duration stall =
        env.time_unit * kStallUnits[std::min<uint64_t>(stall_.Of(s), std::size(kStalls) - 1)];
    Actor writer1{"writer 1", Role::kWriter, [&](std::unique_ptr<End>& end) -> std::string {
                    // On every path: writer 2 and the case process go on.
                    absl::Cleanup go = [&] { flags.Raise(kGo); };
                    std::string e = traffic.SendOne(*end, 0, 0);
                    if (e.empty()) e = SendStalled(*end, first[1], flags, deadline, deliver);
                    if (e.empty()) e = traffic.SendOne(*end, 0, 2);
                    if (e.empty() && traffic.markers()) e = traffic.SendMarkers(*end, 0);
                    traffic.Finished(0);
                    return e;
                  }};
    Actor writer2{"writer 2", Role::kWriter, [&](std::unique_ptr<End>& end) -> std::string {
                    // Once writer 1 is stopped inside its send (or went through).
                    if (!flags.WaitFor(kGo, deadline)) return "writer 1 never sent its message 1";
                    std::string e = traffic.Write(*end, 1);
                    flags.Raise(kWriter2Done);
                    return e;
                  }};
    Actor reader{"reader", Role::kReader,
                 [&](std::unique_ptr<End>& end) { return traffic.Read(*end); }};
    auto during = [&](ActorControl&) {
      // The stall: until it has lasted, or writer 2 is done (nothing more
      // can happen beside it); then writer 1 goes on.
      if (flags.WaitFor(kGo, deadline) && flags.IsRaised(kStalled)) {
        (void)flags.WaitFor(kWriter2Done, Deadline::After(stall));
      }
      flags.Raise(kRelease);
      return Verdict::Pass();
    };
    return RunActors(t, env, {writer1, writer2, reader}, during);
  }

  const ChoiceParam<uint64_t> stall_{this, 0, "writer 1 stalls inside its send for %s", 0, kStalls};
};
IPCSPEC_REGISTER_PROPERTY(WriterStallProperty, "G-WRITER-STALL", {.examples = 3});

}  // namespace g_writer_stall
}  // namespace
}  // namespace ipcspec::props
