// posix_shm: the shared-memory ring (shm_ring.h) in a POSIX shared-memory
// object (shm_open under a unique "/ipcspec-..." name, O_CREAT|O_EXCL, mode
// 0600, ftruncate, mmap MAP_SHARED). Each End maps the object by name itself
// and unmaps it when closed; Destroy() unlinks the name.
//
// The wait/post primitive lives in the segment: a process-shared robust
// mutex per role (pthread_mutex_clocklock on CLOCK_MONOTONIC; a holder that
// dies makes the next locker get EOWNERDEAD, which takes the lock and marks
// it consistent) and a process-shared semaphore per role as the event
// (sem_init pshared=1, sem_clockwait on CLOCK_MONOTONIC). A Post only posts
// when the semaphore is 0, so posts coalesce and the value stays bounded.
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <new>

#include "absl/cleanup/cleanup.h"
#include "absl/time/clock.h"
#include "ipcspec/registry.h"
#include "ipcspec/util.h"
#include "transports/shm_ring.h"

namespace ipcspec {
namespace {

constexpr int kNameAttempts = 16;

struct PosixSyncState {
  pthread_mutex_t locks[2];
  sem_t events[2];
};
static_assert(sizeof(PosixSyncState) <= kShmSyncAreaBytes);

void Unmap(void* p) { ::munmap(p, ShmRingSegmentBytes()); }

// `until` (absl::Now's clock) as an absolute CLOCK_MONOTONIC time.
struct timespec MonotonicDeadline(absl::Time until) {
  struct timespec now;
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  const absl::Duration left = std::max(until - absl::Now(), absl::ZeroDuration());
  return absl::ToTimespec(absl::DurationFromTimespec(now) + left);
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
    for (int role = 0; role < 2; ++role) {
      if (int err = ::pthread_mutex_init(&state->locks[role], &attr); err != 0) {
        return ErrnoStatus("pthread_mutex_init", name, err);
      }
      if (::sem_init(&state->events[role], 1, 0) != 0) return ErrnoStatus("sem_init", name);
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
    }
    if (err == EOWNERDEAD) err = ::pthread_mutex_consistent(m);
    if (err == EBUSY) return -EAGAIN;
    return -err;
  }
  void Unlock(int role) override { ::pthread_mutex_unlock(&state_->locks[role]); }
  int Wait(int role, absl::Time until) override {
    sem_t* sem = &state_->events[role];
    int r;
    if (until == absl::InfiniteFuture()) {
      r = ::sem_wait(sem);
    } else {
      const struct timespec abs = MonotonicDeadline(until);
      r = ::sem_clockwait(sem, CLOCK_MONOTONIC, &abs);
    }
    return r == 0 ? 0 : -errno;
  }
  void Post(int role) override {
    sem_t* sem = &state_->events[role];
    int value = 0;
    if (::sem_getvalue(sem, &value) == 0 && value > 0) return;
    ::sem_post(sem);
  }

 private:
  PosixSyncState* state_;
};

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
    FileDescriptor fd(::shm_open(name_.c_str(), O_RDWR | O_CLOEXEC, 0));
    if (!fd) return ErrnoStatus("shm_open", name_);
    absl::StatusOr<ShmMapping> mapping = Map(fd.get(), name_);
    if (!mapping.ok()) return mapping.status();
    void* area = ShmRingSyncArea(mapping->get());
    return OpenShmRingEnd(role, *std::move(mapping), std::make_unique<PosixSync>(area));
  }
  void Detach() override { creator_.reset(); }
  absl::Status Destroy() override {
    creator_.reset();
    if (::shm_unlink(name_.c_str()) != 0) return ErrnoStatus("shm_unlink", name_);
    return absl::OkStatus();
  }

 private:
  std::string name_;
  ShmMapping creator_;
};

class PosixShmTransport : public Transport {
 public:
  PosixShmTransport() : caps_(ShmRingCapabilities()) {}
  std::string_view name() const override { return "posix_shm"; }
  std::string_view description() const override {
    return "ring in a POSIX shm object (shm_open/mmap) + pshared robust mutexes, sem_t";
  }
  const Capabilities& caps() const override { return caps_; }

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

 private:
  Capabilities caps_;
};

IPCSPEC_REGISTER_TRANSPORT(PosixShmTransport);

}  // namespace
}  // namespace ipcspec
