#include "properties/support/shm_sem.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <semaphore.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include "absl/cleanup/cleanup.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ipcspec/util.h"
#include "properties/support/common.h"

namespace ipcspec::props {
namespace {

class SysvSegment : public Segment {
 public:
  SysvSegment(int id, size_t size) : id_(id), size_(size) {}
  ~SysvSegment() override { ::shmctl(id_, IPC_RMID, nullptr); }
  void* Attach(bool read_only, std::string* error) override {
    void* p = ::shmat(id_, nullptr, read_only ? SHM_RDONLY : 0);
    if (p == reinterpret_cast<void*>(-1)) {
      *error = absl::StrCat("shmat: ", ErrnoName(errno));
      return nullptr;
    }
    return p;
  }
  void Detach(void* p) override { ::shmdt(p); }
  size_t size() const override { return size_; }

 private:
  int id_;
  size_t size_;
};

class SysvKind : public SegmentKind {
 public:
  std::string name() const override { return "shmget/shmat"; }
  std::unique_ptr<Segment> Create(size_t size, std::string* error) const override {
    int id = ::shmget(IPC_PRIVATE, size, IPC_CREAT | 0600);
    if (id < 0) {
      *error = absl::StrCat("shmget: ", ErrnoName(errno));
      return nullptr;
    }
    return std::make_unique<SysvSegment>(id, size);
  }
};

class PosixSegment : public Segment {
 public:
  PosixSegment(std::string name, size_t size, int map_flags)
      : name_(std::move(name)), size_(size), map_flags_(map_flags), creator_(::getpid()) {}
  ~PosixSegment() override {
    if (::getpid() == creator_) ::shm_unlink(name_.c_str());
  }
  void* Attach(bool read_only, std::string* error) override {
    FileDescriptor fd(::shm_open(name_.c_str(), read_only ? O_RDONLY : O_RDWR, 0));
    if (!fd) {
      *error = absl::StrCat("shm_open(", name_, "): ", ErrnoName(errno));
      return nullptr;
    }
    void* p = ::mmap(nullptr, size_, read_only ? PROT_READ : PROT_READ | PROT_WRITE, map_flags_,
                     fd.get(), 0);
    if (p == MAP_FAILED) {
      *error = absl::StrCat("mmap: ", ErrnoName(errno));
      return nullptr;
    }
    return p;
  }
  void Detach(void* p) override { ::munmap(p, size_); }
  size_t size() const override { return size_; }

 private:
  std::string name_;
  size_t size_;
  int map_flags_;
  pid_t creator_;
};

class PosixKind : public SegmentKind {
 public:
  explicit PosixKind(int map_flags) : map_flags_(map_flags) {}
  std::string name() const override {
    return map_flags_ == MAP_SHARED ? "shm_open/mmap(MAP_SHARED)" : "shm_open/mmap(MAP_PRIVATE)";
  }
  std::unique_ptr<Segment> Create(size_t size, std::string* error) const override {
    std::string name = UniqueName("/ipcspec-shm");
    FileDescriptor fd(::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600));
    if (!fd) {
      *error = absl::StrCat("shm_open(", name, "): ", ErrnoName(errno));
      return nullptr;
    }
    auto seg = std::make_unique<PosixSegment>(name, size, map_flags_);
    if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
      *error = absl::StrCat("ftruncate: ", ErrnoName(errno));
      return nullptr;
    }
    return seg;
  }

 private:
  int map_flags_;
};

class SysvSemaphore : public Semaphore {
 public:
  explicit SysvSemaphore(int id) : id_(id), creator_(::getpid()) {}
  ~SysvSemaphore() override {
    if (::getpid() == creator_) ::semctl(id_, 0, IPC_RMID);
  }
  int Wait(const Deadline& d) override {
    for (;;) {
      const int ms = d.RemainingMs();
      struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
      struct sembuf op = {0, -1, 0};
      if (::semtimedop(id_, &op, 1, d.infinite() ? nullptr : &ts) == 0) return 0;
      if (errno == EAGAIN) return -ETIMEDOUT;
      if (errno != EINTR) return -errno;
    }
  }
  int TryWait() override {
    struct sembuf op = {0, -1, IPC_NOWAIT};
    return ::semop(id_, &op, 1) == 0 ? 0 : -errno;
  }
  int Post() override {
    struct sembuf op = {0, 1, 0};
    return ::semop(id_, &op, 1) == 0 ? 0 : -errno;
  }

