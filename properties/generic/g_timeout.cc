// G-TIMEOUT: a bounded call that cannot complete returns within its bound
// plus slack: a receive on an empty channel gives -ETIMEDOUT, not early and
// not never; a send after the reader closed returns on time too (it may
// succeed, fail with EPIPE, or time out, but not early and not late). And
// an unbounded receive (timeout -1) waits as long as it takes: the writer
// sends only once the reader has slept in it for some time units, and that
// message is what the call returns (a transport that reads -1 as "none" or
// as a short default gives up first). A call with timeout 0 never waits:
// before its bounded receives the reader receives with timeout 0, and
// before its bounded sends the writer sends with timeout 0; neither may
// sleep in the kernel for an eighth of a time unit or more (1 ms at least),
// three times running. A bounded wait sleeps: one
// of 20 ms or more that never sleeps, or spends most of it on a CPU, fails.
//
// Bounds are multiples of the case's time unit (--time-unit), so a loaded
// machine can slow the property down instead of failing it.
//
// The oracle for each capability class:
//   realtime            -ETIMEDOUT no earlier than the bound, and no later
//                       than bound * 1.25 + 5 time units (a late call is
//                       tried twice more: scheduling noise is not a bug)
//   polled (realtime    as realtime, but up to --hang-grace late
//   false)
//   peer-close or not   the reader's waits come while the writer holds its
//                       end, so no END is due; the sends come after the
//                       reader closed: any result, on time
//   several writers     in half of the examples a last 16-unit receive
//                       during which two more writers open their ends and
//                       close them at once, and another does so at 7/8 of
//                       the bound (again in each try of a late call): a
//                       wake-up that brings nothing (a bell rung by a
//                       close, a connection to accept) must neither end the
//                       wait early nor start its bound again (a wait that
//                       passes the caller's whole timeout to each poll())
//   several writers,    in half of the examples the writer, once the
//   a channel that      reader is done, fills the channel and sends into it
//   fills               for 16 units while the reader holds its end and
//                       reads nothing, and more writers open and close
//                       their ends as above: the send returns on time (any
//                       result), neither restarted by a wake-up that brings
//                       no room nor ended early by one
//   lossy               the unbounded receive's message is sent again,
//                       once a time unit, until it has come
//   reliability,        change nothing otherwise: no data moves
//   framing, capacity,
//   duplex
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <span>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/generic/unbounded.h"
#include "properties/support/common.h"
#include "properties/support/run_mark.h"

