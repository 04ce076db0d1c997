#include "transports/fd_end.h"

#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

namespace ipcspec {
namespace {

#ifndef RWF_NOSIGNAL
#define RWF_NOSIGNAL 0x00000100  // Linux 6.18, include/uapi/linux/fs.h
#endif

// write(2) that raises no SIGPIPE, as a send with MSG_NOSIGNAL.
// First as pwritev2(RWF_NOSIGNAL) at the current position: one call. Not
// for 0 bytes, which a vectored write returns at once, where write(2) asks
// the file (an eventfd refuses it with EINVAL). Where
// the kernel or the file does not take the flag (EOPNOTSUPP), *flag_taken is
// cleared and this call and the later ones block SIGPIPE around a write(2),
// taking back the one a pipe without readers raises. One already pending in
// a mask that blocked it cannot be told from this one; it stays, as it would
// have.
ssize_t WriteWithoutSigpipe(int fd, const std::byte* p, size_t len, bool* flag_taken) {
  if (*flag_taken && len > 0) {
    const iovec piece{const_cast<std::byte*>(p), len};
    const ssize_t n = ::pwritev2(fd, &piece, 1, -1, RWF_NOSIGNAL);
    if (n >= 0 || errno != EOPNOTSUPP) return n;
    *flag_taken = false;
  }
  sigset_t pipe_only, before, pending;
  ::sigemptyset(&pipe_only);
  ::sigaddset(&pipe_only, SIGPIPE);
  ::pthread_sigmask(SIG_BLOCK, &pipe_only, &before);
  const bool was_blocked = ::sigismember(&before, SIGPIPE) == 1;
  // Unblocked, a pending SIGPIPE would have been delivered already.
  const bool was_pending =
      was_blocked && ::sigpending(&pending) == 0 && ::sigismember(&pending, SIGPIPE) == 1;
  const ssize_t n = ::write(fd, p, len);
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

}  // namespace

ssize_t FdEnd::SendOnce(const std::byte* p, size_t len, const Deadline&) {
  ssize_t n;
  switch (io_) {
    case Io::kSocket:
      n = ::send(fd_.get(), p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
      break;
    case Io::kMqueue:
      n = ::mq_send(fd_.get(), reinterpret_cast<const char*>(p), len, 0) == 0
              ? static_cast<ssize_t>(len)
              : -1;
      break;
    default:
      n = WriteWithoutSigpipe(fd_.get(), p, len, &nosignal_flag_);
  }
  return n < 0 ? -errno : n;
}

ssize_t FdEnd::RecvOnce(std::byte* p, size_t cap, bool* end) {
  ssize_t n;
  switch (io_) {
    case Io::kSocket:
      n = ::recv(fd_.get(), p, cap, MSG_DONTWAIT);
      break;
    case Io::kMqueue:
      n = ::mq_receive(fd_.get(), reinterpret_cast<char*>(p), cap, nullptr);
      break;
    default:
      n = ::read(fd_.get(), p, cap);
  }
  if (n < 0) return -errno;
  *end = n == 0 && framing_ == Framing::kStream;
  return n;
}

int FdEnd::AwaitReady(short events, const Deadline& deadline) {
  return PollOne(fd_.get(), events, deadline);
}

int FdEnd::Send(std::span<const std::byte> buf, size_t* sent, int timeout_ms) {
  *sent = 0;
  if (max_message_ > 0 && buf.size() > max_message_) return -EMSGSIZE;
  const Deadline deadline = Deadline::FromTimeoutMs(timeout_ms);
  if (int rc = Prepare(true, timeout_ms, deadline); rc != 0) return rc;
  static constexpr std::byte kNothing{};
  const std::byte* const data = buf.empty() ? &kNothing : buf.data();
  for (;;) {
    const ssize_t n = SendOnce(data + *sent, buf.size() - *sent, deadline);
    if (n >= 0) {
      *sent += static_cast<size_t>(n);
      if (framing_ == Framing::kMessage || *sent == buf.size()) return 0;
      continue;
    }
    if (n == -EINTR) continue;
    if (n != -EAGAIN) return *sent > 0 ? 0 : static_cast<int>(n);
    if (timeout_ms == 0) return *sent > 0 ? 0 : -EAGAIN;
    const int ready = AwaitReady(POLLOUT, deadline);
    if (ready < 0) return *sent > 0 ? 0 : ready;
    if (ready == 0) return *sent > 0 ? 0 : -ETIMEDOUT;
  }
}

int FdEnd::Recv(std::span<std::byte> buf, size_t* received, int timeout_ms) {
  *received = 0;
  const Deadline deadline = Deadline::FromTimeoutMs(timeout_ms);
  if (int rc = Prepare(false, timeout_ms, deadline); rc != 0) return rc;
  std::byte nothing;
  // read(2) of 0 bytes returns 0 whatever is queued: not the end. It still
  // asks the kernel, which refuses it on an end opened for writing only
  // (-EBADF, as any receive there).
  if (framing_ == Framing::kStream && buf.empty()) {
    return ::read(fd_.get(), &nothing, 0) < 0 ? -errno : 0;
  }
  std::byte* const data = buf.empty() ? &nothing : buf.data();
  for (;;) {
    bool end = false;
    const ssize_t n = RecvOnce(data, buf.size(), &end);
    if (end) return kEnd;
    if (n >= 0) {
      *received = static_cast<size_t>(n);
      return 0;
    }
    if (n == -EINTR) continue;
    if (n != -EAGAIN) return static_cast<int>(n);
    if (timeout_ms == 0) return -EAGAIN;
    const int ready = AwaitReady(POLLIN, deadline);
    if (ready < 0) return ready;
    if (ready == 0) return -ETIMEDOUT;
  }
}

absl::StatusOr<FileDescriptor> DupHeld(const FileDescriptor& fd, std::string_view what) {
  if (!fd) return absl::FailedPreconditionError(std::string(what) + ": open() after detach()");
  FileDescriptor copy(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 0));
  if (!copy) return ErrnoStatus("fcntl(F_DUPFD_CLOEXEC)", what);
  return copy;
}

}  // namespace ipcspec
