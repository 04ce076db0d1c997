// SIG-CHLD-EXIT, SIG-CHLD-STOPCONT, SIG-NOCLDSTOP, SIG-NOCLDWAIT,
// SIG-CHLD-IGN and SIG-CHLD-COALESCE: SIGCHLD and the wait family. The
// parent blocks SIGCHLD and takes it with sigtimedwait: the signal is the
// event; waitid(WNOHANG) must then agree with it.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/signal/signal_proc.h"
#include "properties/signal/signal_util.h"
#include "properties/support/common.h"
#include "properties/support/proc_util.h"
#include "properties/support/verdicts.h"

namespace ipcspec::props {
namespace {
namespace signal_children {

// Blocks SIGCHLD and drops whatever SIGCHLD is already pending.
void QuietSigchld() {
  const sigset_t chld = SetOf({SIGCHLD});
  sigprocmask(SIG_BLOCK, &chld, nullptr);
  DrainPending(chld);
}

std::vector<int> StopSignals() { return {SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU}; }

std::string Same(const siginfo_t& a, const siginfo_t& b) {
  if (a.si_code == b.si_code && a.si_status == b.si_status && a.si_pid == b.si_pid) return "";
  return absl::StrCat("SIGCHLD said ", DescribeChildInfo(a), " (pid ", a.si_pid, "), waitid said ",
                      DescribeChildInfo(b), " (pid ", b.si_pid, ")");
}

class ChldExitProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const uint64_t ending = ending_.Of(s);
    const int code = code_.Of(s), sig = signal_.Of(s);
    const Deadline deadline = CaseDeadline(env);
    QuietSigchld();
    Pipe hold;
    if (!hold.Open()) return Verdict::Broken("pipe2");
    const pid_t pid = ForkChild([&] {
      hold.w.reset();
      if (ending == kRaises) {
        SetDisposition(sig, SIG_DFL);
        const sigset_t one = SetOf({sig});
        sigprocmask(SIG_UNBLOCK, &one, nullptr);
        ::kill(::getpid(), sig);
      }
      char c;
      if (ending == kKilled) (void)!::read(hold.r.get(), &c, 1);
      return code;
    });
    if (pid < 0) return Verdict::Broken("fork");
    hold.r.reset();
    if (ending == kKilled) ::kill(pid, sig);
    siginfo_t chld = {}, w = {};
    if (!NextSigchld(deadline, &chld)) {
      KillAndReap(pid);
      return Verdict::Fail(absl::StrCat("no SIGCHLD after a child that ", ending_.Name(ending)));
    }
    const int want_code = ending == kExits ? CLD_EXITED : CLD_KILLED;
    const int want_status = ending == kExits ? code : sig;
    std::string failure;
    if (chld.si_code != want_code || chld.si_status != want_status || chld.si_pid != pid ||
        chld.si_uid != ::getuid()) {
      failure = absl::StrFormat(
          "SIGCHLD for a child that %s: %s, si_pid %d si_uid %d; expected "
          "%s, si_pid %d si_uid %d",
          ending_.Name(ending), DescribeChildInfo(chld), chld.si_pid, chld.si_uid,
          want_code == CLD_EXITED ? absl::StrCat("exited ", code)
                                  : absl::StrCat("killed by ", SignalName(sig)),
          pid, ::getuid());
    } else if (WaitIdFor(pid, WEXITED | WNOWAIT | WNOHANG, &w) != 0 ||
               !(failure = Same(chld, w)).empty()) {
      if (failure.empty()) failure = "waitid(WNOWAIT) did not see the zombie";
    } else if (WaitIdFor(pid, WEXITED | WNOHANG, &w) != 0 || !(failure = Same(chld, w)).empty()) {
      if (failure.empty()) failure = "waitid could not reap the child";
    }
    ::waitpid(pid, nullptr, WNOHANG);
    return PassUnless(failure);
  }

