// transports/socket_util.h: what the socket transports (unix_*, socketpair_*,
// tcp, udp) share besides their End (socket_end.h): an AF_UNIX node in the
// scratch directory, a bounded connect, and the datagram limit of a default
// AF_UNIX socket, which their constexpr specs refer to as kUnixMessageLimit.
//
//   absl::StatusOr<UnixNode> node = UnixNode::Make(scratch_dir);
//   node->Bind(listener.get());
//   ConnectWithin(fd.get(), node->addr(), node->addr_len(),
//                 "unix_seqpacket /tmp/x/s-1a2b", Deadline::After(kSocketOpenTimeout));
#ifndef IPCSPEC_TRANSPORTS_SOCKET_UTIL_H_
#define IPCSPEC_TRANSPORTS_SOCKET_UTIL_H_

#include <sys/socket.h>
#include <sys/un.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ipcspec/util.h"
#include "transports/socket_end.h"
#include "transports/transport_base.h"

namespace ipcspec {

// How long a writer's Open() may wait for its connection to be established.
inline constexpr absl::Duration kSocketOpenTimeout = absl::Seconds(10);

// A reader End from the socket a channel holds (a dup of it): one that
// accepts its connection (stream, seqpacket: `held` listens) or the bound
// datagram socket, whose sends answer the last sender.
absl::StatusOr<std::unique_ptr<End>> OpenSocketReader(const FileDescriptor& held, int type,
                                                      SocketEndOptions opts, std::string_view what);

// connect(2) within `deadline` on a non-blocking socket. `what` names the
// object in errors: "connect(unix_stream /tmp/x/s-1a2b): ECONNREFUSED ...".
absl::Status ConnectWithin(int fd, const struct sockaddr* addr, socklen_t len,
                           const std::string& what, const Deadline& deadline);

// A socket node "<scratch_dir>/<unique name>". When that path does not fit in
// sun_path (108 bytes with the NUL), the address goes through a descriptor
// of the directory held here, "/proc/self/fd/<n>/<name>", which only this
// process and its fork children can use.
class UnixNode {
 public:
  static absl::StatusOr<UnixNode> Make(const std::string& scratch_dir);

  const struct sockaddr* addr() const { return reinterpret_cast<const struct sockaddr*>(&addr_); }
  socklen_t addr_len() const { return addr_len_; }
  const std::string& path() const { return path_; }
  // Binds `fd` here; the node is created with mode 0600 (fchmod of the socket
  // before bind sets the mode the node is created with).
  absl::Status Bind(int fd) const;
  // Removes the node.
  absl::Status Unlink() const;

 private:
  UnixNode() = default;

  FileDescriptor dir_;
  std::string name_;
  std::string path_;  // for messages: the full path
  struct sockaddr_un addr_ = {};
  socklen_t addr_len_ = 0;
};

// The largest message an AF_UNIX socket of `type` (SOCK_DGRAM or
// SOCK_SEQPACKET) with the default send buffer accepts: its SO_SNDBUF minus
// the 32 bytes the kernel keeps back (unix_dgram_sendmsg gives EMSGSIZE for
// len > sk_sndbuf - 32). Measured once on a fresh socketpair.
uint64_t UnixDefaultMaxMessage(int type);

// In a constexpr TransportSpec of an AF_UNIX message transport: "the
// datagram limit of this socket type", which the kernel decides.
inline constexpr uint64_t kUnixMessageLimit = UINT64_MAX;
// What an AF_UNIX socket of `type` promises: a duplex byte stream
// (SOCK_STREAM) or queue of records (SOCK_SEQPACKET, SOCK_DGRAM) of up to
// the type's datagram limit; stream and seqpacket end when the peer closes,
// dgram never does. `multi_writer`: several writers send on the socket (they
// share a socketpair side, or connect to one dgram reader), each record
// whole. `named`: reachable by path.
constexpr Capabilities UnixSocketCaps(int type, bool multi_writer, bool named) {
  const bool records = type != SOCK_STREAM;
  return {.framing = records ? Framing::kMessage : Framing::kStream,
          .direction = Direction::kDuplex,
          .multi_writer = multi_writer,
          .peer_close = type != SOCK_DGRAM,
          .named = named,
          .model = records ? ModelClass::kFifoQueue : ModelClass::kByteStream,
          .max_message = records ? kUnixMessageLimit : 0,
          .atomic_write = records && multi_writer ? kUnixMessageLimit : 0};
}
// `spec` with every kUnixMessageLimit (max_message, atomic_write) replaced
// by UnixDefaultMaxMessage(type).
TransportSpec WithUnixMessageLimit(TransportSpec spec, int type);

// The SocketEnd options of an AF_UNIX socket of `type` with these
// capabilities: the framing, the message limit, and SO_PASSCRED for
// seqpacket (see SocketEndOptions::records_carry_creds).
SocketEndOptions UnixEndOptions(int type, const Capabilities& caps);

}  // namespace ipcspec

#endif  // IPCSPEC_TRANSPORTS_SOCKET_UTIL_H_
