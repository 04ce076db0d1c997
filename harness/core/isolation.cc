// The namespaces and mounts cases run in: entered once by a fork server, or
// by each case process when there is no lasting isolation.
#include "isolation.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace ipcspec {
namespace internal {
namespace {

Lasting g_lasting;

// A private /dev/shm: a fresh tmpfs over it, in this mount namespace only.
bool MountPrivateShm() {
  return ::mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") == 0;
}

// Where a system keeps its mqueue file system (mq_overview(7)), the case's
// own instance over it, in this mount namespace only: a transport that
// lists or unlinks queues by that path (a sweep of "stale" queues) then
// sees the case's queues, never the machine's. Nothing when the system has
// no such directory.
void MountPrivateMqueueAtDev() {
  struct stat st;
  if (::stat("/dev/mqueue", &st) == 0 && S_ISDIR(st.st_mode)) {
    (void)::mount("mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
  }
}

// Writes `text` to a /proc file; true when all of it was taken.
bool WriteProcFile(const char* path, const char* text) {
  const int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const size_t n = std::strlen(text);
  const bool ok = ::write(fd, text, n) == static_cast<ssize_t>(n);
  ::close(fd);
  return ok;
}

// Not root: private IPC and mount namespaces under a user namespace of the
// process's own (user_namespaces(7)), where it keeps its uid and gid, so
// that a case's objects, /dev/shm and mqueue names are as private as under
// root and die with the namespace. False where the system allows no
// unprivileged user namespace; the capabilities it gives are dropped by
// DropNamespaceCapabilities in each case (a fork server keeps them to
// unmount its root when orphaned).
bool UnshareWithOwnUser() {
  const uid_t uid = ::geteuid();
  const gid_t gid = ::getegid();
  if (uid == 0 || ::unshare(CLONE_NEWUSER | CLONE_NEWIPC | CLONE_NEWNS) != 0) return false;
  char map[64];
  std::snprintf(map, sizeof map, "%u %u 1\n", static_cast<unsigned>(uid),
                static_cast<unsigned>(uid));
  bool ok = WriteProcFile("/proc/self/uid_map", map);
  std::snprintf(map, sizeof map, "%u %u 1\n", static_cast<unsigned>(gid),
                static_cast<unsigned>(gid));
  ok = WriteProcFile("/proc/self/setgroups", "deny") && ok;
  return WriteProcFile("/proc/self/gid_map", map) && ok;
}

// Private IPC and mount namespaces: as root, or under a user namespace of
// one's own (`own_user`).
bool UnsharePrivate(bool* own_user) {
  *own_user = false;
  if (::unshare(CLONE_NEWIPC | CLONE_NEWNS) == 0) return true;
  *own_user = UnshareWithOwnUser();
  return *own_user;
}

// The fork server's pid and where the kernel lists its children.
pid_t g_server = -1, g_parent = -1;
char g_children[64];

// The parent's death, here as SIGTERM (PR_SET_PDEATHSIG): every case the
// server has, running or forked ahead, is SIGKILLed with its process group,
// and a reply to the dead parent gives EPIPE rather than SIGPIPE, so that the
// server's loop ends as it does when the parent closes the requests, and its
// cases' scratch directories go as the cases are reaped. Only system calls
// here. In a case forked before it reset its signals, the default action.
void OnOrphaned(int sig) {
  if (::getpid() != g_server) {
    ::signal(sig, SIG_DFL);
    ::raise(sig);
    return;
  }
  // A SIGTERM to the whole process group (`timeout`) while the parent
  // lives: the parent decides when to stop.
  if (::getppid() == g_parent) return;
  const int saved = errno;
  ::signal(SIGPIPE, SIG_IGN);
  const int fd = ::open(g_children, O_RDONLY | O_CLOEXEC);
  char buf[4096];
  const ssize_t n = fd < 0 ? -1 : ::read(fd, buf, sizeof buf);
  if (fd >= 0) ::close(fd);
  pid_t child = 0;
  for (ssize_t i = 0; i < n; ++i) {
    if (buf[i] >= '0' && buf[i] <= '9') {
      child = child * 10 + (buf[i] - '0');
    } else if (child > 0) {
      ::kill(-child, SIGKILL);
      ::kill(child, SIGKILL);
      child = 0;
    }
  }
  errno = saved;
}

}  // namespace

const Lasting& LastingIsolation() { return g_lasting; }

void DropNamespaceCapabilities() {
  __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct none[2] = {};
  (void)::syscall(SYS_capset, &header, none);
}

void EndWhenOrphaned(pid_t parent) {
  g_server = ::getpid();
  g_parent = parent;
  std::snprintf(g_children, sizeof g_children, "/proc/self/task/%d/children", g_server);
  struct sigaction sa = {};
  sa.sa_handler = &OnOrphaned;
  sa.sa_flags = SA_RESTART;
  sigfillset(&sa.sa_mask);
  if (::sigaction(SIGTERM, &sa, nullptr) != 0) return;
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != parent) ::raise(SIGTERM);  // it died before the line above
}

void RemoveRoot(const std::string& root) {
  if (root.empty()) return;
  (void)::umount2(root.c_str(), MNT_DETACH);
  (void)::rmdir(root.c_str());
}

void ResetSignals(int keep) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int s = 1; s < NSIG; ++s) {
    if (s != SIGKILL && s != SIGSTOP && s != keep) ::signal(s, SIG_DFL);
  }
}

