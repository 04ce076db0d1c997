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
#include <sys/socket.h>

#include "ipcspec/registry.h"
#include "transports/socket_util.h"
#include "transports/transport_base.h"

namespace ipcspec {
namespace {

// Every process that opens the writer side shares one socket: multi_writer.
constexpr TransportSpec kStreamSpec = {
    .name = "socketpair_stream",
    .description = "socketpair(AF_UNIX, SOCK_STREAM), inherited across fork",
    .caps = UnixSocketCaps(SOCK_STREAM, /*multi_writer=*/true, /*named=*/false)};
constexpr TransportSpec kSeqpacketSpec = {
    .name = "socketpair_seqpacket",
    .description =
        "socketpair(AF_UNIX, SOCK_SEQPACKET), inherited across fork; "
        "SO_PASSCRED tells empty records from end of stream",
    .caps = UnixSocketCaps(SOCK_SEQPACKET, /*multi_writer=*/true, /*named=*/false)};
constexpr TransportSpec kDgramSpec = {
    .name = "socketpair_dgram",
    .description = "socketpair(AF_UNIX, SOCK_DGRAM), inherited across fork",
    .caps = UnixSocketCaps(SOCK_DGRAM, /*multi_writer=*/true, /*named=*/false)};

class SocketpairChannel : public Channel {
 public:
  SocketpairChannel(FileDescriptor reader, FileDescriptor writer, SocketEndOptions opts,
                    std::string_view name)
      : reader_(std::move(reader)), writer_(std::move(writer)), opts_(opts), name_(name) {}

  absl::StatusOr<std::unique_ptr<End>> Open(Role role) override {
    absl::StatusOr<FileDescriptor> fd = DupHeld(role == Role::kReader ? reader_ : writer_, name_);
    if (!fd.ok()) return fd.status();
    return std::make_unique<SocketEnd>(*std::move(fd), opts_);
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

class SocketpairTransport : public TransportBase {
 public:
  SocketpairTransport(int type, const TransportSpec& spec)
      : TransportBase(WithUnixMessageLimit(spec, type)),
        type_(type),
        opts_(UnixEndOptions(type, caps())) {}

  absl::StatusOr<std::unique_ptr<Channel>> Create(const std::string&) const override {
    int sv[2];
    // Blocking mode is fine: every call is MSG_DONTWAIT and waits in poll.
    if (::socketpair(AF_UNIX, type_ | SOCK_CLOEXEC, 0, sv) != 0) {
      return ErrnoStatus("socketpair", name());
    }
    FileDescriptor reader(sv[0]), writer(sv[1]);
    for (int fd : sv) {
      if (int rc = PrepareSocket(fd, opts_); rc != 0) {
        return ErrnoStatus("setsockopt(SO_PASSCRED)", name(), -rc);
      }
    }
    return std::make_unique<SocketpairChannel>(std::move(reader), std::move(writer), opts_, name());
  }

 private:
  int type_;
  SocketEndOptions opts_;
};

IPCSPEC_REGISTER_TRANSPORT_MEMBER(SocketpairStream, SocketpairTransport, SOCK_STREAM, kStreamSpec);
IPCSPEC_REGISTER_TRANSPORT_MEMBER(SocketpairSeqpacket, SocketpairTransport, SOCK_SEQPACKET,
                                  kSeqpacketSpec);
IPCSPEC_REGISTER_TRANSPORT_MEMBER(SocketpairDgram, SocketpairTransport, SOCK_DGRAM, kDgramSpec);

}  // namespace
}  // namespace ipcspec
