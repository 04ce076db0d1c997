// G-INDEPENDENT: two channels of one transport, open at the same time, never
// see each other's traffic. A transport that gives every channel one fixed
// name (a POSIX shm or queue name, a SysV key, a path outside its scratch
// directory) or process-wide state passes every one-channel property, since
// each case has a private IPC namespace and /dev/shm of its own, and then
// mixes the messages of two users of one machine.
//
// Channel 1 carries writer 1's messages to reader 1, channel 2 writer 2's to
// reader 2. The four are processes of their own, and each channel is made in
// a scratch directory of its own.
//
// The oracle for each capability class (generic/oracle.h), per channel:
//   reliable, capacity   lock-step rounds: writer 2 sends its message k, then
//   declared             writer 1 its message k, each into an empty channel
//                        (which always takes one message); then reader 1
//                        receives exactly its writer's message k, then
//                        reader 2 its. Shared state gives reader 1 writer 2's
//                        message every time, not by chance.
//   otherwise            all four run at once; each reader gets what its
//                        class allows from its own writer and nothing from
//                        the other (a lossy transport: end markers)
//   counter              each reader's reads sum to its own writer's
//                        additions (writer 2 adds in the high 32 bits); a
//                        lossy counter has no oracle and is skipped
//   peer-close           END once the reader's own writer closed; without,
//                        a non-blocking receive finds nothing more
//   duplex, realtime     alike: the writer's end speaks; no clock
//
// A parameter (the layout) may have each channel made by a process of its
// own, both forked from the case process before either channel is made, each
// with its own ends' processes as children: a transport that names what it
// makes after what a process inherits (a count of the channels it made, an
// unseeded rand(), a generator seeded before the fork) gives two programs'
// channels one name, which two channels made by one process never show.
//
// The layout also puts both writers in one process and both readers in
// another: in lock-step, or, on a reliable transport that keeps order but
// declares no capacity, round by round in the same order in both processes
// (writer 2's message k, then writer 1's; a send that waits for its reader
// is met by the next receive). A transport that keeps an end's state in
// process-wide variables (a static descriptor, a static reassembly buffer, a
// signal handler one end installs and the other's close removes) passes
// when every end has a process of its own, and mixes or loses the traffic
// of a program that talks over two channels. A fourth layout has both
// writers in one process send at once, each from a thread of its own (the
// contract lets two threads of a process use two ends at once), and both
// readers in another receive at once, each in a thread of its own, all
// four free-running as above: a process-wide buffer a send builds its
// frame in, or a receive reads into before it copies out (to save a
// malloc), mixes the two channels' messages only when two calls overlap,
// so the writers' threads begin their sends k together, and most are
// larger than the channel holds (each is still copying from its buffer
// when the other's begins, and each reader receives in many calls while
// the other does); the readers' threads begin their receives together
// where they can (Meeting), mostly as large as the sends. (Not with
// IPCSPEC_ONE_END_PER_PROCESS, which says a process holds one end of each
// role. Both ends of one channel are never put in one process: a transport
// whose open() waits for its peer, as a blocking FIFO open does, could not
// open them there.)
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "ipcspec/inventory.h"
#include "properties/generic/generic_property.h"
#include "properties/generic/traffic.h"