IsolationFacts IsolateThisCase(const std::string& mq_dir) {
  IsolationFacts f;
  bool own_user = false;
  if (UnsharePrivate(&own_user)) {
    f.private_ipc = true;
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0) {
      f.private_shm = MountPrivateShm();
      MountPrivateMqueueAtDev();
      if (!mq_dir.empty() && ::mount("mqueue", mq_dir.c_str(), "mqueue", 0, nullptr) == 0) {
        f.mq_dir = mq_dir;
      }
    }
    if (own_user) DropNamespaceCapabilities();
  } else if (::unshare(CLONE_NEWIPC) == 0) {
    f.private_ipc = true;
  }
  return f;
}

std::vector<OwnedObject> PrivateObjects(const IsolationFacts& facts) {
  Ownership own;
  own.private_ipc = facts.private_ipc;
  own.private_shm = facts.private_shm;
  own.mq_dir = facts.mq_dir;
  IpcSnapshot now;
  if (facts.private_ipc) now.sysv = ListSysv();
  if (facts.private_shm) now.shm = ListDir("/dev/shm");
  if (!facts.mq_dir.empty()) now.mq = ListDir(facts.mq_dir);
  return NewOwnedObjects(IpcSnapshot{}, now, own);
}

}  // namespace internal

IsolationFacts EnterLastingIsolation(const SandboxOptions& options, const std::string& root) {
  internal::Lasting& l = internal::g_lasting;
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  // The SIGTERM handler EndWhenOrphaned installed first thing stays: the
  // parent's death during the set-up still removes the root.
  internal::ResetSignals(SIGTERM);
  l.signals_clean = true;
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  if (::sigprocmask(SIG_BLOCK, &chld, nullptr) == 0) {
    l.child_exits = ::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (l.child_exits < 0) ::sigprocmask(SIG_UNBLOCK, &chld, nullptr);
  }
  bool own_user = false;
  if (!options.private_ipc || root.empty() || !internal::UnsharePrivate(&own_user)) {
    return l.facts;  // per-case isolation, as without a server
  }
  l.facts.private_ipc = true;
  l.active = true;
  l.own_user = own_user;
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
      ::mount("tmpfs", root.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0711") != 0) {
    return l.facts;
  }
  l.facts.private_shm = internal::MountPrivateShm();
  internal::MountPrivateMqueueAtDev();
  const std::string mq = root + "/mq", scratch = root + "/scratch";
  if (::mkdir(mq.c_str(), 0711) == 0 && ::mount("mqueue", mq.c_str(), "mqueue", 0, nullptr) == 0) {
    l.facts.mq_dir = mq;
  }
  if (::mkdir(scratch.c_str(), 0711) == 0) l.scratch_root = scratch;
  if (l.facts.private_shm && !l.facts.mq_dir.empty()) {
    const IpcCounts now = CountIpc(l.facts.mq_dir);
    if (now.known()) l.empty = now;
  }
  return l.facts;
}

}  // namespace ipcspec
