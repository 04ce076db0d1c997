// properties/generic/kill_in_send.h: a writer killed inside a send
// (G-PEER-CRASH, G-WRITER-CRASH). The writer says when it is in a send, and
// may trap the bytes of one message (TouchTrap); the case process kills it
// there: at the moment its transport's own code first reads those bytes
// (inside the copy, where a lock is held or a slot reserved: every time),
// or, where no trap can be armed or the transport's code never reads them,
// at a moment it runs inside a send.
//
//   KillInSend kill;  // made before the actors fork
//   // writer:  std::string e = kill.SendAll(end, seq, stop_at, trap_at, deadline);
//   // case:    if (!kill.StoppedAtTheTouch(deadline)) ...; control.Kill("writer") ...
//   //          or kill.KillWhileItRuns(control, "writer");
//   //          ... kill.Sent(), kill.SentBytes(): what completed before the kill
#ifndef IPCSPEC_PROPERTIES_GENERIC_KILL_IN_SEND_H_
#define IPCSPEC_PROPERTIES_GENERIC_KILL_IN_SEND_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "ipcspec/transport.h"
#include "properties/generic/endless.h"
#include "properties/support/common.h"

namespace ipcspec::props {

class KillInSend {
 public:
  KillInSend() : flags_(4) {}

  // In the writer: sends messages 0 to `stop_at` - 1 of `seq`, each whole
  // (a stream may take several calls) and each call bounded by what is
  // left of `deadline`; before_each(i) runs before message i. Message
  // `trap_at` is trapped: a read of its bytes by the transport's code stops
  // this process there until the kill. "", or what went wrong.
  std::string SendAll(End& end, const Endless& seq, uint64_t stop_at, uint64_t trap_at,
                      const Deadline& deadline,
                      const std::function<void(uint64_t)>& before_each = nullptr);
  // Anywhere: the writer's completed sends, and the bytes its calls moved
  // (a stream's part of a message included).
  uint64_t Sent() const { return flags_.Counter(kSent).load(); }
  uint64_t SentBytes() const { return flags_.Counter(kSentBytes).load(); }

  // In the case process, where a message is trapped: waits until the
  // trapped send is over, or stopped at its transport's first read of the
  // bytes (true: kill it now).
  bool StoppedAtTheTouch(const Deadline& deadline) const;
  // In the case process: kills actor `name` (the writer) while it runs
  // inside a send, or, after a short spin that finds none (it is between
  // sends, or asleep in one on a full channel), wherever it is.
  Verdict KillWhileItRuns(ActorControl& control, std::string_view name) const;

 private:
  // One message: every call it takes, the first with the trapped bytes.
  int Send(End& end, std::span<const std::byte> data, bool trap, int timeout_ms);

  static constexpr size_t kTrapDone = 0, kTouched = 1, kDone = 2;            // flags
  static constexpr size_t kPid = 0, kInSend = 1, kSent = 2, kSentBytes = 3;  // counters
  SharedFlags flags_;
};

// What the writer left alive sends once another died inside a send
// (G-WRITER-CRASH, G-WRITER-CRASH-WALK).
// Its message sizes: 8 bytes or more, so that none is one of the dead
// writer's; where messages are shorter, the longest there is.
uint64_t SurvivorSize(const Capabilities& c, uint64_t size);
// A lap: as many 8-byte messages as the channel holds, and 8 more (256
// where nothing is declared; 1024 at most). A slot, cell or count the dead
// writer held and that nobody put back shows when the sends come round to
// it: the channel is full for good a lap after the death.
uint64_t LapMessages(const Capabilities& c);
// The message a lap ends with: the largest there is (max_message), where
// an empty channel must take it; 0 where none is declared. Room counted in
// bytes that the dead writer had reserved and nobody gave back leaves 8-byte
// messages room enough, but never again this one.
uint64_t LargestAfterLap(const Capabilities& c);

}  // namespace ipcspec::props

#endif  // IPCSPEC_PROPERTIES_GENERIC_KILL_IN_SEND_H_
