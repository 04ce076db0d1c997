#include "ipcspec/sandbox.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "ipcspec/inventory.h"
#include "ipcspec/wire.h"

#if defined(__SANITIZE_ADDRESS__)
#define IPCSPEC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define IPCSPEC_ASAN 1
#endif
#endif

namespace ipcspec {
namespace {

constexpr int kReportFd = 3;
// Each case runs under its own uid, derived from its pid, so RLIMIT_NPROC
// counts only its processes and what it leaves in /dev/shm is attributable.
constexpr uid_t kCaseUidBase = 1'500'000'000;

std::string EncodeVerdict(const Verdict& v, const std::vector<std::string>& leaks) {
  WireWriter w;
  w.U8(static_cast<uint8_t>(v.outcome));
  w.Str(v.message);
  w.U32(static_cast<uint32_t>(leaks.size()));
  for (const std::string& l : leaks) w.Str(l);
  return w.Take();
}

bool DecodeVerdict(std::string_view in, Verdict* v, std::vector<std::string>* leaks) {
  WireReader r(in);
  uint8_t outcome;
  uint32_t n;
  if (!r.U8(&outcome) || outcome > static_cast<uint8_t>(Outcome::kSkipped) || !r.Str(&v->message) ||
      !r.U32(&n)) {
    return false;
  }
  v->outcome = static_cast<Outcome>(outcome);
  for (uint32_t i = 0; i < n; ++i) {
    std::string l;
    if (!r.Str(&l)) return false;
    leaks->push_back(std::move(l));
  }
  return true;
}

void ResetSignals() {
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, nullptr);
  for (int s = 1; s < NSIG; ++s) {
    if (s != SIGKILL && s != SIGSTOP) ::signal(s, SIG_DFL);
  }
}

void SetLimit(int resource, rlim_t value) {
  struct rlimit rl = {value, value};
  ::setrlimit(resource, &rl);
}

// Runs in the forked case process; never returns.
[[noreturn]] void CaseMain(const SandboxOptions& options, CaseFn fn, const std::string& scratch,
                           const std::string& mq_dir, int report_w, int out_w, pid_t parent,
                           absl::Time deadline) {
  ::setpgid(0, 0);
  ResetSignals();
  int devnull = ::open("/dev/null", O_RDONLY);
  ::dup2(devnull, 0);
  ::dup2(out_w, 1);
  ::dup2(out_w, 2);
  ::dup2(report_w, kReportFd);
  ::fcntl(kReportFd, F_SETFD, FD_CLOEXEC);
  ::close_range(kReportFd + 1, ~0U, 0);

  CaseEnv env{scratch, deadline, false};
  env.time_unit = options.time_unit;
  env.hang_grace = options.hang_grace;
  bool mq_mounted = false;
  if (options.private_ipc) {
    if (::unshare(CLONE_NEWIPC | CLONE_NEWNS) == 0) {
      env.private_ipc = true;
      mq_mounted = !mq_dir.empty() &&
                   ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 &&
                   ::mount("mqueue", mq_dir.c_str(), "mqueue", 0, nullptr) == 0;
      if (mq_mounted) env.mq_dir = mq_dir;
    } else if (::unshare(CLONE_NEWIPC) == 0) {
      env.private_ipc = true;
    }
  }
  SetLimit(RLIMIT_CORE, 0);
#ifndef IPCSPEC_ASAN
  SetLimit(RLIMIT_AS, options.max_address_space);
#endif
  if (options.drop_privileges && ::geteuid() == 0) {
    const uid_t id = kCaseUidBase + static_cast<uid_t>(::getpid());
    if (::chown(scratch.c_str(), id, id) != 0 || ::setgroups(0, nullptr) != 0 ||
        ::setresgid(id, id, id) != 0 || ::setresuid(id, id, id) != 0) {
      Verdict v = Verdict::Broken(absl::StrCat("dropping privileges failed: ", strerror(errno)));
      WriteFrame(kReportFd, EncodeVerdict(v, {}));
      ::_exit(0);
    }
    ::prctl(PR_SET_DUMPABLE, 1);
  }
  if (::geteuid() != 0) SetLimit(RLIMIT_NPROC, options.max_processes);
  env.uid = ::geteuid();
  // After the credential change, which clears it.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(125);

  Verdict verdict = fn(env);

  std::vector<std::string> leaks;
  if (env.private_ipc) {
    // Everything in this namespace is the case's own.
    for (const SysvObject& o : ListSysv()) leaks.push_back(o.Describe());
  }
  if (mq_mounted) {
    for (const std::string& n : ListDir(mq_dir)) {
      leaks.push_back(absl::StrCat("POSIX message queue /", n));
    }
  }
  WriteFrame(kReportFd, EncodeVerdict(verdict, leaks));
  ::_exit(0);
}

std::string TempRoot() {
  const char* t = std::getenv("TMPDIR");
  return (t != nullptr && *t != '\0') ? t : "/tmp";
}

std::string MakeTempDir(const std::string& stem, mode_t mode) {
  std::string path = TempRoot() + "/" + stem + "-XXXXXX";
  if (::mkdtemp(path.data()) == nullptr) return "";
  ::chmod(path.c_str(), mode);
  return path;
}

// Reads what is available on fd into out (up to limit, counting the rest as
// dropped). Returns false at end of file or error.
bool Drain(int fd, std::string* out, size_t limit, uint64_t* dropped) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno == EAGAIN;
    if (n == 0) return false;
    size_t keep = std::min(static_cast<size_t>(n), limit - std::min(limit, out->size()));
    out->append(buf, keep);
    if (dropped != nullptr) *dropped += static_cast<uint64_t>(n) - keep;
    if (static_cast<size_t>(n) < sizeof buf) return true;
  }
}

