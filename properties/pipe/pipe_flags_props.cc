// PIPE-* and PIPE2-* direction and flags: F_GETFL shows O_RDONLY on the read
// end and O_WRONLY on the write end with exactly the status flags asked for;
// pipe2 rejects unknown flags with EINVAL and makes nothing; O_CLOEXEC holds
// across exec; O_NONBLOCK is set on both ends; the default SIGPIPE action
// kills the writer; EMFILE when fewer than two descriptors are free.
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ipcspec/inventory.h"
#include "properties/support/child_watch.h"
#include "properties/support/common.h"
#include "properties/support/mech_common.h"
#include "properties/support/pipe_util.h"
#include "properties/support/proc_util.h"
#include "properties/support/verdicts.h"

namespace ipcspec::props {
namespace {
namespace pipe_flags_props {

constexpr int kStatusBits = O_NONBLOCK | O_DIRECT | O_APPEND | O_ASYNC;
constexpr int kPipe2Valid = O_CLOEXEC | O_NONBLOCK | O_DIRECT | O_EXCL;  // O_EXCL: watch queue

Applicability ForPipe2(const Transport& t) {
  return ForAnonymousPipe(t, "PIPE2-* checks pipe2(2) itself");
}

std::string SayFlagSet(uint64_t v) { return SayOpenFlags(v); }
std::string SayAccess(int flags) {
  switch (flags & O_ACCMODE) {
    case O_RDONLY:
      return "O_RDONLY";
    case O_WRONLY:
      return "O_WRONLY";
    case O_RDWR:
      return "O_RDWR";
  }
  return "an invalid access mode";
}

rc::Gen<int> StatusFlags() {
  return rc::gen::elementOf(std::vector<int>{0, O_NONBLOCK, O_DIRECT, O_NONBLOCK | O_DIRECT});
}

int CountOpenFds() {
  int n = 0;
  return ForEachDescriptor([&n](int) { ++n; }) ? n : -1;
}

class GetflProperty final : public NamedProperty {
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const int flags = flags_.Of(s);
    PipeFds p;
    Verdict broken;
    if (!NewPipeWithFlags(t, env.scratch_dir, flags | O_CLOEXEC, &p, &broken)) return broken;
    int want_r = O_RDONLY | (flags & O_NONBLOCK), want_w = O_WRONLY | flags;
    if (std::string e = Check(p, want_r, want_w, "after creation"); !e.empty())
      return Verdict::Fail(e);
    const int toggle = toggle_.Of(s);
    if (toggle == 0) return Verdict::Pass();
    const int fd = toggle == 1 ? p.r.get() : p.w.get();
    int& want = toggle == 1 ? want_r : want_w;
    const int now = ::fcntl(fd, F_GETFL);
    if (now < 0 || ::fcntl(fd, F_SETFL, now ^ O_NONBLOCK) < 0) return Verdict::Broken("F_SETFL");
    want ^= O_NONBLOCK;
    return PassUnless(Check(p, want_r, want_w, "after F_SETFL flipped O_NONBLOCK on one end"));
  }

  static std::string Check(const PipeFds& p, int want_r, int want_w, std::string_view when) {
    for (auto [fd, want, end] :
         {std::tuple{p.r.get(), want_r, "read end"}, std::tuple{p.w.get(), want_w, "write end"}}) {
      const int got = ::fcntl(fd, F_GETFL);
      if (got < 0) return absl::StrCat("F_GETFL on the ", end, ": ", ErrnoName(errno));
      if ((got & O_ACCMODE) != (want & O_ACCMODE) || (got & kStatusBits) != (want & kStatusBits)) {
        return absl::StrFormat("%s: F_GETFL on the %s shows %s with %s, expected %s with %s", when,
                               end, SayAccess(got), SayOpenFlags(got & kStatusBits),
                               SayAccess(want), SayOpenFlags(want & kStatusBits));
      }
    }
    return "";
  }

