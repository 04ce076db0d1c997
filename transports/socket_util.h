// transports/socket_util.h: what the socket transports (unix_*, socketpair_*,
// tcp, udp) share: an End over one socket, an AF_UNIX node in the scratch
// directory, a bounded connect, and the datagram limit of a default AF_UNIX
// socket.
//
//   SocketEndOptions opts{.framing = Framing::kMessage, .max_message = max,
//                         .records_carry_creds = true};
//   FileDescriptor fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
//   PrepareSocket(fd.get(), opts);
//   ConnectWithin(fd.get(), addr, len, "unix_seqpacket(/tmp/x/s-1a2b)", deadline);
//   auto end = std::make_unique<SocketEnd>(std::move(fd), opts);
//
// Every call on the socket is MSG_DONTWAIT and waits in poll(2), so the
// ABI's timeout_ms is honoured and shared descriptors never change mode;
// every send has MSG_NOSIGNAL.
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
#include "ipcspec/transport.h"
#include "ipcspec/util.h"

namespace ipcspec {

// How long a writer's Open() may wait for its connection to be established.
inline constexpr absl::Duration kSocketOpenTimeout = absl::Seconds(10);

struct SocketEndOptions {
  Framing framing = Framing::kStream;
  // Send of more than this gives -EMSGSIZE and queues nothing; 0 = unbounded.
  uint64_t max_message = 0;
  // AF_UNIX SOCK_SEQPACKET: a zero-length record and the end of the stream
  // both read as 0 bytes. With SO_PASSCRED on, every record dequeued carries
  // an SCM_CREDENTIALS message and the end of the stream carries none, so
  // "0 bytes, no control data" is END and "0 bytes with credentials" is an
  // empty message. PrepareSocket turns SO_PASSCRED on. Without it, 0 bytes
  // on a message socket is always an empty message (datagrams have no end).
  bool records_carry_creds = false;
  // The unconnected, bound reader socket of unix_dgram / udp: Send goes to
  // the sender of the last message received (-EDESTADDRREQ before any).
  bool reply_to_sender = false;
  // TCP: a connection reset seen by Send is the peer's close, -EPIPE.
  bool reset_is_epipe = false;
  // TCP_NODELAY on the socket (PrepareSocket and every accepted socket).
  bool tcp_nodelay = false;
};

// Applies the socket options `opts` asks for (SO_PASSCRED, TCP_NODELAY).
// Returns 0 or -errno.
int PrepareSocket(int fd, const SocketEndOptions& opts);

// An End over one socket; destroying it closes the socket. A reader End of a
// connection-oriented transport may be made from a listening socket instead:
// it accepts one connection on its first Send or Recv (waiting within that
// call's timeout), so a process may open the reader before the writer
// connects. Such an End must be used (or accept) before it is shared by fork.
// (Not an FdEnd: that has one fixed descriptor and plain recv(2), while
// message sockets here need MSG_PEEK|MSG_TRUNC and SCM_CREDENTIALS.)
class SocketEnd : public End {
 public:
  SocketEnd(FileDescriptor fd, SocketEndOptions opts) : fd_(std::move(fd)), opts_(opts) {}
  // Accepts at once if a connection is already queued, else on first use.
  static std::unique_ptr<SocketEnd> Accepting(FileDescriptor listener, SocketEndOptions opts);

  int Send(std::span<const std::byte> buf, size_t* sent, int timeout_ms) override;
  int Recv(std::span<std::byte> buf, size_t* received, int timeout_ms) override;

 private:
  // 0 once fd_ is a connection, else -EAGAIN / -ETIMEDOUT / -errno.
  int Connect(int timeout_ms, const Deadline& deadline);
  ssize_t SendOnce(const std::byte* p, size_t len);
  // Bytes of one message or chunk; *end is set at end of stream.
  ssize_t RecvOnce(std::byte* p, size_t cap, bool* end);
  ssize_t RecvMsg(std::byte* p, size_t cap, int flags, bool* end, int* msg_flags);

  FileDescriptor fd_;
  FileDescriptor listener_;  // until the connection is accepted
  SocketEndOptions opts_;
  struct sockaddr_storage last_sender_ = {};
  socklen_t last_sender_len_ = 0;
};

// A close-on-exec dup of a descriptor the channel holds, for a new End;
// FailedPrecondition after Detach() dropped it.
absl::StatusOr<FileDescriptor> DupHeld(const FileDescriptor& fd, const std::string& what);

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

// What every AF_UNIX socket of `type` is: duplex; a stream with end of
// stream, or messages up to UnixDefaultMaxMessage (seqpacket with end of
// stream, dgram without). Naming and writers are the transport's to add.
Capabilities UnixSocketCaps(int type);
// The SocketEnd options that follow from those capabilities.
SocketEndOptions EndOptionsFor(int type, const Capabilities& caps);

}  // namespace ipcspec

#endif  // IPCSPEC_TRANSPORTS_SOCKET_UTIL_H_
