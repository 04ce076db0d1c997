// transports/fd_end.h: an End over one non-blocking descriptor, for every
// transport whose kernel object is a file descriptor (pipe, FIFO, sockets,
// eventfd, POSIX mq). It turns the ABI's timeout_ms into poll(2) waits and
// passes the kernel's errno through untouched, so a refused call (write on a
// read end) is refused by the kernel, not by this class.
//
//   FileDescriptor fd(dup(pipe_read_fd));
//   auto end = std::make_unique<FdEnd>(std::move(fd), FdEnd::Io::kReadWrite,
//                                      Framing::kStream, "pipe");
#ifndef IPCSPEC_TRANSPORTS_FD_END_H_
#define IPCSPEC_TRANSPORTS_FD_END_H_

#include <string>

#include "ipcspec/transport.h"
#include "ipcspec/util.h"

namespace ipcspec {

class FdEnd : public End {
 public:
  // How bytes move: read/write, send/recv with MSG_NOSIGNAL, or mq_send /
  // mq_receive on a message-queue descriptor.
  enum class Io { kReadWrite, kSocket, kMqueue };

  FdEnd(FileDescriptor fd, Io io, Framing framing)
      : fd_(std::move(fd)), io_(io), framing_(framing) {}

  int Send(std::span<const std::byte> buf, size_t* sent, int timeout_ms) override;
  int Recv(std::span<std::byte> buf, size_t* received, int timeout_ms) override;

  int fd() const { return fd_.get(); }

 protected:
  // One kernel call; returns bytes moved or -errno. A zero return from
  // RecvOnce means end of stream for kStream and an empty message otherwise.
  virtual ssize_t SendOnce(const std::byte* p, size_t len);
  virtual ssize_t RecvOnce(std::byte* p, size_t cap);
  // Receive found 0 bytes on a message transport: end of stream or an empty
  // message? Default: an empty message.
  virtual bool ZeroMeansEnd() const { return framing_ == Framing::kStream; }

 private:
  FileDescriptor fd_;
  Io io_;
  Framing framing_;
};

}  // namespace ipcspec

#endif  // IPCSPEC_TRANSPORTS_FD_END_H_
