// Watching a case process to its end: its report and output, its exit or
// its deadline, then what it left (processes, IPC objects, scratch nodes),
// reported and removed (case_plan.h).
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <set>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "case_plan.h"
#include "case_process.h"
#include "ipcspec/proc.h"
#include "ipcspec/watch.h"
#include "ipcspec/wire.h"
#include "isolation.h"

namespace ipcspec::internal {
namespace {

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
        strays.push_back(DescribeProcess(p));
      }
      ::kill(p, SIGKILL);
    }
    for (pid_t p : kids) ::waitpid(p, nullptr, 0);
  }
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  return strays;
}

// What watching the case process until it exits (or its deadline) gave.
struct Supervision {
  int status = 0;
  bool timed_out = false;
  std::optional<Verdict> cut_short;  // the case ended here: a hang, or a participant's death
  std::string report;
  bool report_open = true, out_open = true;  // no end of file seen yet
};

// The case's watch board, watched from here (ipcspec/watch.h): a hang ends
// the case as `timeout` with its diagnosis. While the case process runs a
// participant itself (Participants::RunHere), nobody else sees the others
// die, so their pidfds are watched here too.
class BoardWatch {
 public:
  BoardWatch(WatchBoard* board, pid_t case_pid, absl::Time first_look)
      : board_(board), case_pid_(case_pid), next_(first_look) {}

  absl::Time next() const { return next_; }
  // The descriptors to poll, from fds[from] on: the wake-up, then pidfds.
  void Fill(std::vector<struct pollfd>* fds) const {
    fds->push_back({board_->wake_fd(), POLLIN, 0});
    for (const Peer& p : peers_) fds->push_back({p.fd.get(), POLLIN, 0});
  }
  // After poll; `got` is what Fill gave, as poll returned it. The verdict
  // that ends the case now, if any.
  std::optional<Verdict> Look(const struct pollfd* got) {
    const bool woken = got[0].revents != 0;
    if (woken) board_->DrainWake();
    std::vector<pid_t> ended;  // whose pidfd says they exited
    for (size_t i = 0; i < peers_.size(); ++i) {
      if (got[1 + i].revents != 0) ended.push_back(peers_[i].pid);
    }
    if (!woken && ended.empty() && absl::Now() < next_) return std::nullopt;
    std::vector<WatchBoard::Watched> live = board_->Registered();
    FollowPeers(live);
    if (std::optional<Verdict> died = Died(live, &ended)) return died;
    std::optional<std::string> hang = board_->Check(live, &next_);
    if (!hang) return std::nullopt;
    // A participant dead without its verdict is no hang: it is the cause.
    if (std::optional<Verdict> died = Died(live, nullptr)) return died;
    if (CaseEnded()) return std::nullopt;  // its exit is the story
    // A participant that failed first is the cause: the hang came of it
    // (a reader waits, unbounded, for what its writer failed to send).
    if (std::string first = board_->FirstFailure(); !first.empty()) {
      return Verdict::Fail(absl::StrCat(first, " (and then the case hung: ", *hang, ")"));
    }
    return Verdict{Outcome::kTimeout, *hang};
  }

