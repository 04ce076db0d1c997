#include "tests/support/broken_locks.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <vector>

#include "ipcspec/util.h"

namespace ipcspec::testing {

bool IsLockBug(Bug bug) {
  return bug == Bug::kLockKeptOnEpipe || bug == Bug::kLockDiesWithHolder ||
         bug == Bug::kCopiesUnderTheLock || bug == Bug::kWritersLockDiesWithHolder ||
         bug == Bug::kLiveLockTakenOver || bug == Bug::kLockKeptOnRefusal;
}

std::optional<int> LockBugs::Send(End& inner, std::span<const std::byte> buf, size_t* sent,
                                  int timeout_ms) {
  if (page_ == nullptr) return std::nullopt;
  switch (bug_) {
    case Bug::kLockKeptOnEpipe: {
      Take();
      const int rc = inner.Send(buf, sent, timeout_ms);
      if (rc != -EPIPE) GiveBackIfMine();  // the bug: kept on the -EPIPE path
      return rc;
    }
    case Bug::kLockDiesWithHolder:
      if (ReaderIn().load() != 0) ChecksumUnderTheLock(buf);
      return inner.Send(buf, sent, timeout_ms);
    case Bug::kCopiesUnderTheLock:
      CopyUnderTheLock(buf);
      return inner.Send(buf, sent, timeout_ms);
    case Bug::kWritersLockDiesWithHolder: {
      // The message is framed (copied) and sent under the writers' lock.
      *sent = 0;
      if (!TakeWithin(timeout_ms)) return timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
      const std::vector<std::byte> frame(buf.begin(), buf.end());
      const int rc = inner.Send(frame, sent, timeout_ms);
      GiveBackIfMine();
      return rc;
    }
    case Bug::kLiveLockTakenOver:
      return SendNumbered(inner, buf, sent, timeout_ms);
    case Bug::kLockKeptOnRefusal: {
      // The writers' lock, which its holder's process may take again, as
      // an OFD lock is its open file description's.
      *sent = 0;
      const bool mine = __atomic_load_n(LockWord(), __ATOMIC_SEQ_CST) == ::getpid();
      if (!mine && !TakeWithin(timeout_ms)) return timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
      const int rc = inner.Send(buf, sent, timeout_ms);
      if (rc != -EAGAIN && rc != -ETIMEDOUT) GiveBackIfMine();  // the bug: kept on a refusal
      return rc;
    }
    default:
      return std::nullopt;
  }
}

// kLiveLockTakenOver: each message takes the writers' next sequence number
// under their lock, and one numbered at or below the last sent is dropped
// where it is received (a duplicate, as a retransmitting transport drops
// one).
int LockBugs::SendNumbered(End& inner, std::span<const std::byte> buf, size_t* sent,
                           int timeout_ms) {
  *sent = 0;
  if (!TakeWithin(timeout_ms, true)) return timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
  auto& next = *reinterpret_cast<std::atomic<uint64_t>*>(page_ + 20);
  auto& sent_up_to = *reinterpret_cast<std::atomic<uint64_t>*>(page_ + 22);
  const uint64_t seq = next.load();
  const std::vector<std::byte> frame(buf.begin(), buf.end());  // reads the caller's bytes
  int rc = 0;
  if (seq < sent_up_to.load()) {
    *sent = buf.size();  // taken for a duplicate where it is received: gone
  } else {
    rc = inner.Send(frame, sent, timeout_ms);
    if (rc == 0) sent_up_to.store(seq + 1);
  }
  if (rc == 0) next.store(seq + 1);
  GiveBackIfMine();
  return rc;
}

std::optional<int> LockBugs::Recv(End& inner, std::span<std::byte> buf, size_t* received,
                                  int timeout_ms) {
  if (page_ == nullptr) return std::nullopt;
  switch (bug_) {
    case Bug::kLockDiesWithHolder: {
      // The lock is taken and given back before each receive, which says
      // while it lasts that the reader is in one.
      Take();  // the bug: held for good once its holder died
      GiveBackIfMine();
      ReaderIn().store(1);
      const int rc = inner.Recv(buf, received, timeout_ms);
      ReaderIn().store(0);
      return rc;
    }
    case Bug::kCopiesUnderTheLock:
      Take();  // the bug: held for good once its holder died
      GiveBackIfMine();
      return inner.Recv(buf, received, timeout_ms);
    default:
      return std::nullopt;
  }
}

void LockBugs::Close() {
  if (page_ != nullptr && (bug_ == Bug::kLockKeptOnEpipe || bug_ == Bug::kLockKeptOnRefusal)) {
    GiveBackIfMine();
  }
}

void LockBugs::Take() {
  for (int held = 0; !__atomic_compare_exchange_n(LockWord(), &held, ::getpid(), false,
                                                  __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
       held = 0) {
    ::syscall(SYS_futex, LockWord(), FUTEX_WAIT, held, nullptr, nullptr, 0);
  }
}

bool LockBugs::TakeWithin(int timeout_ms, bool take_over_after_5ms) {
  const Deadline deadline = Deadline::FromTimeoutMs(timeout_ms);
  // When the lock was taken (ms, at +24), for a waiter that takes it over.
  auto& taken_ms = *reinterpret_cast<std::atomic<int64_t>*>(page_ + 24);
  const auto now_ms = [] {
    return static_cast<int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::steady_clock::now().time_since_epoch())
                                    .count());
  };
  for (int held = 0;; held = 0) {
    if (__atomic_compare_exchange_n(LockWord(), &held, ::getpid(), false, __ATOMIC_SEQ_CST,
                                    __ATOMIC_SEQ_CST)) {
      taken_ms.store(now_ms());
      return true;
    }
    // kLiveLockTakenOver's bug: held this long, its holder is taken for
    // dead (it may only be slow); the sure test is its death (a pidfd, a
    // robust mutex). Such a waiter looks again every millisecond.
    if (take_over_after_5ms && now_ms() - taken_ms.load() > 5 &&
        __atomic_compare_exchange_n(LockWord(), &held, ::getpid(), false, __ATOMIC_SEQ_CST,
                                    __ATOMIC_SEQ_CST)) {
      taken_ms.store(now_ms());
      return true;
    }
    int ms = deadline.RemainingMs();
    if (ms == 0) return false;
    if (take_over_after_5ms) ms = ms < 0 ? 1 : std::min(ms, 1);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    ::syscall(SYS_futex, LockWord(), FUTEX_WAIT, held, ms < 0 ? nullptr : &ts, nullptr, 0);
  }
}

