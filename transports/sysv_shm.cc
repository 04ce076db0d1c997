// sysv_shm: the shared-memory ring (shm_ring.h) in a System V segment
// (shmget), guarded by a System V semaphore set (semget), both under random
// keys, created IPC_CREAT|IPC_EXCL with mode 0600. An End opened in another
// process attaches the segment itself (shmat; in the creating process it
// shares the creator's attachment) and lets go of it when closed.
//
// The set holds four semaphores: a lock per role (value 1 = free), taken
// and given back with SEM_UNDO so the kernel releases the lock of a process
// that dies holding it, and an event per role. A Post adds 1 to the event
// unless a wake-up is pending already, so posts coalesce and the value
// stays bounded. Bounded waits use semtimedop.
//
// Peer death: an open End keeps an adjustment of +1 on the other role's
// event (one semop of +1, then -1 with SEM_UNDO, which leaves the value as it
// was), so when its process dies the kernel's undo posts that event and the
// blocked peer wakes. Closing takes the adjustment back. (SETVAL would clear
// every process's adjustments, so nothing here uses it after Create.) That
// post wakes one wait, which may also find data the dying writer published:
// the ring then looks for dead peers before it sleeps again
// (ShmSync::DeathWakesOnce).
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <span>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "ipcspec/registry.h"
#include "ipcspec/util.h"
#include "transports/shm_ring.h"
#include "transports/transport_base.h"

namespace ipcspec {
namespace {

constexpr unsigned short kLock = 0;   // + role
constexpr unsigned short kEvent = 2;  // + role
constexpr int kSemaphores = 4;
constexpr int kKeyAttempts = 64;

constexpr TransportSpec kSysvShmSpec = {
    .name = "sysv_shm",
    .description = "ring in a SysV shm segment (shmget) + SysV semaphores (semtimedop, SEM_UNDO)",
    .caps = kShmRingCaps};

// Linux makes the caller define it (semctl(2)).
union semun {
  int val;
  struct semid_ds* buf;
  unsigned short* array;
};

std::string KeyString(key_t key) { return absl::StrFormat("0x%08x", static_cast<unsigned>(key)); }

void Shmdt(void* p) { ::shmdt(p); }

// Calls get(key) with random keys until it does not fail with EEXIST.
// Returns the key and the id.
template <typename Get>
absl::StatusOr<std::pair<key_t, int>> GetUnderRandomKey(std::string_view call, Get get) {
  key_t key = 0;
  for (int i = 0; i < kKeyAttempts; ++i) {
    key = static_cast<key_t>((OsRandom32() & INT_MAX) | 1);
    const int id = get(key);
    if (id >= 0) return std::make_pair(key, id);
    if (errno != EEXIST) break;
  }
  return ErrnoStatus(call, KeyString(key));
}

class SysvSync : public ShmSync {
 public:
  explicit SysvSync(int semid) : semid_(semid) {}

  int Lock(int role, bool nonblocking, absl::Time until) override {
    struct sembuf op = {static_cast<unsigned short>(kLock + role), -1,
                        static_cast<short>(SEM_UNDO | (nonblocking ? IPC_NOWAIT : 0))};
    return Op(op, until);
  }
  void Unlock(int role) override {
    struct sembuf op = {static_cast<unsigned short>(kLock + role), 1, SEM_UNDO};
    Retry(&op, 1);
  }
  int Opened(int role, int) override {
    const auto peer_event = static_cast<unsigned short>(kEvent + 1 - role);
    struct sembuf ops[2] = {{peer_event, 1, 0}, {peer_event, -1, SEM_UNDO}};
    return Retry(ops, 2);
  }
  void Closed(int role, int) override {
    const auto peer_event = static_cast<unsigned short>(kEvent + 1 - role);
    struct sembuf ops[2] = {{peer_event, 1, SEM_UNDO}, {peer_event, -1, 0}};
    Retry(ops, 2);
  }
  int Wait(int role, absl::Time until, std::span<const int>) override {
    struct sembuf op = {static_cast<unsigned short>(kEvent + role), -1, 0};
    return Op(op, until);
  }
  bool DeathWakesOnce() const override { return true; }
  void Post(int role) override {
    if (::semctl(semid_, kEvent + role, GETVAL) > 0) return;  // a wake-up is pending
    struct sembuf op = {static_cast<unsigned short>(kEvent + role), 1, IPC_NOWAIT};
    Retry(&op, 1);
  }

