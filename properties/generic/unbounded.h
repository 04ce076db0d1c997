// properties/generic/unbounded.h: the calls with timeout -1 that G-TIMEOUT
// and G-UNBOUNDED hold on purpose, and the flags their two sides share. An
// unbounded receive on the empty channel is answered only once the reader
// has slept in it for some time units; an unbounded send into a channel the
// writer filled returns only once the reader, after the writer has slept in
// it as long, has made room.
//
//   writer: WriteUnbounded(end, msg, c, unit, receive_step, send_step, flags, deadline)
//   reader: ReceiveUnbounded(end, buf, c, units, false, flags), then
//           MakeRoomLate(end, buf, unit, units, waits, flags, deadline)
#ifndef IPCSPEC_PROPERTIES_GENERIC_UNBOUNDED_H_
#define IPCSPEC_PROPERTIES_GENERIC_UNBOUNDED_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "properties/support/common.h"

namespace ipcspec::props::unbounded {

// The reader is done with its calls; it has closed its end.
constexpr size_t kReaderDone = 0, kReaderClosed = 1;
// The unbounded receive: the reader is about to call it; the writer sends
// now; the message has come (a lossy writer stops sending it again).
constexpr size_t kUnboundedNext = 2, kUnboundedSent = 3, kUnboundedGot = 4;
// The unbounded send: the writer may fill the channel; it has (or could not:
// counter kWriterPid 0) and sends; the reader begins to make room; the send
// has returned.
constexpr size_t kFillNext = 5, kFilled = 6, kRoomMade = 7, kSendReturned = 8;
constexpr size_t kFlagCount = 16;
constexpr size_t kReaderPid = 0, kWriterPid = 1;  // counters
// The steps of the unbounded receive and send (Op::kWait of these actors,
// their size the hold in time units).
constexpr uint32_t kUnboundedActor = 2, kUnboundedSendActor = 3;

// Every byte the unbounded calls send (ReceiveUnbounded checks them).
constexpr std::byte kByte{7};
// The message for the reader asleep in its unbounded receive: 16 bytes (or
// max_message, if less), 8 for a counter.
std::vector<std::byte> SleeperMessage(const Capabilities& c);
// The message a channel is filled with: min(capacity, max_message, 4096)
// bytes, or none where only a count bounds it.
std::vector<std::byte> FillerMessage(const Capabilities& c);

// The step of `s` of the unbounded receive (kUnboundedActor) or send, or null.
const Step* UnboundedStep(const Scenario& s, uint32_t actor = kUnboundedActor);
// Where an unbounded send can be made to wait: a reliable channel that can
// be filled (CanFill: it refuses past a capacity or a count).
inline bool SendCanWait(const Capabilities& c) { return c.reliable && CanFill(c); }
// The step of an unbounded call, said.
std::string DescribeUnbounded(const Step& s);

// The writer's part of the unbounded calls the scenario has (`receive`,
// `send`: their steps, or null): `msg` to the reader asleep in its receive,
// then the send into the filled channel.
std::string WriteUnbounded(End& end, std::span<const std::byte> msg, const Capabilities& c,
                           absl::Duration unit, const Step* receive, const Step* send,
                           SharedFlags& flags, const Deadline& deadline);
// The reader's unbounded receive: "" or what went wrong. `skip`: an earlier
// receive failed; the writer is told not to wait for this one.
std::string ReceiveUnbounded(End& end, std::span<std::byte> buf, const Capabilities& c,
                             uint64_t units, bool skip, SharedFlags& flags);
// The reader's part of the unbounded send: once the writer sleeps in it,
// `units` more, then it drains the channel until the send has returned and
// nothing is left.
std::string MakeRoomLate(End& end, std::span<std::byte> buf, absl::Duration unit, uint64_t units,
                         const Waits& waits, SharedFlags& flags, const Deadline& deadline);

}  // namespace ipcspec::props::unbounded

#endif  // IPCSPEC_PROPERTIES_GENERIC_UNBOUNDED_H_
