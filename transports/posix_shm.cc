// posix_shm: the shared-memory ring (shm_ring.h) in a POSIX shared-memory
// object (shm_open under a unique "/ipcspec-..." name, O_CREAT|O_EXCL, mode
// 0600, ftruncate, mmap MAP_SHARED). An End opened in another process maps
// the object by name itself (in the creating process it shares the creator's
// mapping) and lets go of it when closed; Destroy() unlinks the name.
//
// The wait/post primitive lives in the segment: a process-shared robust
// mutex per role as the lock (pthread_mutex_clocklock on CLOCK_MONOTONIC; a
// holder that dies makes the next locker get EOWNERDEAD, which takes the
// lock and marks it consistent) and a futex word per role as the event (a
// binary semaphore: Post sets it to 1 and wakes, Wait takes the 1).
//
// The locks inherit priority (PTHREAD_PRIO_INHERIT): a writer waits for
// room with its role's lock held, so the others wait for the lock, and a
// plain mutex's unlock wakes one of them, which takes the lock only once it
// runs. Killed between its wake-up and that, it takes the wake-up with it:
// the waiters left sleep beside a free lock until their bounds run out
// (G-WAKEUP-KILLED). A priority-inheriting mutex is handed over by the
// kernel at the unlock, so a waiter killed as it is woken already owns it,
// and its death passes it on (EOWNERDEAD).
//
// Peer death: each open End holds a robust mutex of its own ("alive", one
// per End slot) for its whole life. When its process dies the kernel marks
// that mutex's futex word FUTEX_OWNER_DIED and wakes its waiters, so a Wait
// is one futex_waitv(2) on the event word and the alive words of the open
// peers. Kernels without futex_waitv (before 5.16) fall back to waiting on
// the event alone in slices of kDeathPollSlice.
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <new>
#include <span>

#include "absl/cleanup/cleanup.h"
#include "absl/time/clock.h"
#include "ipcspec/registry.h"
#include "ipcspec/util.h"
#include "transports/shm_ring.h"
#include "transports/transport_base.h"

