#include "transports/socket_util.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_format.h"

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
  end->Connect(0, Deadline::FromTimeoutMs(0));
  return end;
}

int SocketEnd::Connect(int timeout_ms, const Deadline& deadline) {
  while (!fd_) {
    FileDescriptor c(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (c) {
      if (int rc = PrepareSocket(c.get(), opts_); rc != 0) return rc;
      fd_ = std::move(c);
      listener_.reset();
      return 0;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno != EAGAIN) return -errno;
    if (timeout_ms == 0) return -EAGAIN;
    int ready = PollOne(listener_.get(), POLLIN, deadline);
    if (ready < 0) return ready;
    if (ready == 0) return -ETIMEDOUT;
  }
  return 0;
}

ssize_t SocketEnd::SendOnce(const std::byte* p, size_t len) {
  ssize_t n = ::send(fd_.get(), p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n >= 0) return n;
  if (errno == ECONNRESET && opts_.reset_is_epipe) return -EPIPE;
  return -errno;
}

int SocketEnd::Send(std::span<const std::byte> buf, size_t* sent, int timeout_ms) {
  *sent = 0;
  if (opts_.max_message > 0 && buf.size() > opts_.max_message) return -EMSGSIZE;
  const Deadline deadline = Deadline::FromTimeoutMs(timeout_ms);
  if (int rc = Connect(timeout_ms, deadline); rc != 0) return rc;
  if (opts_.reply_to_sender) {
    // An unconnected socket cannot poll for room at its destination, so a
    // bounded send blocks in the kernel under SO_SNDTIMEO instead (the bound
    // reader socket is in blocking mode for that reason).
    if (last_sender_len_ == 0) return -EDESTADDRREQ;
    for (;;) {
      int flags = MSG_NOSIGNAL;
      if (timeout_ms == 0) {
        flags |= MSG_DONTWAIT;
      } else {
        const int ms = deadline.infinite() ? 0 : deadline.RemainingMs();
        if (!deadline.infinite() && ms == 0) return -ETIMEDOUT;
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
        if (::setsockopt(fd_.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0) return -errno;
      }
      ssize_t n =
          ::sendto(fd_.get(), buf.data(), buf.size(), flags,
                   reinterpret_cast<const struct sockaddr*>(&last_sender_), last_sender_len_);
      if (n >= 0) {
        *sent = static_cast<size_t>(n);
        return 0;
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return -errno;
      if (timeout_ms == 0) return -EAGAIN;
      if (deadline.Passed()) return -ETIMEDOUT;
    }
  }
  for (;;) {
    ssize_t n = SendOnce(buf.data() + *sent, buf.size() - *sent);
    if (n >= 0) {
      *sent += static_cast<size_t>(n);
      // A message goes in one piece; a stream send runs until all is written
      // unless it may not block.
      if (opts_.framing == Framing::kMessage || *sent == buf.size()) return 0;
      continue;
    }
    if (n == -EINTR) continue;
    // After part of a stream was sent the count comes first, the error with
    // the next call.
    if (n != -EAGAIN) return *sent > 0 ? 0 : static_cast<int>(n);
    if (timeout_ms == 0) return *sent > 0 ? 0 : -EAGAIN;
    int ready = PollOne(fd_.get(), POLLOUT, deadline);
    if (ready < 0) return *sent > 0 ? 0 : ready;
    if (ready == 0) return *sent > 0 ? 0 : -ETIMEDOUT;
  }
}

ssize_t SocketEnd::RecvMsg(std::byte* p, size_t cap, int flags, bool* end, int* msg_flags) {
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
  ssize_t n = ::recvmsg(fd_.get(), &msg, flags | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (n < 0) return -errno;
  *msg_flags = msg.msg_flags;
  if (opts_.framing == Framing::kStream) {
    *end = n == 0 && cap > 0;
  } else {
    *end = opts_.records_carry_creds && n == 0 && msg.msg_controllen == 0;
  }
  if (opts_.reply_to_sender && (flags & MSG_PEEK) == 0 && msg.msg_namelen > 0) {
    last_sender_ = from;
    last_sender_len_ = msg.msg_namelen;
  }
  return n;
}

ssize_t SocketEnd::RecvOnce(std::byte* p, size_t cap, bool* end) {
  int msg_flags = 0;
  if (opts_.framing == Framing::kStream) return RecvMsg(p, cap, 0, end, &msg_flags);
  if (opts_.max_message == 0 || cap < opts_.max_message) {
    // A datagram read short is cut and dropped; learn the length first so a
    // message that does not fit stays queued.
    ssize_t len = RecvMsg(nullptr, 0, MSG_PEEK | MSG_TRUNC, end, &msg_flags);
    if (len < 0 || *end) return len;
    if (static_cast<size_t>(len) > cap) return -EMSGSIZE;
  }
  ssize_t n = RecvMsg(p, cap, 0, end, &msg_flags);
  // Cut only if another reader took the peeked message or a foreign sender
  // exceeded max_message.
  if (n >= 0 && (msg_flags & MSG_TRUNC) != 0) return -EMSGSIZE;
  return n;
}

int SocketEnd::Recv(std::span<std::byte> buf, size_t* received, int timeout_ms) {
  *received = 0;
  const Deadline deadline = Deadline::FromTimeoutMs(timeout_ms);
  if (int rc = Connect(timeout_ms, deadline); rc != 0) return rc;
  // recv(2) of 0 bytes from a stream returns 0 whatever is queued.
  if (opts_.framing == Framing::kStream && buf.empty()) return 0;
  for (;;) {
    bool end = false;
    ssize_t n = RecvOnce(buf.data(), buf.size(), &end);
    if (end) return kEnd;
    if (n >= 0) {
      *received = static_cast<size_t>(n);
      return 0;
    }
    if (n == -EINTR) continue;
    if (n != -EAGAIN) return static_cast<int>(n);
    if (timeout_ms == 0) return -EAGAIN;
    int ready = PollOne(fd_.get(), POLLIN, deadline);
    if (ready < 0) return ready;
    if (ready == 0) return -ETIMEDOUT;
  }
}

absl::StatusOr<FileDescriptor> DupHeld(const FileDescriptor& fd, const std::string& what) {
  if (!fd) return absl::FailedPreconditionError(absl::StrFormat("%s: open() after detach()", what));
  FileDescriptor copy(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 0));
  if (!copy) return ErrnoStatus("fcntl(F_DUPFD_CLOEXEC)", what);
  return copy;
}

absl::Status ConnectWithin(int fd, const struct sockaddr* addr, socklen_t len,
                           const std::string& what, const Deadline& deadline) {
  if (::connect(fd, addr, len) == 0) return absl::OkStatus();
  if (errno != EINPROGRESS && errno != EINTR) return ErrnoStatus("connect", what);
  int ready = PollOne(fd, POLLOUT, deadline);
  if (ready < 0) return ErrnoStatus("poll(connect)", what, -ready);
  if (ready == 0) {
    return absl::DeadlineExceededError(absl::StrFormat(
        "connect(%s): not established within %s", what, absl::FormatDuration(kSocketOpenTimeout)));
  }
  int err = 0;
  socklen_t err_len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len) != 0) {
    return ErrnoStatus("getsockopt(SO_ERROR)", what);
  }
  if (err != 0) return ErrnoStatus("connect", what, err);
  return absl::OkStatus();
}

absl::StatusOr<UnixNode> UnixNode::Make(const std::string& scratch_dir) {
  UnixNode node;
  node.dir_ = FileDescriptor(::open(scratch_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!node.dir_) return ErrnoStatus("open(O_PATH)", scratch_dir);
  node.name_ = UniqueName("s");
  node.path_ = absl::StrFormat("%s/%s", scratch_dir, node.name_);
  std::string addr_path = node.path_;
  if (addr_path.size() >= sizeof node.addr_.sun_path) {
    addr_path = absl::StrFormat("/proc/self/fd/%d/%s", node.dir_.get(), node.name_);
  }
  if (addr_path.size() >= sizeof node.addr_.sun_path) {
    return ErrnoStatus("sockaddr_un", node.path_, ENAMETOOLONG);
  }
  node.addr_.sun_family = AF_UNIX;
  ::memcpy(node.addr_.sun_path, addr_path.c_str(), addr_path.size() + 1);
  node.addr_len_ =
      static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + addr_path.size() + 1);
  return node;
}

absl::Status UnixNode::Bind(int fd) const {
  if (::fchmod(fd, 0600) != 0) return ErrnoStatus("fchmod(0600)", path_);
  if (::bind(fd, addr(), addr_len_) != 0) return ErrnoStatus("bind", path_);
  return absl::OkStatus();
}

absl::Status UnixNode::Unlink() const {
  if (::unlinkat(dir_.get(), name_.c_str(), 0) != 0) return ErrnoStatus("unlink", path_);
  return absl::OkStatus();
}

uint64_t UnixDefaultMaxMessage(int type) {
  // wmem_default (212992) - 32, should the probe itself fail.
  constexpr uint64_t kFallback = 212960;
  int sv[2];
  if (::socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) != 0) return kFallback;
  FileDescriptor a(sv[0]), b(sv[1]);
  int sndbuf = 0;
  socklen_t len = sizeof sndbuf;
  if (::getsockopt(a.get(), SOL_SOCKET, SO_SNDBUF, &sndbuf, &len) != 0 || sndbuf <= 32) {
    return kFallback;
  }
  return static_cast<uint64_t>(sndbuf) - 32;
}

Capabilities UnixSocketCaps(int type) {
  Capabilities caps;
  caps.direction = Direction::kDuplex;
  if (type == SOCK_STREAM) {
    caps.framing = Framing::kStream;
    caps.model = ModelClass::kByteStream;
    caps.peer_close = true;
  } else {
    caps.framing = Framing::kMessage;
    caps.model = ModelClass::kFifoQueue;
    caps.max_message = UnixDefaultMaxMessage(type);
    caps.peer_close = type == SOCK_SEQPACKET;
  }
  return caps;
}

SocketEndOptions EndOptionsFor(int type, const Capabilities& caps) {
  SocketEndOptions opts;
  opts.framing = caps.framing;
  opts.max_message = caps.max_message;
  opts.records_carry_creds = type == SOCK_SEQPACKET;
  return opts;
}

}  // namespace ipcspec
