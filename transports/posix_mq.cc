// posix_mq: a POSIX message queue (mq_open) under a unique random name,
// mode 0600. Every message is sent at priority 0, so delivery is FIFO.
#include <fcntl.h>
#include <mqueue.h>

#include "ipcspec/registry.h"
#include "transports/fd_end.h"

namespace ipcspec {
namespace {

// Linux defaults of fs.mqueue.msg_max and msgsize_max, which every fresh IPC
// namespace starts with and an unprivileged process may use.
constexpr long kMaxMsg = 10;
constexpr long kMsgSize = 8192;

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

class PosixMqTransport : public Transport {
 public:
  PosixMqTransport() {
    caps_.framing = Framing::kMessage;
    caps_.direction = Direction::kOneWay;
    caps_.multi_writer = true;
    caps_.named = true;
    caps_.model = ModelClass::kPriorityQueue;
    caps_.max_message = kMsgSize;
    caps_.capacity = kMaxMsg * kMsgSize;
    caps_.atomic_write = kMsgSize;
    caps_.max_queued = kMaxMsg;
    caps_.overhead = Overhead::kNone;  // refused exactly at mq_maxmsg (mq_send(3) EAGAIN)
  }
  std::string_view name() const override { return "posix_mq"; }
  std::string_view description() const override {
    return "POSIX message queue (mq_open/mq_send/mq_receive), 10 x 8192 bytes";
  }
  const Capabilities& caps() const override { return caps_; }
  absl::StatusOr<std::unique_ptr<Channel>> Create(const std::string&) const override {
    std::string name = UniqueName("/ipcspec");
    struct mq_attr attr = {};
    attr.mq_maxmsg = kMaxMsg;
    attr.mq_msgsize = kMsgSize;
    mqd_t q = ::mq_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600, &attr);
    if (q == static_cast<mqd_t>(-1)) return ErrnoStatus("mq_open", name);
    ::mq_close(q);
    return std::make_unique<MqChannel>(std::move(name));
  }

 private:
  Capabilities caps_;
};

IPCSPEC_REGISTER_TRANSPORT(PosixMqTransport);

}  // namespace
}  // namespace ipcspec
