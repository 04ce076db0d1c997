#include "properties/support/common.h"

#include <limits.h>
#include <linux/futex.h>
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ipcspec/engine.h"
#include "ipcspec/proc.h"
#include "ipcspec/util.h"
#include "ipcspec/watch.h"
#include "properties/support/run_mark.h"

// In a sanitized build the sanitizer's allocator serves malloc; weak, as
// it exists only there.
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*,
                                                                             size_t),
                                                         void (*free_hook)(const volatile void*))
    __attribute__((weak));

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
  w.unit_ms = static_cast<int>(unit);
  w.grace_ms = static_cast<int>(absl::ToInt64Milliseconds(env.hang_grace));
  return w;
}

int64_t Waits::AfterCloseUs(bool realtime) const {
  const int64_t us = std::max<int64_t>(int64_t{unit_ms} * 1250, 2000);
  return realtime ? us : us + int64_t{grace_ms} * 1000;
}

std::string EndStays(End& end, std::span<std::byte> buf, const Waits& waits, int64_t allowed_us) {
  size_t n = 0;
  int rc = end.Recv(buf, &n, 0);
  if (rc == -ECONNRESET) rc = end.Recv(buf, &n, 0);
  if (rc != kEnd) {
    return absl::StrFormat(
        "after END, a receive with timeout 0 gave %s: END, once given, is the answer at once to "
        "every receive after it (every writer has closed)%s",
        Errno(rc),
        rc == -EAGAIN ? "; a receive that does not wait, and returns before it looks for the end "
                        "(or for a dead writer), gives -EAGAIN here"
                      : "");
  }
  const RunMark start = RunMark::Start();
  rc = end.Recv(buf, &n, waits.deliver_ms);
  const int64_t took_us = RunMark::Stop().SinceNs(start) / 1000;
  if (rc != kEnd || took_us > allowed_us) {
    return absl::StrFormat(
        "after END, a receive with timeout %d ms gave %s %.1f ms later (allowed: %.1f ms): END, "
        "once given, is the answer to every receive after it",
        waits.deliver_ms, Errno(rc), took_us / 1e3, allowed_us / 1e3);
  }
  return "";
}

int OwedCallTimeout(uint64_t choice, const Waits& waits) {
  return choice == 1 ? 0 : choice == 2 ? -1 : waits.deliver_ms;
}

std::string SayCallTimeout(int timeout_ms) {
  return timeout_ms > 0 ? absl::StrCat(timeout_ms, " ms") : absl::StrCat(timeout_ms);
}

std::string Backoff::SayWaited() const {
  return absl::FormatDuration(absl::Trunc(waited_, absl::Milliseconds(1)));
}

bool Backoff::Next() {
  if (waited_ + pause_ > bound_) return false;
  absl::SleepFor(pause_);
  waited_ += pause_;
  pause_ *= 2;
  return true;
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

uint64_t Page() { return static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)); }

std::vector<char> PayloadText(uint32_t writer, uint64_t msg, uint64_t size) {
  std::vector<char> out(size);
  FillPayload(writer, msg, 0, std::as_writable_bytes(std::span(out)));
  return out;
}

bool IsPayload(std::span<const std::byte> got, const Sent& s) {
  return got.size() == s.size && PayloadMismatch(s.writer, s.msg, 0, got) == got.size();
}

uint64_t RecvBufferSize(const Capabilities& c) {
  return c.max_message > 0 ? c.max_message : uint64_t{1} << 20;
}

uint64_t DrainBufferSize(const Capabilities& c) {
  return c.framing == Framing::kStream ? 65536 : RecvBufferSize(c);
}

uint64_t SizeLimit(const Capabilities& c) {
  uint64_t limit = c.capacity > 0 ? 2 * c.capacity + 1 : 256 * 1024;
  if (c.max_message > 0) limit = std::min(limit, c.max_message);
  return std::min<uint64_t>(limit, 1 << 20);
}

rc::Gen<bool> OneInThree() {
  return rc::gen::map(rc::gen::inRange(0, 3), [](int x) { return x == 2; });
}

rc::Gen<uint64_t> EdgeSize(const Capabilities& c, bool header_widths) {
  const uint64_t limit = SizeLimit(c);
  std::vector<uint64_t> edges = {0, 1, 2, PIPE_BUF - 1, PIPE_BUF, PIPE_BUF + 1};
  if (header_widths) {
    // The sizes either side of the widths a length header is stored in (a
    // varint's first byte, a byte, 16 bits).
    edges.insert(edges.end(), {127, 128, 255, 256, 65535, 65536});
  }
  if (c.capacity > 0) {
    for (uint64_t v : {c.capacity - 1, c.capacity, c.capacity + 1, 2 * c.capacity + 1}) {
      edges.push_back(v);
    }
  }
  if (c.max_message > 0) {
    edges.push_back(c.max_message - 1);
    edges.push_back(c.max_message);
  }
  if (c.atomic_write > 0) {  // the largest send that may not interleave, and one past it
    edges.push_back(c.atomic_write);
    edges.push_back(c.atomic_write + 1);
  }
  std::vector<uint64_t> usable;
  for (uint64_t e : edges) {
    if (e <= limit && std::find(usable.begin(), usable.end(), e) == usable.end()) {
      usable.push_back(e);
    }
  }
  std::sort(usable.begin(), usable.end());
  return rc::gen::weightedOneOf<uint64_t>({
      {3, ShrinkingElementOf(std::move(usable))},
      {2, rc::gen::inRange<uint64_t>(0, std::min<uint64_t>(limit, 64) + 1)},
      {2, rc::gen::inRange<uint64_t>(0, limit + 1)},
  });
}

