#include "ipcspec/inventory.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iterator>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "ipcspec/sandbox.h"
#include "ipcspec/util.h"

namespace ipcspec {

std::string SysvObject::Describe() const {
  const char* what = kind == 'q'   ? "message queue"
                     : kind == 'm' ? "shared memory segment"
                                   : "semaphore set";
  return absl::StrFormat("SysV %s id %d (key 0x%x)", what, id, key);
}

std::string_view SysvObject::Table() const {
  return kind == 'q' ? "msg" : kind == 'm' ? "shm" : "sem";
}

std::vector<SysvObject> ListSysv(char only) {
  std::vector<SysvObject> out;
  struct Table {
    char kind;
    const char* path;
    size_t uid_column;  // 0-based column of the owner uid
  };
  // Columns per proc(5): msg: key msqid perms cbytes qnum lspid lrpid uid ...
  // shm: key shmid perms size cpid lpid nattch uid ...; sem: key semid perms nsems uid ...
  for (const Table& t : {Table{'q', "/proc/sysvipc/msg", 7}, Table{'m', "/proc/sysvipc/shm", 7},
                         Table{'s', "/proc/sysvipc/sem", 4}}) {
    if (only != 0 && only != t.kind) continue;
    std::ifstream in(t.path);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::vector<std::string> cols = absl::StrSplit(line, ' ', absl::SkipEmpty());
      long long key, id, uid;
      unsigned mode;
      if (cols.size() <= t.uid_column || !absl::SimpleAtoi(cols[0], &key) ||
          !absl::SimpleAtoi(cols[1], &id) || !absl::SimpleAtoi(cols[t.uid_column], &uid) ||
          std::sscanf(cols[2].c_str(), "%o", &mode) != 1) {
        continue;
      }
      out.push_back({t.kind, static_cast<int>(id), static_cast<unsigned>(key),
                     static_cast<uid_t>(uid), mode});
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

const std::vector<std::string>& SharedTempDirs() {
  static const auto* dirs = new std::vector<std::string>{"/tmp", "/var/tmp"};
  return *dirs;
}

std::vector<std::string> NodesOwnedBy(const std::string& dir, uid_t uid, time_t since) {
  std::vector<std::string> out;
  for (const std::string& n : ListDir(dir)) {
    const std::string path = absl::StrCat(dir, "/", n);
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0 && st.st_uid == uid && st.st_ctim.tv_sec >= since) {
      out.push_back(path);
    }
  }
  return out;
}

namespace {
void CollectOpenToOthers(const std::string& path, int depth,
                         std::vector<std::pair<std::string, unsigned>>* out) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0 || S_ISLNK(st.st_mode)) return;
  const unsigned mode = st.st_mode & 07777;
  // A socket is reached by writing it; a directory is changed by writing it.
  const unsigned others = S_ISSOCK(st.st_mode) || S_ISDIR(st.st_mode) ? 0022 : 0066;
  if ((mode & others) != 0) out->emplace_back(path, mode);
  if (!S_ISDIR(st.st_mode) || (mode & 0001) == 0 || depth == 0) return;
  for (const std::string& n : ListDir(path)) CollectOpenToOthers(path + "/" + n, depth - 1, out);
}
}  // namespace

std::vector<std::pair<std::string, unsigned>> NodesOpenToOthers(const std::string& path) {
  std::vector<std::pair<std::string, unsigned>> out;
  CollectOpenToOthers(path, 4, &out);
  return out;
}

