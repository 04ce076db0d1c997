// transports/socket_end.h: the End of every socket transport (unix_*,
// socketpair_*, tcp, udp): an FdEnd (the one send/receive loop) whose kernel
// calls are recvmsg(2) with MSG_PEEK|MSG_TRUNC and SCM_CREDENTIALS where
// messages need them, which may accept its connection on first use, and
// which may answer the sender of the last message on an unconnected socket.
//
//   SocketEndOptions opts{.framing = Framing::kMessage, .max_message = max,
//                         .records_carry_creds = true};
//   FileDescriptor fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
//   PrepareSocket(fd.get(), opts);
//   auto end = std::make_unique<SocketEnd>(std::move(fd), opts);
//
// Every call on the socket is MSG_DONTWAIT and waits in poll(2), so the
// ABI's timeout_ms is honoured and shared descriptors never change mode;
// every send has MSG_NOSIGNAL.
#ifndef IPCSPEC_TRANSPORTS_SOCKET_END_H_
#define IPCSPEC_TRANSPORTS_SOCKET_END_H_

#include <sys/socket.h>

#include <cstdint>
#include <memory>

#include "transports/fd_end.h"

namespace ipcspec {

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
  // TCP: a connection reset seen by Send is the peer's close, -EPIPE; and
  // once a receive has met the peer's FIN (END) or reset, every send is.
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
class SocketEnd : public FdEnd {
 public:
  SocketEnd(FileDescriptor fd, SocketEndOptions opts)
      : FdEnd(std::move(fd), Io::kSocket, opts.framing, opts.max_message), opts_(opts) {}
  // Accepts at once if a connection is already queued, else on first use.
  static std::unique_ptr<SocketEnd> Accepting(FileDescriptor listener, SocketEndOptions opts);

 protected:
  // Accepts the connection first, if this End was made from a listener.
  int Prepare(bool sending, int timeout_ms, const Deadline& deadline) override;
  ssize_t SendOnce(const std::byte* p, size_t len, const Deadline& deadline) override;
  ssize_t RecvOnce(std::byte* p, size_t cap, bool* end) override;
  int AwaitReady(short events, const Deadline& deadline) override;

 private:
  // 0 once there is a connection, else -EAGAIN / -ETIMEDOUT / -errno.
  int Accept(int timeout_ms, const Deadline& deadline);
  // The reply of an unconnected socket, blocking in the kernel within the
  // deadline under SO_SNDTIMEO (it cannot poll for room at its destination).
  ssize_t SendReply(const std::byte* p, size_t len, const Deadline& deadline);
  ssize_t RecvMsg(std::byte* p, size_t cap, int flags, bool* end, int* msg_flags);
  // One record or what a stream has, as RecvOnce gives it.
  ssize_t RecvRecord(std::byte* p, size_t cap, bool* end);

  FileDescriptor listener_;  // until the connection is accepted
  SocketEndOptions opts_;
  bool peer_gone_ = false;  // reset_is_epipe: a receive met the peer's FIN or reset
  struct sockaddr_storage last_sender_ = {};
  socklen_t last_sender_len_ = 0;
};

}  // namespace ipcspec

#endif  // IPCSPEC_TRANSPORTS_SOCKET_END_H_
