// signal: realtime signals as a message transport. Every message is one
// SIGRTMIN+2 queued to the reader's process (pidfd_send_signal with
// SI_QUEUE, i.e. sigqueue through a pidfd), its length and up to 7 payload
// bytes packed into the 8-byte sigval; one RT signal number queues first in,
// first out, so delivery is ordered. The reader blocks the signal and takes
// messages with sigtimedwait(2), skipping signals that are not SI_QUEUE from
// a writer of this channel.
//
// Create() maps MAP_SHARED|MAP_ANONYMOUS pages, inherited across fork,
// where the reader publishes its pid (writers wait for it on a futex) and
// writers register theirs. A writer's close queues an END marker after its
// data; the reader reports the end once it has taken the marker of every
// writer that opened. The reader's close sets a flag after which sends fail
// with EPIPE, waits until no writer is between checking that flag and
// sigqueue (each writer holds a robust mutex there, so a writer killed inside
// ends the wait at once, by event), takes every pending instance of the signal, and restores its
// mask, so no late signal reaches the process with its default action.
//
// The queue limit (RLIMIT_SIGPENDING) is per user and sigqueue cannot wait
// for room: on EAGAIN a bounded send waits on a futex the reader bumps when
// it takes a signal, in slices of kRoomSlice because room freed by another
// process of the same user is announced by no one.
//
// Limits: one reader End per process (the signal is per process); a writer
// killed without closing its End never sends its END marker, so the reader
// then times out instead of seeing the end.
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <optional>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_format.h"
#include "ipcspec/registry.h"
#include "ipcspec/util.h"
#include "transports/transport_base.h"

namespace ipcspec {
namespace {

constexpr size_t kMaxMessage = 7;
constexpr uint64_t kLengthMask = 0xff;
constexpr uint64_t kEndMarker = 0xff;  // in the length byte
constexpr uint32_t kMaxWriters = 1000;
constexpr absl::Duration kRendezvousTimeout = absl::Seconds(10);
constexpr absl::Duration kCloseTimeout = absl::Seconds(2);
constexpr absl::Duration kRoomSlice = absl::Milliseconds(10);
static_assert(sizeof(void*) == sizeof(uint64_t), "the payload travels in sival_ptr");

constexpr TransportSpec kSignalSpec = {
    .name = "signal",
    .description = "realtime signal SIGRTMIN+2 via sigqueue/sigtimedwait, 7 bytes per message",
    .caps = {.framing = Framing::kMessage,
             .multi_writer = true,
             .peer_close = true,
             .end_on_death = false,  // a killed writer sends no END marker (see above)
             .model = ModelClass::kFifoQueue,
             .max_message = kMaxMessage,
             // capacity and max_queued 0 (unknown): RLIMIT_SIGPENDING counts
             // every pending signal of the user, not of this channel.
             .atomic_write = kMaxMessage,  // one signal per message
             // The reader is its process: a second channel's reader there
             // would share its signals.
             .one_end_per_process = true}};

int Signal() { return SIGRTMIN + 2; }

sigset_t SignalSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, Signal());
  return set;
}

// The shared pages. Futex words: reader_pid, dequeued. A writer holds its
// slot's robust mutex from the closed check to sigqueue, so the reader's
// close waits for it by event: the unlock, or the kernel marking the mutex
// EOWNERDEAD when the writer dies inside (SIGKILL mid-send).
struct Page {
  std::atomic<uint32_t> reader_pid;  // 0 until a reader opened
  std::atomic<uint32_t> reader_closed;
  std::atomic<uint32_t> dequeued;      // bumped when the reader took a signal or closed
  std::atomic<uint32_t> send_waiters;  // writers waiting on `dequeued`
  std::atomic<uint32_t> writers_opened;
  std::atomic<uint32_t> writer_pids[kMaxWriters];
  pthread_mutex_t sending[kMaxWriters];  // robust, process-shared
};
constexpr size_t kPageSize = (sizeof(Page) + 4095) / 4096 * 4096;
static_assert(std::atomic<uint32_t>::is_always_lock_free);

