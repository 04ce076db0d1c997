#include "tests/support/broken_calls.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <optional>
#include <utility>
#include <vector>

#include "ipcspec/util.h"

namespace ipcspec::testing {
namespace {

// The bugs CallBugEnd carries; every other bug is BrokenEnd's.
constexpr Bug kCallBugs[] = {
    Bug::kSpinsInBoundedWait,
    Bug::kCounterGivesOne,
    Bug::kEndNotCloexec,
    Bug::kLongBoundInvalid,
    Bug::kLengthByteEscape,
    Bug::kSlowTimeout,
    Bug::kEarlyTimeout,
    Bug::kZeroWaits,
    Bug::kUnboundedAsZero,
    Bug::kLateWakeup,
    Bug::kTimeoutWraps,
    Bug::kLostCarry,
    Bug::kAlarmLeftArmed,
    Bug::kSigpipeLeftBlocked,
    Bug::kSigpipeIgnored,
    Bug::kSigpipeBlockedOnEpipe,
    Bug::kShortRecvLeaksFd,
    Bug::kEndLeaksFd,
    Bug::kEagainLeaksFd,
    Bug::kCounterAddZeroRefused,
    Bug::kCounterSum32,
    Bug::kWrongWayWaits,
    Bug::kPartialThenEagain,
    Bug::kHangOnEpipe,
    Bug::kSendNeverWaits,
    Bug::kLateEpipe,
    Bug::kBoundPerPartialWrite,
    Bug::kLoseOnEagain,
    Bug::kFullSizeRefused,
    Bug::kWriterEndCuts,
    Bug::kNoEnd,
    Bug::kTimeoutHidesPart,
    Bug::kFdPerSendSwallowed,
    Bug::kSendSpinsWhenFull,
    Bug::kMapPerRefusal,
    Bug::kHeapPerRefusal,
    Bug::kFdPerTimedOutSend,
    Bug::kSigpipeUnblockedAfterSend,
    Bug::kSigpipeLeftPending,
    Bug::kMaskPutBackWhole,
    Bug::kEndOnlyWhenWaiting,
    Bug::kEpipeOnlyWhenBounded,
    Bug::kEndOnNoRoom,
    Bug::kUnboundedSendCapped,
    Bug::kUnboundedRecvCapped,
    Bug::kStaticFrame,
    Bug::kStaticScratch,
    Bug::kStagedInStatic,
};

// kUnboundedSendCapped, kUnboundedRecvCapped: the bound put in place of -1.
constexpr int kCappedUnboundedMs = 200;

// kMapPerRefusal, kHeapPerRefusal: the staging buffer a refused send forgot
// last (kept, so that the heap's is not a leak to LeakSanitizer only).
void* volatile g_kept_staging = nullptr;

constexpr bool IsCallBug(Bug bug) {
  return std::find(std::begin(kCallBugs), std::end(kCallBugs), bug) != std::end(kCallBugs);
}

// SIG_BLOCK or SIG_UNBLOCK for SIGPIPE alone.
void MaskSigpipe(int how) {
  sigset_t pipe_only;
  ::sigemptyset(&pipe_only);
  ::sigaddset(&pipe_only, SIGPIPE);
  ::pthread_sigmask(how, &pipe_only, nullptr);
}
void BlockSigpipe() { MaskSigpipe(SIG_BLOCK); }

bool SigpipeBlocked() {
  sigset_t now;
  ::sigemptyset(&now);
  ::pthread_sigmask(SIG_BLOCK, nullptr, &now);
  return ::sigismember(&now, SIGPIPE) == 1;
}

// A SIGALRM handler that does nothing but interrupt, and the alarm.
void ArmAlarm(int timeout_ms) {
  struct sigaction sa = {};
  sa.sa_handler = [](int) {};
  ::sigaction(SIGALRM, &sa, nullptr);
  struct itimerval it = {};
  it.it_value.tv_sec = timeout_ms / 1000;
  it.it_value.tv_usec = (timeout_ms % 1000) * 1000;
  ::setitimer(ITIMER_REAL, &it, nullptr);
}

// The counter's value in an 8-byte send, if it is one.
std::optional<uint64_t> CounterValue(std::span<const std::byte> buf) {
  uint64_t v = 0;
  if (buf.size() != sizeof v) return std::nullopt;
  std::memcpy(&v, buf.data(), sizeof v);
  return v;
}

class CallBugEnd : public End {
 public:
  CallBugEnd(std::unique_ptr<End> inner, Role role, Bug bug)
      : inner_(std::move(inner)), role_(role), bug_(bug) {
    // The bug: its wake-ups' descriptor, made without EFD_CLOEXEC.
    if (bug == Bug::kEndNotCloexec && role == Role::kWriter) {
      doorbell_ = FileDescriptor(::eventfd(0, EFD_NONBLOCK));
    }
    // The reader's wake-up signal, blocked while its end is open; the mask
    // as it was is kept to put back.
    if (bug == Bug::kMaskPutBackWhole && role == Role::kReader) {
      sigset_t wake;
      ::sigemptyset(&wake);
      ::sigaddset(&wake, SIGUSR1);
      ::pthread_sigmask(SIG_BLOCK, &wake, &mask_at_open_);
    }
  }
  ~CallBugEnd() override {
    inner_.reset();
    // The bug: the whole mask of the open put back (SIG_SETMASK), not the
    // one signal taken out: right for one end, wrong for two closed in the
    // order they were opened.
    if (bug_ == Bug::kMaskPutBackWhole && role_ == Role::kReader) {
      ::pthread_sigmask(SIG_SETMASK, &mask_at_open_, nullptr);
    }
  }

