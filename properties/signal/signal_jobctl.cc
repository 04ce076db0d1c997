// SIG-CONT-RESUME, SIG-STOP-PENDING, SIG-STOPCONT-DISCARD,
// SIG-JOBCTL-ORPHAN and SIG-PDEATHSIG: job control on forked children and
// the parent-death signal. A stop is seen in /proc/PID/stat (state T) and
// waitid(WSTOPPED); SIGCONT's effect on the wait state is immediate, so
// waitid(WCONTINUED | WNOHANG) right after kill() must see it.
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "properties/signal/signal_proc.h"
#include "properties/signal/signal_util.h"
#include "properties/support/common.h"
#include "properties/support/proc_util.h"
#include "properties/support/verdicts.h"

namespace ipcspec::props {
namespace {
namespace signal_jobctl {

std::vector<int> StopSignals() { return {SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU}; }

int g_report_fd = -1;
// Writes the signal number as one byte to g_report_fd.
void ReportHandler(int sig) {
  const char c = static_cast<char>(sig);
  (void)!::write(g_report_fd, &c, 1);
}

// A child that installs `handled` (reporting through `report`), blocks
// `blocked`, says it is ready ('r') and then answers each command byte with
// 'a' until end of file.
pid_t ForkObedient(Pipe& cmd, Pipe& report, uint64_t handled, uint64_t ignored, uint64_t blocked) {
  return ForkChild([&] {
    cmd.w.reset();
    report.r.reset();
    g_report_fd = report.w.get();
    for (int sig : BitsSignals(handled)) SetDisposition(sig, ReportHandler);
    for (int sig : BitsSignals(ignored)) SetDisposition(sig, SIG_IGN);
    const sigset_t mask = BitsSet(blocked);
    sigprocmask(SIG_SETMASK, &mask, nullptr);
    if (::write(report.w.get(), "r", 1) != 1) return 3;
    char c;
    for (;;) {
      const ssize_t n = ::read(cmd.r.get(), &c, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n != 1) return 0;
      (void)!::write(report.w.get(), "a", 1);
    }
  });
}

// The next byte from the child, or 0 at the deadline.
char NextByte(int fd, const Deadline& deadline) {
  char c = 0;
  if (PollOne(fd, POLLIN, deadline) <= 0 || ::read(fd, &c, 1) != 1) return 0;
  return c;
}

// Stops `pid` with `sig` and waits for the stop (state T, then waitid).
std::string StopChild(pid_t pid, int sig, const Deadline& deadline) {
  siginfo_t w;
  ::kill(pid, sig);
  if (!WaitProcessState(pid, 'T', deadline) || WaitIdFor(pid, WSTOPPED | WNOHANG, &w) != 0 ||
      w.si_code != CLD_STOPPED) {
    return absl::StrCat("the child did not stop on ", SignalName(sig));
  }
  return "";
}

class ContResumeProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const uint64_t disp = disposition_.Of(s);
    const bool blocked = blocked_.Of(s);
    const Deadline deadline = CaseDeadline(env);
    Pipe cmd, report;
    if (!cmd.Open() || !report.Open()) return Verdict::Broken("pipe2");
    const pid_t pid =
        ForkObedient(cmd, report, disp == kContHandler ? Bit(SIGCONT) : 0,
                     disp == kContIgnore ? Bit(SIGCONT) : 0, blocked ? Bit(SIGCONT) : 0);
    if (pid < 0) return Verdict::Broken("fork");
    cmd.r.reset();
    report.w.reset();
    const std::string what = absl::StrCat("SIGCONT to a stopped child with ",
                                          disposition_.Name(disp), blocked ? ", blocked" : "");
    std::string failure;
    siginfo_t w = {};
    SigStatus st;
    if (NextByte(report.r.get(), deadline) != 'r') {
      failure = "the child never got ready";
    } else if (!(failure = StopChild(pid, stop_.Of(s), deadline)).empty()) {
    } else if (::kill(pid, SIGCONT) != 0 || WaitIdFor(pid, WCONTINUED | WNOHANG, &w) != 0 ||
               w.si_code != CLD_CONTINUED) {
      failure = absl::StrCat(what, ": waitid(WCONTINUED) does not see it continued");
    } else if (::write(cmd.w.get(), "p", 1) != 1) {
      failure = "the command pipe broke";
    } else {
      // The child runs again: a handler runs before it answers.
      std::string got;
      for (char c; (c = NextByte(report.r.get(), deadline)) != 0 && c != 'a';) got += c;
      const bool handled = got.size() == 1 && got[0] == SIGCONT;
      const bool pending = ReadSigStatus(pid, 0, &st) && (st.shd & Bit(SIGCONT)) != 0;
      const bool want_handled = disp == kContHandler && !blocked, want_pending = blocked;
      if (handled != want_handled || (!got.empty() && !handled) || pending != want_pending) {
        failure =
            absl::StrCat(what, ": the child ran on, its handler ", handled ? "ran" : "did not run",
                         " and SIGCONT is ", pending ? "" : "not ",
                         "pending; expected the handler ", want_handled ? "to run" : "not to run",
                         " and SIGCONT ", want_pending ? "pending" : "not pending");
      }
    }
    cmd.w.reset();
    KillAndReap(pid);
    return PassUnless(failure);
  }

