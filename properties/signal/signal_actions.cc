// SIG-* handler flags (SA_RESETHAND, SA_NODEFER, sa_mask, SA_RESTART) and the
// restrictions on SIGKILL and SIGSTOP. Checked on the case process and on
// raw forked children whose wait status is the observation.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "properties/signal/signal_proc.h"
#include "properties/signal/signal_util.h"
#include "properties/support/common.h"
#include "properties/support/proc_util.h"

namespace ipcspec::props {
namespace {
namespace signal_actions {

// Signals whose default action terminates, safe to raise in the case.
rc::Gen<int> TermSignal() {
  return rc::gen::elementOf(
      std::vector<int>{SIGUSR1, SIGUSR2, SIGHUP, SIGTERM, SIGALRM, SIGRTMIN + 3});
}

int g_hand_pipe = -1;
void WriteMarkHandler(int) {
  const char c = 'h';
  (void)!::write(g_hand_pipe, &c, 1);
}

class ResetHandProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const int sig = signal_.Of(s);
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return Verdict::Broken("pipe2");
    FileDescriptor r(p[0]), w(p[1]);
    pid_t pid = ForkChild([&] {
      r.reset();
      g_hand_pipe = w.get();
      struct sigaction sa = {};
      sa.sa_handler = WriteMarkHandler;
      sa.sa_flags = SA_RESETHAND;
      sigemptyset(&sa.sa_mask);
      if (::sigaction(sig, &sa, nullptr) != 0) return 2;
      ::raise(sig);
      struct sigaction now;
      ::sigaction(sig, nullptr, &now);
      if (now.sa_handler != SIG_DFL) return 3;
      ::raise(sig);  // the default action: terminate
      return 0;
    });
    if (pid < 0) return Verdict::Broken("fork");
    w.reset();
    int status = 0;
    if (!WaitChild(pid, 0, CaseDeadline(env), &status)) {
      KillAndReap(pid);
      return Verdict::Fail("child with SA_RESETHAND handler did not finish");
    }
    char buf[8];
    const ssize_t marks = ::read(r.get(), buf, sizeof buf);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
      return Verdict::Fail(absl::StrFormat(
          "after one %s with SA_RESETHAND the disposition is not SIG_DFL", Sig(sig)));
    }
    if (marks != 1) {
      return Verdict::Fail(absl::StrFormat(
          "SA_RESETHAND handler for %s ran %d times, expected once", Sig(sig), marks));
    }
    if (!IsKilledBy(status, sig)) {
      return Verdict::Fail(
          absl::StrFormat("second %s after SA_RESETHAND: child %s, expected killed by it", Sig(sig),
                          DescribeWaitStatus(status)));
    }
    return Verdict::Pass();
  }

  const Param<int> signal_{
      this, 0, "the signal, handled with SA_RESETHAND, is %s", SIGUSR1, TermSignal(), SaySignal};
};
IPCSPEC_REGISTER_PROPERTY(ResetHandProperty, "SIG-RESETHAND", {.examples = 20});

// The hook raises the same signal once from inside the first handler.
void RaiseAgainOnce(int sig, int depth) {
  if (depth == 1 && DeliveryCount() == 1) ::raise(sig);
}

class NoDeferProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const int sig = signal_.Of(s);
    const bool nodefer = nodefer_.Of(s);
    ResetDeliveries();
    if (InstallRecorder(sig, nodefer ? SA_NODEFER : 0) != 0) return Verdict::Broken("sigaction");
    SetHandlerHook(RaiseAgainOnce);
    ::raise(sig);
    SetHandlerHook(nullptr);
    std::vector<Delivery> d = Deliveries();
    if (d.size() != 2)
      return Verdict::Fail(absl::StrFormat("%d deliveries of %s, expected 2", d.size(), Sig(sig)));
    const int want_depth = nodefer ? 2 : 1;
    if (d[0].self_blocked == nodefer || d[1].depth != want_depth) {
      return Verdict::Fail(absl::StrFormat(
          "%s %s SA_NODEFER: inside the handler the signal was %s, the re-raise ran at depth %d "
          "(expected %s, depth %d)",
          Sig(sig), nodefer ? "with" : "without", d[0].self_blocked ? "blocked" : "not blocked",
          d[1].depth, nodefer ? "not blocked" : "blocked", want_depth));
    }
    if (sigset_t m = CurrentMask(); sigismember(&m, sig) == 1) {
      return Verdict::Fail("the mask was not restored when the handler returned");
    }
    return Verdict::Pass();
  }

  const Param<int> signal_{
      this,         0,        "the signal, raised again inside its handler, is %s", SIGUSR1,
      TermSignal(), SaySignal};
  const YesNoParam nodefer_{this, 1, "its handler has SA_NODEFER: %s", false};
};
IPCSPEC_REGISTER_PROPERTY(NoDeferProperty, "SIG-NODEFER", {.examples = 30});

int g_mask_other = 0;
// From inside the handler of the first signal, raise the other one (in sa_mask).
void RaiseOther(int sig, int depth) {
  if (depth == 1 && sig != g_mask_other && DeliveryCount() == 1) ::raise(g_mask_other);
}

