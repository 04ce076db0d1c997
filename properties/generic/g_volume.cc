// G-VOLUME: a long run of small messages through one channel.
//
// Every other property sends a few dozen messages, so a transport passes
// them all whatever happens later: a sequence number kept in 8 or 16 bits
// that wraps (message 256 or 65,536 taken for a duplicate of message 0, a
// slot index that overwrites), or a resource taken per message and never
// given back (a descriptor opened per send, a mapping per message), which
// fails only once the process runs out. Here one writer sends 66,000
// messages of 0-16 bytes (a byte stream: 1-16) and one reader checks them,
// so every count crosses 2^8 and 2^16. While they run, each actor's
// descriptor limit (RLIMIT_NOFILE) is 256 above what it holds once its end
// is open: a descriptor kept per message runs out within 256 messages,
// whatever the machine's own limit. (The kernel's limit on mappings per
// process, 65,530 by default, does the same for a mapping per message.)
// A descriptor kept per message whose EMFILE the transport swallows is
// found once the end is closed: the actor then holds more than 16
// descriptors beyond what it held with the end open.
// Memory taken per message and never freed (a queue node a receive
// forgets, a copy a send keeps) is found by each actor's heap: once its
// traffic is done and its end closed, it may hold at most one allocation
// per two messages more than when it had just opened the end. glibc's
// mallinfo2() counts bytes in use, and every allocation takes 32 or more,
// so that is 16 bytes per message; in a sanitized build (whose allocator
// glibc does not see) malloc and free hooks count the allocations.
//
// A count that wraps harms only what is in the channel as it wraps (a slot
// index from a 16-bit count that jumps at 65,536 overwrites unread slots; an
// empty ring is the same ring whatever its indices say): the reader stops
// 4 messages short of each crossing of 2^8 and 2^16 until the writer sleeps
// (blocked on the full channel) or is done, so that the messages then in
// the channel straddle it wherever the channel holds 5 or more.
//
// A POLLED transport with a bounded channel (capacity or max_queued) may
// wait up to a polling interval each time the writer has filled it, which
// nothing bounds but the hang grace: 66,000 messages through a 7-message
// queue polled every 20 ms take over three minutes. It gets 600 messages,
// which still cross 2^8 (the step says so).
//
// The oracle for each capability class (generic/oracle.h, as G-INTEGRITY):
//   reliable + ordered  exactly the sent sequence (a stream: the bytes)
//   ordered only        a subsequence (a stream: a prefix); lossy message
//                       transports end with end markers
//   unordered           the messages sent (reliable) or some of them, each
//                       whole and once
//   counter             the reads sum to the 66,000 adds
//   capacity            any: a full channel blocks the writer
//   peer-close          END after the last message; without, nothing more
//   duplex, realtime    change nothing: the writer's end speaks, no clock
#include <sys/resource.h>

#include <algorithm>

#include "absl/strings/str_format.h"
#include "ipcspec/inventory.h"
#include "ipcspec/proc.h"
#include "properties/generic/generic_property.h"
#include "properties/generic/traffic.h"

namespace ipcspec::props {
namespace {
namespace g_volume {

constexpr uint64_t kMessages = 66000, kPolledMessages = 600;
// Where the reader waits for the writer to fill the channel: short of
// each crossing by kAhead.
constexpr uint64_t kCrossings[] = {256, 65536}, kAhead = 4;
constexpr rlim_t kHeadroom = 256;

// Descriptors an actor may hold after the close of its end beyond what it
// held with the end open: a few opened on first use are no leak per message.
constexpr int64_t kDescriptorSlack = 16;

// Descriptors this process holds now.
rlim_t OpenDescriptors() {
  const ProcessHoldings h = TakeProcessHoldings();
  return static_cast<rlim_t>(std::count_if(h.entries.begin(), h.entries.end(), [](const auto& e) {
    return e.rfind("descriptor ", 0) == 0;
  }));
}

// For the life of the scope, this process may open kHeadroom descriptors
// more than it holds.
class DescriptorLimit {
 public:
  DescriptorLimit() {
    if (::getrlimit(RLIMIT_NOFILE, &old_) != 0) return;
    struct rlimit tight = old_;
    tight.rlim_cur = std::min(old_.rlim_cur, OpenDescriptors() + kHeadroom);
    set_ = ::setrlimit(RLIMIT_NOFILE, &tight) == 0;
    limit_ = tight.rlim_cur;
  }
  ~DescriptorLimit() {
    if (set_) ::setrlimit(RLIMIT_NOFILE, &old_);
  }
  DescriptorLimit(const DescriptorLimit&) = delete;
  DescriptorLimit& operator=(const DescriptorLimit&) = delete;

