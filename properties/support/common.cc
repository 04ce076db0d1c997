#include "properties/support/common.h"

#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ipcspec/watch.h"

namespace ipcspec::props {
namespace {

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

uint8_t PatternByte(uint32_t writer, uint64_t msg, uint64_t offset) {
  uint64_t word = Mix((uint64_t{writer} << 56) ^ (msg << 36) ^ (offset >> 3));
  return static_cast<uint8_t>(word >> (8 * (offset & 7)));
}

std::vector<std::byte> Payload(uint32_t writer, uint64_t msg, uint64_t size) {
  std::vector<std::byte> out(size);
  for (uint64_t i = 0; i < size; ++i) out[i] = std::byte{PatternByte(writer, msg, i)};
  return out;
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

std::optional<Sent> Identify(const std::vector<std::byte>& got,
                             const std::vector<Sent>& candidates) {
  for (const Sent& c : candidates) {
    if (c.size == got.size() && Payload(c.writer, c.msg, c.size) == got) return c;
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

std::string ExpectMessage(End& end, const Sent& want, const std::vector<Sent>& all, uint64_t buffer,
                          int timeout_ms) {
  std::vector<std::byte> buf(buffer);
  size_t n = 0;
  int rc = end.Recv(buf, &n, timeout_ms);
  if (rc == kEnd) return absl::StrCat("end of stream where ", Name(want), " was expected");
  if (rc != 0) return absl::StrCat("receiving ", Name(want), ": ", Errno(rc));
  buf.resize(n);
  const std::vector<std::byte> expect = Payload(want.writer, want.msg, want.size);
  if (buf == expect) return "";
  if (std::optional<Sent> other = Identify(buf, all)) {
    return absl::StrCat("got ", Name(*other), " where ", Name(want), " was expected");
  }
  if (n != want.size) {
    return absl::StrFormat("%s arrived with %d bytes", Name(want), n);
  }
  for (size_t i = 0; i < n; ++i) {
    if (buf[i] != expect[i]) {
      return absl::StrFormat("%s corrupted at byte %d: expected 0x%02x, got 0x%02x", Name(want), i,
                             static_cast<int>(expect[i]), static_cast<int>(buf[i]));
    }
  }
  return "";
}

std::string ExpectStream(End& end, const std::vector<Sent>& want,
                         const std::vector<uint64_t>& chunks, int timeout_ms) {
  size_t msg = 0;
  uint64_t offset = 0;  // within want[msg]
  uint64_t total = 0;
  size_t chunk_index = 0;
  auto skip_empty = [&] {
    while (msg < want.size() && offset == want[msg].size) {
      ++msg;
      offset = 0;
    }
  };
  skip_empty();
  std::vector<std::byte> buf;
  while (msg < want.size()) {
    uint64_t cap = chunks.empty() ? 65536 : chunks[chunk_index++ % chunks.size()];
    const bool try_first = (cap & kTryFirst) != 0;
    cap &= ~kTryFirst;
    buf.resize(std::max<uint64_t>(cap, 1));
    size_t n = 0;
    int rc = try_first ? end.Recv(buf, &n, 0) : -EAGAIN;
    if (rc == -EAGAIN) rc = end.Recv(buf, &n, timeout_ms);
    if (rc == kEnd) {
      return absl::StrFormat("end of stream after %d bytes, in %s at byte %d", total,
                             Name(want[msg]), offset);
    }
    if (rc != 0) {
      return absl::StrFormat("receiving at byte %d (%s, byte %d): %s", total, Name(want[msg]),
                             offset, Errno(rc));
    }
    if (n > buf.size()) return absl::StrFormat("recv reported %d bytes into %d", n, buf.size());
    for (size_t i = 0; i < n; ++i) {
      if (msg >= want.size()) {
        return absl::StrFormat("%d bytes more than the %d sent", n - i, total);
      }
      const uint8_t expect = PatternByte(want[msg].writer, want[msg].msg, offset);
      if (static_cast<uint8_t>(buf[i]) != expect) {
        return absl::StrFormat("stream byte %d (%s, byte %d): expected 0x%02x, got 0x%02x", total,
                               Name(want[msg]), offset, expect, static_cast<int>(buf[i]));
      }
      ++offset;
      ++total;
      skip_empty();
    }
  }
  return "";
}

std::string ExpectUnordered(End& end, const Capabilities& c, const std::vector<Sent>& want,
                            bool reliable) {
  std::vector<bool> seen(want.size(), false);
  size_t got = 0;
  std::vector<std::byte> buf;
  while (got < want.size()) {
    int rc = RecvMessage(end, c, &buf, kOpTimeoutMs);
    if (rc == -ETIMEDOUT && !reliable) return "";
    if (rc == kEnd)
      return absl::StrFormat("end of stream after %d of %d messages", got, want.size());
    if (rc != 0)
      return absl::StrFormat("receiving after %d of %d messages: %s", got, want.size(), Errno(rc));
    // The first not yet seen message with these bytes (empty ones are alike).
    size_t i = 0;
    bool known = false;
    for (; i < want.size(); ++i) {
      if (want[i].size != buf.size() || Payload(want[i].writer, want[i].msg, want[i].size) != buf)
        continue;
      known = true;
      if (!seen[i]) break;
    }
    if (!known)
      return absl::StrFormat("a %d-byte message that was never sent (corrupt or torn)", buf.size());
    if (i == want.size())
      return absl::StrFormat("a %d-byte message arrived more often than it was sent", buf.size());
    seen[i] = true;
    ++got;
  }
  return "";
}

std::string ExpectNothingMore(End& end, const Capabilities& c, bool writers_closed) {
  std::vector<std::byte> buf(RecvBufferSize(c));
  size_t n = 0;
  if (c.peer_close && writers_closed) {
    int rc = end.Recv(buf, &n, kOpTimeoutMs);
    if (rc == kEnd) return "";
    if (rc == 0)
      return absl::StrFormat("%d unexpected bytes after everything sent (duplicated?)", n);
    return absl::StrCat("no end of stream after every writer closed: ", Errno(rc));
  }
  int rc = end.Recv(buf, &n, 0);
  if (rc == -EAGAIN) return "";
  if (rc == 0) return absl::StrFormat("%d unexpected bytes after everything sent (duplicated?)", n);
  if (rc == kEnd && writers_closed) return "";
  return absl::StrCat("non-blocking receive on an empty channel: ", Errno(rc), ", not -EAGAIN");
}

std::string SendAll(End& end, const Sent& s, Framing framing, int timeout_ms, bool try_first) {
  const std::vector<std::byte> data = Payload(s.writer, s.msg, s.size);
  size_t done = 0;
  for (;;) {
    size_t sent = 0;
    const size_t left = data.size() - done;
    int rc =
        end.Send(std::span<const std::byte>(data).subspan(done), &sent, try_first ? 0 : timeout_ms);
    const bool retry_blocking = try_first && rc == -EAGAIN;
    try_first = false;
    if (retry_blocking) continue;
    if (rc != 0) return absl::StrCat("sending ", Name(s), ": ", Errno(rc));
    if (sent > left) {
      return absl::StrFormat("sending %s: %d bytes reported sent of %d", Name(s), sent, left);
    }
    if (framing == Framing::kMessage && sent != left) {
      return absl::StrFormat("sending %s: only %d bytes of the message reported sent", Name(s),
                             sent);
    }
    done += sent;
    if (done == data.size()) return "";
    if (sent == 0) return absl::StrCat("sending ", Name(s), ": no progress");
  }
}

Verdict RunActors(const Transport& t, const CaseEnv& env, std::vector<Actor> actors,
                  std::function<Verdict(ActorControl&)> during) {
  absl::StatusOr<std::unique_ptr<Channel>> ch = t.Create(env.scratch_dir);
  if (!ch.ok()) return Verdict::Broken(absl::StrCat("create: ", ch.status().message()));
  const auto parties = static_cast<uint32_t>(actors.size());
  ProcessBarrier opened(parties), finished(parties);
  const Deadline deadline = Deadline::After(env.deadline - absl::Now() - absl::Milliseconds(300));
  Verdict verdict;
  {
    Participants ps(deadline);
    for (Actor& a : actors) {
      ps.Spawn(a.name, [&] {
        Verdict v;
        std::unique_ptr<End> end = OpenEnd(**ch, a.role, &v);
        // Everyone passes both barriers, whatever happens, so nobody waits
        // for a participant that gave up.
        if (!opened.Wait(deadline) && v.ok()) v = Verdict::Fail("not every participant opened");
        if (end != nullptr && v.ok()) {
          std::string err = a.fn(end);
          if (!err.empty()) v = Verdict::Fail(err);
        }
        end.reset();
        finished.Wait(deadline);
        return v;
      });
    }
    (*ch)->Detach();
    std::optional<Verdict> hook;
    ActorControl control(ps, finished);
    if (during) hook = during(control);
    verdict = ps.Join();
    if (hook && !hook->ok()) verdict = *hook;
  }
  absl::Status destroyed = (*ch)->Destroy();
  if (!destroyed.ok() && verdict.ok()) {
    verdict = Verdict::Fail(absl::StrCat("destroy: ", destroyed.message()));
  }
  return verdict;
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

int RecvMessage(End& end, const Capabilities& c, std::vector<std::byte>* out, int timeout_ms) {
  out->resize(RecvBufferSize(c));
  size_t n = 0;
  int rc = end.Recv(*out, &n, timeout_ms);
  out->resize(rc == 0 ? n : 0);
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

bool OrderedModel(const Capabilities& c) {
  return c.ordered && (c.model == ModelClass::kByteStream || c.model == ModelClass::kFifoQueue ||
                       c.model == ModelClass::kPriorityQueue || c.model == ModelClass::kTypedQueue);
}

}  // namespace ipcspec::props