std::vector<pid_t> ChildrenOfSelf() {
  std::vector<pid_t> out;
  std::vector<std::string> tasks = ListDir("/proc/self/task");
  for (const std::string& tid : tasks) {
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

std::string DescribeProcess(pid_t pid) {
  // /proc/PID/stat: "pid (comm) S ...": the state follows the last ')'.
  std::ifstream in(absl::StrFormat("/proc/%d/stat", pid));
  std::string stat;
  std::getline(in, stat);
  const size_t paren = stat.rfind(')');
  const bool zombie =
      paren != std::string::npos && stat.size() > paren + 2 && stat[paren + 2] == 'Z';
  return absl::StrFormat("process %d (%s%s)", pid, CommOf(pid),
                         zombie ? ", a zombie: it ended and was never reaped" : "");
}

int PidfdOpen(pid_t pid) {
  long fd = ::syscall(SYS_pidfd_open, pid, 0);
  return fd < 0 ? -errno : static_cast<int>(fd);
}

bool ForEachDescriptor(absl::FunctionRef<void(int fd)> fn) {
  // Raw getdents64 into a buffer on the stack: opendir/readdir allocate.
  const int dir = ::open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return false;
  alignas(struct dirent64) char buf[4096];
  for (ssize_t n; (n = ::getdents64(dir, buf, sizeof buf)) > 0;) {
    for (ssize_t off = 0; off < n;) {
      const auto* d = reinterpret_cast<const struct dirent64*>(buf + off);
      off += d->d_reclen;
      int fd = 0;
      const char* c = d->d_name;
      for (; *c >= '0' && *c <= '9' && fd < INT_MAX / 10; ++c) fd = fd * 10 + (*c - '0');
      if (c == d->d_name || *c != '\0' || fd == dir) continue;  // ".", ".."
      fn(fd);
    }
  }
  ::close(dir);
  return true;
}

bool Inheritable(int fd) {
  const int flags = ::fcntl(fd, F_GETFD);
  return flags >= 0 && (flags & FD_CLOEXEC) == 0;
}

namespace {

// Each descriptor of this process (`pass` true for it), as ProcessHoldings
// names them: "descriptor 9 (pipe:[48213])".
std::vector<std::string> NamedDescriptors(bool (*pass)(int fd)) {
  std::vector<int> fds;
  ForEachDescriptor([&fds](int fd) { fds.push_back(fd); });
  std::vector<std::string> out;
  for (const int fd : fds) {
    if (!pass(fd)) continue;  // closed meanwhile, or not asked for
    char target[512];
    const ssize_t n =
        ::readlink(absl::StrCat("/proc/self/fd/", fd).c_str(), target, sizeof target - 1);
    out.push_back(
        absl::StrFormat("descriptor %d (%s)", fd, n < 0 ? "?" : std::string_view(target, n)));
  }
  return out;
}

}  // namespace

std::vector<std::string> InheritableDescriptors() {
  std::vector<std::string> out = NamedDescriptors(&Inheritable);
  std::sort(out.begin(), out.end());
  return out;
}

ProcessHoldings TakeProcessHoldings() {
  ProcessHoldings h;
  h.entries = NamedDescriptors([](int fd) { return ::fcntl(fd, F_GETFD) >= 0; });
  // "start-end perms offset dev inode path": the shared ones (perms "...s").
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.size() < 5 || f[1].size() < 4 || f[1][3] != 's') continue;
    std::vector<absl::string_view> range = absl::StrSplit(f[0], '-');
    uint64_t lo = 0, hi = 0;
    if (range.size() != 2 || !absl::SimpleHexAtoi(range[0], &lo) ||
        !absl::SimpleHexAtoi(range[1], &hi)) {
      continue;
    }
    std::string path;
    for (size_t i = 5; i < f.size(); ++i) absl::StrAppend(&path, i > 5 ? " " : "", f[i]);
    // MAP_SHARED | MAP_ANONYMOUS memory shows as an unlinked /dev/zero.
    if (path.empty() || path == "/dev/zero (deleted)") path = "anonymous shared memory";
    h.entries.push_back(
        absl::StrFormat("shared mapping of %s at %#x, %d bytes", path, lo, hi - lo));
  }
  const std::string main_tid = absl::StrCat(::getpid());
  for (const std::string& tid : ListDir("/proc/self/task")) {
    if (tid == main_tid) continue;
    std::ifstream in("/proc/self/task/" + tid + "/comm");
    std::string comm;
    if (!std::getline(in, comm)) continue;  // gone meanwhile
    h.entries.push_back(absl::StrFormat("thread %s (%s)", tid, comm));
  }
  // "ID: 0", then "signal: 14/...", "notify: ...", "ClockID: 1" per timer.
  std::ifstream timers("/proc/self/timers");
  bool timer = false;
  for (std::string line; std::getline(timers, line);) {
    absl::string_view l = line;
    if (absl::ConsumePrefix(&l, "ID: ")) {
      h.entries.push_back(absl::StrCat("POSIX timer ", l));
      timer = true;
    } else if (int sig = 0; timer && absl::ConsumePrefix(&l, "signal: ") &&
                            absl::SimpleAtoi(l.substr(0, l.find('/')), &sig)) {
      absl::StrAppend(&h.entries.back(), " (signal ", SignalName(sig), ")");
    }
  }
  std::sort(h.entries.begin(), h.entries.end());
  return h;
}

uint64_t PrivateAnonymousBytes() {
  uint64_t bytes = 0;
  // "start-end perms offset dev inode [path]": private ("...p"), inode 0
  // and no path.
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.size() != 5 || f[1].size() < 4 || f[1][3] != 'p' || f[4] != "0") continue;
    std::vector<absl::string_view> range = absl::StrSplit(f[0], '-');
    uint64_t lo = 0, hi = 0;
    if (range.size() == 2 && absl::SimpleHexAtoi(range[0], &lo) &&
        absl::SimpleHexAtoi(range[1], &hi) && hi > lo) {
      bytes += hi - lo;
    }
  }
  return bytes;
}

