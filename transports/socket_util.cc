#include "transports/socket_util.h"

#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_format.h"

namespace ipcspec {

absl::StatusOr<std::unique_ptr<End>> OpenSocketReader(const FileDescriptor& held, int type,
                                                      SocketEndOptions opts,
                                                      std::string_view what) {
  absl::StatusOr<FileDescriptor> fd = DupHeld(held, what);
  if (!fd.ok()) return fd.status();
  if (type != SOCK_DGRAM) return SocketEnd::Accepting(*std::move(fd), opts);
  opts.reply_to_sender = true;
  return std::make_unique<SocketEnd>(*std::move(fd), opts);
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

TransportSpec WithUnixMessageLimit(TransportSpec spec, int type) {
  for (uint64_t* field : {&spec.caps.max_message, &spec.caps.atomic_write}) {
    if (*field == kUnixMessageLimit) *field = UnixDefaultMaxMessage(type);
  }
  return spec;
}

SocketEndOptions UnixEndOptions(int type, const Capabilities& caps) {
  SocketEndOptions opts;
  opts.framing = caps.framing;
  opts.max_message = caps.max_message;
  opts.records_carry_creds = type == SOCK_SEQPACKET;
  return opts;
}

}  // namespace ipcspec