void FutexWait(std::atomic<uint32_t>* word, uint32_t expected, const Deadline& deadline) {
  struct timespec ts;
  struct timespec* timeout = nullptr;
  if (!deadline.infinite()) {
    absl::Duration left = deadline.when() - absl::Now();
    if (left <= absl::ZeroDuration()) return;
    ts = absl::ToTimespec(left);
    timeout = &ts;
  }
  // Shared (not FUTEX_PRIVATE_FLAG): the page is mapped in several processes.
  ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT, expected, timeout, nullptr,
            0);
}

void FutexWakeAll(std::atomic<uint32_t>* word) {
  ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

class SharedPage {
 public:
  static absl::StatusOr<std::shared_ptr<SharedPage>> Map() {
    void* p = ::mmap(nullptr, kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return ErrnoStatus("mmap(MAP_SHARED|MAP_ANONYMOUS)", "signal");
    auto page = std::shared_ptr<SharedPage>(new SharedPage(p));
    pthread_mutexattr_t attr;
    ::pthread_mutexattr_init(&attr);
    ::pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    ::pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    for (pthread_mutex_t& m : page->get().sending) ::pthread_mutex_init(&m, &attr);
    ::pthread_mutexattr_destroy(&attr);
    return page;
  }
  ~SharedPage() { ::munmap(addr_, kPageSize); }
  Page& get() const { return *static_cast<Page*>(addr_); }

 private:
  explicit SharedPage(void* addr) : addr_(addr) {}
  void* addr_;
};

// Reader Ends open in this process: the signal is per process, so one.
std::atomic<int> readers_in_process{0};

class SignalReader : public End {
 public:
  SignalReader(std::shared_ptr<SharedPage> page, bool was_blocked)
      : page_(std::move(page)), was_blocked_(was_blocked) {}
  ~SignalReader() override {
    Page& p = page_->get();
    p.reader_closed.store(1);
    p.dequeued.fetch_add(1);
    FutexWakeAll(&p.dequeued);
    // Every writer that may be between its closed check and sigqueue is
    // waited for: its unlock, or its death (then nothing more comes from it).
    const uint32_t writers = std::min(p.writers_opened.load(), kMaxWriters);
    for (uint32_t i = 0; i < writers; ++i) {
      if (p.writer_pids[i].load() == 0) continue;
      if (::pthread_mutex_lock(&p.sending[i]) == EOWNERDEAD) {
        ::pthread_mutex_consistent(&p.sending[i]);
      }
      ::pthread_mutex_unlock(&p.sending[i]);
    }
    const sigset_t set = SignalSet();
    const struct timespec zero = {0, 0};
    while (::sigtimedwait(&set, nullptr, &zero) >= 0 || errno == EINTR) {
    }
    if (!was_blocked_) ::pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
    readers_in_process.fetch_sub(1);
  }

  int Send(std::span<const std::byte>, size_t* sent, int) override {
    *sent = 0;
    return -EBADF;
  }

  int Recv(std::span<std::byte> buf, size_t* received, int timeout_ms) override {
    *received = 0;
    if (held_.has_value()) return Deliver(buf, received);
    Page& p = page_->get();
    const sigset_t set = SignalSet();
    const Deadline deadline = Deadline::FromTimeoutMs(timeout_ms);
    for (;;) {
      const uint32_t opened = p.writers_opened.load();
      // Each writer's marker follows its data in the queue, so all is drained.
      if (opened > 0 && ends_ >= opened) return kEnd;
      siginfo_t info;
      int r;
      if (deadline.infinite()) {
        r = ::sigwaitinfo(&set, &info);
      } else {
        const struct timespec left =
            absl::ToTimespec(std::max(deadline.when() - absl::Now(), absl::ZeroDuration()));
        r = ::sigtimedwait(&set, &info, &left);
      }
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN) return -errno;
        if (timeout_ms == 0) return -EAGAIN;
        if (deadline.Passed()) return -ETIMEDOUT;
        continue;
      }
      p.dequeued.fetch_add(1);
      if (p.send_waiters.load() > 0) FutexWakeAll(&p.dequeued);
      if (info.si_code != SI_QUEUE || !IsWriter(info.si_pid)) continue;
      const uint64_t v = reinterpret_cast<uintptr_t>(info.si_value.sival_ptr);
      if ((v & kLengthMask) == kEndMarker) {
        ++ends_;
        continue;
      }
      held_ = v;
      return Deliver(buf, received);
    }
  }

 private:
  bool IsWriter(pid_t pid) const {
    const Page& p = page_->get();
    const uint32_t n = std::min(p.writers_opened.load(), kMaxWriters);
    for (uint32_t i = 0; i < n; ++i) {
      if (p.writer_pids[i].load() == static_cast<uint32_t>(pid)) return true;
    }
    return false;
  }

  // Hands out the taken message, or keeps it for the next call when it does
  // not fit: it has left the kernel's queue already.
  int Deliver(std::span<std::byte> buf, size_t* received) {
    const uint64_t v = *held_;
    const size_t len = v & kLengthMask;
    if (buf.size() < len) return -EMSGSIZE;
    for (size_t i = 0; i < len; ++i) buf[i] = std::byte((v >> (8 * (i + 1))) & 0xff);
    *received = len;
    held_.reset();
    return 0;
  }

  std::shared_ptr<SharedPage> page_;
  bool was_blocked_;
  uint32_t ends_ = 0;
  std::optional<uint64_t> held_;
};

