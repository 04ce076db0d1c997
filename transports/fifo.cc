// fifo: a named pipe (mkfifo) in the channel's private scratch directory,
// mode 0600. The reader opens O_RDONLY|O_NONBLOCK and never blocks; a writer
// opens O_WRONLY|O_NONBLOCK as soon as a reader has the FIFO open, waiting
// for that moment on an inotify IN_OPEN watch on the node (a non-blocking
// writer open without a reader fails with ENXIO, and a blocking one cannot be
// bounded). In one process the reader opens first; Destroy unlinks the node.
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_format.h"
#include "ipcspec/registry.h"
#include "transports/fd_end.h"
#include "transports/transport_base.h"

namespace ipcspec {
namespace {

// How long a writer's Open waits for a reader to open the FIFO.
constexpr absl::Duration kRendezvousTimeout = absl::Seconds(10);

constexpr TransportSpec kFifoSpec = {
    .name = "fifo",
    .description = "named pipe (mkfifo) in the scratch directory, opened by path",
    .caps = Named(kPipeCaps)};

// The read end. A FIFO read returns 0 both when every writer has closed and
// when no writer has opened it yet since this reader did; only the first is
// the end of the stream. The kernel tells them apart in poll(2): POLLHUP is
// reported only once a writer has come and gone.
class FifoReaderEnd : public FdEnd {
 public:
  explicit FifoReaderEnd(FileDescriptor fd)
      : FdEnd(std::move(fd), Io::kReadWrite, Framing::kStream) {}

 protected:
  ssize_t RecvOnce(std::byte* p, size_t cap, bool* end) override {
    const ssize_t n = FdEnd::RecvOnce(p, cap, end);
    if (!*end) return n;
    struct pollfd pfd = {fd(), POLLIN, 0};
    if (::poll(&pfd, 1, 0) < 0) return -errno;
    *end = (pfd.revents & POLLHUP) != 0;
    return *end ? 0 : -EAGAIN;
  }
};

class FifoChannel : public Channel {
 public:
  explicit FifoChannel(std::string path) : path_(std::move(path)) {}

  absl::StatusOr<std::unique_ptr<End>> Open(Role role) override {
    if (role == Role::kReader) {
      FileDescriptor fd(::open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
      if (!fd) return ErrnoStatus("open(O_RDONLY)", path_);
      return std::make_unique<FifoReaderEnd>(std::move(fd));
    }
    absl::StatusOr<FileDescriptor> fd = OpenWriter();
    if (!fd.ok()) return fd.status();
    return std::make_unique<FdEnd>(*std::move(fd), FdEnd::Io::kReadWrite, Framing::kStream);
  }
  void Detach() override {}
  absl::Status Destroy() override {
    if (::unlink(path_.c_str()) != 0) return ErrnoStatus("unlink", path_);
    return absl::OkStatus();
  }

 private:
  absl::StatusOr<FileDescriptor> OpenWriter() const {
    // With a reader there already (always in one process), no watch: closing
    // an inotify instance waits for an RCU grace period, milliseconds.
    FileDescriptor first(::open(path_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
    if (first) return first;
    if (errno != ENXIO) return ErrnoStatus("open(O_WRONLY)", path_);
    // The watch is in place before the next attempt, so a reader that opens
    // between a failed attempt and the wait still wakes us.
    FileDescriptor in(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    if (!in) return ErrnoStatus("inotify_init1", path_);
    if (::inotify_add_watch(in.get(), path_.c_str(), IN_OPEN) < 0) {
      return ErrnoStatus("inotify_add_watch", path_);
    }
    const Deadline deadline = Deadline::After(kRendezvousTimeout);
    for (;;) {
      FileDescriptor fd(::open(path_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
      if (fd) return fd;
      if (errno != ENXIO) return ErrnoStatus("open(O_WRONLY)", path_);
      int ready = PollOne(in.get(), POLLIN, deadline);
      if (ready < 0) return ErrnoStatus("poll(inotify)", path_, -ready);
      if (ready == 0) {
        return absl::DeadlineExceededError(
            absl::StrFormat("open(O_WRONLY)(%s): no reader opened the FIFO within %s", path_,
                            absl::FormatDuration(kRendezvousTimeout)));
      }
      alignas(struct inotify_event) char events[4096];
      while (::read(in.get(), events, sizeof(events)) > 0) {
      }
    }
  }

  std::string path_;
};

class FifoTransport : public TransportBase {
 public:
  FifoTransport() : TransportBase(kFifoSpec) {}
  absl::StatusOr<std::unique_ptr<Channel>> Create(const std::string& scratch_dir) const override {
    std::string path = UniqueName(scratch_dir + "/fifo");
    if (::mkfifo(path.c_str(), 0600) != 0) return ErrnoStatus("mkfifo", path);
    return std::make_unique<FifoChannel>(std::move(path));
  }
};

IPCSPEC_REGISTER_TRANSPORT(FifoTransport);

}  // namespace
}  // namespace ipcspec