class SaMaskProperty final : public SignalProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      const int a = *TermSignal();
      const int b = *rc::gen::suchThat(TermSignal(), [a](int x) { return x != a; });
      return std::vector<Step>{first_.Step(a), second_.Step(b)};
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const int a = first_.Of(s);
    const int b = second_.Of(s);
    ResetDeliveries();
    if (InstallRecorder(a, 0, SetOf({b})) != 0 || InstallRecorder(b) != 0) {
      return Verdict::Broken("sigaction");
    }
    g_mask_other = b;
    SetHandlerHook(RaiseOther);
    ::raise(a);
    SetHandlerHook(nullptr);
    std::vector<Delivery> d = Deliveries();
    if (d.size() != 2 || d[0].signo != a || d[1].signo != b) {
      return Verdict::Fail(
          absl::StrFormat("raise(%s) whose handler raises %s (in its sa_mask): %d deliveries",
                          Sig(a), Sig(b), d.size()));
    }
    if (d[1].depth != 1) {
      return Verdict::Fail(
          absl::StrFormat("%s in sa_mask of %s was delivered inside that handler", Sig(b), Sig(a)));
    }
    if (sigset_t m = CurrentMask(); sigismember(&m, a) == 1 || sigismember(&m, b) == 1) {
      return Verdict::Fail("the mask was not restored when the handler returned");
    }
    return Verdict::Pass();
  }

  const Param<int> first_{this, 0, "the handled signal is %s", SIGUSR1, SaySignal};
  const Param<int> second_{this, 1, "its sa_mask holds %s, raised inside the handler", SIGUSR2,
                           SaySignal};
};
IPCSPEC_REGISTER_PROPERTY(SaMaskProperty, "SIG-SA-MASK", {.examples = 30});

SharedFlags* g_restart_flags = nullptr;
void RaiseFlagHandler(int) { g_restart_flags->Raise(0); }

class RestartProperty final : public SignalProperty {
  // The reader is a forked child, so that this process, its parent, may read
  // its /proc/<pid>/syscall under any ptrace policy.
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const int sig = signal_.Of(s);
    const bool restart = restart_.Of(s);
    const Deadline deadline = CaseDeadline(env);
    SharedFlags flags(4);  // 0: handler ran; 1: the read returned
    g_restart_flags = &flags;
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return Verdict::Broken("pipe2");
    FileDescriptor r(p[0]), w(p[1]);
    pid_t pid = ForkChild([&] {
      w.reset();
      struct sigaction sa = {};
      sa.sa_handler = RaiseFlagHandler;
      sa.sa_flags = restart ? SA_RESTART : 0;
      sigemptyset(&sa.sa_mask);
      if (::sigaction(sig, &sa, nullptr) != 0) return 20;
      char c;
      const ssize_t n = ::read(r.get(), &c, 1);
      const int err = errno;
      flags.Raise(1);
      if (n == 1) return 0;
      if (n < 0 && err == EINTR) return 1;
      return 2;
    });
    if (pid < 0) return Verdict::Broken("fork");
    r.reset();
    if (!WaitUntilBlockedIn(pid, SYS_read, deadline)) {
      KillAndReap(pid);
      return Verdict::Broken("the reading child never blocked in read(2)");
    }
    ::kill(pid, sig);
    if (!flags.WaitFor(0, deadline)) {
      KillAndReap(pid);
      return Verdict::Fail(absl::StrCat("the handler for ", Sig(sig), " never ran"));
    }
    // With SA_RESTART the read is waiting again: feed it. Without, it must
    // have returned; if it has not by then, unblock it so the failure shows.
    if (restart || !flags.WaitFor(1, Deadline::After(env.hang_grace))) {
      // A reader that returned (wrongly) and exited must not kill us by SIGPIPE.
      SetDisposition(SIGPIPE, SIG_IGN);
      (void)!::write(w.get(), "x", 1);
      SetDisposition(SIGPIPE, SIG_DFL);
    }
    int status = 0;
    if (!WaitChild(pid, 0, deadline, &status)) {
      KillAndReap(pid);
      return Verdict::Fail("the reading child did not finish");
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) > 2) {
      return Verdict::Broken(absl::StrCat("reading child ", DescribeWaitStatus(status)));
    }
    const int got = WEXITSTATUS(status);
    static constexpr const char* kWhat[] = {"returned the data (restarted)", "failed with EINTR",
                                            "returned something else"};
    if (got != (restart ? 0 : 1)) {
      return Verdict::Fail(absl::StrFormat("read interrupted by a %s handler %s SA_RESTART %s",
                                           Sig(sig), restart ? "with" : "without", kWhat[got]));
    }
    return Verdict::Pass();
  }

  const Param<int> signal_{this,         0,        "the signal interrupting read(2) is %s", SIGUSR1,
                           TermSignal(), SaySignal};
  const YesNoParam restart_{this, 1, "its handler has SA_RESTART: %s", false};
};
IPCSPEC_REGISTER_PROPERTY(RestartProperty, "SIG-RESTART", {.examples = 20});