namespace ipcspec::props {
namespace {
namespace g_independent {

constexpr size_t kTurnsPerRound = 4;  // writer 2, writer 1, reader 1, reader 2
enum Turn : size_t { kWriter2, kWriter1, kReader1, kReader2 };
constexpr std::string_view kTurnNames[] = {"writer 2", "writer 1", "reader 1", "reader 2"};

// Which processes hold the four ends.
enum Layout : uint64_t { kApart, kByRole, kMadeApart, kThreads };
constexpr std::string_view kLayouts[] = {
    "each end is in a process of its own",
    "both writers are in one process, both readers in another",
    "each channel is made by a process of its own, forked before either channel was made, and "
    "each end is in a process of its own",
    "both writers are in one process and send at once, each from a thread of its own; both "
    "readers are in another and receive at once, each in a thread of its own"};

// The ends each process holds, in the order it plays them. Free-running
// (not in lock-step), the readers take the writers' order, so that a send
// that waits for its reader is met by the next receive.
std::vector<std::vector<Turn>> Processes(Layout layout, bool lock_step) {
  if (layout != kByRole) return {{kWriter2}, {kWriter1}, {kReader1}, {kReader2}};  // apart
  if (lock_step) return {{kWriter2, kWriter1}, {kReader1, kReader2}};
  return {{kWriter2, kWriter1}, {kReader2, kReader1}};
}
std::string ProcessName(const std::vector<Turn>& turns) {
  if (turns.size() == 1) return std::string(kTurnNames[turns[0]]);
  return turns[0] == kWriter2 ? "the writers' process" : "the readers' process";
}
// The end a turn uses: channel 1 carries writer 1's messages, channel 2
// writer 2's (channels 0 and 1 of RunActorsOn).
EndOn EndOf(Turn t) {
  const size_t channel = t == kWriter1 || t == kReader1 ? 0 : 1;
  return {channel, t == kWriter1 || t == kWriter2 ? Role::kWriter : Role::kReader};
}

// Whether every message fits an empty channel without blocking, so that the
// rounds can run in lock-step: the declared capacity promises one send of
// min(capacity, max_message) bytes into an empty channel.
bool LockStep(const Capabilities& c) { return c.reliable && c.capacity > 0; }
// Whether, without lock-step, the writers' process can still send round by
// round and the readers' process receive in the same order (writer 2's
// message k, then writer 1's): every message arrives, in order, and a send
// that waits for its reader (a rendezvous) is met by the next receive. A
// counter would sum two rounds' values, so it is never free-running.
bool FreeRunning(const Capabilities& c) {
  return !LockStep(c) && c.reliable && c.model != ModelClass::kCounter &&
         (c.ordered || c.framing == Framing::kStream);
}

// Message sizes: at least 8 bytes where a message that large fits, so that
// the two writers' messages never look alike; in lock-step at most what an
// empty channel is promised to take. The writers' threads (kThreads) run
// free even where lock-step could, and send up to the size limit.
uint64_t MinSize(const Capabilities& c) {
  if (c.model == ModelClass::kCounter) return 8;
  return c.max_message == 0 ? 8 : std::min<uint64_t>(8, c.max_message);
}
uint64_t MaxSize(const Capabilities& c, Layout layout) {
  if (c.model == ModelClass::kCounter) return 8;
  uint64_t most = SizeLimit(c);
  if (LockStep(c) && layout != kThreads) most = std::min(most, c.capacity);
  return std::max(most, MinSize(c));
}

// The lock-step rounds: in round k, turn kWriter2 sends writer 2's message
// k, and so on in the order of Turn; a participant without a message k
// passes. A failure wakes every other participant, which then stops without
// a verdict of its own (the failure is the verdict).
class Rounds {
 public:
  Rounds(size_t rounds, const CaseEnv& env)
      : rounds_(rounds),
        flags_(kTurnsPerRound * rounds + 1),
        deadline_(Deadline::After(env.deadline - absl::Now())) {}

  // In a participant: `turn(k, i)` at its turn mine[i] of every round.
  std::string Play(const std::vector<Turn>& mine,
                   const std::function<std::string(size_t, size_t)>& turn) {
    for (size_t k = 0; k < rounds_; ++k) {
      for (size_t i = 0; i < mine.size(); ++i) {
        const size_t t = kTurnsPerRound * k + mine[i];
        if (t > 0 && !flags_.WaitFor(t - 1, deadline_)) {
          return absl::StrFormat("round %d: the participant before never took its turn", k + 1);
        }
        if (flags_.IsRaised(Aborted())) return "";
        if (std::string err = turn(k, i); !err.empty()) {
          flags_.Raise(Aborted());
          for (size_t j = 0; j < Aborted(); ++j) flags_.Raise(j);
          return err;
        }
        flags_.Raise(t);
      }
    }
    return "";
  }
  bool aborted() const { return flags_.IsRaised(Aborted()); }

 private:
  size_t Aborted() const { return kTurnsPerRound * rounds_; }

  size_t rounds_;
  SharedFlags flags_;
  Deadline deadline_;
};

// One channel's traffic: its writer's messages and the reader's oracle.
struct Lane {
  Lane(const Capabilities& c, const CaseEnv& env, std::vector<Sent> s, uint32_t id)
      : sent(s), traffic(c, env, {std::move(s)}, {id}) {}
  std::vector<Sent> sent;
  Traffic traffic;
};

// The two writer threads of one process (kThreads) begin their sends k
// together: each waits at its send k until the other has reached its own
// send k, or has stopped. Left to run free, a thread often sends all its
// messages while the other has not yet begun, and a buffer the two share
// is overwritten only now and then; begun together, two sends larger than
// the channel holds overlap every time, so the bug shows in one message
// each. (A wait on the other thread, not on the clock: a send that never
// returns is the watchdog's to report.)
class Together {
 public:
  Together(size_t sends1, size_t sends2) : sends_{sends1, sends2} {}

