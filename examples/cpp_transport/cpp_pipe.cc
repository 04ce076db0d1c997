// cpp_pipe: a transport written in C++, tested by ipcspec through the C
// plugin ABI. The transport is ordinary C++ (RAII descriptors, classes,
// exceptions); a few extern "C" functions at the bottom turn it into the
// ipcspec_transport table that `ipcspec run --plugin=...` loads. This is the
// whole C++ route: ipcspec tests every transport, C or C++, as a plugin.
//
// The transport itself is a byte stream over an anonymous pipe.
#include <fcntl.h>
#include <ipcspec/plugin.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

namespace cpp_pipe {

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    reset(o.release());
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

// Waits for `events` until the ABI's timeout: -1 forever, 0 never, >0 ms.
// Returns 0 when ready, else -EAGAIN, -ETIMEDOUT or -errno.
int Wait(int fd, short events, int timeout_ms) {
  if (timeout_ms == 0) return -EAGAIN;
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    int ms = -1;
    if (timeout_ms > 0) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return -ETIMEDOUT;
      ms = static_cast<int>(left.count());
    }
    pollfd p = {fd, events, 0};
    const int n = ::poll(&p, 1, ms);
    if (n > 0) return 0;
    if (n < 0 && errno != EINTR) return -errno;
  }
}

// write(2) that raises no SIGPIPE, which would kill a program that keeps
// SIGPIPE's default action when the reader has gone: blocked for the call,
// and the one a pipe without readers raises taken back (unless one was
// pending before; it stays, as it would have).
ssize_t WriteWithoutSigpipe(int fd, const void* buf, size_t len) {
  sigset_t pipe_only, before, pending;
  ::sigemptyset(&pipe_only);
  ::sigaddset(&pipe_only, SIGPIPE);
  ::pthread_sigmask(SIG_BLOCK, &pipe_only, &before);
  const bool was_blocked = ::sigismember(&before, SIGPIPE) == 1;
  const bool was_pending =
      was_blocked && ::sigpending(&pending) == 0 && ::sigismember(&pending, SIGPIPE) == 1;
  const ssize_t n = ::write(fd, buf, len);
  const int err = errno;
  if (n < 0 && err == EPIPE && !was_pending) {
    static constexpr timespec kNow{};
    while (::sigtimedwait(&pipe_only, nullptr, &kNow) < 0 && errno == EINTR) {
    }
  }
  if (!was_blocked) ::pthread_sigmask(SIG_UNBLOCK, &pipe_only, nullptr);
  errno = err;
  return n;
}

class End {
 public:
  End(Fd fd, int role) : fd_(std::move(fd)), role_(role) {}
  int Send(const void* buf, size_t len, size_t* sent, int timeout_ms) {
    if (role_ != IPCSPEC_WRITER) return -EBADF;
    for (;;) {
      const ssize_t n = WriteWithoutSigpipe(fd_.get(), buf, len);
      if (n >= 0) {
        *sent = static_cast<size_t>(n);  // a stream may take part of the buffer
        return 0;
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return -errno;
      if (int w = Wait(fd_.get(), POLLOUT, timeout_ms); w != 0) return w;
    }
  }
  int Recv(void* buf, size_t cap, size_t* received, int timeout_ms) {
    if (role_ != IPCSPEC_READER) return -EBADF;
    for (;;) {
      const ssize_t n = ::read(fd_.get(), buf, cap);
      if (n > 0) {
        *received = static_cast<size_t>(n);
        return 0;
      }
      if (n == 0) return cap == 0 ? 0 : IPCSPEC_END;
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return -errno;
      if (int w = Wait(fd_.get(), POLLIN, timeout_ms); w != 0) return w;
    }
  }

 private:
  Fd fd_;
  int role_;
};

class Channel {
 public:
  Channel() {
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
      throw std::system_error(errno, std::generic_category(), "pipe2");
    }
    ends_[0].reset(fds[0]);
    ends_[1].reset(fds[1]);
  }
  std::unique_ptr<End> Open(int role) {
    if (role != IPCSPEC_READER && role != IPCSPEC_WRITER) throw std::invalid_argument("bad role");
    const int src = ends_[role == IPCSPEC_READER ? 0 : 1].get();
    if (src < 0) throw std::logic_error("open() after detach()");
    Fd dup(::fcntl(src, F_DUPFD_CLOEXEC, 0));
    if (dup.get() < 0) throw std::system_error(errno, std::generic_category(), "fcntl");
    return std::make_unique<End>(std::move(dup), role);
  }
  void Detach() {
    ends_[0].reset();
    ends_[1].reset();
  }

 private:
  Fd ends_[2];
};

// The C ABI over the classes above. No exception may cross into ipcspec:
// each one becomes the ABI's NULL + message.
extern "C" {

static void Fail(const std::exception& e, char* err, size_t err_len) {
  if (err != nullptr && err_len > 0) std::snprintf(err, err_len, "%s", e.what());
}

static void* ChannelCreate(const char*, char* err, size_t err_len) {
  try {
    return new Channel();
  } catch (const std::exception& e) {
    Fail(e, err, err_len);
    return nullptr;
  }
}

static void* ChannelOpen(void* ch, int role, char* err, size_t err_len) {
  try {
    return static_cast<Channel*>(ch)->Open(role).release();
  } catch (const std::exception& e) {
    Fail(e, err, err_len);
    return nullptr;
  }
}

static void ChannelDetach(void* ch) { static_cast<Channel*>(ch)->Detach(); }

static int EndSend(void* end, const void* buf, size_t len, size_t* sent, int timeout_ms) {
  *sent = 0;
  return static_cast<End*>(end)->Send(buf, len, sent, timeout_ms);
}

static int EndRecv(void* end, void* buf, size_t cap, size_t* received, int timeout_ms) {
  *received = 0;
  return static_cast<End*>(end)->Recv(buf, cap, received, timeout_ms);
}

static void EndClose(void* end) { delete static_cast<End*>(end); }

static void ChannelDestroy(void* ch) { delete static_cast<Channel*>(ch); }

static const ipcspec_transport kTransport = {
    IPCSPEC_ABI_VERSION,
    "cpp_pipe",
    {IPCSPEC_STREAM, IPCSPEC_ONE_WAY, IPCSPEC_RELIABLE | IPCSPEC_ORDERED | IPCSPEC_PEER_CLOSE, 0,
     /*max_message=*/0, /*capacity=*/65536, /*atomic_write=*/0, /*max_queued=*/0},
    ChannelCreate,
    ChannelOpen,
    ChannelDetach,
    EndSend,
    EndRecv,
    EndClose,
    ChannelDestroy,
};

__attribute__((visibility("default"))) const ipcspec_transport* ipcspec_transport_v1(void) {
  return &kTransport;
}

}  // extern "C"

}  // namespace cpp_pipe