  int Send(std::span<const std::byte> buf, size_t* sent, int timeout_ms) override {
    // The bugs: SIGPIPE blocked, or ignored, so that a write to a closed
    // peer cannot kill the process, and never put back.
    if (bug_ == Bug::kSigpipeLeftBlocked) BlockSigpipe();
    if (bug_ == Bug::kSigpipeIgnored) ::signal(SIGPIPE, SIG_IGN);
    int rc = 0;
    if (MisconvertTimeout(&timeout_ms, &rc)) return rc;
    // The bug: "never hang for good".
    if (bug_ == Bug::kUnboundedSendCapped && timeout_ms < 0) timeout_ms = kCappedUnboundedMs;
    if (SendWrongly(buf, sent, timeout_ms, &rc) || SendAtTheEdge(buf, sent, timeout_ms, &rc) ||
        SendWithSigpipe(buf, sent, timeout_ms, &rc)) {
      return rc;
    }
    return inner_->Send(buf, sent, timeout_ms);
  }

  int Recv(std::span<std::byte> buf, size_t* received, int timeout_ms) override {
    int rc = 0;
    if (MisconvertTimeout(&timeout_ms, &rc)) return rc;
    if (bug_ == Bug::kUnboundedRecvCapped && timeout_ms < 0) timeout_ms = kCappedUnboundedMs;
    if (RecvWaitingWrongly(buf, received, timeout_ms, &rc)) return rc;
    if (bug_ == Bug::kStaticScratch) return RecvThroughTheProcessScratch(buf, received, timeout_ms);
    rc = inner_->Recv(buf, received, timeout_ms);
    // The bugs: what an error path, or the end of the stream, forgets to
    // close (a descriptor taken with the message, or kept for the writer).
    if (bug_ == Bug::kShortRecvLeaksFd && rc == -EMSGSIZE) (void)::eventfd(0, EFD_CLOEXEC);
    if (bug_ == Bug::kEndLeaksFd && rc == kEnd && !end_seen_) (void)::eventfd(0, EFD_CLOEXEC);
    end_seen_ = end_seen_ || rc == kEnd;
    if (bug_ == Bug::kCounterGivesOne && rc == 0 && *received == sizeof(uint64_t)) {
      GiveBackAllButOne(buf);
    }
    return rc;
  }

 private:
  // Saves a malloc per send: one frame for every end of the process.
  int SendFromTheProcessFrame(std::span<const std::byte> buf, size_t* sent, int timeout_ms) {
    static std::byte frame[2 << 20];  // the bug: shared by two threads' sends
    const size_t n = std::min(buf.size(), sizeof frame);
    if (n > 0) std::memcpy(frame, buf.data(), n);
    return inner_->Send(std::span<const std::byte>(frame, n), sent, timeout_ms);
  }
  int RecvThroughTheProcessScratch(std::span<std::byte> buf, size_t* received, int timeout_ms) {
    static std::byte scratch[2 << 20];  // the bug: shared by two threads' receives
    const size_t n = std::min(buf.size(), sizeof scratch);
    const int rc = inner_->Recv(std::span<std::byte>(scratch, n), received, timeout_ms);
    if (rc == 0 && *received > 0 && *received <= n) std::memcpy(buf.data(), scratch, *received);
    return rc;
  }

