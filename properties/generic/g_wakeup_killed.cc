// G-WAKEUP-KILLED: a wake-up that reaches a writer SIGKILLed before it
// runs is not lost: the other writers asleep for room still get the room.
//
// Many designs wake one waiter where room comes and count on it to act: a
// futex woken with FUTEX_WAKE 1 per freed slot, a semaphore posted once per
// receive, a condition signalled rather than broadcast, a lock handed by
// its unlock to the one waiter the kernel woke (a robust mutex without
// priority inheritance, whose waiters bit a woken waiter sets again only
// once it runs). A waiter killed between its wake-up and its first step
// takes the wake-up with it, and the others sleep on beside room, or a free
// lock, until their bounds run out. No test in which processes die only
// when they choose sees it: the window is between the kernel's wake-up and
// the woken process's first instruction.
//
// Three writers; writer 1 fills the channel with sends that do not block
// (8-byte messages; 4 KiB pieces on a byte stream), then each writer in
// turn, 1 first, falls asleep in a send that waits for room; each has six
// such sends to make, each bounded by G-WAKEUP's bound (20 time units). One
// writer, the first to sleep or the second, is the victim: it runs as a
// batch process (SCHED_BATCH: woken, it does not preempt the process on its
// CPU, but waits for the tick) on the CPU where the case process
// busy-watches its state in /proc. Round after round the reader takes one
// message (more, by doubling, after a round in which nobody woke), and a
// writer that wakes and sends starts the next round once every writer
// sleeps again or is done; the victim, seen runnable inside its send
// (woken, and not yet run: the case process keeps the CPU), is SIGKILLed
// there. It dies once every other writer sleeps in a send or is done (a
// lock one of them took meanwhile stays taken at the death). Then the
// reader either takes nothing until a writer left sends or each has timed
// out once (the hold: a wake-up given to one waiter per receive dies with
// it), or takes everything at once (a lock handed to the victim stays with
// nobody while room comes). The parameters: which is the victim, and
// whether the reader holds off (only where one receive is room for one
// send: elsewhere the hold judges nothing, and the reader goes on).
//
// The oracle for each capability class:
//   reliable messages, peer-close counting a death as a close   once the
//                 reader has begun to take everything, a send of a writer
//                 left that sleeps its whole bound while a send without
//                 waiting right after takes the same message slept beside
//                 room; every writer left finishes within its bound and the
//                 deliver bound; every message of the writers left and
//                 every completed send of the victim arrives once (the one
//                 it died in may), in each writer's order where ordered
//   ... where one receive makes room for one send (EXACT_CAPACITY, or a
//                 count-bounded queue filled to max_queued)   also during
//                 the hold, when nobody receives: a send of a writer left
//                 that returns then took room the victim's wake-up was for,
//                 and must return within half a bound of the death (or
//                 G-WAKEUP's allowance for a wake-up that comes once, if
//                 longer; a transport whose wait only
//                 looks again at its bound, or polls, takes it late); and a
//                 timed-out send that a send without waiting then completes
//                 slept beside it. Elsewhere what room one receive makes is
//                 the transport's to know (a pipe's writer waits for a free
//                 page: a small write that merges into the last page does
//                 not wake it)
//   byte stream   arrivals by byte counts only (a death may cut a write),
//                 and no timed-out send is judged by the send that follows
//                 (a stream's writer may wait for more room than it takes:
//                 a socket wakes its writers only once a quarter of its
//                 buffer is free)
//   lossy, no peer-close, CLOSE_ONLY, counter, single writer   does not
//                 apply: nothing is owed to the others after a death inside
//                 a send (G-WRITER-CRASH), and a counter keeps no writer's
//                 share apart
//   duplex        changes nothing: the writers' ends speak
//   realtime or not   the allowances are G-WAKEUP's (a transport that
//                 polls may take its poll interval)
//
// The victim's CPU and priority come from sched_setaffinity(2) and
// sched_setscheduler(2) with SCHED_BATCH, which an unprivileged process may
// use (SCHED_IDLE would widen the window, but a loaded machine can starve
// such a process past the watchdog's grace); where either fails the victim is still killed when it
// is seen woken, but may run first (the example then judges nothing). The window is the scheduler's
// to give, not the harness's: here the quirks that lose such a wake-up, the pseudo-terminal plugin
// of an outside audit that does, and the built-in posix_shm before its locks inherited priority
// were each caught at 10 of 10 seeds.
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ipcspec/proc.h"
#include "properties/generic/generic_property.h"
#include "properties/generic/wakeup.h"
#include "properties/support/common.h"

