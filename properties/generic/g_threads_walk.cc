// G-THREADS-WALK: two ends of one process, each used by a thread of its own,
// do not share what a send keeps between its system calls: a send held
// between any two of them while the other end's send runs whole still
// completes, and both messages arrive whole and once.
//
// A transport may keep, for the length of a send, something it named or
// sized after the process rather than the end: a temporary file or a slot
// named after the pid, a static staging buffer, a process-wide flag that
// says a send is under way. Two ends of one process then use it at once,
// and one send tramples the other's, or fails on what the other left (a
// name taken, -EEXIST). plugin.h promises the opposite: without
// ONE_END_PER_PROCESS a process may hold any ends, each independent of the
// others, and two of its threads may use two ends at once.
// G-MULTI-WRITER's layout with two writer threads
// overlaps their sends only where the scheduler lets it, which a loaded
// machine may never do.
//
// This property puts the overlap there. Writers 1 and 2 are two threads of
// one process, each with an end of its own. Writer 1 sends under a call gate
// (support/call_gate.h) that holds it at the entry of its system call i;
// while it is held writer 2 sends a message whole (or until it sleeps,
// waiting perhaps for a lock the held send holds: the hold then lets go).
// Then writer 1's send goes on. The reader receives both. The steps walk
// i = 0, 1, 2, ...: every gap between two system calls of the send. The
// walk ends at the first i the send never reaches. A first round held
// nowhere comes before the walk, so that what a send does only once is
// done.
//
// The oracle for each capability class:
//   messages, reliable     both sends return 0 within the deliver bound,
//                          and the reader gets both messages of the round,
//                          each whole and once, in either order
//   lossy                  both sends return 0; what arrives is whole, of
//                          this round or one before, and never twice
//   byte stream            reliable with atomic_write of the message size
//                          (16 bytes, or atomic_write if less): the round's
//                          bytes are the two writes, whole, in either
//                          order; otherwise does not apply (writes may
//                          interleave, or a loss cuts them)
//   counter                does not apply: a sum keeps no writer's share
//   ONE_END_PER_PROCESS,   does not apply: no process holds two ends, or no
//   no MULTI_WRITER        second writer
//   capacity               the reader receives as the round is sent, so
//                          one slot is enough
//   peer-close, duplex,    change nothing: the writers close only after the
//   realtime               walk, and nothing here is about time
//
// It needs seccomp user notification with WAIT_KILLABLE_RECV (Linux 5.19):
// without it the property does not apply.
#include <unistd.h>

#include <atomic>
#include <limits>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/generic/generic_property.h"
#include "properties/generic/wakeup.h"
#include "properties/support/call_gate.h"
#include "properties/support/common.h"
#include "properties/support/run_mark.h"

namespace ipcspec::props::wakeup {
namespace {
namespace g_threads_walk {

constexpr int kCalls = 16;  // the system calls of one send walked
constexpr int kTries = 3;   // as WalkRounds counts them
constexpr int kMaxRounds = kCalls * kTries + 1;

uint64_t MessageSize(const Capabilities& c) {
  uint64_t size = 16;
  if (c.max_message > 0) size = std::min(size, c.max_message);
  if (c.framing == Framing::kStream) size = std::min<uint64_t>(size, c.atomic_write);
  return size;
}

// The rounds as the reader follows them: writer 1 raises Start(r) as round r
// begins, Sent(r) once both sends of the round have returned, and
// Start(rounds) with `over` once the walk has ended.
class Rounds {
 public:
  Rounds() : flags_(2 * kMaxRounds + 2) {}
  void Start(int r) { flags_.Raise(static_cast<size_t>(r)); }
  void Sent(int r) { flags_.Raise(static_cast<size_t>(kMaxRounds + 1 + r)); }
  bool AwaitSent(int r, const Deadline& d) const {
    return flags_.WaitFor(static_cast<size_t>(kMaxRounds + 1 + r), d);
  }
  void Over(int rounds) {
    flags_.Counter(kOver).store(1);
    flags_.Raise(static_cast<size_t>(rounds));
  }
  // Until round r starts (true) or the walk ended before it (false).
  bool AwaitStart(int r, const Deadline& d) const {
    return flags_.WaitFor(static_cast<size_t>(r), d) && flags_.Counter(kOver).load() == 0;
  }

 private:
  static constexpr size_t kOver = 0;
  SharedFlags flags_;
};

// What the threads share (one process): writer 2's send result per round.
struct Shared {
  std::atomic<int> rc[kMaxRounds] = {};
};

class Writer1 {
 public:
  Writer1(End& end, const Capabilities& c, GapRounds& race, Rounds& rounds, Shared& shared,
          int deliver_ms)
      : end_(end),
        race_(race),
        rounds_(rounds),
        shared_(shared),
        deliver_ms_(deliver_ms),
        size_(MessageSize(c)) {}

