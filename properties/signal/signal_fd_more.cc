// SIG-SFD-NONBLOCK, SIG-SFD-FORK and SIG-SFD-ERRORS: a signalfd's flags,
// blocking read and readiness, its behaviour across fork, and its errors.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/signal/signal_proc.h"
#include "properties/signal/signal_util.h"
#include "properties/support/common.h"
#include "properties/support/proc_util.h"

namespace ipcspec::props {
namespace {
namespace signal_fd_more {

bool Readable(int fd) {
  struct pollfd p = {fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}

// The signals of every record available now on a non-blocking signalfd.
uint64_t ReadSignals(int fd) {
  uint64_t got = 0;
  signalfd_siginfo r[8];
  ssize_t n;
  while ((n = ::read(fd, r, sizeof r)) > 0) {
    for (ssize_t i = 0; i < n / static_cast<ssize_t>(sizeof r[0]); ++i) {
      got |= Bit(static_cast<int>(r[i].ssi_signo));
    }
  }
  return got;
}

constexpr std::string_view kFlagNames[] = {"SFD_NONBLOCK", "SFD_CLOEXEC"};
std::string SayFlags(uint64_t v) { return SayBitNames(v, kFlagNames, "no flag"); }

class SfdNonblockProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const uint64_t flags = flags_.Of(s);
    const int sig = signal_.Of(s);
    const bool nonblock = (flags & 1) != 0, cloexec = (flags & 2) != 0;
    const sigset_t all = BitsSet(PlayBits()), one = SetOf({sig});
    sigprocmask(SIG_SETMASK, &all, nullptr);
    FileDescriptor fd(
        ::signalfd(-1, &one, (nonblock ? SFD_NONBLOCK : 0) | (cloexec ? SFD_CLOEXEC : 0)));
    if (!fd) return Verdict::Broken(absl::StrCat("signalfd: ", ErrnoName(errno)));
    const std::string what =
        absl::StrCat("a signalfd for ", SignalName(sig), " with ", SayFlags(flags));
    const int fl = ::fcntl(fd.get(), F_GETFL), fdfl = ::fcntl(fd.get(), F_GETFD);
    if (((fl & O_NONBLOCK) != 0) != nonblock || ((fdfl & FD_CLOEXEC) != 0) != cloexec) {
      return Verdict::Fail(absl::StrCat(what, ": O_NONBLOCK is ",
                                        (fl & O_NONBLOCK) ? "set" : "clear", ", FD_CLOEXEC is ",
                                        (fdfl & FD_CLOEXEC) ? "set" : "clear"));
    }
    if (Readable(fd.get()))
      return Verdict::Fail(absl::StrCat(what, ": POLLIN with nothing pending"));
    signalfd_siginfo r;
    if (nonblock) {
      if (::read(fd.get(), &r, sizeof r) != -1 || errno != EAGAIN) {
        return Verdict::Fail(
            absl::StrCat(what, ": a read with nothing pending did not give EAGAIN"));
      }
      ::kill(::getpid(), sig);
      if (!Readable(fd.get()))
        return Verdict::Fail(absl::StrCat(what, ": no POLLIN once it is pending"));
      if (::read(fd.get(), &r, sizeof r) != sizeof r || static_cast<int>(r.ssi_signo) != sig) {
        return Verdict::Fail(absl::StrCat(what, ": the pending signal could not be read"));
      }
    } else {
      // The read blocks; a thread sends the signal once it sleeps in read(2).
      const pid_t me = ::getpid();
      CancelFlag done;
      ssize_t n;
      {
        HelperThread sender([&] {
          if (WaitTaskBlockedIn(me, me, SYS_read, CaseDeadline(env), done.fd())) {
            ::tgkill(me, me, sig);
          }
        });
        if (!sender.started()) return Verdict::Broken("pthread_create");
        n = ::read(fd.get(), &r, sizeof r);
        done.Set();
      }
      if (n != sizeof r || static_cast<int>(r.ssi_signo) != sig) {
        return Verdict::Fail(absl::StrCat(what, ": the blocking read returned ",
                                          n < 0 ? ErrnoName(errno) : absl::StrCat(n, " bytes")));
      }
    }
    if (Readable(fd.get())) {
      return Verdict::Fail(absl::StrCat(what, ": POLLIN again after the signal was read"));
    }
    DrainPending(all);
    return Verdict::Pass();
  }

