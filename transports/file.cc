// file: a regular file in the scratch directory, mode 0600. Writers append
// (O_WRONLY|O_APPEND); the reader (O_RDONLY) reads from its own offset and,
// at the end of the data, waits on an inotify watch on the file for
// IN_MODIFY / IN_CLOSE_WRITE. The open modes make the kernel refuse the wrong
// direction with EBADF.
//
// Peer close lives in a one-page control file beside the data file
// ("<name>.ctl", mapped MAP_SHARED, so an unrelated process reaches it by
// name too): writers opened / writers closed / reader closed. A writer counts
// itself closed before it closes its descriptor, whose IN_CLOSE_WRITE wakes
// the reader; the reader reports the end once it has read everything and
// every writer that opened has closed. A writer's Send fails with EPIPE once
// the reader closed. A writer killed without closing its End is never
// counted as closed: the reader then times out instead of seeing the end.
#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>

#include "absl/cleanup/cleanup.h"
#include "ipcspec/registry.h"
#include "ipcspec/util.h"
#include "transports/fd_end.h"
#include "transports/transport_base.h"

namespace ipcspec {
namespace {

struct Control {
  std::atomic<uint32_t> writers_opened;
  std::atomic<uint32_t> writers_closed;
  std::atomic<uint32_t> reader_closed;
};
static_assert(std::atomic<uint32_t>::is_always_lock_free);
constexpr size_t kControlSize = 4096;

// A killed writer is never counted closed (see above). A file never fills
// up, so no send blocks: no capacity to declare. Linux holds the inode lock
// across one write(2) to a regular file, so O_APPEND writes land whole and
// never interleave; a page is a conservative bound that holds on every local
// file system.
constexpr TransportSpec kFileSpec = {
    .name = "file",
    .description = "regular file: O_APPEND writers, a reader following it with inotify",
    .caps = {.multi_writer = true,
             .peer_close = true,
             .end_on_death = false,
             .named = true,
             .atomic_write = 4096,
             .realtime = false}};

// The control page, unmapped when the last holder lets go.
class ControlMap {
 public:
  static absl::StatusOr<std::shared_ptr<ControlMap>> Map(const std::string& path, bool create) {
    FileDescriptor fd(
        ::open(path.c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0), 0600));
    if (!fd) return ErrnoStatus("open", path);
    absl::Cleanup remove = [&] {
      if (create) ::unlink(path.c_str());
    };
    if (create && ::ftruncate(fd.get(), kControlSize) != 0) return ErrnoStatus("ftruncate", path);
    void* p = ::mmap(nullptr, kControlSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    if (p == MAP_FAILED) return ErrnoStatus("mmap", path);
    std::move(remove).Cancel();
    return std::shared_ptr<ControlMap>(new ControlMap(p));
  }
  ~ControlMap() { ::munmap(addr_, kControlSize); }
  Control* get() const { return static_cast<Control*>(addr_); }

 private:
  explicit ControlMap(void* addr) : addr_(addr) {}
  void* addr_;
};

// A writer appends with write(2); the reader reads from its offset and, at
// the end of the data, waits on its inotify watch instead of the descriptor
// (a regular file is always "ready").
class FileEnd : public FdEnd {
 public:
  FileEnd(Role role, FileDescriptor fd, FileDescriptor inotify, std::shared_ptr<ControlMap> ctl)
      : FdEnd(std::move(fd), Io::kReadWrite, Framing::kStream),
        role_(role),
        inotify_(std::move(inotify)),
        ctl_(std::move(ctl)) {}
  ~FileEnd() override {
    if (role_ == Role::kReader) {
      ctl_->get()->reader_closed.store(1);
    } else {
      // Counted before the descriptor closes, so the IN_CLOSE_WRITE that
      // wakes the reader finds the count already raised.
      ctl_->get()->writers_closed.fetch_add(1);
    }
  }