 private:
  // semop, retried on EINTR: 0 or -errno.
  int Retry(struct sembuf* ops, size_t n) {
    while (::semop(semid_, ops, n) != 0) {
      if (errno != EINTR) return -errno;
    }
    return 0;
  }
  // One semtimedop with a timeout relative to now; 0, -EAGAIN (IPC_NOWAIT),
  // -ETIMEDOUT or -errno. EINTR is retried with the time that is left.
  int Op(struct sembuf op, absl::Time until) {
    for (;;) {
      struct timespec ts;
      const struct timespec* timeout = nullptr;
      if (until != absl::InfiniteFuture()) {
        ts = absl::ToTimespec(std::max(until - absl::Now(), absl::ZeroDuration()));
        timeout = &ts;
      }
      if (::semtimedop(semid_, &op, 1, timeout) == 0) return 0;
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return (op.sem_flg & IPC_NOWAIT) ? -EAGAIN : -ETIMEDOUT;
      return -errno;
    }
  }

  int semid_;
};

class SysvShmChannel : public Channel {
 public:
  SysvShmChannel(key_t shm_key, int shmid, int semid, ShmMapping creator)
      : shm_key_(shm_key), shmid_(shmid), semid_(semid), creator_(std::move(creator)) {}

  absl::StatusOr<std::unique_ptr<End>> Open(Role role) override {
    ShmMapping mapping = creator_.ForOpen();
    if (mapping == nullptr) {
      void* p = ::shmat(shmid_, nullptr, 0);
      if (p == reinterpret_cast<void*>(-1)) return ErrnoStatus("shmat", KeyString(shm_key_));
      mapping = ShmMapping(p, Shmdt);
    }
    return OpenShmRingEnd(role, std::move(mapping), std::make_unique<SysvSync>(semid_));
  }
  void Detach() override { creator_.reset(); }
  absl::Status Destroy() override {
    creator_.reset();
    absl::Status status;
    if (::shmctl(shmid_, IPC_RMID, nullptr) != 0) {
      status.Update(ErrnoStatus("shmctl(IPC_RMID)", KeyString(shm_key_)));
    }
    if (::semctl(semid_, 0, IPC_RMID) != 0) {
      status.Update(ErrnoStatus("semctl(IPC_RMID)", absl::StrFormat("id %d", semid_)));
    }
    return status;
  }

 private:
  key_t shm_key_;
  int shmid_, semid_;
  CreatorMapping creator_;
};

class SysvShmTransport : public TransportBase {
 public:
  SysvShmTransport() : TransportBase(kSysvShmSpec) {}

  absl::StatusOr<std::unique_ptr<Channel>> Create(const std::string&) const override {
    const size_t bytes = ShmRingSegmentBytes();
    auto shm = GetUnderRandomKey(
        "shmget", [bytes](key_t key) { return ::shmget(key, bytes, IPC_CREAT | IPC_EXCL | 0600); });
    if (!shm.ok()) return shm.status();
    const key_t shm_key = shm->first;
    const int shmid = shm->second;
    absl::Cleanup remove_shm = [shmid] { ::shmctl(shmid, IPC_RMID, nullptr); };
    auto sem = GetUnderRandomKey("semget", [](key_t key) {
      return ::semget(key, kSemaphores, IPC_CREAT | IPC_EXCL | 0600);
    });
    if (!sem.ok()) return sem.status();
    const int semid = sem->second;
    absl::Cleanup remove_sem = [semid] { ::semctl(semid, 0, IPC_RMID); };
    unsigned short values[kSemaphores] = {1, 1, 0, 0};
    union semun arg;
    arg.array = values;
    if (::semctl(semid, 0, SETALL, arg) != 0) {
      return ErrnoStatus("semctl(SETALL)", KeyString(sem->first));
    }
    void* p = ::shmat(shmid, nullptr, 0);
    if (p == reinterpret_cast<void*>(-1)) return ErrnoStatus("shmat", KeyString(shm_key));
    ShmMapping mapping(p, Shmdt);
    ShmRingInit(mapping.get());
    std::move(remove_shm).Cancel();
    std::move(remove_sem).Cancel();
    return std::make_unique<SysvShmChannel>(shm_key, shmid, semid, std::move(mapping));
  }
};

IPCSPEC_REGISTER_TRANSPORT(SysvShmTransport);

}  // namespace
}  // namespace ipcspec
