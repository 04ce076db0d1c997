// transports/transport_base.h: what a built-in transport says about itself,
// declared once as a constexpr TransportSpec, and the base class that answers
// name(), description() and caps() from it. A transport's file then holds its
// spec, its Channel and End, Create(), and one registration line:
//
//   constexpr TransportSpec kPipeSpec = {
//       .name = "pipe",
//       .description = "anonymous pipe(2), inherited across fork",
//       .caps = {.framing = Framing::kStream, .multi_writer = true, .peer_close = true,
//                .capacity = 65536, .atomic_write = PIPE_BUF}};
//   class PipeTransport : public TransportBase {
//    public:
//     PipeTransport() : TransportBase(kPipeSpec) {}
//     absl::StatusOr<std::unique_ptr<Channel>> Create(const std::string&) const override;
//   };
//   IPCSPEC_REGISTER_TRANSPORT(PipeTransport);
//
// Capabilities is an aggregate, so a spec names only the fields that differ
// from the defaults (designated initialisers, in declaration order). What a
// family of mechanisms promises alike is said once, by a function here or in
// the family's header (NamedQueueCaps, kPipeCaps, UnixSocketCaps in
// socket_util.h), and the spec names only what is its own. A value the kernel
// decides at run time (the AF_UNIX datagram limit) is filled in by the
// transport's constructor from the constexpr spec, never hard-coded.
#ifndef IPCSPEC_TRANSPORTS_TRANSPORT_BASE_H_
#define IPCSPEC_TRANSPORTS_TRANSPORT_BASE_H_

#include <limits.h>

#include <cstdint>
#include <string_view>

#include "ipcspec/transport.h"

namespace ipcspec {

// What a pipe promises, anonymous or named (a FIFO is a pipe): writers
// share it, the reader sees the end once every writer has closed, writes up
// to PIPE_BUF are atomic (POSIX), and Linux buffers 16 pages by default.
inline constexpr Capabilities kPipeCaps = {
    .multi_writer = true, .peer_close = true, .capacity = 65536, .atomic_write = PIPE_BUF};

// `caps`, reachable by name from an unrelated process.
constexpr Capabilities Named(Capabilities caps) {
  caps.named = true;
  return caps;
}

// The limits of a queue of discrete messages.
struct QueueLimits {
  uint64_t max_message;  // bytes in one message
  uint64_t capacity;     // payload bytes queued before a send blocks
  uint64_t max_queued;   // messages queued before a send blocks
};

// What a named queue of discrete messages promises (posix_mq, sysv_msg, the
// shared-memory rings): any number of writers, a message up to its limit is
// one atomic record, and the room a message takes is its payload only.
constexpr Capabilities NamedQueueCaps(ModelClass model, QueueLimits limits) {
  return {.framing = Framing::kMessage,
          .multi_writer = true,
          .named = true,
          .model = model,
          .max_message = limits.max_message,
          .capacity = limits.capacity,
          .atomic_write = limits.max_message,
          .max_queued = limits.max_queued,
          .overhead = Overhead::kNone};
}

struct TransportSpec {
  std::string_view name;
  std::string_view description;  // one line: the mechanism and how it is used
  Capabilities caps;
};

class TransportBase : public Transport {
 public:
  explicit TransportBase(const TransportSpec& spec) : spec_(spec) {}

  std::string_view name() const final { return spec_.name; }
  std::string_view description() const final { return spec_.description; }
  const Capabilities& caps() const final { return spec_.caps; }

 private:
  const TransportSpec spec_;
};

}  // namespace ipcspec

#endif  // IPCSPEC_TRANSPORTS_TRANSPORT_BASE_H_
