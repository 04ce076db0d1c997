// G-WRITER-CRASH: one of two writers killed by SIGKILL inside a send: the
// other writer's sends still complete and arrive, and the channel still
// ends.
//
// G-PEER-CRASH kills a channel's only writer and asks what its reader gets.
// Where several writers share a channel, a death inside a send can also stop
// the others: a lock among writers that the kernel does not give back when
// its holder dies (an O_EXCL lock file, a pid or flag in shared memory, a
// process-shared mutex that is not robust), a slot reserved and never
// published, a count of live writers that only a close takes down. Here
// writer 1 sends an endless sequence while the reader drains the channel,
// and is killed inside a send (kill_in_send.h): at the moment its
// transport's own code first reads the bytes of message `before`, where a
// lock is held or a slot reserved; or, where no trap can be armed or the
// transport's code never reads them, at a moment it runs inside a send.
// Then writer 2 sends its messages, each send bounded by the deliver bound,
// and closes its end. Writer 2's messages are 8 bytes or more, so that none
// can pass for one of writer 1's (where messages are shorter, writer 1's
// are shorter than writer 2's).
//
// The oracle for each capability class:
//   peer-close (a      a death is a close the transport promises to see:
//   death counts as    writer 2's sends complete within their bound (one
//   a close)           that times out, or hangs into the watchdog, waits
//                      for what the dead writer held), and END comes to
//                      the reader's receives after writer 2's close, at
//                      once, whatever their timeout (parameter 2: the
//                      deliver bound, 0 asked again for up to that bound,
//                      or -1); a death may also be reported once as
//                      -ECONNRESET
//   ... and reliable   writer 2's messages all arrive, and every send of
//                      writer 1 that completed before the kill; at most the
//                      one in progress on top
//   lossy, no peer-    nothing is promised after a death: writer 2 stops at
//   close, or          a send that times out (on time: one that overruns its
//   CLOSE_ONLY         bound is a hang, as everywhere), nothing is owed, and
//                      the reader stops at a quiet receive once writer 2 is
//                      done; what comes is still checked as below
//   capacity leaked    in a third of the examples writer 2 then sends a lap:
//   by the death       the channel's capacity (or max_queued) over again in
//                      8-byte messages as the reader takes them, each within
//                      the deliver bound (a cell the dead writer claimed and
//                      the reader skipped without freeing fills the channel
//                      for good a lap later), then one of max_message where
//                      an empty channel must take it (room counted in bytes
//                      that the dead writer reserved and nobody gave back)
//   ordered or not     each writer's messages in its own order, or in any,
//                      each whole and once
//   byte stream        byte counts only (a death may cut a write, and the
//                      writes can then not be told apart): at least what
//                      both writers' completed sends moved (where owed), at
//                      most one send of writer 1 more
//   counter            not checked: a sum keeps no writer's share apart
//   capacity           any: writer 1 may die asleep on a full channel
//   duplex             the writers' ends speak (G-DUPLEX: both ends)
//   realtime or not    alike: no clock but the deliver and quiet bounds
#include <unistd.h>

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/generic/endless.h"
#include "properties/generic/generic_property.h"
#include "properties/generic/kill_in_send.h"
#include "properties/support/common.h"

