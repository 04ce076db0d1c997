// eventfd: an eventfd(2) counter, inherited across fork. A message is one
// native-endian uint64: Send adds it to the counter, Recv returns the sum of
// everything added since the last Recv and resets the counter to zero. Both
// roles share one descriptor, so either end may send or receive. Lengths are
// the kernel's business: a send under 8 bytes or a receive buffer under 8
// bytes gives its EINVAL, as does adding 0xffffffffffffffff; only a send over
// max_message is refused here (EMSGSIZE, as the ABI requires), because the
// kernel would take its first 8 bytes and report success.
#include <sys/eventfd.h>

#include "ipcspec/registry.h"
#include "transports/fd_end.h"
#include "transports/transport_base.h"

namespace ipcspec {
namespace {

constexpr size_t kCounterSize = sizeof(uint64_t);

constexpr TransportSpec kEventfdSpec = {
    .name = "eventfd",
    .description = "eventfd(2) counter: 8-byte sends add, a receive takes the sum and resets it",
    .caps = {.framing = Framing::kMessage,
             .direction = Direction::kDuplex,
             .ordered = false,  // values are summed: no message keeps its place
             .multi_writer = true,
             .model = ModelClass::kCounter,
             .max_message = kCounterSize,
             // capacity 0: a send blocks only when the counter would pass
             // 0xfffffffffffffffe, which no byte count describes.
             .atomic_write = kCounterSize}};  // one write(2) adds its whole value

class EventfdChannel : public Channel {
 public:
  explicit EventfdChannel(FileDescriptor fd) : fd_(std::move(fd)) {}

  absl::StatusOr<std::unique_ptr<End>> Open(Role) override {
    absl::StatusOr<FileDescriptor> fd = DupHeld(fd_, "eventfd");
    if (!fd.ok()) return fd.status();
    return std::make_unique<FdEnd>(*std::move(fd), FdEnd::Io::kReadWrite, Framing::kMessage,
                                   kCounterSize);
  }
  void Detach() override { fd_.reset(); }
  absl::Status Destroy() override { return absl::OkStatus(); }

 private:
  FileDescriptor fd_;
};

class EventfdTransport : public TransportBase {
 public:
  EventfdTransport() : TransportBase(kEventfdSpec) {}
  absl::StatusOr<std::unique_ptr<Channel>> Create(const std::string&) const override {
    FileDescriptor fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!fd) return ErrnoStatus("eventfd", "EFD_CLOEXEC|EFD_NONBLOCK");
    return std::make_unique<EventfdChannel>(std::move(fd));
  }
};

IPCSPEC_REGISTER_TRANSPORT(EventfdTransport);

}  // namespace
}  // namespace ipcspec
