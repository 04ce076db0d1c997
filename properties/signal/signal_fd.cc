// SIG-SFD-*: signalfd(2). Signals are made pending (blocked, then sent)
// before the descriptor is read without blocking, so the reads do not
// depend on timing; the blocking read of SIG-SFD-NONBLOCK is woken by a
// helper thread once the main thread sleeps in read(2).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
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
namespace signal_fd {

// Reads every record available on a non-blocking signalfd, `per_read`
// records at a time. Fails when a read returns a partial record or fewer
// records than were expected to fit, or more than `most` records in all.
std::string ReadAll(int fd, int per_read, size_t most, std::vector<signalfd_siginfo>* out) {
  std::vector<signalfd_siginfo> buf(static_cast<size_t>(per_read));
  for (;;) {
    if (out->size() > most) {
      return absl::StrCat("reads returned ", out->size(), " records, more than the ", most,
                          " signals that were pending");
    }
    const ssize_t n = ::read(fd, buf.data(), buf.size() * sizeof buf[0]);
    if (n < 0 && errno == EAGAIN) return "";
    if (n <= 0 || n % sizeof buf[0] != 0) {
      return absl::StrCat("read of ", per_read, " records returned ",
                          n < 0 ? ErrnoName(errno) : absl::StrCat(n, " bytes"));
    }
    out->insert(out->end(), buf.begin(), buf.begin() + n / static_cast<ssize_t>(sizeof buf[0]));
    if (n / static_cast<ssize_t>(sizeof buf[0]) < per_read) {
      // Short: nothing may be left.
      signalfd_siginfo more;
      if (::read(fd, &more, sizeof more) >= 0 || errno != EAGAIN) {
        return absl::StrCat("a read returned ", n / sizeof buf[0], " of ", per_read,
                            " records although more were pending");
      }
      return "";
    }
  }
}

uint64_t SignalsOf(const std::vector<signalfd_siginfo>& recs) {
  uint64_t b = 0;
  for (const signalfd_siginfo& r : recs) b |= Bit(static_cast<int>(r.ssi_signo));
  return b;
}

class SfdReadProperty final : public SignalProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      std::vector<Step> steps{per_read_.Step(*rc::gen::inRange(1, 9))};
      const int n = *rc::gen::inRange(1, 13);
      for (int i = 0; i < n; ++i) {
        steps.push_back(*GenSendStep(PlaySignals(), {kByKill, kBySigqueue, kByTgkill}));
      }
      return steps;
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    ResetDeliveries();
    const sigset_t all = BitsSet(PlayBits());
    for (int sig : PlaySignals()) InstallRecorder(sig, 0, all);
    sigprocmask(SIG_SETMASK, &all, nullptr);
    // What must come back, per signal: the thread's own instances first,
    // then the process's; a standard signal once per set.
    std::map<int, std::vector<SelfSend>> own, shared;
    for (const SelfSend& m : SelfSendsOf(s)) {
      if (int rc = SendSelf(m.method, m.sig, m.value); rc != 0) {
        return Verdict::Broken(absl::StrCat(SayMethod(m.method), ": ", Errno(rc)));
      }
      auto& q = m.method == kByTgkill ? own[m.sig] : shared[m.sig];
      if (IsRealtime(m.sig) || q.empty()) q.push_back(m);
    }
    FileDescriptor fd(::signalfd(-1, &all, SFD_NONBLOCK | SFD_CLOEXEC));
    if (!fd) return Verdict::Broken(absl::StrCat("signalfd: ", ErrnoName(errno)));
    std::vector<signalfd_siginfo> got;
    std::string failure = ReadAll(fd.get(), per_read_.Of(s), SelfSendsOf(s).size(), &got);
    std::map<int, size_t> next;
    for (const signalfd_siginfo& r : got) {
      if (!failure.empty()) break;
      const int sig = static_cast<int>(r.ssi_signo);
      std::vector<SelfSend> want = own[sig];
      want.insert(want.end(), shared[sig].begin(), shared[sig].end());
      const size_t i = next[sig]++;
      if (i >= want.size()) {
        failure = absl::StrCat("read returned ", SignalName(sig), " ", i + 1,
                               " times, more than were pending");
        break;
      }
      const SelfSend& m = want[i];
      if (r.ssi_code != CodeOf(m.method) || r.ssi_pid != static_cast<uint32_t>(::getpid()) ||
          r.ssi_uid != ::getuid() || (m.method == kBySigqueue && r.ssi_int != m.value)) {
        failure = absl::StrFormat(
            "record %d of %s: ssi_code %d ssi_pid %d ssi_uid %d ssi_int %d; expected the %s "
            "instance (code %d, pid %d, uid %d, value %d)",
            i + 1, SignalName(sig), r.ssi_code, r.ssi_pid, r.ssi_uid, r.ssi_int,
            SayMethod(m.method), CodeOf(m.method), ::getpid(), ::getuid(), m.value);
      }
    }
    for (const auto& [sig, q] : own) {
      const size_t want = q.size() + shared[sig].size();
      if (failure.empty() && next[sig] != want) {
        failure = absl::StrFormat("%s: %d records read, %d were pending", SignalName(sig),
                                  next[sig], want);
      }
    }
    for (const auto& [sig, q] : shared) {
      if (failure.empty() && next[sig] != q.size() + own[sig].size()) {
        failure = absl::StrFormat("%s: %d records read, %d were pending", SignalName(sig),
                                  next[sig], q.size() + own[sig].size());
      }
    }
    if (failure.empty()) {
      const uint64_t left = SetBits(PendingSet()) & PlayBits();
      sigprocmask(SIG_UNBLOCK, &all, nullptr);
      if (left != 0 || DeliveryCount() != 0) {
        failure = absl::StrCat("after reading them all ", SayMask(left), " are still pending and ",
                               DeliveryCount(), " handlers ran on unblocking");
      }
    }
    sigprocmask(SIG_BLOCK, &all, nullptr);
    DrainPending(all);
    return PassUnless(failure);
  }

  const Param<int> per_read_{this, 0, "each read asks for %s records", 1};
};
IPCSPEC_REGISTER_PROPERTY(SfdReadProperty, "SIG-SFD-READ", {.examples = 25});

