// SIG-JOBCTL-ORPHAN and SIG-PDEATHSIG: job-control stop signals in an
// orphaned process group, and the signal a child asks for when the thread
// that forked it exits.
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/signal/signal_proc.h"
#include "properties/signal/signal_util.h"
#include "properties/support/common.h"
#include "properties/support/proc_util.h"

namespace ipcspec::props {
namespace {
namespace signal_jobctl_more {

class JobctlOrphanProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const int sig = signal_.Of(s);
    const uint64_t group = group_.Of(s);
    const pid_t pid = ForkChild([&] {
      if (group == kOwnGroup && ::setpgid(0, 0) != 0) return 2;
      if (group == kNewSession && ::setsid() < 0) return 2;
      SetDisposition(sig, SIG_DFL);
      ::kill(::getpid(), sig);
      return 0;  // it ran on
    });
    if (pid < 0) return Verdict::Broken("fork");
    int status = 0;
    if (!WaitChild(pid, WUNTRACED, CaseDeadline(env), &status)) {
      KillAndReap(pid);
      return Verdict::Broken("the child neither stopped nor ended");
    }
    if (WIFSTOPPED(status)) KillAndReap(pid);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 2) return Verdict::Broken("setpgid/setsid");
    const bool orphaned = group == kNewSession;
    const bool want_stop = sig == SIGSTOP || !orphaned;
    const bool stopped = WIFSTOPPED(status) && WSTOPSIG(status) == sig;
    const bool ran_on = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (want_stop ? !stopped : !ran_on) {
      return Verdict::Fail(absl::StrCat(SignalName(sig), " raised by a child ", group_.Name(group),
                                        ": the child ", DescribeWaitStatus(status), ", expected ",
                                        want_stop ? "stopped by it" : "to run on (discarded)"));
    }
    return Verdict::Pass();
  }

  enum Group : uint64_t { kCaseGroup, kOwnGroup, kNewSession };
  static constexpr std::string_view kGroups[] = {
      "in its parent's process group", "in a process group of its own (setpgid)",
      "in a new session (setsid): an orphaned process group"};
  const Param<int> signal_{this,
                           0,
                           "the stop signal is %s",
                           SIGTSTP,
                           GenSignal(std::vector<int>{SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU}),
                           SaySignal};
  const ChoiceParam<uint64_t> group_{this, 1, "the child raises it %s", kCaseGroup, kGroups};
};
IPCSPEC_REGISTER_PROPERTY(JobctlOrphanProperty, "SIG-JOBCTL-ORPHAN", {.examples = 15});

int g_pdeath_fd = -1;
void PdeathHandler(int sig, siginfo_t* si, void*) {
  const int32_t rec[3] = {sig, si->si_code, si->si_pid};
  (void)!::write(g_pdeath_fd, rec, sizeof rec);
}

class PdeathsigProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const int sig = signal_.Of(s);
    const Deadline deadline = CaseDeadline(env);
    Pipe report, hold;
    if (!report.Open() || !hold.Open()) return Verdict::Broken("pipe2");
    pid_t child = -1;
    int32_t got[3] = {0, 0, 0};
    int32_t armed[2] = {-1, -1};
    {
      // A helper thread forks the child and exits once the child is armed.
      HelperThread forker([&] {
        child = ForkChild([&] {
          hold.w.reset();
          report.r.reset();
          g_pdeath_fd = report.w.get();
          struct sigaction sa = {};
          sa.sa_sigaction = PdeathHandler;
          sa.sa_flags = SA_SIGINFO;
          sigemptyset(&sa.sa_mask);
          ::sigaction(sig, &sa, nullptr);
          const sigset_t none = BitsSet(0);
          sigprocmask(SIG_SETMASK, &none, nullptr);
          int now = 0;
          ::prctl(PR_SET_PDEATHSIG, sig);
          ::prctl(PR_GET_PDEATHSIG, &now);
          int in_grandchild = -1;
          Pipe g;
          if (g.Open()) {
            const pid_t gc = ForkChild([&] {
              int v = -1;
              ::prctl(PR_GET_PDEATHSIG, &v);
              return ::write(g.w.get(), &v, sizeof v) == sizeof v ? 0 : 1;
            });
            g.w.reset();
            if (gc > 0 && ReadFull(g.r.get(), &in_grandchild, sizeof in_grandchild) != 0) {
              in_grandchild = -1;
            }
            if (gc > 0) ::waitpid(gc, nullptr, 0);
          }
          const int32_t said[2] = {now, in_grandchild};
          (void)!::write(report.w.get(), said, sizeof said);
          char c;
          while (::read(hold.r.get(), &c, 1) != 0) {
          }
          return 0;
        });
        if (child > 0 && PollOne(report.r.get(), POLLIN, deadline) > 0) {
          ReadFull(report.r.get(), armed, sizeof armed);
        }
      });
      if (!forker.started()) return Verdict::Broken("pthread_create");
    }
    if (child < 0) return Verdict::Broken("fork");
    std::string failure;
    if (armed[0] != sig || armed[1] != 0) {
      failure = absl::StrFormat(
          "after PR_SET_PDEATHSIG(%s) PR_GET_PDEATHSIG said %d, and %d in its fork child "
          "(expected %d and 0)",
          SignalName(sig), armed[0], armed[1], sig);
    } else {
      // The forking thread is gone (joined): the signal is on its way.
      const bool delivered = PollOne(report.r.get(), POLLIN, deadline) > 0 &&
                             ReadFull(report.r.get(), got, sizeof got) == 0;
      if (!delivered || got[0] != sig || got[2] != ::getpid()) {
        failure = absl::StrFormat(
            "the thread that forked a child with PR_SET_PDEATHSIG(%s) exited: the child %s",
            SignalName(sig),
            delivered ? absl::StrFormat("got signal %d from pid %d (the parent process is %d)",
                                        got[0], got[2], ::getpid())
                      : "got nothing");
      }
    }
    hold.w.reset();
    int status = 0;
    if (!WaitChild(child, 0, deadline, &status)) KillAndReap(child);
    if (!failure.empty()) return Verdict::Fail(failure);
    return Verdict::Pass();
  }

  const Param<int> signal_{
      this, 0, "the parent-death signal is %s", SIGUSR1, GenSignal(PlaySignals()), SaySignal};
};
IPCSPEC_REGISTER_PROPERTY(PdeathsigProperty, "SIG-PDEATHSIG", {.examples = 15});

}  // namespace signal_jobctl_more
}  // namespace
}  // namespace ipcspec::props