namespace ipcspec::props {
namespace {
namespace g_writer_crash {

// Flags: writer 1 is about to send message `before` (the kill may come);
// it was killed; writer 2 has sent all.
constexpr size_t kFlowing = 0, kKilled = 1, kSurvivorDone = 2;
enum When : uint64_t { kRunning = 0, kTouching = 1 };
constexpr std::string_view kWhen[] = {
    "writer 1 is killed while it runs inside a send",
    "writer 1 is killed as its transport first reads the bytes of its message after those",
};
constexpr uint64_t kVictimSends = 4096;  // writer 1's sends at most

// Writer 1: its endless sequence, until killed.
std::string SendUntilKilled(End& end, const Endless& seq, uint64_t before, uint64_t trap_at,
                            SharedFlags& flags, KillInSend& kill, const Deadline& deadline) {
  std::string e = kill.SendAll(end, seq, kVictimSends, trap_at, deadline, [&](uint64_t i) {
    if (i == before) flags.Raise(kFlowing);
  });
  if (!e.empty()) return e;
  flags.Raise(kFlowing);
  flags.WaitFor(kKilled, deadline);  // and dies here
  return "";
}

// Whether a transport promises to go on after a writer's death: it counts
// the death as a close (PEER_CLOSE without CLOSE_ONLY), so END after the
// other writer's close is owed, and all it sent (reliable).
bool SurvivesADeath(const Capabilities& c) { return c.peer_close && c.end_on_death; }
bool OwesAfterADeath(const Capabilities& c) { return c.reliable && SurvivesADeath(c); }

// Writer 2: its messages once writer 1 is dead, each send bounded. Where a
// death is not promised to be survived, a send that times out (on time)
// ends them.
std::string SendAfterTheKill(End& end, const Capabilities& c, const std::vector<Sent>& msgs,
                             const Waits& waits, SharedFlags& flags, const Deadline& deadline) {
  if (!flags.WaitFor(kKilled, deadline)) return "";  // the case failed before the kill
  for (const Sent& m : msgs) {
    const std::vector<std::byte> data = Payload(m.writer, m.msg, m.size);
    for (size_t done = 0; done < data.size() || (data.empty() && done == 0);) {
      size_t n = 0;
      const int rc = end.Send(std::span(data).subspan(done), &n, waits.deliver_ms);
      if ((rc == -ETIMEDOUT || rc == -EAGAIN) && !SurvivesADeath(c)) {
        flags.Raise(kSurvivorDone);
        return "";
      }
      if (rc != 0 || (c.framing == Framing::kMessage && n != data.size())) {
        return absl::StrFormat(
            "after writer 1 was killed inside a send: sending %s: %s%s: a send of the writer "
            "left waits for what the dead one held (a lock, a slot, a count of writers)",
            Name(m), Errno(rc), rc == 0 ? absl::StrFormat(", %d bytes taken", n) : "");
      }
      done += n;
      if (data.empty()) break;
    }
  }
  flags.Raise(kSurvivorDone);
  return "";
}

// The reader: both writers' messages as they come, then END.
class Reader {
 public:
  // `end_ms`: the timeout of the receives END is due to (OwedCallTimeout).
  Reader(End& end, const Capabilities& c, Endless& victim, const KillInSend& kill,
         const std::vector<Sent>& survivor, const Waits& waits, int end_ms, SharedFlags& flags,
         const Deadline& deadline)
      : end_(end),
        c_(c),
        victim_(victim),
        kill_(kill),
        survivor_(survivor),
        waits_(waits),
        end_ms_(end_ms),
        flags_(flags),
        deadline_(deadline),
        survivor_seen_(survivor.size(), false),
        buf_(std::max<uint64_t>(RecvBufferSize(c), 65536)) {
    for (const Sent& m : survivor) survivor_bytes_ += m.size;
  }

