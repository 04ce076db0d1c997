// SIG-KILL-PGRP and SIG-KILL-ALL: kill to a process group and to every
// process the caller may signal. Each target child counts its deliveries
// and reports the count when its command pipe reaches end of file, so what
// was not delivered is as visible as what was.
//
// kill(-1) runs only inside a new user and PID namespace made by a forked
// helper: there it can reach nothing but the processes of that namespace
// (kill(2): not the caller, not the namespace's init), and when the
// namespace's init ends every process in it is killed. Where the kernel
// refuses the namespaces the property is unsupported, never run outside.
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "properties/signal/signal_proc.h"
#include "properties/signal/signal_util.h"
#include "properties/support/common.h"
#include "properties/support/proc_util.h"

namespace ipcspec::props {
namespace {
namespace signal_kill_groups {

// One line of a child's report.
struct Record {
  int32_t who;    // a target's index, or one of the roles below
  int32_t count;  // deliveries of the signal it saw
  int32_t a, b;   // role-specific
};
constexpr int32_t kSender = 100, kHelper = 200, kStatus = 300;

volatile sig_atomic_t g_count = 0;
void CountHandler(int) { g_count = g_count + 1; }

void Handle(int sig) {
  struct sigaction sa = {};
  sa.sa_handler = CountHandler;
  sigemptyset(&sa.sa_mask);
  ::sigaction(sig, &sa, nullptr);
}

// In a target child: handles `sig` (or not), says it is ready, then waits
// for end of file on `cmd` and reports its count.
int TargetMain(int index, int sig, bool handled, int ready_fd, int cmd_fd, int report_fd) {
  g_count = 0;
  if (handled) {
    Handle(sig);
  } else {
    SetDisposition(sig, SIG_DFL);
  }
  const sigset_t none = BitsSet(0);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  (void)!::write(ready_fd, "r", 1);
  char c;
  for (;;) {
    const ssize_t n = ::read(cmd_fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
  }
  const Record r = {index, g_count, 0, 0};
  return ::write(report_fd, &r, sizeof r) == sizeof r ? 0 : 1;
}

std::map<int32_t, Record> ReadRecords(int fd, const Deadline& deadline) {
  std::map<int32_t, Record> out;
  Record r;
  while (PollOne(fd, POLLIN, deadline) > 0 && ReadFull(fd, &r, sizeof r) == 0) out[r.who] = r;
  return out;
}

struct Pipes {
  Pipe &ready, &cmd, &leader_cmd, &report;
};

// Children 0..n_case-1 stay in the caller's group; the others form a new
// group led by child n_case (which waits on leader_cmd when it must exit
// first). Each sets its group and the parent does too, whichever runs first.
std::vector<pid_t> ForkGroups(int n_case, int n_group, bool leader_exits, int sig, Pipes& p) {
  std::vector<pid_t> pids;
  pid_t leader = -1;
  for (int i = 0; i < n_case + n_group; ++i) {
    const bool in_g = i >= n_case, is_leader = i == n_case;
    const pid_t pgid = is_leader ? 0 : leader;
    const pid_t pid = ForkChild([&, i] {
      // Only the caller holds the write ends: their end of file ends the children.
      p.cmd.w.reset();
      p.leader_cmd.w.reset();
      p.ready.r.reset();
      p.report.r.reset();
      if (in_g && ::setpgid(0, pgid) != 0) return 2;
      return TargetMain(i, sig, true, p.ready.w.get(),
                        is_leader && leader_exits ? p.leader_cmd.r.get() : p.cmd.r.get(),
                        p.report.w.get());
    });
    if (pid < 0) break;
    if (in_g) ::setpgid(pid, is_leader ? pid : leader);
    if (is_leader) leader = pid;
    pids.push_back(pid);
  }
  return pids;
}

class KillPgrpProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const int n_case = in_case_.Of(s), n_group = std::max(1, in_group_.Of(s)), sig = signal_.Of(s);
    const bool leader_exits = leader_exits_.Of(s) && n_group > 1;
    const uint64_t api = api_.Of(s);
    const Deadline deadline = CaseDeadline(env);
    ResetDeliveries();
    InstallRecorder(sig);
    const sigset_t none = BitsSet(0);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    Pipe ready, cmd, leader_cmd, report;
    if (!ready.Open() || !cmd.Open() || !leader_cmd.Open() || !report.Open()) {
      return Verdict::Broken("pipe2");
    }
    Pipes pipes{ready, cmd, leader_cmd, report};
    std::vector<pid_t> pids = ForkGroups(n_case, n_group, leader_exits, sig, pipes);
    const pid_t leader = pids.size() > static_cast<size_t>(n_case) ? pids[n_case] : -1;
    ready.w.reset();
    report.w.reset();
    std::string failure;
    char c;
    for (size_t i = 0; i < pids.size(); ++i) {
      if (NextReady(ready.r.get(), deadline, &c) != 1) failure = "a child never got ready";
    }
    if (pids.size() != static_cast<size_t>(n_case + n_group)) failure = "fork failed";
    int status = 0;
    if (failure.empty() && leader_exits) {
      leader_cmd.w.reset();
      if (!WaitChild(leader, 0, deadline, &status)) failure = "the leader did not exit";
    }
    int rc = 0;
    if (failure.empty()) {
      rc = api == kKillZero ? ::kill(0, sig)
           : api == kKillpg ? ::killpg(leader, sig)
                            : ::kill(-leader, sig);
      if (rc != 0) failure = absl::StrCat(api_.Name(api), ": ", ErrnoName(errno));
    }
    const int self_count = DeliveriesOf(sig);
    cmd.w.reset();
    leader_cmd.w.reset();
    const std::map<int32_t, Record> got = ReadRecords(report.r.get(), deadline);
    for (size_t i = 0; i < pids.size(); ++i) {
      if (leader_exits && static_cast<int>(i) == n_case) continue;
      if (!WaitChild(pids[i], 0, deadline, &status)) KillAndReap(pids[i]);
    }
    SetDisposition(sig, SIG_DFL);
    if (!failure.empty()) return Verdict::Broken(failure);
    const std::string what =
        absl::StrCat(api_.Name(api), " with ", SignalName(sig), ": ", n_case,
                     " children in the caller's group, ", n_group, " in another group",
                     leader_exits ? " whose leader has exited" : "");
    const bool to_case = api == kKillZero;
    if (self_count != (to_case ? 1 : 0)) {
      return Verdict::Fail(absl::StrCat(what, ": the caller's handler ran ", self_count, " times"));
    }
    for (int i = 0; i < n_case + n_group; ++i) {
      if (leader_exits && i == n_case) continue;
      const bool in_g = i >= n_case;
      const int want = in_g != to_case ? 1 : 0;
      auto it = got.find(i);
      const int count = it == got.end() ? -1 : it->second.count;
      if (count != want) {
        return Verdict::Fail(absl::StrCat(
            what, ": child ", i + 1, " (in ", in_g ? "the other group" : "the caller's group",
            ") saw it ", count < 0 ? "?" : absl::StrCat(count), " times, expected ", want));
      }
    }
    return Verdict::Pass();
  }

