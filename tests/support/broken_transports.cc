#include "tests/support/broken_transports.h"

#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "absl/strings/str_format.h"
#include "ipcspec/inventory.h"
#include "ipcspec/registry.h"
#include "ipcspec/util.h"
#include "tests/support/broken_calls.h"
#include "tests/support/broken_channels.h"
#include "tests/support/broken_locks.h"
#include "tests/support/broken_watch.h"

namespace ipcspec::testing {
namespace {

class BrokenEnd;
// Bug::kStaticWriter and kStaticReader: the end this process's sends or
// receives go through, as a plugin that keeps its descriptor in a static
// would (the first writer opened, the last reader opened).
BrokenEnd* g_static_end[2] = {nullptr, nullptr};
// Bug::kOneSender: the end this process opened last, which every send uses.
BrokenEnd* g_sender = nullptr;
// Bug::kStaticAfterDestroy: a channel of this process was destroyed.
bool g_destroyed_once = false;
// Bug::kOneLock: the lock every call of the process takes.
std::mutex g_one_lock;
// Bug::kHeapPerSend and kHeapPerWriterEnd: the last frame, which the next
// send or writer's open forgets.
std::byte* volatile g_last_frame = nullptr;

class BrokenEnd : public End {
 public:
  BrokenEnd(std::unique_ptr<End> inner, Role role, Bug bug,
            std::atomic<int>* asleep_writers = nullptr)
      : inner_(std::move(inner)),
        role_(role),
        bug_(bug),
        asleep_writers_(asleep_writers),
        locks_(bug, asleep_writers) {
    // kLateWriterUnheard: the page's second word says the reader received.
    unheard_ = bug == Bug::kLateWriterUnheard && role == Role::kWriter &&
               asleep_writers != nullptr && asleep_writers[1].load() != 0;
    BrokenEnd*& kept = g_static_end[static_cast<int>(role)];
    if ((bug == Bug::kStaticWriter && role == Role::kWriter && kept == nullptr) ||
        (bug == Bug::kStaticReader && role == Role::kReader)) {
      kept = this;
    }
    if (bug == Bug::kOneSender) g_sender = this;
  }
  ~BrokenEnd() override {
    locks_.Close();
    // kWriterOpenTakesClosed: the writers' ends closed, at +17.
    if (bug_ == Bug::kWriterOpenTakesClosed && role_ == Role::kWriter && asleep_writers_ != nullptr)
      asleep_writers_[17].fetch_add(1);
    if (g_sender == this) g_sender = nullptr;
    for (BrokenEnd*& kept : g_static_end) {
      if (kept == this) kept = nullptr;
    }
  }

  int Send(std::span<const std::byte> buf, size_t* sent, int timeout_ms) override {
    std::unique_lock<std::mutex> lock(g_one_lock, std::defer_lock);
    if (bug_ == Bug::kOneLock) lock.lock();  // the bug: held while the call sleeps
    SetUpOnFirstCall();
    if (bug_ == Bug::kOneSender && g_sender != nullptr && g_sender != this) {
      return g_sender->inner_->Send(buf, sent, timeout_ms);  // the bug: out of the other end
    }
    if (BrokenEnd* kept = g_static_end[static_cast<int>(Role::kWriter)];
        bug_ == Bug::kStaticWriter && kept != nullptr && kept != this) {
      return kept->inner_->Send(buf, sent, timeout_ms);
    }
    if (bug_ == Bug::kStaticAfterDestroy && g_destroyed_once) {
      *sent = 0;  // the bug: the static descriptor it writes to was closed
      return -EBADF;
    }
    // The bug: the size is checked first (posix_mq's max_message), the
    // role only after.
    if (bug_ == Bug::kSizeBeforeRole && buf.size() > 8192) {
      *sent = 0;
      return -EMSGSIZE;
    }
    if (std::optional<int> rc = locks_.Send(*inner_, buf, sent, timeout_ms)) return *rc;
    if (bug_ == Bug::kTicketNotAtomic && asleep_writers_ != nullptr && TicketTakenTwice()) {
      *sent = buf.size();  // dropped as a duplicate where it is received
      return 0;
    }
    const uint64_t n = sends_++;
    int rc = 0;
    if (SendAfterMany(n, buf, sent, &rc)) return rc;
    if (SendWrongly(n, buf, sent, timeout_ms, &rc)) return rc;
    return inner_->Send(buf, sent, timeout_ms);
  }