  std::string Run() {
    absl::Time idle_since = absl::Now();
    for (;;) {
      const bool killed = flags_.IsRaised(kKilled);
      const bool done = flags_.IsRaised(kSurvivorDone);
      // Reliable messages: all that is owed has come (writer 1's counts are
      // final once it is dead), so writer 2 is done or about to be. A
      // stream's count may be reached early (by the part of a write writer
      // 1 died in), and a lossy channel owes nothing: writer 2 says it is
      // done, and till then they are looked at a quiet bound at a time.
      const bool owed = Owes() && (!killed || !OwedNow().empty());
      if (Owes() && !owed && (done || !Stream())) {
        // Writer 2's last send may not have returned yet: the reader's
        // end stays open until it has (as Traffic's does).
        if (!done && !flags_.WaitFor(kSurvivorDone, deadline_)) return "";
        return AwaitEnd();
      }
      if (!Owes() && done) return QuietOrEnd();
      // A stream whose count is reached while writer 2 still sends owes
      // only END, which may come to the next receive as writer 2 closes:
      // that receive has the timeout drawn for END (with 0, a pause for
      // writer 2's news follows each -EAGAIN).
      const bool only_end = Owes() && !owed;
      const int timeout = only_end && end_ms_ <= 0 ? end_ms_
                          : owed                   ? waits_.deliver_ms
                                                   : waits_.quiet_ms;
      size_t n = 0;
      const int rc = end_.Recv(buf_, &n, timeout);
      if (rc == 0) {
        idle_since = absl::Now();
        if (std::string e = OnData(std::span(buf_).first(n), killed); !e.empty()) return e;
        continue;
      }
      if (rc == -ECONNRESET && !reset_seen_) {
        reset_seen_ = true;  // the death, said once
        continue;
      }
      if (rc == -ETIMEDOUT || rc == -EAGAIN) {
        if (timeout == 0 && !flags_.IsRaised(kSurvivorDone)) {
          flags_.WaitFor(kSurvivorDone, Deadline::FromTimeoutMs(waits_.quiet_ms));
        }
        if (!flags_.IsRaised(kSurvivorDone)) {
          // Nothing came for a deliver bound while writer 2 was sending:
          // its send is stuck, and its verdict is the one.
          if (killed && absl::Now() - idle_since >= absl::Milliseconds(waits_.deliver_ms)) {
            return "";
          }
          continue;
        }
        if (!Owes() || OwedNow().empty()) continue;  // done now
        return absl::StrCat("after writer 1 was killed and writer 2 had sent all: ", OwedNow(),
                            " never came (", Errno(rc), " after ", waits_.deliver_ms, " ms)");
      }
      if (rc == kEnd) {
        // Writer 2 may have finished and closed since `done` was read.
        if (!flags_.IsRaised(kSurvivorDone))
          return "end of stream while writer 2 was still sending";
        if (Owed()) return absl::StrCat("end of stream while ", OwedNow(), " was owed");
        return "";
      }
      return absl::StrCat("receive: ", Errno(rc));
    }
  }

 private:
  bool Stream() const { return c_.framing == Framing::kStream; }
  bool Owes() const { return OwesAfterADeath(c_); }
  uint64_t VictimSent() const { return kill_.Sent(); }
  uint64_t VictimBytes() const { return kill_.SentBytes(); }

  // Whether something a reliable transport owes has not come (writer 1's
  // counts are final once writer 2 is done: it starts after the kill).
  bool Owed() const { return Owes() && !OwedNow().empty(); }
  std::string OwedNow() const {
    if (Stream()) {
      const uint64_t want = VictimBytes() + survivor_bytes_;
      return bytes_ < want
                 ? absl::StrFormat("stream byte %d of the %d both writers sent", bytes_, want)
                 : "";
    }
    for (size_t k = 0; k < survivor_.size(); ++k) {
      if (!survivor_seen_[k]) return Name(survivor_[k]);
    }
    if (!victim_.Covers(VictimSent(), VictimBytes(), "before the kill").empty()) {
      return Name(victim_.Nth(victim_.received()));
    }
    return "";
  }

  std::string OnData(std::span<const std::byte> got, bool killed) {
    if (Stream()) {
      bytes_ += got.size();
      // At most one send of writer 1 more than completed (its count read
      // after the bytes came).
      const uint64_t most = victim_.BytesBefore(VictimSent() + 1) + survivor_bytes_;
      if (bytes_ > most) {
        return absl::StrFormat("%d stream bytes arrived; at most %d were sent", bytes_, most);
      }
      return "";
    }
    if (std::optional<std::string> e = OnSurvivors(got)) return *e;
    if (std::string e = victim_.OnMessage(got, VictimSent(), killed); !e.empty()) {
      return absl::StrCat("writer 1's messages: ", e);
    }
    return "";
  }

  // nullopt when `got` is none of writer 2's messages; else "" or what is
  // wrong with it there.
  std::optional<std::string> OnSurvivors(std::span<const std::byte> got) {
    // The next one first: a lap is a thousand of them.
    if (c_.ordered && next_ < survivor_.size() && !survivor_seen_[next_] &&
        IsPayload(got, survivor_[next_])) {
      survivor_seen_[next_++] = true;
      return "";
    }
    for (size_t k = 0; k < survivor_.size(); ++k) {
      if (!IsPayload(got, survivor_[k])) continue;
      if (survivor_seen_[k]) {
        return absl::StrFormat("%s arrived twice", Name(survivor_[k]));
      }
      if (c_.ordered && k > next_ && Owes()) {
        return absl::StrFormat("%s arrived where %s was due (lost, or the two reordered)",
                               Name(survivor_[k]), Name(survivor_[next_]));
      }
      if (c_.ordered && k < next_) {
        return absl::StrFormat("%s arrived after %s (reordered)", Name(survivor_[k]),
                               Name(survivor_[next_ - 1]));
      }
      survivor_seen_[k] = true;
      next_ = std::max(next_, k + 1);
      return "";
    }
    return std::nullopt;
  }

