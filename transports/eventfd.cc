// eventfd: an eventfd(2) counter, inherited across fork. A message is one
// native-endian uint64: Send adds it to the counter, Recv returns the sum of
// everything added since the last Recv and resets the counter to zero. Both
// roles share one descriptor, so either end may send or receive. Lengths are
// the kernel's business: a send under 8 bytes or a receive buffer under 8
// bytes gives its EINVAL, as does adding 0xffffffffffffffff; only a send over
// max_message is refused here (EMSGSIZE, as the ABI requires), because the
// kernel would take its first 8 bytes and report success.
#include <poll.h>
#include <sys/epoll.h>
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

// A send whose value does not fit waits for a receive to empty the counter.
// poll() cannot see that moment: POLLOUT holds while the counter is below
// 0xfffffffffffffffe, whatever the value to add, so a poll loop would spin.
// An edge-triggered epoll registration can: a receive wakes the counter's
// writers (EPOLLOUT), which queues one event on it. (A wake-up that came
// before the wait only costs one more attempt.)
class EventfdEnd : public FdEnd {
 public:
  explicit EventfdEnd(FileDescriptor fd)
      : FdEnd(std::move(fd), Io::kReadWrite, Framing::kMessage, kCounterSize) {}

 protected:
  int Prepare(bool sending, int timeout_ms, const Deadline&) override {
    if (!sending || timeout_ms == 0 || emptied_) return 0;
    FileDescriptor ep(::epoll_create1(EPOLL_CLOEXEC));
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLET, .data = {}};
    if (!ep || ::epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd(), &ev) != 0) return -errno;
    emptied_ = std::move(ep);
    return 0;
  }
  int AwaitReady(short events, const Deadline& deadline) override {
    if (events != POLLOUT || !emptied_) return FdEnd::AwaitReady(events, deadline);
    for (;;) {
      struct epoll_event ev;
      const int n = ::epoll_wait(emptied_.get(), &ev, 1, deadline.RemainingMs());
      if (n >= 0) return n;
      if (errno != EINTR) return -errno;
    }
  }

 private:
  FileDescriptor emptied_;  // the edge-triggered registration, made by the first blocking send
};

class EventfdChannel : public Channel {
 public:
  explicit EventfdChannel(FileDescriptor fd) : fd_(std::move(fd)) {}

  absl::StatusOr<std::unique_ptr<End>> Open(Role) override {
    absl::StatusOr<FileDescriptor> fd = DupHeld(fd_, "eventfd");
    if (!fd.ok()) return fd.status();
    return std::make_unique<EventfdEnd>(*std::move(fd));
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