class SignalWriter : public End {
 public:
  SignalWriter(std::shared_ptr<SharedPage> page, FileDescriptor reader, uint32_t slot)
      : page_(std::move(page)), reader_(std::move(reader)), slot_(slot) {}
  ~SignalWriter() override {
    Queue(kEndMarker, static_cast<int>(absl::ToInt64Milliseconds(kCloseTimeout)));
  }

  int Send(std::span<const std::byte> buf, size_t* sent, int timeout_ms) override {
    *sent = 0;
    if (buf.size() > kMaxMessage) return -EMSGSIZE;
    uint64_t v = buf.size();
    for (size_t i = 0; i < buf.size(); ++i) {
      v |= static_cast<uint64_t>(buf[i]) << (8 * (i + 1));
    }
    if (int r = Queue(v, timeout_ms); r != 0) return r;
    *sent = buf.size();
    return 0;
  }

  int Recv(std::span<std::byte>, size_t* received, int) override {
    *received = 0;
    return -EBADF;
  }

 private:
  int Queue(uint64_t v, int timeout_ms) {
    Page& p = page_->get();
    const Deadline deadline = Deadline::FromTimeoutMs(timeout_ms);
    for (;;) {
      const uint32_t seen = p.dequeued.load();
      int r = TryQueue(v);
      if (r != -EAGAIN || timeout_ms == 0) return r;
      if (deadline.Passed()) return -ETIMEDOUT;
      p.send_waiters.fetch_add(1);
      FutexWait(&p.dequeued, seen,
                Deadline::After(std::min(kRoomSlice, deadline.when() - absl::Now())));
      p.send_waiters.fetch_sub(1);
    }
  }

  int TryQueue(uint64_t v) {
    Page& p = page_->get();
    pthread_mutex_t* sending = &p.sending[slot_];
    if (::pthread_mutex_lock(sending) == EOWNERDEAD) ::pthread_mutex_consistent(sending);
    int r = -EPIPE;
    if (p.reader_closed.load() == 0) {
      // sigqueue(3) through a pidfd: what it sends, to a process that cannot
      // have been replaced by another under a recycled pid.
      siginfo_t info = {};
      info.si_signo = Signal();
      info.si_code = SI_QUEUE;
      info.si_pid = ::getpid();
      info.si_uid = ::getuid();
      info.si_value.sival_ptr = reinterpret_cast<void*>(static_cast<uintptr_t>(v));
      r = ::syscall(SYS_pidfd_send_signal, reader_.get(), Signal(), &info, 0) == 0 ? 0 : -errno;
      if (r == -ESRCH) r = -EPIPE;  // the reader's process is gone
    }
    ::pthread_mutex_unlock(sending);
    return r;
  }