  // The bug's send, when it applies to this one: true with its result in rc.
  bool SendWrongly(std::span<const std::byte> buf, size_t* sent, int timeout_ms, int* rc) {
    switch (bug_) {
      case Bug::kStaticFrame:
        *rc = SendFromTheProcessFrame(buf, sent, timeout_ms);
        return true;
      case Bug::kStagedInStatic: {
        // The bug: one staging buffer for every end of the process; a
        // system call (a stand-in for a lock or a copy) before it is sent.
        static std::vector<std::byte> staged;
        staged.assign(buf.begin(), buf.end());
        (void)::syscall(SYS_getppid);
        *rc = inner_->Send(staged, sent, timeout_ms);
        return true;
      }
      case Bug::kFdPerSendSwallowed:
        (void)::open("/dev/null", O_RDONLY | O_CLOEXEC);  // the bug: never closed, -1 ignored
        return false;
      case Bug::kEpipeOnlyWhenBounded:
        if (timeout_ms >= 0) return false;
        *rc = inner_->Send(buf, sent, timeout_ms);
        if (*rc == -EPIPE) {  // the bug
          *rc = 0;
          *sent = buf.size();
        }
        return true;
      case Bug::kLongBoundInvalid:
        if (timeout_ms < 1000) return false;
        *sent = 0;
        *rc = -EINVAL;  // what mq_timedsend says of a tv_nsec of a billion or more
        return true;
      case Bug::kLengthByteEscape:
        if (buf.size() != 255) return false;
        *rc = inner_->Send(buf.first(0), sent, timeout_ms);
        *sent = *rc == 0 ? buf.size() : 0;
        return true;
      case Bug::kWrongWayWaits:
        if (role_ != Role::kReader || timeout_ms == 0) return false;
        ::poll(nullptr, 0, timeout_ms);  // the bug: it waits for room it can never have
        *sent = 0;
        *rc = -ETIMEDOUT;
        return true;
      case Bug::kCounterAddZeroRefused:
        if (CounterValue(buf) != uint64_t{0}) return false;
        *sent = 0;
        *rc = -EAGAIN;  // the bug: "nothing to add" taken for "no room"
        return true;
      case Bug::kCounterSum32: {
        std::optional<uint64_t> v = CounterValue(buf);
        if (!v) return false;
        const uint64_t low = static_cast<uint32_t>(*v);  // the bug
        *rc = inner_->Send(std::as_bytes(std::span(&low, 1)), sent, timeout_ms);
        return true;
      }
      case Bug::kSendSpinsWhenFull: {
        // The bug: readiness that ignores the peer's full queue, so the
        // wait for room is a loop of attempts that never sleeps.
        const Deadline deadline = Deadline::FromTimeoutMs(timeout_ms);
        while ((*rc = inner_->Send(buf, sent, 0)) == -EAGAIN && timeout_ms != 0) {
          if (deadline.Passed()) {
            *rc = -ETIMEDOUT;
            break;
          }
        }
        return true;
      }
      case Bug::kLateWakeup:
        *rc = inner_->Send(buf, sent, 0);
        if (*rc == -EAGAIN && timeout_ms != 0) {
          ::poll(nullptr, 0, timeout_ms);  // the bug: nobody wakes it
          *rc = inner_->Send(buf, sent, 0);
          if (*rc == -EAGAIN) *rc = -ETIMEDOUT;
        }
        return true;
      default:
        return false;
    }
  }

