// socketpair_stream, socketpair_seqpacket, socketpair_dgram: an AF_UNIX
// socketpair(2) made by Create(). The reader End is a dup of one side, every
// writer End a dup of the other, so several writers (in any process that
// inherited the channel) share one socket; Detach closes the originals.
//
// stream and seqpacket: the reader gets end of stream once every descriptor
// of the writer side is closed, and a writer gets EPIPE once the reader side
// is gone. A seqpacket or dgram message is one skb, so messages never
// interleave; a stream send may be split, so no atomic size is declared.
// dgram: no end of stream (a closed peer is not reported to the other side's
// reads), so peer_close is not declared.
#include <fcntl.h>
#include <sys/socket.h>

#include "absl/strings/str_format.h"
#include "ipcspec/registry.h"
#include "transports/socket_util.h"

namespace ipcspec {
namespace {

class SocketpairChannel : public Channel {
 public:
  SocketpairChannel(FileDescriptor reader, FileDescriptor writer, SocketEndOptions opts,
                    std::string_view name)
      : reader_(std::move(reader)), writer_(std::move(writer)), opts_(opts), name_(name) {}

  absl::StatusOr<std::unique_ptr<End>> Open(Role role) override {
    const FileDescriptor& src = role == Role::kReader ? reader_ : writer_;
    if (!src) {
      return absl::FailedPreconditionError(absl::StrFormat("%s: open() after detach()", name_));
    }
    FileDescriptor fd(::fcntl(src.get(), F_DUPFD_CLOEXEC, 0));
    if (!fd) return ErrnoStatus("fcntl(F_DUPFD_CLOEXEC)", name_);
    return std::make_unique<SocketEnd>(std::move(fd), opts_);
  }
  void Detach() override {
    reader_.reset();
    writer_.reset();
  }
  absl::Status Destroy() override { return absl::OkStatus(); }

 private:
  FileDescriptor reader_, writer_;
  SocketEndOptions opts_;
  std::string_view name_;
};

class SocketpairTransport : public Transport {
 public:
  SocketpairTransport(int type, std::string_view name, std::string_view description)
      : type_(type), name_(name), description_(description) {
    caps_ = UnixSocketCaps(type);
    // Every process that opens the writer side shares one socket.
    caps_.multi_writer = true;
    if (caps_.framing == Framing::kMessage) caps_.atomic_write = caps_.max_message;
    opts_ = EndOptionsFor(type, caps_);
  }
  std::string_view name() const override { return name_; }
  std::string_view description() const override { return description_; }
  const Capabilities& caps() const override { return caps_; }

  absl::StatusOr<std::unique_ptr<Channel>> Create(const std::string&) const override {
    int sv[2];
    // Blocking mode is fine: every call is MSG_DONTWAIT and waits in poll.
    if (::socketpair(AF_UNIX, type_ | SOCK_CLOEXEC, 0, sv) != 0) {
      return ErrnoStatus("socketpair", name_);
    }
    FileDescriptor reader(sv[0]), writer(sv[1]);
    for (int fd : sv) {
      if (int rc = PrepareSocket(fd, opts_); rc != 0) {
        return ErrnoStatus("setsockopt(SO_PASSCRED)", name_, -rc);
      }
    }
    return std::make_unique<SocketpairChannel>(std::move(reader), std::move(writer), opts_, name_);
  }

 private:
  int type_;
  std::string_view name_;
  std::string_view description_;
  Capabilities caps_;
  SocketEndOptions opts_;
};

class SocketpairStreamTransport : public SocketpairTransport {
 public:
  SocketpairStreamTransport()
      : SocketpairTransport(SOCK_STREAM, "socketpair_stream",
                            "socketpair(AF_UNIX, SOCK_STREAM), inherited across fork") {}
};

class SocketpairSeqpacketTransport : public SocketpairTransport {
 public:
  SocketpairSeqpacketTransport()
      : SocketpairTransport(SOCK_SEQPACKET, "socketpair_seqpacket",
                            "socketpair(AF_UNIX, SOCK_SEQPACKET), inherited across fork; "
                            "SO_PASSCRED tells empty records from end of stream") {}
};

class SocketpairDgramTransport : public SocketpairTransport {
 public:
  SocketpairDgramTransport()
      : SocketpairTransport(SOCK_DGRAM, "socketpair_dgram",
                            "socketpair(AF_UNIX, SOCK_DGRAM), inherited across fork") {}
};

IPCSPEC_REGISTER_TRANSPORT(SocketpairStreamTransport);
IPCSPEC_REGISTER_TRANSPORT(SocketpairSeqpacketTransport);
IPCSPEC_REGISTER_TRANSPORT(SocketpairDgramTransport);

}  // namespace
}  // namespace ipcspec