  std::shared_ptr<SharedPage> page_;
  FileDescriptor reader_;  // pidfd of the reader's process
  uint32_t slot_;          // this writer's slot in the page
};

class SignalChannel : public Channel {
 public:
  explicit SignalChannel(std::shared_ptr<SharedPage> page) : page_(std::move(page)) {}

  absl::StatusOr<std::unique_ptr<End>> Open(Role role) override {
    if (page_ == nullptr) return absl::FailedPreconditionError("signal: open() after detach()");
    return role == Role::kReader ? OpenReader() : OpenWriter();
  }
  void Detach() override { page_.reset(); }
  absl::Status Destroy() override { return absl::OkStatus(); }

 private:
  absl::StatusOr<std::unique_ptr<End>> OpenReader() {
    if (readers_in_process.fetch_add(1) != 0) {
      readers_in_process.fetch_sub(1);
      return absl::FailedPreconditionError(
          "signal: this process has a reader End open already (one per process)");
    }
    absl::Cleanup release = [] { readers_in_process.fetch_sub(1); };
    const sigset_t set = SignalSet();
    sigset_t old;
    if (int err = ::pthread_sigmask(SIG_BLOCK, &set, &old); err != 0) {
      return ErrnoStatus("pthread_sigmask(SIG_BLOCK)", "SIGRTMIN+2", err);
    }
    const bool was_blocked = sigismember(&old, Signal()) == 1;
    absl::Cleanup restore = [&] {
      if (!was_blocked) ::pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
    };
    Page& p = page_->get();
    uint32_t none = 0;
    if (!p.reader_pid.compare_exchange_strong(none, static_cast<uint32_t>(::getpid()))) {
      return absl::FailedPreconditionError(
          absl::StrFormat("signal: the channel has a reader already (pid %d)", none));
    }
    FutexWakeAll(&p.reader_pid);
    std::move(restore).Cancel();
    std::move(release).Cancel();
    return std::make_unique<SignalReader>(page_, was_blocked);
  }

  absl::StatusOr<std::unique_ptr<End>> OpenWriter() {
    Page& p = page_->get();
    const Deadline deadline = Deadline::After(kRendezvousTimeout);
    uint32_t reader;
    while ((reader = p.reader_pid.load()) == 0) {
      if (deadline.Passed()) {
        return absl::DeadlineExceededError(
            absl::StrFormat("signal: no reader opened the channel within %s",
                            absl::FormatDuration(kRendezvousTimeout)));
      }
      FutexWait(&p.reader_pid, 0, deadline);
    }
    FileDescriptor pidfd(static_cast<int>(::syscall(SYS_pidfd_open, reader, 0)));
    if (!pidfd) return ErrnoStatus("pidfd_open", absl::StrFormat("reader pid %d", reader));
    uint32_t slot = p.writers_opened.load();
    do {
      if (slot >= kMaxWriters) {
        return absl::ResourceExhaustedError(
            absl::StrFormat("signal: more than %d writers", kMaxWriters));
      }
    } while (!p.writers_opened.compare_exchange_weak(slot, slot + 1));
    p.writer_pids[slot].store(static_cast<uint32_t>(::getpid()));
    return std::make_unique<SignalWriter>(page_, std::move(pidfd), slot);
  }

  std::shared_ptr<SharedPage> page_;
};

class SignalTransport : public TransportBase {
 public:
  SignalTransport() : TransportBase(kSignalSpec) {}
  absl::StatusOr<std::unique_ptr<Channel>> Create(const std::string&) const override {
    absl::StatusOr<std::shared_ptr<SharedPage>> page = SharedPage::Map();
    if (!page.ok()) return page.status();
    return std::make_unique<SignalChannel>(*std::move(page));
  }
};

IPCSPEC_REGISTER_TRANSPORT(SignalTransport);

}  // namespace
}  // namespace ipcspec
