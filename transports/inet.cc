// tcp, udp: AF_INET sockets on 127.0.0.1 with an ephemeral port (bind to
// port 0, read it back with getsockname).
//
// tcp: like unix_stream. Create() listens; Open(writer) connects within a
// deadline, Open(reader) accepts one connection, at once or on the End's first
// Send/Recv, so either order works in one process. TCP_NODELAY is on. A reset
// seen by Send (the reader closed) is reported as EPIPE.
//
// udp: Create() binds the reader's socket; writers connect() to it. Loopback
// rarely drops, but nothing guarantees delivery or order (the receive buffer
// overflows silently), so reliable and ordered are not declared; there is no
// end of stream. The reader's Send answers the writer it last received from.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "absl/strings/str_format.h"
#include "ipcspec/registry.h"
#include "transports/socket_util.h"

namespace ipcspec {
namespace {

// 65535 - 20 (IPv4 header) - 8 (UDP header).
constexpr uint64_t kUdpMaxMessage = 65507;

// A socket of `type` bound to 127.0.0.1:0; *addr gets the port chosen.
absl::StatusOr<FileDescriptor> BindLoopback(int type, const SocketEndOptions& opts,
                                            struct sockaddr_in* addr, std::string* what) {
  FileDescriptor fd(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
  if (!fd) return ErrnoStatus("socket", "127.0.0.1");
  if (int rc = PrepareSocket(fd.get(), opts); rc != 0) {
    return ErrnoStatus("setsockopt", "127.0.0.1", -rc);
  }
  *addr = {};
  addr->sin_family = AF_INET;
  addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd.get(), reinterpret_cast<struct sockaddr*>(addr), sizeof *addr) != 0) {
    return ErrnoStatus("bind", "127.0.0.1:0");
  }
  socklen_t len = sizeof *addr;
  if (::getsockname(fd.get(), reinterpret_cast<struct sockaddr*>(addr), &len) != 0) {
    return ErrnoStatus("getsockname", "127.0.0.1");
  }
  const bool tcp = (type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) == SOCK_STREAM;
  *what = absl::StrFormat("%s 127.0.0.1:%d", tcp ? "tcp" : "udp", ntohs(addr->sin_port));
  return fd;
}

// A writer's socket connected to `addr`.
absl::StatusOr<FileDescriptor> ConnectLoopback(int type, const SocketEndOptions& opts,
                                               const struct sockaddr_in& addr,
                                               const std::string& what) {
  FileDescriptor fd(::socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return ErrnoStatus("socket", what);
  if (int rc = PrepareSocket(fd.get(), opts); rc != 0) return ErrnoStatus("setsockopt", what, -rc);
  absl::Status s = ConnectWithin(fd.get(), reinterpret_cast<const struct sockaddr*>(&addr),
                                 sizeof addr, what, Deadline::After(kSocketOpenTimeout));
  if (!s.ok()) return s;
  return fd;
}

class InetChannel : public Channel {
 public:
  InetChannel(int type, FileDescriptor sock, struct sockaddr_in addr, SocketEndOptions opts,
              std::string what)
      : type_(type), sock_(std::move(sock)), addr_(addr), opts_(opts), what_(std::move(what)) {}

  absl::StatusOr<std::unique_ptr<End>> Open(Role role) override {
    if (role == Role::kReader) {
      absl::StatusOr<FileDescriptor> fd = DupHeld(sock_, what_);
      if (!fd.ok()) return fd.status();
      if (type_ == SOCK_STREAM) return SocketEnd::Accepting(*std::move(fd), opts_);
      SocketEndOptions reader = opts_;
      reader.reply_to_sender = true;
      return std::make_unique<SocketEnd>(*std::move(fd), reader);
    }
    absl::StatusOr<FileDescriptor> fd = ConnectLoopback(type_, opts_, addr_, what_);
    if (!fd.ok()) return fd.status();
    return std::make_unique<SocketEnd>(*std::move(fd), opts_);
  }
  void Detach() override { sock_.reset(); }
  // A port is released with its last socket; there is no name to remove.
  absl::Status Destroy() override { return absl::OkStatus(); }

 private:
  int type_;
  FileDescriptor sock_;  // tcp: the listener; udp: the reader's socket
  struct sockaddr_in addr_;
  SocketEndOptions opts_;
  std::string what_;
};

class TcpTransport : public Transport {
 public:
  TcpTransport() {
    caps_.framing = Framing::kStream;
    caps_.direction = Direction::kDuplex;
    caps_.peer_close = true;
    caps_.named = true;
    caps_.model = ModelClass::kByteStream;
    opts_.framing = Framing::kStream;
    opts_.tcp_nodelay = true;
    opts_.reset_is_epipe = true;
  }
  std::string_view name() const override { return "tcp"; }
  std::string_view description() const override {
    return "TCP on 127.0.0.1, ephemeral port, TCP_NODELAY, one connection";
  }
  const Capabilities& caps() const override { return caps_; }
  absl::StatusOr<std::unique_ptr<Channel>> Create(const std::string&) const override {
    struct sockaddr_in addr;
    std::string what;
    // Non-blocking: a reader End polls the listener, then accepts.
    absl::StatusOr<FileDescriptor> fd =
        BindLoopback(SOCK_STREAM | SOCK_NONBLOCK, opts_, &addr, &what);
    if (!fd.ok()) return fd.status();
    if (::listen(fd->get(), SOMAXCONN) != 0) return ErrnoStatus("listen", what);
    return std::make_unique<InetChannel>(SOCK_STREAM, *std::move(fd), addr, opts_, std::move(what));
  }

 private:
  Capabilities caps_;
  SocketEndOptions opts_;
};

class UdpTransport : public Transport {
 public:
  UdpTransport() {
    caps_.framing = Framing::kMessage;
    caps_.direction = Direction::kDuplex;
    caps_.reliable = false;
    caps_.ordered = false;
    caps_.multi_writer = true;
    caps_.named = true;
    caps_.model = ModelClass::kUnordered;
    caps_.max_message = kUdpMaxMessage;
    caps_.atomic_write = kUdpMaxMessage;
    opts_.framing = Framing::kMessage;
    opts_.max_message = kUdpMaxMessage;
  }
  std::string_view name() const override { return "udp"; }
  std::string_view description() const override {
    return "UDP on 127.0.0.1, ephemeral port; writers connect(), the reader answers the last "
           "sender; unreliable, unordered";
  }
  const Capabilities& caps() const override { return caps_; }
  absl::StatusOr<std::unique_ptr<Channel>> Create(const std::string&) const override {
    struct sockaddr_in addr;
    std::string what;
    // Blocking mode: the reader's bounded replies use SO_SNDTIMEO.
    absl::StatusOr<FileDescriptor> fd = BindLoopback(SOCK_DGRAM, opts_, &addr, &what);
    if (!fd.ok()) return fd.status();
    return std::make_unique<InetChannel>(SOCK_DGRAM, *std::move(fd), addr, opts_, std::move(what));
  }

 private:
  Capabilities caps_;
  SocketEndOptions opts_;
};

IPCSPEC_REGISTER_TRANSPORT(TcpTransport);
IPCSPEC_REGISTER_TRANSPORT(UdpTransport);

}  // namespace
}  // namespace ipcspec
