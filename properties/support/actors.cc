// properties/support/actors.cc: the actor runners of common.h (RunActors,
// RunActorsOn, RunActorsMadeApart): channels made, one process per actor,
// barriers around the opens and the ends, the verdicts joined.
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <latch>
#include <memory>
#include <new>
#include <system_error>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "ipcspec/util.h"
#include "ipcspec/watch.h"
#include "properties/support/common.h"

namespace ipcspec::props {
namespace {

using Channels = std::vector<std::unique_ptr<Channel>>;

// Who failed first in a case (RunOnChannels): an actor's index, the case
// process's hook, or nobody yet.
constexpr uint32_t kHook = UINT32_MAX - 1, kNobody = UINT32_MAX;

// The order in which the threads of an actor's process failed (1, 2, ...):
// the first failure is the cause, a later one its consequence. Taken when
// a part returns its failure (NoteFailuresBeforeClosing), before its peers
// can react to it, into the failing thread's t_failed_at.
uint64_t NextFailure() {
  static std::atomic<uint64_t> failures{0};
  return ++failures;
}
thread_local uint64_t t_failed_at = 0;
// When this thread's part failed with `err`: as noted, or now.
uint64_t FailedAt(const std::string& err) {
  if (err.empty()) return 0;
  return t_failed_at != 0 ? t_failed_at : NextFailure();
}

// What an actor's second thread (EndThread) found, published by the thread
// as soon as its part fails: before its peers can react to the failure,
// and so before the first thread, reacting to it, can look.
struct PartResult {
  std::string error;
  uint64_t failed_at = 0;
  std::atomic<bool> known{false};  // error and failed_at are final
  void Publish(const std::string& err, uint64_t at) {
    if (known.load(std::memory_order_relaxed)) return;
    error = err;
    failed_at = at;
    known.store(true, std::memory_order_release);
  }
};
thread_local PartResult* t_part_result = nullptr;  // set in a second thread

// Past the barrier every actor passes once it has opened its ends; `v`:
// how the opens went. One that could not open does not wait for the
// others: one of them may be waiting in its open for this one (a FIFO's
// writer for its reader).
void PassOpened(ProcessBarrier& opened, const Deadline& deadline, Verdict& v) {
  if (!v.ok()) {
    opened.Arrive();
  } else if (!opened.Wait(deadline)) {
    v = Verdict::Fail("not every participant opened");
  }
}

// This process's hold on every channel but `keep` dropped.
void DetachOthers(Channels& chs, size_t keep) {
  for (size_t i = 0; i < chs.size(); ++i) {
    if (i != keep) chs[i]->Detach();
  }
}

// The second thread of an actor (EndOn::own_thread). It opens its end when
// the actor's order of opens comes to it, then uses and closes it itself:
// an end never changes threads, so whatever its transport ties to a thread
// (a robust mutex, a lock held while the end is open) stays with its owner.
class EndThread {
 public:
  EndThread() = default;
  EndThread(const EndThread&) = delete;
  EndThread& operator=(const EndThread&) = delete;
  ~EndThread() {
    if (thread_.joinable()) Finish(/*abandon=*/false);
  }

  // Starts the thread, which opens `role` on `ch`, and waits for that open:
  // "" or what went wrong.
  std::string Open(Channel& ch, Role role, const ActorFn& fn) {
    state_ = std::make_shared<State>();
    try {
      thread_ = std::thread([s = state_, &ch, role, &fn] {
        absl::StatusOr<std::unique_ptr<End>> end = ch.Open(role);
        std::unique_ptr<End> mine;
        if (end.ok()) {
          mine = WatchEnd(std::move(*end));
        } else {
          s->open_error = std::string(end.status().message());
        }
        s->opened.count_down();
        s->go.wait();
        s->running.store(true, std::memory_order_release);
        s->running.notify_one();
        if (mine != nullptr && s->run) {
          t_part_result = &s->result;
          const std::string err = fn(mine);
          s->result.Publish(err, FailedAt(err));
        }
        mine.reset();  // closed in the thread that opened it
        s->done.store(true, std::memory_order_release);
      });
    } catch (const std::system_error& e) {
      state_.reset();
      return absl::StrCat("starting a thread: ", e.what());
    }
    state_->opened.wait();
    return state_->open_error;
  }
  // Lets the thread run its part (`run`) or only close its end. With `run`,
  // returns once the thread runs: the two threads then start their parts
  // together, not one a wake-up's latency (tens of microseconds, a few
  // sends) ahead of the other. A short spin sees the thread start; a thread
  // that is slow to be scheduled is waited for on the flag's futex.
  void Go(bool run) {
    if (state_ == nullptr || went_) return;
    went_ = true;
    state_->run = run;
    state_->go.count_down();
    if (!run) return;
    for (int spin = 0; spin < (1 << 14); ++spin) {
      if (state_->running.load(std::memory_order_acquire)) return;
    }
    state_->running.wait(false, std::memory_order_acquire);
  }
  // Once the first thread is done: "" or the second thread's failure. With
  // `abandon`, a thread still busy is left to end with the process (it may
  // wait for a peer the first thread's failure let down); a failure it has
  // already published (it may be what the first thread failed of) counts.
  std::string Finish(bool abandon) {
    if (state_ == nullptr) return "";
    Go(false);
    if (abandon && !state_->done.load(std::memory_order_acquire)) {
      thread_.detach();
      return state_->result.known.load(std::memory_order_acquire) ? state_->result.error : "";
    }
    thread_.join();
    return state_->result.error;
  }
  // After Finish: when the thread failed (FailedAt), or 0.
  uint64_t failed_at() const { return state_ == nullptr ? 0 : state_->result.failed_at; }

