// tests/support/broken_watch.cc: deliberately broken ends that watch their
// channel from the side (broken_watch.h): one whose receive sets up its
// doorbell only after it found the channel empty, one that looks for its
// writers' end through their pids, one that counts its writers wrongly.
#include "tests/support/broken_watch.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <utility>

#include "ipcspec/inventory.h"
#include "ipcspec/util.h"

namespace ipcspec::testing {
namespace {

// Bug::kBellAfterCheck.
class BellAfterCheckEnd : public End {
 public:
  BellAfterCheckEnd(std::unique_ptr<End> inner, Role role, uint64_t tag)
      : inner_(std::move(inner)), role_(role) {
    bell_.sun_family = AF_UNIX;
    // Abstract: a NUL, then the name.
    const int n = std::snprintf(bell_.sun_path + 1, sizeof bell_.sun_path - 1,
                                "ipcspec-bell-%016llx", static_cast<unsigned long long>(tag));
    bell_len_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + n);
  }
  ~BellAfterCheckEnd() override {
    inner_.reset();
    if (role_ == Role::kWriter) Knock();  // END is news too
  }

  int Send(std::span<const std::byte> buf, size_t* sent, int timeout_ms) override {
    const int rc = inner_->Send(buf, sent, timeout_ms);
    if (*sent > 0 || buf.empty()) Knock();
    return rc;
  }
  int Recv(std::span<std::byte> buf, size_t* received, int timeout_ms) override {
    const Deadline deadline = Deadline::FromTimeoutMs(timeout_ms);
    for (;;) {
      const int rc = inner_->Recv(buf, received, 0);
      if (rc != -EAGAIN || timeout_ms == 0) return rc;
      if (deadline.RemainingMs() == 0) return -ETIMEDOUT;
      // The bug: the bell is set up only now that the channel was found
      // empty; a knock before the bind is lost.
      FileDescriptor bell(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
      if (!bell || ::bind(bell.get(), reinterpret_cast<const sockaddr*>(&bell_), bell_len_) != 0) {
        return -errno;
      }
      (void)PollOne(bell.get(), POLLIN, deadline);
    }
  }

 private:
  // Tells a sleeping reader; nobody bound: nobody sleeps (ECONNREFUSED).
  void Knock() {
    if (!knocker_) knocker_ = FileDescriptor(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    const char k = 'k';
    (void)::sendto(knocker_.get(), &k, 1, MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&bell_),
                   bell_len_);
  }

  std::unique_ptr<End> inner_;
  Role role_;
  sockaddr_un bell_ = {};
  socklen_t bell_len_ = 0;
  FileDescriptor knocker_;
};

// Bug::kZombieIsAlive, kGoneAfterLook and kOpenedBeforeAlive. Its words in the channel's
// shared page: writers opened, writers closed, the pid of the last writer
// to open.
class PidWatchEnd : public End {
 public:
  PidWatchEnd(std::unique_ptr<End> inner, Role role, std::atomic<int>* words, Bug bug)
      : inner_(std::move(inner)), role_(role), words_(words), bug_(bug) {
    if (role == Role::kWriter && bug == Bug::kOpenedBeforeAlive) {
      // The bug: counted as come first, then (after a system call: the
      // stand-in for taking its liveness lock) shown alive; a look between
      // the two sees a writer that came and is gone.
      words_[0].fetch_add(1);
      (void)::syscall(SYS_getppid);
      words_[2].store(::getpid());
    } else if (role == Role::kWriter) {
      words_[2].store(::getpid());
      words_[0].fetch_add(1);
    }
  }
  ~PidWatchEnd() override {
    inner_.reset();
    if (role_ == Role::kWriter) words_[1].fetch_add(1);
  }