std::vector<std::string> NewHoldings(const ProcessHoldings& before, const ProcessHoldings& after) {
  std::vector<std::string> out;
  std::set_difference(after.entries.begin(), after.entries.end(), before.entries.begin(),
                      before.entries.end(), std::back_inserter(out));
  return out;
}

namespace {
std::atomic<uint64_t> g_sigpipes{0};
static_assert(std::atomic<uint64_t>::is_always_lock_free);  // in a handler
void OnSigpipe(int) { g_sigpipes.fetch_add(1, std::memory_order_relaxed); }
}  // namespace

uint64_t SigpipesCaught() { return g_sigpipes.load(std::memory_order_relaxed); }

void QuietSigpipe() {
  struct sigaction quiet = {};
  quiet.sa_handler = OnSigpipe;
  quiet.sa_flags = SA_RESTART;
  ::sigemptyset(&quiet.sa_mask);
  ::sigaction(SIGPIPE, &quiet, nullptr);
}

ProcessSettings TakeProcessSettings() {
  ProcessSettings s;
  sigset_t mask;
  ::sigemptyset(&mask);
  ::pthread_sigmask(SIG_BLOCK, nullptr, &mask);
  sigset_t pending;
  ::sigemptyset(&pending);
  ::sigpending(&pending);  // the process's and this thread's
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    if (::sigismember(&mask, sig) == 1) s.entries.push_back(SignalName(sig) + " blocked");
    // A signal a call raised while the caller had it blocked (a write to a
    // pipe without a reader: SIGPIPE) stays pending, to strike once the
    // program unblocks it, unless the call takes it (sigtimedwait).
    if (::sigismember(&pending, sig) == 1) s.entries.push_back(SignalName(sig) + " pending");
    struct sigaction sa = {};
    if (::sigaction(sig, nullptr, &sa) != 0) continue;
    if (sig == SIGPIPE && sa.sa_handler == OnSigpipe) continue;  // the harness's own
    if (sa.sa_handler == SIG_IGN) {
      s.entries.push_back(SignalName(sig) + " ignored");
    } else if (sa.sa_handler != SIG_DFL) {
      s.entries.push_back(absl::StrFormat("a handler for %s at %p", SignalName(sig),
                                          reinterpret_cast<void*>(sa.sa_handler)));
    }
  }
  constexpr std::pair<int, std::string_view> kTimers[] = {
      {ITIMER_REAL, "ITIMER_REAL armed (SIGALRM to come)"},
      {ITIMER_VIRTUAL, "ITIMER_VIRTUAL armed (SIGVTALRM to come)"},
      {ITIMER_PROF, "ITIMER_PROF armed (SIGPROF to come)"}};
  for (const auto& [which, said] : kTimers) {
    struct itimerval it = {};
    if (::getitimer(which, &it) == 0 && (it.it_value.tv_sec != 0 || it.it_value.tv_usec != 0))
      s.entries.emplace_back(said);
  }
  // The umask (a transport may clear it for an exact mode on what it
  // makes) and the working directory (one may enter its scratch directory
  // for a short relative socket path).
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    absl::string_view l = line;
    if (absl::ConsumePrefix(&l, "Umask:"))
      s.entries.push_back(absl::StrCat("umask ", absl::StripAsciiWhitespace(l)));
  }
  char cwd[PATH_MAX];
  if (::getcwd(cwd, sizeof cwd) != nullptr)
    s.entries.push_back(absl::StrCat("working directory ", cwd));
  // What prctl(2) keeps for the process that a transport may set: dumpable
  // (cleared to keep a ring out of core dumps, which also makes the
  // process's /proc files root's; or set so that process_vm_writev works
  // after a uid change), and no_new_privs (set for a seccomp filter, and
  // never cleared again). Both are inherited by fork, which the harness's
  // own actors leave as they are.
  if (const int dumpable = ::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0); dumpable >= 0)
    s.entries.push_back(absl::StrCat("dumpable ", dumpable));
  if (::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1) s.entries.emplace_back("no_new_privs set");
  std::sort(s.entries.begin(), s.entries.end());
  return s;
}

std::vector<std::string> ChangedSettings(const ProcessSettings& before,
                                         const ProcessSettings& after) {
  std::vector<std::string> gained, lost, out;
  std::set_difference(after.entries.begin(), after.entries.end(), before.entries.begin(),
                      before.entries.end(), std::back_inserter(gained));
  std::set_difference(before.entries.begin(), before.entries.end(), after.entries.begin(),
                      after.entries.end(), std::back_inserter(lost));
  for (const std::string& e : gained) out.push_back(absl::StrCat(e, " (not before)"));
  for (const std::string& e : lost) out.push_back(absl::StrCat(e, " before, not any more"));
  return out;
}