 private:
  struct State {
    std::latch opened{1}, go{1};
    bool run = false;
    std::atomic<bool> running{false};  // set once the thread has passed `go`
    std::atomic<bool> done{false};
    std::string open_error;
    PartResult result;
  };
  std::shared_ptr<State> state_;
  std::thread thread_;
  bool went_ = false;
};

// An actor with several ends (Actor::ends), in its process.
Verdict RunEndsPart(Channels& chs, const Actor& a, ProcessBarrier& opened,
                    const Deadline& deadline) {
  if (a.before_ends) a.before_ends();
  // Every end first: a channel's hold may be what a later open on it needs
  // (a pipe's two descriptors). In the order of the channels, as in every
  // other process, so that opens that wait for their peer (a blocking FIFO
  // open) meet; on one channel the reader first, as in one process it must
  // be.
  Verdict v;
  std::vector<std::unique_ptr<End>> ends(a.ends.size());
  EndThread second;
  for (size_t ch = 0; ch < chs.size(); ++ch) {
    for (const Role role : {Role::kReader, Role::kWriter}) {
      for (size_t i = 0; i < a.ends.size() && v.ok(); ++i) {
        const EndOn& e = a.ends[i];
        if (e.channel != ch || e.role != role) continue;
        std::string err;
        if (e.own_thread) {
          err = second.Open(*chs[ch], role, a.in_thread);
        } else if (absl::StatusOr<std::unique_ptr<End>> end = chs[ch]->Open(role); end.ok()) {
          ends[i] = WatchEnd(std::move(*end));
        } else {
          err = std::string(end.status().message());
        }
        if (!err.empty()) {
          v = Verdict::Broken(absl::StrFormat("open(%s) on channel %d%s: %s",
                                              role == Role::kReader ? "reader" : "writer", ch + 1,
                                              e.own_thread ? " in a second thread" : "", err));
        }
      }
    }
  }
  for (std::unique_ptr<Channel>& ch : chs) ch->Detach();
  PassOpened(opened, deadline, v);
  second.Go(v.ok());
  std::string err = v.ok() ? a.with_ends(ends) : "";
  const uint64_t failed_at = FailedAt(err);
  ends.clear();  // this thread's ends close before the second's are waited for
  const std::string theirs = second.Finish(/*abandon=*/!err.empty());
  // The second thread's failure, if it came first (what this thread then
  // found, an END or an abandoned flag, is its consequence).
  if (!theirs.empty() && (err.empty() || second.failed_at() < failed_at)) {
    err = absl::StrCat("in its second thread: ", theirs);
  }
  if (!err.empty()) v = Verdict::Fail(err);
  return v;
}

// One actor's part, in its process: its end on its channel, this process's
// hold on every other channel dropped first.
Verdict RunPartOn(Channels& chs, const Actor& a, ProcessBarrier& opened, const Deadline& deadline) {
  if (a.with_ends) return RunEndsPart(chs, a, opened, deadline);
  DetachOthers(chs, a.channel);
  return RunPart(*chs[a.channel], a.role, opened, deadline, a.fn);
}

// A late actor's part (Actor::before_open): it opens its end once its
// event has come, and nobody waits for it to open.
Verdict RunLatePartOn(Channels& chs, const Actor& a, const ActorPids& pids,
                      const Deadline& deadline) {
  a.before_open(pids, deadline);
  DetachOthers(chs, a.channel);
  Verdict v;
  std::unique_ptr<End> end = OpenEnd(*chs[a.channel], a.role, &v);
  if (end != nullptr && v.ok()) {
    if (std::string err = a.fn(end); !err.empty()) v = Verdict::Fail(err);
  }
  return v;
}

// Notes party i's failure, if it is the first; then abandons every flag its
// peers may wait for (SharedFlags::AbandonAll), so that they end at once.
void NoteFailure(std::atomic<uint32_t>* first_failed, uint32_t i) {
  uint32_t nobody = kNobody;
  if (first_failed->compare_exchange_strong(nobody, i)) SharedFlags::AbandonAll();
}

// Each actor's part, wrapped so that a failure it returns is noted as the
// first (if it is) before its ends close: the close is what its peers react
// to (a writer's -EPIPE once the reader that found a torn message closed),
// and their failures must not be taken for the cause.
void NoteFailuresBeforeClosing(std::vector<Actor>& actors, std::atomic<uint32_t>* first_failed) {
  for (size_t i = 0; i < actors.size(); ++i) {
    auto note = [first_failed, i, name = actors[i].name](const std::string& err) {
      if (err.empty()) return err;
      t_failed_at = FailedAt(err);
      if (t_part_result != nullptr) t_part_result->Publish(err, t_failed_at);
      NoteFailure(first_failed, static_cast<uint32_t>(i));
      PublishFailure(absl::StrCat(name, ": ", err));  // for a hang it leads to
      return err;
    };
    if (actors[i].fn) {
      actors[i].fn = [inner = std::move(actors[i].fn), note](std::unique_ptr<End>& end) {
        return note(inner(end));
      };
    }
    if (actors[i].with_ends) {
      actors[i].with_ends = [inner = std::move(actors[i].with_ends),
                             note](std::vector<std::unique_ptr<End>>& ends) {
        return note(inner(ends));
      };
    }
    if (actors[i].in_thread) {
      actors[i].in_thread = [inner = std::move(actors[i].in_thread),
                             note](std::unique_ptr<End>& end) { return note(inner(end)); };
    }
  }
}

// The case's verdict once its actors' parts are over in the case process
// (`mine`: the part of the last actor, if it ran here): the failure that
// came first (`first_failed`), not what the others made of it; the others
// are killed once it is known.
Verdict FirstFailure(Participants& ps, const std::vector<Actor>& actors,
                     const std::atomic<uint32_t>& first_failed,
                     const std::optional<Verdict>& mine) {
  const auto parties = static_cast<uint32_t>(actors.size());
  const uint32_t first = first_failed.load();
  if (mine && first == parties - 1) return ps.KillTheRest(*mine);  // this process's own actor
  if (first < parties && ps.WatchedFromOutside()) {
    const Verdict cause = ps.JoinOne(actors[first].name);
    return cause.ok() ? ps.Join() : ps.KillTheRest(cause);
  }
  // Nobody had failed yet: the first failure, which Join is told of when
  // the actors' reports arrive (together, past `finished`).
  Verdict verdict = ps.Join([&]() -> std::string {
    const uint32_t now = first_failed.load();
    return now < parties ? actors[now].name : "";
  });
  // In the actors' order, as Join takes them: a spawned one's failure first.
  if (verdict.ok() && mine) verdict = *mine;
  return verdict;
}

// The actors on channels already created; destroys them afterwards.
Verdict RunOnChannels(Channels& chs, const CaseEnv& env, std::vector<Actor>& actors,
                      const std::function<Verdict(ActorControl&)>& during) {
  const auto parties = static_cast<uint32_t>(actors.size());
  const auto late = static_cast<uint32_t>(
      std::count_if(actors.begin(), actors.end(), [](const Actor& a) { return !!a.before_open; }));
  ProcessBarrier opened(parties - late), finished(parties);
  ActorPids pids(late > 0 ? parties : 1);
  // Which actor failed first, in time: its failure is the cause, and what
  // the others report after it (a writer's -EPIPE once the failed reader
  // closed, a send that times out into a queue nobody reads any more) is
  // its consequence, which would otherwise win (a spawned actor's verdict
  // is taken before the case process's; several spawned ones report in the
  // order they pass the last barrier).
  SharedMemory first_memory(sizeof(std::atomic<uint32_t>));
  auto* first_failed = new (first_memory.data()) std::atomic<uint32_t>(kNobody);
  NoteFailuresBeforeClosing(actors, first_failed);
  const Deadline deadline = Deadline::After(env.deadline - absl::Now() - absl::Milliseconds(300));
  Verdict verdict;
  {
    Participants ps(deadline);
    // The last actor runs in the case process itself (one fork fewer) when
    // the sandbox watches it and the case process has nothing else to do.
    // Not one with a second thread, which may outlive its part.
    const bool here =
        !during && ps.WatchedFromOutside() && !actors.empty() && !actors.back().in_thread;
    // One actor's part; `stay` keeps a spawned one alive until all are done
    // (everyone passes both barriers, whatever happens).
    auto part = [&](size_t i, bool stay) {
      if (late > 0) pids.Publish(i);
      Verdict v = actors[i].before_open ? RunLatePartOn(chs, actors[i], pids, deadline)
                                        : RunPartOn(chs, actors[i], opened, deadline);
      if (!v.ok()) NoteFailure(first_failed, static_cast<uint32_t>(i));
      if (stay) {
        finished.Wait(deadline);
      } else {
        finished.Arrive();
      }
      return v;
    };
    for (size_t i = 0; i + (here ? 1 : 0) < actors.size(); ++i) {
      ps.Spawn(actors[i].name, [&, i] { return part(i, /*stay=*/true); });
    }
    std::optional<Verdict> mine;
    if (here) {
      mine = ps.RunHere(actors.back().name, [&] { return part(actors.size() - 1, false); });
    } else {
      for (std::unique_ptr<Channel>& ch : chs) ch->Detach();
    }
    // The hook's failure is the verdict only if it came first: one that
    // follows an actor's (a flag the failed actor never raised) is its
    // consequence.
    std::optional<Verdict> hook;
    ActorControl control(ps, finished);
    if (during) hook = during(control);
    if (hook && !hook->ok()) NoteFailure(first_failed, kHook);
    verdict = FirstFailure(ps, actors, *first_failed, mine);
    if (first_failed->load() == kHook) verdict = *hook;
  }
  for (std::unique_ptr<Channel>& ch : chs) {
    absl::Status destroyed = ch->Destroy();
    if (!destroyed.ok() && verdict.ok()) {
      verdict = Verdict::Fail(absl::StrCat("destroy: ", destroyed.message()));
    }
  }
  return verdict;
}

}  // namespace

Verdict RunActors(const Transport& t, const CaseEnv& env, std::vector<Actor> actors,
                  std::function<Verdict(ActorControl&)> during) {
  absl::StatusOr<std::unique_ptr<Channel>> ch = t.Create(env.scratch_dir);
  if (!ch.ok()) return Verdict::Broken(absl::StrCat("create: ", ch.status().message()));
  Channels chs;
  chs.push_back(std::move(*ch));
  for (Actor& a : actors) a.channel = 0;
  return RunOnChannels(chs, env, actors, during);
}

Verdict RunActorsOn(const Transport& t, const CaseEnv& env, size_t channels,
                    std::vector<Actor> actors) {
  for (const Actor& a : actors) {
    bool beyond = a.channel >= channels;
    for (const EndOn& e : a.ends) beyond = beyond || e.channel >= channels;
    if (beyond) return Verdict::Broken(absl::StrFormat("%s: a channel past %d", a.name, channels));
  }
  Channels chs;
  std::vector<std::string> dirs;
  Verdict v;
  for (size_t i = 0; i < channels && v.ok(); ++i) {
    dirs.push_back(absl::StrFormat("%s/channel-%d", env.scratch_dir, i + 1));
    if (::mkdir(dirs.back().c_str(), 0700) != 0) {
      v = Verdict::Broken(absl::StrFormat("mkdir %s: %s", dirs.back(), std::strerror(errno)));
      dirs.pop_back();
      break;
    }
    absl::StatusOr<std::unique_ptr<Channel>> ch = t.Create(dirs.back());
    if (!ch.ok()) {
      v = Verdict::Broken(absl::StrFormat("create channel %d: %s", i + 1, ch.status().message()));
    } else {
      chs.push_back(std::move(*ch));
    }
  }
  if (v.ok()) {
    v = RunOnChannels(chs, env, actors, nullptr);
  } else {
    for (std::unique_ptr<Channel>& ch : chs) (void)ch->Destroy();
  }
  // Only an empty directory goes: whatever a channel left in its own is a
  // leak for the case's inventory to report.
  for (const std::string& dir : dirs) ::rmdir(dir.c_str());
  return v;
}

namespace {

// The channel the actor's ends are on, or `channels` when they are on
// several (or past the last).
size_t ChannelOf(const Actor& a, size_t channels) {
  if (a.ends.empty()) return std::min(a.channel, channels);
  for (const EndOn& e : a.ends) {
    if (e.channel != a.ends[0].channel) return channels;
  }
  return std::min(a.ends[0].channel, channels);
}

// Flags of RunActorsMadeApart: maker i is done making its channel (i), and
// failed to (2 + i, raised first).
constexpr size_t kMadeFlags = 4;

// Maker `i`'s part: makes channel i + 1 in its own directory, waits until
// the other maker has made its channel too, then runs the channel's actors,
// each in a process of its own, and destroys the channel.
Verdict MakeAndRun(const Transport& t, const CaseEnv& env, size_t i, std::vector<Actor>& actors,
                   SharedFlags& made, const Deadline& deadline) {
  const std::string dir = absl::StrFormat("%s/channel-%d", env.scratch_dir, i + 1);
  Channels chs;
  Verdict v;
  if (::mkdir(dir.c_str(), 0700) != 0) {
    v = Verdict::Broken(absl::StrFormat("mkdir %s: %s", dir, std::strerror(errno)));
  } else if (absl::StatusOr<std::unique_ptr<Channel>> ch = t.Create(dir); !ch.ok()) {
    v = Verdict::Fail(
        absl::StrFormat("create channel %d, while channel %d, made by another process, lives: %s",
                        i + 1, 2 - i, ch.status().message()));
  } else {
    chs.push_back(std::move(*ch));
  }
  if (!v.ok()) made.Raise(2 + i);
  made.Raise(i);
  const size_t other = 1 - i;
  if (!made.WaitFor(other, deadline) && v.ok()) {
    v = Verdict::Broken(absl::StrFormat("channel %d was never made", other + 1));
  }
  if (v.ok() && !made.IsRaised(2 + other)) {
    // All spawned: no actor runs in the maker, which only waits.
    v = RunOnChannels(chs, env, actors, [](ActorControl&) { return Verdict::Pass(); });
  } else {
    for (std::unique_ptr<Channel>& ch : chs) (void)ch->Destroy();
  }
  ::rmdir(dir.c_str());
  return v;
}

}  // namespace

Verdict RunActorsMadeApart(const Transport& t, const CaseEnv& env, std::vector<Actor> actors) {
  std::vector<Actor> mine[2];
  for (Actor& a : actors) {
    const size_t ch = ChannelOf(a, 2);
    if (ch >= 2) return Verdict::Broken(absl::StrCat(a.name, ": not on one of two channels"));
    a.channel = 0;
    for (EndOn& e : a.ends) e.channel = 0;
    mine[ch].push_back(std::move(a));
  }
  SharedFlags made(kMadeFlags);
  const Deadline deadline = Deadline::After(env.deadline - absl::Now() - absl::Milliseconds(200));
  Participants ps(deadline);
  ps.Spawn("the maker of channel 2",
           [&] { return MakeAndRun(t, env, 1, mine[1], made, deadline); });
  const Verdict here = MakeAndRun(t, env, 0, mine[0], made, deadline);
  // The maker of channel 2 finishes too (a failed create here keeps its
  // actors from starting; a failed actor aborts shared rounds), so that it
  // destroys its channel: what it reports then is a consequence.
  const Verdict there = ps.Join();
  return here.ok() ? there : here;
}

std::unique_ptr<End> OpenEnd(Channel& ch, Role role, Verdict* failure) {
  absl::StatusOr<std::unique_ptr<End>> end = ch.Open(role);
  ch.Detach();
  if (!end.ok()) {
    *failure = Verdict::Broken(absl::StrCat("open(", role == Role::kReader ? "reader" : "writer",
                                            "): ", end.status().message()));
    return nullptr;
  }
  // Every send and receive is published for the watchdog (ipcspec/watch.h).
  return WatchEnd(std::move(*end));
}

Verdict RunPart(Channel& ch, Role role, ProcessBarrier& opened, const Deadline& deadline,
                const ActorFn& fn) {
  Verdict v;
  std::unique_ptr<End> end = OpenEnd(ch, role, &v);
  PassOpened(opened, deadline, v);
  if (end != nullptr && v.ok()) {
    if (std::string err = fn(end); !err.empty()) v = Verdict::Fail(err);
  }
  return v;  // the end closes here
}

Verdict ActorControl::Kill(std::string_view name) {
  ps_.Kill(name, SIGKILL);
  Verdict v = ps_.JoinOneUnreaped(name);
  finished_.Arrive();
  return v;
}

}  // namespace ipcspec::props