// Kills and reaps every child of this process; returns a description of
// each one that was still alive.
std::vector<std::string> KillStrays() {
  std::vector<std::string> strays;
  std::set<pid_t> seen;
  for (int round = 0; round < 1000; ++round) {
    std::vector<pid_t> kids = ChildrenOfSelf();
    if (kids.empty()) break;
    for (pid_t p : kids) {
      if (seen.insert(p).second) {
        strays.push_back(absl::StrFormat("process %d (%s)", p, CommOf(p)));
      }
      ::kill(p, SIGKILL);
    }
    for (pid_t p : kids) ::waitpid(p, nullptr, 0);
  }
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  return strays;
}

}  // namespace

std::string_view OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kPass:
      return "pass";
    case Outcome::kFail:
      return "fail";
    case Outcome::kCrashed:
      return "crashed";
    case Outcome::kTimeout:
      return "timeout";
    case Outcome::kBroken:
      return "broken";
    case Outcome::kUnsupported:
      return "unsupported";
    case Outcome::kLeaked:
      return "leaked";
    case Outcome::kSkipped:
      return "skipped";
  }
  return "?";
}

std::optional<Outcome> ParseOutcome(std::string_view name) {
  for (int i = 0; i <= static_cast<int>(Outcome::kSkipped); ++i) {
    if (OutcomeName(static_cast<Outcome>(i)) == name) return static_cast<Outcome>(i);
  }
  return std::nullopt;
}

std::string SignalName(int sig) {
  if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
    return sig == SIGRTMIN ? "SIGRTMIN" : absl::StrCat("SIGRTMIN+", sig - SIGRTMIN);
  }
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? absl::StrCat("SIG", abbrev) : absl::StrCat("signal ", sig);
}

