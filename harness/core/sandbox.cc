// RunCase: one case in a forked, isolated, bounded process. Here: the case's
// set-up, in the parent (PrepareCase) and in the case process (SetUpCase);
// case_watch.cc watches it to its end, pending_case.cc forks one ahead.
#include "ipcspec/sandbox.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
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
#include "case_plan.h"
#include "case_process.h"
#include "ipcspec/inventory.h"
#include "ipcspec/watch.h"
#include "ipcspec/wire.h"
#include "isolation.h"

#if defined(__SANITIZE_ADDRESS__)
#define IPCSPEC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define IPCSPEC_ASAN 1
#endif
#endif

// Defined when the program runs under AddressSanitizer, even if this
// library was built without it (an installed harness linked into a
// sanitized fuzz target): ASan's shadow memory does not fit RLIMIT_AS.
extern "C" void __asan_init() __attribute__((weak));

namespace ipcspec {
namespace internal {
namespace {

void SetLimit(int resource, rlim_t value) {
  struct rlimit rl = {value, value};
  ::setrlimit(resource, &rl);
}

// Step 1 of the case process: its own group, clean signals, stdio to the
// capture pipe, the report pipe on fd 3, the go channel (if any) on fd 4,
// the watch board's wake-up descriptor and nothing else open. Returns where
// that descriptor is now.
int EnterCaseProcess(int report_w, int out_w, int go_r, int wake_fd) {
  ::setpgid(0, 0);
  const internal::Lasting& lasting = internal::LastingIsolation();
  if (!lasting.signals_clean) {
    internal::ResetSignals();
  } else {
    ::signal(SIGTERM, SIG_DFL);  // the server's (EndWhenOrphaned) is not the case's
    if (lasting.child_exits >= 0) {
      sigset_t none;  // nor is its blocked SIGCHLD
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
    }
  }
  // Out of the way of the descriptors about to be placed.
  if (go_r >= 0 && go_r <= kGoFd) go_r = ::fcntl(go_r, F_DUPFD_CLOEXEC, kGoFd + 1);
  if (wake_fd <= kGoFd) wake_fd = ::fcntl(wake_fd, F_DUPFD_CLOEXEC, kGoFd + 1);
  int devnull = ::open("/dev/null", O_RDONLY);
  ::dup2(devnull, 0);
  ::dup2(out_w, 1);
  ::dup2(out_w, 2);
  if (report_w == kReportFd) {
    ::fcntl(kReportFd, F_SETFD, FD_CLOEXEC);
  } else {
    ::dup3(report_w, kReportFd, O_CLOEXEC);
  }
  if (go_r >= 0) ::dup3(go_r, kGoFd, O_CLOEXEC);
  // What is left is closed while the table is small (a range is closed one
  // slot at a time); the watch board's wake-up descriptor stays, and is
  // moved high afterwards (SetUpCase).
  const unsigned from = go_r >= 0 ? kGoFd + 1 : kReportFd + 1;
  const auto wake = static_cast<unsigned>(wake_fd);
  if (wake > from) ::close_range(from, wake - 1, 0);
  ::close_range(std::max(from, wake + 1), ~0U, 0);
  return wake_fd;
}

// A board for the next case: one no case holds any more, or a new one.
// Only one this process made: a board is shared memory, so one made before
// a fork (a plugin probed in a case of the main process, then the fork
// servers forked) is the same board in every process that inherited it,
// and two cases on it would judge, and reset, each other's participants.
// Inherited ones are kept (not unmapped: their wake-up descriptors may be
// closed or reused here by now), never handed out.
std::shared_ptr<WatchBoard> FreeBoard() {
  struct Made {
    pid_t by;
    std::shared_ptr<WatchBoard> board;
  };
  static std::vector<Made> boards;
  const pid_t self = ::getpid();
  for (const Made& m : boards) {
    if (m.by == self && m.board.use_count() == 1) return m.board;
  }
  boards.push_back({self, std::make_shared<WatchBoard>()});
  return boards.back().board;
}

// /dev/userfaultfd, kept from before the case gave up root.
int g_userfaultfd_device = -1;

// Step 2: namespaces (unless the process that forked it has lasting ones),
// limits and, as root, the case's own uid. False with a broken verdict sent.
bool ConfineCase(const SandboxOptions& options, const CasePlan& plan, CaseEnv* env) {
  const internal::Lasting& lasting = internal::LastingIsolation();
  IsolationFacts facts = lasting.facts;
  if (!lasting.active && options.private_ipc) facts = internal::IsolateThisCase(plan.mq_dir);
  if (lasting.active && lasting.own_user) internal::DropNamespaceCapabilities();
  env->private_ipc = facts.private_ipc;
  env->private_shm = facts.private_shm;
  env->mq_dir = facts.mq_dir;
  SetLimit(RLIMIT_CORE, 0);
#ifndef IPCSPEC_ASAN
  if (&__asan_init == nullptr) SetLimit(RLIMIT_AS, options.max_address_space);
#endif
  if (plan.own_uid && g_userfaultfd_device < 0) {
    g_userfaultfd_device = ::open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
  }
  if (plan.own_uid) {
    const uid_t id = kCaseUidBase + static_cast<uid_t>(::getpid());
    if (::chown(plan.scratch.c_str(), id, id) != 0 || ::setgroups(0, nullptr) != 0 ||
        ::setresgid(id, id, id) != 0 || ::setresuid(id, id, id) != 0) {
      Verdict v = Verdict::Broken(absl::StrCat("dropping privileges failed: ", strerror(errno)));
      WriteFrame(kReportFd, EncodeFacts(*env));
      WriteFrame(kReportFd, EncodeVerdict(v, {}));
      return false;
    }
    ::prctl(PR_SET_DUMPABLE, 1);
  }
  env->uid = ::geteuid();
  if (env->uid != 0) SetLimit(RLIMIT_NPROC, options.max_processes);
  env->own_uid = plan.own_uid;
  return true;
}

// A case with a user of its own (own_uid) must reach it.
std::string MakeScratch(bool own_uid) {
  static uint64_t counter = 0;
  const internal::Lasting& lasting = internal::LastingIsolation();
  if (lasting.scratch_root.empty()) {
    return MakeTempDirIn(own_uid ? SearchableTempRoot() : TempRoot(), "ipcspec", 0700);
  }
  std::string path = absl::StrFormat("%s/case-%d", lasting.scratch_root, ++counter);
  return ::mkdir(path.c_str(), 0700) == 0 ? path : "";
}

}  // namespace

// The case process up to its work: entered, confined, tied to its parent,
// its facts told when the parent needs them first. Exits (with a broken
// verdict sent) when the case cannot run.
void SetUpCase(const SandboxOptions& options, const CasePlan& plan, pid_t parent, CaseEnv* env) {
  const int wake = EnterCaseProcess(plan.report_w.get(), plan.out_w.get(), plan.go_r.get(),
                                    plan.board->wake_fd());
  plan.board->RaiseWakeFd(wake);
  QuietSigpipe();
  SetCaseBoard(plan.board.get());
  SetNameTag(plan.tag);
  env->scratch_dir = plan.scratch;
  env->name_tag = plan.tag;
  if (!ConfineCase(options, plan, env)) ::_exit(0);
  // After the credential change, which clears it.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(125);
  // The parent needs the facts before the case runs only when they are the
  // case's own (a case that dies early must still be inventoried where it
  // ran); under lasting isolation it knows them, and they travel with the
  // verdict, so the parent is woken once.
  if (!internal::LastingIsolation().active) WriteFrame(kReportFd, EncodeFacts(*env));
}

int UserfaultfdDevice() { return g_userfaultfd_device; }

// The timing of a case: SandboxOptions' share that reaches the case.
void SetTiming(CaseEnv* env, absl::Time deadline, absl::Duration unit, absl::Duration grace) {
  env->deadline = deadline;
  env->time_unit = unit;
  env->hang_grace = grace;
  SetHangGrace(grace);
}

// The parent's part before the fork: scratch directory, mqueue mount point,
// what the case shares with us as it is now, the pipes (and, for a case
// forked `ahead` of its work, its go channel). False with result->message set.
bool PrepareCase(const SandboxOptions& options, bool ahead, CasePlan* plan, CaseResult* result) {
  const internal::Lasting& lasting = internal::LastingIsolation();
  const bool root = ::geteuid() == 0;
  plan->own_uid = options.drop_privileges && root;
  plan->board = FreeBoard();
  plan->tag = OsRandom32() | 1;  // several fork servers forked from one must not repeat
  plan->scratch = MakeScratch(plan->own_uid);
  if (plan->scratch.empty()) {
    result->message = absl::StrCat("mkdtemp in ", TempRoot(), ": ", strerror(errno));
    return false;
  }
  if (!lasting.active && options.private_ipc && root) {
    plan->mq_dir = MakeTempDir("ipcspec-mq", 0711);
  }
  if (!lasting.facts.private_shm) plan->before.shm = ListDir("/dev/shm");
  if (!lasting.facts.private_ipc) plan->before.sysv = ListSysv();
  int report[2], out[2];
  if (::pipe2(report, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) {
    result->message = absl::StrCat("pipe2: ", strerror(errno));
    return false;
  }
  plan->report_r.reset(report[0]);
  plan->report_w.reset(report[1]);
  plan->out_r.reset(out[0]);
  plan->out_w.reset(out[1]);
  if (ahead) {
    // A socket, not a pipe: a go sent to a case that has died must fail
    // with EPIPE (MSG_NOSIGNAL) rather than raise SIGPIPE in this process.
    int go[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, go) != 0) {
      result->message = absl::StrCat("socketpair: ", strerror(errno));
      return false;
    }
    plan->go_r.reset(go[0]);
    plan->go_w.reset(go[1]);
  }
  return true;
}

}  // namespace internal

int NewCaseUserfaultfd(int flags) {
  const int fd = static_cast<int>(::syscall(SYS_userfaultfd, flags));
  if (fd >= 0 || errno != EPERM || internal::g_userfaultfd_device < 0) return fd;
  return ::ioctl(internal::g_userfaultfd_device, USERFAULTFD_IOC_NEW, flags);
}

namespace {

using internal::AdoptCase;
using internal::CasePlan;
using internal::ClearScratch;
using internal::FinishCase;
using internal::PrepareCase;
using internal::SetTiming;
using internal::SetUpCase;
using internal::WatchCase;

// Runs in the forked case process; never returns.
[[noreturn]] void CaseMain(const SandboxOptions& options, CaseFn fn, const CasePlan& plan,
                           pid_t parent, absl::Time deadline) {
  CaseEnv env;
  SetTiming(&env, deadline, options.time_unit, options.hang_grace);
  SetUpCase(options, plan, parent, &env);
  FinishCase(env, fn(env));
}

}  // namespace

std::string_view OutcomeName(Outcome o) {
  // In the enum's order.
  static constexpr std::string_view kNames[] = {"pass",   "fail",        "crashed", "timeout",
                                                "broken", "unsupported", "leaked",  "skipped"};
  static_assert(std::size(kNames) == static_cast<size_t>(Outcome::kSkipped) + 1);
  const auto i = static_cast<size_t>(o);
  return i < std::size(kNames) ? kNames[i] : "?";
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
  if (!internal::LastingIsolation().signals_clean) ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  CasePlan plan;
  if (!PrepareCase(options, /*ahead=*/false, &plan, &result)) {
    if (!plan.scratch.empty()) ClearScratch(plan);
    return result;
  }
  plan.board->Reset(options.hang_grace, start, deadline);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    result.message = absl::StrCat("fork: ", strerror(errno));
    ClearScratch(plan);
    return result;
  }
  if (pid == 0) CaseMain(options, fn, plan, parent, deadline);
  AdoptCase(pid, plan);
  return WatchCase(options, plan, pid, start, deadline);
}

}  // namespace ipcspec