  // kInheritableOnFirstCall: the end's first call reads a setting from a
  // file, which lives between its open and its close only.
  void SetUpOnFirstCall() {
    if (bug_ != Bug::kInheritableOnFirstCall || set_up_) return;
    set_up_ = true;
    const int fd = ::open("/proc/self/stat", O_RDONLY);  // the bug: no O_CLOEXEC
    if (fd < 0) return;
    char stat[512];
    (void)!::read(fd, stat, sizeof stat);
    ::close(fd);
  }

  // kTicketNotAtomic: the channel's ticket counter at +64 of its page, and
  // at +1024 the last ticket (+1) delivered in each of 256 slots.
  bool TicketTakenTwice() {
    auto* page = reinterpret_cast<std::byte*>(asleep_writers_);
    auto& next = *reinterpret_cast<std::atomic<uint32_t>*>(page + 64);
    auto* seen = reinterpret_cast<std::atomic<uint32_t>*>(page + 1024);
    const uint32_t ticket = next.load();
    ::sched_yield();         // stands for the check for room
    next.store(ticket + 1);  // the bug: not a fetch_add
    return seen[ticket % 256].exchange(ticket + 1) == ticket + 1;
  }
  void StageIn(std::string dir) { stage_dir_ = std::move(dir); }
  // Stages each send in a temporary file of the scratch directory, created
  // O_EXCL under a name made from the process, which a second thread's
  // send at the same time finds taken: -EEXIST.
  bool SendStagedPerProcess(std::span<const std::byte> buf, size_t* sent, int timeout_ms, int* rc) {
    *sent = 0;
    const std::string tmp = absl::StrFormat("%s/.t%d", stage_dir_, ::getpid());  // the bug
    const int fd = ::open(tmp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) {
      *rc = -errno;
      return true;
    }
    const bool staged =
        buf.empty() || ::write(fd, buf.data(), buf.size()) == static_cast<ssize_t>(buf.size());
    ::close(fd);
    *rc = staged ? inner_->Send(buf, sent, timeout_ms) : -EIO;
    ::unlink(tmp.c_str());
    return true;
  }

  // The bug's send, when it applies to this one: true with its result in rc.
  bool SendWrongly(uint64_t n, std::span<const std::byte> buf, size_t* sent, int timeout_ms,
                   int* rc) {
    switch (bug_) {
      case Bug::kSwap45:
        return SwapFourFive(n, buf, sent, timeout_ms, rc);
      case Bug::kDrop4096:
      case Bug::kWriteOnReadEnd:
        if ((bug_ == Bug::kDrop4096 && buf.size() == 4096) ||
            (bug_ == Bug::kWriteOnReadEnd && role_ == Role::kReader)) {
          *sent = buf.size();  // reported sent, never sent
          *rc = 0;
          return true;
        }
        return false;
      case Bug::kStagedPerProcess:
        return SendStagedPerProcess(buf, sent, timeout_ms, rc);
      case Bug::kTakesOneAfterEnd:
        if (!heard_end_) return false;
        heard_end_ = false;  // the bug: one send after END taken into the void
        *sent = buf.size();
        *rc = 0;
        return true;
      case Bug::kTruncateLong:
        if (buf.size() <= 1000) return false;
        *rc = inner_->Send(buf.first(1000), sent, timeout_ms);
        *sent = buf.size();
        return true;
      case Bug::kDuplicateChunk:
        if (buf.size() <= 8192) return false;
        *rc = inner_->Send(buf, sent, timeout_ms);
        if (*rc == 0) {
          size_t extra;
          *rc = inner_->Send(buf.subspan(1000, 100), &extra, timeout_ms);
        }
        return true;
      case Bug::kCrashOnEmpty:
        if (buf.empty()) {
          volatile int* p = nullptr;
          *p = 0;
        }
        return false;
      case Bug::kTornWrites:
        return SendTorn(buf, sent, timeout_ms, rc);
      case Bug::kHangOn4096:
        if (buf.size() == 4096) {
          for (;;) ::pause();
        }
        return false;
      case Bug::kWakeOneWriter:
        return SendOneWoken(buf, sent, timeout_ms, rc);
      case Bug::kLateWriterUnheard:
        if (!unheard_) return false;
        *sent = buf.size();  // the bug: into a connection nobody accepted
        *rc = 0;
        return true;
      default:
        return false;
    }
  }

