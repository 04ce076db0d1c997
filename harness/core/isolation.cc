// The namespaces and mounts cases run in: entered once by a fork server, or
// by each case process when there is no lasting isolation.
#include "isolation.h"

#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

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

}  // namespace

const Lasting& LastingIsolation() { return g_lasting; }

void ResetSignals() {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int s = 1; s < NSIG; ++s) {
    if (s != SIGKILL && s != SIGSTOP) ::signal(s, SIG_DFL);
  }
}

IsolationFacts IsolateThisCase(const std::string& mq_dir) {
  IsolationFacts f;
  if (::unshare(CLONE_NEWIPC | CLONE_NEWNS) == 0) {
    f.private_ipc = true;
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0) {
      f.private_shm = MountPrivateShm();
      MountPrivateMqueueAtDev();
      if (!mq_dir.empty() && ::mount("mqueue", mq_dir.c_str(), "mqueue", 0, nullptr) == 0) {
        f.mq_dir = mq_dir;
      }
    }
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
  internal::ResetSignals();
  l.signals_clean = true;
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  if (::sigprocmask(SIG_BLOCK, &chld, nullptr) == 0) {
    l.child_exits = ::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (l.child_exits < 0) ::sigprocmask(SIG_UNBLOCK, &chld, nullptr);
  }
  if (!options.private_ipc || root.empty() || ::unshare(CLONE_NEWIPC | CLONE_NEWNS) != 0) {
    return l.facts;  // per-case isolation, as without a server
  }
  l.facts.private_ipc = true;
  l.active = true;
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
