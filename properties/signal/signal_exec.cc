// SIG-EXEC-DELIVER, SIG-EXEC-FLAGS and SIG-SFD-EXEC: what a new program
// image finds after execve, seen by the exec probe (signal_exec_probe.h):
// the pending signals are delivered there, every action has lost its flags
// and mask, and a signalfd without SFD_CLOEXEC still reads.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "properties/signal/signal_exec_probe.h"
#include "properties/signal/signal_proc.h"
#include "properties/signal/signal_util.h"
#include "properties/support/common.h"
#include "properties/support/proc_util.h"

namespace ipcspec::props {
namespace {
namespace signal_exec {

constexpr std::string_view kDelivers[] = {"only unblocks (default actions)",
                                          "installs recording handlers, then unblocks"};

class ExecDeliverProperty final : public SignalProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      std::vector<Step> steps{handlers_.Step(*rc::gen::inRange<uint64_t>(0, std::size(kDelivers))),
                              parent_.Step(*GenMask(PlaySignals()))};
      const int n = *rc::gen::inRange(0, 9);
      for (int i = 0; i < n; ++i) {
        steps.push_back(*GenSendStep(PlaySignals(), {kByKill, kBySigqueue, kByTgkill}));
      }
      return steps;
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const bool handlers = handlers_.Of(s) != 0;
    const uint64_t from_parent = parent_.Of(s) & PlayBits();
    const std::vector<SelfSend> sends = SelfSendsOf(s);
    // Expected per signal: the thread's own instances, then the process's;
    // a standard signal once per set. (Sender pid, code, value.)
    std::map<int, std::vector<ProbeSignal>> own, shared;
    pid_t child = 0;
    auto expect = [&](int sig, bool thread, ProbeSignal p) {
      auto& q = thread ? own[sig] : shared[sig];
      if (IsRealtime(sig) || q.empty()) q.push_back(p);
    };
    const sigset_t all = BitsSet(PlayBits());
    ProbeRun run = RunProbe(
        [&](ProbeOptions&) {
          sigprocmask(SIG_SETMASK, &all, nullptr);
          for (const SelfSend& m : sends) SendSelf(m.method, m.sig, m.value);
        },
        {.deliver = handlers, .deliver_default = !handlers}, handlers ? 2 : 1, CaseDeadline(env),
        [&](pid_t pid) {
          child = pid;
          for (int sig : BitsSignals(from_parent)) ::kill(pid, sig);
        });
    if (run.reports.empty()) {
      return Verdict::Broken(absl::StrCat("the exec probe: ", DescribeWaitStatus(run.status)));
    }
    for (const SelfSend& m : sends) {
      expect(m.sig, m.method == kByTgkill,
             {m.sig, CodeOf(m.method), child, m.method == kBySigqueue ? m.value : 0});
    }
    for (int sig : BitsSignals(from_parent)) expect(sig, false, {sig, SI_USER, ::getpid(), 0});
    uint64_t want_pending = 0;
    for (const auto& [sig, q] : own) want_pending |= q.empty() ? 0 : Bit(sig);
    for (const auto& [sig, q] : shared) want_pending |= q.empty() ? 0 : Bit(sig);
    const ProbeReport& first = run.reports[0];
    if ((first.pending & PlayBits()) != want_pending) {
      return Verdict::Fail(absl::StrCat("after execve ", SayMask(first.pending & PlayBits()),
                                        " are pending, expected ", SayMask(want_pending)));
    }
    if (!handlers) {
      const bool ok = want_pending == 0
                          ? WIFEXITED(run.status) && WEXITSTATUS(run.status) == 0
                          : WIFSIGNALED(run.status) && (Bit(WTERMSIG(run.status)) & want_pending);
      if (!ok) {
        return Verdict::Fail(absl::StrCat("the new image unblocked ", SayMask(want_pending),
                                          " with their default actions and ",
                                          DescribeWaitStatus(run.status)));
      }
      return Verdict::Pass();
    }
    if (run.reports.size() < 2) {
      return Verdict::Broken(absl::StrCat("the exec probe: ", DescribeWaitStatus(run.status)));
    }
    std::map<int, size_t> next;
    const ProbeReport& second = run.reports[1];
    size_t total = 0;
    for (const auto& [sig, q] : own) total += q.size() + shared[sig].size();
    for (const auto& [sig, q] : shared) total += own.count(sig) == 0 ? q.size() : 0;
    if (second.ndeliveries != static_cast<int>(total)) {
      return Verdict::Fail(absl::StrFormat(
          "after execve and unblocking, %d deliveries, expected %d", second.ndeliveries, total));
    }
    for (int i = 0; i < second.ndeliveries; ++i) {
      const ProbeSignal& d = second.deliveries[i];
      std::vector<ProbeSignal> want = own[d.signo];
      want.insert(want.end(), shared[d.signo].begin(), shared[d.signo].end());
      const size_t k = next[d.signo]++;
      if (k >= want.size() || want[k].code != d.code || want[k].pid != d.pid ||
          want[k].value != d.value) {
        return Verdict::Fail(absl::StrFormat(
            "delivery %d after execve: %s with si_code %d si_pid %d value %d; expected %s", i + 1,
            SignalName(d.signo), d.code, d.pid, d.value,
            k < want.size() ? absl::StrFormat("si_code %d si_pid %d value %d", want[k].code,
                                              want[k].pid, want[k].value)
                            : "no more of it"));
      }
    }
    return Verdict::Pass();
  }