  enum ContDisposition : uint64_t { kContDefault, kContIgnore, kContHandler };
  static constexpr std::string_view kContDispositions[] = {"SIG_DFL", "SIG_IGN", "a handler"};
  const ChoiceParam<uint64_t> disposition_{this, 0, "the child's SIGCONT disposition is %s",
                                           kContDefault, kContDispositions};
  const YesNoParam blocked_{this, 1, "it blocks SIGCONT: %s", false};
  const Param<int> stop_{this,     2, "it is stopped by %s", SIGSTOP, GenSignal(StopSignals()),
                         SaySignal};
};
IPCSPEC_REGISTER_PROPERTY(ContResumeProperty, "SIG-CONT-RESUME", {.examples = 15});

class StopPendingProperty final : public SignalProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      const uint64_t q = *GenMask(PlaySignals(), true);
      return std::vector<Step>{sent_.Step(q), handled_.Step(*GenMask(PlaySignals()) & q),
                               kill_.Step(*rc::gen::arbitrary<bool>())};
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const uint64_t q = sent_.Of(s) & PlayBits(), h = handled_.Of(s) & q;
    const bool by_kill = kill_.Of(s);
    const Deadline deadline = CaseDeadline(env);
    Pipe cmd, report;
    if (!cmd.Open() || !report.Open()) return Verdict::Broken("pipe2");
    const pid_t pid = ForkObedient(cmd, report, h, 0, 0);
    if (pid < 0) return Verdict::Broken("fork");
    cmd.r.reset();
    report.w.reset();
    std::string failure;
    siginfo_t w = {};
    SigStatus st;
    int status = 0;
    const std::string what = absl::StrCat(SayMask(q), " (", SayMask(h),
                                          " handled) sent to a "
                                          "stopped child");
    if (NextByte(report.r.get(), deadline) != 'r') {
      failure = "the child never got ready";
    } else if (!(failure = StopChild(pid, SIGSTOP, deadline)).empty()) {
    } else {
      for (int sig : BitsSignals(q)) ::kill(pid, sig);
      if (WaitIdFor(pid, WEXITED | WNOHANG, &w) != 0 || w.si_pid != 0 || TaskState(pid) != 'T' ||
          !ReadSigStatus(pid, 0, &st) || (st.shd & q) != q) {
        failure = absl::StrCat(what, ": it is in state ", std::string(1, TaskState(pid)),
                               " with ShdPnd ", SayMask(st.shd & PlayBits()),
                               "; expected still stopped with all of them pending");
      } else if (by_kill) {
        ::kill(pid, SIGKILL);
        if (!WaitChild(pid, 0, deadline, &status) || !IsKilledBy(status, SIGKILL)) {
          failure = absl::StrCat(what, ", then SIGKILL: ", DescribeWaitStatus(status));
        }
      } else {
        ::kill(pid, SIGCONT);
        cmd.w.reset();
        std::string got;
        for (char c; (c = NextByte(report.r.get(), deadline)) != 0;) got += c;
        if (!WaitChild(pid, 0, deadline, &status)) failure = "the child never ended";
        const bool dies = (q & ~h) != 0;
        if (failure.empty() && dies &&
            (!WIFSIGNALED(status) || (Bit(WTERMSIG(status)) & q & ~h) == 0)) {
          failure = absl::StrCat(what, ", then SIGCONT: the child ", DescribeWaitStatus(status),
                                 ", expected killed by one of ", SayMask(q & ~h));
        } else if (failure.empty() && !dies &&
                   (!WIFEXITED(status) || got.size() != BitsSignals(h).size())) {
          failure = absl::StrCat(what, ", then SIGCONT: ", got.size(),
                                 " handlers ran and the "
                                 "child ",
                                 DescribeWaitStatus(status));
        }
      }
    }
    cmd.w.reset();
    KillAndReap(pid);
    return PassUnless(failure);
  }

  const Param<uint64_t> sent_{this, 0, "%s are sent while the child is stopped", 0, SayMask};
  const Param<uint64_t> handled_{this, 1, "the child handles %s", 0, SayMask};
  const Param<bool> kill_{this, 2, "the stop then ends with SIGKILL (else SIGCONT): %s", false,
                          SayYesNo};
};
IPCSPEC_REGISTER_PROPERTY(StopPendingProperty, "SIG-STOP-PENDING", {.examples = 15});