  // In thread `me` (0 or 1): the sends of `lane`, each begun with the
  // other thread's; then its end markers, as Traffic::Write sends them.
  std::string Write(size_t me, Lane& lane, End& end) {
    std::string err;
    for (size_t k = 0; k < lane.sent.size() && err.empty(); ++k) {
      Reach(me, k);
      err = lane.traffic.SendOne(end, 0, k);
    }
    Reach(me, kStopped);
    if (err.empty() && lane.traffic.markers()) err = lane.traffic.SendMarkers(end, 0);
    lane.traffic.Finished(0);
    return err;
  }

 private:
  static constexpr uint32_t kStopped = UINT32_MAX - 1;

  // Thread `me` is at its send k: waits for the other to reach its send k,
  // unless the other has fewer sends or has stopped.
  void Reach(size_t me, uint32_t k) {
    reached_[me].store(k + 1, std::memory_order_release);
    reached_[me].notify_all();
    if (k == kStopped || k >= sends_[1 - me]) return;
    std::atomic<uint32_t>& other = reached_[1 - me];
    // Spinning first, briefly: woken from a futex, this thread would begin
    // its send only once the other's (begun at once) may be over.
    for (int spin = 0; spin < kSpins; ++spin) {
      if (other.load(std::memory_order_acquire) > k) return;
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
    for (uint32_t v = other.load(std::memory_order_acquire); v <= k;
         v = other.load(std::memory_order_acquire)) {
      other.wait(v, std::memory_order_acquire);
    }
  }
  static constexpr int kSpins = 1 << 13;

  size_t sends_[2];
  std::atomic<uint32_t> reached_[2] = {0, 0};  // 1 + the send each has reached
};

// The two reader threads of one process (kThreads) begin their receives
// together where they can: a buffer the two share (a receive that reads
// into a process-wide scratch buffer before it copies out) is overwritten
// only when one's read falls between the other's read and its copy. A
// thread about to receive waits for the other to be about to receive too,
// or in a receive, or done; it waits only while the other is busy with
// what it received, and at most a short spin: never for data (the other
// may sleep in a receive until this one's writer sends more, which waits
// for this one to drain its channel).
class Meeting {
 public:
  // `inner`, used by thread `me` (0 or 1), whose receives meet the other's.
  class MeetingEnd final : public End {
   public:
    MeetingEnd(Meeting& m, size_t me, End& inner) : m_(m), me_(me), inner_(inner) {}
    ~MeetingEnd() override { m_.Leave(me_, kDone); }
    int Send(std::span<const std::byte> buf, size_t* sent, int timeout_ms) override {
      return inner_.Send(buf, sent, timeout_ms);
    }
    int Recv(std::span<std::byte> buf, size_t* received, int timeout_ms) override {
      m_.Enter(me_);
      const int rc = inner_.Recv(buf, received, timeout_ms);
      m_.Leave(me_, kBusy);
      return rc;
    }

   private:
    Meeting& m_;
    size_t me_;
    End& inner_;
  };

