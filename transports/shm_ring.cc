// The shared-memory ring behind sysv_shm and posix_shm; see shm_ring.h.
//
// Memory ordering: only the writer-lock holder stores the head and only the
// reader-lock holder stores the tail, each with release after copying the
// bytes, and each side loads the other's index with acquire. A waiter
// announces itself in waiting[role] and re-checks its condition; a party
// that changed the condition fences and posts if someone announced itself
// (both sides fence seq_cst: the Dekker pattern), so no wake-up is lost.
#include "transports/shm_ring.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "ipcspec/util.h"

namespace ipcspec {
namespace {

constexpr uint64_t kMagic = 0x3372'6d68'7363'7069;  // "ipcshmr3"
constexpr size_t kChunkHeader = 8;
// The data area: kShmRingCapacity payload bytes in up to kShmRingMaxQueued
// chunks always fit, headers included.
constexpr uint64_t kRingBytes = kShmRingCapacity + kShmRingMaxQueued * kChunkHeader;
constexpr uint32_t kFirstChunk = 1u << 31;
// A message larger than the ring goes in chunks of at least this much (the
// last one excepted), so a slow reader does not turn it into tiny pieces.
constexpr size_t kMinStreamChunk = 16384;
constexpr int kMaxEnds = kShmRingMaxEnds;
constexpr int kReader = static_cast<int>(Role::kReader);
constexpr int kWriter = static_cast<int>(Role::kWriter);

struct ChunkHeader {
  uint32_t length;  // body bytes in this chunk
  uint32_t meta;    // first chunk: kFirstChunk | message length; else 0
};
static_assert(sizeof(ChunkHeader) == kChunkHeader);
static_assert(kShmRingMaxMessage < kFirstChunk);

struct Shared {
  uint64_t magic = 0;
  alignas(64) std::byte sync[kShmSyncAreaBytes];
  // Bytes and chunks ever published (by the writer-lock holder) and ever
  // consumed (by the reader-lock holder).
  alignas(64) std::atomic<uint64_t> head;
  std::atomic<uint64_t> head_chunks;
  // While a chunk is published: 1 + the head it starts at, and head_chunks
  // before it (0 otherwise). A writer that dies between raising the count
  // and storing the head leaves the count one too high, which would make
  // the ring look full for good; the next holder of the writer lock puts it
  // back (ShmRingEnd::Lock).
  std::atomic<uint64_t> publishing;
  std::atomic<uint64_t> publishing_chunks;
  alignas(64) std::atomic<uint64_t> tail;
  std::atomic<uint64_t> tail_chunks;
  alignas(64) std::atomic<uint32_t> opened[2];  // ends ever opened, by role
  // By role, 1 + the highest slot an End ever claimed (raised before the
  // claim): no slot past it has ever been taken.
  std::atomic<uint32_t> slots_used[2];
  std::atomic<int32_t> slots[2][kMaxEnds];  // pid of each open end, 0 = free
  std::atomic<int32_t> waiting[2];          // ends waiting on each event
  std::atomic<int32_t> lock_owner[2];       // pid holding each lock, 0 = none
  // The message being reassembled; under the reader lock (assembling is
  // also read without it, by a Recv that finds nothing to take).
  std::atomic<uint32_t> assembling;
  uint32_t assembly_total = 0;
  uint32_t assembly_length = 0;
  alignas(64) std::byte ring[kRingBytes];
  alignas(64) std::byte assembly[kShmRingMaxMessage];
};
static_assert(std::atomic<uint64_t>::is_always_lock_free);
static_assert(std::atomic<int32_t>::is_always_lock_free);

Shared* AsShared(void* base) { return static_cast<Shared*>(base); }

// True when `pid` has exited or is exiting: no such process, a zombie not
// yet reaped (kill() still succeeds on a zombie), or PF_EXITING in its flags.
// The last matters because the kernel wakes the peers (semaphore undo,
// robust futexes) early in do_exit, before the process is a zombie.
// A process reaped between the kill() and the read (the open or the read
// then fails with ENOENT or ESRCH) is gone as well: taken for alive, its
// death would go unnoticed once its wake-up had been spent on this look.
bool ProcessGone(pid_t pid) {
  constexpr unsigned long kPfExiting = 0x4;  // include/linux/sched.h
  if (::kill(pid, 0) != 0) return errno == ESRCH;
  auto reaped_since = [pid] {
    const int err = errno;
    return err == ENOENT || err == ESRCH || (::kill(pid, 0) != 0 && errno == ESRCH);
  };
  FileDescriptor fd(::open(absl::StrCat("/proc/", pid, "/stat").c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return reaped_since();
  char buf[512];
  const ssize_t n = ::read(fd.get(), buf, sizeof(buf) - 1);
  if (n < 0) return reaped_since();
  if (n == 0) return false;
  buf[n] = '\0';
  const char* paren = std::strrchr(buf, ')');
  char state = '?';
  unsigned long flags = 0;
  // ") S ppid pgrp session tty_nr tpgid flags ..."
  if (paren == nullptr ||
      std::sscanf(paren + 1, " %c %*d %*d %*d %*d %*d %lu", &state, &flags) != 2) {
    return false;
  }
  return state == 'Z' || state == 'X' || (flags & kPfExiting) != 0;
}

class ShmRingEnd : public End {
 public:
  ShmRingEnd(Role role, int slot, ShmMapping mapping, std::unique_ptr<ShmSync> sync)
      : me_(static_cast<int>(role)),
        peer_(1 - me_),
        slot_(slot),
        pid_(::getpid()),
        mapping_(std::move(mapping)),
        sync_(std::move(sync)),
        s_(AsShared(mapping_.get())) {}

  ~ShmRingEnd() override {
    // A copy inherited through fork() is not an open end of that process.
    if (::getpid() != pid_) return;
    // The slot first: a peer that wakes for Closed() finds it free.
    s_->slots[me_][slot_].store(0);
    sync_->Closed(me_, slot_);
    Notify(peer_);
  }

  int Send(std::span<const std::byte> buf, size_t* sent, int timeout_ms) override;
  int Recv(std::span<std::byte> buf, size_t* received, int timeout_ms) override;

 private:
  // How many slots of `role` to look at: those ever used (the scans of
  // every slot cost the fuzz targets a tenth of their time).
  uint32_t SlotsUsed(int role) const {
    return std::min<uint32_t>(s_->slots_used[role].load(), kMaxEnds);
  }
  // Opened ends of `role` exist or existed, and none is open now.
  // Only the slots ever used are looked at: once the writer closed, every
  // receive asked this of all kMaxEnds slots.
  bool AllGone(int role) const {
    const uint32_t used = SlotsUsed(role);
    for (uint32_t i = 0; i < used; ++i) {
      if (s_->slots[role][i].load() != 0) return false;
    }
    return s_->opened[role].load() > 0;
  }
  // The largest chunk body that may be published now, or -1 when the ring
  // holds kShmRingMaxQueued chunks. The reader consumes tail_chunks before
  // tail, so a stale pair only ever makes the ring look fuller.
  int64_t Room() const {
    const uint64_t tail = s_->tail.load(std::memory_order_acquire);
    const uint64_t chunks = s_->head_chunks.load(std::memory_order_relaxed) -
                            s_->tail_chunks.load(std::memory_order_acquire);
    if (chunks >= kShmRingMaxQueued) return -1;
    const uint64_t payload =
        s_->head.load(std::memory_order_relaxed) - tail - chunks * kChunkHeader;
    return payload >= kShmRingCapacity ? 0 : static_cast<int64_t>(kShmRingCapacity - payload);
  }
  void Notify(int role) {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (s_->waiting[role].load(std::memory_order_relaxed) > 0) sync_->Post(role);
  }
  // Frees the slots of peers that died without closing their end.
  void ReapDeadPeers() {
    const uint32_t used = SlotsUsed(peer_);
    for (uint32_t i = 0; i < used; ++i) {
      std::atomic<int32_t>& slot = s_->slots[peer_][i];
      int32_t pid = slot.load();
      if (pid != 0 && pid != pid_ && ProcessGone(pid)) slot.compare_exchange_strong(pid, 0);
    }
  }
  // The slots of the peer role that hold an End now.
  int OpenPeers(int* out) const {
    int n = 0;
    const int used = static_cast<int>(SlotsUsed(peer_));
    for (int i = 0; i < used; ++i) {
      if (s_->slots[peer_][i].load() != 0) out[n++] = i;
    }
    return n;
  }
  template <typename Ready>
  int Await(Ready ready, bool nonblocking, absl::Time until);
  int Lock(bool nonblocking, absl::Time until);
  void Unlock() {
    s_->lock_owner[me_].store(0);
    sync_->Unlock(me_);
  }

  // Copies between the ring at stream position `pos` and `p`, wrapping.
  void CopyIn(uint64_t pos, const void* p, size_t n) {
    const size_t off = pos % kRingBytes, first = std::min<size_t>(n, kRingBytes - off);
    if (n == 0) return;
    std::memcpy(s_->ring + off, p, first);
    std::memcpy(s_->ring, static_cast<const std::byte*>(p) + first, n - first);
  }
  void CopyOut(uint64_t pos, void* p, size_t n) const {
    const size_t off = pos % kRingBytes, first = std::min<size_t>(n, kRingBytes - off);
    if (n == 0) return;
    std::memcpy(p, s_->ring + off, first);
    std::memcpy(static_cast<std::byte*>(p) + first, s_->ring, n - first);
  }
  // Nothing published, no message half assembled, and a writer may still
  // send: a Recv that does not block can only give -EAGAIN, and needs no
  // lock to say so. (Published chunks are read before writers, as in Recv.)
  bool NothingToTake() const {
    return s_->head.load(std::memory_order_acquire) == s_->tail.load(std::memory_order_acquire) &&
           s_->assembling.load() == 0 && !AllGone(kWriter);
  }
  // Consumes chunks until a whole message is in buf (1), the ring has no
  // more chunks (0), or the next message does not fit buf (-EMSGSIZE).
  int Drain(std::span<std::byte> buf, size_t* received);
  // Not a chunk this code wrote: drops everything published.
  int SkipCorrupt(uint64_t head) {
    s_->assembling = 0;
    s_->tail_chunks.store(s_->head_chunks.load(std::memory_order_acquire),
                          std::memory_order_release);
    s_->tail.store(head, std::memory_order_release);
    Notify(kWriter);
    return 0;
  }
  void Consume(uint64_t tail, size_t body) {
    s_->tail_chunks.fetch_add(1, std::memory_order_release);
    s_->tail.store(tail + kChunkHeader + body, std::memory_order_release);
    Notify(kWriter);
  }

  const int me_, peer_, slot_;
  const pid_t pid_;
  // A wait of this End was woken and found its condition met: the post it
  // took may have been a peer's death (Await).
  bool death_unseen_ = false;
  ShmMapping mapping_;
  std::unique_ptr<ShmSync> sync_;  // declared after mapping_: destroyed first
  Shared* const s_;
};

template <typename Ready>
int ShmRingEnd::Await(Ready ready, bool nonblocking, absl::Time until) {
  for (;;) {
    if (ready()) return 0;
    if (nonblocking) {
      // A peer that died never closed its end: only a look frees its slot
      // (a blocking wait looks as it wakes). Without one here a call that
      // does not block would never see the death (END, -EPIPE).
      ReapDeadPeers();
      return ready() ? 0 : -EAGAIN;
    }
    if (absl::Now() >= until) return -ETIMEDOUT;
    // The wake-up an earlier wait took may have been a peer's death as
    // much as the data it found: a death posts once, so it is looked for
    // before this End sleeps again.
    if (death_unseen_) {
      death_unseen_ = false;
      ReapDeadPeers();
      if (ready()) return 0;
    }
    s_->waiting[me_].fetch_add(1);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    int r = 0;
    bool slept = false;
    if (!ready()) {
      int peers[kMaxEnds];
      const int n = OpenPeers(peers);
      r = sync_->Wait(me_, until, std::span<const int>(peers, static_cast<size_t>(n)));
      slept = true;
    }
    s_->waiting[me_].fetch_sub(1);
    if (r != 0 && r != -ETIMEDOUT && r != -EINTR) return r;
    // Not a Post for us: a peer may have died.
    if (!ready()) {
      ReapDeadPeers();
    } else if (slept && r == 0 && sync_->DeathWakesOnce()) {
      death_unseen_ = true;
    }
  }
}

int ShmRingEnd::Lock(bool nonblocking, absl::Time until) {
  if (int r = sync_->Lock(me_, nonblocking, until); r != 0) return r;
  // A holder that died left its pid behind. A writer's half-published
  // message needs no repair (the next first chunk abandons it); a reader
  // may have died between copying a chunk and consuming it, so the
  // reassembly is dropped rather than trusted.
  const bool holder_died = s_->lock_owner[me_].exchange(pid_) != 0;
  if (holder_died && me_ == kReader) s_->assembling = 0;
  // A writer that died publishing a chunk: if its head was never stored,
  // neither was the chunk, and its count goes back.
  if (holder_died && me_ == kWriter) {
    const uint64_t at = s_->publishing.exchange(0);
    if (at != 0 && s_->head.load() == at - 1) s_->head_chunks.store(s_->publishing_chunks.load());
  }
  return 0;
}

int ShmRingEnd::Send(std::span<const std::byte> buf, size_t* sent, int timeout_ms) {
  *sent = 0;
  if (me_ != kWriter) return -EBADF;
  if (buf.size() > kShmRingMaxMessage) return -EMSGSIZE;
  const bool nonblocking = timeout_ms == 0;
  const absl::Time until = Deadline::FromTimeoutMs(timeout_ms).when();
  if (int r = Lock(nonblocking, until); r != 0) return r;
  absl::Cleanup unlock = [this] { Unlock(); };
  if (AllGone(kReader)) return -EPIPE;
  const size_t total = buf.size();
  // Never blocking means all or nothing: the lock holder is the only one
  // who fills the ring, so room seen now stays.
  // (Await looks for a reader that died: an -EPIPE owed now.)
  if (nonblocking && Room() < static_cast<int64_t>(total)) {
    return Await([this] { return AllGone(kReader); }, true, until) == 0 ? -EPIPE : -EAGAIN;
  }
  size_t done = 0;
  do {
    const size_t remaining = total - done;
    const size_t want = remaining <= kShmRingCapacity ? remaining : kMinStreamChunk;
    // A failure here abandons the chunks already published (see shm_ring.h).
    int r = Await([&] { return Room() >= static_cast<int64_t>(want) || AllGone(kReader); },
                  nonblocking, until);
    if (r != 0) return r;
    if (AllGone(kReader)) return -EPIPE;
    const size_t chunk = std::min<size_t>(remaining, static_cast<size_t>(Room()));
    const uint64_t head = s_->head.load(std::memory_order_relaxed);
    const ChunkHeader header = {static_cast<uint32_t>(chunk),
                                done == 0 ? kFirstChunk | static_cast<uint32_t>(total) : 0};
    CopyIn(head, &header, kChunkHeader);
    CopyIn(head + kChunkHeader, buf.data() + done, chunk);
    const uint64_t chunks = s_->head_chunks.load(std::memory_order_relaxed);
    s_->publishing_chunks.store(chunks, std::memory_order_relaxed);
    s_->publishing.store(head + 1, std::memory_order_relaxed);
    s_->head_chunks.store(chunks + 1, std::memory_order_relaxed);
    s_->head.store(head + kChunkHeader + chunk, std::memory_order_release);
    s_->publishing.store(0, std::memory_order_relaxed);
    Notify(kReader);
    done += chunk;
  } while (done < total);
  *sent = total;
  return 0;
}

int ShmRingEnd::Drain(std::span<std::byte> buf, size_t* received) {
  if (s_->assembling && s_->assembly_total > buf.size()) return -EMSGSIZE;
  for (;;) {
    const uint64_t tail = s_->tail.load(std::memory_order_relaxed);
    const uint64_t head = s_->head.load(std::memory_order_acquire);
    if (head == tail) return 0;
    if (head - tail < kChunkHeader) return SkipCorrupt(head);
    ChunkHeader h;
    CopyOut(tail, &h, kChunkHeader);
    const bool first = (h.meta & kFirstChunk) != 0;
    const uint32_t total = h.meta & ~kFirstChunk;
    if (h.length > head - tail - kChunkHeader || (first && h.length > total)) {
      return SkipCorrupt(head);
    }
    if (first) {
      s_->assembling = 0;  // a message still being assembled was abandoned
      if (total > buf.size()) return -EMSGSIZE;
      if (h.length == total) {
        CopyOut(tail + kChunkHeader, buf.data(), total);
        Consume(tail, total);
        *received = total;
        return 1;
      }
      s_->assembling = 1;
      s_->assembly_total = total;
      s_->assembly_length = 0;
    } else if (!s_->assembling || h.length > s_->assembly_total - s_->assembly_length) {
      Consume(tail, h.length);  // a piece of an abandoned message
      continue;
    }
    CopyOut(tail + kChunkHeader, s_->assembly + s_->assembly_length, h.length);
    s_->assembly_length += h.length;
    Consume(tail, h.length);
    if (s_->assembly_length == s_->assembly_total) {
      s_->assembling = 0;
      std::memcpy(buf.data(), s_->assembly, s_->assembly_total);
      *received = s_->assembly_total;
      return 1;
    }
  }
}

int ShmRingEnd::Recv(std::span<std::byte> buf, size_t* received, int timeout_ms) {
  *received = 0;
  if (me_ != kReader) return -EBADF;
  const bool nonblocking = timeout_ms == 0;
  // What the locked path would return, without the lock's two system calls
  // (sysv_shm's semop): the commonest receive of all is one on an empty ring.
  // (Await, which never waits here, looks for a writer that died: an END
  // owed now.)
  if (nonblocking && Await([this] { return !NothingToTake(); }, true, absl::InfinitePast()) != 0) {
    return -EAGAIN;
  }
  const absl::Time until = Deadline::FromTimeoutMs(timeout_ms).when();
  if (int r = Lock(nonblocking, until); r != 0) return r;
  absl::Cleanup unlock = [this] { Unlock(); };
  for (;;) {
    if (int r = Drain(buf, received); r != 0) return r < 0 ? r : 0;
    // Writers first, then the head: a writer publishes before it closes.
    if (AllGone(kWriter) &&
        s_->head.load(std::memory_order_acquire) == s_->tail.load(std::memory_order_relaxed)) {
      s_->assembling = 0;  // never completed: its writer is gone
      return kEnd;
    }
    int r = Await(
        [&] {
          return s_->head.load(std::memory_order_acquire) !=
                     s_->tail.load(std::memory_order_relaxed) ||
                 AllGone(kWriter);
        },
        nonblocking, until);
    if (r != 0) return r;
  }
}

}  // namespace

size_t ShmRingSegmentBytes() {
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  return (sizeof(Shared) + page - 1) / page * page;
}

void ShmRingInit(void* base) {
  // Default-initialised: the header's atomics are zeroed, the ring and the
  // reassembly area are left untouched (not faulted in).
  Shared* s = new (base) Shared;
  s->magic = kMagic;
}

void* ShmRingSyncArea(void* base) { return AsShared(base)->sync; }

CreatorMapping::CreatorMapping(ShmMapping mapping)
    : mapping_(std::move(mapping)), pid_(::getpid()) {}

ShmMapping CreatorMapping::ForOpen() const { return ::getpid() == pid_ ? mapping_ : nullptr; }

absl::StatusOr<std::unique_ptr<End>> OpenShmRingEnd(Role role, ShmMapping mapping,
                                                    std::unique_ptr<ShmSync> sync) {
  Shared* s = AsShared(mapping.get());
  if (s->magic != kMagic) return absl::FailedPreconditionError("shm ring: bad segment header");
  const int r = static_cast<int>(role);
  const pid_t pid = ::getpid();
  for (int i = 0; i < kMaxEnds; ++i) {
    // Armed before the pid is visible, so a peer never sees an open End
    // whose death would wake nobody.
    if (s->slots[r][i].load() != 0 || sync->Opened(r, i) != 0) continue;
    // Raised before the claim: a scan up to slots_used misses no taken slot.
    uint32_t used = s->slots_used[r].load();
    while (used < static_cast<uint32_t>(i + 1) &&
           !s->slots_used[r].compare_exchange_weak(used, static_cast<uint32_t>(i + 1))) {
    }
    int32_t expected = 0;
    if (s->slots[r][i].compare_exchange_strong(expected, pid)) {
      // After the slot: a peer never sees "opened, and none open".
      s->opened[r].fetch_add(1);
      // A peer already waiting chose what to wait on before this End was
      // there; waking it lets it include this End's death.
      sync->Post(1 - r);
      return std::make_unique<ShmRingEnd>(role, i, std::move(mapping), std::move(sync));
    }
    sync->Closed(r, i);
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("shm ring: more than ", kMaxEnds, " open ends of one role"));
}

}  // namespace ipcspec