  const Param<int> flags_{this, 0, "the pipe is made with %s", 0, StatusFlags(), SayFlagSet};
  const Param<int> toggle_{
      this,
      1,
      "then O_NONBLOCK is flipped on %s",
      0,
      rc::gen::element<int>(0, 1, 2),
      [](uint64_t v) {
        return std::string(v == 0 ? "neither end" : v == 1 ? "the read end" : "the write end");
      }};
};
IPCSPEC_REGISTER_PROPERTY(GetflProperty, "PIPE-GETFL", {.applies = ForPipeOrFifo, .examples = 15});

class Pipe2EinvalProperty final : public NamedProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      std::vector<int> bad;
      for (int bit = 0; bit < 31; ++bit) {
        if (((1 << bit) & kPipe2Valid) == 0) bad.push_back(1 << bit);
      }
      int flags = *rc::gen::elementOf(bad);
      if (*rc::gen::arbitrary<bool>()) flags |= *rc::gen::elementOf(bad);
      flags |= *StatusFlags();
      if (*rc::gen::arbitrary<bool>()) flags |= O_CLOEXEC;
      return std::vector<Step>{flags_.Step(flags)};
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const int flags = flags_.Of(s);
    const int before = CountOpenFds();
    int fds[2] = {-7, -9};
    const int r = ::pipe2(fds, flags);
    if (r == 0) {
      FileDescriptor a(fds[0]), b(fds[1]);
      return Verdict::Fail(absl::StrFormat("pipe2(%s) succeeded, not EINVAL", SayOpenFlags(flags)));
    }
    if (errno != EINVAL) {
      return Verdict::Fail(absl::StrFormat("pipe2(%s) failed with %s, not EINVAL",
                                           SayOpenFlags(flags), ErrnoName(errno)));
    }
    if (fds[0] != -7 || fds[1] != -9) {
      return Verdict::Fail(absl::StrFormat("the failed pipe2(%s) changed pipefd to {%d, %d}",
                                           SayOpenFlags(flags), fds[0], fds[1]));
    }
    if (const int after = CountOpenFds(); after != before) {
      return Verdict::Fail(
          absl::StrFormat("the failed pipe2(%s) left %d descriptors open, %d before",
                          SayOpenFlags(flags), after, before));
    }
    return Verdict::Pass();
  }

  const Param<int> flags_{this, 0, "pipe2 is called with %s", 0x10000000, SayFlagSet};
};
IPCSPEC_REGISTER_PROPERTY(Pipe2EinvalProperty, "PIPE2-EINVAL",
                          {.applies = ForPipe2, .examples = 15});

class Pipe2CloexecProperty final : public NamedProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const bool cloexec = cloexec_.Of(s);
    const int flags = others_.Of(s) | (cloexec ? O_CLOEXEC : 0);
    int fds[2];
    if (::pipe2(fds, flags) != 0) {
      return Verdict::Broken(absl::StrCat("pipe2(", SayOpenFlags(flags), "): ", ErrnoName(errno)));
    }
    FileDescriptor r(fds[0]), w(fds[1]);
    PipeCapacity(w.get());
    for (auto [fd, end] : {std::pair{r.get(), "read end"}, std::pair{w.get(), "write end"}}) {
      const int fdflags = ::fcntl(fd, F_GETFD);
      if (fdflags < 0 || ((fdflags & FD_CLOEXEC) != 0) != cloexec) {
        return Verdict::Fail(absl::StrFormat("after pipe2(%s), F_GETFD on the %s is %d",
                                             SayOpenFlags(flags), end, fdflags));
      }
      if (std::string e = ProbeAcrossExec(fd, cloexec, env); !e.empty()) {
        return Verdict::Fail(
            absl::StrFormat("after pipe2(%s), the %s %s", SayOpenFlags(flags), end, e));
      }
    }
    return Verdict::Pass();
  }

  static std::string ProbeAcrossExec(int fd, bool cloexec, const CaseEnv& env) {
    const int survived = SurvivesExec(fd, CaseDeadline(env));
    if (survived < 0) return "could not be probed with an exec of /bin/cat";
    if ((survived == 1) == !cloexec) return "";
    return survived == 1 ? "is still open after execve" : "was closed by execve";
  }

  const YesNoParam cloexec_{this, 0, "O_CLOEXEC is given: %s", true};
  const Param<int> others_{this, 1, "the other flags are %s", 0, StatusFlags(), SayFlagSet};
};
IPCSPEC_REGISTER_PROPERTY(Pipe2CloexecProperty, "PIPE2-CLOEXEC",
                          {.applies = ForPipe2, .examples = 10});

