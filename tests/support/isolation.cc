#include "tests/support/isolation.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ipcspec::testing {
namespace {

bool WriteFile(const char* path, const std::string& text) {
  const int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

// In a fresh mount namespace: nothing propagates back, /dev/shm is a new
// tmpfs and /dev/mqueue (if the machine has one) shows this IPC namespace.
// Returns "" or the failed call.
std::string MountPrivateDevShm() {
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return std::string("mount(/, MS_PRIVATE): ") + std::strerror(errno);
  }
  if (::mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0) {
    return std::string("mount(tmpfs, /dev/shm): ") + std::strerror(errno);
  }
  struct stat st;
  if (::stat("/dev/mqueue", &st) == 0 && S_ISDIR(st.st_mode) &&
      ::mount("mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    return std::string("mount(mqueue, /dev/mqueue): ") + std::strerror(errno);
  }
  return "";
}

Isolation Enter() {
  if (const char* shared = std::getenv("IPCSPEC_TEST_SHARED"); shared && *shared == '1') {
    return {false, "shared IPC and mount namespaces (IPCSPEC_TEST_SHARED=1)"};
  }
  if (::unshare(CLONE_NEWIPC | CLONE_NEWNS) == 0) {
    const std::string err = MountPrivateDevShm();
    if (err.empty()) return {true, "private IPC and mount namespaces, own /dev/shm"};
    return {false, "private IPC namespace but shared /dev/shm (" + err + ")"};
  }
  const int root_err = errno;
  const uid_t uid = ::geteuid();
  const gid_t gid = ::getegid();
  if (::unshare(CLONE_NEWUSER | CLONE_NEWIPC | CLONE_NEWNS) == 0) {
    if (!WriteFile("/proc/self/setgroups", "deny") ||
        !WriteFile("/proc/self/uid_map", std::to_string(uid) + " " + std::to_string(uid) + " 1") ||
        !WriteFile("/proc/self/gid_map", std::to_string(gid) + " " + std::to_string(gid) + " 1")) {
      return {false, std::string("user namespace without an id map: ") + std::strerror(errno)};
    }
    const std::string err = MountPrivateDevShm();
    if (err.empty()) {
      return {true, "private user, IPC and mount namespaces, own /dev/shm"};
    }
    return {false, "private IPC namespace but shared /dev/shm (" + err + ")"};
  }
  return {false, std::string("shared IPC and mount namespaces (unshare: ") +
                     std::strerror(root_err) + ", user namespace: " + std::strerror(errno) + ")"};
}

}  // namespace

Isolation EnterTestIsolation() {
  static const Isolation* done = new Isolation(Enter());
  return *done;
}

}  // namespace ipcspec::testing

#ifdef IPCSPEC_ISOLATION_PROBE
// Configure-time probe (tests/CMakeLists.txt): exit status 0 = isolated.
int main() {
  const ipcspec::testing::Isolation iso = ipcspec::testing::EnterTestIsolation();
  std::printf("%s\n", iso.how.c_str());
  return iso.isolated ? 0 : 1;
}
#endif
