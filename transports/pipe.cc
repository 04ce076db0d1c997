// pipe: an anonymous pipe(2); the reader end reads, the writer end writes.
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include "ipcspec/registry.h"
#include "transports/fd_end.h"

namespace ipcspec {
namespace {

class PipeChannel : public Channel {
 public:
  PipeChannel(FileDescriptor r, FileDescriptor w) : r_(std::move(r)), w_(std::move(w)) {}

  absl::StatusOr<std::unique_ptr<End>> Open(Role role) override {
    const FileDescriptor& src = role == Role::kReader ? r_ : w_;
    if (!src) return absl::FailedPreconditionError("pipe: open() after detach()");
    FileDescriptor fd(::fcntl(src.get(), F_DUPFD_CLOEXEC, 0));
    if (!fd) return ErrnoStatus("fcntl(F_DUPFD_CLOEXEC)", "pipe");
    return std::make_unique<FdEnd>(std::move(fd), FdEnd::Io::kReadWrite, Framing::kStream);
  }
  void Detach() override {
    r_.reset();
    w_.reset();
  }
  absl::Status Destroy() override { return absl::OkStatus(); }

 private:
  FileDescriptor r_, w_;
};

class PipeTransport : public Transport {
 public:
  PipeTransport() {
    caps_.framing = Framing::kStream;
    caps_.direction = Direction::kOneWay;
    caps_.multi_writer = true;
    caps_.peer_close = true;
    caps_.model = ModelClass::kByteStream;
    caps_.capacity = 65536;         // 16 pages, the Linux default
    caps_.atomic_write = PIPE_BUF;  // POSIX: writes up to PIPE_BUF are atomic
  }
  std::string_view name() const override { return "pipe"; }
  std::string_view description() const override {
    return "anonymous pipe(2), inherited across fork";
  }
  const Capabilities& caps() const override { return caps_; }
  absl::StatusOr<std::unique_ptr<Channel>> Create(const std::string&) const override {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return ErrnoStatus("pipe2", "pipe");
    return std::make_unique<PipeChannel>(FileDescriptor(fds[0]), FileDescriptor(fds[1]));
  }

 private:
  Capabilities caps_;
};

IPCSPEC_REGISTER_TRANSPORT(PipeTransport);

}  // namespace
}  // namespace ipcspec
