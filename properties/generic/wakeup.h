// properties/generic/wakeup.h: what G-WAKEUP's layouts share (g_wakeup.cc
// has the property and its two-party layouts; g_wakeup_many.cc the layouts
// with several writers). The rounds, the exchange between the sleeper and
// the waker, and the tally that judges them.
#ifndef IPCSPEC_PROPERTIES_GENERIC_WAKEUP_H_
#define IPCSPEC_PROPERTIES_GENERIC_WAKEUP_H_

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_format.h"
#include "ipcspec/proc.h"
#include "properties/generic/generic_property.h"
#include "properties/support/call_gate.h"
#include "properties/support/common.h"
#include "properties/support/run_mark.h"

namespace ipcspec::props::wakeup {

// Up to kRounds rounds; the first outcome to a majority decides. A
// sleeping call is bounded by kUnitsBound time units.
constexpr int kRounds = 9;
constexpr size_t kMajority = kRounds / 2 + 1;
constexpr int64_t kUnitsBound = 20;

// The shared state of the two sides: round r's flags are 3r (the sleeper
// is about to call), 3r+1 (the waker acted, at Counter(kEventNs)) and 3r+2
// (the sleeper judged the round; Counter(kAgain) != 0 asks for another).
class Exchange {
 public:
  Exchange(const CaseEnv& env, bool realtime)
      : flags_(3 * kRounds + 4), deadline_(Deadline::After(env.deadline - absl::Now())) {
    const int64_t unit_us = std::max<int64_t>(absl::ToInt64Microseconds(env.time_unit), 1000);
    allowed_us_ = std::max<int64_t>(unit_us / 2, 2000);  // 2 ms at least: scheduling
    if (!realtime) allowed_us_ += absl::ToInt64Microseconds(env.hang_grace) + unit_us;
    bound_ms_ = std::max(kUnitsBound * unit_us, 4 * allowed_us_) / 1000;
  }

  // The sleeper: announces round r, with its pid.
  void Go(int r) {
    flags_.Counter(kPid).store(static_cast<uint64_t>(::getpid()));
    Sleeps();
    flags_.Raise(3 * r);
  }
  // A sleeper of the waker's acts (Go names one; a layout with several
  // calls this in each): at each act the waker notes how long each had
  // waited for a CPU, which LateUs takes out.
  void Sleeps() {
    const auto me = static_cast<uint64_t>(::getpid());
    for (size_t i = 0; i < kSleepers; ++i) {
      uint64_t was = 0;
      if (flags_.Counter(kSleeperPid + i).compare_exchange_strong(was, me) || was == me) return;
    }
  }
  // The waker: waits for round r's sleeper to be asleep in a call (or, for
  // a call that never sleeps, half the bound: it is judged on its return).
  bool AwaitSleeper(int r) {
    if (!flags_.WaitFor(3 * r, deadline_)) return false;
    const auto pid = static_cast<pid_t>(flags_.Counter(kPid).load());
    WaitUntilAsleep(pid, Deadline::After(absl::Milliseconds(bound_ms_ / 2)));
    return true;
  }
  // The waker: its act is done. Notes when, and how long the sleeper had
  // waited for a CPU by then.
  void Woke(int r) {
    const int64_t now_ns = MonotonicNs();
    flags_.Counter(kEventNs).store(static_cast<uint64_t>(now_ns));
    for (size_t i = 0; i < kSleepers; ++i) {
      const auto pid = static_cast<pid_t>(flags_.Counter(kSleeperPid + i).load());
      const int64_t waited = pid > 0 ? RunMark::Start(pid).queued_ns : -1;
      flags_.Counter(kSleeperWaited + i).store(static_cast<uint64_t>(waited + 1));
    }
    flags_.Raise(3 * r + 1);
  }
  // When the waker acted in round r (once LateUs(r) is not -1).
  int64_t EventNs() const { return static_cast<int64_t>(flags_.Counter(kEventNs).load()); }
  // The sleeper, its call returned at `returned` (RunMark::Stop()): how
  // many microseconds after the waker's act (0 if before; -1 if the act
  // never came), less what the sleeper spent since the act runnable but
  // waiting for a CPU. A missed wake-up is time asleep; a loaded machine's
  // scheduler, which a --jobs run on a busy CI host is, is no failure of
  // the transport's.
  int64_t LateUs(int r, const RunMark& returned) const {
    if (!flags_.WaitFor(3 * r + 1, deadline_)) return -1;
    RunMark event{static_cast<int64_t>(flags_.Counter(kEventNs).load()), -1};
    for (size_t i = 0; i < kSleepers; ++i) {
      if (static_cast<pid_t>(flags_.Counter(kSleeperPid + i).load()) != ::getpid()) continue;
      event.queued_ns = static_cast<int64_t>(flags_.Counter(kSleeperWaited + i).load()) - 1;
    }
    return returned.SinceNs(event) / 1000;
  }
  // The sleeper's verdict on round r, which the waker reads (true: again).
  void Judge(int r, bool again) {
    flags_.Counter(kAgain).store(again ? 1 : 0);
    flags_.Raise(3 * r + 2);
  }
  bool Again(int r) const {
    return flags_.WaitFor(3 * r + 2, deadline_) && flags_.Counter(kAgain).load() != 0;
  }

