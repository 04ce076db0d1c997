// tests/support/broken_channels.cc: see broken_channels.h.
#include "tests/support/broken_channels.h"

#include <fcntl.h>
#include <mqueue.h>
#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <span>

#include "absl/strings/str_format.h"
#include "ipcspec/inventory.h"
#include "ipcspec/util.h"

namespace ipcspec::testing {

SharedHandle::SharedHandle(std::shared_ptr<Channel> inner, std::shared_ptr<int> holds)
    : inner_(std::move(inner)), holds_(std::move(holds)) {
  ++*holds_;
}

absl::StatusOr<std::unique_ptr<End>> SharedHandle::Open(Role role) { return inner_->Open(role); }

void SharedHandle::Detach() {
  if (!detached_ && --*holds_ == 0) inner_->Detach();
  detached_ = true;
}

absl::Status SharedHandle::Destroy() {
  std::shared_ptr<Channel> last = std::move(inner_);
  return last.use_count() == 1 ? last->Destroy() : absl::OkStatus();
}

namespace {

// Bug::kNameFromCount: posix_mq's queue, named after how many channels this
// process has made, under a prefix fixed for the case (a program's fixed
// prefix; a hash of the case's scratch directory stands in, so that runs
// without a private IPC namespace never meet), opened with O_CREAT but not
// O_EXCL. Two processes forked from one that made none both make "...-1".
int g_channels_made = 0;

class CountNamedEnd : public End {
 public:
  explicit CountNamedEnd(mqd_t q) : q_(q) {}
  ~CountNamedEnd() override { ::mq_close(q_); }
  int Send(std::span<const std::byte> buf, size_t* sent, int timeout_ms) override {
    *sent = 0;
    const auto* data = reinterpret_cast<const char*>(buf.data());
    const struct timespec at = Until(timeout_ms);
    if ((timeout_ms < 0 ? ::mq_send(q_, data, buf.size(), 0)
                        : ::mq_timedsend(q_, data, buf.size(), 0, &at)) != 0) {
      return Failed(timeout_ms);
    }
    *sent = buf.size();
    return 0;
  }
  int Recv(std::span<std::byte> buf, size_t* received, int timeout_ms) override {
    *received = 0;
    auto* data = reinterpret_cast<char*>(buf.data());
    const struct timespec at = Until(timeout_ms);
    const ssize_t n = timeout_ms < 0 ? ::mq_receive(q_, data, buf.size(), nullptr)
                                     : ::mq_timedreceive(q_, data, buf.size(), nullptr, &at);
    if (n < 0) return Failed(timeout_ms);
    *received = static_cast<size_t>(n);
    return 0;
  }

 private:
  // CLOCK_REALTIME in timeout_ms (0: now, which has passed when the call looks).
  static struct timespec Until(int timeout_ms) {
    struct timespec ts;
    ::clock_gettime(CLOCK_REALTIME, &ts);
    const int64_t ns = ts.tv_nsec + int64_t{std::max(timeout_ms, 0)} % 1000 * 1000000;
    ts.tv_sec += std::max(timeout_ms, 0) / 1000 + ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    return ts;
  }
  static int Failed(int timeout_ms) {
    return errno == ETIMEDOUT && timeout_ms == 0 ? -EAGAIN : -errno;
  }

  mqd_t q_;
};

class CountNamedQueue : public Channel {
 public:
  explicit CountNamedQueue(std::string name) : name_(std::move(name)) {}
  static absl::StatusOr<std::unique_ptr<Channel>> Create(const std::string& scratch) {
    const std::string prefix = scratch.substr(0, scratch.rfind('/'));
    std::string name =
        absl::StrFormat("/broken-%016x-%d", std::hash<std::string>()(prefix), ++g_channels_made);
    struct mq_attr attr = {};
    attr.mq_maxmsg = 10;
    attr.mq_msgsize = 8192;
    mqd_t q = ::mq_open(name.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600, &attr);
    if (q == static_cast<mqd_t>(-1)) return ErrnoStatus("mq_open", name);
    ::mq_close(q);
    return std::make_unique<CountNamedQueue>(std::move(name));
  }
  absl::StatusOr<std::unique_ptr<End>> Open(Role role) override {
    const int mode = role == Role::kReader ? O_RDONLY : O_WRONLY;
    mqd_t q = ::mq_open(name_.c_str(), mode | O_CLOEXEC);
    if (q == static_cast<mqd_t>(-1)) return ErrnoStatus("mq_open", name_);
    return std::make_unique<CountNamedEnd>(q);
  }
  void Detach() override {}
  absl::Status Destroy() override {
    if (::mq_unlink(name_.c_str()) != 0) return ErrnoStatus("mq_unlink", name_);
    return absl::OkStatus();
  }

 private:
  std::string name_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Channel>> CreateCountNamedQueue(const std::string& scratch) {
  return CountNamedQueue::Create(scratch);
}

void OpenToOthers(const std::vector<std::string>& before) {
  for (const std::string& n : ListDir("/dev/shm")) {
    if (std::find(before.begin(), before.end(), n) != before.end()) continue;
    (void)::chmod(("/dev/shm/" + n).c_str(), 0644);  // the bug
  }
}

}  // namespace ipcspec::testing