  GapRound Play(CallGate& gate, int r, int index) {
    GapRound out;
    rounds_.Start(r);
    const std::vector<std::byte> msg = Payload(1, static_cast<uint64_t>(r), size_);
    race_.Arm(gate, r, index, deliver_ms_);
    const int rc = SendPayload(msg);
    const int64_t returned_ns = MonotonicNs();
    out.calls = gate.Disarm();
    out.held = out.calls.held;
    out.late_us = race_.LateUs(r, RunMark{returned_ns, RunMark::Stop().queued_ns});
    const std::string where = out.held
                                  ? absl::StrFormat("held at the entry of its system call %d (%s)",
                                                    index + 1, out.calls.NameOf(index))
                                  : std::string("not held");
    if (out.late_us < 0) {
      out.err = absl::StrFormat("round %d: writer 2 never sent", r + 1);
    } else if (rc != 0) {
      out.err = absl::StrFormat(
          "round %d: writer 1's send, %s while writer 2 sent on its own end, gave %s. The "
          "send's system calls: %s",
          r + 1, where, Errno(rc), out.calls.Names());
    } else if (const int rc2 = shared_.rc[r].load(); rc2 != 0) {
      out.err = absl::StrFormat(
          "round %d: writer 2's send on its own end, made while writer 1's send was %s, gave "
          "%s: the two ends of one process share what a send keeps. Writer 1's send's system "
          "calls: %s",
          r + 1, where, Errno(rc2), out.calls.Names());
    }
    // Both messages are owed only now; after a failure the reader's wait
    // for them is abandoned with this process's flags.
    if (out.err.empty()) rounds_.Sent(r);
    return out;
  }

 private:
  int SendPayload(const std::vector<std::byte>& msg) {
    size_t n = 0;
    const int rc = end_.Send(msg, &n, deliver_ms_);
    return rc == 0 && n != msg.size() ? -EIO : rc;  // a stream's send of atomic_write is whole
  }

  End& end_;
  GapRounds& race_;
  Rounds& rounds_;
  Shared& shared_;
  int deliver_ms_;
  uint64_t size_;
};

// Writer 2: a send in each round, while writer 1's is held.
std::string SendInTheGaps(End& end, const Capabilities& c, GapRounds& race, Shared& shared,
                          int deliver_ms) {
  race.PublishActor();
  const uint64_t size = MessageSize(c);
  for (int r = 0; r < kMaxRounds; ++r) {
    race.AwaitHoldOrSleep(r, deliver_ms / 2);
    const std::vector<std::byte> msg = Payload(2, static_cast<uint64_t>(r), size);
    size_t n = 0;
    int rc = end.Send(msg, &n, deliver_ms);
    if (rc == 0 && n != msg.size()) rc = -EIO;
    shared.rc[r].store(rc);
    race.Acted(r);
    if (race.Stopped(r)) break;
  }
  return "";
}

// The reader: each round's two messages as they come.
class Reader {
 public:
  Reader(End& end, const Capabilities& c, const Waits& waits)
      : end_(end),
        c_(c),
        deliver_ms_(waits.deliver_ms),
        quiet_ms_(waits.quiet_ms),
        size_(MessageSize(c)),
        buf_(std::max<uint64_t>(RecvBufferSize(c), 2 * size_)) {}

  // Round r: its first message (a stream: its first bytes) as it comes, so
  // that one slot of room is enough; the rest once both sends have
  // returned, so that a send that failed is the verdict at once, not a
  // receive that waits for its message.
  std::string Round(int r, const Rounds& rounds, const Deadline& d) {
    const std::vector<Sent> due = {{1, static_cast<uint64_t>(r), size_},
                                   {2, static_cast<uint64_t>(r), size_}};
    const bool stream = c_.framing == Framing::kStream;
    const size_t whole = stream ? 2 * size_ : 2;  // bytes, or messages
    for (size_t got = 0, k = 0; got < whole; ++k) {
      if (k == 1 && !rounds.AwaitSent(r, d)) {
        return absl::StrFormat("round %d: the writers' sends never returned", r + 1);
      }
      size_t n = 0;
      const std::span<std::byte> into =
          stream ? std::span(buf_).subspan(got, whole - got) : std::span(buf_);
      // Lossy: the second is not owed, and both sends have returned.
      const int rc = end_.Recv(into, &n, k == 0 || c_.reliable ? deliver_ms_ : quiet_ms_);
      // Lost; or, once both were lost in the walk's last round, END.
      if (!c_.reliable && (rc == -ETIMEDOUT || rc == -EAGAIN || rc == kEnd)) return "";
      if (rc != 0) {
        return absl::StrFormat("round %d: receiving %s: %s", r + 1,
                               stream ? absl::StrFormat("byte %d of the round's %d", got, whole)
                                      : std::string(got == 0 ? "the first" : "the second"),
                               Errno(rc));
      }
      if (!stream) {
        if (std::string e = Take(r, std::span(buf_).first(n), due); !e.empty()) return e;
      }
      got += stream ? n : 1;
    }
    for (size_t k = 0; stream && k < 2; ++k) {
      if (std::string e = Take(r, std::span(buf_).subspan(k * size_, size_), due); !e.empty()) {
        return e;
      }
    }
    return "";
  }

