#include "transports/socket_end.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/time.h>

#include <algorithm>

namespace ipcspec {

int PrepareSocket(int fd, const SocketEndOptions& opts) {
  const int one = 1;
  if (opts.records_carry_creds &&
      ::setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) != 0) {
    return -errno;
  }
  if (opts.tcp_nodelay && ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
    return -errno;
  }
  return 0;
}

std::unique_ptr<SocketEnd> SocketEnd::Accepting(FileDescriptor listener, SocketEndOptions opts) {
  auto end = std::make_unique<SocketEnd>(FileDescriptor(), opts);
  end->listener_ = std::move(listener);
  // Errors other than "nobody yet" come back on first use.
  end->Accept(0, Deadline::FromTimeoutMs(0));
  return end;
}

int SocketEnd::Accept(int timeout_ms, const Deadline& deadline) {
  while (listener_) {
    FileDescriptor c(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (c) {
      if (int rc = PrepareSocket(c.get(), opts_); rc != 0) return rc;
      set_fd(std::move(c));
      listener_.reset();
      return 0;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno != EAGAIN) return -errno;
    if (timeout_ms == 0) return -EAGAIN;
    const int ready = PollOne(listener_.get(), POLLIN, deadline);
    if (ready < 0) return ready;
    if (ready == 0) return -ETIMEDOUT;
  }
  return 0;
}

int SocketEnd::Prepare(bool sending, int timeout_ms, const Deadline& deadline) {
  if (int rc = Accept(timeout_ms, deadline); rc != 0) return rc;
  if (sending && opts_.reply_to_sender && last_sender_len_ == 0) return -EDESTADDRREQ;
  return 0;
}

ssize_t SocketEnd::SendOnce(const std::byte* p, size_t len, const Deadline& deadline) {
  if (opts_.reply_to_sender) return SendReply(p, len, deadline);
  if (peer_gone_) return -EPIPE;
  const ssize_t n = FdEnd::SendOnce(p, len, deadline);
  if (n == -ECONNRESET && opts_.reset_is_epipe) return -EPIPE;
  return n;
}

ssize_t SocketEnd::SendReply(const std::byte* p, size_t len, const Deadline& deadline) {
  int flags = MSG_NOSIGNAL;
  const int ms = deadline.RemainingMs();  // -1: no deadline
  if (ms == 0) {
    flags |= MSG_DONTWAIT;  // timeout_ms 0, or the last try at the deadline
  } else {
    // SO_SNDTIMEO 0 waits for ever.
    struct timeval tv = {ms < 0 ? 0 : ms / 1000, ms < 0 ? 0 : (ms % 1000) * 1000};
    if (::setsockopt(fd(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0) return -errno;
  }
  const ssize_t n =
      ::sendto(fd(), p, len, flags, reinterpret_cast<const struct sockaddr*>(&last_sender_),
               last_sender_len_);
  return n < 0 ? -errno : n;
}

int SocketEnd::AwaitReady(short events, const Deadline& deadline) {
  // A reply waited in the kernel already (SendReply): ready until the deadline.
  if (events == POLLOUT && opts_.reply_to_sender) return deadline.Passed() ? 0 : 1;
  return FdEnd::AwaitReady(events, deadline);
}

ssize_t SocketEnd::RecvMsg(std::byte* p, size_t cap, int flags, bool* end, int* msg_flags) {
  // A stream's END is a receive of nothing into room for something.
  const bool stream = opts_.framing == Framing::kStream;
  if (!opts_.records_carry_creds && !opts_.reply_to_sender) {
    // Nothing but the bytes is wanted: recv(2) spares the kernel the
    // msghdr and iovec copies (a tenth of a receive's system time). It
    // tells of a cut record only by its whole length, under MSG_TRUNC
    // (which on a TCP stream would throw the bytes away instead).
    const ssize_t n = ::recv(fd(), p, cap, flags | MSG_DONTWAIT | (stream ? 0 : MSG_TRUNC));
    if (n < 0) return -errno;
    *end = stream && n == 0 && cap > 0;
    if (stream || (flags & MSG_PEEK) != 0) return n;
    *msg_flags = static_cast<size_t>(n) > cap ? MSG_TRUNC : 0;
    return std::min<ssize_t>(n, static_cast<ssize_t>(cap));
  }
  struct iovec iov = {p, cap};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(struct ucred))];
  struct sockaddr_storage from;
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (opts_.records_carry_creds) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
  }
  if (opts_.reply_to_sender) {
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
  }
  const ssize_t n = ::recvmsg(fd(), &msg, flags | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (n < 0) return -errno;
  *msg_flags = msg.msg_flags;
  *end =
      stream ? n == 0 && cap > 0 : opts_.records_carry_creds && n == 0 && msg.msg_controllen == 0;
  if (opts_.reply_to_sender && (flags & MSG_PEEK) == 0 && msg.msg_namelen > 0) {
    last_sender_ = from;
    last_sender_len_ = msg.msg_namelen;
  }
  return n;
}

ssize_t SocketEnd::RecvOnce(std::byte* p, size_t cap, bool* end) {
  const ssize_t n = RecvRecord(p, cap, end);
  // TCP: once a receive has met the peer's FIN or reset, so does a send
  // (the socket itself would take one more send into the void).
  if (opts_.reset_is_epipe && (*end || n == -ECONNRESET)) peer_gone_ = true;
  return n;
}

ssize_t SocketEnd::RecvRecord(std::byte* p, size_t cap, bool* end) {
  int msg_flags = 0;
  if (opts_.framing == Framing::kStream) return RecvMsg(p, cap, 0, end, &msg_flags);
  if (opts_.max_message == 0 || cap < opts_.max_message) {
    // A datagram read short is cut and dropped; learn the length first so a
    // message that does not fit stays queued.
    const ssize_t len = RecvMsg(p, 0, MSG_PEEK | MSG_TRUNC, end, &msg_flags);
    if (len < 0 || *end) return len;
    if (static_cast<size_t>(len) > cap) return -EMSGSIZE;
  }
  const ssize_t n = RecvMsg(p, cap, 0, end, &msg_flags);
  // Cut only if another reader took the peeked message or a foreign sender
  // exceeded max_message.
  if (n >= 0 && (msg_flags & MSG_TRUNC) != 0) return -EMSGSIZE;
  return n;
}

}  // namespace ipcspec
