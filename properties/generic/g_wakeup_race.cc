// G-WAKEUP-RACE: a message sent while a receive is on its way to sleep, after
// it found the channel empty and before it sleeps, still wakes it.
//
// G-WAKEUP sends only once the receive is asleep, so its wake-up is armed.
// The classic lost wake-up is one step earlier: the receive checks, finds
// nothing, and only then arms what wakes it (adds an inotify watch, binds
// the socket a writer knocks on, publishes that it waits). A send in that
// window finds nobody to wake, and the receive sleeps out its bound with the
// message in the channel. The window is microseconds wide, so a send at a
// random moment almost never lands in it.
//
// This property puts the send there. The reader's thread runs under a call
// gate (support/call_gate.h), which holds it at the entry of its system call
// number i in the receive; while it is held, the writer sends the message
// whole. Then the call goes on, as after a preemption just before it. The
// steps walk i = 0, 1, 2, ...: every gap between two system calls of the
// receive, up to the one it sleeps in. The walk ends at the first i the
// receive never reaches (it returned, or slept in an earlier call, which the
// writer then wakes as G-WAKEUP does).
//
// The message is owed at once: the receive must return it within a
// sixteenth of its bound (12.5 ms at the default unit; G-WAKEUP's allowance
// for what comes once to a channel) after the send, not counting the time
// the reader's threads (the gate's among them) then spent runnable but
// waiting for a CPU: a wake-up lost in the gap and found again by a look
// for a dead peer every 20 ms is late. Late at some i, the round is tried
// twice more there and two late tries of three fail. A lossy transport may lose the message (the
// round then does not count). A gap that user space alone spans (a shared index read, then a futex
// word read) has no system call to hold, and is not reached.
//
// The oracle for each capability class (G-WAKEUP's for a blocked receive):
//   every class   the message sent in the gap arrives within the
//                 allowance (a counter: the read sums the add)
//   lossy         a message lost is not counted; one that comes only
//                 after the receive gave up at its bound is late
//   byte stream   the message may come in parts: the rest is owed at once
//   realtime      no: a POLLED transport's allowance is --hang-grace more
//   peer-close, capacity, duplex   change nothing: one message a round, the
//                 writer's end speaks, END is G-WAKEUP's
//
// It needs seccomp user notification with WAIT_KILLABLE_RECV (Linux 5.19):
// without it the property does not apply.
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "ipcspec/proc.h"
#include "properties/generic/generic_property.h"
#include "properties/generic/wakeup.h"
#include "properties/support/call_gate.h"
#include "properties/support/common.h"
#include "properties/support/run_mark.h"

namespace ipcspec::props::wakeup {
namespace {
namespace g_wakeup_race {

constexpr int kCalls = 16;                       // the system calls of one receive walked
constexpr int kTries = 3;                        // at a call with a late round: two late decide
constexpr int kMaxRounds = kCalls * kTries + 1;  // and a first round held nowhere

class Reader {
 public:
  Reader(End& end, const Capabilities& c, const Exchange& x, GapRounds& race, int deliver_ms)
      : c_(c), x_(x), race_(race), deliver_ms_(deliver_ms), messages_(end, c, deliver_ms) {}

  // Round r, the receive held before its call `index`.
  GapRound Play(CallGate& gate, int r, int index) {
    const Sent want = MessageOf(c_, r);
    GapRound out;
    race_.Arm(gate, r, index, deliver_ms_);
    size_t got = 0;
    int rc = messages_.Receive(want, x_.bound_ms(), &got);
    // The clock first: the gate sees the system calls of reading /proc.
    const int64_t returned_ns = MonotonicNs();
    out.calls = gate.Disarm();
    out.held = out.calls.held;
    // The figure after (the gate's thread waits for a CPU too): a wait
    // while disarming is taken out though the clock did not see it.
    const RunMark returned{returned_ns, RunMark::Stop().queued_ns};
    out.late_us = race_.LateUs(r, returned);
    if (out.late_us < 0) {
      out.err = absl::StrFormat("round %d: the writer never sent", r + 1);
      return out;
    }
    if (rc == -ETIMEDOUT || rc == -EAGAIN) {
      // Not taken within the bound: lost, or there all along.
      out.timed_out = true;
      rc = messages_.Receive(want, deliver_ms_, &got);
      if (rc == -ETIMEDOUT || rc == -EAGAIN) {
        out.lost = !c_.reliable;
        if (c_.reliable) {
          out.err = absl::StrFormat("round %d: %s, sent while the receive was held, never came",
                                    r + 1, Name(want));
        }
        return out;
      }
    }
    if (rc != 0) {
      out.err = absl::StrFormat("round %d: the receive gave %s where %s was due", r + 1, Errno(rc),
                                Name(want));
    } else if (!messages_.Matches(want, got)) {
      out.err =
          absl::StrFormat("round %d: received %d bytes that are not %s", r + 1, got, Name(want));
    }
    return out;
  }

