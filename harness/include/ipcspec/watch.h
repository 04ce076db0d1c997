// ipcspec/watch.h: the watchdog for every operation of a case.
//
// Each participant (Participants::Spawn) publishes the operation it is in on
// a board in the case's shared memory: the call, the timeout it asked for,
// when it started, and how many transport calls it has made (its step). The
// case process watches the board from Participants::Join, asleep in poll()
// until the earliest moment a published operation could be overdue, and ends
// the case as `timeout` with a diagnosis when
//   - an operation overruns its own timeout by more than the hang grace, or
//   - every live participant is inside an operation, each bounded one past
//     its timeout (by half the grace), and none of them started within the
//     grace: nobody can make progress any more.
// A participant that starts an operation which could be overdue before the
// moment the watcher armed wakes it (an eventfd, written only then).
//
//   // in a participant; WatchEnd does this around every Send and Recv:
//   { WatchedCall call("recv", timeout_ms);  rc = inner->Recv(...); }
//   // diagnosis: "reader blocked in recv(timeout 300 ms) at step 6 for 1.3 s;
//   //             kernel: futex_wait_queue (syscall futex)"
#ifndef IPCSPEC_WATCH_H_
#define IPCSPEC_WATCH_H_

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "ipcspec/transport.h"

namespace ipcspec {

// The grace of this case (RunCase sets it from SandboxOptions::hang_grace).
void SetHangGrace(absl::Duration grace);
absl::Duration HangGrace();

// Publishes one operation of this participant for the duration of the
// scope. Outside a participant it does nothing.
class WatchedCall {
 public:
  // A transport call; timeout_ms as in the ABI (-1: none).
  WatchedCall(const char* call, int timeout_ms) : WatchedCall(call, timeout_ms, false) {}
  // A wait for another participant (a barrier, a flag): judged only by the
  // "nobody can make progress" rule.
  static WatchedCall PeerWait(const char* what) { return WatchedCall(what, -1, true); }
  ~WatchedCall();
  WatchedCall(const WatchedCall&) = delete;
  WatchedCall& operator=(const WatchedCall&) = delete;

 private:
  WatchedCall(const char* call, int timeout_ms, bool peer_wait);
  bool active_ = false;
};

// An End whose every Send and Recv is published before it calls `inner`.
std::unique_ptr<End> WatchEnd(std::unique_ptr<End> inner);

// The board: made by Participants in the case process before it forks.
class WatchBoard {
 public:
  static constexpr size_t kSlots = 128;
  WatchBoard();
  ~WatchBoard();
  WatchBoard(const WatchBoard&) = delete;
  WatchBoard& operator=(const WatchBoard&) = delete;

  // In a participant, right after fork: it publishes into `slot` from now on.
  void Attach(size_t slot);
  // The descriptor a participant writes to wake the watcher.
  int wake_fd() const { return wake_fd_; }
  void DrainWake() const;

  struct Watched {
    size_t slot;
    std::string name;  // "reader"
    pid_t pid;
  };
  // Looks at the live participants now: a diagnosis if the case hangs;
  // otherwise arms *next with the moment to look again (InfiniteFuture:
  // only a wake-up can change anything).
  std::optional<std::string> Check(const std::vector<Watched>& live, absl::Time* next) const;
  // "reader blocked in recv(timeout 300 ms) at step 2 for 1.3 s; kernel:
  // futex_wait_queue (syscall futex)", or "" when it is in no operation.
  std::string Doing(const Watched& w) const;

  struct Shared;  // harness/core/watch.cc

 private:
  Shared* shared_;
  int wake_fd_ = -1;
};

}  // namespace ipcspec

#endif  // IPCSPEC_WATCH_H_