class Pipe2NonblockProperty final : public NamedProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const int flags = O_NONBLOCK | O_CLOEXEC | (direct_.Of(s) ? O_DIRECT : 0);
    int fds[2];
    if (::pipe2(fds, flags) != 0) {
      return Verdict::Broken(absl::StrCat("pipe2(", SayOpenFlags(flags), "): ", ErrnoName(errno)));
    }
    FileDescriptor r(fds[0]), w(fds[1]);
    if (::fcntl(w.get(), F_SETPIPE_SZ, pages_.Of(s) * PageSize()) < 0)
      return Verdict::Broken(absl::StrCat("F_SETPIPE_SZ: ", ErrnoName(errno)));
    const Deadline deadline = CaseDeadline(env);
    ChildCall c = WatchCall(
        [&] {
          char one;
          return ExitCodeOf(::read(r.get(), &one, 1));
        },
        {SYS_read}, deadline);
    if (!c.FailedWith(EAGAIN)) {
      return Verdict::Fail(
          absl::StrFormat("after pipe2(%s), a read of the empty pipe %s, not "
                          "EAGAIN",
                          SayOpenFlags(flags), c.Said()));
    }
    const long filled = FillNonBlocking(w.get(), PageSize());
    if (filled < 0) return Verdict::Fail(absl::StrCat("filling the pipe: ", ErrnoName(-filled)));
    if (ssize_t n = ::write(w.get(), "x", 1); n >= 0 || errno != EAGAIN) {
      return Verdict::Fail(
          absl::StrFormat("after pipe2(%s), a write to the full pipe %s, not "
                          "EAGAIN",
                          SayOpenFlags(flags), Said(n, errno)));
    }
    if (SetNonBlocking(w.get(), false) < 0) return Verdict::Broken("F_SETFL");
    c = WatchCall([&] { return ExitCodeOf(::write(w.get(), "x", 1)); }, {SYS_write}, deadline);
    if (!c.blocked) {
      return Verdict::Fail(absl::StrCat(
          "with O_NONBLOCK cleared on the write end, a write to the full pipe ", c.Said()));
    }
    return Verdict::Pass();
  }

  const Param<int> pages_{this, 0, "the capacity is %s pages", 16,
                          rc::gen::element<int>(1, 2, 4, 16)};
  const YesNoParam direct_{this, 1, "O_DIRECT is given too: %s", false};
};
IPCSPEC_REGISTER_PROPERTY(Pipe2NonblockProperty, "PIPE2-NONBLOCK",
                          {.applies = ForPipe2, .examples = 10});

class SigpipeKillProperty final : public PipeProperty {
  Verdict RunOn(PipeFds& p, const Transport&, const Scenario& s,
                const CaseEnv& env) const override {
    const std::vector<std::byte> pre = PipeBytes(1, queued_.Of(s));
    if (WriteFull(p.w.get(), pre.data(), pre.size()) < 0) return Verdict::Broken("write");
    if (nonblock_.Of(s)) SetNonBlocking(p.w.get(), true);
    p.r.reset();
    const std::vector<std::byte> data = PipeBytes(2, std::max<uint64_t>(1, size_.Of(s)));
    const ChildCall c = WatchCall(
        [&] {
          DefaultSignalAction(SIGPIPE);
          return ExitCodeOf(::write(p.w.get(), data.data(), data.size()));
        },
        {SYS_write}, CaseDeadline(env));
    if (!c.exited || !IsKilledBy(c.status, SIGPIPE)) {
      return Verdict::Fail(absl::StrFormat(
          "a write of %d bytes with no reader left, SIGPIPE at SIG_DFL: the writer %s, "
          "expected killed by SIGPIPE",
          data.size(), c.Said()));
    }
    return Verdict::Pass();
  }

