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
// from the defaults (designated initialisers, in declaration order). A value
// the kernel decides at run time (the AF_UNIX datagram limit) is filled in by
// the transport's constructor from the constexpr spec, never hard-coded.
#ifndef IPCSPEC_TRANSPORTS_TRANSPORT_BASE_H_
#define IPCSPEC_TRANSPORTS_TRANSPORT_BASE_H_

#include <string_view>

#include "ipcspec/transport.h"

namespace ipcspec {

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
