// G-TIMEOUT-RANGE: a bounded call honours every timeout an int can hold.
// The ABI's timeout_ms is any positive int, and a transport turns it into
// what its kernel call takes: a relative or absolute timespec, nanoseconds,
// microseconds, a poll() count. Each of those conversions has a range, and a
// timeout outside it comes out wrong: 4,295 ms is 32 us in an unsigned
// 32-bit count of nanoseconds, 2,148 ms is negative in a signed one, and an
// absolute deadline of now + 999 ms without a carry into tv_sec is EINVAL.
// Such a call fails at once or times out early, but only for those values,
// which G-TIMEOUT's few time units never reach.
//
// Each round is one bounded call that must sleep until its event: the
// sleeper calls with a timeout from the list below, the other side waits
// until it is asleep in a system call, keeps it waiting a few milliseconds
// more (longer than any of those wrapped timeouts), notes the time and
// makes the call completable. A call that returns an error before that
// moment was cut short. The property is about time: its only clock wait
// is that hold, and the sleepers' timeouts are never waited out (a call
// that ignores its event is G-WAKEUP's, and the watchdog's, business).
//
// The oracle for each capability class; the rounds:
//   every class         a receive on the empty channel, woken by a message
//                       (counter: an add); with every timeout below
//   capacity or         also a send into the full channel, woken by the
//   max_queued,         reader's drain; with every timeout below
//   not counter
//   reliable            any error is a failure; lossy: only an early one
//                       (the writer sends again until the receive returns,
//                       however many are lost: at once while the channel
//                       takes copies, then each time unit)
//   polled, realtime,   change nothing: no call is judged on how late it
//   framing, duplex,    returns, only on whether it returned before its
//   peer-close          event; nobody closes before the last round
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "absl/strings/str_format.h"
#include "ipcspec/proc.h"
#include "properties/generic/generic_property.h"
#include "properties/support/common.h"

namespace ipcspec::props {
namespace {
namespace g_timeout_range {

enum Mode : uint32_t { kReceive = 0, kSend = 1 };

// The timeouts, each the first past one conversion's range, and what goes
// wrong there.
struct HardTimeout {
  int ms;
  std::string_view breaks;
};
constexpr HardTimeout kTimeouts[] = {
    {999,
     "under a second: whole seconds make it 0, and now + 999 ms as a timespec needs a carry "
     "into tv_sec (tv_nsec past 999,999,999 is EINVAL)"},
    {1999, "a second and 999 ms: the same carry, with whole seconds besides"},
    {2148, "past 2^31 ns: negative as a signed 32-bit count of nanoseconds"},
    {4295, "past 2^32 ns: 32 us as an unsigned 32-bit count of nanoseconds"},
    {65536, "2^16 ms: 0 as a 16-bit count of milliseconds"},
    {2147484, "past 2^31 us: negative as a signed 32-bit count of microseconds"},
    {4294968, "past 2^32 us: 0.7 ms as an unsigned 32-bit count of microseconds"},
    {INT_MAX, "the largest int: now + timeout overflows 32-bit milliseconds"},
};
constexpr size_t kMaxRounds = 64;
// A lossy channel's writer sends this many copies at once before it waits.
constexpr uint64_t kBurst = 1024;

std::string_view WhatBreaks(int ms) {
  for (const HardTimeout& h : kTimeouts) {
    if (h.ms == ms) return h.breaks;
  }
  return "a timeout the transport's arithmetic does not hold";
}

// The two sides of round r share four flags (4r: the sleeper is about to
// call, 4r+1: its call returned, 4r+2: the waker acted, 4r+3: the sleeper
// judged) and three counters.
class Rounds {
 public:
  explicit Rounds(const CaseEnv& env)
      : flags_(4 * kMaxRounds + 4),
        deadline_(Deadline::After(env.deadline - absl::Now())),
        unit_(std::max(env.time_unit, absl::Milliseconds(1))),
        // Longer than any wrapped timeout of the list (0.7 ms at most).
        hold_(std::max(absl::Milliseconds(3), unit_ / 3)) {}