// What a child tries against SIGKILL and SIGSTOP before they are sent.
enum Attempt : uint64_t { kTryBlock = 1, kTryIgnore = 2, kTryHandle = 4 };
std::string SayAttempts(uint64_t v) {
  std::vector<std::string> parts;
  if (v & kTryBlock) parts.push_back("blocks every signal");
  if (v & kTryIgnore) parts.push_back("sets SIG_IGN");
  if (v & kTryHandle) parts.push_back("installs handlers");
  return parts.empty() ? "nothing" : absl::StrJoin(parts, ", ");
}

// SIG-UNCATCHABLE: sigaction refuses SIGKILL and SIGSTOP, blocking them is
// ignored, and a child that tried all of it (and said so, through a pipe,
// with its mask visible in /proc/PID/status) still stops and dies.
class UncatchableProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    if (Verdict v = CheckCalls(); !v.ok()) return v;
    const uint64_t attempts = attempts_.Of(s);
    const Deadline deadline = CaseDeadline(env);
    HeldChild child;
    // The child says it is ready only once everything is in place.
    const bool started = child.Start(
        [&] {
          if (attempts & kTryBlock) {
            sigset_t all;
            sigfillset(&all);
            sigprocmask(SIG_BLOCK, &all, nullptr);
          }
          for (int sig : {SIGKILL, SIGSTOP}) {
            if (attempts & kTryIgnore) SetDisposition(sig, SIG_IGN);
            if (attempts & kTryHandle) SetDisposition(sig, NoopHandler);
          }
        },
        deadline);
    if (!started) return Verdict::Broken("the child never said it was ready");
    const pid_t pid = child.pid();
    auto fail = [&](std::string m) {
      KillAndReap(pid);
      child.Reaped();
      return Verdict::Fail(absl::StrCat("a child that ", SayAttempts(attempts), ": ", m));
    };
    SigStatus st;
    if (attempts & kTryBlock) {
      if (!ReadSigStatus(pid, 0, &st)) return fail("its /proc status cannot be read");
      if ((st.blk & (Bit(SIGKILL) | Bit(SIGSTOP))) != 0 || (st.blk & Bit(SIGUSR1)) == 0) {
        return fail(absl::StrCat("its SigBlk is ", SayMask(st.blk),
                                 ", expected every signal but SIGKILL and SIGSTOP"));
      }
    }
    int status = 0;
    if (stop_first_.Of(s)) {
      ::kill(pid, SIGSTOP);
      // The stop is the event; the hang grace only bounds a child that never stops.
      const Deadline grace = Deadline::After(env.hang_grace);
      if (!WaitChild(pid, WUNTRACED, grace.when() < deadline.when() ? grace : deadline, &status) ||
          !WIFSTOPPED(status) || WSTOPSIG(status) != SIGSTOP) {
        return fail(absl::StrCat("SIGSTOP left it ",
                                 status == 0 ? "running" : DescribeWaitStatus(status),
                                 ", expected stopped"));
      }
    }
    ::kill(pid, SIGKILL);
    if (!WaitChild(pid, 0, deadline, &status) || !IsKilledBy(status, SIGKILL)) {
      return fail(absl::StrCat("SIGKILL left it ", DescribeWaitStatus(status)));
    }
    child.Reaped();
    return Verdict::Pass();
  }

  static Verdict CheckCalls() {
    for (int sig : {SIGKILL, SIGSTOP}) {
      if (InstallRecorder(sig) != -EINVAL) {
        return Verdict::Fail(
            absl::StrCat("sigaction(", Sig(sig), ", handler) did not fail with EINVAL"));
      }
      if (SetDisposition(sig, SIG_IGN) != -EINVAL) {
        return Verdict::Fail(
            absl::StrCat("sigaction(", Sig(sig), ", SIG_IGN) did not fail with EINVAL"));
      }
    }
    const sigset_t both = SetOf({SIGKILL, SIGSTOP});
    sigset_t old;
    if (sigprocmask(SIG_BLOCK, &both, &old) != 0) {
      return Verdict::Fail(
          absl::StrCat("sigprocmask(SIG_BLOCK, {SIGKILL, SIGSTOP}): ", ErrnoName(errno)));
    }
    sigset_t now = CurrentMask();
    sigprocmask(SIG_SETMASK, &old, nullptr);
    if (sigismember(&now, SIGKILL) == 1 || sigismember(&now, SIGSTOP) == 1) {
      return Verdict::Fail(absl::StrCat("after blocking them the mask shows ", DescribeSet(now)));
    }
    return Verdict::Pass();
  }

  const Param<uint64_t> attempts_{
      this,       0, "before they are sent, the child %s", 7, rc::gen::inRange<uint64_t>(0, 8),
      SayAttempts};
  const YesNoParam stop_first_{this, 1, "SIGSTOP is sent before SIGKILL: %s", true};
};
IPCSPEC_REGISTER_PROPERTY(UncatchableProperty, "SIG-UNCATCHABLE", {.examples = 15});

}  // namespace signal_actions
}  // namespace
}  // namespace ipcspec::props