 private:
  // One message of round r: one of `due` (lossy: of a round up to r), not
  // seen before.
  std::string Take(int r, std::span<const std::byte> got, const std::vector<Sent>& due) {
    std::vector<Sent> may = due;
    for (int before = 0; !c_.reliable && before < r; ++before) {
      may.push_back({1, static_cast<uint64_t>(before), size_});
      may.push_back({2, static_cast<uint64_t>(before), size_});
    }
    const std::optional<Sent> s = Identify(got, may);
    if (!s) {
      return absl::StrFormat("round %d: received %d bytes that are neither writer's message: %s",
                             r + 1, got.size(),
                             c_.framing == Framing::kStream ? "the two writes were mixed"
                                                            : "one send trampled the other's");
    }
    const uint64_t key = s->msg * 2 + s->writer - 1;
    if (!seen_.insert(key).second) {
      return absl::StrFormat("round %d: %s received twice", r + 1, Name(*s));
    }
    return "";
  }

  End& end_;
  const Capabilities& c_;
  int deliver_ms_, quiet_ms_;
  uint64_t size_;
  std::vector<std::byte> buf_;
  std::set<uint64_t> seen_;
};

class ThreadsWalkProperty final : public CallWalkProperty {
 public:
  ThreadsWalkProperty() : CallWalkProperty(kCalls) {}

 private:
  Applicability AppliesToCaps(const Capabilities& c) const override {
    if (c.model == ModelClass::kCounter)
      return Needs(false, "model=counter (a sum keeps no writer's share)");
    if (!c.multi_writer) return Needs(false, "multi_writer=false (no second writer)");
    if (c.one_end_per_process)
      return Needs(false, "one_end_per_process (no process holds two ends)");
    if (c.framing == Framing::kStream && (!c.reliable || c.atomic_write == 0)) {
      return Needs(false, "framing=stream without reliable and atomic_write (writes may mix)");
    }
    return CallGate::Applies();
  }
  std::string DescribeCall(int index) const override {
    return absl::StrFormat(
        "writer 2 sends on its own end while writer 1's send, on a thread of the same process, is "
        "held at the entry of its system call %d",
        index + 1);
  }
  Verdict Walk(const Transport& t, const CaseEnv& env,
               const std::vector<int>& indices) const override {
    const Capabilities& c = t.caps();
    const int deliver = Waits::For(env).deliver_ms;
    const Deadline deadline = Deadline::After(env.deadline - absl::Now());
    GapRounds race(kMaxRounds, deadline);
    Rounds rounds;
    Shared shared;  // copied into the writers' process by its fork
    Actor writers{"writers 1 and 2's process", Role::kWriter, nullptr};
    writers.ends = {{0, Role::kWriter}, {0, Role::kWriter, /*own_thread=*/true}};
    writers.with_ends = [&](std::vector<std::unique_ptr<End>>& ends) {
      Writer1 writer1(*ends[0], c, race, rounds, shared, deliver);
      int played = 0;
      std::string e = WalkRounds(
          race, "writer 1", indices, kCalls * kTries, std::numeric_limits<int64_t>::max(),
          [&](CallGate& gate, int r, int index) {
            played = r + 1;
            return writer1.Play(gate, r, index);
          },
          [](int, const std::vector<GapRound>&, int) { return std::string(); });
      rounds.Over(played);
      return e;
    };
    writers.in_thread = [&](std::unique_ptr<End>& end) {
      std::string e = SendInTheGaps(*end, c, race, shared, deliver);
      return e.empty() ? e : absl::StrCat("writer 2: ", e);
    };
    Actor reader{"reader", Role::kReader, [&](std::unique_ptr<End>& end) {
                   Reader rd(*end, c, Waits::For(env));
                   for (int r = 0; rounds.AwaitStart(r, deadline); ++r) {
                     if (std::string e = rd.Round(r, rounds, deadline); !e.empty()) return e;
                   }
                   return std::string();
                 }};
    return RunActors(t, env, {writers, reader});
  }
};
IPCSPEC_REGISTER_PROPERTY(ThreadsWalkProperty, "G-THREADS-WALK", {.examples = 1});

}  // namespace g_threads_walk
}  // namespace
}  // namespace ipcspec::props::wakeup