 private:
  int id_;
  pid_t creator_;
};

class PosixSemaphore : public Semaphore {
 public:
  PosixSemaphore(std::string name, sem_t* sem)
      : name_(std::move(name)), sem_(sem), creator_(::getpid()) {}
  ~PosixSemaphore() override {
    ::sem_close(sem_);
    if (::getpid() == creator_) ::sem_unlink(name_.c_str());
  }
  int Wait(const Deadline& d) override {
    struct timespec ts = absl::ToTimespec(d.when());
    for (;;) {
      if (::sem_timedwait(sem_, &ts) == 0) return 0;
      if (errno != EINTR) return -errno;
    }
  }
  int TryWait() override { return ::sem_trywait(sem_) == 0 ? 0 : -errno; }
  int Post() override { return ::sem_post(sem_) == 0 ? 0 : -errno; }

 private:
  std::string name_;
  sem_t* sem_;
  pid_t creator_;
};

class NonExcludingSemaphore : public Semaphore {
 public:
  int Wait(const Deadline&) override { return 0; }
  int TryWait() override { return 0; }
  int Post() override { return 0; }
};

long Futex(std::atomic<uint32_t>* addr, int op, uint32_t val, const struct timespec* ts) {
  return ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), op, val, ts, nullptr, 0);
}

// Waits until *word == want (acquire), with futex waits; false at the deadline.
bool AwaitWord(std::atomic<uint32_t>* word, uint32_t want, const Deadline& d) {
  for (;;) {
    uint32_t now = word->load(std::memory_order_acquire);
    if (now == want) return true;
    if (d.Passed()) return false;
    const int ms = std::min(d.RemainingMs(), 50);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    Futex(word, FUTEX_WAIT, now, &ts);
  }
}

void PublishWord(std::atomic<uint32_t>* word, uint32_t value) {
  word->store(value, std::memory_order_release);
  Futex(word, FUTEX_WAKE, INT32_MAX, nullptr);
}

}  // namespace

const SegmentKind& SysvSegments() {
  static const SysvKind k;
  return k;
}
const SegmentKind& PosixSegments() {
  static const PosixKind k(MAP_SHARED);
  return k;
}
const SegmentKind& PrivateMappingSegments() {
  static const PosixKind k(MAP_PRIVATE);
  return k;
}

std::unique_ptr<Semaphore> MakeSysvSemaphore(unsigned value, std::string* error) {
  int id = ::semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
  if (id < 0) {
    *error = absl::StrCat("semget: ", ErrnoName(errno));
    return nullptr;
  }
  auto s = std::make_unique<SysvSemaphore>(id);
  if (::semctl(id, 0, SETVAL, static_cast<int>(value)) != 0) {
    *error = absl::StrCat("semctl SETVAL: ", ErrnoName(errno));
    return nullptr;
  }
  return s;
}

std::unique_ptr<Semaphore> MakePosixSemaphore(unsigned value, std::string* error) {
  std::string name = UniqueName("/ipcspec-sem");
  sem_t* sem = ::sem_open(name.c_str(), O_CREAT | O_EXCL, 0600, value);
  if (sem == SEM_FAILED) {
    *error = absl::StrCat("sem_open(", name, "): ", ErrnoName(errno));
    return nullptr;
  }
  return std::make_unique<PosixSemaphore>(name, sem);
}

std::unique_ptr<Semaphore> MakeNonExcludingSemaphore() {
  return std::make_unique<NonExcludingSemaphore>();
}

