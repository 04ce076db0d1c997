#include "properties/generic/unbounded.h"

#include <unistd.h>

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ipcspec/proc.h"

namespace ipcspec::props::unbounded {
namespace {

// The writer's unbounded send: once the reader is ready, fills the channel
// with sends of timeout 0 until -EAGAIN, then sends `msg` with timeout -1,
// which must return only once the reader has begun to make room.
std::string SendUnbounded(End& end, const Capabilities& c, SharedFlags& flags,
                          const Deadline& deadline) {
  if (!flags.WaitFor(kFillNext, deadline)) return "";  // the reader failed first
  const std::vector<std::byte> msg = FillerMessage(c);
  int rc = FillWithoutWaiting(end, c, msg);
  if (rc != -EAGAIN) {
    flags.Raise(kFilled);  // not full: counter kWriterPid stays 0, and the reader goes on
    return rc == 0 ? "" : absl::StrCat("filling the channel with sends of timeout 0: ", Errno(rc));
  }
  flags.Counter(kWriterPid).store(static_cast<uint64_t>(::getpid()));
  flags.Raise(kFilled);
  const absl::Time start = absl::Now();
  size_t n = 0;
  rc = end.Send(msg, &n, -1);
  const bool room = flags.IsRaised(kRoomMade);
  flags.Raise(kSendReturned);
  const std::string took = absl::StrCat(
      "after ", absl::FormatDuration(absl::Trunc(absl::Now() - start, absl::Milliseconds(1))));
  constexpr std::string_view kWhat = "an unbounded send (timeout -1) into the full channel";
  if (!room) {
    return absl::StrFormat(
        "%s returned %s %s, before the reader made room (it does once the writer has slept in "
        "the call for some time units): -1 waits as long as it takes",
        kWhat, rc == 0 ? absl::StrFormat("%d bytes taken", n) : Errno(rc), took);
  }
  if (rc != 0) return absl::StrFormat("%s gave %s %s", kWhat, Errno(rc), took);
  if (n == 0 && !msg.empty()) return absl::StrFormat("%s took 0 bytes", kWhat);
  return "";
}

// The writer's part of it: once the reader sleeps in its call, `units` more,
// then the message (on a lossy transport again once a unit, until it came).
std::string SendToTheSleeper(End& end, std::span<const std::byte> msg, const Capabilities& c,
                             absl::Duration unit, uint64_t units, SharedFlags& flags,
                             const Deadline& deadline) {
  if (!flags.WaitFor(kUnboundedNext, deadline)) return "the reader never finished";
  const auto pid = static_cast<pid_t>(flags.Counter(kReaderPid).load());
  if (pid == 0) return "";  // it failed before
  if (!WaitUntilAsleep(pid, deadline)) return "the reader never slept in its unbounded receive";
  // The property is about time: the call must outlast this.
  absl::SleepFor(unit * static_cast<int64_t>(units));
  flags.Raise(kUnboundedSent);
  do {
    size_t n = 0;
    const int rc = end.Send(msg, &n, std::max(deadline.RemainingMs(), 1));
    if (rc != 0 && c.reliable) {
      return absl::StrCat("sending to the reader asleep in its unbounded receive: ", Errno(rc));
    }
  } while (!c.reliable && !flags.WaitFor(kUnboundedGot, Deadline::After(unit)) &&
           !deadline.Passed());
  return "";
}

}  // namespace

std::vector<std::byte> FillerMessage(const Capabilities& c) {
  // A size an empty channel takes whole (min(capacity, max_message)), so
  // that room made lets the last send through; zero-length messages where
  // only their count is bounded.
  uint64_t size = c.capacity == 0 ? 0 : std::min<uint64_t>(c.capacity, 4096);
  if (c.max_message != 0) size = std::min(size, c.max_message);
  return std::vector<std::byte>(size, kByte);
}

std::vector<std::byte> SleeperMessage(const Capabilities& c) {
  const uint64_t size = c.model == ModelClass::kCounter ? 8
                        : c.max_message != 0            ? std::min<uint64_t>(c.max_message, 16)
                                                        : 16;
  return std::vector<std::byte>(size, kByte);
}

// The step of `s` of the unbounded receive (kUnboundedActor) or send, or null.
const Step* UnboundedStep(const Scenario& s, uint32_t actor) {
  for (const Step& st : s.steps) {
    if (st.op == Op::kWait && st.actor == actor) return &st;
  }
  return nullptr;
}

// The reader's part of it: once the writer sleeps in its send, `units`
// more, then it drains the channel until the send has returned and nothing
// is left.
std::string MakeRoomLate(End& end, std::span<std::byte> buf, absl::Duration unit, uint64_t units,
                         const Waits& waits, SharedFlags& flags, const Deadline& deadline) {
  flags.Raise(kFillNext);
  if (!flags.WaitFor(kFilled, deadline)) return "the writer never filled the channel";
  const auto pid = static_cast<pid_t>(flags.Counter(kWriterPid).load());
  if (pid == 0) return "";  // never full, or it failed
  // A call that never sleeps in the kernel is held all the same.
  WaitUntilAsleep(pid, Deadline::FromTimeoutMs(waits.deliver_ms));
  // The property is about time: the call must outlast this.
  absl::SleepFor(unit * static_cast<int64_t>(units));
  flags.Raise(kRoomMade);
  for (;;) {
    const bool returned = flags.IsRaised(kSendReturned);
    size_t n = 0;
    const int rc = end.Recv(buf, &n, returned ? 0 : waits.quiet_ms);
    if (rc == 0) continue;
    if (rc == -EAGAIN && returned) return "";
    if (rc == -ETIMEDOUT || rc == -EAGAIN) {
      if (!returned && !flags.WaitFor(kSendReturned, Deadline::FromTimeoutMs(waits.deliver_ms))) {
        return "";  // the writer's send never returned: its verdict, or the watchdog's
      }
      continue;
    }
    return absl::StrCat("making room for the unbounded send: receive gave ", Errno(rc));
  }
}

// The reader's unbounded receive: "" or what went wrong. `skip`: an earlier
// receive failed; the writer is told not to wait for this one.
std::string ReceiveUnbounded(End& end, std::span<std::byte> buf, const Capabilities& c,
                             uint64_t units, bool skip, SharedFlags& flags) {
  flags.Counter(kReaderPid).store(skip ? 0 : static_cast<uint64_t>(::getpid()));
  flags.Raise(kUnboundedNext);
  if (skip) return "";
  const absl::Time start = absl::Now();
  size_t n = 0;
  const int rc = end.Recv(buf, &n, -1);
  const absl::Duration elapsed = absl::Trunc(absl::Now() - start, absl::Milliseconds(1));
  const std::string took = elapsed == absl::ZeroDuration()
                               ? "at once"
                               : absl::StrCat("after ", absl::FormatDuration(elapsed));
  const bool sent = flags.IsRaised(kUnboundedSent);
  flags.Raise(kUnboundedGot);
  constexpr std::string_view kWhat = "an unbounded receive (timeout -1) on the empty channel";
  if (!sent) {
    return absl::StrFormat(
        "%s returned %s %s, before anything was sent (the writer sends once it has slept "
        "%d time units in it): -1 waits as long as it takes",
        kWhat, rc == 0 ? absl::StrFormat("%d bytes", n) : Errno(rc), took, units);
  }
  if (rc != 0) return absl::StrFormat("%s gave %s %s", kWhat, Errno(rc), took);
  const bool counter = c.model == ModelClass::kCounter;
  for (size_t i = 0; i < n && !counter; ++i) {
    if (buf[i] != kByte) return absl::StrFormat("%s returned bytes never sent", kWhat);
  }
  return n == 0 ? absl::StrFormat("%s returned 0 bytes", kWhat) : "";
}

// The step of an unbounded call, said.
std::string DescribeUnbounded(const Step& s) {
  if (s.actor == kUnboundedSendActor) {
    return absl::StrFormat(
        "the writer fills the channel, then sends with no bound (timeout -1); the reader makes "
        "room once the writer has slept %d time units in it",
        s.size);
  }
  return absl::StrFormat(
      "the reader receives with no bound (timeout -1) on the empty channel; the writer sends "
      "once it has slept %d time units in it",
      s.size);
}

// The writer's part of the unbounded calls the scenario has (`receive`,
// `send`: their steps, or null).
std::string WriteUnbounded(End& end, std::span<const std::byte> msg, const Capabilities& c,
                           absl::Duration unit, const Step* receive, const Step* send,
                           SharedFlags& flags, const Deadline& deadline) {
  if (receive != nullptr) {
    std::string e = SendToTheSleeper(end, msg, c, unit, receive->size, flags, deadline);
    if (!e.empty()) return e;
  }
  return send != nullptr ? SendUnbounded(end, c, flags, deadline) : "";
}

}  // namespace ipcspec::props::unbounded
