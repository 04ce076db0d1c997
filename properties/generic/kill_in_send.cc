#include "properties/generic/kill_in_send.h"

#include <unistd.h>

#include <algorithm>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "ipcspec/proc.h"
#include "properties/support/touch_trap.h"

namespace ipcspec::props {

std::string KillInSend::SendAll(End& end, const Endless& seq, uint64_t stop_at, uint64_t trap_at,
                                const Deadline& deadline,
                                const std::function<void(uint64_t)>& before_each) {
  flags_.Counter(kPid).store(static_cast<uint64_t>(::getpid()));
  for (uint64_t i = 0; i < stop_at; ++i) {
    if (before_each) before_each(i);
    const int rc = Send(end, seq.Bytes(i), i == trap_at, std::max(deadline.RemainingMs(), 1));
    if (rc != 0) return absl::StrCat("sending ", Name(seq.Nth(i)), ": ", Errno(rc));
    flags_.Counter(kSent).store(i + 1);
  }
  flags_.Raise(kDone);  // a kill no longer waits for a send
  return "";
}

int KillInSend::Send(End& end, std::span<const std::byte> data, bool trap_it, int timeout_ms) {
  std::unique_ptr<TouchTrap> trap;
  if (trap_it) {
    trap = TouchTrap::Arm(data, [this] {
      flags_.Raise(kTouched);
      flags_.Raise(kTrapDone);
    });
  }
  for (size_t done = 0; done < data.size() || (data.empty() && done == 0);) {
    size_t n = 0;
    flags_.Counter(kInSend).store(1, std::memory_order_relaxed);
    std::optional<SendBufferPassedThrough> direct;
    if (trap) direct.emplace();  // a plugin's send() reads the trapped bytes, not a copy
    const int rc = end.Send((trap ? trap->bytes() : data).subspan(done), &n, timeout_ms);
    flags_.Counter(kInSend).store(0, std::memory_order_relaxed);
    if (trap_it && done == 0) {
      trap.reset();  // read by the kernel only, or not at all
      flags_.Raise(kTrapDone);
    }
    if (rc != 0) return rc;
    done += n;
    flags_.Counter(kSentBytes).fetch_add(n);
    if (data.empty()) break;
  }
  return 0;
}

bool KillInSend::StoppedAtTheTouch(const Deadline& deadline) const {
  return TouchTrap::Available() && flags_.WaitFor(kTrapDone, deadline) && flags_.IsRaised(kTouched);
}

Verdict KillInSend::KillWhileItRuns(ActorControl& control, std::string_view name) const {
  const ProcessStateProbe writer(static_cast<pid_t>(flags_.Counter(kPid).load()));
  for (int tries = 0; tries < 5000 && writer.ok() && !flags_.IsRaised(kDone); ++tries) {
    if (flags_.Counter(kInSend).load() != 0 && writer.Now() == 'R') break;
  }
  return control.Kill(name);
}

uint64_t SurvivorSize(const Capabilities& c, uint64_t size) {
  if (c.max_message != 0 && c.max_message < 8) return c.max_message;
  size = std::max<uint64_t>(size, 8);
  return c.max_message != 0 ? std::min(size, c.max_message) : size;
}

uint64_t LapMessages(const Capabilities& c) {
  const uint64_t size = std::max<uint64_t>(SurvivorSize(c, 8), 1);
  const uint64_t held = c.max_queued > 0 ? c.max_queued : c.capacity > 0 ? c.capacity / size : 248;
  return std::min<uint64_t>(held + 8, 1024);
}

uint64_t LargestAfterLap(const Capabilities& c) {
  if (c.framing != Framing::kMessage || c.max_message == 0) return 0;
  if (c.capacity != 0 && c.max_message > c.capacity) return 0;
  return SurvivorSize(c, c.max_message);
}

}  // namespace ipcspec::props