namespace ipcspec {
namespace {

constexpr int kNameAttempts = 16;
// Without futex_waitv: how often a blocked End looks for dead peers.
constexpr absl::Duration kDeathPollSlice = absl::Milliseconds(20);

constexpr TransportSpec kPosixShmSpec = {
    .name = "posix_shm",
    .description = "ring in a POSIX shm object (shm_open/mmap) + pshared robust mutexes, futexes",
    .caps = kShmRingCaps};

struct PosixSyncState {
  pthread_mutex_t locks[2];
  pthread_mutex_t alive[2][kShmRingMaxEnds];
  std::atomic<uint32_t> events[2];
};
static_assert(sizeof(PosixSyncState) <= kShmSyncAreaBytes);
static_assert(std::atomic<uint32_t>::is_always_lock_free);

void Unmap(void* p) { ::munmap(p, ShmRingSegmentBytes()); }

// `until` (absl::Now's clock) as an absolute CLOCK_MONOTONIC time.
struct timespec MonotonicDeadline(absl::Time until) {
  struct timespec now;
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  const absl::Duration left = std::max(until - absl::Now(), absl::ZeroDuration());
  return absl::ToTimespec(absl::DurationFromTimespec(now) + left);
}

// The futex word of a robust mutex: the owner's tid, FUTEX_WAITERS and
// FUTEX_OWNER_DIED (the kernel's robust-futex ABI, which glibc follows).
std::atomic<uint32_t>* FutexWord(pthread_mutex_t* m) {
  static_assert(sizeof(m->__data.__lock) == sizeof(uint32_t));
  return reinterpret_cast<std::atomic<uint32_t>*>(&m->__data.__lock);
}

// Shared (not FUTEX_PRIVATE_FLAG): the words are in a MAP_SHARED segment.
void FutexWakeAll(std::atomic<uint32_t>* word) {
  ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

// Waits until one of the words differs from its value or is woken, or
// until `until`: 0, -ETIMEDOUT, -EINTR, -ENOSYS or -errno.
int FutexWaitAny(std::span<struct futex_waitv> words, absl::Time until) {
  struct timespec abs;
  struct timespec* timeout = nullptr;
  if (until != absl::InfiniteFuture()) {
    abs = MonotonicDeadline(until);
    timeout = &abs;
  }
  if (::syscall(SYS_futex_waitv, words.data(), words.size(), 0, timeout, CLOCK_MONOTONIC) >= 0) {
    return 0;
  }
  return errno == EAGAIN ? 0 : -errno;  // EAGAIN: a word had changed already
}

class PosixSync : public ShmSync {
 public:
  explicit PosixSync(void* area) : state_(static_cast<PosixSyncState*>(area)) {}

  // Initialises the state in a fresh segment.
  static absl::Status Init(void* area, std::string_view name) {
    auto* state = new (area) PosixSyncState;
    pthread_mutexattr_t attr;
    ::pthread_mutexattr_init(&attr);
    absl::Cleanup destroy_attr = [&attr] { ::pthread_mutexattr_destroy(&attr); };
    ::pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    ::pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    // The alive mutexes stay plain: a Wait watches their futex words, and
    // the kernel wakes such a watcher at the owner's death only for a
    // mutex that does not inherit priority.
    pthread_mutexattr_t locks_attr;
    ::pthread_mutexattr_init(&locks_attr);
    absl::Cleanup destroy_locks_attr = [&locks_attr] { ::pthread_mutexattr_destroy(&locks_attr); };
    ::pthread_mutexattr_setpshared(&locks_attr, PTHREAD_PROCESS_SHARED);
    ::pthread_mutexattr_setrobust(&locks_attr, PTHREAD_MUTEX_ROBUST);
    ::pthread_mutexattr_setprotocol(&locks_attr, PTHREAD_PRIO_INHERIT);
    for (int role = 0; role < 2; ++role) {
      if (int err = ::pthread_mutex_init(&state->locks[role], &locks_attr); err != 0) {
        return ErrnoStatus("pthread_mutex_init", name, err);
      }
      for (pthread_mutex_t& m : state->alive[role]) {
        if (int err = ::pthread_mutex_init(&m, &attr); err != 0) {
          return ErrnoStatus("pthread_mutex_init", name, err);
        }
      }
      state->events[role].store(0);
    }
    return absl::OkStatus();
  }

  int Lock(int role, bool nonblocking, absl::Time until) override {
    pthread_mutex_t* m = &state_->locks[role];
    int err;
    if (nonblocking) {
      err = ::pthread_mutex_trylock(m);
    } else if (until == absl::InfiniteFuture()) {
      err = ::pthread_mutex_lock(m);
    } else {
      const struct timespec abs = MonotonicDeadline(until);
      err = ::pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &abs);
      if (err == EINVAL) {
        // A kernel without FUTEX_LOCK_PI2 (before 5.14) times a
        // priority-inheriting lock on CLOCK_REALTIME only.
        const struct timespec wall = absl::ToTimespec(until);
        err = ::pthread_mutex_timedlock(m, &wall);
      }
    }
    if (err == EOWNERDEAD) err = ::pthread_mutex_consistent(m);
    if (err == EBUSY) return -EAGAIN;
    return -err;
  }
  void Unlock(int role) override { ::pthread_mutex_unlock(&state_->locks[role]); }

  int Opened(int role, int slot) override {
    pthread_mutex_t* m = &state_->alive[role][slot];
    int err = ::pthread_mutex_trylock(m);
    // The slot's last End died holding it: ours now.
    if (err == EOWNERDEAD) err = ::pthread_mutex_consistent(m);
    return -err;
  }
  void Closed(int role, int slot) override { ::pthread_mutex_unlock(&state_->alive[role][slot]); }

  int Wait(int role, absl::Time until, std::span<const int> peers) override;

  void Post(int role) override {
    if (state_->events[role].exchange(1) == 0) FutexWakeAll(&state_->events[role]);
  }

 private:
  PosixSyncState* state_;
};

int PosixSync::Wait(int role, absl::Time until, std::span<const int> peers) {
  std::atomic<uint32_t>* event = &state_->events[role];
  if (event->exchange(0) == 1) return 0;
  struct futex_waitv words[1 + kShmRingMaxEnds] = {};
  size_t n = 0;
  words[n++] = {.val = 0, .uaddr = reinterpret_cast<uintptr_t>(event), .flags = FUTEX_32};
  for (int slot : peers) {
    std::atomic<uint32_t>* alive = FutexWord(&state_->alive[1 - role][slot]);
    uint32_t v = alive->load();
    // FUTEX_WAITERS makes the kernel wake us when the owner dies (and the
    // owner's unlock wake us too).
    while ((v & FUTEX_TID_MASK) != 0 && (v & FUTEX_WAITERS) == 0 &&
           !alive->compare_exchange_weak(v, v | FUTEX_WAITERS)) {
    }
    if ((v & FUTEX_TID_MASK) == 0) return 0;  // closed or dead: let the ring look
    words[n++] = {
        .val = v | FUTEX_WAITERS, .uaddr = reinterpret_cast<uintptr_t>(alive), .flags = FUTEX_32};
  }
  const int r = FutexWaitAny(std::span(words, n), until);
  if (r != -ENOSYS) return r;
  // Before Linux 5.16: the event alone, and a look for dead peers (the
  // ring's, after any return) every kDeathPollSlice.
  const absl::Duration left = std::min(until - absl::Now(), kDeathPollSlice);
  if (left <= absl::ZeroDuration()) return -ETIMEDOUT;
  const struct timespec ts = absl::ToTimespec(left);
  if (::syscall(SYS_futex, reinterpret_cast<uint32_t*>(event), FUTEX_WAIT, 0, &ts, nullptr, 0) ==
          0 ||
      errno == EAGAIN || errno == ETIMEDOUT) {
    return 0;
  }
  return -errno;
}

// Maps the object `name` (open descriptor fd) into this process.
absl::StatusOr<ShmMapping> Map(int fd, const std::string& name) {
  void* p = ::mmap(nullptr, ShmRingSegmentBytes(), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return ErrnoStatus("mmap", name);
  return ShmMapping(p, Unmap);
}

class PosixShmChannel : public Channel {
 public:
  PosixShmChannel(std::string name, ShmMapping creator)
      : name_(std::move(name)), creator_(std::move(creator)) {}

  absl::StatusOr<std::unique_ptr<End>> Open(Role role) override {
    ShmMapping mapping = creator_.ForOpen();
    if (mapping == nullptr) {
      FileDescriptor fd(::shm_open(name_.c_str(), O_RDWR | O_CLOEXEC, 0));
      if (!fd) return ErrnoStatus("shm_open", name_);
      absl::StatusOr<ShmMapping> own = Map(fd.get(), name_);
      if (!own.ok()) return own.status();
      mapping = *std::move(own);
    }
    void* area = ShmRingSyncArea(mapping.get());
    return OpenShmRingEnd(role, std::move(mapping), std::make_unique<PosixSync>(area));
  }
  void Detach() override { creator_.reset(); }
  absl::Status Destroy() override {
    creator_.reset();
    if (::shm_unlink(name_.c_str()) != 0) return ErrnoStatus("shm_unlink", name_);
    return absl::OkStatus();
  }

 private:
  std::string name_;
  CreatorMapping creator_;
};

class PosixShmTransport : public TransportBase {
 public:
  PosixShmTransport() : TransportBase(kPosixShmSpec) {}

  absl::StatusOr<std::unique_ptr<Channel>> Create(const std::string&) const override {
    std::string name;
    FileDescriptor fd;
    for (int i = 0; i < kNameAttempts && !fd; ++i) {
      name = UniqueName("/ipcspec");
      fd.reset(::shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600));
      if (!fd && errno != EEXIST) break;
    }
    if (!fd) return ErrnoStatus("shm_open", name);
    absl::Cleanup unlink = [&name] { ::shm_unlink(name.c_str()); };
    if (::ftruncate(fd.get(), static_cast<off_t>(ShmRingSegmentBytes())) != 0) {
      return ErrnoStatus("ftruncate", name);
    }
    absl::StatusOr<ShmMapping> mapping = Map(fd.get(), name);
    if (!mapping.ok()) return mapping.status();
    ShmRingInit(mapping->get());
    if (absl::Status s = PosixSync::Init(ShmRingSyncArea(mapping->get()), name); !s.ok()) return s;
    std::move(unlink).Cancel();
    return std::make_unique<PosixShmChannel>(std::move(name), *std::move(mapping));
  }
};

IPCSPEC_REGISTER_TRANSPORT(PosixShmTransport);

}  // namespace
}  // namespace ipcspec