namespace ipcspec::props::wakeup {
namespace {

constexpr size_t kWriters = 3;
constexpr uint64_t kSends = 6;  // each writer's sends that wait for room
constexpr int kMostRounds = 64;
constexpr uint64_t kMostTake = 64;  // messages one round takes at most
constexpr uint64_t kStreamPiece = 4096;

// Flags: writer 1 filled the channel; the victim is dead; the hold after
// it is over (a writer left sent, each timed out, or one failed); writer w
// is about to make its first send that waits; writer w sends no more; round
// r's go (the reader takes Counter(kTake) messages, everything when 0) and
// done.
constexpr size_t kFilled = 0, kKilled = 1, kHoldOver = 2;
size_t Entering(size_t w) { return 3 + w; }
size_t Finished(size_t w) { return 3 + kWriters + w; }
size_t Go(int r) { return 3 + 2 * kWriters + 2 * static_cast<size_t>(r); }
size_t Got(int r) { return Go(r) + 1; }
constexpr size_t kFlags = 3 + 2 * kWriters + 2 * (kMostRounds + 1);
// Counters: writer w's completed sends that waited, whether it is inside
// one, the bytes its calls moved; the fill; the take; when the reader last
// took; which writers left have timed out since the death (a bit each);
// when the reader began to take everything; whether it failed.
size_t Completed(size_t w) { return w; }
size_t InSend(size_t w) { return kWriters + w; }
size_t Moved(size_t w) { return 2 * kWriters + w; }
constexpr size_t kFillCount = 3 * kWriters, kFillBytes = kFillCount + 1,
                 kNeverFull = kFillCount + 2, kTake = kFillCount + 3, kTookNs = kFillCount + 4,
                 kTimedOutAfter = kFillCount + 5, kDrainNs = kFillCount + 6,
                 kReaderFailed = kFillCount + 7;
// When writer w's send k returned.
size_t SentNs(size_t w, uint64_t k) { return kReaderFailed + 1 + w * kSends + k; }

bool Stream(const Capabilities& c) { return c.framing == Framing::kStream; }
uint64_t PieceSize(const Capabilities& c) {
  if (Stream(c)) return kStreamPiece;
  return c.max_message == 0 ? 8 : std::min<uint64_t>(8, c.max_message);
}
// Sends that do not block until one is refused; past this, it never fills.
uint64_t MostFill(const Capabilities& c) {
  if (c.capacity == 0 && c.max_queued == 0) return 4096;
  return 4 * (c.capacity / PieceSize(c) + c.max_queued) + 64;
}

// Whether a receive of one message leaves room for one more send, which a
// writer left must take: the channel refuses only what would not fit, or
// it was filled to its count. Elsewhere what room a receive makes is the
// transport's to know (a pipe's writer waits for a free page, and a small
// write that a non-blocking send merges into the last page does not wake
// it), and only a channel the reader empties is judged.
bool RoomForOne(const Capabilities& c, uint64_t filled) {
  if (Stream(c)) return false;
  return c.overhead == Overhead::kNone || (c.max_queued > 0 && filled == c.max_queued);
}

// Pins the calling thread to `cpu` (when >= 0).
bool PinTo(int cpu) {
  if (cpu < 0) return false;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  return ::sched_setaffinity(0, sizeof one, &one) == 0;
}

// One run: the writers', the reader's and the case process's parts.
class KilledRun {
 public:
  KilledRun(const Capabilities& c, const CaseEnv& env, size_t victim, bool hold, int cpu)
      : c_(c),
        x_(env, c.realtime),
        waits_(Waits::For(env)),
        deadline_(Deadline::After(env.deadline - absl::Now())),
        victim_(victim),
        hold_(hold),
        cpu_(cpu),
        flags_(kFlags),
        pids_(kWriters) {}

  std::string Write(End& end, size_t w);
  std::string Read(End& end);
  Verdict Watch(ActorControl& control);