namespace {

// The words at the start of a SHM-PUBLISH segment: ready, ack, consumed.
enum Word { kReady, kAck, kConsumed };
constexpr size_t kFlagBytes = 16;

class DataThenFlagPublisher : public Publisher {
 public:
  std::string name() const override { return "payload, then publish"; }
  void Write(uint8_t* data, const std::vector<uint8_t>& payload,
             const std::function<void()>& publish,
             const std::function<bool()>& /*consumed*/) const override {
    std::memcpy(data, payload.data(), payload.size());
    publish();
  }
};

// What the SHM-PUBLISH writer and reader share.
struct PublishChannel {
  const SegmentKind& kind;
  Publish how;
  const std::vector<uint64_t>& sizes;
  const PublishOptions& options;
  std::unique_ptr<Segment> seg;
  std::unique_ptr<Semaphore> ready, ack;  // only for the semaphore variants
  size_t offset = kFlagBytes;

  // The semaphore post, or the release store of `value` with a futex wake.
  void Signal(Semaphore* sem, std::atomic<uint32_t>* word, uint32_t value) const {
    if (sem != nullptr) {
      sem->Post();
    } else {
      PublishWord(word, value);
    }
  }
  bool Await(Semaphore* sem, std::atomic<uint32_t>* word, uint32_t want) const {
    const Deadline d = Deadline::After(absl::Milliseconds(kOpTimeoutMs));
    return sem != nullptr ? sem->Wait(d) == 0 : AwaitWord(word, want, d);
  }
};

std::string MakeChannel(PublishChannel* c) {
  uint64_t largest = 1;
  for (uint64_t s : c->sizes) largest = std::max(largest, s);
  if (c->options.next_page) c->offset = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  std::string err;
  c->seg = c->kind.Create(c->offset + largest, &err);
  if (!c->seg) return err;
  if (c->how == Publish::kAtomic) return "";
  const bool sysv = c->how == Publish::kSysvSemaphore;
  c->ready = sysv ? MakeSysvSemaphore(0, &err) : MakePosixSemaphore(0, &err);
  if (c->ready) c->ack = sysv ? MakeSysvSemaphore(0, &err) : MakePosixSemaphore(0, &err);
  return c->ready && c->ack ? "" : err;
}

// Attaches the channel's segment in this process and calls `each` for
// message i = 0, 1, ... with n = i + 1 (the value its flags take), the flag
// words at the start of the segment and the message area; stops at the first
// verdict that is not a pass. The segment is detached on every path.
Verdict ForEachMessage(
    const PublishChannel& c,
    absl::FunctionRef<Verdict(size_t i, uint32_t n, std::atomic<uint32_t>* words, uint8_t* data)>
        each) {
  std::string e;
  auto* base = static_cast<uint8_t*>(c.seg->Attach(false, &e));
  if (base == nullptr) return Verdict::Broken(e);
  absl::Cleanup detach = [&] { c.seg->Detach(base); };
  auto* words = reinterpret_cast<std::atomic<uint32_t>*>(base);
  for (size_t i = 0; i < c.sizes.size(); ++i) {
    if (Verdict v = each(i, static_cast<uint32_t>(i + 1), words, base + c.offset); !v.ok()) {
      return v;
    }
  }
  return Verdict::Pass();
}

Verdict PublishWriter(const PublishChannel& c, const Publisher& publisher) {
  return ForEachMessage(c, [&](size_t i, uint32_t n, std::atomic<uint32_t>* words, uint8_t* data) {
    std::vector<uint8_t> payload(c.sizes[i]);
    for (uint64_t b = 0; b < payload.size(); ++b) payload[b] = MessageByte(c.options.seed, i, b);
    publisher.Write(
        data, payload, [&] { c.Signal(c.ready.get(), &words[kReady], n); },
        [&] { return c.Await(nullptr, &words[kConsumed], n); });
    if (!c.Await(c.ack.get(), &words[kAck], n)) {
      return Verdict::Fail(
          absl::StrFormat("message %d: the reader's acknowledgement never became visible", i));
    }
    return Verdict::Pass();
  });
}

// Why byte `b` of message `i` reads `got`: an older message, or nothing yet.
std::string WhatItHolds(const PublishChannel& c, uint64_t i, uint64_t b, uint8_t got) {
  if (got == 0) return "it is still zero";
  if (i > 0 && got == MessageByte(c.options.seed, i - 1, b)) return "it holds the previous message";
  return "it holds neither this message nor the previous one";
}

Verdict PublishReader(const PublishChannel& c) {
  return ForEachMessage(c, [&](size_t i, uint32_t n, std::atomic<uint32_t>* words, uint8_t* data) {
    if (!c.Await(c.ready.get(), &words[kReady], n)) {
      return Verdict::Fail(absl::StrFormat(
          "message %d: the writer's release store of %d to the flag in the segment never "
          "became visible to this process within %d ms (%s)",
          i, n, kOpTimeoutMs, c.kind.name()));
    }
    const std::vector<uint8_t> copy(data, data + c.sizes[i]);
    PublishWord(&words[kConsumed], n);
    for (uint64_t b = 0; b < copy.size(); ++b) {
      const uint8_t want = MessageByte(c.options.seed, i, b);
      if (copy[b] != want) {
        return Verdict::Fail(absl::StrFormat(
            "message %d (%s) published by the writer: byte %d is 0x%02x, expected 0x%02x "
            "(%s); the writer's data is not visible in this process (%s)",
            i, ByteCount(c.sizes[i]), b, copy[b], want, WhatItHolds(c, i, b, copy[b]),
            c.kind.name()));
      }
    }
    c.Signal(c.ack.get(), &words[kAck], n);
    return Verdict::Pass();
  });
}

}  // namespace

