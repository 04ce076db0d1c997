// ipcspec/util.h: small RAII and error helpers shared by the harness and the
// transports.
//
//   FileDescriptor fd(open(path, O_RDONLY | O_CLOEXEC));
//   if (!fd) return ErrnoStatus("open", path);     // "open(/tmp/x): ENOENT ..."
//   Deadline d = Deadline::After(absl::Milliseconds(500));
//   int ready = PollOne(fd.get(), POLLIN, d.RemainingMs());
//   std::string name = UniqueName("/ipcspec");     // "/ipcspec-1a2b3c4d5e6f7081"
#ifndef IPCSPEC_UTIL_H_
#define IPCSPEC_UTIL_H_

#include <sys/types.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

// A function left out of the sanitizers' and the fuzzer's instrumentation:
// for loops that only compute bytes or copy counters, where a check or an
// edge would say nothing and cost every fuzz input (the payload pattern, the
// child-coverage copies).
#if defined(__clang__)
#define IPCSPEC_NOT_INSTRUMENTED __attribute__((no_sanitize("address", "undefined", "coverage")))
#else
#define IPCSPEC_NOT_INSTRUMENTED __attribute__((no_sanitize("address", "undefined")))
#endif

namespace ipcspec {

// "EMSGSIZE" for EMSGSIZE; "errno 4242" for unknown values.
std::string ErrnoName(int err);
// "1 byte", "0 bytes", "4096 bytes".
std::string ByteCount(uint64_t n);
// "mq_send(/ipcspec-1a2b): EMSGSIZE (Message too long)", keeping the errno
// in the status code's mapping (absl::ErrnoToStatusCode).
absl::Status ErrnoStatus(std::string_view call, std::string_view object, int err = errno);

// A move-only owned file descriptor. Close() is async-signal-safe, so it may
// be used between fork and _exit.
class FileDescriptor {
 public:
  FileDescriptor() = default;
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(FileDescriptor&& o) noexcept : fd_(o.release()) {}
  FileDescriptor& operator=(FileDescriptor&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// A point in time to wait until; Infinite() never passes.
class Deadline {
 public:
  static Deadline After(absl::Duration d) { return Deadline(absl::Now() + d); }
  static Deadline Infinite() { return Deadline(absl::InfiniteFuture()); }
  // timeout_ms as in the plugin ABI: -1 forever, 0 now, >0 bounded.
  static Deadline FromTimeoutMs(int timeout_ms);
  absl::Time when() const { return when_; }
  bool Passed() const { return absl::Now() >= when_; }
  bool infinite() const { return when_ == absl::InfiniteFuture(); }
  // For poll(2): -1 when infinite, else remaining milliseconds rounded up.
  int RemainingMs() const;

 private:
  explicit Deadline(absl::Time t) : when_(t) {}
  absl::Time when_;
};

// poll(2) on one descriptor until `events` or the deadline, retrying EINTR.
// Returns the revents (0 on timeout) or -errno.
int PollOne(int fd, short events, const Deadline& deadline);

// "<prefix>-<16 hex digits>", unique per call across processes: the first 8
// are this process's name tag, the last 8 random. The sandbox gives each case
// its own tag, so that without a private namespace the names a case made
// (and left behind) can be told from everyone else's.
std::string UniqueName(std::string_view prefix);
uint32_t NameTag();
// 32 bits from the kernel (getrandom(2)). Unlike a generator seeded once per
// process, two processes forked from one never draw the same sequence.
uint32_t OsRandom32();
void SetNameTag(uint32_t tag);
// Whether `name` holds "-<tag as 8 hex digits>" (a UniqueName of that tag).
bool CarriesNameTag(std::string_view name, uint32_t tag);

// $TMPDIR, or /tmp when it is unset or empty: where the harness makes its
// private directories and files.
std::string TempRoot();
// A fresh directory "<TempRoot()>/<stem>-XXXXXX" with `mode`, or "" (errno
// says why).
std::string MakeTempDir(std::string_view stem, mode_t mode = 0700);
// The same in `dir`.
std::string MakeTempDirIn(std::string_view dir, std::string_view stem, mode_t mode = 0700);
// TempRoot() when anyone may search every directory on its path, else /tmp:
// where a directory goes that a case running as a user of its own must
// reach (TMPDIR may be a private 0700 directory).
std::string SearchableTempRoot();

// Writes / reads exactly len bytes, retrying EINTR and short transfers.
// Return 0 or -errno; ReadFull returns -EPIPE on a premature end of file.
int WriteFull(int fd, const void* buf, size_t len);
int ReadFull(int fd, void* buf, size_t len);

// Sets or clears O_NONBLOCK. Returns 0 or -errno.
int SetNonBlocking(int fd, bool on);

// At least `size` bytes, kept from call to call on this thread, one buffer
// per Tag: not zeroed, and not made anew per call (a fresh megabyte per
// receive is a page fault per page, and most of a short call's time).
//   std::byte* buf = ThreadBuffer<struct MyTag>(cap);
template <typename Tag>
std::byte* ThreadBuffer(size_t size) {
  thread_local std::unique_ptr<std::byte[]> buf;
  thread_local size_t have = 0;
  if (have < size) {
    buf = std::make_unique_for_overwrite<std::byte[]>(size);
    have = size;
  }
  return buf.get();
}

}  // namespace ipcspec

#endif  // IPCSPEC_UTIL_H_