 private:
  uint64_t Count(size_t i) const { return flags_.Counter(i).load(); }
  uint64_t Fill() const { return Count(kFillCount); }
  bool Done(size_t w) const { return flags_.IsRaised(Finished(w)); }
  uint64_t AllCompleted() const {
    uint64_t n = 0;
    for (size_t w = 0; w < kWriters; ++w) n += Count(Completed(w));
    return n;
  }
  Sent MessageOf(size_t w, uint64_t k) const {
    return {static_cast<uint32_t>(w + 1), k, PieceSize(c_)};
  }
  // The writers'.
  std::string FillChannel(End& end);
  std::string SendAll(End& end, size_t w);
  int SendPiece(End& end, size_t w, uint64_t k, int timeout_ms);
  int64_t RoomSinceNs() const;
  bool SleptBesideRoom() const;
  std::string SendWaiting(End& end, size_t w, uint64_t k);
  // The case process's.
  bool AllAsleep(const std::vector<ProcessStateProbe>& probes, bool with_victim) const;
  std::optional<int> PlayRounds(const std::vector<ProcessStateProbe>& probes, int* rounds);
  void SpinUntilSettled(const std::vector<ProcessStateProbe>& probes, int64_t until_ns) const;
  Verdict AfterTheDeath(ActorControl& control, int round);
  Verdict LateInTheHold(int64_t dead_ns) const;
  Verdict Stuck(ActorControl& control, int64_t waited_us) const;
  // The reader's.
  void KnowPayloads();
  std::string Take(End& end, uint64_t n);
  std::string TakeAll(End& end);
  std::string OnMessage(std::span<const std::byte> got);
  std::string Owed() const;
  bool WritersGone() const;