  // The bugs that show only after many sends.
  bool SendAfterMany(uint64_t n, std::span<const std::byte> buf, size_t* sent, int* rc) {
    if (bug_ == Bug::kSequence16 && n != 0 && static_cast<uint16_t>(n) == 0) {
      *sent = buf.size();  // the receiving side's duplicate check drops it
      *rc = 0;
      return true;
    }
    if (bug_ == Bug::kHeapPerSend) {
      // The bug: a frame (length and payload) per send, never freed.
      auto* frame = static_cast<std::byte*>(std::malloc(buf.size() + sizeof(uint64_t)));
      if (frame != nullptr && !buf.empty()) {
        std::memcpy(frame + sizeof(uint64_t), buf.data(), buf.size());
      }
      g_last_frame = frame;
      return false;  // then sent as usual
    }
    if (bug_ == Bug::kDescriptorPerSend && ::open("/dev/null", O_RDONLY | O_CLOEXEC) < 0) {
      *sent = 0;  // the bug: the descriptors it opened are never closed
      *rc = -errno;
      return true;
    }
    return false;
  }

  // Message 4 is held back until message 5 has gone.
  bool SwapFourFive(uint64_t n, std::span<const std::byte> buf, size_t* sent, int timeout_ms,
                    int* rc) {
    if (n == 4) {
      held_.assign(buf.begin(), buf.end());
      *sent = buf.size();
      *rc = 0;
      return true;
    }
    if (n != 5) return false;
    *rc = inner_->Send(buf, sent, timeout_ms);
    size_t ignored;
    if (*rc == 0) *rc = inner_->Send(held_, &ignored, timeout_ms);
    return true;
  }

  // Two halves, with a chance for another writer in between.
  bool SendTorn(std::span<const std::byte> buf, size_t* sent, int timeout_ms, int* rc) {
    if (buf.size() <= 1) return false;
    const size_t half = buf.size() / 2;
    size_t a = 0, b = 0;
    *rc = inner_->Send(buf.first(half), &a, timeout_ms);
    sched_yield();
    if (*rc == 0) *rc = inner_->Send(buf.subspan(half), &b, timeout_ms);
    *sent = a + b;
    return true;
  }