  // The bugs in how a send keeps SIGPIPE from the program.
  bool SendWithSigpipe(std::span<const std::byte> buf, size_t* sent, int timeout_ms, int* rc) {
    switch (bug_) {
      case Bug::kSigpipeBlockedOnEpipe:
        *rc = inner_->Send(buf, sent, timeout_ms);
        // The bug: blocked for the write, never unblocked on this path.
        if (*rc == -EPIPE) BlockSigpipe();
        return true;
      case Bug::kSigpipeUnblockedAfterSend:
        BlockSigpipe();
        *rc = inner_->Send(buf, sent, timeout_ms);
        MaskSigpipe(SIG_UNBLOCK);  // the bug: "put back" so, whatever the mask was before
        return true;
      case Bug::kSigpipeLeftPending:
        *rc = inner_->Send(buf, sent, timeout_ms);  // a pipe written with RWF_NOSIGNAL
        // The write(2)'s SIGPIPE, which the send takes back (sigtimedwait)
        // only where it blocked the signal itself: the bug.
        if (*rc == -EPIPE && SigpipeBlocked()) (void)::pthread_kill(::pthread_self(), SIGPIPE);
        return true;
      default:
        return false;
    }
  }

  // The bugs of a send into a full channel or after the reader closed.
  bool SendAtTheEdge(std::span<const std::byte> buf, size_t* sent, int timeout_ms, int* rc) {
    switch (bug_) {
      case Bug::kPartialThenEagain:
        *rc = inner_->Send(buf, sent, timeout_ms);
        if (*rc == 0 && timeout_ms == 0 && *sent < buf.size()) {
          *sent = 0;  // the bug: what went in is forgotten
          *rc = -EAGAIN;
        }
        return true;
      case Bug::kHangOnEpipe:
        *rc = inner_->Send(buf, sent, timeout_ms);
        if (*rc == -EPIPE) {
          for (;;) ::pause();
        }
        return true;
      case Bug::kSendNeverWaits:
        if (timeout_ms >= 0) return false;
        *rc = inner_->Send(buf, sent, 0);  // the bug: -1 taken for "do not wait"
        return true;
      case Bug::kLateEpipe:
        *rc = inner_->Send(buf, sent, timeout_ms);
        if (*rc == -EPIPE && lost_after_close_++ < 16) {
          *rc = 0;  // the bug: taken, as if the buffer it would flush later had room
          *sent = buf.size();
        }
        return true;
      case Bug::kBoundPerPartialWrite:
        if (timeout_ms <= 0) return false;
        *rc = SendStaged(buf, sent, timeout_ms);
        return true;
      case Bug::kTimeoutHidesPart:
        *rc = inner_->Send(buf, sent, timeout_ms);
        if (*rc == 0 && timeout_ms > 0 && *sent < buf.size()) {
          *sent = 0;  // the bug: what went in before the bound ran out is forgotten
          *rc = -ETIMEDOUT;
        }
        return true;
      case Bug::kLoseOnEagain:
        *rc = inner_->Send(buf, sent, timeout_ms);
        if (*rc == -EAGAIN) {
          *sent = buf.size();
          *rc = 0;
        }
        return true;
      case Bug::kFullSizeRefused:
        // The bug: a room check one byte short refuses a message of
        // max_message (posix_mq's 8192) even into an empty channel.
        if (timeout_ms != 0 || buf.size() != 8192) return false;
        *rc = -EAGAIN;
        return true;
      case Bug::kEagainLeaksFd:
        *rc = inner_->Send(buf, sent, timeout_ms);
        // The bug: the refusal's path forgets what the send made for it.
        if (*rc == -EAGAIN) (void)::eventfd(0, EFD_CLOEXEC);
        return true;
      case Bug::kMapPerRefusal:
      case Bug::kHeapPerRefusal:
        return SendThroughStaging(buf, sent, timeout_ms, rc);
      case Bug::kFdPerTimedOutSend: {
        // The message's own memfd (made, as a transport that passes it
        // would, and closed on every path but one).
        const int staged = ::memfd_create("ipcspec-staged", MFD_CLOEXEC);
        *rc = inner_->Send(buf, sent, timeout_ms);
        if (staged >= 0 && *rc != -ETIMEDOUT) ::close(staged);  // the bug: a timeout keeps it
        return true;
      }
      default:
        return false;
    }
  }

