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
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_format.h"
#include "ipcspec/registry.h"
#include "transports/socket_util.h"

namespace ipcspec {
namespace {

// unix_stream and unix_seqpacket.
class UnixListenChannel : public Channel {
 public:
  UnixListenChannel(UnixNode node, FileDescriptor listener, int type, SocketEndOptions opts,
                    std::string what)
      : node_(std::move(node)),
        listener_(std::move(listener)),
        type_(type),
        opts_(opts),
        what_(std::move(what)) {}

  absl::StatusOr<std::unique_ptr<End>> Open(Role role) override {
    if (role == Role::kReader) {
      absl::StatusOr<FileDescriptor> l = DupHeld(listener_, what_);
      if (!l.ok()) return l.status();
      return SocketEnd::Accepting(*std::move(l), opts_);
    }
    FileDescriptor fd(::socket(AF_UNIX, type_ | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return ErrnoStatus("socket", what_);
    if (int rc = PrepareSocket(fd.get(), opts_); rc != 0) {
      return ErrnoStatus("setsockopt(SO_PASSCRED)", what_, -rc);
    }
    absl::Status s = ConnectWithin(fd.get(), node_.addr(), node_.addr_len(), what_,
                                   Deadline::After(kSocketOpenTimeout));
    if (!s.ok()) return s;
    return std::make_unique<SocketEnd>(std::move(fd), opts_);
  }
  void Detach() override { listener_.reset(); }
  absl::Status Destroy() override { return node_.Unlink(); }

 private:
  UnixNode node_;
  FileDescriptor listener_;
  int type_;
  SocketEndOptions opts_;
  std::string what_;
};

class UnixDgramChannel : public Channel {
 public:
  UnixDgramChannel(UnixNode node, FileDescriptor sock, SocketEndOptions opts, std::string what)
      : node_(std::move(node)), sock_(std::move(sock)), opts_(opts), what_(std::move(what)) {}

  absl::StatusOr<std::unique_ptr<End>> Open(Role role) override {
    if (role == Role::kReader) {
      absl::StatusOr<FileDescriptor> fd = DupHeld(sock_, what_);
      if (!fd.ok()) return fd.status();
      SocketEndOptions reader = opts_;
      reader.reply_to_sender = true;
      return std::make_unique<SocketEnd>(*std::move(fd), reader);
    }
    FileDescriptor fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return ErrnoStatus("socket", what_);
    // Autobind (an abstract name, no node) so the reader can answer.
    struct sockaddr_un self = {};
    self.sun_family = AF_UNIX;
    if (::bind(fd.get(), reinterpret_cast<struct sockaddr*>(&self), sizeof(sa_family_t)) != 0) {
      return ErrnoStatus("bind(autobind)", what_);
    }
    absl::Status s = ConnectWithin(fd.get(), node_.addr(), node_.addr_len(), what_,
                                   Deadline::After(kSocketOpenTimeout));
    if (!s.ok()) return s;
    return std::make_unique<SocketEnd>(std::move(fd), opts_);
  }
  void Detach() override { sock_.reset(); }
  absl::Status Destroy() override { return node_.Unlink(); }

 private:
  UnixNode node_;
  FileDescriptor sock_;
  SocketEndOptions opts_;
  std::string what_;
};

class UnixTransport : public Transport {
 public:
  UnixTransport(int type, std::string_view name, std::string_view description)
      : type_(type), name_(name), description_(description) {
    caps_ = UnixSocketCaps(type);
    caps_.named = true;
    // A seqpacket or stream channel is one connection; dgram takes many writers.
    caps_.multi_writer = type == SOCK_DGRAM;
    if (caps_.multi_writer) caps_.atomic_write = caps_.max_message;
    opts_ = EndOptionsFor(type, caps_);
  }
  std::string_view name() const override { return name_; }
  std::string_view description() const override { return description_; }
  const Capabilities& caps() const override { return caps_; }

  absl::StatusOr<std::unique_ptr<Channel>> Create(const std::string& scratch_dir) const override {
    absl::StatusOr<UnixNode> node = UnixNode::Make(scratch_dir);
    if (!node.ok()) return node.status();
    std::string what = absl::StrFormat("%s %s", name_, node->path());
    // The dgram reader socket stays in blocking mode: its bounded replies
    // block in the kernel under SO_SNDTIMEO (see SocketEnd::Send).
    const int flags = SOCK_CLOEXEC | (type_ == SOCK_DGRAM ? 0 : SOCK_NONBLOCK);
    FileDescriptor fd(::socket(AF_UNIX, type_ | flags, 0));
    if (!fd) return ErrnoStatus("socket", what);
    if (int rc = PrepareSocket(fd.get(), opts_); rc != 0) {
      return ErrnoStatus("setsockopt(SO_PASSCRED)", what, -rc);
    }
    if (absl::Status s = node->Bind(fd.get()); !s.ok()) return s;
    if (type_ == SOCK_DGRAM) {
      return std::make_unique<UnixDgramChannel>(*std::move(node), std::move(fd), opts_,
                                                std::move(what));
    }
    absl::Cleanup unlink = [&node] { node->Unlink().IgnoreError(); };
    if (::listen(fd.get(), SOMAXCONN) != 0) return ErrnoStatus("listen", what);
    std::move(unlink).Cancel();
    return std::make_unique<UnixListenChannel>(*std::move(node), std::move(fd), type_, opts_,
                                               std::move(what));
  }

 private:
  int type_;
  std::string_view name_;
  std::string_view description_;
  Capabilities caps_;
  SocketEndOptions opts_;
};

class UnixStreamTransport : public UnixTransport {
 public:
  UnixStreamTransport()
      : UnixTransport(SOCK_STREAM, "unix_stream",
                      "AF_UNIX SOCK_STREAM on a path in the scratch dir, one connection") {}
};

class UnixSeqpacketTransport : public UnixTransport {
 public:
  UnixSeqpacketTransport()
      : UnixTransport(SOCK_SEQPACKET, "unix_seqpacket",
                      "AF_UNIX SOCK_SEQPACKET on a path in the scratch dir, one connection, "
                      "SO_PASSCRED tells empty records from end of stream") {}
};

class UnixDgramTransport : public UnixTransport {
 public:
  UnixDgramTransport()
      : UnixTransport(SOCK_DGRAM, "unix_dgram",
                      "AF_UNIX SOCK_DGRAM: reader bound to a path in the scratch dir, writers "
                      "connect(); the reader's sends answer the last sender") {}
};

IPCSPEC_REGISTER_TRANSPORT(UnixStreamTransport);
IPCSPEC_REGISTER_TRANSPORT(UnixSeqpacketTransport);
IPCSPEC_REGISTER_TRANSPORT(UnixDgramTransport);

}  // namespace
}  // namespace ipcspec