 private:
  struct Peer {
    pid_t pid;
    FileDescriptor fd;
  };
  // Pidfds for the spawned participants while the case process runs one.
  void FollowPeers(const std::vector<WatchBoard::Watched>& live) {
    const bool here = std::any_of(live.begin(), live.end(),
                                  [&](const WatchBoard::Watched& w) { return w.pid == case_pid_; });
    std::vector<Peer> kept;
    for (const WatchBoard::Watched& w : live) {
      if (!here || w.pid == case_pid_) continue;
      auto it =
          std::find_if(peers_.begin(), peers_.end(), [&](const Peer& p) { return p.pid == w.pid; });
      kept.push_back(it != peers_.end() ? std::move(*it)
                                        : Peer{w.pid, FileDescriptor(PidfdOpen(w.pid))});
    }
    peers_ = std::move(kept);
  }
  // A registered participant (of `among`, or any) that died before its
  // verdict.
  std::optional<Verdict> Died(const std::vector<WatchBoard::Watched>& live,
                              const std::vector<pid_t>* among) const {
    for (const WatchBoard::Watched& w : live) {
      if (w.pid == case_pid_) continue;
      if (among != nullptr && std::find(among->begin(), among->end(), w.pid) == among->end()) {
        continue;
      }
      // A participant that died after (or because) the process that forked
      // it did has been handed to another parent: that death is the story.
      pid_t parent = 0;
      std::optional<int> status = ZombieStatus(w.pid, &parent);
      // One that finished between Registered() and now exited after its
      // verdict: no death to report.
      if (status && parent == w.spawner && board_->StillRegistered(w)) {
        return Verdict{Outcome::kCrashed, DescribeEnd(w.name, *status)};
      }
    }
    return std::nullopt;
  }
  // Whether the case process has exited (nothing reaped).
  bool CaseEnded() const {
    siginfo_t info = {};
    return ::waitid(P_PID, static_cast<id_t>(case_pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           info.si_pid == case_pid_;
  }

  WatchBoard* board_;
  pid_t case_pid_;
  absl::Time next_;
  std::vector<Peer> peers_;
};

// Whether the report holds both of its frames (the facts and the verdict):
// after that the case process does nothing but exit.
bool ReportComplete(const std::string& report) {
  WireReader r(report, 1 << 26);
  std::string facts, verdict;
  return r.Str(&facts) && r.Str(&verdict);
}

Supervision Supervise(pid_t pid, const CasePlan& plan, const SandboxOptions& options,
                      absl::Time start, absl::Time deadline, CaseResult* result) {
  Supervision sup;
  SetNonBlocking(plan.report_r.get(), true);
  SetNonBlocking(plan.out_r.get(), true);
  // The case's exit: the fork server's SIGCHLD signalfd, or a pidfd.
  const int child_exits = internal::LastingIsolation().child_exits;
  FileDescriptor pidfd(child_exits >= 0 ? -1 : PidfdOpen(pid));
  const int exit_fd = child_exits >= 0 ? child_exits : (pidfd ? pidfd.get() : -1);
  bool complete = false;
  BoardWatch watch(plan.board.get(), pid, start + options.hang_grace);
  std::vector<struct pollfd> fds;
  for (;;) {
    // Once the report is complete, only the exit is waited for: the pipes'
    // ends of file would each wake us on the way, and what is left in them
    // is read after the exit; and the board no longer matters.
    const bool pipes = !complete || exit_fd < 0;
    fds = {{sup.report_open && pipes ? plan.report_r.get() : -1, POLLIN, 0},
           {sup.out_open && pipes ? plan.out_r.get() : -1, POLLIN, 0},
           {exit_fd, POLLIN, 0}};
    if (!complete) watch.Fill(&fds);
    const absl::Time until = complete ? deadline : std::min(deadline, watch.next());
    const Deadline d = Deadline::After(until - absl::Now());
    int n = ::poll(fds.data(), fds.size(),
                   exit_fd >= 0 ? d.RemainingMs() : std::min(d.RemainingMs(), 10));
    if (n < 0 && errno != EINTR) break;
    if (!complete && fds.size() > 3) {
      if (std::optional<Verdict> end = watch.Look(&fds[3])) {
        sup.cut_short = std::move(end);
        ::kill(-pid, SIGKILL);
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &sup.status, 0);
        return sup;
      }
    }
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
// The nodes a case with a uid of its own (a root run) made in the shared
// temporary directories since `start` and left there, which are removed.
std::vector<std::string> FindLeftNodes(const CasePlan& plan, const CaseFacts& facts,
                                       absl::Time start) {
  std::vector<std::string> leaks;
  if (!facts.own_uid) return leaks;
  for (const std::string& dir : SharedTempDirs()) {
    for (const std::string& path : NodesOwnedBy(dir, facts.uid, absl::ToTimeT(start) - 1)) {
      if (path == plan.scratch) continue;
      leaks.push_back(absl::StrCat("file-system node ", path, " (outside the scratch directory)"));
      RemoveTree(path);  // a lone node too
    }
  }
  return leaks;
}

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

// The outcome from the report (or the wait status), with the leaks added.
void Conclude(const SandboxOptions& options, const Supervision& sup, std::string_view here,
              bool reported, const Verdict& verdict, std::vector<std::string> leaks,
              CaseResult* result) {
  result->leaks = leaks;
  if (sup.cut_short) {
    result->outcome = sup.cut_short->outcome;
    result->message = sup.cut_short->message;
  } else if (sup.timed_out) {
    result->outcome = Outcome::kTimeout;
    result->message = absl::StrFormat("no verdict within %s; process group killed",
                                      absl::FormatDuration(options.timeout));
  } else if (reported) {
    result->outcome = verdict.outcome;
    result->message = verdict.message;
  } else {
    // The case process died: as itself, or as the participant it was running.
    result->outcome = Outcome::kCrashed;
    if (WIFSIGNALED(sup.status)) result->signal = WTERMSIG(sup.status);
    result->message = DescribeEnd(here.empty() ? "case process" : here, sup.status);
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

// The parent's part after the fork: the case process started at `start` is
// watched to its end, then everything it left is found and removed.
CaseResult WatchCase(const SandboxOptions& options, CasePlan& plan, pid_t pid, absl::Time start,
                     absl::Time deadline) {
  CaseResult result;
  Supervision sup = Supervise(pid, plan, options, start, deadline, &result);
  // The participant the case process was running when it died, if any: its
  // death, like an end imposed here, left the case no chance to clean up.
  std::string here;
  for (const WatchBoard::Watched& w : plan.board->Registered()) {
    if (w.pid == pid) here = w.name;
  }
  const bool cut_short = sup.cut_short || !here.empty();

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
  if (!sup.timed_out && !cut_short && (group_alive || !strays.empty())) {
    if (strays.empty()) strays.push_back("processes in the case's process group");
    for (std::string& s : strays) leaks.push_back(std::move(s));
  }
  // What a case cut short here (a hang, a participant's death) had no
  // chance to remove is removed, but it is not the case's fault.
  std::vector<std::string> left = ClearScratch(plan);
  for (std::string& l : FindLeftObjects(plan, facts)) left.push_back(std::move(l));
  for (std::string& l : FindLeftNodes(plan, facts, start)) left.push_back(std::move(l));
  if (!cut_short) {
    for (std::string& l : left) leaks.push_back(std::move(l));
  }
  result.elapsed = absl::Now() - start;
  Conclude(options, sup, here, reported, verdict, std::move(leaks), &result);
  return result;
}

// The parent's part right after the fork.
void AdoptCase(pid_t pid, CasePlan& plan) {
  ::setpgid(pid, pid);  // also done by the child; whichever runs first wins
  plan.report_w.reset();
  plan.out_w.reset();
  plan.go_r.reset();
}

}  // namespace ipcspec::internal
