#include "ipcspec/transport.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace ipcspec {

ipcspec_caps Capabilities::ToAbi() const {
  ipcspec_caps c{};
  c.framing = framing == Framing::kStream ? IPCSPEC_STREAM : IPCSPEC_MESSAGE;
  c.direction = direction == Direction::kOneWay ? IPCSPEC_ONE_WAY : IPCSPEC_DUPLEX;
  c.flags = (reliable ? IPCSPEC_RELIABLE : 0u) | (ordered ? IPCSPEC_ORDERED : 0u) |
            (multi_writer ? IPCSPEC_MULTI_WRITER : 0u) | (peer_close ? IPCSPEC_PEER_CLOSE : 0u);
  c.max_message = max_message;
  c.capacity = capacity;
  c.atomic_write = atomic_write;
  c.max_queued = max_queued;
  return c;
}

Capabilities Capabilities::FromAbi(const ipcspec_caps& c) {
  Capabilities caps;
  caps.framing = c.framing == IPCSPEC_STREAM ? Framing::kStream : Framing::kMessage;
  caps.direction = c.direction == IPCSPEC_ONE_WAY ? Direction::kOneWay : Direction::kDuplex;
  caps.reliable = (c.flags & IPCSPEC_RELIABLE) != 0;
  caps.ordered = (c.flags & IPCSPEC_ORDERED) != 0;
  caps.multi_writer = (c.flags & IPCSPEC_MULTI_WRITER) != 0;
  caps.peer_close = (c.flags & IPCSPEC_PEER_CLOSE) != 0;
  caps.named = false;
  caps.model = caps.framing == Framing::kStream
                   ? ModelClass::kByteStream
                   : (caps.ordered ? ModelClass::kFifoQueue : ModelClass::kUnordered);
  caps.max_message = c.max_message;
  caps.capacity = c.capacity;
  caps.atomic_write = c.atomic_write;
  caps.max_queued = c.max_queued;
  return caps;
}

std::string Capabilities::Contradiction() const {
  std::vector<std::string> why;
  if (atomic_write > 0 && !multi_writer) {
    why.push_back("atomic_write is set but multi_writer is not");
  }
  if (atomic_write > 0 && max_message > 0 && atomic_write > max_message) {
    why.push_back(
        absl::StrCat("atomic_write (", atomic_write, ") exceeds max_message (", max_message, ")"));
  }
  const bool stream_model = model == ModelClass::kByteStream;
  if (stream_model != (framing == Framing::kStream)) {
    why.push_back(absl::StrFormat("framing %s does not fit the %s model",
                                  framing == Framing::kStream ? "stream" : "message",
                                  ModelClassName(model)));
  }
  if (ordered && model == ModelClass::kUnordered) {
    why.push_back("declared ordered but modelled as unordered");
  }
  if (framing == Framing::kStream && max_queued > 0) {
    why.push_back("max_queued counts messages, but the framing is a byte stream");
  }
  return absl::StrJoin(why, "; ");
}

std::string_view ModelClassName(ModelClass m) {
  switch (m) {
    case ModelClass::kByteStream:
      return "byte-stream";
    case ModelClass::kFifoQueue:
      return "fifo-queue";
    case ModelClass::kPriorityQueue:
      return "priority-queue";
    case ModelClass::kTypedQueue:
      return "typed-queue";
    case ModelClass::kCounter:
      return "counter";
    case ModelClass::kUnordered:
      return "unordered";
  }
  return "?";
}

}  // namespace ipcspec