  enum PgrpApi : uint64_t { kKillZero, kKillNegative, kKillpg };
  static constexpr std::string_view kPgrpApis[] = {"kill(0) (the caller's group)", "kill(-pgid)",
                                                   "killpg(pgid)"};
  static int NextReady(int fd, const Deadline& deadline, char* c) {
    return PollOne(fd, POLLIN, deadline) > 0 ? static_cast<int>(::read(fd, c, 1)) : -1;
  }

  const Param<int> in_case_{this, 0, "%s children share the caller's group", 1,
                            rc::gen::inRange(0, 3)};
  const Param<int> in_group_{this, 1, "%s children form another group", 2, rc::gen::inRange(1, 4)};
  const YesNoParam leader_exits_{this, 2, "that group's leader exits first: %s", false};
  const ChoiceParam<uint64_t> api_{this, 3, "the call is %s", kKillNegative, kPgrpApis};
  const Param<int> signal_{this,     4, "the signal is %s", SIGUSR1, GenSignal(PlaySignals()),
                           SaySignal};
};
IPCSPEC_REGISTER_PROPERTY(KillPgrpProperty, "SIG-KILL-PGRP", {.examples = 15});

std::string SayDefaultTargets(uint64_t v) {
  std::vector<std::string> which;
  for (int i = 0; i < 3; ++i) {
    if ((v >> i) & 1) which.push_back(absl::StrCat(i + 1));
  }
  return which.empty() ? "none (all handle it)"
                       : absl::StrCat("targets ", absl::StrJoin(which, ", "));
}

// The namespace side of SIG-KILL-ALL, run by the namespace's init (pid 1):
// forks the targets and the sender and reports everything through `report`.
int NamespaceInit(int targets, uint64_t kinds, int sig, int report_fd) {
  Pipe ready, cmd;
  if (!ready.Open() || !cmd.Open()) return 3;
  std::vector<pid_t> pids;
  for (int i = 0; i < targets; ++i) {
    const bool handled = ((kinds >> i) & 1) == 0;
    const pid_t pid = ForkChild([&, i] {
      ready.r.reset();
      cmd.w.reset();
      return TargetMain(i, sig, handled, ready.w.get(), cmd.r.get(), report_fd);
    });
    if (pid < 0) return 3;
    pids.push_back(pid);
  }
  ready.w.reset();
  char c;
  for (int i = 0; i < targets; ++i) {
    if (::read(ready.r.get(), &c, 1) != 1) return 3;
  }
  // The sender: init itself when there is nobody else, so kill(-1) has no
  // candidate at all; else a child of init.
  auto send = [&] {
    g_count = 0;
    Handle(sig);
    const int rc = ::kill(-1, sig);
    const Record r = {kSender, g_count, rc, rc == 0 ? 0 : errno};
    return ::write(report_fd, &r, sizeof r) == sizeof r ? 0 : 1;
  };
  if (targets == 0) return send();
  const pid_t sender = ForkChild(send);
  if (sender < 0) return 3;
  ::waitpid(sender, nullptr, 0);
  cmd.w.reset();
  for (int i = 0; i < targets; ++i) {
    int status = 0;
    ::waitpid(pids[i], &status, 0);
    const Record r = {kStatus + i, 0, status, 0};
    (void)!::write(report_fd, &r, sizeof r);
  }
  return 0;
}

class KillAllProperty final : public SignalProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      const int n = *rc::gen::inRange(0, 4);
      return std::vector<Step>{targets_.Step(n),
                               kinds_.Step(*rc::gen::inRange<uint64_t>(0, 1u << n)),
                               signal_.Step(*GenSignal(PlaySignals()))};
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const int targets = std::clamp(targets_.Of(s), 0, 3), sig = signal_.Of(s);
    const uint64_t kinds = kinds_.Of(s) & ((1u << targets) - 1);
    const Deadline deadline = CaseDeadline(env);
    Pipe report;
    if (!report.Open()) return Verdict::Broken("pipe2");
    // The helper, outside the namespace, handles the signal too: kill(-1)
    // from inside must not reach it.
    const pid_t helper = ForkChild([&] {
      g_count = 0;
      Handle(sig);
      if (::unshare(CLONE_NEWUSER | CLONE_NEWPID) != 0) return 77;
      const pid_t init =
          ForkChild([&] { return NamespaceInit(targets, kinds, sig, report.w.get()); });
      int status = 0;
      if (init < 0 || ::waitpid(init, &status, 0) != init) return 3;
      const Record r = {kHelper, g_count, status, 0};
      (void)!::write(report.w.get(), &r, sizeof r);
      return WIFEXITED(status) ? WEXITSTATUS(status) : 4;
    });
    if (helper < 0) return Verdict::Broken("fork");
    report.w.reset();
    int status = 0;
    const std::map<int32_t, Record> got = ReadRecords(report.r.get(), deadline);
    if (!WaitChild(helper, 0, deadline, &status)) KillAndReap(helper);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
      return Verdict::Unsupported(
          "no new user and PID namespace here (unshare refused); "
          "kill(-1) is never run outside one");
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || got.count(kSender) == 0 ||
        got.count(kHelper) == 0) {
      return Verdict::Broken(absl::StrCat("the namespace helper ", DescribeWaitStatus(status)));
    }
    const Record& sender = got.at(kSender);
    const std::string what = absl::StrCat("kill(-1, ", SignalName(sig),
                                          ") in a PID namespace "
                                          "holding ",
                                          targets, " other processes");
    if (targets == 0 ? (sender.a != -1 || sender.b != ESRCH) : sender.a != 0) {
      return Verdict::Fail(absl::StrFormat("%s returned %d (%s), expected %s", what, sender.a,
                                           sender.a == 0 ? "no error" : ErrnoName(sender.b),
                                           targets == 0 ? "-1 with ESRCH" : "0"));
    }
    if (sender.count != 0 || got.at(kHelper).count != 0) {
      return Verdict::Fail(absl::StrCat(
          what, ": it reached ",
          sender.count != 0 ? "the caller itself" : "the parent outside the namespace"));
    }
    for (int i = 0; i < targets; ++i) {
      const bool handled = ((kinds >> i) & 1) == 0;
      auto it = got.find(i);
      auto st = got.find(kStatus + i);
      const int wait_status = st == got.end() ? 0 : st->second.a;
      const bool reached =
          handled ? (it != got.end() && it->second.count == 1) : IsKilledBy(wait_status, sig);
      if (!reached) {
        return Verdict::Fail(absl::StrCat(
            what, ": target ", i + 1, " (which ",
            handled ? "handles it" : "keeps the default action", ") was not reached: ",
            handled ? absl::StrCat(it == got.end() ? -1 : it->second.count, " deliveries")
                    : DescribeWaitStatus(wait_status)));
      }
    }
    return Verdict::Pass();
  }

  const Param<int> targets_{this, 0, "%s other processes run in the namespace", 2};
  const Param<uint64_t> kinds_{this, 1, "of them, %s keep the default action", 0,
                               SayDefaultTargets};
  const Param<int> signal_{this, 2, "the signal is %s", SIGUSR1, SaySignal};
};
IPCSPEC_REGISTER_PROPERTY(KillAllProperty, "SIG-KILL-ALL", {.examples = 10});

}  // namespace signal_kill_groups
}  // namespace
}  // namespace ipcspec::props
