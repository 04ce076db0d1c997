#include "properties/support/common.h"

#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <new>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "ipcspec/proc.h"
#include "ipcspec/util.h"
#include "ipcspec/watch.h"

namespace ipcspec::props {
namespace {

IPCSPEC_NOT_INSTRUMENTED inline uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// The seed of one message's pattern, and its 8-byte word number `word`.
IPCSPEC_NOT_INSTRUMENTED inline uint64_t Seed(uint32_t writer, uint64_t msg) {
  return Mix((uint64_t{writer} << 40) ^ msg);
}
IPCSPEC_NOT_INSTRUMENTED inline uint64_t Word(uint64_t seed, uint64_t word) {
  return Mix(seed + word);
}

}  // namespace

Waits Waits::For(const CaseEnv& env) {
  Waits w;
  const int64_t unit = std::max<int64_t>(absl::ToInt64Milliseconds(env.time_unit), 1);
  w.quiet_ms = static_cast<int>(unit);
  w.deliver_ms =
      static_cast<int>(std::max<int64_t>(absl::ToInt64Milliseconds(env.hang_grace), 50 * unit));
  return w;
}

uint8_t PatternByte(uint32_t writer, uint64_t msg, uint64_t offset) {
  return static_cast<uint8_t>(Word(Seed(writer, msg), offset >> 3) >> (8 * (offset & 7)));
}

// Not instrumented: a pure function of its arguments that writes only
// `out`, and the hottest loop of a fuzz input. It reads the span once and
// then works on the bare pointer: the compiler does not inline instrumented
// code (span's accessors, std::min) into an uninstrumented function, so each
// use in the loop would be a call.
IPCSPEC_NOT_INSTRUMENTED void FillPayload(uint32_t writer, uint64_t msg, uint64_t offset,
                                          std::span<std::byte> out) {
  std::byte* const p = out.data();
  const size_t size = out.size();
  const uint64_t seed = Seed(writer, msg);
  size_t i = 0;
  while (i < size && ((offset + i) & 7) != 0) {  // bytes up to the next whole word
    const uint64_t pos = offset + i;
    p[i++] = std::byte(Word(seed, pos >> 3) >> (8 * (pos & 7)));
  }
  for (; i + 8 <= size; i += 8) {  // whole words: the pattern is little-endian
    uint64_t word = Word(seed, (offset + i) >> 3);
    if constexpr (std::endian::native == std::endian::big) word = __builtin_bswap64(word);
    __builtin_memcpy(p + i, &word, sizeof word);
  }
  for (; i < size; ++i) {  // the tail of the last word
    const uint64_t pos = offset + i;
    p[i] = std::byte(Word(seed, pos >> 3) >> (8 * (pos & 7)));
  }
}

size_t PayloadMismatch(uint32_t writer, uint64_t msg, uint64_t offset,
                       std::span<const std::byte> got) {
  std::byte want[512];
  for (size_t i = 0; i < got.size();) {
    const size_t n = std::min(sizeof want, got.size() - i);
    FillPayload(writer, msg, offset + i, std::span(want, n));
    if (std::memcmp(want, got.data() + i, n) != 0) {
      size_t k = 0;
      while (want[k] == got[i + k]) ++k;
      return i + k;
    }
    i += n;
  }
  return got.size();
}

std::vector<std::byte> Payload(uint32_t writer, uint64_t msg, uint64_t size) {
  std::vector<std::byte> out(size);
  FillPayload(writer, msg, 0, out);
  return out;
}

bool IsPayload(std::span<const std::byte> got, const Sent& s) {
  return got.size() == s.size && PayloadMismatch(s.writer, s.msg, 0, got) == got.size();
}

uint64_t RecvBufferSize(const Capabilities& c) {
  return c.max_message > 0 ? c.max_message : uint64_t{1} << 20;
}

uint64_t SizeLimit(const Capabilities& c) {
  uint64_t limit = c.capacity > 0 ? 2 * c.capacity + 1 : 256 * 1024;
  if (c.max_message > 0) limit = std::min(limit, c.max_message);
  return std::min<uint64_t>(limit, 1 << 20);
}

rc::Gen<uint64_t> EdgeSize(const Capabilities& c) {
  const uint64_t limit = SizeLimit(c);
  std::vector<uint64_t> edges = {0, 1, 2, PIPE_BUF - 1, PIPE_BUF, PIPE_BUF + 1};
  if (c.capacity > 0) {
    for (uint64_t v : {c.capacity - 1, c.capacity, c.capacity + 1, 2 * c.capacity + 1}) {
      edges.push_back(v);
    }
  }
  if (c.max_message > 0) {
    edges.push_back(c.max_message - 1);
    edges.push_back(c.max_message);
  }
  std::vector<uint64_t> usable;
  for (uint64_t e : edges) {
    if (e <= limit && std::find(usable.begin(), usable.end(), e) == usable.end()) {
      usable.push_back(e);
    }
  }
  std::sort(usable.begin(), usable.end());
  return rc::gen::weightedOneOf<uint64_t>({
      {3, rc::gen::elementOf(usable)},
      {2, rc::gen::inRange<uint64_t>(0, std::min<uint64_t>(limit, 64) + 1)},
      {2, rc::gen::inRange<uint64_t>(0, limit + 1)},
  });
}

rc::Gen<uint64_t> ChunkSize() {
  return rc::gen::weightedOneOf<uint64_t>({
      {2, rc::gen::elementOf(std::vector<uint64_t>{1, 7, 512, 4096, 65536, 1 << 20})},
      {1, rc::gen::inRange<uint64_t>(1, 70000)},
  });
}

std::optional<Sent> Identify(std::span<const std::byte> got, const std::vector<Sent>& candidates) {
  for (const Sent& c : candidates) {
    if (IsPayload(got, c)) return c;
  }
  return std::nullopt;
}

std::string Name(const Sent& s) {
  return s.writer <= 1
             ? absl::StrFormat("message %d (%d bytes)", s.msg, s.size)
             : absl::StrFormat("message %d of writer %d (%d bytes)", s.msg, s.writer, s.size);
}

std::string Errno(int rc) {
  if (rc == kEnd) return "END";
  if (rc == 0) return "0";
  return absl::StrCat("-", ErrnoName(-rc));
}

std::string SendAll(End& end, const Sent& s, Framing framing, int timeout_ms, bool try_first,
                    const std::function<void()>& on_would_block) {
  // The pattern, not zeroed first (that cost as much as filling it).
  const std::unique_ptr<std::byte[]> buffer = std::make_unique_for_overwrite<std::byte[]>(s.size);
  const std::span<std::byte> data(buffer.get(), s.size);
  FillPayload(s.writer, s.msg, 0, data);
  size_t done = 0;
  bool try_first_done = false;  // the last attempt was the non-blocking first one
  for (;;) {
    size_t sent = 0;
    const size_t left = data.size() - done;
    int rc =
        end.Send(std::span<const std::byte>(data).subspan(done), &sent, try_first ? 0 : timeout_ms);
    const bool retry_blocking = try_first && rc == -EAGAIN;
    try_first_done = try_first && !retry_blocking;
    try_first = false;
    if (retry_blocking) {
      if (on_would_block) on_would_block();
      continue;
    }
    if (rc != 0) return absl::StrCat("sending ", Name(s), ": ", Errno(rc));
    if (sent > left) {
      return absl::StrFormat("sending %s: %d bytes reported sent of %d", Name(s), sent, left);
    }
    if (framing == Framing::kMessage && sent != left) {
      return absl::StrFormat("sending %s: only %d bytes of the message reported sent", Name(s),
                             sent);
    }
    const bool was_try = try_first_done;
    try_first_done = false;
    done += sent;
    if (done == data.size()) return "";
    if (sent == 0) return absl::StrCat("sending ", Name(s), ": no progress");
    // A stream took part without blocking: the rest will block.
    if (was_try && on_would_block) on_would_block();
  }
}

namespace {

using Channels = std::vector<std::unique_ptr<Channel>>;

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

// One actor's part, in its process: its end on its channel, this process's
// hold on every other channel dropped first.
Verdict RunPartOn(Channels& chs, const Actor& a, ProcessBarrier& opened, const Deadline& deadline) {
  if (a.with_ends) {
    // Every end first: a channel's hold may be what a later open on it
    // needs (a pipe's two descriptors). In the order of the channels, as in
    // every other process, so that opens that wait for their peer (a
    // blocking FIFO open) meet; on one channel the reader first, as in one
    // process it must be.
    Verdict v;
    std::vector<std::unique_ptr<End>> ends(a.ends.size());
    for (size_t ch = 0; ch < chs.size(); ++ch) {
      for (const Role role : {Role::kReader, Role::kWriter}) {
        for (size_t i = 0; i < a.ends.size() && v.ok(); ++i) {
          const EndOn& e = a.ends[i];
          if (e.channel != ch || e.role != role) continue;
          absl::StatusOr<std::unique_ptr<End>> end = chs[ch]->Open(role);
          if (!end.ok()) {
            v = Verdict::Broken(absl::StrFormat("open(%s) on channel %d: %s",
                                                role == Role::kReader ? "reader" : "writer", ch + 1,
                                                end.status().message()));
          } else {
            ends[i] = WatchEnd(std::move(*end));
          }
        }
      }
    }
    for (std::unique_ptr<Channel>& ch : chs) ch->Detach();
    PassOpened(opened, deadline, v);
    if (std::string err = v.ok() ? a.with_ends(ends) : ""; !err.empty()) v = Verdict::Fail(err);
    return v;  // the ends close here
  }
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
  auto* first_failed = new (first_memory.data()) std::atomic<uint32_t>(parties);
  const Deadline deadline = Deadline::After(env.deadline - absl::Now() - absl::Milliseconds(300));
  Verdict verdict;
  {
    Participants ps(deadline);
    // The last actor runs in the case process itself (one fork fewer) when
    // the sandbox watches it and the case process has nothing else to do.
    const bool here = !during && ps.WatchedFromOutside() && !actors.empty();
    // One actor's part; `stay` keeps a spawned one alive until all are done
    // (everyone passes both barriers, whatever happens).
    auto part = [&](size_t i, bool stay) {
      if (late > 0) pids.Publish(i);
      Verdict v = actors[i].before_open ? RunLatePartOn(chs, actors[i], pids, deadline)
                                        : RunPartOn(chs, actors[i], opened, deadline);
      if (!v.ok()) {
        uint32_t nobody = parties;
        first_failed->compare_exchange_strong(nobody, static_cast<uint32_t>(i));
      }
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
    std::optional<Verdict> hook;
    ActorControl control(ps, finished);
    if (during) hook = during(control);
    const uint32_t first = first_failed->load();
    if (here && first == parties - 1) {  // the case process's own actor: *mine failed
      verdict = ps.KillTheRest(*mine);
    } else if (first < parties && ps.WatchedFromOutside()) {
      const Verdict cause = ps.JoinOne(actors[first].name);
      verdict = cause.ok() ? ps.Join() : ps.KillTheRest(cause);
    } else {
      verdict = ps.Join();
      // In the actors' order, as Join takes them: a spawned one's failure first.
      if (verdict.ok() && mine) verdict = *mine;
    }
    if (hook && !hook->ok()) verdict = *hook;
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
  Verdict v = ps_.JoinOne(name);
  finished_.Arrive();
  return v;
}

SharedFlags::SharedFlags(size_t count)
    : mem_(2 * count * sizeof(std::atomic<uint64_t>)), count_(count) {
  for (size_t i = 0; i < 2 * count; ++i)
    new (static_cast<std::atomic<uint64_t>*>(mem_.data()) + i) std::atomic<uint64_t>(0);
}

void SharedFlags::Raise(size_t i) {
  auto* f = reinterpret_cast<std::atomic<uint32_t>*>(
      static_cast<std::atomic<uint64_t>*>(mem_.data()) + i);
  f->store(1);
  ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(f), FUTEX_WAKE, INT32_MAX, nullptr, nullptr, 0);
}

bool SharedFlags::IsRaised(size_t i) const {
  auto* f = reinterpret_cast<std::atomic<uint32_t>*>(
      static_cast<std::atomic<uint64_t>*>(mem_.data()) + i);
  return f->load() != 0;
}

bool SharedFlags::WaitFor(size_t i, const Deadline& d) const {
  auto* f = reinterpret_cast<std::atomic<uint32_t>*>(
      static_cast<std::atomic<uint64_t>*>(mem_.data()) + i);
  if (f->load() != 0) return true;
  WatchedCall watched = WatchedCall::PeerWait("wait for a flag");
  while (f->load() == 0) {
    int ms = d.RemainingMs();
    if (ms == 0) return false;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(f), FUTEX_WAIT, 0, ms < 0 ? nullptr : &ts,
              nullptr, 0);
  }
  return true;
}

std::atomic<uint64_t>& SharedFlags::Counter(size_t i) const {
  return static_cast<std::atomic<uint64_t>*>(mem_.data())[count_ + i];
}

ActorPids::ActorPids(size_t actors) : flags_(actors) {}

void ActorPids::Publish(size_t actor) {
  flags_.Counter(actor).store(static_cast<uint64_t>(::getpid()));
  flags_.Raise(actor);
}

pid_t ActorPids::Of(size_t actor, const Deadline& deadline) const {
  if (!flags_.WaitFor(actor, deadline)) return 0;
  return static_cast<pid_t>(flags_.Counter(actor).load());
}

void ActorPids::AwaitAsleep(size_t actor, const Deadline& deadline) const {
  if (const pid_t pid = Of(actor, deadline); pid > 0) WaitUntilAsleep(pid, deadline);
}

int RecvMessage(End& end, const Capabilities& c, std::vector<std::byte>* out, int timeout_ms) {
  out->resize(RecvBufferSize(c));
  size_t n = 0;
  int rc = end.Recv(*out, &n, timeout_ms);
  out->resize(rc == 0 ? n : 0);
  return rc;
}

int64_t MonotonicNs() {
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

bool CanFill(const Capabilities& c) {
  return (c.capacity > 0 || c.max_queued > 0) && c.model != ModelClass::kCounter;
}

std::vector<Sent> SendsOf(const Scenario& s, uint32_t actor) {
  std::vector<Sent> out;
  for (const Step& st : s.steps) {
    if ((st.op == Op::kSend || st.op == Op::kTrySend) && st.actor == actor) {
      out.push_back({actor, st.arg, st.size});
    }
  }
  return out;
}

std::vector<uint64_t> ChunksOf(const Scenario& s) {
  std::vector<uint64_t> out;
  for (const Step& st : s.steps) {
    if (st.op == Op::kRecv || st.op == Op::kTryRecv) out.push_back(st.size);
  }
  return out;
}

rc::Gen<uint64_t> AtomicSize(const Capabilities& c) {
  uint64_t limit = SizeLimit(c);
  if (c.atomic_write > 0) limit = std::min(limit, c.atomic_write);
  const uint64_t low = c.framing == Framing::kStream ? 1 : 0;
  std::vector<uint64_t> edges = {low, limit};
  if (limit > 1) edges.push_back(limit - 1);
  return rc::gen::weightedOneOf<uint64_t>({
      {1, rc::gen::elementOf(edges)},
      {3, rc::gen::inRange<uint64_t>(low, std::min<uint64_t>(limit, 256) + 1)},
      {1, rc::gen::inRange<uint64_t>(low, limit + 1)},
  });
}

Applicability Needs(bool ok, std::string_view capability) {
  return ok ? Applicability::Yes()
            : Applicability::No(absl::StrFormat("excluded by capability %s", capability));
}

}  // namespace ipcspec::props