namespace ipcspec::props {
namespace {
namespace g_timeout {

using unbounded::DescribeUnbounded;
using unbounded::kReaderClosed;
using unbounded::kReaderDone;
using unbounded::kUnboundedActor;
using unbounded::kUnboundedSendActor;
using unbounded::ReceiveUnbounded;
using unbounded::UnboundedStep;
using unbounded::WriteUnbounded;

// A bound in time units: mostly short ones; the long ones tell a call that
// waits twice its bound from one that is merely late by scheduling (8 units
// is the shortest bound whose slack, bound/4 + 5 units, is less than the
// bound itself, so a doubled wait fails; longer ones only cost sleep).
rc::Gen<uint64_t> Units() {
  return rc::gen::weightedOneOf<uint64_t>({{3, rc::gen::just<uint64_t>(1)},
                                           {2, rc::gen::just<uint64_t>(2)},
                                           {2, rc::gen::just<uint64_t>(4)},
                                           {3, rc::gen::just<uint64_t>(8)}});
}

// "" when a call bounded by `bound` that returned `rc` after `took` was on
// time; `owed_timeout`: it could only time out.
std::string OnTime(std::string_view what, absl::Duration bound, absl::Duration late_slack, int rc,
                   absl::Duration took, bool owed_timeout) {
  if (owed_timeout && rc != -ETIMEDOUT) {
    return absl::StrFormat("%s gave %s, not -ETIMEDOUT", what, Errno(rc));
  }
  if (rc == -ETIMEDOUT && took < bound - absl::Microseconds(500)) {
    return absl::StrFormat("%s timed out early, after %s", what, absl::FormatDuration(took));
  }
  if (took > bound + late_slack) {
    return absl::StrFormat("%s returned %s late, after %s", what, Errno(rc),
                           absl::FormatDuration(took));
  }
  return "";
}

// The CPU time of this process (its every thread: a transport may wait in
// one of its own).
absl::Duration CpuTime() {
  timespec ts = {};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return absl::DurationFromTimespec(ts);
}

// "" unless a call that timed out after `took` never slept (`slept`: its
// thread's voluntary context switches) or spent most of it on a CPU: a
// bounded wait sleeps. Below 20 ms a spin before sleeping is let be. A
// loaded machine can make a waiting call look like this once: preempted
// before it sleeps and run again only after its deadline, it times out
// without sleeping. A spinning call looks like this every time.
std::string Spun(std::string_view what, int rc, absl::Duration took, absl::Duration cpu,
                 long slept) {
  if (rc != -ETIMEDOUT || took < absl::Milliseconds(20) || (slept > 0 && cpu * 2 <= took)) {
    return "";
  }
  return absl::StrFormat(
      "%s timed out after %s, %s, %s of it on a CPU: a bounded wait sleeps (one that spins "
      "takes the CPU from the peer it waits for)",
      what, absl::FormatDuration(absl::Trunc(took, absl::Milliseconds(1))),
      slept == 0 ? "never asleep" : "mostly awake",
      absl::FormatDuration(absl::Trunc(cpu, absl::Milliseconds(1))));
}

// A bounded call, judged: a late return, or a timeout that never slept, is
// tried again, twice, since a loaded machine may be late once by chance,
// but a call that waits too long is late every time, and one that spins
// spins every time. Early or wrong results fail at once.
constexpr int kTries = 3;
std::string Judge(std::string_view what, absl::Duration bound, absl::Duration late_slack,
                  bool owed_timeout, const std::function<int()>& call) {
  std::string e;
  for (int attempt = 0; attempt < kTries; ++attempt) {
    const absl::Duration cpu = CpuTime();
    const long sleeps = ThreadSleeps();
    const absl::Time start = absl::Now();
    const int rc = call();
    const absl::Duration took = absl::Now() - start;
    e = Spun(what, rc, took, CpuTime() - cpu, ThreadSleeps() - sleeps);
    if (!e.empty()) continue;
    e = OnTime(what, bound, late_slack, rc, took, owed_timeout);
    if (e.empty() || took <= bound + late_slack) return e;
  }
  return e;
}

// A call with timeout 0, which never waits: "" unless it slept in the
// kernel and took an eighth of a time unit or more (1 ms at least), three
// times in a row. A sleep of microseconds, such as a lock handed between
// threads, is no wait; nobody else uses the channel meanwhile, so a longer
// one is the call's own: a poll tick, say, so that a caller polling in a
// loop does not spin. A call preempted on a busy machine does not sleep,
// and what the process's threads spent waiting for a CPU meanwhile (a
// transport's thread the call waits for) is not counted.
std::string NeverWaits(std::string_view what, absl::Duration unit,
                       const std::function<int()>& call) {
  const absl::Duration waited = std::max(unit / 8, absl::Milliseconds(1));
  std::string e;
  for (int attempt = 0; attempt < 3; ++attempt) {
    const long before = ThreadSleeps();
    const RunMark start = RunMark::Start();
    const int rc = call();
    const RunMark stop = RunMark::Stop();
    const long slept = ThreadSleeps() - before;
    const absl::Duration took = absl::Nanoseconds(stop.ns - start.ns);
    // A sleep while a thread of the transport's that it waits for waited
    // for a CPU (its threads' run-queue wait) is the machine's, not a wait.
    const absl::Duration own = absl::Nanoseconds(stop.SinceNs(start));
    if (slept == 0 || own < waited) return "";
    e = absl::StrFormat(
        "%s with timeout 0 gave %s after %s, asleep in the kernel (%d voluntary context "
        "switches): timeout 0 never blocks",
        what, Errno(rc), absl::FormatDuration(absl::Trunc(took, absl::Microseconds(100))), slept);
  }
  return e;
}

int Ms(absl::Duration d) { return static_cast<int>(absl::ToInt64Milliseconds(d)); }

// The actor of a wait step during which more writers open their ends and
// close them again (several writers only): whatever that rings in the
// transport, the reader's bounded receive goes on to its bound, and no
// further. knock_flags: flag k, try k of the receive has begun (Judge tries
// a late call again); kKnockOver, the receive is over (or never came);
// kKnockerClosed + i, knocker i has closed its end (which the reader awaits
// before it closes its own: a FIFO's writer opens only while a reader is
// there).
constexpr uint32_t kKnockActor = 4, kKnockSendActor = 5;
constexpr size_t kWriterActor = 0;  // the writer's place in RunActors' actors
constexpr size_t kKnockOver = kTries;
constexpr size_t kKnockerClosed = kKnockOver + 1, kKnockers = 5;
constexpr size_t kReaderActor = 1;
constexpr uint64_t kKnockUnits = 16;

class TimeoutProperty final : public NamedProperty {
  bool MostlyWaits() const override { return true; }
  std::string DescribeStep(const Step& s) const override {
    if (s.op != Op::kWait) return NamedProperty::DescribeStep(s);
    if (s.actor == kUnboundedActor || s.actor == kUnboundedSendActor) return DescribeUnbounded(s);
    if (s.actor == kKnockActor) {
      return absl::StrFormat(
          "the reader receives on the empty channel, waiting at most %d time units, while two "
          "more writers open their ends and close them at once, and another at 7/8 of the wait",
          s.size);
    }
    if (s.actor == kKnockSendActor) {
      return absl::StrFormat(
          "the writer fills the channel and sends into it, waiting at most %d time units, while "
          "two more writers open their ends and close them at once, and another at 7/8 of the "
          "wait",
          s.size);
    }
    return absl::StrFormat("%s, waiting at most %d time units",
                           s.actor == 0 ? "the reader receives on the empty channel"
                                        : "after the reader closed, the writer sends",
                           s.size);
  }
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const bool writers = t.caps().multi_writer;
    const bool fills = SendKnockable(t.caps());
    return rc::gen::exec([writers, fills] {
      std::vector<Step> steps;
      auto waits = *rc::gen::resize(
          2, rc::gen::nonEmpty(rc::gen::container<std::vector<uint64_t>>(Units())));
      for (uint64_t w : waits) steps.push_back({Op::kWait, 0, w, 0});
      if (*rc::gen::arbitrary<bool>()) steps.push_back({Op::kWait, kUnboundedActor, *Units(), 0});
      const int sends = *rc::gen::inRange(0, 3);
      for (int i = 0; i < sends; ++i) steps.push_back({Op::kWait, 1, *Units(), 0});
      // Last: a wake-up that brings nothing, long enough to come inside.
      if (writers && *rc::gen::arbitrary<bool>()) {
        steps.push_back({Op::kWait, kKnockActor, kKnockUnits, 0});
      }
      if (fills && *rc::gen::arbitrary<bool>()) {
        steps.push_back({Op::kWait, kKnockSendActor, kKnockUnits, 0});
      }
      return steps;
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const absl::Duration unit = std::max(env.time_unit, absl::Milliseconds(1));
    auto bound_of = [&](const Step& st) { return unit * static_cast<int64_t>(st.size); };
    auto slack_of = [&](absl::Duration bound) {
      return bound / 4 + 5 * unit + (t.caps().realtime ? absl::ZeroDuration() : env.hang_grace);
    };
    SharedFlags flags(unbounded::kFlagCount);
    const Deadline deadline = Deadline::After(env.deadline - absl::Now());
    const Capabilities& c = t.caps();
    const Step* unbounded = UnboundedStep(s);
    const Step* knock = c.multi_writer ? UnboundedStep(s, kKnockActor) : nullptr;
    const Step* send_knock = SendKnockable(c) ? UnboundedStep(s, kKnockSendActor) : nullptr;
    SharedFlags knock_flags(kKnockerClosed + kKnockers);
    SharedFlags send_knock_flags(kKnockerClosed + kKnockers);
    Actor writer{"writer", Role::kWriter, [&](std::unique_ptr<End>& end) -> std::string {
                   const std::vector<std::byte> buf = unbounded::SleeperMessage(c);
                   if (std::string e =
                           WriteUnbounded(*end, buf, c, unit, unbounded, nullptr, flags, deadline);
                       !e.empty()) {
                     return e;
                   }
                   // Holds its end open (so no end of stream) until the reader is done.
                   if (!flags.WaitFor(kReaderDone, deadline)) return "the reader never finished";
                   if (send_knock != nullptr) {
                     std::string e = KnockedSend(*end, c, *send_knock, bound_of(*send_knock),
                                                 slack_of(bound_of(*send_knock)), send_knock_flags);
                     if (std::string k = KnocksOver(send_knock_flags, true, deadline); e.empty()) {
                       e = k;
                     }
                     if (!e.empty()) return e;
                   }
                   if (!flags.WaitFor(kReaderClosed, deadline)) return "the reader never closed";
                   return SendsAfterClose(*end, buf, s, unit, bound_of, slack_of);
                 }};
    Actor reader{
        "reader", Role::kReader, [&](std::unique_ptr<End>& end) -> std::string {
          std::vector<std::byte> buf(RecvBufferSize(c));
          std::string e = NeverWaits("a receive on the empty channel", unit, [&] {
            size_t n = 0;
            return end->Recv(buf, &n, 0);
          });
          for (const Step& st : s.steps) {
            if (st.op != Op::kWait || st.actor != 0 || !e.empty()) continue;
            e = EmptyReceive(*end, buf, bound_of(st), slack_of(bound_of(st)),
                             absl::StrFormat("a %d-unit receive on an empty channel", st.size));
          }
          if (unbounded != nullptr) {
            std::string u = ReceiveUnbounded(*end, buf, c, unbounded->size, !e.empty(), flags);
            if (e.empty()) e = u;
          }
          if (knock != nullptr && e.empty()) {
            e = KnockedReceive(*end, buf, *knock, bound_of(*knock), slack_of(bound_of(*knock)),
                               knock_flags);
          }
          if (std::string k = KnocksOver(knock_flags, knock != nullptr, deadline); e.empty()) {
            e = k;
          }
          flags.Raise(kReaderDone);
          if (send_knock != nullptr) AwaitKnockedSend(send_knock_flags, deadline);
          end.reset();
          flags.Raise(kReaderClosed);
          return e;
        }};
    std::vector<Actor> actors = {writer, reader};
    if (knock != nullptr) AddKnockers(actors, knock_flags, bound_of(*knock), kReaderActor);
    if (send_knock != nullptr) {
      AddKnockers(actors, send_knock_flags, bound_of(*send_knock), kWriterActor);
    }
    return RunActors(t, env, std::move(actors));
  }

  // The writer's calls once the reader has closed: one with timeout 0, which
  // never waits, then the scenario's bounded sends, each on time (any
  // result).
  static std::string SendsAfterClose(
      End& end, std::span<const std::byte> buf, const Scenario& s, absl::Duration unit,
      const std::function<absl::Duration(const Step&)>& bound_of,
      const std::function<absl::Duration(absl::Duration)>& slack_of) {
    if (std::string e = NeverWaits("a send after the reader closed", unit,
                                   [&] {
                                     size_t n = 0;
                                     return end.Send(buf, &n, 0);
                                   });
        !e.empty()) {
      return e;
    }
    for (const Step& st : s.steps) {
      if (st.op != Op::kWait || st.actor != 1) continue;
      const absl::Duration bound = bound_of(st);
      std::string e = Judge(absl::StrFormat("a %d-unit send after the reader closed", st.size),
                            bound, slack_of(bound), false, [&] {
                              size_t n = 0;
                              return end.Send(buf, &n, Ms(bound));
                            });
      if (!e.empty()) return e;
    }
    return "";
  }

  // The reader, while the writer sends into the full channel: open, reading
  // nothing, until that send is over (its last knocker closes during its
  // last try) and its knockers have closed (a FIFO's writer opens only
  // while a reader is there).
  static void AwaitKnockedSend(SharedFlags& send_knock_flags, const Deadline& deadline) {
    (void)send_knock_flags.WaitFor(kKnockOver, deadline);
    for (size_t i = 0; i < kKnockers; ++i) {
      (void)send_knock_flags.WaitFor(kKnockerClosed + i, deadline);
    }
  }

  // Where a send can be made to wait for room that never comes while
  // writers knock: several writers, a channel that refuses past a bound
  // (CanFill: not a counter, whose room is its largest value).
  static bool SendKnockable(const Capabilities& c) { return c.multi_writer && CanFill(c); }

  // The knockers of a knock step bounded by `bound`, whose sleeper is actor
  // `sleeper`: two knock at once in the first try, and one at 7/8 of the
  // bound in each try; writers numbered on from those in `actors`.
  static void AddKnockers(std::vector<Actor>& actors, SharedFlags& knock_flags,
                          absl::Duration bound, size_t sleeper) {
    const size_t first = actors.size();  // the writer and reader are 0 and 1
    for (size_t i = 0; i < kKnockers; ++i) {
      actors.push_back(i < 2 ? Knocker(knock_flags, i, 0, absl::ZeroDuration(), sleeper, first + i)
                             : Knocker(knock_flags, i, i - 2, bound * 7 / 8, sleeper, first + i));
    }
  }

  // The knock step's send: the writer fills the channel with sends of
  // timeout 0, then sends into it with `bound`, judged (any result, on
  // time); each try raises its flag in knock_flags first, for its
  // knockers. "" where the channel never filled.
  static std::string KnockedSend(End& end, const Capabilities& c, const Step& knock,
                                 absl::Duration bound, absl::Duration slack,
                                 SharedFlags& knock_flags) {
    const std::vector<std::byte> msg = unbounded::FillerMessage(c);
    const int filled = FillWithoutWaiting(end, c, msg);
    if (filled == 0) return "";
    if (filled != -EAGAIN) {
      return absl::StrCat("filling the channel with sends of timeout 0: ", Errno(filled));
    }
    size_t tries = 0;
    return Judge(absl::StrFormat("a %d-unit send into the full channel while more writers opened "
                                 "their ends and closed them (at once, and at 7/8 of it)",
                                 knock.size),
                 bound, slack, false, [&] {
                   knock_flags.Raise(std::min<size_t>(tries++, kKnockOver - 1));
                   size_t n = 0;
                   return end.Send(msg, &n, Ms(bound));
                 });
  }

  // The reader, once the knock step is over (or never came, or a failure
  // came first): no knocker waits for a try then; with knockers, "" once
  // each has closed its end.
  static std::string KnocksOver(SharedFlags& knock_flags, bool knockers, const Deadline& d) {
    knock_flags.Raise(kKnockOver);
    for (size_t k = 0; k < kKnockOver; ++k) knock_flags.Raise(k);
    for (size_t i = 0; knockers && i < kKnockers; ++i) {
      if (!knock_flags.WaitFor(kKnockerClosed + i, d)) {
        return absl::StrFormat("knocker %d never opened and closed its end", i + 1);
      }
    }
    return "";
  }

  // The knock step's receive, judged: each try raises its flag in
  // knock_flags first, for its knockers.
  static std::string KnockedReceive(End& end, std::vector<std::byte>& buf, const Step& knock,
                                    absl::Duration bound, absl::Duration slack,
                                    SharedFlags& knock_flags) {
    size_t tries = 0;
    return EmptyReceive(end, buf, bound, slack,
                        absl::StrFormat("a %d-unit receive on an empty channel while more writers "
                                        "opened their ends and closed them (at once, and at 7/8 "
                                        "of it)",
                                        knock.size),
                        [&] { knock_flags.Raise(std::min<size_t>(tries++, kKnockOver - 1)); });
  }

  // A receive on the empty channel bounded by `bound`, judged (it can only
  // time out); `before_try`, if given, runs before each try of it.
  static std::string EmptyReceive(End& end, std::vector<std::byte>& buf, absl::Duration bound,
                                  absl::Duration slack, const std::string& what,
                                  const std::function<void()>& before_try = nullptr) {
    return Judge(what, bound, slack, true, [&] {
      if (before_try) before_try();
      size_t n = 0;
      return end.Recv(buf, &n, Ms(bound));
    });
  }

  // Knocker i, a late writer (writer `number`) that opens its end once actor
  // `sleeper` sleeps in try `try_` of the knock step's call, `after` later
  // (or once that is over), and closes it at once.
  static Actor Knocker(SharedFlags& knock_flags, size_t i, size_t try_, absl::Duration after,
                       size_t sleeper, size_t number) {
    Actor knocker{absl::StrCat("writer ", number), Role::kWriter,
                  [&knock_flags, i](std::unique_ptr<End>& end) -> std::string {
                    end.reset();
                    knock_flags.Raise(kKnockerClosed + i);
                    return "";
                  }};
    knocker.before_open = [&knock_flags, try_, after, sleeper](const ActorPids& pids,
                                                               const Deadline& d) {
      if (!knock_flags.WaitFor(try_, d) || knock_flags.IsRaised(kKnockOver)) return;
      pids.AwaitAsleep(sleeper, d);
      // The time is the property's: a knock near the end of the wait.
      if (after > absl::ZeroDuration()) {
        const Deadline knock = Deadline::After(after);
        (void)knock_flags.WaitFor(kKnockOver, knock.when() < d.when() ? knock : d);
      }
    };
    return knocker;
  }
};
IPCSPEC_REGISTER_PROPERTY(TimeoutProperty, "G-TIMEOUT",
                          {.applies = EveryTransport, .examples = 12});

}  // namespace g_timeout
}  // namespace
}  // namespace ipcspec::props