  // kMapPerRefusal, kHeapPerRefusal: the message is copied into a staging
  // buffer of its own (mapped, or taken from the heap), which only a send
  // that goes in gives back.
  bool SendThroughStaging(std::span<const std::byte> buf, size_t* sent, int timeout_ms, int* rc) {
    const size_t size = std::max<size_t>(buf.size(), 1);
    void* staging = bug_ == Bug::kMapPerRefusal ? ::mmap(nullptr, size, PROT_READ | PROT_WRITE,
                                                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                                                : std::malloc(size);
    if (staging == MAP_FAILED || staging == nullptr) return false;
    if (!buf.empty()) std::memcpy(staging, buf.data(), buf.size());
    *rc = inner_->Send(std::span(static_cast<const std::byte*>(staging), buf.size()), sent,
                       timeout_ms);
    if (*rc == -EAGAIN || *rc == -ETIMEDOUT) {
      g_kept_staging = staging;  // the bug: the refusal returns without giving it back
      return true;
    }
    if (bug_ == Bug::kMapPerRefusal) {
      ::munmap(staging, size);
    } else {
      std::free(staging);
    }
    return true;
  }

  // kBoundPerPartialWrite: a call moves at most what its staging buffer
  // holds, 64 KiB, and each pass waits the caller's whole bound.
  int SendStaged(std::span<const std::byte> buf, size_t* sent, int timeout_ms) {
    const auto staged = buf.first(std::min<size_t>(buf.size(), 64 * 1024));
    size_t total = 0, n = 0;
    int rc = 0;
    do {  // the bug: the bound again for every pass
      n = 0;
      rc = inner_->Send(staged.subspan(total), &n, timeout_ms);
      total += n;
    } while (rc == 0 && n > 0 && total < staged.size());
    *sent = total;
    return total > 0 ? 0 : rc;
  }

  // The bugs in how a receive waits, or what it reports when its wait is
  // over: true with its result in rc.
  bool RecvWaitingWrongly(std::span<std::byte> buf, size_t* received, int timeout_ms, int* rc) {
    switch (bug_) {
      case Bug::kSpinsInBoundedWait:
        if (timeout_ms <= 0) return false;
        *rc = RecvSpinning(buf, received, timeout_ms);
        return true;
      case Bug::kLateWakeup:
        *rc = RecvWokenByNobody(buf, received, timeout_ms);
        return true;
      case Bug::kNoEnd:
        *rc = RecvWithoutEnd(buf, received, timeout_ms);
        return true;
      case Bug::kWriterEndCuts:
        if (role_ != Role::kWriter) return false;
        *rc = RecvCut(buf, received, timeout_ms);
        return true;
      case Bug::kAlarmLeftArmed:
        if (timeout_ms > 0) ArmAlarm(timeout_ms);  // the bug: never disarmed, never restored
        return false;
      case Bug::kEndOnNoRoom:
        if (!buf.empty()) return false;
        *received = 0;
        *rc = kEnd;  // the bug: the 0 of a read into no room taken for the end of the stream
        return true;
      case Bug::kEndOnlyWhenWaiting:
        if (timeout_ms != 0) return false;
        *rc = inner_->Recv(buf, received, 0);
        if (*rc == kEnd) *rc = -EAGAIN;  // the bug
        return true;
      case Bug::kUnboundedAsZero:
        if (timeout_ms >= 0) return false;
        // The bug: -1 converted like a bound (a negative wait is over at once).
        *rc = inner_->Recv(buf, received, 0);
        if (*rc == -EAGAIN) *rc = -ETIMEDOUT;
        return true;
      case Bug::kSlowTimeout:
        *rc = inner_->Recv(buf, received, timeout_ms > 0 ? 2 * timeout_ms + 20 : timeout_ms);
        return true;
      case Bug::kZeroWaits:
        if (timeout_ms != 0) return false;
        // The bug: one poll tick, so that a caller polling in a loop does not spin.
        *rc = inner_->Recv(buf, received, 2);
        if (*rc == -ETIMEDOUT) *rc = -EAGAIN;
        return true;
      case Bug::kEarlyTimeout:
        *rc = inner_->Recv(buf, received, timeout_ms > 10 ? timeout_ms / 10 : timeout_ms);
        return true;
      default:
        return false;
    }
  }

  // kSpinsInBoundedWait: looks again and again, never sleeping, until the
  // bound has passed.
  int RecvSpinning(std::span<std::byte> buf, size_t* received, int timeout_ms) {
    const Deadline deadline = Deadline::FromTimeoutMs(timeout_ms);
    for (;;) {
      const int rc = inner_->Recv(buf, received, 0);
      if (rc != -EAGAIN) return rc;
      if (deadline.Passed()) return -ETIMEDOUT;
    }
  }
  // kLateWakeup: nobody wakes it. A bounded call sleeps out its bound, an
  // unbounded one looks every 100 ms.
  int RecvWokenByNobody(std::span<std::byte> buf, size_t* received, int timeout_ms) {
    int rc = inner_->Recv(buf, received, 0);
    if (rc != -EAGAIN || timeout_ms == 0) return rc;
    do {
      ::poll(nullptr, 0, timeout_ms < 0 ? 100 : timeout_ms);
      rc = inner_->Recv(buf, received, 0);
    } while (rc == -EAGAIN && timeout_ms < 0);
    return rc == -EAGAIN ? -ETIMEDOUT : rc;
  }
  // kNoEnd: END is never reported; the receive waits for data instead.
  int RecvWithoutEnd(std::span<std::byte> buf, size_t* received, int timeout_ms) {
    const int rc = inner_->Recv(buf, received, timeout_ms);
    if (rc != kEnd) return rc;
    if (timeout_ms == 0) return -EAGAIN;
    if (timeout_ms > 0) {
      // Waits out the bound for data that can never come.
      ::poll(nullptr, 0, timeout_ms);
      return -ETIMEDOUT;
    }
    for (;;) ::pause();
  }
  // kWriterEndCuts: the whole datagram is taken, and what fits is returned.
  int RecvCut(std::span<std::byte> buf, size_t* received, int timeout_ms) {
    std::vector<std::byte> whole(std::max<size_t>(buf.size(), 1 << 20));
    size_t n = 0;
    const int rc = inner_->Recv(whole, &n, timeout_ms);
    if (rc != 0) return rc;
    *received = std::min(n, buf.size());
    std::copy_n(whole.begin(), *received, buf.begin());
    return 0;
  }
  // kCounterGivesOne: the sum taken is put back less one, and 1 is what
  // the read returns.
  void GiveBackAllButOne(std::span<std::byte> buf) {
    uint64_t v = 0;
    std::memcpy(&v, buf.data(), sizeof v);
    if (v <= 1) return;
    uint64_t rest = v - 1, one = 1;
    size_t n = 0;
    (void)inner_->Send(std::as_bytes(std::span(&rest, 1)), &n, 0);
    std::memcpy(buf.data(), &one, sizeof one);
  }

  // kTimeoutWraps and kLostCarry: the timeout as the bug converts it; true
  // with *rc when the call fails at once, as the kernel call given the
  // converted timeout would (a wrapped 0 gives -ETIMEDOUT, a bad timespec
  // -EINVAL).
  bool MisconvertTimeout(int* timeout_ms, int* rc) const {
    if (*timeout_ms <= 0) return false;
    if (bug_ == Bug::kTimeoutWraps) {
      const auto ns = static_cast<uint32_t>(int64_t{*timeout_ms} * 1000000);
      *timeout_ms = static_cast<int>(ns / 1000000);
      *rc = -ETIMEDOUT;
      return *timeout_ms == 0;
    }
    if (bug_ == Bug::kLostCarry) {
      struct timespec ts;
      ::clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += (*timeout_ms % 1000) * 1000000L;  // the bug: no carry
      *rc = -EINVAL;
      return ts.tv_nsec >= 1000000000L;
    }
    return false;
  }

  std::unique_ptr<End> inner_;
  Role role_;
  Bug bug_;
  FileDescriptor doorbell_;
  uint64_t lost_after_close_ = 0;  // kLateEpipe
  bool end_seen_ = false;          // kEndLeaksFd: END has been reported once
  sigset_t mask_at_open_{};        // kMaskPutBackWhole
};

}  // namespace

std::unique_ptr<End> WrapCallBug(std::unique_ptr<End>& inner, Role role, Bug bug) {
  if (!IsCallBug(bug)) return nullptr;
  return std::make_unique<CallBugEnd>(std::move(inner), role, bug);
}

}  // namespace ipcspec::testing
