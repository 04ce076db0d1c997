// unix_stream, unix_seqpacket, unix_dgram: AF_UNIX sockets bound to a unique
// path in the channel's scratch directory (node mode 0600; Destroy unlinks it).
//
// unix_stream / unix_seqpacket: Create() binds and listens; Open(writer)
// connects (done at once thanks to the backlog), Open(reader) accepts one
// connection, at once if it is queued or else on the End's first Send/Recv,
// so one process may open the ends in either order. One writer per channel.
// The listening socket is the channel's hold, dropped by Detach.
//
// unix_dgram: Create() binds the reader's socket; the reader End is a dup of
// it, every writer End a fresh socket connect()ed to the path, so several
// writers may send, each datagram atomic. The reader's Send answers the
// writer it last received from (writers are autobound to abstract names).
// There is no end of stream: peer_close is not declared.
//
// Zero-length seqpacket records vs end of stream: see SocketEndOptions::
// records_carry_creds (SO_PASSCRED marks every real record).
#include <sys/socket.h>
#include <sys/un.h>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_format.h"
#include "ipcspec/registry.h"
#include "transports/socket_util.h"
#include "transports/transport_base.h"

namespace ipcspec {
namespace {

// A seqpacket or stream channel is one connection; dgram takes many writers,
// each datagram atomic.
constexpr TransportSpec kStreamSpec = {
    .name = "unix_stream",
    .description = "AF_UNIX SOCK_STREAM on a path in the scratch dir, one connection",
    .caps = UnixSocketCaps(SOCK_STREAM, /*multi_writer=*/false, /*named=*/true)};
constexpr TransportSpec kSeqpacketSpec = {
    .name = "unix_seqpacket",
    .description =
        "AF_UNIX SOCK_SEQPACKET on a path in the scratch dir, one connection, "
        "SO_PASSCRED tells empty records from end of stream",
    .caps = UnixSocketCaps(SOCK_SEQPACKET, /*multi_writer=*/false, /*named=*/true)};
constexpr TransportSpec kDgramSpec = {
    .name = "unix_dgram",
    .description =
        "AF_UNIX SOCK_DGRAM: reader bound to a path in the scratch dir, writers "
        "connect(); the reader's sends answer the last sender",
    .caps = UnixSocketCaps(SOCK_DGRAM, /*multi_writer=*/true, /*named=*/true)};

// The node is the channel's name; `held` (the listener, or the dgram
// reader's bound socket) its hold, dropped by Detach.
class UnixChannel : public Channel {
 public:
  UnixChannel(UnixNode node, FileDescriptor held, int type, SocketEndOptions opts, std::string what)
      : node_(std::move(node)),
        held_(std::move(held)),
        type_(type),
        opts_(opts),
        what_(std::move(what)) {}

  absl::StatusOr<std::unique_ptr<End>> Open(Role role) override {
    if (role == Role::kReader) return OpenSocketReader(held_, type_, opts_, what_);
    FileDescriptor fd(::socket(AF_UNIX, type_ | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return ErrnoStatus("socket", what_);
    if (int rc = PrepareSocket(fd.get(), opts_); rc != 0) {
      return ErrnoStatus("setsockopt(SO_PASSCRED)", what_, -rc);
    }
    // A datagram writer autobinds (an abstract name, no node) so the reader
    // can answer it.
    struct sockaddr_un self = {};
    self.sun_family = AF_UNIX;
    if (type_ == SOCK_DGRAM &&
        ::bind(fd.get(), reinterpret_cast<struct sockaddr*>(&self), sizeof(sa_family_t)) != 0) {
      return ErrnoStatus("bind(autobind)", what_);
    }
    absl::Status s = ConnectWithin(fd.get(), node_.addr(), node_.addr_len(), what_,
                                   Deadline::After(kSocketOpenTimeout));
    if (!s.ok()) return s;
    return std::make_unique<SocketEnd>(std::move(fd), opts_);
  }
  void Detach() override { held_.reset(); }
  absl::Status Destroy() override { return node_.Unlink(); }

 private:
  UnixNode node_;
  FileDescriptor held_;
  int type_;
  SocketEndOptions opts_;
  std::string what_;
};

class UnixTransport : public TransportBase {
 public:
  UnixTransport(int type, const TransportSpec& spec)
      : TransportBase(WithUnixMessageLimit(spec, type)),
        type_(type),
        opts_(UnixEndOptions(type, caps())) {}

  absl::StatusOr<std::unique_ptr<Channel>> Create(const std::string& scratch_dir) const override {
    absl::StatusOr<UnixNode> node = UnixNode::Make(scratch_dir);
    if (!node.ok()) return node.status();
    std::string what = absl::StrFormat("%s %s", name(), node->path());
    // The dgram reader socket stays in blocking mode: its bounded replies
    // block in the kernel under SO_SNDTIMEO (see SocketEnd::SendReply).
    const int flags = SOCK_CLOEXEC | (type_ == SOCK_DGRAM ? 0 : SOCK_NONBLOCK);
    FileDescriptor fd(::socket(AF_UNIX, type_ | flags, 0));
    if (!fd) return ErrnoStatus("socket", what);
    if (int rc = PrepareSocket(fd.get(), opts_); rc != 0) {
      return ErrnoStatus("setsockopt(SO_PASSCRED)", what, -rc);
    }
    if (absl::Status s = node->Bind(fd.get()); !s.ok()) return s;
    absl::Cleanup unlink = [&node] { node->Unlink().IgnoreError(); };
    if (type_ != SOCK_DGRAM && ::listen(fd.get(), SOMAXCONN) != 0) {
      return ErrnoStatus("listen", what);
    }
    std::move(unlink).Cancel();
    return std::make_unique<UnixChannel>(*std::move(node), std::move(fd), type_, opts_,
                                         std::move(what));
  }

 private:
  int type_;
  SocketEndOptions opts_;
};

IPCSPEC_REGISTER_TRANSPORT_MEMBER(UnixStream, UnixTransport, SOCK_STREAM, kStreamSpec);
IPCSPEC_REGISTER_TRANSPORT_MEMBER(UnixSeqpacket, UnixTransport, SOCK_SEQPACKET, kSeqpacketSpec);
IPCSPEC_REGISTER_TRANSPORT_MEMBER(UnixDgram, UnixTransport, SOCK_DGRAM, kDgramSpec);

}  // namespace
}  // namespace ipcspec