const Publisher& DataThenFlag() {
  static const DataThenFlagPublisher p;
  return p;
}

uint8_t MessageByte(uint32_t seed, uint64_t msg, uint64_t offset) {
  return static_cast<uint8_t>(1 + (PatternByte(seed, 0, offset) + 37 * (msg + 1)) % 255);
}

Verdict CheckPublish(const SegmentKind& kind, Publish how, const std::vector<uint64_t>& sizes,
                     const CaseEnv& env) {
  return CheckPublish(kind, how, sizes, PublishOptions{}, env);
}

Verdict CheckPublish(const SegmentKind& kind, Publish how, const std::vector<uint64_t>& sizes,
                     const PublishOptions& options, const CaseEnv& env) {
  PublishChannel c{kind, how, sizes, options};
  if (std::string err = MakeChannel(&c); !err.empty()) return Verdict::Broken(err);
  const Publisher& publisher = options.publisher != nullptr ? *options.publisher : DataThenFlag();
  Participants ps(Deadline::After(env.deadline - absl::Now() - absl::Milliseconds(300)));
  ps.Spawn("writer", [&] { return PublishWriter(c, publisher); });
  ps.Spawn("reader", [&] { return PublishReader(c); });
  return ps.Join();
}

Verdict CheckForkSharing(const SegmentKind& kind, uint64_t size, const CaseEnv& env) {
  std::string err;
  std::unique_ptr<Segment> seg = kind.Create(size, &err);
  if (!seg) return Verdict::Broken(err);
  auto* base = static_cast<uint8_t*>(seg->Attach(false, &err));
  if (base == nullptr) return Verdict::Broken(err);
  for (uint64_t b = 0; b < size; ++b) base[b] = PatternByte(1, 0, b);
  Participants ps(Deadline::After(env.deadline - absl::Now() - absl::Milliseconds(300)));
  ps.Spawn("fork child", [&]() -> Verdict {
    for (uint64_t b = 0; b < size; ++b) {
      if (base[b] != PatternByte(1, 0, b)) {
        return Verdict::Fail(
            absl::StrFormat("byte %d written by the parent before fork reads 0x%02x", b, base[b]));
      }
    }
    for (uint64_t b = 0; b < size; ++b) base[b] = PatternByte(2, 1, b);
    return Verdict::Pass();
  });
  Verdict v = ps.Join();
  for (uint64_t b = 0; v.ok() && b < size; ++b) {
    if (base[b] != PatternByte(2, 1, b)) {
      v =
          Verdict::Fail(absl::StrFormat("after the fork child wrote the %d-byte segment and "
                                        "exited, the parent reads byte %d as 0x%02x, "
                                        "expected 0x%02x (%s)",
                                        size, b, base[b], PatternByte(2, 1, b), kind.name()));
    }
  }
  seg->Detach(base);
  return v;
}

}  // namespace ipcspec::props