class SfdMaskProperty final : public SignalProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      const uint64_t m1 = *GenMask(PlaySignals());
      const bool replace = *rc::gen::arbitrary<bool>();
      return std::vector<Step>{first_.Step(m1), second_.Step(*GenMask(PlaySignals()) & ~m1),
                               pending_.Step(*GenMask(PlaySignals(), true)),
                               replaced_.Step(replace ? *GenMask(PlaySignals(), true) : 0),
                               uncatchable_.Step(*rc::gen::arbitrary<bool>())};
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const uint64_t extra = uncatchable_.Of(s) ? Bit(SIGKILL) | Bit(SIGSTOP) : 0;
    const uint64_t pending = pending_.Of(s) & PlayBits(), replaced = replaced_.Of(s) & PlayBits();
    const uint64_t m1 = first_.Of(s) & PlayBits();
    const uint64_t m2 = second_.Of(s) & PlayBits() & ~m1;
    const sigset_t all = BitsSet(PlayBits()), set1 = BitsSet(m1 | extra),
                   set2 = BitsSet(m2 | extra), set3 = BitsSet(replaced | extra);
    sigprocmask(SIG_SETMASK, &all, nullptr);
    for (int sig : BitsSignals(pending)) ::kill(::getpid(), sig);
    FileDescriptor fd1(::signalfd(-1, &set1, SFD_NONBLOCK | SFD_CLOEXEC));
    FileDescriptor fd2(::signalfd(-1, &set2, SFD_NONBLOCK | SFD_CLOEXEC));
    std::string failure;
    if (!fd1 || !fd2) {
      failure = absl::StrCat("signalfd with mask ", SayMask(m1 | extra), " or ",
                             SayMask(m2 | extra), ": ", ErrnoName(errno));
    } else if (replaced != 0 && ::signalfd(fd1.get(), &set3, 0) != fd1.get()) {
      failure = absl::StrCat("signalfd(fd, ", SayMask(replaced | extra),
                             ") to replace the mask: ", ErrnoName(errno));
    }
    const uint64_t mask1 = replaced != 0 ? replaced : m1;
    std::vector<signalfd_siginfo> got1, got2;
    if (failure.empty()) failure = ReadAll(fd1.get(), 8, 64, &got1);
    if (failure.empty()) failure = ReadAll(fd2.get(), 8, 64, &got2);
    const uint64_t left = SetBits(PendingSet()) & PlayBits();
    if (failure.empty() && (SignalsOf(got1) != (pending & mask1) ||
                            got1.size() != BitsSignals(SignalsOf(got1)).size())) {
      failure =
          absl::StrCat("with ", SayMask(pending), " pending, the descriptor for ", SayMask(mask1),
                       " read ", SayMask(SignalsOf(got1)), " (", got1.size(), " records)");
    } else if (failure.empty() && SignalsOf(got2) != (pending & m2 & ~mask1)) {
      failure = absl::StrCat("with ", SayMask(pending), " pending, the second descriptor, for ",
                             SayMask(m2), ", read ", SayMask(SignalsOf(got2)), " after the first");
    } else if (failure.empty() && left != (pending & ~mask1 & ~m2)) {
      failure = absl::StrCat("after both reads ", SayMask(left), " are pending, expected ",
                             SayMask(pending & ~mask1 & ~m2));
    }
    DrainPending(all);
    return PassUnless(failure);
  }

  const Param<uint64_t> first_{this, 0, "the first descriptor's mask is %s", 0, SayMask};
  const Param<uint64_t> second_{this, 1, "the second descriptor's mask is %s", 0, SayMask};
  const Param<uint64_t> pending_{this, 2, "%s are pending", 0, SayMask};
  const Param<uint64_t> replaced_{this, 3, "the first mask is then replaced by %s", 0, SayMask};
  const Param<bool> uncatchable_{this, 4, "the masks also name SIGKILL and SIGSTOP: %s", false,
                                 SayYesNo};
};
IPCSPEC_REGISTER_PROPERTY(SfdMaskProperty, "SIG-SFD-MASK", {.examples = 25});

