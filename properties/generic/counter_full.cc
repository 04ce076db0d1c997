// properties/generic/counter_full.cc: see counter_full.h.
#include "properties/generic/counter_full.h"

#include <unistd.h>

#include <cstring>

#include "absl/strings/str_format.h"
#include "ipcspec/proc.h"
#include "properties/support/common.h"

namespace ipcspec::props {
namespace {

constexpr uint64_t kMax = 0xfffffffffffffffe;
constexpr size_t kBlocking = 0;  // the flag: the writer adds with no bound; counter 0: its pid

// Adds `v`: the send's result.
int Add(End& end, uint64_t v, int timeout_ms) {
  size_t n = 0;
  return end.Send(std::as_bytes(std::span(&v, 1)), &n, timeout_ms);
}

std::string Write(End& end, uint64_t below, SharedFlags& flags, int deliver_ms) {
  struct Try {
    uint64_t value;
    int want;  // 0 or -EAGAIN
    const char* why;
  };
  const Try tries[] = {
      {kMax - below, 0, "an empty counter takes any value up to its maximum"},
      {below + 1, -EAGAIN, "it would pass the maximum 0xfffffffffffffffe by one"},
      {below, 0, "it lands exactly on the maximum 0xfffffffffffffffe"},
      {1, -EAGAIN, "the counter is at its maximum 0xfffffffffffffffe"},
      {0, 0, "an add of 0 succeeds at once, a full counter's too"},
  };
  uint64_t sum = 0;
  for (const Try& t : tries) {
    const int timeout_ms = &t == &tries[0] ? deliver_ms : 0;
    const int rc = Add(end, t.value, timeout_ms);
    if (rc != t.want) {
      return absl::StrFormat(
          "a counter holding %#x: an add of %#x (timeout %d ms) gave %s where %s was due: %s", sum,
          t.value, timeout_ms, Errno(rc), t.want == 0 ? "success" : Errno(t.want), t.why);
    }
    if (rc == 0) sum += t.value;
  }
  flags.Counter(0).store(static_cast<uint64_t>(::getpid()));
  flags.Raise(kBlocking);
  const int rc = Add(end, 1, -1);
  if (rc != 0) {
    return absl::StrFormat(
        "a blocking add (timeout -1) of 1 to the full counter gave %s: it waits for the room a "
        "receive makes",
        Errno(rc));
  }
  return "";
}

std::string Read(End& end, SharedFlags& flags, const Deadline& deadline, int deliver_ms) {
  // A writer that failed says why (its failure abandons the flag).
  if (!flags.WaitFor(kBlocking, deadline)) return "";
  WaitUntilAsleep(static_cast<pid_t>(flags.Counter(0).load()),
                  Deadline::After(absl::Milliseconds(deliver_ms)));
  for (const uint64_t want : {kMax, uint64_t{1}}) {
    uint64_t got = 0;
    size_t n = 0;
    const int rc = end.Recv(std::as_writable_bytes(std::span(&got, 1)), &n, deliver_ms);
    if (rc != 0 || n != sizeof got || got != want) {
      return absl::StrFormat(
          "receiving from the counter %s: %s with %d bytes, value %#x, where %#x was due",
          want == kMax ? "filled to its maximum" : "after the waiting add of 1", Errno(rc), n, got,
          want);
    }
  }
  return "";
}

}  // namespace

Verdict RunCounterFull(const Transport& t, const CaseEnv& env, uint64_t below) {
  SharedFlags flags(1);
  const Deadline deadline = Deadline::After(env.deadline - absl::Now());
  const int deliver_ms = Waits::For(env).deliver_ms;
  Actor writer{"writer", Role::kWriter,
               [&](std::unique_ptr<End>& end) { return Write(*end, below, flags, deliver_ms); }};
  Actor reader{"reader", Role::kReader,
               [&](std::unique_ptr<End>& end) { return Read(*end, flags, deadline, deliver_ms); }};
  return RunActors(t, env, {writer, reader});
}

}  // namespace ipcspec::props