void LockBugs::GiveBackIfMine() {
  int mine = ::getpid();
  if (__atomic_compare_exchange_n(LockWord(), &mine, 0, false, __ATOMIC_SEQ_CST,
                                  __ATOMIC_SEQ_CST)) {
    ::syscall(SYS_futex, LockWord(), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
  }
}

// kLockDiesWithHolder: a checksum of the message, 256 rounds over it (or
// over 64 bytes), kept in the channel's page (tens of microseconds).
void LockBugs::ChecksumUnderTheLock(std::span<const std::byte> buf) {
  Take();
  uint64_t sum = 0;
  const size_t len = std::max<size_t>(buf.size(), 64);
  for (size_t round = 0; round < 256; ++round) {
    for (size_t i = 0; i < len; ++i) {
      const auto b = i < buf.size() ? static_cast<uint64_t>(buf[i]) : uint64_t{i};
      sum = (sum ^ b) * 0x100000001b3ULL;
    }
  }
  reinterpret_cast<std::atomic<uint64_t>*>(page_ + 4)->store(sum);
  GiveBackIfMine();
}

// kCopiesUnderTheLock: the message's first 2 KiB, kept in the second half
// of the channel's page.
void LockBugs::CopyUnderTheLock(std::span<const std::byte> buf) {
  Take();
  if (!buf.empty()) {  // an empty span's data() may be null
    std::memcpy(reinterpret_cast<std::byte*>(page_) + 2048, buf.data(),
                std::min<size_t>(buf.size(), 2048));
  }
  GiveBackIfMine();
}

}  // namespace ipcspec::testing