  int Send(std::span<const std::byte> buf, size_t* sent, int timeout_ms) override {
    return inner_->Send(buf, sent, timeout_ms);
  }
  // The inner queue has no end of stream: a receive looks for one between
  // slices of its wait, as transports that watch their writers' pids do.
  int Recv(std::span<std::byte> buf, size_t* received, int timeout_ms) override {
    if (role_ != Role::kReader) return inner_->Recv(buf, received, timeout_ms);
    constexpr int kSliceMs = 2;
    const Deadline deadline = Deadline::FromTimeoutMs(timeout_ms);
    for (;;) {
      if (bug_ == Bug::kGoneAfterLook) {
        const int rc = inner_->Recv(buf, received, 0);
        if (rc != -EAGAIN) return rc;
        (void)::syscall(SYS_getppid);    // stands for the check's system call (a semctl(GETVAL))
        if (WritersGone()) return kEnd;  // the bug: a last message sent since the look is left
      }
      // Before the look: what came before the writers went is taken first.
      const bool gone = WritersGone();
      const int left = deadline.RemainingMs();
      const int slice = left < 0 ? kSliceMs : std::min(left, kSliceMs);
      const int rc = inner_->Recv(buf, received, slice);
      if (rc != -EAGAIN && rc != -ETIMEDOUT) return rc;
      if (gone) return kEnd;
      if (deadline.RemainingMs() == 0) return timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
    }
  }

 private:
  bool WritersGone() const {
    const int opened = words_[0].load();
    if (opened == 0) return false;
    if (words_[1].load() >= opened) return true;
    const pid_t pid = words_[2].load();
    if (bug_ == Bug::kOpenedBeforeAlive) return pid == 0 || Ended(pid);
    if (bug_ == Bug::kGoneAfterLook) return Ended(pid);
    // The bug: a writer that died but is not yet reaped (a zombie) answers
    // kill(pid, 0) as if it were alive.
    return ::kill(pid, 0) != 0 && errno == ESRCH;
  }
  // Dead: reaped, or a zombie (its pidfd is readable).
  static bool Ended(pid_t pid) {
    const int fd = PidfdOpen(pid);
    if (fd < 0) return fd == -ESRCH;
    struct pollfd p = {fd, POLLIN, 0};
    const bool ended = ::poll(&p, 1, 0) == 1;
    ::close(fd);
    return ended;
  }

  std::unique_ptr<End> inner_;
  Role role_;
  std::atomic<int>* words_;
  Bug bug_;
};

// kEndBeforeWriterOpens: the reader's end, which reports END while no
// writer's end has been opened (`writers_opened`, in memory the channel's
// processes share).
class EndBeforeWriterEnd : public End {
 public:
  EndBeforeWriterEnd(std::unique_ptr<End> inner, const std::atomic<int>* writers_opened)
      : inner_(std::move(inner)), writers_opened_(writers_opened) {}
  int Send(std::span<const std::byte> buf, size_t* sent, int timeout_ms) override {
    return inner_->Send(buf, sent, timeout_ms);
  }
  int Recv(std::span<std::byte> buf, size_t* received, int timeout_ms) override {
    *received = 0;
    if (writers_opened_->load() == 0) return kEnd;  // the bug
    return inner_->Recv(buf, received, timeout_ms);
  }

 private:
  std::unique_ptr<End> inner_;
  const std::atomic<int>* writers_opened_;
};
}  // namespace

bool IsPidWatchBug(Bug bug) {
  return bug == Bug::kZombieIsAlive || bug == Bug::kGoneAfterLook || bug == Bug::kOpenedBeforeAlive;
}

std::unique_ptr<End> WrapWatchBug(std::unique_ptr<End>& inner, Role role, Bug bug,
                                  std::atomic<int>* page, uint64_t bell_tag) {
  if (bug == Bug::kBellAfterCheck) {
    return std::make_unique<BellAfterCheckEnd>(std::move(inner), role, bell_tag);
  }
  if (page == nullptr) return nullptr;
  if (bug == Bug::kEndBeforeWriterOpens) {
    if (role == Role::kWriter) page[16].fetch_add(1);
    if (role != Role::kReader) return nullptr;
    return std::make_unique<EndBeforeWriterEnd>(std::move(inner), page + 16);
  }
  if (IsPidWatchBug(bug))
    return std::make_unique<PidWatchEnd>(std::move(inner), role, page + 8, bug);
  return nullptr;
}

}  // namespace ipcspec::testing
