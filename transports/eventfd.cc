// eventfd: an eventfd(2) counter, inherited across fork. A message is one
// native-endian uint64: Send adds it to the counter, Recv returns the sum of
// everything added since the last Recv and resets the counter to zero. Both
// roles share one descriptor, so either end may send or receive. Lengths are
// the kernel's business: a send under 8 bytes or a receive buffer under 8
// bytes gives its EINVAL, as does adding 0xffffffffffffffff; only a send over
// max_message is refused here (EMSGSIZE, as the ABI requires), because the
// kernel would take its first 8 bytes and report success.
#include <fcntl.h>
#include <sys/eventfd.h>

#include "ipcspec/registry.h"
#include "transports/fd_end.h"

namespace ipcspec {
namespace {

constexpr size_t kCounterSize = sizeof(uint64_t);

class EventfdEnd : public FdEnd {
 public:
  explicit EventfdEnd(FileDescriptor fd)
      : FdEnd(std::move(fd), Io::kReadWrite, Framing::kMessage) {}

  int Send(std::span<const std::byte> buf, size_t* sent, int timeout_ms) override {
    *sent = 0;
    if (buf.size() > kCounterSize) return -EMSGSIZE;
    return FdEnd::Send(buf, sent, timeout_ms);
  }
};

class EventfdChannel : public Channel {
 public:
  explicit EventfdChannel(FileDescriptor fd) : fd_(std::move(fd)) {}

  absl::StatusOr<std::unique_ptr<End>> Open(Role) override {
    if (!fd_) return absl::FailedPreconditionError("eventfd: open() after detach()");
    FileDescriptor fd(::fcntl(fd_.get(), F_DUPFD_CLOEXEC, 0));
    if (!fd) return ErrnoStatus("fcntl(F_DUPFD_CLOEXEC)", "eventfd");
    return std::make_unique<EventfdEnd>(std::move(fd));
  }
  void Detach() override { fd_.reset(); }
  absl::Status Destroy() override { return absl::OkStatus(); }

 private:
  FileDescriptor fd_;
};

class EventfdTransport : public Transport {
 public:
  EventfdTransport() {
    caps_.framing = Framing::kMessage;
    caps_.direction = Direction::kDuplex;
    caps_.ordered = false;  // values are summed: no message keeps its place
    caps_.multi_writer = true;
    caps_.model = ModelClass::kCounter;
    caps_.max_message = kCounterSize;
    caps_.atomic_write = kCounterSize;  // one write(2) adds its whole value
    // capacity 0: a send blocks only when the counter would pass
    // 0xfffffffffffffffe, which no byte count describes.
  }
  std::string_view name() const override { return "eventfd"; }
  std::string_view description() const override {
    return "eventfd(2) counter: 8-byte sends add, a receive takes the sum and resets it";
  }
  const Capabilities& caps() const override { return caps_; }
  absl::StatusOr<std::unique_ptr<Channel>> Create(const std::string&) const override {
    FileDescriptor fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!fd) return ErrnoStatus("eventfd", "EFD_CLOEXEC|EFD_NONBLOCK");
    return std::make_unique<EventfdChannel>(std::move(fd));
  }

 private:
  Capabilities caps_;
};

IPCSPEC_REGISTER_TRANSPORT(EventfdTransport);

}  // namespace
}  // namespace ipcspec
