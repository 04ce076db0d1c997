// FIFO-*: opening a mkfifo node. O_WRONLY|O_NONBLOCK without a reader is
// ENXIO, O_RDONLY|O_NONBLOCK always succeeds, O_RDWR never blocks, blocking
// opens wait for each other, and a blocked open is interrupted by a handled
// signal (EINTR without SA_RESTART). Every PIPE-* property also applies to
// "fifo", on a pipe made from a FIFO node.
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/support/child_watch.h"
#include "properties/support/common.h"
#include "properties/support/fifo_node.h"
#include "properties/support/fifo_property.h"
#include "properties/support/mech_common.h"
#include "properties/support/proc_util.h"

namespace ipcspec::props {
namespace {
namespace fifo_props {

class EnxioProperty final : public FifoProperty {
  std::string DescribeStep(const Step& s) const override {
    if (s.op == Op::kOpen) {
      return s.actor == 0 ? "a reader opens with O_RDONLY|O_NONBLOCK"
                          : "a writer tries O_WRONLY|O_NONBLOCK";
    }
    if (s.op == Op::kClose) return "the oldest reader closes";
    return NamedProperty::DescribeStep(s);
  }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    // 0: open a reader (O_RDONLY|O_NONBLOCK); 1: close the oldest reader;
    // 2: try a non-blocking writer.
    return rc::gen::exec([] {
      auto ops = *rc::gen::resize(12, rc::gen::nonEmpty(rc::gen::container<std::vector<int>>(
                                          rc::gen::elementOf(std::vector<int>{0, 1, 2}))));
      std::vector<Step> steps;
      for (int op : ops)
        steps.push_back(op == 0   ? Step{Op::kOpen, 0, 0, 0}
                        : op == 1 ? Step{Op::kClose, 0, 0, 0}
                                  : Step{Op::kOpen, 1, 0, 0});
      return steps;
    });
  }
  Verdict RunOn(const FifoNode& node, const Scenario& s, const CaseEnv&) const override {
    std::vector<FileDescriptor> readers;
    int i = 0;
    for (const Step& st : s.steps) {
      ++i;
      if (st.op == Op::kClose) {
        if (!readers.empty()) readers.erase(readers.begin());
        continue;
      }
      if (st.op != Op::kOpen) continue;
      if (st.actor == 0) {
        const int fd = node.Open(O_RDONLY | O_NONBLOCK);
        if (fd < 0)
          return Verdict::Fail(
              absl::StrFormat("step %d: open(O_RDONLY|O_NONBLOCK) %s", i, OpenResult(fd)));
        readers.emplace_back(fd);
        continue;
      }
      const int fd = node.Open(O_WRONLY | O_NONBLOCK);
      FileDescriptor hold(fd >= 0 ? fd : -1);
      const bool want_ok = !readers.empty();
      if (want_ok ? fd < 0 : fd != -ENXIO) {
        return Verdict::Fail(
            absl::StrFormat("step %d: open(O_WRONLY|O_NONBLOCK) with %d readers %s, expected %s", i,
                            readers.size(), OpenResult(fd), want_ok ? "success" : "ENXIO"));
      }
    }
    return Verdict::Pass();
  }
};
IPCSPEC_REGISTER_PROPERTY(EnxioProperty, "FIFO-ENXIO", {.applies = ForFifo, .examples = 20});

constexpr std::string_view kExtras[] = {"nobody", "a blocking reader", "a blocking writer"};

// What the O_RDWR opener found; its child's exit code.
enum RdwrExit { kRdwrOk, kRdwrOpen, kRdwrOther, kRdwrWrite, kRdwrExtraRead, kRdwrReadBack };

class RdwrProperty final : public FifoProperty {
  Verdict RunOn(const FifoNode& node, const Scenario& s, const CaseEnv& env) const override {
    SharedFlags flags(1);  // 0: the O_RDWR open returned
    const ChildCall c =
        WatchCall([&] { return Opener(node, s, flags); }, {SYS_openat}, CaseDeadline(env));
    if (c.blocked) {
      return Verdict::Fail(flags.IsRaised(0)
                               ? absl::StrCat("with an O_RDWR opener, the blocking open of ",
                                              extra_.Name(extra_.Of(s)), " blocked")
                               : "open(O_RDWR) blocked");
    }
    if (!c.exited || !WIFEXITED(c.status)) return Verdict::Fail("the opener " + c.Said());
    switch (WEXITSTATUS(c.status)) {
      case kRdwrOk:
        return Verdict::Pass();
      case kRdwrOpen:
        return Verdict::Fail("open(O_RDWR) failed");
      case kRdwrOther:
        return Verdict::Fail(absl::StrCat("with an O_RDWR opener, the open of ",
                                          extra_.Name(extra_.Of(s)), " failed"));
      case kRdwrWrite:
        return Verdict::Fail("write on the O_RDWR descriptor failed");
      case kRdwrExtraRead:
        return Verdict::Fail("the extra reader did not get what the O_RDWR descriptor wrote");
      default:
        return Verdict::Fail("the O_RDWR descriptor did not read back what it wrote");
    }
  }

