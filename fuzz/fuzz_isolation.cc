#include "fuzz/fuzz_isolation.h"

#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "fuzz/fuzz_leftovers.h"
#include "ipcspec/inventory.h"
#include "ipcspec/util.h"

namespace ipcspec {
namespace {

std::string g_mq_dir = "/dev/mqueue";
bool g_isolated = false;
bool g_scratch_mounted = false;
// Isolated: the namespace's counts and the scratch directory's size while
// they were still empty (a tmpfs directory's size counts its entries).
IpcCounts g_empty;
int64_t g_empty_scratch = -1;
// Isolated: /dev/shm, the mqueue mount and the scratch directory, opened
// once, so that the counts after each input are fstat calls, not path
// lookups.
int g_shm_fd = -1, g_mq_fd = -1, g_scratch_fd = -1;

int OpenDir(const std::string& path) {
  return ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

std::string SysvItem(const SysvObject& o) {
  return absl::StrFormat("SysV %s key %d id %d", o.Table(), static_cast<int>(o.key), o.id);
}

std::set<std::string> Everything() {
  std::set<std::string> s;
  for (const SysvObject& o : ListSysv()) s.insert(SysvItem(o));
  for (const std::string& n : ListDir("/dev/shm")) s.insert("/dev/shm/" + n);
  for (const std::string& n : ListDir(g_mq_dir)) s.insert("mqueue /" + n);
  for (const std::string& n : ListDir(FuzzScratchDir())) s.insert(FuzzScratchDir() + "/" + n);
  return s;
}

// Isolated: whether anything at all is there, from counters alone
// (inventory.h's IpcCounts), as the fork server judges its namespace.
bool AnythingPresent() {
  return CountIpcAt(g_shm_fd, g_mq_fd) != g_empty || OpenDirSize(g_scratch_fd) != g_empty_scratch;
}

// Removes one item named as Everything() names it (isolated only).
void Remove(const std::string& item) {
  for (const SysvObject& o : ListSysv()) {
    if (SysvItem(o) == item) RemoveSysv(o);
  }
  if (item.rfind("mqueue /", 0) == 0) {
    ::mq_unlink(item.substr(7).c_str());
  } else if (item.rfind("SysV ", 0) != 0) {
    std::error_code ec;
    std::filesystem::remove_all(item, ec);
  }
}

// A /dev/shm name another process has open or mapped is not ours (the fuzzer
// shares /dev/shm with whatever else runs on the machine).
bool HeldByAnotherProcess(const std::string& path) {
  const std::string self = std::to_string(::getpid());
  for (const std::string& pid : ListDir("/proc")) {
    if (pid == self || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream maps("/proc/" + pid + "/maps");
    std::string line;
    while (std::getline(maps, line)) {
      if (line.find(path) != std::string::npos) return true;
    }
    const std::string fds = "/proc/" + pid + "/fd";
    for (const std::string& fd : ListDir(fds)) {
      char target[512];
      ssize_t n = ::readlink((fds + "/" + fd).c_str(), target, sizeof target - 1);
      if (n > 0 && std::string_view(target, n).substr(0, path.size()) == path) return true;
    }
  }
  return false;
}

void CleanUpAtExit() {
  std::error_code ec;
  if (g_scratch_mounted) ::umount2(FuzzScratchDir().c_str(), MNT_DETACH);
  std::filesystem::remove_all(FuzzScratchDir(), ec);
  if (g_mq_dir != "/dev/mqueue") {
    ::umount2(g_mq_dir.c_str(), MNT_DETACH);
    ::rmdir(g_mq_dir.c_str());
  }
}

}  // namespace

const std::string& FuzzScratchDir() {
  static const std::string* dir = [] {
    const std::string path = MakeTempDir("ipcspec-fuzz");
    if (path.empty()) {
      std::perror("ipcspec fuzz: mkdtemp");
      std::abort();
    }
    std::atexit(CleanUpAtExit);
    RemoveWhenGone(path);
    return new std::string(path);
  }();
  return *dir;
}

const std::string& FuzzMqueueDir() { return g_mq_dir; }
bool FuzzIsolated() { return g_isolated; }

std::string EnterFuzzIsolation() {
  static const std::string* how = [] {
    const std::string& scratch = FuzzScratchDir();
    if (::unshare(CLONE_NEWIPC | CLONE_NEWNS) != 0) {
      return new std::string(absl::StrCat("shared IPC namespace (unshare: ", ErrnoName(errno),
                                          "): comparing before and after each input"));
    }
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        ::mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0) {
      return new std::string(
          absl::StrCat("private IPC namespace, shared /dev/shm (mount: ", ErrnoName(errno), ")"));
    }
    // The scratch directory on tmpfs too: a FIFO's mknod on ext4 cost more
    // than the rest of a pipe input, and its size counts what is left.
    g_scratch_mounted =
        ::mount("tmpfs", scratch.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700") == 0;
    const std::string mq = scratch + "-mq";
    if (::mkdir(mq.c_str(), 0700) == 0) {
      RemoveWhenGone(mq);
      if (::mount("mqueue", mq.c_str(), "mqueue", 0, nullptr) == 0) g_mq_dir = mq;
    }
    g_shm_fd = OpenDir("/dev/shm");
    g_mq_fd = OpenDir(g_mq_dir);
    g_scratch_fd = OpenDir(scratch);
    g_empty = CountIpcAt(g_shm_fd, g_mq_fd);
    g_empty_scratch = OpenDirSize(g_scratch_fd);
    g_isolated = g_scratch_mounted && g_mq_dir == mq && g_empty.known() && g_empty_scratch >= 0;
    return new std::string(
        absl::StrCat("private IPC and mount namespace, own /dev/shm, mqueue at ", g_mq_dir,
                     ", scratch ", scratch, g_scratch_mounted ? " (tmpfs)" : " (not tmpfs)",
                     g_isolated ? "; leaks checked by counters" : "; leaks checked by names"));
  }();
  return *how;
}

void LeakCheck::Before() {
  if (!g_isolated) before_ = Everything();
}

std::vector<std::string> LeakCheck::After() {
  std::vector<std::string> out;
  if (g_isolated) {
    if (!AnythingPresent()) return out;
    for (const std::string& item : Everything()) {
      out.push_back(item);
      Remove(item);
    }
    return out;
  }
  for (const std::string& item : Everything()) {
    if (before_.count(item)) continue;
    if (item.rfind("/dev/shm/", 0) == 0) {
      // Another user's object (a sandboxed case runs as its own uid), or one
      // another process holds, is not this input's.
      struct stat st;
      if (::stat(item.c_str(), &st) != 0 || st.st_uid != ::geteuid()) continue;
      if (HeldByAnotherProcess(item)) continue;
    }
    out.push_back(item);
  }
  return out;
}

}  // namespace ipcspec