  // The sleeper of a once-only event: how late it came (LateUs), for the
  // case process to weigh over several channels (noted_late_us: -1 none).
  // Several sleepers: the latest counts.
  void NoteLate(int64_t late_us) {
    const uint64_t v = static_cast<uint64_t>(late_us) + 1;
    std::atomic<uint64_t>& noted = flags_.Counter(kLate);
    for (uint64_t was = noted.load(); was < v && !noted.compare_exchange_weak(was, v);) {
    }
  }
  int64_t noted_late_us() const { return static_cast<int64_t>(flags_.Counter(kLate).load()) - 1; }

  int bound_ms() const { return static_cast<int>(bound_ms_); }
  int64_t allowed_us() const { return allowed_us_; }
  // For what comes once (END, a close): no majority to take, so a quarter
  // of the bound.
  int64_t once_allowed_us() const { return std::max<int64_t>(allowed_us_, bound_ms_ * 1000 / 4); }
  // For rounds on a channel each (END, a reader's close): a new channel and
  // processes every round, and under ASan and a parallel ctest its END
  // came 5-10 ms after the close on a pipe; a sixteenth of the bound
  // (12.5 ms at the default unit) still fails a 20 ms look.
  int64_t per_channel_allowed_us() const {
    return std::max<int64_t>(allowed_us_, bound_ms_ * 1000 / 16);
  }
  // A round on a channel of its own that came this late slept through
  // nearly its whole bound: a wake-up missed, the verdict at once. A round
  // less late goes to the majority over channels: a transport that hands
  // END or a close on through a process of its own (a relay) is as late as
  // that process's wait for a CPU, which a loaded machine makes 100 ms now
  // and then, while one that polls for it is late in most rounds.
  int64_t outright_late_us() const {
    return std::max<int64_t>(once_allowed_us(), bound_ms_ * 1000 * 3 / 4);
  }

 private:
  static constexpr size_t kPid = 0, kEventNs = 1, kAgain = 2, kLate = 3, kSleepers = 3,
                          kSleeperPid = 4, kSleeperWaited = kSleeperPid + kSleepers;
  SharedFlags flags_;
  Deadline deadline_;
  int64_t allowed_us_ = 0, bound_ms_ = 0;
};

// The message of round r: 8 bytes, or the largest message there is.
inline Sent MessageOf(const Capabilities& c, int r) {
  const uint64_t size = c.max_message == 0 ? 8 : std::min<uint64_t>(8, c.max_message);
  return {1, static_cast<uint64_t>(r), size};
}

// The sleeper's count of rounds in time and late; the first to a majority
// decides.
class Tally {
 public:
  // `allowed_us`: how late a round may be (default: Exchange::allowed_us).
  explicit Tally(const Exchange& x, int64_t allowed_us = -1)
      : x_(x), allowed_us_(allowed_us < 0 ? x.allowed_us() : allowed_us) {}
  // Records one round (-1: the other side never acted); true while
  // undecided.
  bool Add(int64_t late_us) {
    if (late_us < 0) {
      broken_ = true;
      return false;
    }
    (late_us > allowed_us_ ? late_ : on_time_).push_back(late_us);
    return late_.size() < kMajority && on_time_.size() < kMajority;
  }
  // "" or the failure: the late rounds, for `what` ("the receive").
  std::string Failure(std::string_view what) const {
    if (broken_) return "the other side never acted";
    if (late_.size() < kMajority) return "";
    std::string each;
    for (int64_t us : late_)
      absl::StrAppendFormat(&each, "%s%.1f", each.empty() ? "" : ", ", us / 1e3);
    return absl::StrFormat(
        "%s returned %s ms after it could complete, late in %d of %d rounds (allowed: %.1f ms; "
        "its bound: %d ms): a missed wake-up, or a wait that polls",
        what, each, late_.size(), late_.size() + on_time_.size(), allowed_us_ / 1e3, x_.bound_ms());
  }

