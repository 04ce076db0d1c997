// RunCase: one case in a forked, isolated, bounded process, and what it left.
#include "ipcspec/sandbox.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
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
namespace {

using internal::CaseFacts;
using internal::DecodeFacts;
using internal::DecodeVerdict;
using internal::EncodeFacts;
using internal::EncodeVerdict;
using internal::FinishCase;
using internal::kReportFd;

// A case forked ahead of its work reads it here (PendingCase).
constexpr int kGoFd = 4;
// Each case runs under its own uid, derived from its pid, so RLIMIT_NPROC
// counts only its processes and what it leaves in /dev/shm is attributable.
constexpr uid_t kCaseUidBase = 1'500'000'000;

// What the parent prepared for one case.
struct CasePlan {
  std::string scratch;
  std::string mq_dir;  // per-case mqueue mount point (no lasting isolation, root)
  IpcSnapshot before;  // what is shared with the case, before it ran
  uint32_t tag = 0;
  FileDescriptor report_r, report_w, out_r, out_w;
  FileDescriptor go_r, go_w;  // a case forked ahead: its work comes on go_r
  bool own_uid = false;
};

void SetLimit(int resource, rlim_t value) {
  struct rlimit rl = {value, value};
  ::setrlimit(resource, &rl);
}

// Step 1 of the case process: its own group, clean signals, stdio to the
// capture pipe, the report pipe on fd 3, the go channel (if any) on fd 4 and
// nothing else open.
void EnterCaseProcess(int report_w, int out_w, int go_r) {
  ::setpgid(0, 0);
  const internal::Lasting& lasting = internal::LastingIsolation();
  if (!lasting.signals_clean) {
    internal::ResetSignals();
  } else if (lasting.child_exits >= 0) {
    sigset_t none;  // the server's blocked SIGCHLD is not the case's
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
  }
  // Out of the way of the descriptors about to be placed.
  if (go_r >= 0 && go_r <= kGoFd) go_r = ::fcntl(go_r, F_DUPFD_CLOEXEC, kGoFd + 1);
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
  ::close_range(go_r >= 0 ? kGoFd + 1 : kReportFd + 1, ~0U, 0);
}

// Step 2: namespaces (unless the process that forked it has lasting ones),
// limits and, as root, the case's own uid. False with a broken verdict sent.
bool ConfineCase(const SandboxOptions& options, const CasePlan& plan, CaseEnv* env) {
  const internal::Lasting& lasting = internal::LastingIsolation();
  IsolationFacts facts = lasting.facts;
  if (!lasting.active && options.private_ipc) facts = internal::IsolateThisCase(plan.mq_dir);
  env->private_ipc = facts.private_ipc;
  env->private_shm = facts.private_shm;
  env->mq_dir = facts.mq_dir;
  SetLimit(RLIMIT_CORE, 0);
#ifndef IPCSPEC_ASAN
  if (&__asan_init == nullptr) SetLimit(RLIMIT_AS, options.max_address_space);
#endif
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

// The case process up to its work: entered, confined, tied to its parent,
// its facts told when the parent needs them first. Exits (with a broken
// verdict sent) when the case cannot run.
void SetUpCase(const SandboxOptions& options, const CasePlan& plan, pid_t parent, CaseEnv* env) {
  EnterCaseProcess(plan.report_w.get(), plan.out_w.get(), plan.go_r.get());
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

// The timing of a case: SandboxOptions' share that reaches the case.
void SetTiming(CaseEnv* env, absl::Time deadline, absl::Duration unit, absl::Duration grace) {
  env->deadline = deadline;
  env->time_unit = unit;
  env->hang_grace = grace;
  SetHangGrace(grace);
}

// Runs in the forked case process; never returns.
[[noreturn]] void CaseMain(const SandboxOptions& options, CaseFn fn, const CasePlan& plan,
                           pid_t parent, absl::Time deadline) {
  CaseEnv env;
  SetTiming(&env, deadline, options.time_unit, options.hang_grace);
  SetUpCase(options, plan, parent, &env);
  internal::BeginCaseWork(env);
  FinishCase(env, fn(env));
}

// What a case forked ahead is given when its turn comes.
std::string EncodeGo(absl::Time deadline, const SandboxOptions& timing, std::string_view work) {
  WireWriter w;
  w.U64(static_cast<uint64_t>(absl::ToUnixNanos(deadline)));
  w.U64(static_cast<uint64_t>(absl::ToInt64Nanoseconds(timing.time_unit)));
  w.U64(static_cast<uint64_t>(absl::ToInt64Nanoseconds(timing.hang_grace)));
  w.Str(work);
  return w.Take();
}

// A case forked ahead: set up, then asleep until its work comes (or its
// channel closes: a case never used ends quietly); never returns.
[[noreturn]] void PendingMain(const SandboxOptions& options, PendingCase::Work work,
                              const CasePlan& plan, pid_t parent) {
  CaseEnv env;
  SetUpCase(options, plan, parent, &env);
  std::string go, what;
  uint64_t deadline_ns, unit_ns, grace_ns;
  if (ReadFrame(kGoFd, &go) != 0) ::_exit(0);
  ::close(kGoFd);
  WireReader r(go);
  if (!r.U64(&deadline_ns) || !r.U64(&unit_ns) || !r.U64(&grace_ns) || !r.Str(&what)) {
    FinishCase(env, Verdict::Broken("a malformed go message"));
  }
  SetTiming(&env, absl::FromUnixNanos(static_cast<int64_t>(deadline_ns)),
            absl::Nanoseconds(static_cast<int64_t>(unit_ns)),
            absl::Nanoseconds(static_cast<int64_t>(grace_ns)));
  internal::BeginCaseWork(env);
  FinishCase(env, work(what, env));
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
  // No child at all, alive or not, needs no listing (WNOWAIT: nothing reaped).
  siginfo_t info;
  if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 && errno == ECHILD) return strays;
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

std::string MakeScratch() {
  static uint64_t counter = 0;
  const internal::Lasting& lasting = internal::LastingIsolation();
  if (lasting.scratch_root.empty()) return MakeTempDir("ipcspec", 0700);
  std::string path = absl::StrFormat("%s/case-%d", lasting.scratch_root, ++counter);
  return ::mkdir(path.c_str(), 0700) == 0 ? path : "";
}

// The parent's part before the fork: scratch directory, mqueue mount point,
// what the case shares with us as it is now, the pipes (and, for a case
// forked `ahead` of its work, its go channel). False with result->message set.
bool PrepareCase(const SandboxOptions& options, bool ahead, CasePlan* plan, CaseResult* result) {
  const internal::Lasting& lasting = internal::LastingIsolation();
  const bool root = ::geteuid() == 0;
  plan->own_uid = options.drop_privileges && root;
  absl::BitGen gen;
  plan->tag = absl::Uniform<uint32_t>(gen) | 1;
  plan->scratch = MakeScratch();
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

// What watching the case process until it exits (or its deadline) gave.
struct Supervision {
  int status = 0;
  bool timed_out = false;
  std::string report;
  bool report_open = true, out_open = true;  // no end of file seen yet
};

// Whether the report holds both of its frames (the facts and the verdict):
// after that the case process does nothing but exit.
bool ReportComplete(const std::string& report) {
  WireReader r(report, 1 << 26);
  std::string facts, verdict;
  return r.Str(&facts) && r.Str(&verdict);
}

Supervision Supervise(pid_t pid, const CasePlan& plan, const SandboxOptions& options,
                      absl::Time deadline, CaseResult* result) {
  Supervision sup;
  SetNonBlocking(plan.report_r.get(), true);
  SetNonBlocking(plan.out_r.get(), true);
  // The case's exit: the fork server's SIGCHLD signalfd, or a pidfd.
  const int child_exits = internal::LastingIsolation().child_exits;
  FileDescriptor pidfd(child_exits >= 0 ? -1 : PidfdOpen(pid));
  const int exit_fd = child_exits >= 0 ? child_exits : (pidfd ? pidfd.get() : -1);
  bool complete = false;
  for (;;) {
    // Once the report is complete, only the exit is waited for: the pipes'
    // ends of file would each wake us on the way, and what is left in them
    // is read after the exit.
    const bool pipes = !complete || exit_fd < 0;
    struct pollfd fds[3] = {{sup.report_open && pipes ? plan.report_r.get() : -1, POLLIN, 0},
                            {sup.out_open && pipes ? plan.out_r.get() : -1, POLLIN, 0},
                            {exit_fd, POLLIN, 0}};
    const Deadline d = Deadline::After(deadline - absl::Now());
    int n = ::poll(fds, 3, exit_fd >= 0 ? d.RemainingMs() : std::min(d.RemainingMs(), 10));
    if (n < 0 && errno != EINTR) break;
    if (fds[0].revents) {
      sup.report_open = Drain(plan.report_r.get(), &sup.report, 1 << 26, nullptr);
      complete = ReportComplete(sup.report);
    }
    if (fds[1].revents) {
      sup.out_open =
          Drain(plan.out_r.get(), &result->output, options.output_limit, &result->output_dropped);
    }
    if (fds[2].revents && child_exits >= 0) {
      // SIGCHLD is pending no more (one read: it does not queue); waitpid says whose.
      struct signalfd_siginfo info;
      [[maybe_unused]] ssize_t got = ::read(child_exits, &info, sizeof info);
    }
    if ((exit_fd >= 0 && fds[2].revents == 0) && n != 0) continue;
    if (::waitpid(pid, &sup.status, WNOHANG) == pid) return sup;
    if (absl::Now() >= deadline) {
      sup.timed_out = true;
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &sup.status, 0);
      return sup;
    }
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &sup.status, 0);
  return sup;
}

// The objects the case left that this process can see, removed.
std::vector<std::string> FindLeftObjects(const CasePlan& plan, const CaseFacts& facts) {
  const internal::Lasting& lasting = internal::LastingIsolation();
  Ownership own;
  own.uid = facts.uid;
  own.own_uid = facts.own_uid;
  own.name_tag = plan.tag;
  IpcSnapshot after;
  if (lasting.empty && CountIpc(lasting.facts.mq_dir) == *lasting.empty) {
    return {};  // the namespace is as empty as it began: the case left nothing there
  }
  if (lasting.active) {
    // The case ran in our namespace: what is private there is all its own.
    own.private_ipc = lasting.facts.private_ipc;
    own.private_shm = lasting.facts.private_shm;
    own.mq_dir = lasting.facts.mq_dir;
    after = TakeIpcSnapshot(own.mq_dir);
  } else {
    // Only what the case shares with us is ours to look at; what was in a
    // namespace of its own it reported itself.
    if (!facts.isolation.private_ipc) after.sysv = ListSysv();
    if (!facts.isolation.private_shm) after.shm = ListDir("/dev/shm");
  }
  std::vector<std::string> leaks;
  for (const OwnedObject& o : NewOwnedObjects(plan.before, after, own)) {
    leaks.push_back(o.Describe());
    o.Remove();
  }
  return leaks;
}

// The file-system nodes left in the scratch directory, which is removed.
std::vector<std::string> ClearScratch(const CasePlan& plan) {
  std::vector<std::string> leaks;
  // An empty directory goes in one call; only one that is not is listed.
  if (::rmdir(plan.scratch.c_str()) != 0) {
    for (const std::string& n : ListDir(plan.scratch)) {
      leaks.push_back(absl::StrCat("file-system node ", plan.scratch, "/", n));
    }
    RemoveTree(plan.scratch);
  }
  if (!plan.mq_dir.empty()) {
    ::umount2(plan.mq_dir.c_str(), MNT_DETACH);
    ::rmdir(plan.mq_dir.c_str());
  }
  return leaks;
}

// The outcome from the report (or the wait status), with the leaks added.
void Conclude(const SandboxOptions& options, const Supervision& sup, bool reported,
              const Verdict& verdict, std::vector<std::string> leaks, CaseResult* result) {
  result->leaks = leaks;
  if (sup.timed_out) {
    result->outcome = Outcome::kTimeout;
    result->message = absl::StrFormat("no verdict within %s; process group killed",
                                      absl::FormatDuration(options.timeout));
  } else if (reported) {
    result->outcome = verdict.outcome;
    result->message = verdict.message;
  } else if (WIFSIGNALED(sup.status)) {
    result->outcome = Outcome::kCrashed;
    result->signal = WTERMSIG(sup.status);
    result->message = absl::StrCat("case process killed by ", SignalName(result->signal));
  } else {
    result->outcome = Outcome::kCrashed;
    result->message = absl::StrFormat("case process exited with status %d without a verdict",
                                      WIFEXITED(sup.status) ? WEXITSTATUS(sup.status) : -1);
  }
  if (leaks.empty()) return;
  const std::string what = absl::StrCat("left behind: ", absl::StrJoin(leaks, ", "));
  if (result->outcome == Outcome::kPass) {
    result->outcome = Outcome::kLeaked;
    result->message = what;
  } else {
    result->message = absl::StrCat(result->message, result->message.empty() ? "" : "; ", what);
  }
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

namespace {

// The parent's part after the fork: the case process started at `start` is
// watched to its end, then everything it left is found and removed.
CaseResult WatchCase(const SandboxOptions& options, CasePlan& plan, pid_t pid, absl::Time start,
                     absl::Time deadline) {
  CaseResult result;
  Supervision sup = Supervise(pid, plan, options, deadline, &result);

  // The case process is gone. Anything left in its group, or escaped from
  // it, was not cleaned up by the case.
  const bool group_alive = ::kill(-pid, 0) == 0;
  if (group_alive) ::kill(-pid, SIGKILL);
  std::vector<std::string> strays = KillStrays();
  if (sup.report_open) Drain(plan.report_r.get(), &sup.report, 1 << 26, nullptr);
  if (sup.out_open) {
    Drain(plan.out_r.get(), &result.output, options.output_limit, &result.output_dropped);
  }

  // The report: the case's facts, then its verdict and in-namespace leaks.
  CaseFacts facts;
  facts.uid = plan.own_uid ? kCaseUidBase + static_cast<uid_t>(pid) : ::geteuid();
  facts.own_uid = plan.own_uid;
  std::vector<std::string> leaks;
  Verdict verdict;
  WireReader frames(sup.report);
  std::string first, second;
  if (frames.Str(&first)) {
    WireReader fr(first);
    DecodeFacts(fr, &facts);
  }
  const bool reported = frames.Str(&second) && DecodeVerdict(second, &verdict, &leaks);
  if (!sup.timed_out && (group_alive || !strays.empty())) {
    if (strays.empty()) strays.push_back("processes in the case's process group");
    for (std::string& s : strays) leaks.push_back(std::move(s));
  }
  for (std::string& l : ClearScratch(plan)) leaks.push_back(std::move(l));
  for (std::string& l : FindLeftObjects(plan, facts)) leaks.push_back(std::move(l));
  result.elapsed = absl::Now() - start;
  Conclude(options, sup, reported, verdict, std::move(leaks), &result);
  return result;
}

// The parent's part right after the fork.
void AdoptCase(pid_t pid, CasePlan& plan) {
  ::setpgid(pid, pid);  // also done by the child; whichever runs first wins
  plan.report_w.reset();
  plan.out_w.reset();
  plan.go_r.reset();
}

}  // namespace

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

struct PendingCase::State {
  SandboxOptions options;
  CasePlan plan;
  pid_t pid = -1;
};

absl::StatusOr<std::unique_ptr<PendingCase>> PendingCase::Fork(const SandboxOptions& options,
                                                               Work work) {
  if (!internal::LastingIsolation().signals_clean) ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  auto state = std::make_unique<State>();
  state->options = options;
  CaseResult failed;
  if (!PrepareCase(options, /*ahead=*/true, &state->plan, &failed)) {
    if (!state->plan.scratch.empty()) ClearScratch(state->plan);
    return absl::InternalError(failed.message);
  }
  const pid_t parent = ::getpid();
  state->pid = ::fork();
  if (state->pid < 0) {
    ClearScratch(state->plan);
    return ErrnoStatus("fork", "a case ahead of its work");
  }
  if (state->pid == 0) PendingMain(options, work, state->plan, parent);
  AdoptCase(state->pid, state->plan);
  return std::unique_ptr<PendingCase>(new PendingCase(std::move(state)));
}

PendingCase::PendingCase(std::unique_ptr<State> state) : state_(std::move(state)) {}

PendingCase::~PendingCase() {
  if (state_ == nullptr) return;
  // Never given work: it ends quietly, and its scratch goes with it.
  ::kill(-state_->pid, SIGKILL);
  ::kill(state_->pid, SIGKILL);
  ::waitpid(state_->pid, nullptr, 0);
  ClearScratch(state_->plan);
}

CaseResult PendingCase::Run(const SandboxOptions& timing, std::string_view work) && {
  std::unique_ptr<State> state = std::move(state_);
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + timing.timeout;
  WireWriter frame;
  frame.Str(EncodeGo(deadline, timing, work));
  const std::string& bytes = frame.data();
  // A case that died before its work (it could not drop privileges, say)
  // has said why in its report: what is not sent is not needed.
  for (size_t off = 0; off < bytes.size();) {
    const ssize_t n =
        ::send(state->plan.go_w.get(), bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  state->plan.go_w.reset();
  SandboxOptions o = state->options;
  o.timeout = timing.timeout;
  o.time_unit = timing.time_unit;
  o.hang_grace = timing.hang_grace;
  return WatchCase(o, state->plan, state->pid, start, deadline);
}

}  // namespace ipcspec
