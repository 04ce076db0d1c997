// transports/fd_end.h: the one send/receive loop of every End whose kernel
// object is a file descriptor (pipe, FIFO, file, eventfd, POSIX mq, every
// socket). It turns the ABI's timeout_ms into waits for readiness and passes
// the kernel's errno through untouched, so a refused call (write on a read
// end) is refused by the kernel, not by this class.
//
//   absl::StatusOr<FileDescriptor> fd = DupHeld(pipe_read_fd, "pipe");
//   auto end = std::make_unique<FdEnd>(*std::move(fd), FdEnd::Io::kReadWrite,
//                                      Framing::kStream);
//
// A variant overrides only the step that differs: one kernel call
// (SendOnce / RecvOnce), what happens before the first one (Prepare: accept
// a connection, refuse after the peer left) or how to wait for readiness
// (AwaitReady: poll another descriptor). Send and Recv themselves, with their
// EINTR, EAGAIN, partial-send and deadline rules, exist once, here.
#ifndef IPCSPEC_TRANSPORTS_FD_END_H_
#define IPCSPEC_TRANSPORTS_FD_END_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "ipcspec/transport.h"
#include "ipcspec/util.h"

namespace ipcspec {

class FdEnd : public End {
 public:
  // How bytes move: read/write, send/recv with MSG_NOSIGNAL, or mq_send /
  // mq_receive on a message-queue descriptor.
  enum class Io { kReadWrite, kSocket, kMqueue };

  // max_message > 0: a larger Send gives -EMSGSIZE and moves nothing.
  FdEnd(FileDescriptor fd, Io io, Framing framing, uint64_t max_message = 0)
      : fd_(std::move(fd)), io_(io), framing_(framing), max_message_(max_message) {}

  // A message goes in one piece; a stream send runs until all is written
  // (as a blocking write(2) does) unless it may not block any more: then the
  // count comes first and the error with the next call.
  int Send(std::span<const std::byte> buf, size_t* sent, int timeout_ms) final;
  // One message, or what a stream has now (at least one byte); kEnd at the
  // end of the stream. A stream receive into no room returns 0 bytes at once.
  int Recv(std::span<std::byte> buf, size_t* received, int timeout_ms) final;

 protected:
  int fd() const { return fd_.get(); }
  void set_fd(FileDescriptor fd) { fd_ = std::move(fd); }
  Framing framing() const { return framing_; }

  // Runs before the first kernel call of a Send (sending) or Recv: 0 to go
  // on, else the call's result.
  virtual int Prepare(bool /*sending*/, int /*timeout_ms*/, const Deadline& /*deadline*/) {
    return 0;
  }
  // One kernel call that does not block; bytes moved or -errno. `p` is never
  // null, even for an empty buffer (libc declares these pointers nonnull).
  virtual ssize_t SendOnce(const std::byte* p, size_t len, const Deadline& deadline);
  // Bytes of one message or chunk, or -errno; sets *end at end of stream. By
  // default 0 bytes is the end of a stream and an empty message otherwise.
  virtual ssize_t RecvOnce(std::byte* p, size_t cap, bool* end);
  // Waits until the descriptor is ready for `events` (POLLIN / POLLOUT) or
  // the deadline: > 0 ready, 0 at the deadline, -errno.
  virtual int AwaitReady(short events, const Deadline& deadline);

 private:
  FileDescriptor fd_;
  Io io_;
  Framing framing_;
  uint64_t max_message_;
  // Whether write(2)s go as pwritev2(RWF_NOSIGNAL): until the first
  // EOPNOTSUPP (a kernel before 6.18, or a file that does not take it).
  bool nosignal_flag_ = true;
};

// A close-on-exec dup of a descriptor a channel holds, for a new End;
// FailedPrecondition ("pipe: open() after detach()") once Detach() dropped it.
absl::StatusOr<FileDescriptor> DupHeld(const FileDescriptor& fd, std::string_view what);

}  // namespace ipcspec

#endif  // IPCSPEC_TRANSPORTS_FD_END_H_
