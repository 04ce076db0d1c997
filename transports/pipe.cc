// pipe: an anonymous pipe(2); the reader end reads, the writer end writes.
#include <fcntl.h>
#include <unistd.h>

#include "ipcspec/registry.h"
#include "transports/fd_end.h"
#include "transports/transport_base.h"

namespace ipcspec {
namespace {

constexpr TransportSpec kPipeSpec = {
    .name = "pipe", .description = "anonymous pipe(2), inherited across fork", .caps = kPipeCaps};

class PipeChannel : public Channel {
 public:
  PipeChannel(FileDescriptor r, FileDescriptor w) : r_(std::move(r)), w_(std::move(w)) {}

  absl::StatusOr<std::unique_ptr<End>> Open(Role role) override {
    absl::StatusOr<FileDescriptor> fd = DupHeld(role == Role::kReader ? r_ : w_, "pipe");
    if (!fd.ok()) return fd.status();
    return std::make_unique<FdEnd>(*std::move(fd), FdEnd::Io::kReadWrite, Framing::kStream);
  }
  void Detach() override {
    r_.reset();
    w_.reset();
  }
  absl::Status Destroy() override { return absl::OkStatus(); }

 private:
  FileDescriptor r_, w_;
};

class PipeTransport : public TransportBase {
 public:
  PipeTransport() : TransportBase(kPipeSpec) {}
  absl::StatusOr<std::unique_ptr<Channel>> Create(const std::string&) const override {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return ErrnoStatus("pipe2", "pipe");
    return std::make_unique<PipeChannel>(FileDescriptor(fds[0]), FileDescriptor(fds[1]));
  }
};

IPCSPEC_REGISTER_TRANSPORT(PipeTransport);

}  // namespace
}  // namespace ipcspec