 protected:
  int Prepare(bool sending, int, const Deadline&) override {
    if (sending && role_ == Role::kWriter && ctl_->get()->reader_closed.load() != 0) return -EPIPE;
    return 0;
  }
  ssize_t RecvOnce(std::byte* p, size_t cap, bool* end) override {
    // Read the counts before the data: a writer's data is in the file
    // before it counts itself closed.
    const Control& c = *ctl_->get();
    const uint32_t opened = c.writers_opened.load();
    const bool all_closed = opened > 0 && c.writers_closed.load() >= opened;
    const ssize_t n = FdEnd::RecvOnce(p, cap, end);
    if (!*end) return n;
    *end = all_closed;
    return all_closed ? 0 : -EAGAIN;
  }
  int AwaitReady(short, const Deadline& deadline) override {
    const int ready = PollOne(inotify_.get(), POLLIN, deadline);
    alignas(struct inotify_event) char events[4096];
    while (ready > 0 && ::read(inotify_.get(), events, sizeof(events)) > 0) {
    }
    return ready;
  }

 private:
  Role role_;
  FileDescriptor inotify_;  // the reader's watch on the data file
  std::shared_ptr<ControlMap> ctl_;
};

class FileChannel : public Channel {
 public:
  FileChannel(std::string path, std::shared_ptr<ControlMap> ctl)
      : path_(std::move(path)), ctl_(std::move(ctl)) {}

  absl::StatusOr<std::unique_ptr<End>> Open(Role role) override {
    if (ctl_ == nullptr) {
      absl::StatusOr<std::shared_ptr<ControlMap>> ctl = ControlMap::Map(ControlPath(), false);
      if (!ctl.ok()) return ctl.status();
      ctl_ = *std::move(ctl);
    }
    if (role == Role::kWriter) {
      FileDescriptor fd(::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
      if (!fd) return ErrnoStatus("open(O_WRONLY|O_APPEND)", path_);
      ctl_->get()->writers_opened.fetch_add(1);
      return std::make_unique<FileEnd>(role, std::move(fd), FileDescriptor(), ctl_);
    }
    // The watch exists before the first read, so no append after it is missed.
    FileDescriptor in(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    if (!in) return ErrnoStatus("inotify_init1", path_);
    if (::inotify_add_watch(in.get(), path_.c_str(), IN_MODIFY | IN_CLOSE_WRITE) < 0) {
      return ErrnoStatus("inotify_add_watch", path_);
    }
    FileDescriptor fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return ErrnoStatus("open(O_RDONLY)", path_);
    return std::make_unique<FileEnd>(role, std::move(fd), std::move(in), ctl_);
  }
  void Detach() override { ctl_.reset(); }
  absl::Status Destroy() override {
    absl::Status status;
    for (const std::string& p : {path_, ControlPath()}) {
      if (::unlink(p.c_str()) != 0) status.Update(ErrnoStatus("unlink", p));
    }
    return status;
  }

 private:
  std::string ControlPath() const { return path_ + ".ctl"; }

  std::string path_;
  std::shared_ptr<ControlMap> ctl_;
};

class FileTransport : public TransportBase {
 public:
  FileTransport() : TransportBase(kFileSpec) {}
  absl::StatusOr<std::unique_ptr<Channel>> Create(const std::string& scratch_dir) const override {
    std::string path = UniqueName(scratch_dir + "/file");
    FileDescriptor fd(::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600));
    if (!fd) return ErrnoStatus("open(O_CREAT|O_EXCL)", path);
    absl::Cleanup unlink_data = [&path] { ::unlink(path.c_str()); };
    absl::StatusOr<std::shared_ptr<ControlMap>> ctl = ControlMap::Map(path + ".ctl", true);
    if (!ctl.ok()) return ctl.status();
    std::move(unlink_data).Cancel();
    return std::make_unique<FileChannel>(std::move(path), *std::move(ctl));
  }
};

IPCSPEC_REGISTER_TRANSPORT(FileTransport);

}  // namespace
}  // namespace ipcspec