  int Opener(const FifoNode& node, const Scenario& s, SharedFlags& flags) const {
    const int extra = extra_.Of(s);
    FileDescriptor rdwr(node.Open(O_RDWR | (nonblock_.Of(s) ? O_NONBLOCK : 0)));
    if (!rdwr) return kRdwrOpen;
    flags.Raise(0);
    FileDescriptor other;
    if (extra != 0) {
      other.reset(node.Open(extra == 1 ? O_RDONLY : O_WRONLY));
      if (!other) return kRdwrOther;
    }
    const std::vector<std::byte> data = Payload(1, 1, size_.Of(s));
    if (WriteFull(rdwr.get(), data.data(), data.size()) < 0) return kRdwrWrite;
    if (extra == 1) {
      // Either reader may get it; the O_RDWR one must not lose it.
      SetNonBlocking(other.get(), true);
      return DrainNonBlocking(other.get()) == data ? kRdwrOk : kRdwrExtraRead;
    }
    std::vector<std::byte> got(data.size());
    if (ReadFull(rdwr.get(), got.data(), got.size()) < 0 || got != data) return kRdwrReadBack;
    return kRdwrOk;
  }

  const YesNoParam nonblock_{this, 0, "the O_RDWR open is non-blocking: %s", false};
  const ChoiceParam<int> extra_{this, 1, "after it, %s opens the FIFO", 0, kExtras};
  const BytesParam size_{this, 2, "%s are written through it", 10,
                         rc::gen::inRange<uint64_t>(1, PIPE_BUF)};
};
IPCSPEC_REGISTER_PROPERTY(RdwrProperty, "FIFO-RDWR", {.applies = ForFifo, .examples = 20});

constexpr std::string_view kChildDoes[] = {"reads", "writes"};

class RendezvousProperty final : public FifoProperty {
  Verdict RunOn(const FifoNode& node, const Scenario& s, const CaseEnv& env) const override {
    const bool child_reads = child_.Of(s) == 0;
    const std::vector<std::byte> data = Payload(2, 0, size_.Of(s));
    const Deadline deadline = CaseDeadline(env);
    SharedFlags flags(4);
    Participants ps(deadline);
    ps.Spawn(child_reads ? "reader" : "writer", [&]() -> Verdict {
      flags.Counter(0) = static_cast<uint64_t>(::getpid());
      flags.Raise(0);
      const int fd = node.Open(child_reads ? O_RDONLY : O_WRONLY);
      flags.Raise(1);
      if (fd < 0) return Verdict::Fail(absl::StrCat("blocking open ", OpenResult(fd)));
      FileDescriptor f(fd);
      if (!child_reads)
        return WriteFull(fd, data.data(), data.size()) == 0 ? Verdict::Pass()
                                                            : Verdict::Fail("write");
      std::vector<std::byte> got(data.size());
      if (ReadFull(fd, got.data(), got.size()) < 0 || got != data)
        return Verdict::Fail("did not read what was written");
      return Verdict::Pass();
    });
    if (!flags.WaitFor(0, deadline)) return Verdict::Broken("child never started");
    const auto pid = static_cast<pid_t>(flags.Counter(0).load());
    if (!AwaitBlocked(pid, {SYS_openat}, flags, 1, deadline)) {
      return Verdict::Fail(absl::StrFormat("a blocking open(%s) with no %s did not block",
                                           child_reads ? "O_RDONLY" : "O_WRONLY",
                                           child_reads ? "writer" : "reader"));
    }
    // The other side opens without blocking: the waiting opener makes it possible.
    const int fd = node.Open((child_reads ? O_WRONLY : O_RDONLY) | O_NONBLOCK);
    if (fd < 0) {
      return Verdict::Fail(
          absl::StrCat("with an opener waiting, the other side's open ", OpenResult(fd)));
    }
    FileDescriptor mine(fd);
    SetNonBlocking(fd, false);
    if (!flags.WaitFor(1, deadline))
      return Verdict::Fail("the waiting open did not return after the other side opened");
    if (child_reads) {
      if (WriteFull(mine.get(), data.data(), data.size()) < 0) return Verdict::Fail("write");
      mine.reset();
    } else {
      std::vector<std::byte> got(data.size());
      if (ReadFull(mine.get(), got.data(), got.size()) < 0 || got != data)
        return Verdict::Fail("did not read what was written");
    }
    return ps.Join();
  }