  // Reliable: what was owed has come; END follows writer 2's close.
  std::string AwaitEnd() {
    if (!SurvivesADeath(c_)) return "";
    Backoff again(absl::Milliseconds(waits_.deliver_ms));  // for end_ms_ 0
    for (;;) {
      size_t n = 0;
      const int rc = end_.Recv(buf_, &n, end_ms_);
      if (rc == kEnd) return "";
      if (rc == -ECONNRESET && !reset_seen_) {
        reset_seen_ = true;
        continue;
      }
      // A non-blocking receive is asked again, later each time.
      if (rc == -EAGAIN && end_ms_ == 0 && again.Next()) continue;
      if (rc != 0) {
        return absl::StrFormat(
            "once writer 2 had closed and writer 1 was dead, a receive with timeout %s gave %s, "
            "not END%s: the dead writer is still counted open",
            SayCallTimeout(end_ms_), Errno(rc),
            end_ms_ == 0 ? absl::StrFormat(" (asked again for %s)", again.SayWaited()) : "");
      }
      if (std::string e = OnData(std::span(buf_).first(n), true); !e.empty()) return e;
    }
  }

  // Lossy: nothing owed; what still comes is checked until a quiet receive,
  // or END.
  std::string QuietOrEnd() {
    for (;;) {
      size_t n = 0;
      const int rc = end_.Recv(buf_, &n, waits_.quiet_ms);
      if (rc == kEnd || rc == -ETIMEDOUT || rc == -EAGAIN) return "";
      if (rc == -ECONNRESET && !reset_seen_) {
        reset_seen_ = true;
        continue;
      }
      if (rc != 0) return absl::StrCat("receive after writer 2 was done: ", Errno(rc));
      if (std::string e = OnData(std::span(buf_).first(n), true); !e.empty()) return e;
    }
  }