  const Param<uint64_t> flags_{this,    0, "the flags are %s", 1, rc::gen::inRange<uint64_t>(0, 4),
                               SayFlags};
  const Param<int> signal_{this,     1, "the signal is %s", SIGUSR1, GenSignal(PlaySignals()),
                           SaySignal};
};
IPCSPEC_REGISTER_PROPERTY(SfdNonblockProperty, "SIG-SFD-NONBLOCK", {.examples = 20});

class SfdForkProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const uint64_t parent = parent_.Of(s) & PlayBits(), child = child_.Of(s) & PlayBits();
    const sigset_t all = BitsSet(PlayBits());
    sigprocmask(SIG_SETMASK, &all, nullptr);
    for (int sig : BitsSignals(parent)) ::kill(::getpid(), sig);
    FileDescriptor fd(::signalfd(-1, &all, SFD_NONBLOCK | SFD_CLOEXEC));
    Pipe report;
    if (!fd || !report.Open()) return Verdict::Broken("signalfd or pipe");
    const pid_t pid = ForkChild([&] {
      uint64_t seen[2] = {ReadSignals(fd.get()), 0};
      for (int sig : BitsSignals(child)) ::kill(::getpid(), sig);
      seen[1] = ReadSignals(fd.get());
      return ::write(report.w.get(), seen, sizeof seen) == sizeof seen ? 0 : 1;
    });
    if (pid < 0) return Verdict::Broken("fork");
    report.w.reset();
    uint64_t seen[2] = {~uint64_t{0}, 0};
    const bool got = ReadFull(report.r.get(), seen, sizeof seen) == 0;
    int status = 0;
    if (!WaitChild(pid, 0, CaseDeadline(env), &status)) KillAndReap(pid);
    const uint64_t own = ReadSignals(fd.get());
    DrainPending(all);
    if (!got) return Verdict::Broken(absl::StrCat("the child ", DescribeWaitStatus(status)));
    if (seen[0] != 0) {
      return Verdict::Fail(absl::StrCat("the fork child read its parent's pending ",
                                        SayMask(seen[0]), " from the inherited signalfd"));
    }
    if (seen[1] != child) {
      return Verdict::Fail(absl::StrCat("the fork child sent itself ", SayMask(child), " and read ",
                                        SayMask(seen[1]), " from the inherited signalfd"));
    }
    if (own != parent) {
      return Verdict::Fail(absl::StrCat("after the fork the parent read ", SayMask(own),
                                        ", expected its own pending ", SayMask(parent)));
    }
    return Verdict::Pass();
  }

  const Param<uint64_t> parent_{
      this, 0, "the parent has %s pending at fork", 0, GenMask(PlaySignals()), SayMask};
  const Param<uint64_t> child_{
      this, 1, "the child sends itself %s", 0, GenMask(PlaySignals(), true), SayMask};
};
IPCSPEC_REGISTER_PROPERTY(SfdForkProperty, "SIG-SFD-FORK", {.examples = 15});

class SfdErrorsProperty final : public SignalProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const uint64_t error = error_.Of(s);
    const int sig = signal_.Of(s);
    const sigset_t all = BitsSet(PlayBits()), one = SetOf({sig});
    sigprocmask(SIG_SETMASK, &all, nullptr);
    ::kill(::getpid(), sig);
    Pipe p;
    if (!p.Open()) return Verdict::Broken("pipe2");
    int r = 0, want = EINVAL;
    FileDescriptor made;
    switch (error) {
      case kNotOpen: {
        const int closed = ::dup(p.w.get());
        ::close(closed);
        r = ::signalfd(closed, &one, 0);
        want = EBADF;
        break;
      }
      case kNotSignalfd:
        r = ::signalfd(p.r.get(), &one, 0);
        break;
      case kBadFlags:
        r = ::signalfd(-1, &one, 1);
        break;
      default: {
        made.reset(::signalfd(-1, &one, SFD_NONBLOCK | SFD_CLOEXEC));
        char buf[128];
        r = static_cast<int>(::read(made.get(), buf, static_cast<size_t>(size_.Of(s)) % 128));
        break;
      }
    }
    const int err = errno;
    if (r >= 0 && error != kShortRead) made.reset(r);
    const bool still = IsPending(sig);
    DrainPending(all);
    const std::string what = error == kShortRead
                                 ? absl::StrCat("a read of ", size_.Of(s) % 128, " bytes")
                                 : error_.Name(error);
    if (r != -1 || err != want) {
      return Verdict::Fail(absl::StrFormat("%s returned %d (%s), expected -1 with %s", what, r,
                                           r == -1 ? ErrnoName(err) : "no error", ErrnoName(want)));
    }
    if (!still) return Verdict::Fail(absl::StrCat(what, " took the pending ", SignalName(sig)));
    return Verdict::Pass();
  }

  enum SfdError : uint64_t { kNotOpen, kNotSignalfd, kBadFlags, kShortRead };
  static constexpr std::string_view kErrors[] = {
      "signalfd on a descriptor that is not open", "signalfd on a pipe",
      "signalfd with a flag other than SFD_NONBLOCK and SFD_CLOEXEC",
      "a read of less than one record"};
  const ChoiceParam<uint64_t> error_{this, 0, "the call is %s", kNotOpen, kErrors};
  const Param<int> size_{this, 1, "a short read asks for %s bytes", 1, rc::gen::inRange(1, 128)};
  const Param<int> signal_{
      this, 2, "the pending signal is %s", SIGUSR1, GenSignal(PlaySignals()), SaySignal};
};
IPCSPEC_REGISTER_PROPERTY(SfdErrorsProperty, "SIG-SFD-ERRORS", {.examples = 20});

}  // namespace signal_fd_more
}  // namespace
}  // namespace ipcspec::props