 private:
  const Exchange& x_;
  int64_t allowed_us_;
  std::vector<int64_t> late_, on_time_;
  bool broken_ = false;
};

// The reader, kByMessage: asleep in a receive until the message comes;
// `before_round`, if given, runs before each round's call.
std::string SleepUntilMessage(End& end, const Capabilities& c, Exchange& x,
                              const std::function<void()>& before_round = nullptr);
// Round r's message, sent whole (a counter: an add of 1); "" or the failure.
std::string SendMessageOf(End& end, const Capabilities& c, int r, int deliver_ms);
// The writer, kByMessage: sends each round's message once the reader sleeps.
std::string WakeByMessages(End& end, const Capabilities& c, Exchange& x, int deliver_ms);
// kRoomForTwo: the size of each send, so that two fit in a drained channel
// (a quarter of the capacity; with no overhead, half).
uint64_t TwoSendSize(const Capabilities& c);
// Non-blocking receives until one would block: its result (-EAGAIN), or
// the error that came first.
int DrainWithoutBlocking(End& end, const Capabilities& c, std::vector<std::byte>& buf);

// kByRoom and kByReaderClose: the size of each send, which an empty channel
// always takes.
uint64_t RoomSendSize(const Capabilities& c);
// kOneForTwo's send size S (the fill's messages are 2S): 0 where no
// message of 2 bytes fits.
uint64_t OneForTwoSize(const Capabilities& c);
// kByReaderClose: "" or what was wrong with a send that slept in a full
// channel until the reader closed, returned `rc`, `late` microseconds
// after the close (-1: the close never came).
std::string JudgeSendAtReaderClose(const Exchange& x, int rc, int64_t late);

// The layouts with several writers (g_wakeup_many.cc).
Verdict RunAmongSleepers(const Transport& t, const CaseEnv& env, Exchange& x);
// `one_receive`: the channel is full of messages of twice the sends' size,
// and the reader takes one (kOneForTwo) instead of draining it all.
Verdict RunRoomForTwo(const Transport& t, const CaseEnv& env, const Exchange& x, bool one_receive);
// kByReaderClose where several writers may send: writer 1 fills the
// channel, both writers sleep in a send, the reader closes; both must
// return at once (a close that wakes one sleeper, a condition signalled
// rather than broadcast, leaves the other to sleep out its bound).
Verdict RunReaderCloseForTwo(const Transport& t, const CaseEnv& env, Exchange& x);

// A receiver of round messages (MessageOf): each taken whole, a byte
// stream's in as many parts as it comes (the rest owed within
// `deliver_ms`), and checked.
class RoundReceiver {
 public:
  RoundReceiver(End& end, const Capabilities& c, int deliver_ms);
  // One message, whole: the end's Recv result; *got the bytes taken.
  int Receive(const Sent& want, int timeout_ms, size_t* got);
  // Whether the `got` bytes taken are `want` (a counter: a non-zero sum).
  bool Matches(const Sent& want, size_t got) const;
  std::span<std::byte> buffer() { return buf_; }