std::vector<int> StopContSignals() { return {SIGTSTP, SIGTTIN, SIGTTOU, SIGCONT}; }

class StopContDiscardProperty final : public SignalProperty {
  std::string DescribeStep(const Step& s) const override {
    if (s.op != Op::kSend) return SignalProperty::DescribeStep(s);
    return absl::StrCat("kill(child, ", SignalName(static_cast<int>(s.arg)), ")");
  }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([] {
      std::vector<Step> steps;
      const int n = *rc::gen::inRange(1, 9);
      for (int i = 0; i < n; ++i) {
        steps.push_back(
            Step{Op::kSend, 0, 0, static_cast<uint64_t>(*GenSignal(StopContSignals()))});
      }
      return steps;
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const Deadline deadline = CaseDeadline(env);
    const uint64_t stops = Bit(SIGTSTP) | Bit(SIGTTIN) | Bit(SIGTTOU) | Bit(SIGSTOP);
    Pipe cmd, report;
    if (!cmd.Open() || !report.Open()) return Verdict::Broken("pipe2");
    const pid_t pid = ForkObedient(cmd, report, 0, 0, stops | Bit(SIGCONT));
    if (pid < 0) return Verdict::Broken("fork");
    cmd.r.reset();
    report.w.reset();
    std::string failure;
    if (NextByte(report.r.get(), deadline) != 'r') failure = "the child never got ready";
    uint64_t model = 0;
    std::vector<std::string> sent;
    for (const Step& st : s.steps) {
      if (!failure.empty()) break;
      if (st.op != Op::kSend) continue;
      const int sig = static_cast<int>(st.arg);
      model = sig == SIGCONT ? (model & ~stops) | Bit(SIGCONT) : (model & ~Bit(SIGCONT)) | Bit(sig);
      ::kill(pid, sig);
      sent.push_back(SignalName(sig));
      SigStatus now;
      if (!ReadSigStatus(pid, 0, &now)) {
        failure = "the child is gone";
      } else if ((now.shd & (stops | Bit(SIGCONT))) != model) {
        failure = absl::StrCat(
            "after sending ", absl::StrJoin(sent, ", "), " to a child that blocks them, it has ",
            SayMask(now.shd & (stops | Bit(SIGCONT))), " pending, expected ", SayMask(model));
      }
    }
    cmd.w.reset();
    KillAndReap(pid);
    return PassUnless(failure);
  }
};
IPCSPEC_REGISTER_PROPERTY(StopContDiscardProperty, "SIG-STOPCONT-DISCARD", {.examples = 15});

}  // namespace signal_jobctl
}  // namespace
}  // namespace ipcspec::props
