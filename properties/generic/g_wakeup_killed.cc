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
//                 reader has begun to take everything (where one receive is
//                 not known to make room for one send: once it has found
//                 the channel empty), a send of a writer left that sleeps
//                 its whole bound, less its wait for a CPU, while a send
//                 without waiting right after takes the same message slept
//                 beside room; every writer left finishes within its bound and the
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
// such a process past the watchdog's grace); where either fails the victim
// is still killed when it is seen woken, but may run first (the example
// then judges nothing). The window is the scheduler's to give, not the
// harness's: here the quirks that lose such a wake-up, the pseudo-terminal
// plugin of an outside audit that does, and the built-in posix_shm before
// its locks inherited priority were each caught at 10 of 10 seeds.
//
// The run itself (the shared state, the writers and the reader):
// wakeup_killed.h and wakeup_killed_actors.cc.
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/generic/wakeup_killed.h"

namespace ipcspec::props::wakeup::killed {

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

namespace {
namespace g_wakeup_killed {

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
  // The four pairs of victim and hold in turn (EachInTurn: three times
  // each in a run of 12); a step only where it is not the default.
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::map(EachInTurn(4), [this](uint64_t pair) {
      std::vector<Step> steps;
      if ((pair & 1) != 0) steps.push_back(victim_.Step(1));
      if ((pair & 2) != 0) steps.push_back(hold_.Step(true));
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

}  // namespace g_wakeup_killed
}  // namespace
}  // namespace ipcspec::props::wakeup::killed