 private:
  End& end_;
  const Capabilities& c_;
  int deliver_ms_;
  std::vector<std::byte> buf_;
};

// Until flag i of `flags`, or `pid` (a process or a thread) seen asleep in
// a system call in two looks in a row while `may_count` holds (a sleep that
// lasts; ipcspec/proc.h), or `d`. The flag's futex ends each wait between
// looks at once. Until the flag alone while `pid` is unknown (0).
void AwaitFlagOrSleep(const SharedFlags& flags, size_t i, pid_t pid, const Deadline& d,
                      const std::function<bool()>& may_count);
// Whether `pid`'s sleep is not one at a call gate (wait channel
// seccomp_...), where each system call of a gated thread waits for the
// gate's thread to let it go on: a loaded machine can make two looks see
// that sleep, which is no sleep of the call's own.
bool AsleepOutsideTheGate(pid_t pid);

// Until every other thread of this process sleeps, or the deadline: run
// by a call gate's thread while it holds a call (the held thread sleeps at
// the gate), so that a thread of the transport which the other side's act
// woke has done with it what it does before the held call goes on.
void AwaitOtherThreadsAsleep(const Deadline& deadline);

// "1st", "2nd", "11th": a call's place in a walk.
std::string Ordinal(int n);

// The rounds of a walk that holds a call in a gap and acts there
// (G-WAKEUP-RACE: a receive held, a send made; G-WAKEUP-RACE-SEND: a send
// held, the channel drained), shared by the held side, its gate's thread
// and the acting side. Round r's flags: 3r the call is held (or no hold
// comes), 3r+1 the act is done, 3r+2 the held side judged the round.
class GapRounds {
 public:
  GapRounds(int rounds, const Deadline& deadline)
      : flags_(3 * rounds + 1), published_(3 * static_cast<size_t>(rounds)), deadline_(deadline) {}

  // Each side, before its first round, from the thread that holds or acts
  // (the acting one may be a thread of the held one's process).
  void PublishHeld() {
    flags_.Counter(kHeldTid).store(static_cast<uint64_t>(::gettid()));
    flags_.Raise(published_);
  }
  void PublishActor() { flags_.Counter(kActorPid).store(static_cast<uint64_t>(::gettid())); }

  // The held side, round r: arms `gate` to hold its call `index`, in
  // Hold(r, bound_ms), and marks the round's call as begun. Called just
  // before that call: only a sleep after it counts in AwaitHoldOrSleep, so
  // that what the held side does before its call (a fill whose sends wait
  // for a thread of the transport's own) is never taken for the call's
  // sleep, and the act made before the call has begun.
  void Arm(CallGate& gate, int r, int index, int bound_ms) {
    flags_.Counter(kBegun).store(static_cast<uint64_t>(r + 1));
    gate.Arm(index, [this, r, bound_ms](long) { Hold(r, bound_ms); });
  }
  // The gate's thread, the call held in round r: tells the acting side,
  // then waits until its act is done, or it sleeps in the act (waiting,
  // perhaps, for what the held call holds: the act then completes after
  // the hold), or `bound_ms` passes.
  void Hold(int r, int bound_ms) {
    flags_.Counter(kHolding).store(1);
    flags_.Raise(3 * r);
    AwaitFlagOrSleep(
        flags_, 3 * r + 1, Pid(kActorPid), Deadline::After(absl::Milliseconds(bound_ms)),
        [&] { return flags_.Counter(kActing).load() == static_cast<uint64_t>(r + 1); });
    flags_.Counter(kHolding).store(0);
  }
  // The acting side, round r: until the held side is held, or sleeps in its
  // call (begun: Arm) with no hold to come, or `bound_ms` passes (a call
  // that spins). A
  // sleep at the gate does not count: each of the held side's calls waits
  // there for the gate's thread to let it go on, which on a loaded machine
  // may take long enough for two looks to see it (the act would then come
  // before the hold, and the race never run). Then the act begins.
  void AwaitHoldOrSleep(int r, int bound_ms) {
    const Deadline d = Deadline::After(absl::Milliseconds(bound_ms));
    (void)flags_.WaitFor(published_, d, false);  // the held side's thread, to watch
    const pid_t held = Pid(kHeldTid);
    AwaitFlagOrSleep(flags_, 3 * r, held, d, [&] {
      return flags_.Counter(kBegun).load() == static_cast<uint64_t>(r + 1) &&
             flags_.Counter(kHolding).load() == 0 && AsleepOutsideTheGate(held);
    });
    flags_.Counter(kActing).store(static_cast<uint64_t>(r + 1));
  }
  // The acting side: its act of round r is done. Notes when, and how long
  // the held side's threads had waited for a CPU by then.
  void Acted(int r) {
    const RunMark mark = RunMark::Start(Pid(kHeldTid));
    flags_.Counter(kEventNs).store(static_cast<uint64_t>(mark.ns));
    flags_.Counter(kWaitedNs).store(static_cast<uint64_t>(mark.queued_ns + 1));
    flags_.Raise(3 * r + 1);
  }
  // The held side, its call returned at `returned`: microseconds from the
  // act, less what its threads (the gate's too) spent runnable but waiting
  // for a CPU since; -1 if the act never came.
  int64_t LateUs(int r, const RunMark& returned) const {
    if (!flags_.WaitFor(3 * r + 1, deadline_)) return -1;
    const RunMark acted{static_cast<int64_t>(flags_.Counter(kEventNs).load()),
                        static_cast<int64_t>(flags_.Counter(kWaitedNs).load()) - 1};
    return returned.SinceNs(acted) / 1000;
  }
  // The held side's verdict on round r: `stop`, no more rounds.
  void Judge(int r, bool stop) {
    flags_.Counter(kStop).store(stop ? 1 : 0);
    flags_.Raise(3 * r + 2);
  }
  bool Stopped(int r) const {
    return !flags_.WaitFor(3 * r + 2, deadline_) || flags_.Counter(kStop).load() != 0;
  }

