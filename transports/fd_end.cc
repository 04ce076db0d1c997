#include "transports/fd_end.h"

#include <mqueue.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace ipcspec {

ssize_t FdEnd::SendOnce(const std::byte* p, size_t len) {
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
      n = ::write(fd_.get(), p, len);
  }
  return n < 0 ? -errno : n;
}

ssize_t FdEnd::RecvOnce(std::byte* p, size_t cap) {
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
  return n < 0 ? -errno : n;
}

int FdEnd::Send(std::span<const std::byte> buf, size_t* sent, int timeout_ms) {
  *sent = 0;
  const Deadline deadline = Deadline::FromTimeoutMs(timeout_ms);
  for (;;) {
    ssize_t n = SendOnce(buf.data() + *sent, buf.size() - *sent);
    if (n >= 0) {
      *sent += static_cast<size_t>(n);
      // A message goes in one piece; a stream send runs until all is written
      // (as a blocking write(2) does) unless it may not block.
      if (framing_ == Framing::kMessage || *sent == buf.size()) return 0;
      continue;
    }
    if (n == -EINTR) continue;
    if (n != -EAGAIN) return *sent > 0 ? 0 : static_cast<int>(n);
    if (timeout_ms == 0) return *sent > 0 ? 0 : -EAGAIN;
    int ready = PollOne(fd_.get(), POLLOUT, deadline);
    if (ready < 0) return *sent > 0 ? 0 : ready;
    if (ready == 0) return *sent > 0 ? 0 : -ETIMEDOUT;
  }
}

int FdEnd::Recv(std::span<std::byte> buf, size_t* received, int timeout_ms) {
  *received = 0;
  const Deadline deadline = Deadline::FromTimeoutMs(timeout_ms);
  for (;;) {
    ssize_t n = RecvOnce(buf.data(), buf.size());
    if (n > 0) {
      *received = static_cast<size_t>(n);
      return 0;
    }
    if (n == 0) return ZeroMeansEnd() ? kEnd : 0;
    if (n == -EINTR) continue;
    if (n != -EAGAIN) return static_cast<int>(n);
    if (timeout_ms == 0) return -EAGAIN;
    int ready = PollOne(fd_.get(), POLLIN, deadline);
    if (ready < 0) return ready;
    if (ready == 0) return -ETIMEDOUT;
  }
}

}  // namespace ipcspec