 private:
  const Capabilities& c_;
  const Exchange& x_;
  GapRounds& race_;
  int deliver_ms_;
  RoundReceiver messages_;
};

// The failure of two late tries at call `index`, in words.
std::string LateFailure(const Exchange& x, int index, const std::vector<GapRound>& late,
                        int tries) {
  const GapRound& first = late.front();
  return absl::StrFormat(
      "the receive was held at the entry of its system call %d (%s) while the writer sent a "
      "message whole; the receive returned it %.1f ms after the send%s (allowed: %.1f ms; its "
      "bound: %d ms), late in %d of %d tries: %s. The receive's system calls: %s",
      index + 1, first.calls.NameOf(index), first.late_us / 1e3,
      first.timed_out ? ", after it had given up at its bound" : "",
      x.per_channel_allowed_us() / 1e3, x.bound_ms(), late.size(), tries,
      // Before its first call the receive has run in user space only: it
      // looked there and slept without a wake-up armed, or never looked.
      index == 0 ? "a wake-up lost between a check the receive made in user space and its "
                   "first system call, or a message there before it looked that it does not take"
                 : "a wake-up lost between the receive's check and its sleep",
      first.calls.Names());
}

// The reader: a round per step, each held at the step's call; "" or the
// failure.
std::string WalkTheGaps(End& end, const Capabilities& c, const Exchange& x, GapRounds& race,
                        const std::vector<int>& indices, int deliver_ms) {
  Reader reader(end, c, x, race, deliver_ms);
  // The first round is held nowhere (the writer sends once the receive
  // sleeps). Without it a receive whose first round began with a brk(2) was
  // held one call short of its sleep, never in the gap.
  return WalkRounds(
      race, "the reader", indices, kCalls * kTries, x.per_channel_allowed_us(),
      [&](CallGate& gate, int r, int index) { return reader.Play(gate, r, index); },
      [&](int index, const std::vector<GapRound>& late, int tries) {
        return LateFailure(x, index, late, tries);
      });
}

// The writer: a message per round, sent while the reader is held.
std::string SendInTheGaps(End& end, const Capabilities& c, const Exchange& x, GapRounds& race,
                          int deliver_ms) {
  race.PublishActor();
  for (int r = 0; r < kMaxRounds; ++r) {
    race.AwaitHoldOrSleep(r, x.bound_ms() / 2);
    const std::string err = SendMessageOf(end, c, r, deliver_ms);
    race.Acted(r);
    if (!err.empty()) return absl::StrFormat("round %d: %s", r + 1, err);
    if (race.Stopped(r)) return "";
  }
  return "";
}

class WakeupRaceProperty final : public CallWalkProperty {
 public:
  WakeupRaceProperty() : CallWalkProperty(kCalls) {}

