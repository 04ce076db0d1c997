#include "ipcspec/util.h"

#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <random>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace ipcspec {

std::string ErrnoName(int err) {
  const char* name = strerrorname_np(err);
  return name != nullptr ? std::string(name) : absl::StrCat("errno ", err);
}

std::string ByteCount(uint64_t n) { return absl::StrCat(n, n == 1 ? " byte" : " bytes"); }

absl::Status ErrnoStatus(std::string_view call, std::string_view object, int err) {
  return absl::Status(absl::ErrnoToStatusCode(err),
                      absl::StrFormat("%s(%s): %s (%s)", call, object, ErrnoName(err),
                                      strerrordesc_np(err) ? strerrordesc_np(err) : "?"));
}

void FileDescriptor::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

Deadline Deadline::FromTimeoutMs(int timeout_ms) {
  if (timeout_ms < 0) return Infinite();
  return After(absl::Milliseconds(timeout_ms));
}

int Deadline::RemainingMs() const {
  if (infinite()) return -1;
  absl::Duration left = when_ - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(std::ceil(absl::ToDoubleMilliseconds(left)));
}

int PollOne(int fd, short events, const Deadline& deadline) {
  for (;;) {
    struct pollfd p = {fd, events, 0};
    int r = ::poll(&p, 1, deadline.RemainingMs());
    if (r > 0) return p.revents;
    if (r == 0) {
      if (deadline.Passed()) return 0;
      continue;
    }
    if (errno != EINTR) return -errno;
  }
}

namespace {
uint32_t g_name_tag = 0;
}  // namespace

uint32_t OsRandom32() {
  uint32_t r = 0;
  while (::getrandom(&r, sizeof r, 0) != static_cast<ssize_t>(sizeof r)) {
    if (errno != EINTR) {
      // No getrandom (a seccomp filter, say): a per-call seed still differs
      // between forked processes.
      absl::BitGen gen(std::seed_seq{static_cast<uint32_t>(::getpid()),
                                     static_cast<uint32_t>(absl::GetCurrentTimeNanos())});
      return absl::Uniform<uint32_t>(gen);
    }
  }
  return r;
}

uint32_t NameTag() {
  if (g_name_tag == 0) g_name_tag = OsRandom32() | 1;
  return g_name_tag;
}

void SetNameTag(uint32_t tag) { g_name_tag = tag; }

std::string TempRoot() {
  const char* t = std::getenv("TMPDIR");
  return (t != nullptr && *t != '\0') ? t : "/tmp";
}

std::string MakeTempDir(std::string_view stem, mode_t mode) {
  return MakeTempDirIn(TempRoot(), stem, mode);
}

std::string MakeTempDirIn(std::string_view dir, std::string_view stem, mode_t mode) {
  std::string path = absl::StrCat(std::string(dir), "/", std::string(stem), "-XXXXXX");
  if (::mkdtemp(path.data()) == nullptr) return "";
  ::chmod(path.c_str(), mode);
  return path;
}

std::string SearchableTempRoot() {
  const std::string root = TempRoot();
  for (size_t end = 0; end != std::string::npos;) {
    end = root.find('/', end + 1);
    const std::string dir = end == std::string::npos ? root : root.substr(0, end);
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0 || (st.st_mode & S_IXOTH) == 0) return "/tmp";
  }
  return root;
}

std::string UniqueName(std::string_view prefix) {
  // absl::BitGen would repeat in two processes forked from one: its pool is
  // seeded once per process (G-INDEPENDENT's channels made apart found it).
  return absl::StrFormat("%s-%08x%08x", prefix, NameTag(), OsRandom32());
}

bool CarriesNameTag(std::string_view name, uint32_t tag) {
  return tag != 0 && name.find(absl::StrFormat("-%08x", tag)) != std::string_view::npos;
}

int WriteFull(int fd, const void* buf, size_t len) {
  auto* p = static_cast<const char*>(buf);
  while (len > 0) {
    ssize_t n = ::write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
  return 0;
}

int ReadFull(int fd, void* buf, size_t len) {
  auto* p = static_cast<char*>(buf);
  while (len > 0) {
    ssize_t n = ::read(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) return -EPIPE;
    p += n;
    len -= static_cast<size_t>(n);
  }
  return 0;
}

int SetNonBlocking(int fd, bool on) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return -errno;
  flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  return ::fcntl(fd, F_SETFL, flags) < 0 ? -errno : 0;
}

}  // namespace ipcspec