  End& end_;
  const Capabilities& c_;
  Endless& victim_;
  const KillInSend& kill_;
  const std::vector<Sent>& survivor_;
  const Waits& waits_;
  const int end_ms_;
  SharedFlags& flags_;
  const Deadline& deadline_;
  std::vector<bool> survivor_seen_;
  size_t next_ = 0;  // past the last of writer 2's messages seen (ordered)
  uint64_t survivor_bytes_ = 0, bytes_ = 0;
  bool reset_seen_ = false;
  std::vector<std::byte> buf_;
};

// Writer 1's: shorter than writer 2's where those are under 8 bytes.
uint64_t VictimSize(const Capabilities& c, uint64_t size) {
  if (c.max_message != 0 && c.max_message < 8) return std::min(size, c.max_message - 1);
  return size;
}

class WriterCrashProperty final : public GenericProperty {
  Applicability AppliesToCaps(const Capabilities& c) const override {
    if (!c.multi_writer) return Needs(false, "multi_writer=false");
    return Needs(c.model != ModelClass::kCounter,
                 "a counter (a sum keeps no writer's share apart)");
  }
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const Capabilities c = t.caps();
    return rc::gen::exec([this, c] {
      // A lap follows a kill at the touch, where a slot or cell is held:
      // what a death leaves behind that a lap finds.
      const bool lap = *UniformBelow(3) == 0;
      std::vector<Step> steps = {
          before_.Step(*rc::gen::inRange<uint64_t>(0, 6)),
          when_.Step(lap ? uint64_t{kTouching} : *rc::gen::inRange<uint64_t>(0, 2))};
      const auto victim = *rc::gen::resize(
          4, rc::gen::nonEmpty(rc::gen::container<std::vector<uint64_t>>(EdgeSize(c))));
      for (size_t i = 0; i < victim.size(); ++i) {
        steps.push_back(Step::Send(1, VictimSize(c, victim[i]), i));
      }
      const auto survivor = *rc::gen::resize(
          16, rc::gen::nonEmpty(rc::gen::container<std::vector<uint64_t>>(EdgeSize(c))));
      for (size_t i = 0; i < survivor.size(); ++i) {
        steps.push_back(Step::Send(2, SurvivorSize(c, survivor[i]), i));
      }
      if (lap) steps.push_back(lap_.Step(true));
      // Only where it is not the default: a shrink leaves the step out.
      if (const uint64_t end_wait = *rc::gen::inRange<uint64_t>(0, std::size(kOwedCallTimeouts));
          SurvivesADeath(c) && end_wait != 0) {
        steps.push_back(end_wait_.Step(end_wait));
      }
      return steps;
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override;

  const Param<uint64_t> before_{this, 0, "writer 1 is killed after %s of its messages", 0};
  const ChoiceParam<uint64_t> when_{this, 1, "%s", kRunning, kWhen};
  const ChoiceParam<uint64_t> end_wait_{this, 2, "the reader asks for the end with timeout %s", 0,
                                        kOwedCallTimeouts};
  const YesNoParam lap_{this, 3,
                        "then writer 2 sends the channel's capacity over again in 8-byte "
                        "messages, as the reader takes them, and one of max_message: %s",
                        false};
};
IPCSPEC_REGISTER_PROPERTY(WriterCrashProperty, "G-WRITER-CRASH", {.examples = 16});

Verdict WriterCrashProperty::Run(const Transport& t, const Scenario& s, const CaseEnv& env) const {
  const Capabilities& c = t.caps();
  const uint64_t before = before_.Of(s);
  const uint64_t when = when_.Of(s);
  std::vector<uint64_t> sizes;
  for (const Sent& m : SendsOf(s, 1)) sizes.push_back(VictimSize(c, m.size));
  Endless victim(c, sizes);
  std::vector<Sent> survivor;
  for (const Sent& m : SendsOf(s, 2)) {
    survivor.push_back({2, survivor.size(), SurvivorSize(c, m.size)});
  }
  for (uint64_t k = 0, n = lap_.Of(s) ? LapMessages(c) : 0; k < n; ++k) {
    survivor.push_back({2, survivor.size(), SurvivorSize(c, 8)});
  }
  if (const uint64_t largest = LargestAfterLap(c); lap_.Of(s) && largest > 0) {
    survivor.push_back({2, survivor.size(), largest});
  }
  const Waits waits = Waits::For(env);
  SharedFlags flags;
  KillInSend kill;
  const Deadline deadline = Deadline::After(env.deadline - absl::Now() - absl::Milliseconds(500));
  Actor writer1{"writer 1", Role::kWriter, [&](std::unique_ptr<End>& end) {
                  return SendUntilKilled(*end, victim, before,
                                         when == kTouching ? before : UINT64_MAX, flags, kill,
                                         deadline);
                }};
  Actor writer2{"writer 2", Role::kWriter, [&](std::unique_ptr<End>& end) {
                  return SendAfterTheKill(*end, c, survivor, waits, flags, deadline);
                }};
  Actor reader{"reader", Role::kReader, [&](std::unique_ptr<End>& end) {
                 return Reader(*end, c, victim, kill, survivor, waits,
                               OwedCallTimeout(end_wait_.Of(s), waits), flags, deadline)
                     .Run();
               }};
  return RunActors(t, env, {writer1, writer2, reader}, [&](ActorControl& control) -> Verdict {
    Verdict v;
    if (when == kTouching && kill.StoppedAtTheTouch(deadline)) {
      v = control.Kill("writer 1");
    } else if (flags.WaitFor(kFlowing, deadline)) {
      v = kill.KillWhileItRuns(control, "writer 1");
    } else {
      return Verdict::Pass();  // an actor failed first: its verdict is the one
    }
    flags.Raise(kKilled);
    return v;
  });
}

}  // namespace g_writer_crash
}  // namespace
}  // namespace ipcspec::props