  // A failure; one for want of descriptors says what the limit was.
  std::string Verdict(const std::string& e) const {
    if (!set_ || (e.find("-EMFILE") == std::string::npos && e.find("-ENFILE") == std::string::npos))
      return e;
    return absl::StrFormat("%s (its descriptors were limited to %d, %d more than it held)", e,
                           limit_, kHeadroom);
  }

 private:
  struct rlimit old_ = {};
  bool set_ = false;
  rlim_t limit_ = 0;
};

// An actor's part: `traffic` on its end, then the end closed; "" or what
// went wrong, including allocations kept for its messages.
std::string WithinLimits(std::unique_ptr<End>& end, uint64_t messages,
                         const std::function<std::string(End&)>& traffic) {
  const int64_t before = HeapAllocations();
  const auto fds_before = static_cast<int64_t>(OpenDescriptors());
  {
    const DescriptorLimit limit;
    if (std::string e = limit.Verdict(traffic(*end)); !e.empty()) return e;
  }
  end.reset();
  // A descriptor kept per message or per wait, whose EMFILE the transport
  // swallowed: many more than a few opened on first use.
  if (const int64_t fds = static_cast<int64_t>(OpenDescriptors()) - fds_before;
      fds > kDescriptorSlack) {
    return absl::StrFormat(
        "after its %d messages and the close of its end, this process holds %d descriptors more "
        "than when it had opened the end: a descriptor taken per message (or per wait) and never "
        "closed",
        messages, fds);
  }
  const int64_t kept = HeapAllocations() - before;
  if (kept <= static_cast<int64_t>(messages / 2)) return "";
  return absl::StrFormat(
      "after its %d messages and the close of its end, this process holds about %d heap "
      "allocations more than when it had opened the end, %.2f per message (at most 0.5 "
      "allowed): memory taken per message and never freed",
      messages, kept, static_cast<double>(kept) / static_cast<double>(messages));
}

std::vector<Sent> Messages(const Capabilities& c, uint64_t n) {
  std::vector<Sent> sent;
  sent.reserve(n);
  for (uint64_t k = 0; k < n; ++k) {
    uint64_t size = c.framing == Framing::kStream ? 1 + k % 16 : k % 17;
    if (c.model == ModelClass::kCounter) size = 8;
    if (c.max_message != 0) size = std::min(size, c.max_message);
    sent.push_back({1, k, size});
  }
  return sent;
}

// The reader, short of each crossing: until the writer sleeps a while (on
// the full channel, or done and waiting for the others).
void PauseAtCrossings(Traffic& traffic, const ActorPids& pids, const Deadline& deadline) {
  traffic.BeforeEachReceive([&pids, &deadline, next = size_t{0}](uint64_t received) mutable {
    if (next >= std::size(kCrossings) || received != kCrossings[next] - kAhead) return;
    ++next;
    if (const pid_t pid = pids.Of(0, deadline); pid > 0) {
      (void)WaitUntilAsleep(pid, deadline, AsleepWatch{.looks = 3});
    }
  });
}

class VolumeProperty final : public GenericProperty {
  Applicability AppliesToCaps(const Capabilities& c) const override { return SummableIfCounter(c); }
  // Every example is the same scenario: one says all.
  bool OneScenario() const override { return true; }
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const Capabilities& c = t.caps();
    const bool polled_bounded = !c.realtime && (c.capacity > 0 || c.max_queued > 0);
    return rc::gen::just(
        std::vector<Step>{messages_.Step(polled_bounded ? kPolledMessages : kMessages)});
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const Capabilities& c = t.caps();
    const std::vector<Sent> sent = Messages(c, messages_.Of(s));
    Traffic traffic(c, env, {sent});
    ActorPids pids(1);
    const Deadline deadline = Deadline::After(env.deadline - absl::Now());
    Actor writer{"writer", Role::kWriter, [&](std::unique_ptr<End>& end) {
                   pids.Publish(0);
                   return WithinLimits(end, sent.size(),
                                       [&](End& e) { return traffic.Write(e, 0); });
                 }};
    Actor reader{"reader", Role::kReader, [&](std::unique_ptr<End>& end) {
                   if (c.framing == Framing::kMessage) PauseAtCrossings(traffic, pids, deadline);
                   return WithinLimits(end, sent.size(), [&](End& e) { return traffic.Read(e); });
                 }};
    return RunActors(t, env, {writer, reader});
  }

  const Param<uint64_t> messages_{this, 0, "%s messages", kMessages};
};
IPCSPEC_REGISTER_PROPERTY(VolumeProperty, "G-VOLUME", {.examples = 1});

}  // namespace g_volume
}  // namespace
}  // namespace ipcspec::props