 private:
  Applicability AppliesToCaps(const Capabilities&) const override { return CallGate::Applies(); }
  std::string DescribeCall(int index) const override {
    return absl::StrFormat(
        "the writer sends while the reader's receive is held at the entry of its system call %d",
        index + 1);
  }
  Verdict Walk(const Transport& t, const CaseEnv& env,
               const std::vector<int>& indices) const override {
    const Capabilities& c = t.caps();
    const Exchange x(env, c.realtime);
    GapRounds race(kMaxRounds, Deadline::After(env.deadline - absl::Now()));
    const int deliver = Waits::For(env).deliver_ms;
    // The reader first: the last actor runs in the case process, which
    // must not carry the gate.
    Actor reader{"reader", Role::kReader, [&](std::unique_ptr<End>& end) {
                   return WalkTheGaps(*end, c, x, race, indices, deliver);
                 }};
    Actor writer{"writer", Role::kWriter, [&](std::unique_ptr<End>& end) {
                   return SendInTheGaps(*end, c, x, race, deliver);
                 }};
    return RunActors(t, env, {reader, writer});
  }
};
IPCSPEC_REGISTER_PROPERTY(WakeupRaceProperty, "G-WAKEUP-RACE", {.examples = 1});

}  // namespace g_wakeup_race
}  // namespace

std::string WalkRounds(
    GapRounds& race, std::string_view who, const std::vector<int>& indices, int nowhere,
    int64_t allowed_us, const std::function<GapRound(CallGate&, int r, int index)>& play,
    const std::function<std::string(int, const std::vector<GapRound>&, int)>& late_failure) {
  race.PublishHeld();
  std::unique_ptr<CallGate> gate = CallGate::Install();
  if (gate == nullptr) {
    race.Judge(0, true);
    return CallGate::NotInstalled(who);
  }
  int r = 0;
  const GapRound first = play(*gate, r, nowhere);
  const bool stop = !first.err.empty() || first.ends;
  race.Judge(r++, stop);
  if (stop) return first.err;
  for (size_t k = 0; k < indices.size(); ++k) {
    std::vector<GapRound> late;
    int on_time = 0, tries = 0;
    for (;;) {
      GapRound round = play(*gate, r, indices[k]);
      ++tries;
      const bool counted = round.err.empty() && round.held && !round.lost && !round.ends;
      if (counted && (round.timed_out || round.late_us > allowed_us)) {
        late.push_back(round);
      } else if (counted) {
        ++on_time;
      }
      const bool failed = !round.err.empty() || late.size() >= 2;
      const bool walk_ends = round.err.empty() && (!round.held || round.ends);
      // Again here after a late try, until two agree.
      const bool again = counted && !late.empty() && late.size() < 2 && on_time < 2;
      const bool more = again || k + 1 < indices.size();
      race.Judge(r++, failed || walk_ends || !more);
      if (!round.err.empty()) return round.err;
      if (late.size() >= 2) return late_failure(indices[k], late, tries);
      if (walk_ends) return "";
      if (!again) break;
    }
  }
  return "";
}

RoundReceiver::RoundReceiver(End& end, const Capabilities& c, int deliver_ms)
    : end_(end), c_(c), deliver_ms_(deliver_ms), buf_(std::max<uint64_t>(RecvBufferSize(c), 8)) {}

int RoundReceiver::Receive(const Sent& want, int timeout_ms, size_t* got) {
  size_t n = 0;
  int rc = end_.Recv(buf_, &n, timeout_ms);
  *got = rc == 0 ? n : 0;
  if (c_.framing != Framing::kStream || c_.model == ModelClass::kCounter) return rc;
  while (rc == 0 && *got < want.size) {
    rc = end_.Recv(std::span(buf_).subspan(*got, want.size - *got), &n, deliver_ms_);
    *got += rc == 0 ? n : 0;
  }
  return rc;
}

bool RoundReceiver::Matches(const Sent& want, size_t got) const {
  if (c_.model != ModelClass::kCounter) return IsPayload(std::span(buf_).first(got), want);
  uint64_t v = 0;
  std::memcpy(&v, buf_.data(), std::min<size_t>(got, sizeof v));
  return got == 8 && v != 0;
}

void AwaitFlagOrSleep(const SharedFlags& flags, size_t i, pid_t pid, const Deadline& d,
                      const std::function<bool()>& may_count) {
  if (pid <= 0) {
    (void)flags.WaitFor(i, d, false);
    return;
  }
  const AsleepWatch watch{.event =
                              [&](int64_t us) {
                                return flags.WaitFor(i, Deadline::After(absl::Microseconds(us)),
                                                     false);
                              },
                          .counts = may_count,
                          .looks = 2};
  (void)WaitUntilAsleep(pid, d, watch);
}

bool AsleepOutsideTheGate(pid_t pid) {
  return !absl::StartsWith(DescribeKernelWait(pid), "seccomp");
}

void AwaitOtherThreadsAsleep(const Deadline& deadline) {
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    pid_t tid = 0;
    if (!absl::SimpleAtoi(task.path().filename().string(), &tid) || tid == ::gettid()) continue;
    (void)WaitUntilAsleep(tid, deadline, AsleepWatch{.looks = 2});
  }
}

std::string Ordinal(int n) {
  static constexpr const char* kSuffix[] = {"th", "st", "nd", "rd"};
  const int last = n % 10;
  return absl::StrCat(n, (n / 10) % 10 != 1 && last >= 1 && last <= 3 ? kSuffix[last] : "th");
}

rc::Gen<std::vector<Step>> CallWalkProperty::Steps(const Transport&) const {
  std::vector<Step> all;
  for (int i = 0; i < calls_; ++i) all.push_back(Step::Param(0, static_cast<uint64_t>(i)));
  return rc::Gen<std::vector<Step>>([all](const rc::Random&, int) {
    return rc::shrinkable::shrinkRecur(all, &rc::shrink::removeChunks<std::vector<Step>>);
  });
}

std::string CallWalkProperty::DescribeStep(const Step& s) const {
  if (s.op != Op::kParam) return GenericProperty::DescribeStep(s);
  return DescribeCall(static_cast<int>(s.size));
}

Verdict CallWalkProperty::Run(const Transport& t, const Scenario& s, const CaseEnv& env) const {
  std::vector<int> indices;
  for (const Step& st : s.steps) {
    if (st.op != Op::kParam || st.size >= static_cast<uint64_t>(calls_)) {
      return Verdict::Broken(absl::StrFormat("not a step of %s: %s", id(), DescribeStep(st)));
    }
    indices.push_back(static_cast<int>(st.size));
  }
  if (indices.empty()) return Verdict::Pass();
  if (indices.size() > static_cast<size_t>(calls_)) {
    return Verdict::Broken(
        absl::StrFormat("%s takes %d steps at most, not %d", id(), calls_, indices.size()));
  }
  return Walk(t, env, indices);
}

}  // namespace ipcspec::props::wakeup