rc::Gen<uint64_t> UniformBelow(uint64_t n) {
  return [n](const rc::Random& random, int /*size*/) {
    return rc::shrinkable::shrinkRecur(rc::Random(random).next() % n, [](uint64_t i) {
      return rc::shrink::towards<uint64_t>(i, 0);
    });
  };
}

bool Sanitized() { return &__sanitizer_install_malloc_and_free_hooks != nullptr; }

rc::Gen<uint64_t> EachInTurn(uint64_t n) {
  const auto sizes = static_cast<uint64_t>(RunConfig{}.max_size) + 1;
  return [n, sizes](const rc::Random&, int size) {
    const uint64_t at = std::min<uint64_t>(static_cast<uint64_t>(std::max(size, 0)), sizes - 1);
    return rc::shrinkable::just(at * n / sizes);
  };
}

rc::Gen<uint64_t> ShrinkingElementOf(std::vector<uint64_t> values) {
  const uint64_t n = values.size();
  return rc::gen::map(UniformBelow(n),
                      [values = std::move(values)](uint64_t i) { return values[i]; });
}

rc::Gen<uint64_t> ChunkSize() {
  return rc::gen::weightedOneOf<uint64_t>({
      {2, ShrinkingElementOf({1, 7, 512, 4096, 65536, 1 << 20})},
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
             ? absl::StrFormat("message %d (%s)", s.msg, ByteCount(s.size))
             : absl::StrFormat("message %d of writer %d (%s)", s.msg, s.writer, ByteCount(s.size));
}

std::string Errno(int rc) {
  if (rc == kEnd) return "END";
  if (rc == 0) return "0";
  return absl::StrCat("-", ErrnoName(-rc));
}

std::string SendAll(End& end, const Sent& s, Framing framing, int timeout_ms, bool try_first,
                    const std::function<void()>& on_would_block,
                    const std::function<bool()>& again_after_timeout) {
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
    if (rc == -ETIMEDOUT && again_after_timeout && again_after_timeout()) continue;
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

// A flag word: kRaised once raised, kAbandoned once abandoned; a wait ends
// at the first change from 0.
constexpr uint32_t kRaised = 1, kAbandoned = 2;

// The flag words of every SharedFlags alive in this process (a fork
// inherits the list with the mappings), for SharedFlags::AbandonAll.
struct FlagSet {
  void* words;
  size_t count;
};
std::mutex& FlagSetsMutex() {
  static auto* mu = new std::mutex;
  return *mu;
}
std::vector<FlagSet>& FlagSets() {
  static auto* sets = new std::vector<FlagSet>;
  return *sets;
}

}  // namespace

SharedFlags::SharedFlags(size_t count)
    : mem_(2 * count * sizeof(std::atomic<uint64_t>)), count_(count) {
  for (size_t i = 0; i < 2 * count; ++i)
    new (static_cast<std::atomic<uint64_t>*>(mem_.data()) + i) std::atomic<uint64_t>(0);
  std::lock_guard<std::mutex> lock(FlagSetsMutex());
  FlagSets().push_back({mem_.data(), count});
}

SharedFlags::~SharedFlags() {
  if (mem_.data() == nullptr) return;  // moved from
  std::lock_guard<std::mutex> lock(FlagSetsMutex());
  std::erase_if(FlagSets(), [this](const FlagSet& f) { return f.words == mem_.data(); });
}

void SharedFlags::AbandonAll() {
  std::lock_guard<std::mutex> lock(FlagSetsMutex());
  for (const FlagSet& set : FlagSets()) {
    for (size_t i = 0; i < set.count; ++i) {
      auto* f = reinterpret_cast<std::atomic<uint32_t>*>(
          static_cast<std::atomic<uint64_t>*>(set.words) + i);
      if ((f->fetch_or(kAbandoned) & kRaised) != 0) continue;
      ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(f), FUTEX_WAKE, INT32_MAX, nullptr, nullptr,
                0);
    }
  }
}

std::atomic<uint32_t>* SharedFlags::Flag(size_t i) const {
  // A flag past the count would be a counter's word: a mistake in the
  // property, stopped here rather than left to alias.
  if (i >= count_) {
    const std::string what =
        absl::StrFormat("ipcspec: SharedFlags: flag %d of a set of %d\n", i, count_);
    [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, what.data(), what.size());
    std::abort();
  }
  return reinterpret_cast<std::atomic<uint32_t>*>(static_cast<std::atomic<uint64_t>*>(mem_.data()) +
                                                  i);
}

void SharedFlags::Raise(size_t i) {
  auto* f = Flag(i);
  f->fetch_or(kRaised);
  ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(f), FUTEX_WAKE, INT32_MAX, nullptr, nullptr, 0);
}