class SfdProcmaskProperty final : public SignalProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      const uint64_t f = *GenMask(PlaySignals(), true);
      return std::vector<Step>{mask_.Step(f), blocked_.Step(*GenMask(PlaySignals()) & f)};
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const uint64_t f = mask_.Of(s) & PlayBits(), b = blocked_.Of(s) & f;
    ResetDeliveries();
    const sigset_t fset = BitsSet(f), bset = BitsSet(b);
    for (int sig : BitsSignals(f)) InstallRecorder(sig, 0, fset);
    sigprocmask(SIG_SETMASK, &bset, nullptr);
    FileDescriptor fd(::signalfd(-1, &fset, SFD_NONBLOCK | SFD_CLOEXEC));
    if (!fd) return Verdict::Broken(absl::StrCat("signalfd: ", ErrnoName(errno)));
    const sigset_t after = CurrentMask();
    std::string failure;
    if (!SameSet(after, bset)) {
      failure = absl::StrCat("signalfd(", SayMask(f), ") changed the mask from ", SayMask(b),
                             " to ", DescribeSet(after));
    }
    for (int sig : BitsSignals(f)) ::kill(::getpid(), sig);
    uint64_t handled = 0;
    for (const Delivery& d : Deliveries()) handled |= Bit(d.signo);
    std::vector<signalfd_siginfo> got;
    if (failure.empty()) failure = ReadAll(fd.get(), 8, 64, &got);
    if (failure.empty() && (handled != (f & ~b) || SignalsOf(got) != b)) {
      failure = absl::StrCat("signalfd for ", SayMask(f), " with ", SayMask(b),
                             " blocked: the handlers of ", SayMask(handled), " ran and ",
                             SayMask(SignalsOf(got)), " were read; expected handlers for ",
                             SayMask(f & ~b), " and ", SayMask(b), " read");
    }
    DrainPending(fset);
    return PassUnless(failure);
  }

  const Param<uint64_t> mask_{this, 0, "the descriptor's mask is %s", 0, SayMask};
  const Param<uint64_t> blocked_{this, 1, "of those, %s are blocked", 0, SayMask};
};
IPCSPEC_REGISTER_PROPERTY(SfdProcmaskProperty, "SIG-SFD-PROCMASK", {.examples = 25});

}  // namespace signal_fd
}  // namespace
}  // namespace ipcspec::props