  const Capabilities c_;
  const Exchange x_;
  const Waits waits_;
  const Deadline deadline_;
  const size_t victim_;
  const bool hold_;
  const int cpu_;
  SharedFlags flags_;
  ActorPids pids_;
  // The reader's: which message each payload is, and what came.
  std::map<std::string, std::pair<size_t, uint64_t>> known_;
  std::array<std::vector<bool>, kWriters> seen_;
  std::array<uint64_t, kWriters> next_ = {};
  uint64_t bytes_ = 0, messages_ = 0;
};

// The writers.

std::string KilledRun::FillChannel(End& end) {
  uint64_t k = 0, bytes = 0;
  int rc = 0;
  for (; k < MostFill(c_); ++k) {
    const std::vector<std::byte> data = Payload(1, k, PieceSize(c_));
    size_t n = 0;
    rc = end.Send(data, &n, 0);
    if (rc == 0) bytes += n;
    if (rc == 0 && Stream(c_) && n != data.size()) rc = -EAGAIN;  // full, a piece cut
    if (rc != 0) break;
  }
  flags_.Counter(kFillCount).store(k);
  flags_.Counter(kFillBytes).store(bytes);
  if (rc != -EAGAIN) flags_.Counter(kNeverFull).store(1);
  flags_.Raise(kFilled);
  if (rc != 0 && rc != -EAGAIN) return absl::StrCat("filling the channel: ", Errno(rc));
  return "";
}

// Writer w's message k, whole (a stream's in as many calls as it takes),
// each call with `timeout_ms`; the first failing call's code.
int KilledRun::SendPiece(End& end, size_t w, uint64_t k, int timeout_ms) {
  const std::vector<std::byte> data = Payload(static_cast<uint32_t>(w + 1), k, PieceSize(c_));
  uint64_t done = 0;
  if (Stream(c_)) done = Count(Moved(w)) % kStreamPiece;  // a piece begun before a timeout
  for (; done < data.size() || (data.empty() && done == 0);) {
    size_t n = 0;
    const int rc = end.Send(std::span(data).subspan(done), &n, timeout_ms);
    if (rc != 0) return rc;
    done += n;
    flags_.Counter(Moved(w)).fetch_add(n);
    if (data.empty()) break;
  }
  return 0;
}

// Since when the room a writer left must take has been there: since the
// reader began to take everything, or (where one receive makes room for a
// send) since its last receive.
int64_t KilledRun::RoomSinceNs() const {
  if (const uint64_t drain = Count(kDrainNs); drain != 0) return static_cast<int64_t>(drain);
  return static_cast<int64_t>(Count(kTookNs));
}

// Whether a send that just timed out slept beside room for longer than a
// wake-up that comes once may take (a send without waiting then took it).
bool KilledRun::SleptBesideRoom() const {
  if (Stream(c_)) return false;  // a stream's writer may wait for more room than it takes
  if (Count(kDrainNs) == 0 && !RoomForOne(c_, Fill())) return false;
  return MonotonicNs() - RoomSinceNs() > x_.once_allowed_us() * 1000;
}

// Writer w's message k with sends bounded by G-WAKEUP's bound; a send that
// times out is followed by one that does not wait. "" or the failure.
std::string KilledRun::SendWaiting(End& end, size_t w, uint64_t k) {
  for (;;) {
    flags_.Counter(InSend(w)).store(1);
    int rc = SendPiece(end, w, k, x_.bound_ms());
    const bool killed = flags_.IsRaised(kKilled);
    if (rc == -ETIMEDOUT) {
      rc = SendPiece(end, w, k, 0);
      if (rc == 0 && killed && SleptBesideRoom()) {
        return absl::StrFormat(
            "its send %d of %d slept its whole bound of %d ms (-ETIMEDOUT)%s, yet a send of the "
            "same message without waiting, right after, took it: the room was there (made by "
            "the reader %.1f ms earlier) and nothing woke the sleeper%s",
            k + 1 - (w == 0 ? Fill() : 0), kSends, x_.bound_ms(),
            killed ? absl::StrFormat(" after writer %d was SIGKILLed as a wake-up reached it",
                                     victim_ + 1)
                   : "",
            (MonotonicNs() - RoomSinceNs()) / 1e6,
            killed ? ": the wake-up died with the writer it was given to" : "");
      }
      if (rc == -EAGAIN || rc == -ETIMEDOUT) {
        // Each writer left has timed out since the death (at least once).
        const uint64_t left = ((uint64_t{1} << kWriters) - 1) & ~(uint64_t{1} << victim_);
        const uint64_t mine = uint64_t{1} << w;
        if (killed && ((flags_.Counter(kTimedOutAfter).fetch_or(mine) | mine) & left) == left) {
          flags_.Raise(kHoldOver);
        }
        continue;
      }
    }
    flags_.Counter(InSend(w)).store(0);
    if (rc != 0) {
      return absl::StrFormat("its send %d of %d, waiting for room, gave %s%s",
                             k + 1 - (w == 0 ? Fill() : 0), kSends, Errno(rc),
                             killed ? absl::StrFormat(" after writer %d was SIGKILLed as a "
                                                      "wake-up reached it",
                                                      victim_ + 1)
                                    : "");
    }
    if (flags_.IsRaised(kKilled)) flags_.Raise(kHoldOver);
    return "";
  }
}

std::string KilledRun::SendAll(End& end, size_t w) {
  if (w == 0) {
    if (std::string e = FillChannel(end); !e.empty()) return e;
  } else if (!flags_.WaitFor(kFilled, deadline_)) {
    return "";
  }
  if (Count(kNeverFull) != 0) return "";  // nothing to judge
  // Asleep one after another: writer w once writer w - 1 sleeps in its send.
  if (w > 0 && flags_.WaitFor(Entering(w - 1), deadline_)) pids_.AwaitAsleep(w - 1, deadline_);
  flags_.Raise(Entering(w));
  const uint64_t first = w == 0 ? Fill() : 0;  // writer 1's fill came first
  for (uint64_t k = 0; k < kSends; ++k) {
    if (std::string e = SendWaiting(end, w, first + k); !e.empty()) return e;
    flags_.Counter(SentNs(w, k)).store(static_cast<uint64_t>(MonotonicNs()));
    flags_.Counter(Completed(w)).store(k + 1);
  }
  return "";
}

std::string KilledRun::Write(End& end, size_t w) {
  pids_.Publish(w);
  if (w == victim_) {
    // Woken, it waits for the tick on the CPU the case process keeps busy.
    (void)PinTo(cpu_);
    const struct sched_param none = {};
    (void)::sched_setscheduler(0, SCHED_BATCH, &none);
  }
  std::string e = SendAll(end, w);
  flags_.Counter(InSend(w)).store(0);
  flags_.Raise(Finished(w));
  flags_.Raise(Entering(w));  // if it failed first: nobody waits for its sleep
  flags_.Raise(kHoldOver);
  return e;
}

// The case process.

// Every writer (but the victim, unless `with_victim`) asleep inside a send
// or done.
bool KilledRun::AllAsleep(const std::vector<ProcessStateProbe>& probes, bool with_victim) const {
  for (size_t w = 0; w < kWriters; ++w) {
    if ((w == victim_ && !with_victim) || Done(w)) continue;
    if (Count(InSend(w)) == 0 || probes[w].Now() != 'S') return false;
  }
  return true;
}

// Busy-watches, keeping the CPU from the victim, until every other writer
// sleeps in a send or is done, or `until_ns`.
void KilledRun::SpinUntilSettled(const std::vector<ProcessStateProbe>& probes,
                                 int64_t until_ns) const {
  while (!AllAsleep(probes, false) && MonotonicNs() < until_ns) {
  }
}

// The rounds: the one in which the victim was seen woken, or nullopt (it
// ran through its sends, or the rounds ran out). *rounds: how many began.
std::optional<int> KilledRun::PlayRounds(const std::vector<ProcessStateProbe>& probes,
                                         int* rounds) {
  const int64_t quiet_ns = std::min<int64_t>(x_.allowed_us(), 50'000) * 1000;
  uint64_t take = 1;
  for (int r = 0; r < kMostRounds; ++r) {
    *rounds = r + 1;
    const uint64_t before = AllCompleted();
    flags_.Counter(kTake).store(take);
    flags_.Raise(Go(r));
    const int64_t until = MonotonicNs() + quiet_ns;
    bool woke = false;
    for (;;) {
      if (!Done(victim_) && Count(InSend(victim_)) != 0 && probes[victim_].Now() == 'R') return r;
      woke = woke || AllCompleted() != before;
      if ((woke && AllAsleep(probes, true)) || MonotonicNs() >= until) break;
    }
    if (!flags_.WaitFor(Got(r), deadline_) || Done(victim_) || Count(kReaderFailed) != 0) {
      return std::nullopt;
    }
    take = woke ? 1 : std::min(2 * take, kMostTake);
  }
  return std::nullopt;
}

// Fails the case: the writers left still asleep; they and the reader are
// killed, so that the case ends now.
Verdict KilledRun::Stuck(ActorControl& control, int64_t waited_us) const {
  std::string who;
  for (size_t w = 0; w < kWriters; ++w) {
    if (w == victim_ || Done(w)) continue;
    absl::StrAppendFormat(&who, "%swriter %d in its send %d of %d (kernel: %s)",
                          who.empty() ? "" : ", ", w + 1, Count(Completed(w)) + 1, kSends,
                          DescribeKernelWait(pids_.Of(w, deadline_)));
  }
  const std::string failure = absl::StrFormat(
      "writer %d, asleep in a send for room, was SIGKILLed as a wake-up reached it (woken, not "
      "yet run); the reader then took everything in the channel, and %.1f ms later %s still "
      "slept: the wake-up died with the writer it was given to",
      victim_ + 1, waited_us / 1e3, who);
  for (size_t w = 0; w < kWriters; ++w) {
    if (w != victim_ && !Done(w)) (void)control.Kill(absl::StrCat("writer ", w + 1));
  }
  (void)control.Kill("reader");
  return Verdict::Fail(failure);
}

// During the hold nobody receives: a send of a writer left that returns
// then took room that was there at the death, and must have taken it at
// once.
Verdict KilledRun::LateInTheHold(int64_t dead_ns) const {
  if (!RoomForOne(c_, Fill())) return Verdict::Pass();
  const int64_t over_ns = MonotonicNs();
  // A wake-up that comes once, with room to spare for a loaded machine: a
  // send that only its own bound brings back returns a whole bound late.
  const int64_t allowed_us = std::max<int64_t>(x_.once_allowed_us(), x_.bound_ms() * 500);
  for (size_t w = 0; w < kWriters; ++w) {
    for (uint64_t k = 0; k < kSends && w != victim_; ++k) {
      const auto at = static_cast<int64_t>(Count(SentNs(w, k)));
      const int64_t late_us = (at - dead_ns) / 1000;
      if (at <= dead_ns || at > over_ns || late_us <= allowed_us) continue;
      return Verdict::Fail(absl::StrFormat(
          "writer %d, asleep in a send for room, was SIGKILLed as a wake-up reached it (woken, "
          "not yet run); nobody received after that, yet writer %d's send %d of %d returned %.1f "
          "ms after the death (allowed: %.1f ms; its bound: %d ms): it slept beside room that "
          "was there all along, and a wait that looks again (its own bound, a poll) took it "
          "late: the wake-up died with the writer it was given to",
          victim_ + 1, w + 1, k + 1, kSends, late_us / 1e3, allowed_us / 1e3, x_.bound_ms()));
    }
  }
  return Verdict::Pass();
}

// Once the victim is dead: the hold, if any, then the reader takes
// everything and the writers left must finish.
Verdict KilledRun::AfterTheDeath(ActorControl& control, int round) {
  const int64_t dead_ns = MonotonicNs();
  flags_.Raise(kKilled);
  (void)flags_.WaitFor(Got(round), deadline_);
  Verdict late = Verdict::Pass();
  // Where one receive is not known to make room for one send the hold
  // judges nothing: the reader goes on at once.
  if (hold_ && RoomForOne(c_, Fill())) {
    const int64_t most_ms = 2 * int64_t{x_.bound_ms()} + waits_.deliver_ms;
    (void)flags_.WaitFor(kHoldOver, Deadline::After(absl::Milliseconds(most_ms)));
    late = LateInTheHold(dead_ns);
  }
  flags_.Counter(kTake).store(0);
  flags_.Counter(kDrainNs).store(static_cast<uint64_t>(MonotonicNs()));
  flags_.Raise(Go(round + 1));  // the reader takes everything
  const int64_t most_ms = int64_t{x_.bound_ms()} + waits_.deliver_ms;
  const Deadline finish = Deadline::After(absl::Milliseconds(most_ms));
  for (size_t w = 0; w < kWriters; ++w) {
    if (w != victim_ && !flags_.WaitFor(Finished(w), finish)) {
      Verdict stuck = Stuck(control, most_ms * 1000);
      return late.ok() ? stuck : late;  // the first failure, its actors killed
    }
  }
  return late;
}

Verdict KilledRun::Watch(ActorControl& control) {
  if (!flags_.WaitFor(kFilled, deadline_) || Count(kNeverFull) != 0) return Verdict::Pass();
  cpu_set_t old;
  const bool pinned = ::sched_getaffinity(0, sizeof old, &old) == 0 && PinTo(cpu_);
  std::vector<ProcessStateProbe> probes;
  for (size_t w = 0; w < kWriters; ++w) {
    probes.emplace_back(pids_.Of(w, deadline_));
    if (flags_.WaitFor(Entering(w), deadline_)) pids_.AwaitAsleep(w, deadline_);
  }
  int rounds = 0;
  const std::optional<int> round = PlayRounds(probes, &rounds);
  if (round) {
    (void)::kill(pids_.Of(victim_, deadline_), SIGKILL);  // it dies when it next runs
    // A lock another writer takes meanwhile is held at the death.
    SpinUntilSettled(probes, MonotonicNs() + x_.once_allowed_us() * 1000);
  }
  if (pinned) (void)::sched_setaffinity(0, sizeof old, &old);
  if (!round) {
    flags_.Counter(kTake).store(0);
    flags_.Raise(Go(rounds));  // the reader takes the rest
    return Verdict::Pass();
  }
  if (Verdict dead = control.Kill(absl::StrCat("writer ", victim_ + 1)); !dead.ok()) return dead;
  return AfterTheDeath(control, *round);
}

// The reader.

void KilledRun::KnowPayloads() {
  if (Stream(c_) || PieceSize(c_) < 8) return;  // counted only
  for (size_t w = 0; w < kWriters; ++w) {
    const uint64_t all = (w == 0 ? Fill() : 0) + kSends;
    seen_[w].assign(all, false);
    for (uint64_t k = 0; k < all; ++k) {
      const std::vector<std::byte> p = Payload(static_cast<uint32_t>(w + 1), k, PieceSize(c_));
      known_[std::string(reinterpret_cast<const char*>(p.data()), p.size())] = {w, k};
    }
  }
}

std::string KilledRun::Read(End& end) {
  if (!flags_.WaitFor(kFilled, deadline_) || Count(kNeverFull) != 0) return "";
  KnowPayloads();
  for (int r = 0; r <= kMostRounds; ++r) {
    if (!flags_.WaitFor(Go(r), deadline_)) return "";
    const uint64_t take = Count(kTake);
    if (take == 0) return TakeAll(end);
    std::string e = Take(end, take);
    flags_.Counter(kTookNs).store(static_cast<uint64_t>(MonotonicNs()));
    if (!e.empty()) flags_.Counter(kReaderFailed).store(1);  // no more rounds
    flags_.Raise(Got(r));
    if (!e.empty()) return e;
  }
  return "";
}

// Up to `n` messages (pieces of a stream) that are there now: the
// channel is full, unless the writers are done with it (the round took
// more than they left, or they closed: TakeAll judges an END).
std::string KilledRun::Take(End& end, uint64_t n) {
  std::vector<std::byte> buf(std::max<uint64_t>(RecvBufferSize(c_), kStreamPiece));
  for (uint64_t i = 0; i < n; ++i) {
    for (uint64_t got = 0; got < PieceSize(c_) || (got == 0 && !Stream(c_));) {
      size_t k = 0;
      const int rc =
          end.Recv(Stream(c_) ? std::span(buf).first(PieceSize(c_) - got) : std::span(buf), &k, 0);
      if (rc == -EAGAIN || rc == kEnd) return "";
      if (rc != 0) return absl::StrFormat("receiving from the full channel: %s", Errno(rc));
      if (std::string e = OnMessage(std::span(buf).first(k)); !e.empty()) return e;
      got += k;
      if (!Stream(c_)) break;
    }
  }
  return "";
}

std::string KilledRun::OnMessage(std::span<const std::byte> got) {
  bytes_ += got.size();
  if (Stream(c_)) {
    // Each writer's call in progress may have moved a piece already.
    uint64_t most = Count(kFillBytes) + kWriters * kStreamPiece;
    for (size_t w = 0; w < kWriters; ++w) most += Count(Moved(w));
    if (bytes_ > most) {
      return absl::StrFormat("%d stream bytes arrived; at most %d were sent", bytes_, most);
    }
    return "";
  }
  ++messages_;
  if (known_.empty()) return "";
  const auto it = known_.find(std::string(reinterpret_cast<const char*>(got.data()), got.size()));
  if (it == known_.end()) {
    return absl::StrFormat("a message of %d bytes that no writer sent", got.size());
  }
  const auto [w, k] = it->second;
  if (seen_[w][k]) return absl::StrFormat("%s arrived twice", Name(MessageOf(w, k)));
  if (c_.ordered && k != next_[w]) {
    return absl::StrFormat("%s arrived where %s was due", Name(MessageOf(w, k)),
                           Name(MessageOf(w, next_[w])));
  }
  seen_[w][k] = true;
  next_[w] = std::max(next_[w], k + 1);
  return "";
}

// Every writer done with the channel: finished, or the victim killed.
bool KilledRun::WritersGone() const {
  for (size_t w = 0; w < kWriters; ++w) {
    if (!Done(w) && !(w == victim_ && flags_.IsRaised(kKilled))) return false;
  }
  return true;
}

// The first of the completed sends' messages not yet come: "" or its name.
std::string KilledRun::Owed() const {
  if (Stream(c_)) {
    uint64_t want = Count(kFillBytes);
    for (size_t w = 0; w < kWriters; ++w) want += Count(Moved(w));
    return bytes_ < want ? absl::StrFormat("stream byte %d of the %d sent", bytes_, want) : "";
  }
  uint64_t all = Fill();
  for (size_t w = 0; w < kWriters; ++w) {
    const uint64_t owed = (w == 0 ? Fill() : 0) + Count(Completed(w));
    all += Count(Completed(w));
    if (known_.empty()) continue;
    for (uint64_t k = c_.ordered ? next_[w] : 0; k < owed; ++k) {
      if (!seen_[w][k]) return Name(MessageOf(w, k));
    }
  }
  return known_.empty() && messages_ < all
             ? absl::StrFormat("message %d of the %d sent", messages_ + 1, all)
             : "";
}

// Everything that comes, until all that was sent has and every writer is
// done with the channel (the case process kills the reader where a writer
// left sleeps on).
std::string KilledRun::TakeAll(End& end) {
  std::vector<std::byte> buf(std::max<uint64_t>(RecvBufferSize(c_), 65536));
  bool reset = false;
  for (;;) {
    if (WritersGone() && Owed().empty()) return "";
    size_t n = 0;
    const int rc = end.Recv(buf, &n, waits_.deliver_ms);
    if (rc == 0) {
      if (std::string e = OnMessage(std::span(buf).first(n)); !e.empty()) return e;
    } else if (rc == -ETIMEDOUT || rc == -EAGAIN) {
      if (WritersGone() && !Owed().empty()) {
        return absl::StrFormat("%s never came (%s after %d ms), though its send had completed",
                               Owed(), Errno(rc), waits_.deliver_ms);
      }
    } else if (rc == -ECONNRESET && !reset) {
      reset = true;  // the death, said once
    } else if (rc == kEnd) {
      if (!WritersGone()) return "end of stream while a writer was still sending";
      if (std::string owed = Owed(); !owed.empty()) {
        return absl::StrCat("end of stream while ", owed, " was owed");
      }
      return "";
    } else {
      return absl::StrCat("receive: ", Errno(rc));
    }
  }
}

// The CPU the victim and the case process share: the first this process
// may run on.
int FirstCpu() {
  cpu_set_t set;
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return -1;
  for (int i = 0; i < CPU_SETSIZE; ++i) {
    if (CPU_ISSET(i, &set)) return i;
  }
  return -1;
}

Verdict RunOnce(const Transport& t, const CaseEnv& env, size_t victim, bool hold) {
  KilledRun run(t.caps(), env, victim, hold, FirstCpu());
  std::vector<Actor> actors;
  for (size_t w = 0; w < kWriters; ++w) {
    actors.push_back({absl::StrCat("writer ", w + 1), Role::kWriter,
                      [&run, w](std::unique_ptr<End>& end) { return run.Write(*end, w); }});
  }
  actors.push_back(
      {"reader", Role::kReader, [&run](std::unique_ptr<End>& end) { return run.Read(*end); }});
  return RunActors(t, env, std::move(actors),
                   [&run](ActorControl& control) { return run.Watch(control); });
}

constexpr std::string_view kVictims[] = {"writer 1, the first to sleep",
                                         "writer 2, the second to sleep"};

class WakeupKilledProperty final : public GenericProperty {
  Applicability AppliesToCaps(const Capabilities& c) const override {
    if (!c.multi_writer) return Needs(false, "multi_writer=false");
    if (c.model == ModelClass::kCounter) {
      return Needs(false, "model=counter (a sum keeps no writer's share apart)");
    }
    if (!c.reliable) return Needs(false, "reliable=false (nothing is owed after a death)");
    if (!c.peer_close) return Needs(false, "peer_close=false (nothing is owed after a death)");
    return Needs(c.end_on_death, "CLOSE_ONLY (a death is not promised to be survived)");
  }
  // Each as likely; a step only where it is not the default.
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      std::vector<Step> steps;
      if (*UniformBelow(2) == 1) steps.push_back(victim_.Step(1));
      if (*UniformBelow(2) == 1) steps.push_back(hold_.Step(true));
      return steps;
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    return RunOnce(t, env, std::min<uint64_t>(victim_.Of(s), 1), hold_.Of(s));
  }

  const ChoiceParam<uint64_t> victim_{this, 0, "the victim is %s", 0, kVictims};
  const YesNoParam hold_{this, 1,
                         "after the death the reader takes nothing until a writer left sends "
                         "or each has timed out once: %s",
                         false};
};
IPCSPEC_REGISTER_PROPERTY(WakeupKilledProperty, "G-WAKEUP-KILLED", {.examples = 12});

}  // namespace
}  // namespace ipcspec::props::wakeup