  // The sleeper: round r begins (skip: it has no call to make).
  void Go(size_t r, bool skip) {
    flags_.Counter(kPid).store(static_cast<uint64_t>(::getpid()));
    flags_.Counter(kSkip).store(skip ? 1 : 0);
    flags_.Raise(4 * r);
  }
  // The sleeper: its call returned; then when the waker acted, in ns
  // (-1: never).
  int64_t Returned(size_t r) {
    flags_.Raise(4 * r + 1);
    if (!flags_.WaitFor(4 * r + 2, deadline_)) return -1;
    return static_cast<int64_t>(flags_.Counter(kActedNs).load());
  }
  void Judged(size_t r) { flags_.Raise(4 * r + 3); }

  // The waker: false if round r never began; *skip if it has no call.
  bool AwaitSleeper(size_t r, bool* skip) {
    if (!flags_.WaitFor(4 * r, deadline_)) return false;
    *skip = flags_.Counter(kSkip).load() != 0;
    if (*skip) return true;
    const auto pid = static_cast<pid_t>(flags_.Counter(kPid).load());
    WaitUntilAsleep(pid, Deadline::After(4 * unit_));
    // The hold: a call whose timeout came out as a few microseconds returns
    // within it.
    flags_.WaitFor(4 * r + 1, Deadline::After(hold_));
    return true;
  }
  // The waker: about to act; then, acted.
  void Acting() { flags_.Counter(kActedNs).store(static_cast<uint64_t>(MonotonicNs())); }
  void Acted(size_t r) { flags_.Raise(4 * r + 2); }
  bool HasReturned(size_t r, absl::Duration within) const {
    return flags_.WaitFor(4 * r + 1, Deadline::After(within));
  }
  bool AwaitJudged(size_t r) const { return flags_.WaitFor(4 * r + 3, deadline_); }
  absl::Duration unit() const { return unit_; }

  // Either side, having failed: the other stops at the end of its round,
  // whatever flag it waits for.
  void Abort() {
    flags_.Counter(kStop).store(1);
    for (size_t i = 0; i < 4 * kMaxRounds; ++i) flags_.Raise(i);
  }
  bool Stopped() const { return flags_.Counter(kStop).load() != 0; }