CaseResult RunCase(const SandboxOptions& options, CaseFn fn) {
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + options.timeout;
  CaseResult result;
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);

  const std::string scratch = MakeTempDir("ipcspec", 0700);
  if (scratch.empty()) {
    result.message = absl::StrCat("mkdtemp in ", TempRoot(), ": ", strerror(errno));
    return result;
  }
  const bool root = ::geteuid() == 0;
  const std::string mq_dir = options.private_ipc && root ? MakeTempDir("ipcspec-mq", 0711) : "";
  const std::vector<std::string> shm_before = ListDir("/dev/shm");
  std::vector<SysvObject> sysv_before;
  if (!options.private_ipc) sysv_before = ListSysv();

  int report[2], out[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    result.message = absl::StrCat("pipe2: ", strerror(errno));
    return result;
  }
  FileDescriptor report_r(report[0]), report_w(report[1]);
  if (::pipe2(out, O_CLOEXEC) != 0) {
    result.message = absl::StrCat("pipe2: ", strerror(errno));
    return result;
  }
  FileDescriptor out_r(out[0]), out_w(out[1]);

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    result.message = absl::StrCat("fork: ", strerror(errno));
    RemoveTree(scratch);
    if (!mq_dir.empty()) ::rmdir(mq_dir.c_str());
    return result;
  }
  if (pid == 0)
    CaseMain(options, fn, scratch, mq_dir, report_w.get(), out_w.get(), parent, deadline);
  ::setpgid(pid, pid);  // also done by the child; whichever runs first wins
  report_w.reset();
  out_w.reset();
  SetNonBlocking(report_r.get(), true);
  SetNonBlocking(out_r.get(), true);
  FileDescriptor pidfd(PidfdOpen(pid));

  std::string report_bytes;
  bool report_open = true, out_open = true, exited = false, timed_out = false;
  int status = 0;
  while (!exited) {
    struct pollfd fds[3] = {{report_open ? report_r.get() : -1, POLLIN, 0},
                            {out_open ? out_r.get() : -1, POLLIN, 0},
                            {pidfd.get(), POLLIN, 0}};
    const Deadline d = Deadline::After(deadline - absl::Now());
    int n = ::poll(fds, 3, pidfd ? d.RemainingMs() : std::min(d.RemainingMs(), 10));
    if (n < 0 && errno != EINTR) break;
    if (fds[0].revents) report_open = Drain(report_r.get(), &report_bytes, 1 << 26, nullptr);
    if (fds[1].revents) {
      out_open = Drain(out_r.get(), &result.output, options.output_limit, &result.output_dropped);
    }
    if (::waitpid(pid, &status, WNOHANG) == pid) exited = true;
    if (!exited && absl::Now() >= deadline) {
      timed_out = true;
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      exited = true;
    }
  }
  // The case process is gone. Anything left in its group, or escaped from
  // it, was not cleaned up by the case.
  const bool group_alive = ::kill(-pid, 0) == 0;
  ::kill(-pid, SIGKILL);
  std::vector<std::string> strays = KillStrays();
  Drain(report_r.get(), &report_bytes, 1 << 26, nullptr);
  Drain(out_r.get(), &result.output, options.output_limit, &result.output_dropped);

  std::vector<std::string> leaks;
  Verdict verdict;
  WireReader frame(report_bytes);
  std::string payload;
  const bool reported = frame.Str(&payload) && DecodeVerdict(payload, &verdict, &leaks);
  if (!timed_out && (group_alive || !strays.empty())) {
    if (strays.empty()) strays.push_back("processes in the case's process group");
    for (std::string& s : strays) leaks.push_back(std::move(s));
  }

  // File-system nodes and names outside the namespace.
  for (const std::string& n : ListDir(scratch)) {
    leaks.push_back(absl::StrCat("file-system node ", scratch, "/", n));
  }
  RemoveTree(scratch);
  if (!mq_dir.empty()) {
    ::umount2(mq_dir.c_str(), MNT_DETACH);
    ::rmdir(mq_dir.c_str());
  }
  const std::set<std::string> before(shm_before.begin(), shm_before.end());
  const uid_t case_uid =
      options.drop_privileges && root ? kCaseUidBase + static_cast<uid_t>(pid) : ::geteuid();
  for (const std::string& n : ListDir("/dev/shm")) {
    const std::string path = "/dev/shm/" + n;
    if (before.count(n) == 0 && OwnerOf(path) == case_uid) {
      leaks.push_back(absl::StrCat("/dev/shm/", n));
      ::unlink(path.c_str());
    }
  }
  if (!options.private_ipc) {
    for (const SysvObject& o : ListSysv()) {
      bool old = std::any_of(sysv_before.begin(), sysv_before.end(),
                             [&](const SysvObject& b) { return b.kind == o.kind && b.id == o.id; });
      if (!old && o.uid == case_uid) {
        leaks.push_back(o.Describe());
        RemoveSysv(o);
      }
    }
  }

  result.elapsed = absl::Now() - start;
  result.leaks = leaks;
  if (timed_out) {
    result.outcome = Outcome::kTimeout;
    result.message = absl::StrFormat("no verdict within %s; process group killed",
                                     absl::FormatDuration(options.timeout));
  } else if (reported) {
    result.outcome = verdict.outcome;
    result.message = verdict.message;
  } else if (WIFSIGNALED(status)) {
    result.outcome = Outcome::kCrashed;
    result.signal = WTERMSIG(status);
    result.message = absl::StrCat("case process killed by ", SignalName(result.signal));
  } else {
    result.outcome = Outcome::kCrashed;
    result.message = absl::StrFormat("case process exited with status %d without a verdict",
                                     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  }
  if (!leaks.empty()) {
    const std::string what = absl::StrCat("left behind: ", absl::StrJoin(leaks, ", "));
    if (result.outcome == Outcome::kPass) {
      result.outcome = Outcome::kLeaked;
      result.message = what;
    } else {
      result.message = absl::StrCat(result.message, result.message.empty() ? "" : "; ", what);
    }
  }
  return result;
}

}  // namespace ipcspec
