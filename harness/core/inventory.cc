#include "ipcspec/inventory.h"

#include <dirent.h>
#include <ftw.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <sstream>

#include "absl/strings/str_format.h"

namespace ipcspec {

std::string SysvObject::Describe() const {
  const char* what = kind == 'q'   ? "message queue"
                     : kind == 'm' ? "shared memory segment"
                                   : "semaphore set";
  return absl::StrFormat("SysV %s id %d (key 0x%x)", what, id, key);
}

std::vector<SysvObject> ListSysv() {
  std::vector<SysvObject> out;
  struct Table {
    char kind;
    const char* path;
    int uid_column;  // 0-based column of the owner uid
  };
  // Columns per proc(5): msg: key msqid perms cbytes qnum lspid lrpid uid ...
  // shm: key shmid perms size cpid lpid nattch uid ...; sem: key semid perms nsems uid ...
  for (const Table& t : {Table{'q', "/proc/sysvipc/msg", 7}, Table{'m', "/proc/sysvipc/shm", 7},
                         Table{'s', "/proc/sysvipc/sem", 4}}) {
    std::ifstream in(t.path);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::vector<long long> cols;
      long long v;
      while (cols.size() <= static_cast<size_t>(t.uid_column) && fields >> v) cols.push_back(v);
      if (cols.size() <= static_cast<size_t>(t.uid_column)) continue;
      out.push_back({t.kind, static_cast<int>(cols[1]), static_cast<unsigned>(cols[0]),
                     static_cast<uid_t>(cols[t.uid_column])});
    }
  }
  return out;
}

void RemoveSysv(const SysvObject& o) {
  switch (o.kind) {
    case 'q':
      ::msgctl(o.id, IPC_RMID, nullptr);
      break;
    case 'm':
      ::shmctl(o.id, IPC_RMID, nullptr);
      break;
    case 's':
      ::semctl(o.id, 0, IPC_RMID);
      break;
  }
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(std::move(name));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

uid_t OwnerOf(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 ? st.st_uid : static_cast<uid_t>(-1);
}

bool RemoveTree(const std::string& path) {
  ::nftw(
      path.c_str(),
      [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p) != 0 ? 0 : 0; },
      16, FTW_DEPTH | FTW_PHYS);
  return ::access(path.c_str(), F_OK) != 0;
}

std::vector<pid_t> ChildrenOfSelf() {
  std::vector<pid_t> out;
  for (const std::string& tid : ListDir("/proc/self/task")) {
    std::ifstream in("/proc/self/task/" + tid + "/children");
    pid_t pid;
    while (in >> pid) out.push_back(pid);
  }
  return out;
}

std::string CommOf(pid_t pid) {
  std::ifstream in(absl::StrFormat("/proc/%d/comm", pid));
  std::string comm;
  return std::getline(in, comm) ? comm : "?";
}

int PidfdOpen(pid_t pid) {
  long fd = ::syscall(SYS_pidfd_open, pid, 0);
  return fd < 0 ? -errno : static_cast<int>(fd);
}

}  // namespace ipcspec
