#include "fuzz/fuzz_leftovers.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "ipcspec/util.h"

namespace ipcspec {
namespace {

// This process's end of the datagram socket that carries paths to the
// cleaner, or -1 without one.
int g_to_cleaner = -1;

// Everything below runs in the cleaner, a child of a process that may have
// had threads: system calls only, no allocation, no locks.

// Removes what is inside the open directory `dir`, depth first.
void EmptyDir(int dir, int depth) {
  if (depth > 64) return;
  alignas(8) char buf[4096];
  for (bool removed = true; removed;) {
    removed = false;
    ::lseek(dir, 0, SEEK_SET);
    for (;;) {
      const long n = ::syscall(SYS_getdents64, dir, buf, sizeof buf);
      if (n <= 0) break;
      for (long off = 0; off < n;) {
        // struct linux_dirent64: ino (8), off (8), reclen (2), type (1), name.
        uint16_t reclen;
        std::memcpy(&reclen, buf + off + 16, sizeof reclen);
        const unsigned char type = static_cast<unsigned char>(buf[off + 18]);
        const char* name = buf + off + 19;
        off += reclen;
        if (std::strcmp(name, ".") == 0 || std::strcmp(name, "..") == 0) continue;
        if (type != DT_DIR && ::unlinkat(dir, name, 0) == 0) {
          removed = true;
          continue;
        }
        const int sub = ::openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0) continue;
        EmptyDir(sub, depth + 1);
        ::close(sub);
        if (::unlinkat(dir, name, AT_REMOVEDIR) == 0) removed = true;
      }
    }
  }
}

void RemoveTree(const char* path) {
  const int dir = ::open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir < 0) return;
  EmptyDir(dir, 0);
  ::close(dir);
  ::rmdir(path);
}

// Closes every descriptor but stdout, stderr and the two kept.
void CloseAllBut(int a, int b) {
  if (a > b) std::swap(a, b);
  ::close(0);
  if (a > 3) ::syscall(SYS_close_range, 3u, static_cast<unsigned>(a - 1), 0u);
  if (b > a + 1)
    ::syscall(SYS_close_range, static_cast<unsigned>(a + 1), static_cast<unsigned>(b - 1), 0u);
  ::syscall(SYS_close_range, static_cast<unsigned>(b + 1), ~0u, 0u);
}

[[noreturn]] void CleanerMain(int target, int paths) {
  ::setsid();
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE}) ::signal(sig, SIG_IGN);
  CloseAllBut(target, paths);
  struct pollfd p = {target, POLLIN, 0};
  while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
  }
  // The target is gone; what it asked for is queued on the socket.
  static char path[4097];
  for (;;) {
    const ssize_t n = ::recv(paths, path, sizeof path - 1, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    path[n] = '\0';
    RemoveTree(path);
  }
  ::_exit(0);
}

}  // namespace

std::string StartLeftoverCleaner() {
  static const std::string* how = [] {
    const int self = static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0));
    if (self < 0)
      return new std::string(absl::StrCat("no cleaner (pidfd_open: ", ErrnoName(errno),
                                          "): leftovers of a signal stay"));
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) != 0) {
      ::close(self);
      return new std::string(absl::StrCat("no cleaner (socketpair: ", ErrnoName(errno), ")"));
    }
    // Forked twice, so the cleaner is nobody's child here: no reaping of
    // this process's children ever meets it.
    const pid_t middle = ::fork();
    if (middle == 0) {
      if (::fork() == 0) CleanerMain(self, sv[0]);
      ::_exit(0);
    }
    const int fork_errno = errno;
    ::close(self);
    ::close(sv[0]);
    if (middle < 0) {
      ::close(sv[1]);
      return new std::string(absl::StrCat("no cleaner (fork: ", ErrnoName(fork_errno), ")"));
    }
    while (::waitpid(middle, nullptr, 0) < 0 && errno == EINTR) {
    }
    g_to_cleaner = sv[1];
    return new std::string();
  }();
  return *how;
}

void RemoveWhenGone(const std::string& path) {
  if (g_to_cleaner < 0 || path.empty()) return;
  while (::send(g_to_cleaner, path.data(), path.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
         errno == EINTR) {
  }
}

}  // namespace ipcspec