  const BytesParam queued_{this, 0, "%s are left unread", 0,
                           rc::gen::inRange<uint64_t>(0, 4 * PIPE_BUF)};
  const BytesParam size_{this, 1, "the write is %s", 1,
                         rc::gen::inRange<uint64_t>(1, 3 * PIPE_BUF)};
  const YesNoParam nonblock_{this, 2, "the write end is non-blocking: %s", false};
};
IPCSPEC_REGISTER_PROPERTY(SigpipeKillProperty, "PIPE-SIGPIPE-KILL",
                          {.applies = ForPipeOrFifo, .examples = 10});

// Exit codes of the EMFILE child.
enum EmfileExit { kEmfileOk, kEmfileSetup, kEmfileWrongResult, kEmfileLeak, kEmfileWrongFds };

// Descriptor allocation by pipe(2) itself.
Applicability ForPipeDescriptors(const Transport& t) {
  return ForAnonymousPipe(t, "PIPE-* checks pipe(2) descriptor allocation here");
}

class EmfileProperty final : public NamedProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const int free_slots = free_.Of(s);
    const bool use_pipe2 = pipe2_.Of(s);
    const pid_t pid = ForkChild([&] { return Child(free_slots, use_pipe2); });
    int status = 0;
    if (pid < 0 || !WaitChild(pid, 0, CaseDeadline(env), &status)) {
      KillAndReap(pid);
      return Verdict::Broken("the probing child did not finish");
    }
    const char* call = use_pipe2 ? "pipe2" : "pipe";
    if (!WIFEXITED(status))
      return Verdict::Fail(absl::StrCat("the child ", DescribeWaitStatus(status)));
    switch (WEXITSTATUS(status)) {
      case kEmfileOk:
        return Verdict::Pass();
      case kEmfileSetup:
        return Verdict::Broken("could not set up descriptors 0-2 and RLIMIT_NOFILE");
      case kEmfileWrongResult:
        return Verdict::Fail(
            absl::StrFormat("%s with %d free descriptor slots %s", call, free_slots,
                            free_slots >= 2 ? "failed" : "did not fail with EMFILE"));
      case kEmfileLeak:
        return Verdict::Fail(
            absl::StrFormat("%s failed with EMFILE (%d free slots) but a descriptor was left open",
                            call, free_slots));
      default:
        return Verdict::Fail(
            absl::StrFormat("%s with exactly %d free slots did not use the lowest two (3 and 4)",
                            call, free_slots));
    }
  }

  static int Child(int free_slots, bool use_pipe2) {
    ::close_range(3, ~0U, 0);
    for (int fd = 0; fd < 3; ++fd) {
      if (::fcntl(fd, F_GETFD) < 0 && ::open("/dev/null", O_RDWR) != fd) return kEmfileSetup;
    }
    struct rlimit rl = {static_cast<rlim_t>(3 + free_slots), static_cast<rlim_t>(3 + free_slots)};
    if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) return kEmfileSetup;
    int fds[2] = {-1, -1};
    const int r = use_pipe2 ? ::pipe2(fds, 0) : ::pipe(fds);
    if (free_slots < 2) {
      if (r == 0 || errno != EMFILE) return kEmfileWrongResult;
      for (int fd = 3; fd < 3 + free_slots; ++fd) {
        if (::fcntl(fd, F_GETFD) >= 0) return kEmfileLeak;
      }
      return kEmfileOk;
    }
    if (r != 0) return kEmfileWrongResult;
    return std::min(fds[0], fds[1]) == 3 && std::max(fds[0], fds[1]) == 4 ? kEmfileOk
                                                                          : kEmfileWrongFds;
  }

  const Param<int> free_{this, 0, "%s descriptor slots are free", 1,
                         rc::gen::element<int>(0, 1, 2, 3)};
  const YesNoParam pipe2_{this, 1, "the call is pipe2 (not pipe): %s", false};
};
IPCSPEC_REGISTER_PROPERTY(EmfileProperty, "PIPE-EMFILE",
                          {.applies = ForPipeDescriptors, .examples = 10});

}  // namespace pipe_flags_props
}  // namespace
}  // namespace ipcspec::props