  int Recv(std::span<std::byte> buf, size_t* received, int timeout_ms) override {
    std::unique_lock<std::mutex> lock(g_one_lock, std::defer_lock);
    if (bug_ == Bug::kOneLock) lock.lock();
    SetUpOnFirstCall();
    if (BrokenEnd* kept = g_static_end[static_cast<int>(Role::kReader)];
        bug_ == Bug::kStaticReader && kept != nullptr && kept != this) {
      return kept->inner_->Recv(buf, received, timeout_ms);
    }
    if (std::optional<int> rc = locks_.Recv(*inner_, buf, received, timeout_ms)) return *rc;
    switch (bug_) {
      case Bug::kWakeFirstSleepers:
        return RecvAmongSleepers(buf, received, timeout_ms);
      case Bug::kLateWriterUnheard:
        return RecvNotingHeard(buf, received, timeout_ms);
      case Bug::kPartialRead: {
        int rc = inner_->Recv(buf, received, timeout_ms);
        if (rc == 0) *received = std::min<size_t>(*received, 1000);
        return rc;
      }
      case Bug::kKeepsDropsAtBatchEnd:
        return RecvInBatches(buf, received, timeout_ms);
      case Bug::kInheritableInsideRecv: {
        const int scratch = ::open("/dev/null", O_RDONLY);  // the bug: no O_CLOEXEC
        const int rc = inner_->Recv(buf, received, timeout_ms);
        if (scratch >= 0) ::close(scratch);
        return rc;
      }
      case Bug::kEndOnce: {
        if (end_given_) {  // the bug: the end was consumed by its report
          if (timeout_ms == 0) return -EAGAIN;
          ::poll(nullptr, 0, timeout_ms);
          return -ETIMEDOUT;
        }
        const int rc = inner_->Recv(buf, received, timeout_ms);
        end_given_ = rc == kEnd;
        return rc;
      }
      case Bug::kEmptyIsEnd: {
        int rc = inner_->Recv(buf, received, timeout_ms);
        return rc == 0 && *received == 0 ? kEnd : rc;
      }
      case Bug::kTakesOneAfterEnd: {
        const int rc = inner_->Recv(buf, received, timeout_ms);
        if (rc == kEnd || rc == -ECONNRESET) heard_end_ = true;
        return rc;
      }
      default:
        return inner_->Recv(buf, received, timeout_ms);
    }
  }

 private:
  // kLateWriterUnheard: a receive notes that the reader has received (a
  // writer that opens from then on is never accepted).
  // kKeepsDropsAtBatchEnd: message 3 of every 4 received is dropped by a
  // receive too short for it (the batch it sat in is recycled first).
  int RecvInBatches(std::span<std::byte> buf, size_t* received, int timeout_ms) {
    const int rc = inner_->Recv(buf, received, timeout_ms);
    if (rc == 0) ++messages_received_;
    if (rc == -EMSGSIZE && messages_received_ % 4 == 3) {
      std::vector<std::byte> all(1 << 20);
      size_t n = 0;
      if (inner_->Recv(all, &n, 0) == 0) ++messages_received_;  // the bug: gone
    }
    return rc;
  }
  int RecvNotingHeard(std::span<std::byte> buf, size_t* received, int timeout_ms) {
    const int rc = inner_->Recv(buf, received, timeout_ms);
    if (rc == 0) asleep_writers_[1].store(1);
    return rc;
  }

  // kWakeOneWriter: the first writer to sleep in a send is woken; one that
  // sleeps while another does is not: it sleeps out its bound, then looks
  // once more.
  bool SendOneWoken(std::span<const std::byte> buf, size_t* sent, int timeout_ms, int* rc) {
    *rc = inner_->Send(buf, sent, 0);
    if (*rc != -EAGAIN || timeout_ms == 0) return true;
    if (asleep_writers_->fetch_add(1) == 0) {
      *rc = inner_->Send(buf, sent, timeout_ms);
    } else {
      ::poll(nullptr, 0, timeout_ms < 0 ? 1000 : timeout_ms);  // the signal went to the other
      *rc = inner_->Send(buf, sent, timeout_ms < 0 ? -1 : 0);
      if (*rc == -EAGAIN) *rc = -ETIMEDOUT;
    }
    asleep_writers_->fetch_sub(1);
    return true;
  }