  const ChoiceParam<uint64_t> handlers_{this, 0, "the new image %s", 1, kDelivers};
  const Param<uint64_t> parent_{this, 1, "before the exec the parent sends %s", 0, SayMask};
};
IPCSPEC_REGISTER_PROPERTY(ExecDeliverProperty, "SIG-EXEC-DELIVER", {.examples = 15});

constexpr std::string_view kFlagNames[] = {"SA_RESTART", "SA_NODEFER", "SA_RESETHAND", "SA_ONSTACK",
                                           "SA_SIGINFO"};
constexpr unsigned kFlags[] = {SA_RESTART, SA_NODEFER, SA_RESETHAND, SA_ONSTACK, SA_SIGINFO};
std::string SayFlags(uint64_t v) { return SayBitNames(v, kFlagNames, "no flag"); }
enum Chld : uint64_t { kChldIgnore, kChldNoCldWait, kChldHandler, kChldDefault };
constexpr std::string_view kChlds[] = {"SIG_IGN", "SIG_DFL with SA_NOCLDWAIT",
                                       "a handler with SA_NOCLDSTOP", "SIG_DFL"};
void NoopInfo(int, siginfo_t*, void*) {}

class ExecFlagsProperty final : public SignalProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      const uint64_t handled = *GenMask(PlaySignals());
      return std::vector<Step>{
          handled_.Step(handled), ignored_.Step(*GenMask(PlaySignals()) & ~handled),
          flags_.Step(*rc::gen::inRange<uint64_t>(0, 32)), mask_.Step(*GenMask(PlaySignals())),
          chld_.Step(*rc::gen::inRange<uint64_t>(0, std::size(kChlds)))};
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const uint64_t handled = handled_.Of(s) & PlayBits(),
                   ignored = ignored_.Of(s) & PlayBits() & ~handled;
    const uint64_t chld = chld_.Of(s);
    const int flags = BitFlags(flags_.Of(s), kFlags);
    const sigset_t mask = BitsSet(mask_.Of(s) & PlayBits());
    ProbeRun run = RunProbe(
        [&](ProbeOptions&) {
          for (int sig : BitsSignals(handled | ignored)) {
            struct sigaction sa = {};
            if ((handled & Bit(sig)) != 0) {
              sa.sa_sigaction = NoopInfo;
              sa.sa_flags = flags | SA_SIGINFO;
            } else {
              sa.sa_handler = SIG_IGN;
              sa.sa_flags = flags & ~SA_SIGINFO;
            }
            sa.sa_mask = mask;
            ::sigaction(sig, &sa, nullptr);
          }
          struct sigaction sa = {};
          sa.sa_handler = chld == kChldIgnore    ? SIG_IGN
                          : chld == kChldHandler ? NoopHandler
                                                 : SIG_DFL;
          sa.sa_flags = chld == kChldNoCldWait ? SA_NOCLDWAIT
                        : chld == kChldHandler ? SA_NOCLDSTOP
                                               : 0;
          sa.sa_mask = mask;
          ::sigaction(SIGCHLD, &sa, nullptr);
        },
        {.fork_child = true}, 1, CaseDeadline(env));
    if (run.reports.empty()) {
      return Verdict::Broken(absl::StrCat("the exec probe: ", DescribeWaitStatus(run.status)));
    }
    const ProbeReport& r = run.reports[0];
    for (int sig : BitsSignals(PlayBits() | Bit(SIGCHLD))) {
      const ProbeAction& a = r.action[sig];
      const bool ign = (ignored & Bit(sig)) != 0 || (sig == SIGCHLD && chld == kChldIgnore);
      if (a.kind != (ign ? kProbeIgnore : kProbeDefault) || a.flags != 0 || a.mask != 0) {
        return Verdict::Fail(absl::StrFormat(
            "after execve %s (before: %s) has %s with sa_flags 0x%x and sa_mask %s; expected %s "
            "with no flag and an empty mask",
            SignalName(sig),
            sig == SIGCHLD         ? chld_.Name(chld)
            : (handled & Bit(sig)) ? absl::StrCat("handled with ", SayFlags(flags_.Of(s) | 16))
            : ign                  ? "SIG_IGN"
                                   : "SIG_DFL",
            a.kind == kProbeIgnore    ? "SIG_IGN"
            : a.kind == kProbeHandler ? "a handler"
                                      : "SIG_DFL",
            a.flags, SayMask(a.mask), ign ? "SIG_IGN" : "SIG_DFL"));
      }
    }
    const int want_reaped = chld == kChldIgnore ? 1 : 0;
    if (r.child_reaped != want_reaped) {
      return Verdict::Fail(absl::StrCat("with SIGCHLD ", chld_.Name(chld),
                                        " before execve, the new "
                                        "image's exited child was ",
                                        r.child_reaped == 1 ? "reaped automatically" : "a zombie"));
    }
    return Verdict::Pass();
  }

  const Param<uint64_t> handled_{this, 0, "before execve %s are handled", 0, SayMask};
  const Param<uint64_t> ignored_{this, 1, "%s are ignored", 0, SayMask};
  const Param<uint64_t> flags_{this, 2, "with %s", 0, SayFlags};
  const Param<uint64_t> mask_{this, 3, "and sa_mask %s", 0, SayMask};
  const ChoiceParam<uint64_t> chld_{this, 4, "SIGCHLD has %s", kChldDefault, kChlds};
};
IPCSPEC_REGISTER_PROPERTY(ExecFlagsProperty, "SIG-EXEC-FLAGS", {.examples = 15});