  enum Ending : uint64_t { kExits, kRaises, kKilled };
  static constexpr std::string_view kEndings[] = {"exits", "raises a terminating signal",
                                                  "is killed by its parent"};
  const ChoiceParam<uint64_t> ending_{this, 0, "the child %s", kExits, kEndings};
  const Param<int> code_{this, 1, "its exit code would be %s", 0, rc::gen::inRange(0, 256)};
  const Param<int> signal_{
      this, 2, "the terminating signal is %s", SIGUSR1, GenSignal(PlaySignals()), SaySignal};
};
IPCSPEC_REGISTER_PROPERTY(ChldExitProperty, "SIG-CHLD-EXIT", {.examples = 20});

class ChldStopContProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const int sig = signal_.Of(s), rounds = rounds_.Of(s);
    const bool by_child = by_child_.Of(s);
    const Deadline deadline = CaseDeadline(env);
    QuietSigchld();
    Pipe cmd;
    if (!cmd.Open()) return Verdict::Broken("pipe2");
    const pid_t pid = ForkChild([&] {
      cmd.w.reset();
      SetDisposition(sig, SIG_DFL);
      char c;
      while (::read(cmd.r.get(), &c, 1) == 1) ::kill(::getpid(), sig);
      return 0;
    });
    if (pid < 0) return Verdict::Broken("fork");
    cmd.r.reset();
    std::string failure;
    for (int i = 0; i < rounds && failure.empty(); ++i) {
      if (by_child) {
        (void)!::write(cmd.w.get(), "s", 1);
      } else {
        ::kill(pid, sig);
      }
      siginfo_t chld = {}, w = {};
      if (!NextSigchld(deadline, &chld) || chld.si_code != CLD_STOPPED || chld.si_status != sig ||
          chld.si_pid != pid) {
        failure = absl::StrCat("round ", i + 1, ": after ", SignalName(sig), " SIGCHLD said ",
                               DescribeChildInfo(chld), ", expected stopped by it");
      } else if (WaitIdFor(pid, WSTOPPED | WNOHANG, &w) != 0 ||
                 !(failure = Same(chld, w)).empty()) {
        if (failure.empty()) failure = "waitid(WSTOPPED) did not see the stop";
      }
      if (!failure.empty()) break;
      ::kill(pid, SIGCONT);
      if (!NextSigchld(deadline, &chld) || chld.si_code != CLD_CONTINUED ||
          chld.si_status != SIGCONT || chld.si_pid != pid) {
        failure =
            absl::StrCat("round ", i + 1, ": after SIGCONT SIGCHLD said ", DescribeChildInfo(chld),
                         " with si_status ", chld.si_status, ", expected continued with SIGCONT");
      } else if (WaitIdFor(pid, WCONTINUED | WNOHANG, &w) != 0 ||
                 !(failure = Same(chld, w)).empty()) {
        if (failure.empty()) failure = "waitid(WCONTINUED) did not see the continue";
      }
    }
    cmd.w.reset();
    KillAndReap(pid);
    DrainPending(SetOf({SIGCHLD}));
    return PassUnless(failure);
  }

  const Param<int> signal_{this,     0, "the stop signal is %s", SIGSTOP, GenSignal(StopSignals()),
                           SaySignal};
  const YesNoParam by_child_{this, 1, "the child raises it itself (else the parent sends it): %s",
                             false};
  const Param<int> rounds_{this, 2, "it is stopped and continued %s times", 1,
                           rc::gen::inRange(1, 4)};
};
IPCSPEC_REGISTER_PROPERTY(ChldStopContProperty, "SIG-CHLD-STOPCONT", {.examples = 15});

constexpr std::string_view kHandlers[] = {"SIG_DFL", "a handler"};

class NoCldStopProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const int sig = signal_.Of(s);
    const Deadline deadline = CaseDeadline(env);
    QuietSigchld();
    struct sigaction sa = {};
    sa.sa_handler = handler_.Of(s) != 0 ? NoopHandler : SIG_DFL;
    sa.sa_flags = SA_NOCLDSTOP;
    sigemptyset(&sa.sa_mask);
    if (::sigaction(SIGCHLD, &sa, nullptr) != 0) return Verdict::Broken("sigaction");
    Pipe cmd, reply;
    if (!cmd.Open() || !reply.Open()) return Verdict::Broken("pipe2");
    const pid_t pid = ForkChild([&] {
      cmd.w.reset();
      reply.r.reset();
      SetDisposition(sig, SIG_DFL);
      char c;
      while (::read(cmd.r.get(), &c, 1) == 1) (void)!::write(reply.w.get(), "r", 1);
      return 0;
    });
    if (pid < 0) return Verdict::Broken("fork");
    cmd.r.reset();
    reply.w.reset();
    std::string failure;
    siginfo_t w = {};
    ::kill(pid, sig);
    char c;
    if (!WaitProcessState(pid, 'T', deadline) || WaitIdFor(pid, WSTOPPED | WNOHANG, &w) != 0 ||
        w.si_code != CLD_STOPPED) {
      failure = absl::StrCat("the child did not stop on ", SignalName(sig),
                             " as waitid(WSTOPPED) sees it");
    } else if (::kill(pid, SIGCONT) != 0 || ::write(cmd.w.get(), "p", 1) != 1 ||
               PollOne(reply.r.get(), POLLIN, deadline) <= 0 || ::read(reply.r.get(), &c, 1) != 1) {
      failure = "the child did not run on after SIGCONT";
    } else if (IsPending(SIGCHLD)) {
      // The resumed child answered: any CLD_STOPPED or CLD_CONTINUED would
      // have been queued by now.
      siginfo_t chld;
      NextSigchld(deadline, &chld);
      failure = absl::StrCat("with SA_NOCLDSTOP a stop and continue queued SIGCHLD (",
                             DescribeChildInfo(chld), ")");
    } else {
      cmd.w.reset();
      siginfo_t chld = {};
      if (!NextSigchld(deadline, &chld) || chld.si_code != CLD_EXITED || chld.si_pid != pid) {
        failure = absl::StrCat("with SA_NOCLDSTOP the child's exit gave ", DescribeChildInfo(chld),
                               ", expected SIGCHLD with CLD_EXITED");
      }
    }
    cmd.w.reset();
    KillAndReap(pid);
    DrainPending(SetOf({SIGCHLD}));
    SetDisposition(SIGCHLD, SIG_DFL);
    return PassUnless(failure);
  }

  const ChoiceParam<uint64_t> handler_{this, 0, "SIGCHLD has %s with SA_NOCLDSTOP", 0, kHandlers};
  const Param<int> signal_{
      this, 1, "the child is stopped by %s", SIGSTOP, GenSignal(StopSignals()), SaySignal};
};
IPCSPEC_REGISTER_PROPERTY(NoCldStopProperty, "SIG-NOCLDSTOP", {.examples = 15});

// Forks `n` children that exit with codes base..base+n-1 once `release`
// hits end of file. Returns their pids (empty when a fork failed).
std::vector<pid_t> ForkReleased(int n, int base, Pipe& release) {
  std::vector<pid_t> pids;
  for (int i = 0; i < n; ++i) {
    const pid_t pid = ForkChild([&] {
      release.w.reset();
      char c;
      (void)!::read(release.r.get(), &c, 1);
      return (base + i) & 0xff;
    });
    if (pid < 0) return {};
    pids.push_back(pid);
  }
  return pids;
}

// After the children exited: a blocking wait for any child must fail with
// ECHILD (they were reaped automatically). Reaps zombies it finds.
std::string ExpectNoZombies(const std::string& what) {
  siginfo_t w = {};
  std::string failure;
  for (;;) {
    const int r = ::waitid(P_ALL, 0, &w, WEXITED);
    if (r == -1 && errno == EINTR) continue;
    if (r == -1 && errno == ECHILD) break;
    if (r == 0 && failure.empty()) {
      failure = absl::StrCat(what, ": waitid returned child ", w.si_pid, " (", DescribeChildInfo(w),
                             "), expected ECHILD");
    }
    if (r != 0) break;
  }
  return failure;
}

class NoCldWaitProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const bool handler = handler_.Of(s) != 0;
    QuietSigchld();
    struct sigaction sa = {};
    sa.sa_handler = handler ? NoopHandler : SIG_DFL;
    sa.sa_flags = SA_NOCLDWAIT;
    sigemptyset(&sa.sa_mask);
    if (::sigaction(SIGCHLD, &sa, nullptr) != 0) return Verdict::Broken("sigaction");
    Pipe release;
    if (!release.Open()) return Verdict::Broken("pipe2");
    const std::vector<pid_t> pids = ForkReleased(children_.Of(s), code_.Of(s), release);
    release.r.reset();
    release.w.reset();
    const std::string what = absl::StrCat(pids.size(), " children ended with SA_NOCLDWAIT and ",
                                          handler_.Name(handler_.Of(s)));
    std::string failure = pids.empty() ? "fork failed" : ExpectNoZombies(what);
    if (failure.empty() && handler && !IsPending(SIGCHLD)) {
      failure = absl::StrCat(what, ": no SIGCHLD was sent");
    }
    DrainPending(SetOf({SIGCHLD}));
    SetDisposition(SIGCHLD, SIG_DFL);
    return PassUnless(failure);
  }

  const Param<int> children_{this, 0, "%s children end", 1, rc::gen::inRange(1, 5)};
  const ChoiceParam<uint64_t> handler_{this, 1, "SIGCHLD has %s with SA_NOCLDWAIT", 0, kHandlers};
  const Param<int> code_{this, 2, "their exit codes start at %s", 0, rc::gen::inRange(0, 250)};
};
IPCSPEC_REGISTER_PROPERTY(NoCldWaitProperty, "SIG-NOCLDWAIT", {.examples = 15});

class ChldIgnProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    QuietSigchld();
    if (!blocked_.Of(s)) {
      const sigset_t chld = SetOf({SIGCHLD});
      sigprocmask(SIG_UNBLOCK, &chld, nullptr);
    }
    if (SetDisposition(SIGCHLD, SIG_IGN) != 0) return Verdict::Broken("sigaction");
    Pipe release;
    if (!release.Open()) return Verdict::Broken("pipe2");
    const std::vector<pid_t> pids = ForkReleased(children_.Of(s), 0, release);
    release.r.reset();
    release.w.reset();
    const std::string what = absl::StrCat(pids.size(), " children ended with SIGCHLD ignored",
                                          blocked_.Of(s) ? " and blocked" : "");
    std::string failure = pids.empty() ? "fork failed" : ExpectNoZombies(what);
    const sigset_t chld = SetOf({SIGCHLD});
    sigprocmask(SIG_BLOCK, &chld, nullptr);
    if (failure.empty() && IsPending(SIGCHLD)) failure = absl::StrCat(what, ": SIGCHLD is pending");
    SetDisposition(SIGCHLD, SIG_DFL);
    DrainPending(chld);
    return PassUnless(failure);
  }

  const Param<int> children_{this, 0, "%s children end", 1, rc::gen::inRange(1, 5)};
  const YesNoParam blocked_{this, 1, "SIGCHLD is blocked: %s", true};
};
IPCSPEC_REGISTER_PROPERTY(ChldIgnProperty, "SIG-CHLD-IGN", {.examples = 15});

class ChldCoalesceProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    QuietSigchld();
    Pipe release;
    if (!release.Open()) return Verdict::Broken("pipe2");
    const std::vector<pid_t> pids = ForkReleased(children_.Of(s), 0, release);
    release.r.reset();
    release.w.reset();
    if (pids.empty()) return Verdict::Broken("fork");
    std::string failure;
    for (pid_t pid : pids) {
      siginfo_t w;
      if (WaitIdFor(pid, WEXITED | WNOWAIT, &w) != 0) failure = "waitid(WNOWAIT) failed";
    }
    const int sigchlds = DrainPending(SetOf({SIGCHLD}));
    std::set<pid_t> reaped;
    for (size_t i = 0; i <= pids.size() && failure.empty(); ++i) {
      siginfo_t w = {};
      const int r = ::waitid(P_ALL, 0, &w, WEXITED | WNOHANG);
      if (i == pids.size()) {
        if (r != -1 || errno != ECHILD)
          failure =
              "after every child was reaped waitid did not "
              "fail with ECHILD";
      } else if (r != 0 || w.si_pid == 0 || !reaped.insert(w.si_pid).second) {
        failure = absl::StrCat("waitid number ", i + 1, " of ", pids.size(), " returned ",
                               r == 0 ? absl::StrCat("child ", w.si_pid) : ErrnoName(errno));
      }
    }
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    if (failure.empty() && sigchlds != 1) {
      failure = absl::StrCat(sigchlds, " SIGCHLD were pending, expected 1");
    }
    return failure.empty() ? Verdict::Pass()
                           : Verdict::Fail(absl::StrCat(pids.size(),
                                                        " children ended while SIGCHLD was "
                                                        "blocked: ",
                                                        failure));
  }

  const Param<int> children_{this, 0, "%s children end", 2, rc::gen::inRange(2, 7)};
};
IPCSPEC_REGISTER_PROPERTY(ChldCoalesceProperty, "SIG-CHLD-COALESCE", {.examples = 15});

}  // namespace signal_children
}  // namespace
}  // namespace ipcspec::props