  // kWakeFirstSleepers: a writer's receive counts itself asleep; the
  // reader's, if it has to sleep with two writers asleep before it, is never
  // the one woken: it sleeps out its bound and looks once more.
  int RecvAmongSleepers(std::span<std::byte> buf, size_t* received, int timeout_ms) {
    if (role_ == Role::kWriter) {
      asleep_writers_->fetch_add(1);
      const int rc = inner_->Recv(buf, received, timeout_ms);
      asleep_writers_->fetch_sub(1);
      return rc;
    }
    int rc = inner_->Recv(buf, received, 0);
    if (rc != -EAGAIN || timeout_ms == 0 || asleep_writers_->load() < 2) {
      return rc == -EAGAIN && timeout_ms != 0 ? inner_->Recv(buf, received, timeout_ms) : rc;
    }
    ::poll(nullptr, 0, timeout_ms < 0 ? 1000 : timeout_ms);  // the wake-up went elsewhere
    rc = inner_->Recv(buf, received, timeout_ms < 0 ? -1 : 0);
    return rc == -EAGAIN ? -ETIMEDOUT : rc;
  }

  std::unique_ptr<End> inner_;
  Role role_;
  Bug bug_;
  uint64_t sends_ = 0;
  std::vector<std::byte> held_;
  bool unheard_ = false;              // kLateWriterUnheard: opened after the reader received
  uint64_t messages_received_ = 0;    // kKeepsDropsAtBatchEnd
  bool end_given_ = false;            // kEndOnce
  bool set_up_ = false;               // kInheritableOnFirstCall: the first call was made
  bool heard_end_ = false;            // kTakesOneAfterEnd: a receive gave END
  std::string stage_dir_;             // kStagedPerProcess
  std::atomic<int>* asleep_writers_;  // kWakeFirstSleepers, kWakeOneWriter: in the channel's
                                      // shared page
  LockBugs locks_;                    // the bugs in a lock of the channel's (broken_locks.h)
};

class BrokenChannel : public Channel {
 public:
  BrokenChannel(std::unique_ptr<Channel> inner, Bug bug, std::string scratch)
      : inner_(std::move(inner)), bug_(bug), scratch_(std::move(scratch)) {
    if (bug == Bug::kWakeFirstSleepers || bug == Bug::kWakeOneWriter ||
        bug == Bug::kLateWriterUnheard || IsLockBug(bug) || bug == Bug::kTicketNotAtomic ||
        IsPidWatchBug(bug) || bug == Bug::kEndBeforeWriterOpens ||
        bug == Bug::kWriterOpenTakesClosed) {
      void* page = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
      if (page != MAP_FAILED) {
        asleep_writers_ = new (page) std::atomic<int>(0);
        new (asleep_writers_ + 1) std::atomic<int>(0);  // kLateWriterUnheard: the reader received
        new (asleep_writers_ + 2) std::atomic<int>(0);  // kLockKeptOnEpipe: the lock's holder
        // kLockDiesWithHolder: the checksum at +4 (a 64-bit word), whether
        // the reader is in a receive at +6 (zero in a fresh page).
        // kZombieIsAlive, kGoneAfterLook, kOpenedBeforeAlive: their three
        // words at +8.
        // kEndBeforeWriterOpens: the writers' ends opened, at +16.
        // kWriterOpenTakesClosed: the writers' ends closed, at +17.
        // kLiveLockTakenOver: the next number and the last sent + 1 (64-bit
        // words) at +20 and +22; when the lock was last taken (ms), at +24.
      }
    }
    if (bug == Bug::kLockFileLeft || bug == Bug::kLockFileOpen) {
      // Outside the scratch directory it was given: the bug of the one, and
      // the setting of the other.
      lock_file_ = absl::StrFormat("/tmp/ipcspec-lock-%016x", bell_tag_);
      const int fd = ::open(lock_file_.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC,
                            bug == Bug::kLockFileOpen ? 0644 : 0600);
      if (fd >= 0) ::close(fd);
    }
    if (bug == Bug::kThreadPerChannel) {
      // The bug: nothing tells it to stop, nothing joins it.
      std::thread([] {
        for (;;) ::pause();
      }).detach();
    }
  }
  absl::StatusOr<std::unique_ptr<End>> Open(Role role) override {
    absl::StatusOr<std::unique_ptr<End>> e = inner_->Open(role);
    if (!e.ok()) return e.status();
    opened_here_ = true;
    const bool takes_closed = bug_ == Bug::kWriterOpenTakesClosed && role == Role::kWriter &&
                              asleep_writers_ != nullptr && asleep_writers_[17].load() > 0;
    if ((bug_ == Bug::kReaderOpenWipes && role == Role::kReader) ||
        (bug_ == Bug::kWriterOpenWipes && role == Role::kWriter) || takes_closed) {
      // The bug: the ring is set up again (here: emptied, through a reader
      // of its own if the new end is a writer).
      absl::StatusOr<std::unique_ptr<End>> own;
      if (role == Role::kWriter) own = inner_->Open(Role::kReader);
      End* reader = role == Role::kReader ? e->get() : own.ok() ? own->get() : nullptr;
      std::vector<std::byte> buf(1 << 20);
      size_t n = 0;
      while (reader != nullptr && reader->Recv(buf, &n, 0) == 0) {
      }
    }
    // The bugs: what a writer's end takes for itself and its close forgets.
    if (bug_ == Bug::kWriterEndFd && role == Role::kWriter)
      (void)::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (bug_ == Bug::kHeapPerWriterEnd && role == Role::kWriter)
      g_last_frame = static_cast<std::byte*>(std::malloc(64));
    // The bug: the reader's end installs a SIGUSR1 handler for its wake-ups,
    // and its close never takes it away.
    if (bug_ == Bug::kReaderHandler && role == Role::kReader) (void)::signal(SIGUSR1, [](int) {});
    if (std::unique_ptr<End> call_bug = WrapCallBug(*e, role, bug_)) return call_bug;
    if (std::unique_ptr<End> watch = WrapWatchBug(*e, role, bug_, asleep_writers_, bell_tag_)) {
      return watch;
    }
    auto end = std::make_unique<BrokenEnd>(std::move(*e), role, bug_, asleep_writers_);
    if (bug_ == Bug::kStagedPerProcess) end->StageIn(scratch_);
    return end;
  }
  void Detach() override { inner_->Detach(); }
  absl::Status Destroy() override {
    if (asleep_writers_ != nullptr) ::munmap(asleep_writers_, 4096);
    asleep_writers_ = nullptr;
    if (bug_ == Bug::kStaticAfterDestroy) g_destroyed_once = true;
    if (bug_ == Bug::kLockFileOpen) ::unlink(lock_file_.c_str());
    if (bug_ == Bug::kLeakDescriptor) (void)::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (bug_ == Bug::kLeakMapping) {
      (void)::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    }
    // The bug of kDestroyIfOpened: "nobody here used it, so it is not
    // mine to remove".
    const bool leave = bug_ == Bug::kLeakName || (bug_ == Bug::kDestroyIfOpened && !opened_here_);
    absl::Status st = leave ? absl::OkStatus() : inner_->Destroy();
    Sweep();
    return st;
  }