class SfdExecProperty final : public SignalProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      std::vector<Step> steps{cloexec_.Step(*rc::gen::arbitrary<bool>()),
                              mask_.Step(*GenMask(PlaySignals(), true))};
      const int n = *rc::gen::inRange(1, 7);
      for (int i = 0; i < n; ++i)
        steps.push_back(*GenSendStep(PlaySignals(), {kByKill, kBySigqueue}));
      return steps;
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const bool cloexec = cloexec_.Of(s);
    const uint64_t mask = mask_.Of(s) & PlayBits();
    const std::vector<SelfSend> sends = SelfSendsOf(s);
    const sigset_t all = BitsSet(PlayBits()), mset = BitsSet(mask);
    ProbeRun run = RunProbe(
        [&](ProbeOptions& o) {
          sigprocmask(SIG_SETMASK, &all, nullptr);
          for (const SelfSend& m : sends) SendSelf(m.method, m.sig, m.value);
          o.signalfd = ::signalfd(-1, &mset, SFD_NONBLOCK | (cloexec ? SFD_CLOEXEC : 0));
        },
        {}, 1, CaseDeadline(env));
    if (run.reports.empty()) {
      return Verdict::Broken(absl::StrCat("the exec probe: ", DescribeWaitStatus(run.status)));
    }
    const ProbeReport& r = run.reports[0];
    const std::string what = absl::StrCat("a signalfd for ", SayMask(mask),
                                          cloexec ? " with" : " without", " SFD_CLOEXEC");
    if (r.sfd_open != (cloexec ? 0 : 1)) {
      return Verdict::Fail(
          absl::StrCat(what, " is ", r.sfd_open == 1 ? "open" : "closed", " after execve"));
    }
    if (cloexec) return Verdict::Pass();
    // Expected records: per signal of the mask, a standard signal once, a
    // realtime one every instance with its value, FIFO.
    std::map<int, std::vector<SelfSend>> want;
    for (const SelfSend& m : sends) {
      if ((mask & Bit(m.sig)) == 0) continue;
      auto& q = want[m.sig];
      if (IsRealtime(m.sig) || q.empty()) q.push_back(m);
    }
    std::map<int, size_t> next;
    size_t total = 0;
    for (const auto& [sig, q] : want) total += q.size();
    if (static_cast<size_t>(r.nsfd) != total) {
      return Verdict::Fail(
          absl::StrFormat("%s: the new image read %d records, expected %d", what, r.nsfd, total));
    }
    for (int i = 0; i < r.nsfd; ++i) {
      const ProbeSignal& got = r.sfd[i];
      const size_t k = next[got.signo]++;
      const auto& q = want[got.signo];
      if (k >= q.size() || got.code != CodeOf(q[k].method) ||
          (q[k].method == kBySigqueue && got.value != q[k].value)) {
        return Verdict::Fail(absl::StrFormat("%s: after execve it read %s with code %d value %d",
                                             what, SignalName(got.signo), got.code, got.value));
      }
    }
    return Verdict::Pass();
  }

  const Param<bool> cloexec_{this, 0, "the signalfd has SFD_CLOEXEC: %s", false, SayYesNo};
  const Param<uint64_t> mask_{this, 1, "its mask is %s", 0, SayMask};
};
IPCSPEC_REGISTER_PROPERTY(SfdExecProperty, "SIG-SFD-EXEC", {.examples = 15});

}  // namespace signal_exec
}  // namespace
}  // namespace ipcspec::props
