// tests/support/broken_locks.h: the broken transports' bugs that live in a
// lock of the channel's own: the pid of its holder in the third word of the
// channel's shared page, waited on with a futex, and not robust (a holder
// that dies keeps it). The rest are in broken_transports.cc.
//
//   LockBugs locks(bug, page);  // in each end
//   if (std::optional<int> rc = locks.Send(*inner, buf, &sent, timeout_ms)) return *rc;
//   if (std::optional<int> rc = locks.Recv(*inner, buf, &received, timeout_ms)) return *rc;
//   locks.Close();  // as the end goes
#ifndef IPCSPEC_TESTS_SUPPORT_BROKEN_LOCKS_H_
#define IPCSPEC_TESTS_SUPPORT_BROKEN_LOCKS_H_

#include <atomic>
#include <cstddef>
#include <optional>
#include <span>

#include "ipcspec/transport.h"
#include "tests/support/broken_transports.h"

namespace ipcspec::testing {

// Whether `bug` is one of the lock bugs (its channel needs a shared page).
bool IsLockBug(Bug bug);

// One end's part in the lock bugs: kLockKeptOnEpipe, kLockDiesWithHolder,
// kCopiesUnderTheLock, kWritersLockDiesWithHolder, kLiveLockTakenOver and
// kLockKeptOnRefusal.
// Inert for any other bug, or without a page.
class LockBugs {
 public:
  // `page`: the channel's shared page, made by the channel (4096 bytes).
  LockBugs(Bug bug, std::atomic<int>* page)
      : bug_(bug), page_(page != nullptr && IsLockBug(bug) ? page : nullptr) {}

  // The end's send, where the bug has a hand in it: its result. nullopt:
  // none (the end sends as usual).
  std::optional<int> Send(End& inner, std::span<const std::byte> buf, size_t* sent, int timeout_ms);
  // The same for a receive.
  std::optional<int> Recv(End& inner, std::span<std::byte> buf, size_t* received, int timeout_ms);
  // As the end closes: kLockKeptOnEpipe's and kLockKeptOnRefusal's lock
  // goes with it, as an OFD lock goes with its descriptor.
  void Close();

 private:
  int* LockWord() { return reinterpret_cast<int*>(page_ + 2); }
  // kLockDiesWithHolder: whether the reader is in a receive, at +6.
  std::atomic<int>& ReaderIn() { return page_[6]; }
  void Take();
  // Waits for the lock until `timeout_ms` has passed (false then);
  // `take_over_after_5ms`: kLiveLockTakenOver's wait, which takes over a
  // lock held longer than 5 ms.
  bool TakeWithin(int timeout_ms, bool take_over_after_5ms = false);
  void GiveBackIfMine();
  void ChecksumUnderTheLock(std::span<const std::byte> buf);
  void CopyUnderTheLock(std::span<const std::byte> buf);
  int SendNumbered(End& inner, std::span<const std::byte> buf, size_t* sent, int timeout_ms);

  Bug bug_;
  std::atomic<int>* page_;  // null: inert
};

}  // namespace ipcspec::testing

#endif  // IPCSPEC_TESTS_SUPPORT_BROKEN_LOCKS_H_