 private:
  static constexpr size_t kPid = 0, kSkip = 1, kActedNs = 2, kStop = 3;
  SharedFlags flags_;
  Deadline deadline_;
  absl::Duration unit_, hold_;
};

// The verdict on one round's call: "" or the failure.
std::string JudgeCall(size_t r, std::string_view call, int timeout_ms, int rc, int64_t returned_ns,
                      int64_t acted_ns, std::string_view event, bool any_error_fails) {
  if (rc == 0 || rc == kEnd) return "";
  if (acted_ns < 0) return absl::StrFormat("round %d: the other side never acted", r + 1);
  if (returned_ns < acted_ns) {
    return absl::StrFormat(
        "round %d: %s(timeout %d ms) gave %s %.2f ms before %s, which it was to wait for: "
        "the transport's time arithmetic does not hold this timeout (it is on the list for "
        "this: %s)",
        r + 1, call, timeout_ms, Errno(rc), (acted_ns - returned_ns) / 1e6, event,
        WhatBreaks(timeout_ms));
  }
  if (!any_error_fails) return "";
  return absl::StrFormat("round %d: %s(timeout %d ms) gave %s after %s", r + 1, call, timeout_ms,
                         Errno(rc), event);
}

// Takes whatever the channel holds without blocking.
void Drain(End& end, std::vector<std::byte>& buf, uint64_t most) {
  int rc = 0;
  for (uint64_t k = 0; k < most && rc == 0; ++k) {
    size_t n = 0;
    rc = end.Recv(buf, &n, 0);
  }
}

// The reader's round: asleep in a receive until the message comes.
std::string SleepInReceive(End& end, const Capabilities& c, Rounds& x, size_t r, int timeout_ms) {
  std::vector<std::byte> buf(std::max<uint64_t>(RecvBufferSize(c), 8));
  x.Go(r, false);
  size_t n = 0;
  const int rc = end.Recv(buf, &n, timeout_ms);
  const int64_t returned = MonotonicNs();
  const int64_t acted = x.Returned(r);
  // A stream may have handed over part of the message, a lossy channel may
  // hold copies sent again: the next round starts empty.
  if (rc == 0) Drain(end, buf, 4 * (c.capacity + c.max_queued) + kBurst + 64);
  std::string err = JudgeCall(r, "recv", timeout_ms, rc, returned, acted,
                              "the writer sent a message", c.reliable);
  x.Judged(r);
  return err;
}

// The writer's part in a receive round: one message (a lossy channel: again
// each time unit until the receive returns).
std::string WakeReceiver(End& end, const Capabilities& c, Rounds& x, size_t r, int deliver_ms) {
  bool skip = false;
  if (!x.AwaitSleeper(r, &skip)) return absl::StrFormat("round %d: the reader never began", r + 1);
  const uint64_t size = c.max_message == 0 ? 8 : std::min<uint64_t>(8, c.max_message);
  x.Acting();
  // Lossy: again until the receive returns, however many are lost (the
  // case's deadline is the last resort). A lost message leaves no event to
  // wait for, so the next copy goes at once while the channel takes them;
  // once it refuses one (it is full: a copy is there) or after a burst,
  // the receive's return is waited for, up to a time unit each time.
  for (uint64_t attempt = 0; attempt < 1000000; ++attempt) {
    std::string err;
    int rc = 0;
    if (c.model == ModelClass::kCounter) {
      uint64_t v = 1;
      size_t n = 0;
      rc = end.Send(std::as_bytes(std::span(&v, 1)), &n, c.reliable ? deliver_ms : 0);
      if (rc != 0 && c.reliable) err = absl::StrFormat("adding 1: %s", Errno(rc));
    } else if (c.reliable) {
      err = SendAll(end, {1, r, size}, c.framing, deliver_ms);
    } else {
      const std::vector<std::byte> data = Payload(1, r, size);
      size_t n = 0;
      rc = end.Send(data, &n, 0);
    }
    if (attempt == 0) x.Acted(r);
    if (!err.empty()) return absl::StrFormat("round %d: %s", r + 1, err);
    if (c.reliable) break;
    const bool wait = rc != 0 || attempt % kBurst == kBurst - 1;
    if (x.HasReturned(r, wait ? x.unit() : absl::ZeroDuration())) break;
  }
  x.AwaitJudged(r);
  return "";
}

// Fills the channel with non-blocking sends of `data` until it refuses one;
// false when it never does (G-BACKPRESSURE's business), with *err set if a
// send failed otherwise.
bool Fill(End& end, const Capabilities& c, const std::vector<std::byte>& data, std::string* err) {
  const uint64_t most = 4 * (c.capacity / std::max<size_t>(data.size(), 1) + c.max_queued) + 64;
  int rc = 0;
  for (uint64_t k = 0; k < most && rc == 0; ++k) {
    size_t n = 0;
    rc = end.Send(data, &n, 0);
  }
  if (rc != 0 && rc != -EAGAIN) {
    *err = absl::StrFormat("filling the channel with %d-byte sends: %s", data.size(), Errno(rc));
  }
  return rc == -EAGAIN;
}

// The writer's round: fills the channel, then sleeps in a send until the
// reader has drained it.
std::string SleepInSend(End& end, const Capabilities& c, Rounds& x, size_t r, int timeout_ms) {
  uint64_t size = c.capacity > 0 ? std::min<uint64_t>(4096, c.capacity) : 8;
  if (c.max_message > 0) size = std::min(size, c.max_message);
  const std::vector<std::byte> data =
      Payload(1, r, std::max<uint64_t>(size, c.framing == Framing::kStream ? 1 : 0));
  std::string err;
  if (!Fill(end, c, data, &err)) {
    x.Go(r, true);
    x.Returned(r);
    x.Judged(r);
    return err;
  }
  x.Go(r, false);
  size_t n = 0;
  const int rc = end.Send(data, &n, timeout_ms);
  const int64_t returned = MonotonicNs();
  err = JudgeCall(r, "send", timeout_ms, rc, returned, x.Returned(r),
                  "the reader drained the channel", true);
  x.Judged(r);
  return err;
}

// The reader's part in a send round: drains the full channel once the
// writer sleeps, and again once its send is in.
std::string WakeSender(End& end, const Capabilities& c, Rounds& x, size_t r) {
  bool skip = false;
  if (!x.AwaitSleeper(r, &skip)) return absl::StrFormat("round %d: the writer never began", r + 1);
  std::vector<std::byte> buf(std::max<uint64_t>(RecvBufferSize(c), 65536));
  const uint64_t most = 4 * (c.capacity + c.max_queued) + 64;
  x.Acting();
  if (!skip) Drain(end, buf, most);
  x.Acted(r);
  x.AwaitJudged(r);
  Drain(end, buf, most);
  return "";
}

class TimeoutRangeProperty final : public GenericProperty {
  Applicability AppliesToCaps(const Capabilities&) const override { return Needs(true, ""); }
  std::string DescribeStep(const Step& s) const override {
    if (s.op != Op::kWait) return GenericProperty::DescribeStep(s);
    if (s.actor == kSend) {
      return absl::StrFormat(
          "the writer sends into the full channel with a timeout of %d ms; the reader drains it "
          "once the send sleeps",
          s.size);
    }
    return absl::StrFormat(
        "the reader receives on the empty channel with a timeout of %d ms; the writer sends once "
        "the receive sleeps",
        s.size);
  }
  // Every example is the same scenario: one says all.
  bool OneScenario() const override { return true; }
  // Every timeout of the list, in every mode the capabilities allow; a
  // failure shrinks to the rounds that fail.
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    std::vector<Step> all;
    for (Mode m : {kReceive, kSend}) {
      if (m == kSend && !CanFill(t.caps())) continue;
      for (const HardTimeout& h : kTimeouts)
        all.push_back({Op::kWait, m, static_cast<uint64_t>(h.ms), 0});
    }
    return rc::Gen<std::vector<Step>>([all](const rc::Random&, int) {
      return rc::shrinkable::shrinkRecur(all, &rc::shrink::removeChunks<std::vector<Step>>);
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const Capabilities& c = t.caps();
    std::vector<Step> rounds;
    for (const Step& st : s.steps) {
      if (st.op != Op::kWait) continue;
      if (st.actor > kSend || st.size == 0 || st.size > INT_MAX || rounds.size() == kMaxRounds ||
          (st.actor == kSend && !CanFill(c))) {
        return Verdict::Broken(
            absl::StrFormat("not a round for %s: %s", t.name(), DescribeStep(st)));
      }
      rounds.push_back(st);
    }
    Rounds x(env);
    const int deliver = Waits::For(env).deliver_ms;
    auto each = [&](auto&& receive_round, auto&& send_round) -> std::string {
      for (size_t r = 0; r < rounds.size(); ++r) {
        const int ms = static_cast<int>(rounds[r].size);
        std::string e = rounds[r].actor == kSend ? send_round(r, ms) : receive_round(r, ms);
        if (x.Stopped()) return "";  // the other side failed, and says why
        if (!e.empty()) {
          x.Abort();
          return e;
        }
      }
      return "";
    };
    Actor writer{"writer", Role::kWriter, [&](std::unique_ptr<End>& end) {
                   return each([&](size_t r, int) { return WakeReceiver(*end, c, x, r, deliver); },
                               [&](size_t r, int ms) { return SleepInSend(*end, c, x, r, ms); });
                 }};
    Actor reader{"reader", Role::kReader, [&](std::unique_ptr<End>& end) {
                   return each([&](size_t r, int ms) { return SleepInReceive(*end, c, x, r, ms); },
                               [&](size_t r, int) { return WakeSender(*end, c, x, r); });
                 }};
    return RunActors(t, env, {writer, reader});
  }
};
IPCSPEC_REGISTER_PROPERTY(TimeoutRangeProperty, "G-TIMEOUT-RANGE", {.examples = 1});

}  // namespace g_timeout_range
}  // namespace
}  // namespace ipcspec::props