 private:
  static constexpr size_t kEventNs = 0, kWaitedNs = 1, kStop = 2, kHeldTid = 3, kActorPid = 4,
                          kHolding = 5, kActing = 6, kBegun = 7;
  pid_t Pid(size_t i) const { return static_cast<pid_t>(flags_.Counter(i).load()); }

  SharedFlags flags_;
  size_t published_;  // the flag PublishHeld raises
  Deadline deadline_;
};

// One round of a gap walk, as the held side saw it.
struct GapRound {
  std::string err;         // a failure that needs no majority
  bool held = false;       // the call reached the hold
  bool lost = false;       // nothing to judge (a lossy transport lost the message)
  bool ends = false;       // nothing to judge, and no round after it will have
  int64_t late_us = 0;     // from the act to the call's return
  bool timed_out = false;  // the call gave up at its bound
  CallGate::Calls calls;
};
// The held side's walk: a first round held nowhere (call `nowhere`, never
// reached: what a call does only the first time is done, so that call i is
// the same call in every round after), then rounds held at each of
// `indices`. A round later than `allowed_us` (or timed out) is tried again
// at its call until two of three agree; two late fail with
// `late_failure(index, late rounds, tries)`. The walk ends at the first
// round that never reached its hold. "" or the failure.
// The walk installs the call gate on the calling thread (`who`: "the
// reader") and publishes it as the held side.
std::string WalkRounds(
    GapRounds& race, std::string_view who, const std::vector<int>& indices, int nowhere,
    int64_t allowed_us, const std::function<GapRound(CallGate&, int r, int index)>& play,
    const std::function<std::string(int, const std::vector<GapRound>&, int)>& late_failure);

// A property whose one example walks the system calls of a call
// (G-WAKEUP-RACE, G-TIMEOUT-RACE, G-TIMEOUT-RACE-SEND): a step per call
// 0..calls-1, in order; a failure shrinks to the call it fails at.
class CallWalkProperty : public GenericProperty {
 public:
  explicit CallWalkProperty(int calls) : calls_(calls) {}
  bool OneScenario() const final { return true; }
  // Three times --timeout: the case plays a round per call walked, and
  // each round fills the channel again with every system call of the
  // filling thread trapped by the call gate (a full walk of the signal
  // transport took 4.7 s alone on a 2-core host, and 10 s and more in a
  // conformance run's --jobs).
  absl::Duration CaseTimeout(const Scenario&, absl::Duration timeout) const final {
    return timeout * 3;
  }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const final;
  std::string DescribeStep(const Step& s) const final;
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const final;

 protected:
  // The step of call `index` (0: the first walked), in words.
  virtual std::string DescribeCall(int index) const = 0;
  // The walk over the calls `indices` (none empty, each below `calls`).
  virtual Verdict Walk(const Transport& t, const CaseEnv& env,
                       const std::vector<int>& indices) const = 0;

 private:
  int calls_;
};

}  // namespace ipcspec::props::wakeup

#endif  // IPCSPEC_PROPERTIES_GENERIC_WAKEUP_H_