 private:
  static constexpr uint32_t kBusy = 0, kReceiving = 1, kDone = 2;
  static constexpr int kSpins = 1 << 12;
  void Enter(size_t me) {
    state_[me].store(kReceiving, std::memory_order_release);
    for (int spin = 0; spin < kSpins; ++spin) {
      if (state_[1 - me].load(std::memory_order_acquire) != kBusy) return;
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
  }
  void Leave(size_t me, uint32_t now) { state_[me].store(now, std::memory_order_release); }

  std::atomic<uint32_t> state_[2] = {kBusy, kBusy};
};

// An actor whose process holds both channels' `role` ends, channel 1's
// used by `first` in its first thread and channel 2's by `second` in a
// thread of its own, at once (kThreads).
Actor TwoThreads(std::string name, Role role, std::function<std::string(End&)> first,
                 std::function<std::string(End&)> second) {
  const std::string_view who = role == Role::kWriter ? "writer" : "reader";
  auto named = [who](int i, std::string err) {
    return err.empty() ? err : absl::StrFormat("%s %d: %s", who, i, err);
  };
  Actor a{std::move(name), role, nullptr};
  a.ends = {{0, role}, {1, role, /*own_thread=*/true}};
  a.with_ends = [=](std::vector<std::unique_ptr<End>>& ends) { return named(1, first(*ends[0])); };
  a.in_thread = [=](std::unique_ptr<End>& end) { return named(2, second(*end)); };
  return a;
}

// What a foreign arrival was, for the failure message.
std::string Foreign(const Sent& s) {
  return absl::StrFormat("received %s, which writer %d sent on the other channel", Name(s),
                         s.writer);
}

// Reader's part of round k in lock-step: exactly its writer's message k.
std::string ReceiveRound(End& end, const Capabilities& c, Lane& mine, const Lane& other,
                         const std::vector<uint64_t>& chunks, size_t k) {
  if (k >= mine.sent.size()) return "";
  const Sent& want = mine.sent[k];
  const int deliver = mine.traffic.waits().deliver_ms;
  Expectation& e = mine.traffic.expectation();
  if (c.model == ModelClass::kCounter) {
    uint64_t v = 0;
    size_t n = 0;
    const int rc = end.Recv(std::as_writable_bytes(std::span(&v, 1)), &n, deliver);
    if (rc != 0) return absl::StrFormat("reading the counter in round %d: %s", k + 1, Errno(rc));
    if (n != 8 || v != CounterValue(want)) {
      return absl::StrFormat("counter read %d (%d bytes) in round %d, where its writer added %d", v,
                             n, k + 1, CounterValue(want));
    }
    return "";
  }
  if (c.framing == Framing::kMessage) {
    std::vector<std::byte> got;
    const int rc = RecvMessage(end, c, &got, deliver);
    if (rc != 0) return absl::StrFormat("receiving %s: %s", Name(want), Errno(rc));
    if (std::optional<Sent> f = Identify(got, other.sent); f && !IsPayload(got, want)) {
      return Foreign(*f);
    }
    return e.OnMessage(got);
  }
  std::vector<std::byte> buf;
  for (uint64_t left = want.size, i = 0; left > 0; ++i) {
    const uint64_t chunk = chunks.empty() ? left : std::max<uint64_t>(chunks[i % chunks.size()], 1);
    buf.resize(std::min(chunk, left));
    size_t n = 0;
    const int rc = end.Recv(buf, &n, deliver);
    if (rc != 0 || n == 0 || n > buf.size()) {
      return absl::StrFormat("receiving %s, %d bytes owed: %s (%d bytes)", Name(want), left,
                             Errno(rc), n);
    }
    const std::span<const std::byte> got(buf.data(), n);
    if (std::string err = e.OnBytes(got); !err.empty()) {
      if (k < other.sent.size() && left == want.size &&
          PayloadMismatch(other.sent[k].writer, other.sent[k].msg, 0, got) == n) {
        absl::StrAppend(&err, "; they are the first bytes of ", Name(other.sent[k]),
                        ", which writer 2 sent on the other channel");
      }
      return err;
    }
    left -= n;
  }
  return "";
}

// A process's part: the rounds at each of its ends' turns (in lock-step
// with the other processes when `rounds` is given; else free-running, in
// the order of `turns`), then each of its writers finishes and closes, then
// each of its readers finds nothing more.
std::string PlayRounds(std::vector<std::unique_ptr<End>>& ends, const std::vector<Turn>& turns,
                       const Capabilities& c, Rounds* rounds, Lane& one, Lane& two,
                       const std::vector<uint64_t>& chunks) {
  auto lane = [&](Turn t) -> Lane& { return t == kWriter1 || t == kReader1 ? one : two; };
  // Which end went wrong, when the process holds more than one.
  auto named = [&](size_t i, std::string err) {
    if (err.empty() || turns.size() == 1) return err;
    return absl::StrFormat("%s: %s", kTurnNames[turns[i]], err);
  };
  auto turn = [&](size_t k, size_t i) {
    const Turn t = turns[i];
    if (t == kWriter1 || t == kWriter2) return named(i, lane(t).traffic.SendOne(*ends[i], 0, k));
    Lane& other = t == kReader1 ? two : one;
    return named(i, ReceiveRound(*ends[i], c, lane(t), other, chunks, k));
  };
  std::string err;
  if (rounds != nullptr) {
    err = rounds->Play(turns, turn);
  } else {
    const size_t n = std::max(one.sent.size(), two.sent.size());
    for (size_t k = 0; k < n && err.empty(); ++k) {
      for (size_t i = 0; i < turns.size() && err.empty(); ++i) err = turn(k, i);
    }
  }
  for (size_t i = 0; i < turns.size(); ++i) {
    if (EndOf(turns[i]).role != Role::kWriter) continue;
    lane(turns[i]).traffic.Finished(0);
    ends[i].reset();
  }
  const bool aborted = rounds != nullptr && rounds->aborted();
  for (size_t i = 0; i < turns.size() && err.empty() && !aborted; ++i) {
    if (EndOf(turns[i]).role == Role::kReader) {
      err = named(i, lane(turns[i]).traffic.NothingMore(*ends[i]));
    }
  }
  return err;
}

// A process that holds two ends closes them in the order it opened them
// (the first opened, first closed), then finds its settings as before the
// opens: a transport that keeps the whole signal mask (or an action) it
// found at open and puts it back at close gives back, at the first close,
// what the second end had set, and leaves its own at the second. "" or
// what differs.
std::string ClosedInTheOrderOpened(std::vector<std::unique_ptr<End>>& ends,
                                   const std::vector<Turn>& turns, const ProcessSettings& before) {
  if (ends.size() < 2) return "";
  // Opened by channel, a channel's reader first (RunActorsOn).
  std::vector<size_t> order(ends.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const EndOn ea = EndOf(turns[a]), eb = EndOf(turns[b]);
    return std::pair(ea.channel, ea.role != Role::kReader) <
           std::pair(eb.channel, eb.role != Role::kReader);
  });
  for (size_t i : order) ends[i].reset();
  const std::vector<std::string> changed = ChangedSettings(before, TakeProcessSettings());
  if (changed.empty()) return "";
  return absl::StrCat(
      "the process closed its two ends in the order it opened them, and what a transport sets "
      "for a while is not as before they opened: ",
      absl::StrJoin(changed, "; "),
      " (a close that puts back the whole mask or action it found at its open undoes, or "
      "restores, the other end's)");
}

class IndependentProperty final : public GenericProperty {
  Applicability AppliesToCaps(const Capabilities& c) const override { return SummableIfCounter(c); }
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const Capabilities c = t.caps();
    return rc::gen::exec([this, c] {
      std::vector<Step> steps;
      std::vector<Layout> layouts = {kApart};
      if ((LockStep(c) || FreeRunning(c)) && !c.one_end_per_process) layouts.push_back(kByRole);
      layouts.push_back(kMadeApart);
      if (!c.one_end_per_process) layouts.push_back(kThreads);
      // Each layout in turn: a run of 20 examples sees them all.
      const Layout layout = layouts[*EachInTurn(layouts.size())];
      steps.push_back(layout_.Step(layout));
      const uint64_t lo = MinSize(c), hi = MaxSize(c, layout);
      // Where two threads send at once, mostly sends larger than the
      // channel holds (Together): each is still copying from its buffer when
      // the other's begins, however the threads are scheduled, and stays so
      // as it shrinks toward the smallest of them (the first alternative,
      // which the others shrink toward too).
      const bool threads = layout == kThreads;
      const uint64_t large = c.capacity > 0 && c.capacity < hi ? c.capacity + 1 : hi / 2;
      // In the threads layout, 3 in 4 from [large, hi], else from `other`.
      auto mostly_large = [&](rc::Gen<uint64_t> other) {
        return threads ? rc::gen::weightedOneOf<uint64_t>(
                             {{3, rc::gen::inRange(large, hi + 1)}, {1, std::move(other)}})
                       : other;
      };
      const auto size = mostly_large(EdgeSize(c));
      // Each writer's sizes as one list, which shrinks by dropping messages
      // without drawing the other writer's anew.
      for (uint32_t writer = 1; writer <= 2; ++writer) {
        const auto sizes = *rc::gen::resize(
            threads ? 8 : 6, rc::gen::nonEmpty(rc::gen::container<std::vector<uint64_t>>(size)));
        for (uint64_t i = 0; i < sizes.size(); ++i) {
          steps.push_back(Step::Send(writer, std::clamp(sizes[i], lo, hi), i));
        }
      }
      if (c.framing == Framing::kStream && c.model != ModelClass::kCounter) {
        // Where two threads receive at once, mostly receives as large as
        // the sends: each copies out for as long as the other reads.
        const auto chunk = mostly_large(ChunkSize());
        auto chunks = *rc::gen::resize(
            3, rc::gen::nonEmpty(rc::gen::container<std::vector<uint64_t>>(chunk)));
        for (uint64_t ch : chunks) steps.push_back(Step::Recv(0, ch));
      }
      return steps;
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const Capabilities& c = t.caps();
    Lane one(c, env, SendsOf(s, 1), 1), two(c, env, SendsOf(s, 2), 2);
    const std::vector<uint64_t> chunks = ChunksOf(s);
    Layout layout = layout_.Of(s);
    // Never generated then; a replay file or fuzz input may still ask for it.
    if ((layout == kByRole || layout == kThreads) && c.one_end_per_process) layout = kApart;
    std::vector<Actor> actors;
    Together together(one.sent.size(), two.sent.size());
    Meeting meeting;
    if (layout == kThreads || (!LockStep(c) && !(FreeRunning(c) && layout == kByRole))) {
      // All four at once, each in a process of its own, or the writers in
      // two threads of one and the readers in two threads of another.
      if (layout == kThreads) {
        actors = {TwoThreads(
                      "the writers' process", Role::kWriter,
                      [&](End& e) { return together.Write(0, one, e); },
                      [&](End& e) { return together.Write(1, two, e); }),
                  TwoThreads(
                      "the readers' process", Role::kReader,
                      [&](End& e) {
                        Meeting::MeetingEnd met(meeting, 0, e);
                        return one.traffic.Read(met, chunks);
                      },
                      [&](End& e) {
                        Meeting::MeetingEnd met(meeting, 1, e);
                        return two.traffic.Read(met, chunks);
                      })};
      } else {
        auto writer = [](Lane& lane) {
          return [&lane](std::unique_ptr<End>& end) { return lane.traffic.Write(*end, 0); };
        };
        auto reader = [&](Lane& lane) {
          return [&](std::unique_ptr<End>& end) { return lane.traffic.Read(*end, chunks); };
        };
        actors = {{"writer 2", Role::kWriter, writer(two), 1},
                  {"writer 1", Role::kWriter, writer(one), 0},
                  {"reader 1", Role::kReader, reader(one), 0},
                  {"reader 2", Role::kReader, reader(two), 1}};
      }
      return Run(t, env, layout, std::move(actors));
    }
    std::optional<Rounds> rounds;
    if (LockStep(c)) rounds.emplace(std::max(one.sent.size(), two.sent.size()), env);
    for (const std::vector<Turn>& turns : Processes(layout, LockStep(c))) {
      Actor a{ProcessName(turns), EndOf(turns[0]).role, nullptr};
      for (Turn turn : turns) a.ends.push_back(EndOf(turn));
      // In the process's own copy: what it had set before its ends opened.
      auto before = std::make_shared<ProcessSettings>();
      a.before_ends = [before] { *before = TakeProcessSettings(); };
      a.with_ends = [&, turns, before](std::vector<std::unique_ptr<End>>& ends) {
        const std::string err =
            PlayRounds(ends, turns, c, rounds ? &*rounds : nullptr, one, two, chunks);
        return err.empty() ? ClosedInTheOrderOpened(ends, turns, *before) : err;
      };
      actors.push_back(std::move(a));
    }
    return Run(t, env, layout, std::move(actors));
  }
  static Verdict Run(const Transport& t, const CaseEnv& env, Layout layout,
                     std::vector<Actor> actors) {
    if (layout != kMadeApart) return RunActorsOn(t, env, 2, std::move(actors));
    Verdict v = RunActorsMadeApart(t, env, std::move(actors));
    // Both creates worked (else no actor ran), so an open that fails now
    // fails on a channel the other maker's create() or destroy() reached:
    // the transport's fault, not the set-up's.
    if (v.outcome == Outcome::kBroken && absl::StrContains(v.message, ": open(")) {
      v = Verdict::Fail(absl::StrCat(v.message,
                                     " (the two channels were made by two processes forked from "
                                     "one: did both pick one name, so that one's destroy() "
                                     "removed the other's object?)"));
    }
    return v;
  }

  const ChoiceParam<Layout> layout_{this, 0, "%s", kApart, kLayouts};
};
IPCSPEC_REGISTER_PROPERTY(IndependentProperty, "G-INDEPENDENT", {.examples = 20});

}  // namespace g_independent
}  // namespace
}  // namespace ipcspec::props