bool SharedFlags::IsRaised(size_t i) const { return (Flag(i)->load() & kRaised) != 0; }

bool SharedFlags::WaitFor(size_t i, const Deadline& d, bool watched) const {
  auto* f = Flag(i);
  if (const uint32_t v = f->load(); v != 0) return (v & kRaised) != 0;
  auto wait = [&] {
    while (f->load() == 0) {
      int ms = d.RemainingMs();
      if (ms == 0) return false;
      struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
      ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(f), FUTEX_WAIT, 0, ms < 0 ? nullptr : &ts,
                nullptr, 0);
    }
    return (f->load() & kRaised) != 0;
  };
  if (!watched) return wait();
  WatchedCall published = WatchedCall::PeerWait("wait for a flag");
  return wait();
}

std::atomic<uint64_t>& SharedFlags::Counter(size_t i) const {
  if (i >= count_) (void)Flag(i);  // the same mistake, the same stop
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

namespace {
std::atomic<int64_t> g_live_allocations{0};
void CountMalloc(const volatile void*, size_t) { g_live_allocations.fetch_add(1); }
void CountFree(const volatile void* p) {
  if (p != nullptr) g_live_allocations.fetch_sub(1);
}

// glibc keeps up to 7 freed chunks of each size up to 1032 bytes in a
// cache of the thread's (tcache), and mallinfo2() counts them as in use: a
// chunk leaked where the cache had one of its size changes nothing, and one
// freed into the cache looks leaked. Filled to the brim before each count,
// by taking and freeing more chunks of every cached size than it holds,
// the cache is the same at every count and only what the program holds
// moves it.
void SettleThreadCache() {
  constexpr size_t kSizes = 64, kEach = 16;  // chunk sizes 32..1040; tcache_count is 7
  void* volatile held[kSizes * kEach];
  for (size_t i = 0; i < kSizes; ++i) {
    for (size_t k = 0; k < kEach; ++k) held[i * kEach + k] = std::malloc(24 + 16 * i);
  }
  for (void* volatile& p : held) std::free(p);
}
}  // namespace

int64_t HeapAllocations() {
  if (&__sanitizer_install_malloc_and_free_hooks != nullptr) {
    static const bool hooked = __sanitizer_install_malloc_and_free_hooks(CountMalloc, CountFree);
    if (hooked) return g_live_allocations.load();
  }
  SettleThreadCache();
  const struct mallinfo2 m = ::mallinfo2();
  return static_cast<int64_t>((m.uordblks + m.hblkhd) / 32);
}

std::string_view HeapUnit() {
  return &__sanitizer_install_malloc_and_free_hooks != nullptr ? "allocations" : "x 32 bytes";
}

bool CanFill(const Capabilities& c) {
  return (c.capacity > 0 || c.max_queued > 0) && c.model != ModelClass::kCounter;
}

int FillWithoutWaiting(End& end, const Capabilities& c, std::span<const std::byte> msg) {
  // Every send fits, so only room ends the filling: at most one per byte of
  // capacity or one per message it counts, and some more.
  const uint64_t most = 4 * (c.capacity / std::max<size_t>(msg.size(), 1) + c.max_queued) + 64;
  int rc = 0;
  for (uint64_t k = 0; k < most && rc == 0; ++k) {
    size_t n = 0;
    rc = end.Send(msg, &n, 0);
  }
  return rc;
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

uint64_t AtomicLimit(const Capabilities& c) {
  const uint64_t limit = SizeLimit(c);
  return c.atomic_write > 0 ? std::min(limit, c.atomic_write) : limit;
}

rc::Gen<uint64_t> AtomicSize(const Capabilities& c) {
  const uint64_t limit = AtomicLimit(c);
  const uint64_t low = c.framing == Framing::kStream ? 1 : 0;
  std::vector<uint64_t> edges = {low, limit};
  if (limit > 1) edges.push_back(limit - 1);
  return rc::gen::weightedOneOf<uint64_t>({
      {1, ShrinkingElementOf(std::move(edges))},
      {3, rc::gen::inRange<uint64_t>(low, std::min<uint64_t>(limit, 256) + 1)},
      {1, rc::gen::inRange<uint64_t>(low, limit + 1)},
  });
}

long ThreadSleeps() {
  struct rusage ru = {};
  ::getrusage(RUSAGE_THREAD, &ru);
  return ru.ru_nvcsw;
}

absl::Duration ThreadCpuTime() {
  timespec ts = {};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return absl::DurationFromTimespec(ts);
}

Applicability Needs(bool ok, std::string_view capability) {
  return ok ? Applicability::Yes()
            : Applicability::No(absl::StrFormat("excluded by capability %s", capability));
}

}  // namespace ipcspec::props
