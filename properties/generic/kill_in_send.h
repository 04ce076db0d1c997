// properties/generic/kill_in_send.h: a writer killed inside a send
// (G-PEER-CRASH, G-WRITER-CRASH). The writer says when it is in a send, and
// may trap the bytes of one message (TouchTrap); the case process kills it
// there: at the moment its transport's own code first reads those bytes
// (inside the copy, where a lock is held or a slot reserved: every time),
// or, where no trap can be armed or the transport's code never reads them,
// at a moment it runs inside a send.
//
//   KillInSend kill;  // made before the actors fork
//   // writer:  kill.Publish(); ... kill.Send(end, data, i == trap_at, timeout, on_sent); ...
//   //          kill.Done();
//   // case:    if (!kill.StoppedAtTheTouch(deadline)) ...; control.Kill("writer") ...
//   //          or kill.KillWhileItRuns(control, "writer");
#ifndef IPCSPEC_PROPERTIES_GENERIC_KILL_IN_SEND_H_
#define IPCSPEC_PROPERTIES_GENERIC_KILL_IN_SEND_H_

#include <cstddef>
#include <functional>
#include <span>
#include <string_view>

#include "ipcspec/transport.h"
#include "properties/support/common.h"

namespace ipcspec::props {

class KillInSend {
 public:
  KillInSend() : flags_(3) {}

  // In the writer, before its first send.
  void Publish();
  // In the writer: every send call it takes to send `data` whole (a stream
  // may take several), each bounded by `timeout_ms`; on_sent(n) after each
  // that moved n bytes. With `trap`, the first call gets a trapped copy of
  // the bytes: a read of them by the transport's code stops this process
  // there until the kill. The first error, or 0.
  int Send(End& end, std::span<const std::byte> data, bool trap, int timeout_ms,
           const std::function<void(size_t)>& on_sent);
  // In the writer: past its last send (a kill no longer waits for one).
  void Done() { flags_.Raise(kDone); }

  // In the case process, where a message is trapped: waits until the
  // trapped send is over, or stopped at its transport's first read of the
  // bytes (true: kill it now).
  bool StoppedAtTheTouch(const Deadline& deadline) const;
  // In the case process: kills actor `name` (the writer) while it runs
  // inside a send, or, after a short spin that finds none (it is between
  // sends, or asleep in one on a full channel), wherever it is.
  Verdict KillWhileItRuns(ActorControl& control, std::string_view name) const;

 private:
  static constexpr size_t kTrapDone = 0, kTouched = 1, kDone = 2;  // flags
  static constexpr size_t kPid = 0, kInSend = 1;                   // counters
  SharedFlags flags_;
};

}  // namespace ipcspec::props

#endif  // IPCSPEC_PROPERTIES_GENERIC_KILL_IN_SEND_H_
