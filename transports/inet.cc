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
#include "transports/transport_base.h"

namespace ipcspec {
namespace {

// 65535 - 20 (IPv4 header) - 8 (UDP header).
constexpr uint64_t kUdpMaxMessage = 65507;

constexpr TransportSpec kTcpSpec = {
    .name = "tcp",
    .description = "TCP on 127.0.0.1, ephemeral port, TCP_NODELAY, one connection",
    .caps = {.direction = Direction::kDuplex, .peer_close = true, .named = true}};
constexpr SocketEndOptions kTcpEnd = {
    .framing = Framing::kStream, .reset_is_epipe = true, .tcp_nodelay = true};

constexpr TransportSpec kUdpSpec = {
    .name = "udp",
    .description =
        "UDP on 127.0.0.1, ephemeral port; writers connect(), the reader answers the "
        "last sender; unreliable, unordered",
    .caps = {.framing = Framing::kMessage,
             .direction = Direction::kDuplex,
             .reliable = false,
             .ordered = false,
             .multi_writer = true,
             .named = true,
             .model = ModelClass::kUnordered,
             .max_message = kUdpMaxMessage,
             .atomic_write = kUdpMaxMessage}};
constexpr SocketEndOptions kUdpEnd = {.framing = Framing::kMessage, .max_message = kUdpMaxMessage};

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
    if (role == Role::kReader) return OpenSocketReader(sock_, type_, opts_, what_);
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

class InetTransport : public TransportBase {
 public:
  InetTransport(int type, const TransportSpec& spec, const SocketEndOptions& opts)
      : TransportBase(spec), type_(type), opts_(opts) {}

  absl::StatusOr<std::unique_ptr<Channel>> Create(const std::string&) const override {
    struct sockaddr_in addr;
    std::string what;
    // tcp: non-blocking, a reader End polls the listener, then accepts. udp:
    // blocking, the reader's bounded replies use SO_SNDTIMEO.
    const int flags = type_ == SOCK_STREAM ? SOCK_NONBLOCK : 0;
    absl::StatusOr<FileDescriptor> fd = BindLoopback(type_ | flags, opts_, &addr, &what);
    if (!fd.ok()) return fd.status();
    if (type_ == SOCK_STREAM && ::listen(fd->get(), SOMAXCONN) != 0) {
      return ErrnoStatus("listen", what);
    }
    return std::make_unique<InetChannel>(type_, *std::move(fd), addr, opts_, std::move(what));
  }

 private:
  int type_;
  SocketEndOptions opts_;
};

IPCSPEC_REGISTER_TRANSPORT_MEMBER(Tcp, InetTransport, SOCK_STREAM, kTcpSpec, kTcpEnd);
IPCSPEC_REGISTER_TRANSPORT_MEMBER(Udp, InetTransport, SOCK_DGRAM, kUdpSpec, kUdpEnd);

}  // namespace
}  // namespace ipcspec
