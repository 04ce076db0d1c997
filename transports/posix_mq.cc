// posix_mq: a POSIX message queue (mq_open) under a unique random name,
// mode 0600. Every message is sent at priority 0, so delivery is FIFO.
#include <fcntl.h>
#include <mqueue.h>

#include "ipcspec/registry.h"
#include "transports/fd_end.h"
#include "transports/transport_base.h"

namespace ipcspec {
namespace {

// Linux defaults of fs.mqueue.msg_max and msgsize_max, which every fresh IPC
// namespace starts with and an unprivileged process may use.
constexpr QueueLimits kLimits = {.max_message = 8192, .capacity = 10 * 8192, .max_queued = 10};

// A send is refused exactly at mq_maxmsg (mq_send(3) EAGAIN).
constexpr TransportSpec kPosixMqSpec = {
    .name = "posix_mq",
    .description = "POSIX message queue (mq_open/mq_send/mq_receive), 10 x 8192 bytes",
    .caps = NamedQueueCaps(ModelClass::kPriorityQueue, kLimits)};

class MqChannel : public Channel {
 public:
  explicit MqChannel(std::string name) : name_(std::move(name)) {}

  absl::StatusOr<std::unique_ptr<End>> Open(Role role) override {
    const int mode = role == Role::kReader ? O_RDONLY : O_WRONLY;
    mqd_t q = ::mq_open(name_.c_str(), mode | O_NONBLOCK | O_CLOEXEC);
    if (q == static_cast<mqd_t>(-1)) return ErrnoStatus("mq_open", name_);
    return std::make_unique<FdEnd>(FileDescriptor(q), FdEnd::Io::kMqueue, Framing::kMessage);
  }
  void Detach() override {}
  absl::Status Destroy() override {
    if (::mq_unlink(name_.c_str()) != 0) return ErrnoStatus("mq_unlink", name_);
    return absl::OkStatus();
  }

 private:
  std::string name_;
};

class PosixMqTransport : public TransportBase {
 public:
  PosixMqTransport() : TransportBase(kPosixMqSpec) {}
  absl::StatusOr<std::unique_ptr<Channel>> Create(const std::string&) const override {
    std::string name = UniqueName("/ipcspec");
    struct mq_attr attr = {};
    attr.mq_maxmsg = kLimits.max_queued;
    attr.mq_msgsize = kLimits.max_message;
    mqd_t q = ::mq_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600, &attr);
    if (q == static_cast<mqd_t>(-1)) return ErrnoStatus("mq_open", name);
    ::mq_close(q);
    return std::make_unique<MqChannel>(std::move(name));
  }
};

IPCSPEC_REGISTER_TRANSPORT(PosixMqTransport);

}  // namespace
}  // namespace ipcspec
