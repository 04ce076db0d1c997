// tests/support/broken_channels.cc: see broken_channels.h.
#include "tests/support/broken_channels.h"

#include <fcntl.h>
#include <mqueue.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
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

namespace {

// An end that holds a descriptor of the terminal besides its inner end.
class TerminalEnd : public End {
 public:
  TerminalEnd(std::unique_ptr<End> inner, int fd) : inner_(std::move(inner)), fd_(fd) {}
  int Send(std::span<const std::byte> buf, size_t* sent, int timeout_ms) override {
    return inner_->Send(buf, sent, timeout_ms);
  }
  int Recv(std::span<std::byte> buf, size_t* received, int timeout_ms) override {
    return inner_->Recv(buf, received, timeout_ms);
  }

 private:
  std::unique_ptr<End> inner_;
  FileDescriptor fd_;
};

class TerminalChannel : public Channel {
 public:
  TerminalChannel(std::unique_ptr<Channel> inner, int master, std::string slave)
      : inner_(std::move(inner)), master_(master), slave_(std::move(slave)) {}
  absl::StatusOr<std::unique_ptr<End>> Open(Role role) override {
    absl::StatusOr<std::unique_ptr<End>> e = inner_->Open(role);
    if (!e.ok()) return e.status();
    const int fd = role == Role::kReader
                       ? ::fcntl(master_.get(), F_DUPFD_CLOEXEC, 0)
                       : ::open(slave_.c_str(), O_RDWR | O_CLOEXEC);  // the bug: no O_NOCTTY
    if (fd < 0) return absl::InternalError(absl::StrFormat("the terminal: %s", strerror(errno)));
    return std::make_unique<TerminalEnd>(std::move(*e), fd);
  }
  void Detach() override {
    master_ = FileDescriptor();
    inner_->Detach();
  }
  absl::Status Destroy() override {
    master_ = FileDescriptor();
    return inner_->Destroy();
  }

 private:
  std::unique_ptr<Channel> inner_;
  FileDescriptor master_;
  std::string slave_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Channel>> WithTerminal(std::unique_ptr<Channel> inner) {
  FileDescriptor master(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  char name[64];
  if (!master || ::grantpt(master.get()) != 0 || ::unlockpt(master.get()) != 0 ||
      ::ptsname_r(master.get(), name, sizeof name) != 0) {
    (void)inner->Destroy();
    return absl::InternalError(absl::StrFormat("posix_openpt: %s", strerror(errno)));
  }
  return std::make_unique<TerminalChannel>(std::move(inner), master.release(), name);
}

}  // namespace ipcspec::testing
