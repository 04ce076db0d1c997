// ipcspec/inventory.h: the IPC objects and processes a case can leave behind,
// read off /proc and the file system: SysV ids, names in a directory (/dev/shm,
// the mqueue mount, the scratch directory), children of this process. The
// sandbox, G-CLEANUP, the fuzz targets and the tests all look through it.
//
//   for (const SysvObject& o : ListSysv()) std::cout << o.Describe() << "\n";
//   std::vector<std::string> names = ListDir("/dev/shm");
#ifndef IPCSPEC_INVENTORY_H_
#define IPCSPEC_INVENTORY_H_

#include <sys/types.h>

#include <set>
#include <string>
#include <vector>

namespace ipcspec {

struct SysvObject {
  char kind;  // 'q' message queue, 'm' shared memory, 's' semaphore set
  int id;
  unsigned key;
  uid_t uid;
  std::string Describe() const;  // "SysV message queue id 3 (key 0x1a2b)"
};
// Every SysV object visible in this process's IPC namespace.
std::vector<SysvObject> ListSysv();
void RemoveSysv(const SysvObject& o);

// Names in a directory (no "." or ".."), sorted; empty when unreadable.
std::vector<std::string> ListDir(const std::string& dir);
uid_t OwnerOf(const std::string& path);  // (uid_t)-1 when it cannot stat
// Removes a directory tree; returns false if anything stayed.
bool RemoveTree(const std::string& path);

// Children of this process (all threads), from /proc/self/task/*/children.
std::vector<pid_t> ChildrenOfSelf();
std::string CommOf(pid_t pid);  // "sleep", or "?" once it is gone

// pidfd_open(2), -errno on failure.
int PidfdOpen(pid_t pid);

}  // namespace ipcspec

#endif  // IPCSPEC_INVENTORY_H_