 private:
  // The sweeps, after the channel's own destroy: what crashed runs left is
  // removed too (and so is everything else that looks like it).
  void Sweep() const {
    if (bug_ == Bug::kSweepQueues) {
      for (const SysvObject& q : ListSysv('q')) {
        if (q.uid == ::geteuid()) ::msgctl(q.id, IPC_RMID, nullptr);
      }
    }
    if (bug_ == Bug::kSweepShm) {
      for (const std::string& n : ListDir("/dev/shm")) {
        if (n.starts_with("ipcspec-")) ::unlink(("/dev/shm/" + n).c_str());
      }
    }
  }

  std::unique_ptr<Channel> inner_;
  Bug bug_;
  bool opened_here_ = false;  // an end was opened in this process
  uint64_t bell_tag_ = std::random_device()() * 0x100000000ULL + std::random_device()();
  std::string lock_file_;                       // kLockFileLeft, kLockFileOpen
  std::string scratch_;                         // kStagedPerProcess: where sends are staged
  std::atomic<int>* asleep_writers_ = nullptr;  // kWakeFirstSleepers, kWakeOneWriter: writers
                                                // asleep in a receive or a send
};

class BrokenTransport : public Transport {
 public:
  BrokenTransport(const BrokenInfo& info, const Transport* inner)
      : info_(info),
        inner_(inner),
        caps_(inner->caps()),
        description_(absl::StrFormat("%s with a deliberate bug", inner->name())) {
    if (info.bug == Bug::kTornWrites) {
      caps_.multi_writer = true;
      caps_.atomic_write = caps_.atomic_write ? caps_.atomic_write : 4096;
    }
    if (info.bug == Bug::kWrongCapacity) caps_.capacity *= 4;
    if (info.bug == Bug::kAtomicPastPipeBuf) caps_.atomic_write = 65536;
    if (IsPidWatchBug(info.bug)) caps_.peer_close = true;
    // Its inner queue keeps a message too long for the buffer (msgrcv(2)
    // E2BIG); the bug is in what it reads ahead.
    if (info.bug == Bug::kKeepsDropsAtBatchEnd) caps_.short_recv = ShortRecv::kKeeps;
  }
  std::string_view name() const override { return info_.name; }
  std::string_view description() const override { return description_; }
  const Capabilities& caps() const override { return caps_; }
  absl::StatusOr<std::unique_ptr<Channel>> Create(const std::string& scratch) const override {
    if (info_.bug == Bug::kNameFromCount) return CreateCountNamedQueue(scratch);
    if (info_.bug == Bug::kSharedChannel) {
      if (std::shared_ptr<Channel> live = live_.lock()) {
        return std::make_unique<SharedHandle>(std::move(live), holds_);
      }
    }
    // The bugs: an exact mode for what create() makes, and a short relative
    // path, each set for create() and never put back.
    if (info_.bug == Bug::kUmaskCleared) ::umask(0);
    if (info_.bug == Bug::kDumpableCleared) ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (info_.bug == Bug::kNoNewPrivs) ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (info_.bug == Bug::kChdirToScratch && ::chdir(scratch.c_str()) != 0) {
      return absl::InternalError(absl::StrFormat("chdir %s: %s", scratch, std::strerror(errno)));
    }
    const bool open_to_others = info_.bug == Bug::kNamesOpenToOthers;
    const std::vector<std::string> shm_before =
        open_to_others ? ListDir("/dev/shm") : std::vector<std::string>();
    absl::StatusOr<std::unique_ptr<Channel>> ch = inner_->Create(scratch);
    if (!ch.ok()) return ch.status();
    if (open_to_others) OpenToOthers(shm_before);
    if (info_.bug == Bug::kSharedChannel) {
      std::shared_ptr<Channel> shared = std::move(*ch);
      live_ = shared;
      holds_ = std::make_shared<int>(0);
      return std::make_unique<SharedHandle>(std::move(shared), holds_);
    }
    if (info_.bug == Bug::kTerminalWithoutNoctty) return WithTerminal(std::move(*ch));
    return std::make_unique<BrokenChannel>(std::move(*ch), info_.bug, scratch);
  }

 private:
  BrokenInfo info_;
  const Transport* inner_;
  Capabilities caps_;
  std::string description_;
  mutable std::weak_ptr<Channel> live_;  // Bug::kSharedChannel
  mutable std::shared_ptr<int> holds_;
};

}  // namespace

void RegisterBrokenTransports() {
  TransportRegistry& reg = TransportRegistry::Global();
  for (const BrokenInfo& b : BrokenTransports()) {
    const Transport* inner = reg.Find(b.inner);
    if (inner == nullptr || reg.Find(b.name) != nullptr) continue;
    absl::Status s = reg.Add(std::make_unique<BrokenTransport>(b, inner), /*builtin=*/false);
    if (!s.ok()) std::abort();
  }
}

}  // namespace ipcspec::testing
