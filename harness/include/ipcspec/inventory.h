// ipcspec/inventory.h: the IPC objects and processes a case can leave behind,
// read off /proc and the file system: SysV ids, names in /dev/shm and the
// mqueue mount, names in a directory, children of this process; and the one
// rule that says which of them are a case's own. The sandbox, G-CLEANUP, the
// fuzz executor and the tests all look through it.
//
//   IpcSnapshot before = TakeIpcSnapshot(env.mq_dir);
//   ...  // the case runs
//   for (const OwnedObject& o : NewOwnedObjects(before, TakeIpcSnapshot(env.mq_dir),
//                                               OwnershipOf(env)))
//     std::cout << o.Describe() << "\n";  // "SysV message queue id 3 (key 0x1a2b)"
#ifndef IPCSPEC_INVENTORY_H_
#define IPCSPEC_INVENTORY_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"

namespace ipcspec {

struct SysvObject {
  char kind;  // 'q' message queue, 'm' shared memory, 's' semaphore set
  int id;
  unsigned key;
  uid_t uid;
  unsigned mode = 0;               // permission bits, as in /proc/sysvipc (octal there)
  std::string Describe() const;    // "SysV message queue id 3 (key 0x1a2b)"
  std::string_view Table() const;  // "msg", "shm" or "sem": the /proc/sysvipc file
};
// Every SysV object visible in this process's IPC namespace; with kind, only
// those of that kind ('q', 'm' or 's').
std::vector<SysvObject> ListSysv(char kind = 0);
void RemoveSysv(const SysvObject& o);

// Names in a directory (no "." or ".."), sorted; empty when unreadable.
std::vector<std::string> ListDir(const std::string& dir);
uid_t OwnerOf(const std::string& path);  // (uid_t)-1 when it cannot stat
// Removes a directory tree; returns false if anything stayed.
bool RemoveTree(const std::string& path);

// The temporary directories every user shares, where a transport may make
// nodes outside its scratch directory: /tmp and /var/tmp.
const std::vector<std::string>& SharedTempDirs();
// The nodes directly in `dir` owned by `uid` whose status changed at or
// after `since` (seconds since the epoch), as paths. A root run gives each
// case a uid of its own, so those of a case's uid are that case's.
std::vector<std::string> NodesOwnedBy(const std::string& dir, uid_t uid, time_t since = 0);
// `path` and what lies under it that users other than its owner can use
// (read or write a file or FIFO, connect to a socket, add or remove a
// directory's entries), each with its permission bits. A directory's
// entries count where others may pass through it (its x bit for others);
// symbolic links are not followed.
std::vector<std::pair<std::string, unsigned>> NodesOpenToOthers(const std::string& path);

// Children of this process (all threads), from /proc/self/task/*/children.
std::vector<pid_t> ChildrenOfSelf();
std::string CommOf(pid_t pid);  // "sleep", or "?" once it is gone
// "process 42 (sleep)", or "process 42 (sleep, a zombie: it ended and was
// never reaped)".
std::string DescribeProcess(pid_t pid);

// pidfd_open(2), -errno on failure.
int PidfdOpen(pid_t pid);

// The named IPC objects of this namespace at one moment.
struct IpcSnapshot {
  std::vector<SysvObject> sysv;
  std::vector<std::string> shm;  // names in /dev/shm (POSIX shm, "sem.*" semaphores)
  std::vector<std::string> mq;   // names in the mqueue mount, when there is one
};
IpcSnapshot TakeIpcSnapshot(const std::string& mq_dir = "");

// How much a namespace holds, read without listing anything: one call per
// kind instead of opening and reading a directory or a /proc/sysvipc table.
// The SysV ids in use come from msgctl(MSG_INFO), shmctl(SHM_INFO) and
// semctl(SEM_INFO); /dev/shm (tmpfs) and the mqueue mount report their
// number of entries in their directory's size (each entry adds a fixed
// amount). Counts say only how many, not which: a listing still names what
// is there. Use them where a namespace is private and its empty counts are
// known, so that "equal to the empty counts" means "nothing is there":
//
//   const IpcCounts empty = CountIpc(mq_dir);   // once, in a fresh namespace
//   ...  // a case runs
//   if (!empty.known() || CountIpc(mq_dir) != empty) { /* list, report, remove */ }
struct IpcCounts {
  int64_t msg_queues = -1, shm_segments = -1, sem_sets = -1;  // -1: could not be read
  int64_t shm_dir_size = -1, mq_dir_size = -1;                // -1: could not stat, or no mount
  bool known() const;                                         // every count was read
  bool operator==(const IpcCounts&) const = default;
};
IpcCounts CountIpc(const std::string& mq_dir);
// The same with /dev/shm and the mqueue mount given as open directories
// (fstat: no path looked up on every call), and the size of one such
// directory (-1 when it cannot be had).
IpcCounts CountIpcAt(int shm_dir_fd, int mq_dir_fd);
int64_t OpenDirSize(int dir_fd);

// What this process holds that outlives a channel if its transport forgets
// to let go: descriptors, shared mappings, threads other than the main one
// and POSIX timers. Each entry is readable and stays the same string while
// the thing it names stays:
//   "descriptor 9 (pipe:[48213])", "shared mapping of /dev/zero (deleted), 8192 bytes",
//   "thread 4711 (ring-poller)", "POSIX timer 0 (signal SIGALRM)"
struct ProcessHoldings {
  std::vector<std::string> entries;  // sorted
};
ProcessHoldings TakeProcessHoldings();
// The bytes of private anonymous memory this process has mapped, from
// /proc/self/maps: what mmap(MAP_PRIVATE | MAP_ANONYMOUS) made (glibc's
// large allocations, arenas and thread stacks among them), not its [heap]
// or main [stack]. The kernel merges neighbouring such mappings into one,
// so a mapping made again and again shows in the bytes, not in a count.
uint64_t PrivateAnonymousBytes();
// Calls fn(fd) for each open descriptor of this process (not the one it
// reads /proc/self/fd through). It allocates nothing and takes no lock:
// it may run while another thread of the process is stopped anywhere, even
// inside malloc. Returns false if /proc/self/fd could not be read.
bool ForEachDescriptor(absl::FunctionRef<void(int fd)> fn);
// Whether descriptor fd is open without FD_CLOEXEC.
bool Inheritable(int fd);
// The descriptors of this process without FD_CLOEXEC, named as in
// ProcessHoldings and sorted: what a program it runs (fork + exec) inherits.
std::vector<std::string> InheritableDescriptors();
// The entries of `after` that are not in `before`.
std::vector<std::string> NewHoldings(const ProcessHoldings& before, const ProcessHoldings& after);

// How every case process and participant takes SIGPIPE: caught by a
// handler that does nothing, so that a write to a closed peer gives EPIPE
// and the process lives on. Not SIG_IGN: a transport that ignores SIGPIPE
// for its own writes and leaves it so must show (G-CLEANUP), which it
// could not in a process that ignored it already.
void QuietSigpipe();
// How many SIGPIPEs QuietSigpipe's handler has caught in this process. A
// transport call that raises one would kill a process that leaves SIGPIPE
// at its default action (WatchEnd's ends check each call).
uint64_t SigpipesCaught();

// What this process has set that a transport may change for a while and
// must put back: the action of every signal (SIGPIPE's other than
// QuietSigpipe's), the signal mask, the signals pending (one a call raised
// while it was blocked, and left), the interval timers, the umask, the
// working directory, the dumpable flag and no_new_privs. Entries name what
// differs from a fresh process: "a handler for SIGUSR1", "SIGUSR1 ignored",
// "SIGUSR1 blocked", "SIGPIPE pending", "ITIMER_REAL armed (SIGALRM to
// come)", "no_new_privs set"; and the umask, directory and dumpable flag
// always: "umask 0022", "working directory /", "dumpable 1".
struct ProcessSettings {
  std::vector<std::string> entries;  // sorted
};
ProcessSettings TakeProcessSettings();
// What differs between the two, readably: "a handler for SIGUSR1 (not
// before)", "SIGUSR2 blocked before, not any more".
std::vector<std::string> ChangedSettings(const ProcessSettings& before,
                                         const ProcessSettings& after);

// Which objects count as a case's own. In a private IPC namespace (or a
// private /dev/shm) everything is. Without one, only objects owned by the
// case's own uid (when that uid is the case's alone: a root run gives each
// case its own) or whose name carries the case's name tag (UniqueName puts
// it in every name made inside the case). Nothing else is ever reported or
// removed.
struct Ownership {
  bool private_ipc = false;  // SysV ids and mqueue names: all the case's
  bool private_shm = false;  // /dev/shm: all the case's
  uid_t uid = static_cast<uid_t>(-1);
  bool own_uid = false;  // uid is used by this case alone
  uint32_t name_tag = 0;
  std::string mq_dir;  // where mqueue names are listed
};

struct OwnedObject {
  enum Kind { kSysv, kShm, kMq } kind;
  SysvObject sysv{};  // kSysv
  std::string name;   // kShm, kMq: the name in its directory
  std::string mq_dir;
  std::string Describe() const;  // "SysV ...", "/dev/shm/x", "POSIX message queue /x"
  void Remove() const;
  // Its permission bits (0600), or nothing once it is gone.
  std::optional<unsigned> Mode() const;
};
// The case's objects in `after` that were not in `before`.
std::vector<OwnedObject> NewOwnedObjects(const IpcSnapshot& before, const IpcSnapshot& after,
                                         const Ownership& own);

}  // namespace ipcspec

#endif  // IPCSPEC_INVENTORY_H_