IpcSnapshot TakeIpcSnapshot(const std::string& mq_dir) {
  IpcSnapshot s;
  s.sysv = ListSysv();
  s.shm = ListDir("/dev/shm");
  if (!mq_dir.empty()) s.mq = ListDir(mq_dir);
  return s;
}

bool IpcCounts::known() const {
  return msg_queues >= 0 && shm_segments >= 0 && sem_sets >= 0 && shm_dir_size >= 0 &&
         mq_dir_size >= 0;
}

namespace {

int64_t DirSize(const std::string& dir) {
  struct stat st;
  return !dir.empty() && ::stat(dir.c_str(), &st) == 0 ? st.st_size : -1;
}

// The SysV counts of an IpcCounts, the directories' left unknown.
IpcCounts CountSysv() {
  IpcCounts c;
  struct msginfo mi = {};
  if (::msgctl(0, MSG_INFO, reinterpret_cast<struct msqid_ds*>(&mi)) >= 0)
    c.msg_queues = mi.msgpool;
  struct shm_info si = {};
  if (::shmctl(0, SHM_INFO, reinterpret_cast<struct shmid_ds*>(&si)) >= 0) {
    c.shm_segments = si.used_ids;
  }
  struct seminfo se = {};
  union semun {
    int val;
    struct semid_ds* buf;
    unsigned short* array;
    struct seminfo* info;
  } arg;
  arg.info = &se;
  if (::semctl(0, 0, SEM_INFO, arg) >= 0) c.sem_sets = se.semusz;
  return c;
}

}  // namespace

IpcCounts CountIpc(const std::string& mq_dir) {
  IpcCounts c = CountSysv();
  c.shm_dir_size = DirSize("/dev/shm");
  c.mq_dir_size = DirSize(mq_dir);
  return c;
}

int64_t OpenDirSize(int dir_fd) {
  struct stat st;
  return dir_fd >= 0 && ::fstat(dir_fd, &st) == 0 ? st.st_size : -1;
}

IpcCounts CountIpcAt(int shm_dir_fd, int mq_dir_fd) {
  IpcCounts c = CountSysv();
  c.shm_dir_size = OpenDirSize(shm_dir_fd);
  c.mq_dir_size = OpenDirSize(mq_dir_fd);
  return c;
}

std::string OwnedObject::Describe() const {
  switch (kind) {
    case kSysv:
      return sysv.Describe();
    case kShm:
      return absl::StrCat("/dev/shm/", name);
    case kMq:
      return absl::StrCat("POSIX message queue /", name);
  }
  return "?";
}

std::optional<unsigned> OwnedObject::Mode() const {
  if (kind == kSysv) return sysv.mode & 0777;
  struct stat st;
  const std::string path =
      kind == kShm ? absl::StrCat("/dev/shm/", name) : absl::StrCat(mq_dir, "/", name);
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return st.st_mode & 0777;
}

void OwnedObject::Remove() const {
  switch (kind) {
    case kSysv:
      RemoveSysv(sysv);
      break;
    case kShm:
      ::unlink(absl::StrCat("/dev/shm/", name).c_str());
      break;
    case kMq:
      ::unlink(absl::StrCat(mq_dir, "/", name).c_str());
      break;
  }
}

namespace {

bool Contains(const std::vector<std::string>& sorted, const std::string& name) {
  return std::binary_search(sorted.begin(), sorted.end(), name);
}

}  // namespace

std::vector<OwnedObject> NewOwnedObjects(const IpcSnapshot& before, const IpcSnapshot& after,
                                         const Ownership& own) {
  std::vector<OwnedObject> out;
  for (const SysvObject& o : after.sysv) {
    const bool old = std::any_of(before.sysv.begin(), before.sysv.end(), [&](const SysvObject& b) {
      return b.kind == o.kind && b.id == o.id && b.key == o.key;
    });
    if (!old && (own.private_ipc || (own.own_uid && o.uid == own.uid))) {
      out.push_back({OwnedObject::kSysv, o, "", ""});
    }
  }
  for (const std::string& n : after.shm) {
    if (Contains(before.shm, n)) continue;
    if (own.private_shm || CarriesNameTag(n, own.name_tag) ||
        (own.own_uid && OwnerOf("/dev/shm/" + n) == own.uid)) {
      out.push_back({OwnedObject::kShm, {}, n, ""});
    }
  }
  for (const std::string& n : after.mq) {
    if (Contains(before.mq, n)) continue;
    if (own.private_ipc || CarriesNameTag(n, own.name_tag) ||
        (own.own_uid && OwnerOf(own.mq_dir + "/" + n) == own.uid)) {
      out.push_back({OwnedObject::kMq, {}, n, own.mq_dir});
    }
  }
  return out;
}

}  // namespace ipcspec
