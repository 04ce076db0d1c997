// ipcspec/watch.h: the watchdog for every operation of a case.
//
// Each participant (Participants::Spawn, or the case process itself in
// Participants::RunHere) publishes the operation it is in on a board in the
// case's shared memory: the call, the timeout it asked for, when it started,
// and how many transport calls it has made. The process that
// forked the case process (the sandbox) watches the board, asleep in poll()
// until the earliest moment a published operation could be overdue, and ends
// the case as `timeout` with a diagnosis when
//   - an operation overruns its own timeout by more than the hang grace, or
//   - every live participant is inside an operation, each bounded one past
//     its timeout (by half the grace), and none of them started within the
//     grace: nobody can make progress any more. A bound that would come
//     after the case's deadline (recv with INT_MAX ms) counts as none.
// A participant that starts an operation which could be overdue before the
// moment the watcher armed wakes it (an eventfd, written only then).
//
//   // in a participant; WatchEnd does this around every Send and Recv:
//   { WatchedCall call("recv", timeout_ms);  rc = inner->Recv(...); }
//   // diagnosis: "reader blocked in recv(timeout 300 ms) at step 9 (its
//   //             transport call 6) for 1.3 s; kernel: futex_wait_queue
//   //             (syscall futex)" (the step where its executor published
//   //             one, PublishStep)
#ifndef IPCSPEC_WATCH_H_
#define IPCSPEC_WATCH_H_

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
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
  WatchedCall(const char* call, int timeout_ms) : WatchedCall(call, timeout_ms, kTransport) {}
  // A wait for another participant (a barrier, a flag): judged only by the
  // "nobody can make progress" rule.
  static WatchedCall PeerWait(const char* what) { return WatchedCall(what, -1, kPeer); }
  // A call that takes no timeout and must return at once (a plugin's
  // create, open, detach, close and destroy): overdue once it has taken the
  // hang grace ("the case process blocked in create() (no timeout: it must
  // return at once) for 1.0 s; kernel: ..."). In the case process between
  // its participants, where it makes and destroys the channels, it
  // publishes in a slot of its own, registered only while the call lasts.
  static WatchedCall Quick(const char* call) { return WatchedCall(call, 0, kQuick); }
  ~WatchedCall();
  WatchedCall(const WatchedCall&) = delete;
  WatchedCall& operator=(const WatchedCall&) = delete;

 private:
  enum Kind { kTransport, kPeer, kQuick };
  WatchedCall(const char* call, int timeout_ms, Kind kind);
  bool active_ = false;
  bool own_slot_ = false;  // published in the case process's own slot
};

// The counterexample step (an index into the scenario's steps) that this
// participant carries out from now on, or -1 for none: a hang's diagnosis
// names it ("reader blocked in recv(timeout 300 ms) at step 6 (its
// transport call 3) ..."). Executors that run a scenario one step at a time
// publish it; outside a participant it does nothing.
void PublishStep(int step);

// In a participant: `message` ("writer: sending message 3: -EINVAL") is its
// case's first failure, unless one was published before. A hang that
// follows is taken for its consequence: the watcher ends the case with this
// failure, and says the hang after it.
void PublishFailure(std::string_view message);

// An End whose every Send and Recv is published before it calls `inner`.
// Each call, and the close, is also checked for a SIGPIPE it raised: the
// harness's processes catch SIGPIPE (QuietSigpipe), where a program that
// leaves it at its default action would die of the same call.
std::unique_ptr<End> WatchEnd(std::unique_ptr<End> inner);
// The first call of a WatchEnd end in this process that raised SIGPIPE, as
// a failure ("send at step 4 raised SIGPIPE (it returned -EPIPE): ..."),
// or empty; taken once. Participants fail a verdict that passed with it.
std::string TakeSigpipeFailure();

// The board. A case process gets one from the process that forked it (the
// sandbox makes one per case, CaseBoard()), and that process watches it: so
// the case process may itself be a participant (Participants::RunHere), and
// a hang ends the case even while the case process is the one blocked.
// Participants made outside a case make a board of their own and watch it
// from Join.
class WatchBoard {
 public:
  static constexpr size_t kSlots = 128;
  WatchBoard();
  ~WatchBoard();
  WatchBoard(const WatchBoard&) = delete;
  WatchBoard& operator=(const WatchBoard&) = delete;

  // In the watcher, before the case: every slot free, the hang grace, and
  // the first look due one grace after `start` (no operation can be judged
  // earlier, so until then nobody needs to wake the watcher).
  // A bounded call due after `deadline`, the case's own, is judged as one
  // without a timeout: its bound would never come first.
  void Reset(absl::Duration grace, absl::Time start, absl::Time deadline = absl::InfiniteFuture());
  // A free slot for one participant (kSlots when there is none left).
  size_t Claim();
  // Who publishes into `slot`: registered by the process that forked it
  // (before anything may wait for it), or by the case process for itself.
  void Register(size_t slot, pid_t pid, std::string_view name);
  // In the process that publishes into `slot` from now on.
  void Attach(size_t slot);
  // In that process: it has its verdict (it is about to report and exit),
  // and publishes nothing more.
  void Finish();
  // In the process that collected or killed the participant in `slot`: the
  // watcher is no longer to judge it.
  void Release(size_t slot);
  // The descriptor a participant writes to wake the watcher.
  int wake_fd() const { return wake_fd_; }
  // In the process that will fork the participants: moves that descriptor
  // (found at `now_at`, if given, where this process placed it) high, out of
  // the way of what they do with low ones.
  void RaiseWakeFd(int now_at = -1);
  void Wake() const;
  void DrainWake() const;

  struct Watched {
    size_t slot;
    std::string name;  // "reader"
    pid_t pid;
    pid_t spawner = 0;  // the process that forked it (Registered() says)
  };
  // The registered participants that have not finished and are not
  // released: what the watcher judges.
  std::vector<Watched> Registered() const;
  // Whether `w` (from Registered()) still is: not finished, not released.
  bool StillRegistered(const Watched& w) const;
  // Looks at the live participants now: a diagnosis if the case hangs;
  // otherwise arms *next with the moment to look again (InfiniteFuture:
  // only a wake-up can change anything).
  std::optional<std::string> Check(const std::vector<Watched>& live, absl::Time* next) const;
  // "reader blocked in recv(timeout 300 ms) at step 4 (its transport call 2)
  // for 1.3 s; kernel: futex_wait_queue (syscall futex)", or "" when it is in no
  // operation ("(after 2 transport calls)" in a wait for a peer).
  std::string Doing(const Watched& w) const;
  // The failure a participant published first in this case
  // (PublishFailure), or "".
  std::string FirstFailure() const;

  struct Shared;  // harness/core/watch.cc

 private:
  Shared* shared_;
  int wake_fd_ = -1;
};

// The board of the case this process belongs to (set in the case process
// by the sandbox, inherited by its participants), or nullptr.
WatchBoard* CaseBoard();
void SetCaseBoard(WatchBoard* board);

}  // namespace ipcspec

#endif  // IPCSPEC_WATCH_H_