  const ChoiceParam<int> child_{this, 0, "the process that opens first %s", 0, kChildDoes};
  const BytesParam size_{this, 1, "%s pass through", 100,
                         rc::gen::inRange<uint64_t>(1, 3 * PIPE_BUF)};
};
IPCSPEC_REGISTER_PROPERTY(RendezvousProperty, "FIFO-RENDEZVOUS",
                          {.applies = ForFifo, .examples = 10});

// In the opener: the shared counter its handler bumps, so the case process
// knows the signal was handled (and the interrupted open has ended).
std::atomic<uint64_t>* g_handled = nullptr;
void CountHandled(int) {
  if (g_handled != nullptr) g_handled->fetch_add(1);
}

constexpr std::string_view kOpenFor[] = {"reading", "writing"};

class EintrProperty final : public FifoProperty {
  Verdict RunOn(const FifoNode& node, const Scenario& s, const CaseEnv& env) const override;

  Verdict Opener(const FifoNode& node, const Scenario& s, SharedFlags& flags) const;

  const ChoiceParam<int> child_{this, 0, "the interrupted open is for %s", 0, kOpenFor};
  const Param<int> signal_{
      this,     1, "the signal is %s", SIGUSR1, rc::gen::element<int>(SIGUSR1, SIGUSR2, SIGALRM),
      SaySignal};
  const YesNoParam restart_{this, 2, "the handler has SA_RESTART: %s", false};
};
IPCSPEC_REGISTER_PROPERTY(EintrProperty, "FIFO-EINTR", {.applies = ForFifo, .examples = 10});

// Flags: 0 started (counter 0: pid), 1 the open returned; counter 1: handled.
Verdict EintrProperty::Opener(const FifoNode& node, const Scenario& s, SharedFlags& flags) const {
  const bool child_writes = child_.Of(s) != 0;
  const int sig = signal_.Of(s);
  g_handled = &flags.Counter(1);
  struct sigaction sa = {};
  sa.sa_handler = CountHandled;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = restart_.Of(s) ? SA_RESTART : 0;
  if (::sigaction(sig, &sa, nullptr) != 0) return Verdict::Broken("sigaction");
  flags.Counter(0) = static_cast<uint64_t>(::getpid());
  flags.Raise(0);
  const int fd = node.Open(child_writes ? O_WRONLY : O_RDONLY);
  flags.Raise(1);
  FileDescriptor f(fd >= 0 ? fd : -1);
  if (const uint64_t n = flags.Counter(1).load(); n != 1)
    return Verdict::Fail(absl::StrFormat("the handler ran %d times, not once", n));
  if (restart_.Of(s)) {
    return fd >= 0 ? Verdict::Pass()
                   : Verdict::Fail(absl::StrCat("with SA_RESTART, open ", OpenResult(fd)));
  }
  if (fd != -EINTR) {
    return Verdict::Fail(absl::StrFormat("blocking open(%s) interrupted by %s %s, not EINTR",
                                         child_writes ? "O_WRONLY" : "O_RDONLY", SignalName(sig),
                                         OpenResult(fd)));
  }
  return Verdict::Pass();
}

Verdict EintrProperty::RunOn(const FifoNode& node, const Scenario& s, const CaseEnv& env) const {
  const Deadline deadline = CaseDeadline(env);
  SharedFlags flags(2);
  Participants ps(deadline);
  ps.Spawn("opener", [&] { return Opener(node, s, flags); });
  if (!flags.WaitFor(0, deadline)) return Verdict::Broken("opener never started");
  const auto pid = static_cast<pid_t>(flags.Counter(0).load());
  if (!AwaitBlocked(pid, {SYS_openat}, flags, 1, deadline))
    return Verdict::Fail("the blocking open did not block");
  ::kill(pid, signal_.Of(s));
  // Once the handler has run, the interrupted open is over: sleeping in
  // openat again means it was restarted.
  while (!flags.IsRaised(1)) {
    if (deadline.Passed()) return Verdict::Fail("the interrupted open never returned");
    if (flags.Counter(1).load() > 0 && SleepsIn(pid, {SYS_openat})) {
      if (!restart_.Of(s)) {
        return Verdict::Fail(
            "without SA_RESTART, the open interrupted by a handled signal was restarted");
      }
      const int fd = node.Open((child_.Of(s) != 0 ? O_RDONLY : O_WRONLY) | O_NONBLOCK);
      if (fd < 0) return Verdict::Broken(absl::StrCat("opening the other side: ", OpenResult(fd)));
      FileDescriptor other(fd);
      return ps.Join();
    }
    flags.WaitFor(1, Deadline::After(absl::Milliseconds(1)));
  }
  return ps.Join();
}

}  // namespace fifo_props
}  // namespace
}  // namespace ipcspec::props
