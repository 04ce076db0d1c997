// FIFO-*: opening a mkfifo node. O_WRONLY|O_NONBLOCK without a reader is
// ENXIO, O_RDONLY|O_NONBLOCK always succeeds, O_RDWR never blocks, blocking
// opens wait for each other, and a blocked open is interrupted by a handled
// signal (EINTR without SA_RESTART). Every PIPE-* property also applies to
// "fifo", on a pipe made from a FIFO node.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/support/common.h"
#include "properties/support/mech_common.h"
#include "properties/support/proc_util.h"

namespace ipcspec::props {
namespace {

// A FIFO node in the scratch directory, removed again at scope exit.
class FifoNode {
 public:
  explicit FifoNode(const std::string& dir) : path_(absl::StrCat(dir, "/", UniqueName("fifo"))) {
    ok_ = ::mkfifo(path_.c_str(), 0600) == 0;
  }
  ~FifoNode() { ::unlink(path_.c_str()); }
  FifoNode(const FifoNode&) = delete;
  FifoNode& operator=(const FifoNode&) = delete;
  bool ok() const { return ok_; }
  // open(2) on the node; the descriptor or -errno.
  int Open(int flags) const {
    const int fd = ::open(path_.c_str(), flags | O_CLOEXEC);
    return fd >= 0 ? fd : -errno;
  }

 private:
  std::string path_;
  bool ok_ = false;
};

std::string Result(int rc) {
  return rc >= 0 ? "succeeded" : absl::StrCat("failed with ", ErrnoName(-rc));
}

class EnxioProperty : public NamedProperty {
 public:
  EnxioProperty()
      : NamedProperty(
            "FIFO-ENXIO",
            "open(O_WRONLY|O_NONBLOCK) gives ENXIO exactly while no reader has the FIFO open; "
            "open(O_RDONLY|O_NONBLOCK) always succeeds at once",
            "fifo(7), open(2) ENXIO; POSIX open() O_NONBLOCK; LTP open/open12.c; "
            "gVisor test/syscalls/linux/mknod.cc") {}
  Applicability AppliesTo(const Transport& t) const override { return ForFifo(t); }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    // 0: open a reader (O_RDONLY|O_NONBLOCK); 1: close the oldest reader;
    // 2: try a non-blocking writer.
    return rc::gen::exec([] {
      auto ops = *rc::gen::resize(
          12, rc::gen::nonEmpty(rc::gen::container<std::vector<int>>(rc::gen::inRange(0, 3))));
      std::vector<Step> steps;
      for (int op : ops)
        steps.push_back(op == 0   ? Step{Op::kOpen, 0, 0, 0}
                        : op == 1 ? Step{Op::kClose, 0, 0, 0}
                                  : Step{Op::kOpen, 1, 0, 0});
      return steps;
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    FifoNode node(env.scratch_dir);
    if (!node.ok()) return Verdict::Broken(absl::StrCat("mkfifo: ", ErrnoName(errno)));
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
              absl::StrFormat("step %d: open(O_RDONLY|O_NONBLOCK) %s", i, Result(fd)));
        readers.emplace_back(fd);
        continue;
      }
      const int fd = node.Open(O_WRONLY | O_NONBLOCK);
      FileDescriptor hold(fd >= 0 ? fd : -1);
      const bool want_ok = !readers.empty();
      if (want_ok ? fd < 0 : fd != -ENXIO) {
        return Verdict::Fail(
            absl::StrFormat("step %d: open(O_WRONLY|O_NONBLOCK) with %d readers %s, expected %s", i,
                            readers.size(), Result(fd), want_ok ? "success" : "ENXIO"));
      }
    }
    return Verdict::Pass();
  }
};

class RdwrProperty : public NamedProperty {
 public:
  RdwrProperty()
      : NamedProperty("FIFO-RDWR",
                      "open(O_RDWR) on a FIFO never blocks, with or without other openers, and the "
                      "descriptor reads back what it writes",
                      "fifo(7) (Linux: O_RDWR open succeeds in blocking and non-blocking mode)") {}
  Applicability AppliesTo(const Transport& t) const override { return ForFifo(t); }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([] {
      return std::vector<Step>{
          Step::Param(0, *rc::gen::inRange(0, 2)),  // O_NONBLOCK
          Step::Param(1, *rc::gen::inRange(0, 3)),  // 0 alone, 1 with reader, 2 with writer
          Step::Param(2, *rc::gen::inRange<uint64_t>(1, PIPE_BUF))};
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    FifoNode node(env.scratch_dir);
    if (!node.ok()) return Verdict::Broken(absl::StrCat("mkfifo: ", ErrnoName(errno)));
    const int extra = static_cast<int>(s.Param(1, 0));
    FileDescriptor other;
    FileDescriptor rdwr;
    {
      InterruptAfter guard(absl::Milliseconds(500));
      const int fd = node.Open(O_RDWR | (s.Param(0, 0) != 0 ? O_NONBLOCK : 0));
      if (fd < 0) {
        return Verdict::Fail(absl::StrCat("open(O_RDWR) ", fd == -EINTR ? "blocked" : Result(fd)));
      }
      rdwr.reset(fd);
      if (extra == 1) other.reset(node.Open(O_RDONLY));
      if (extra == 2) other.reset(node.Open(O_WRONLY));
      if (!other && extra != 0)
        return Verdict::Fail("with an O_RDWR opener, a blocking open of the other side blocked");
    }
    const std::vector<std::byte> data = Payload(1, 1, s.Param(2, 10));
    if (WriteFull(rdwr.get(), data.data(), data.size()) < 0)
      return Verdict::Fail("write on the O_RDWR descriptor");
    std::vector<std::byte> got(data.size());
    if (extra == 1) {
      // Either reader may get it; the O_RDWR one must not lose it.
      SetNonBlocking(other.get(), true);
      std::vector<std::byte> a = DrainNonBlocking(other.get());
      if (a != data)
        return Verdict::Fail("the extra reader did not get what the O_RDWR descriptor wrote");
      return Verdict::Pass();
    }
    if (ReadFull(rdwr.get(), got.data(), got.size()) < 0 || got != data) {
      return Verdict::Fail("the O_RDWR descriptor did not read back what it wrote");
    }
    return Verdict::Pass();
  }
};

class RendezvousProperty : public NamedProperty {
 public:
  RendezvousProperty()
      : NamedProperty(
            "FIFO-RENDEZVOUS",
            "a blocking open for reading (or writing) waits until the other side opens; then "
            "both return and data flows",
            "fifo(7); POSIX open() 'O_NONBLOCK clear'; LTP testcases/kernel/syscalls/mkfifo/") {}
  Applicability AppliesTo(const Transport& t) const override { return ForFifo(t); }
  int DefaultExamples() const override { return 10; }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([] {
      return std::vector<Step>{Step::Param(0, *rc::gen::inRange(0, 2)),
                               Step::Param(1, *rc::gen::inRange<uint64_t>(1, 3 * PIPE_BUF))};
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const bool child_reads = s.Param(0, 0) == 0;
    FifoNode node(env.scratch_dir);
    if (!node.ok()) return Verdict::Broken(absl::StrCat("mkfifo: ", ErrnoName(errno)));
    const std::vector<std::byte> data = Payload(2, 0, s.Param(1, 100));
    const Deadline deadline = CaseDeadline(env);
    SharedFlags flags(4);
    Participants ps(deadline);
    ps.Spawn(child_reads ? "reader" : "writer", [&]() -> Verdict {
      flags.Counter(0) = static_cast<uint64_t>(::getpid());
      flags.Raise(0);
      const int fd = node.Open(child_reads ? O_RDONLY : O_WRONLY);
      flags.Raise(1);
      if (fd < 0) return Verdict::Fail(absl::StrCat("blocking open ", Result(fd)));
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
    if (!WaitUntilBlockedIn(pid, SYS_openat, deadline) || flags.IsRaised(1)) {
      return Verdict::Fail(absl::StrFormat("a blocking open(%s) with no %s did not block",
                                           child_reads ? "O_RDONLY" : "O_WRONLY",
                                           child_reads ? "writer" : "reader"));
    }
    FileDescriptor mine;
    {
      InterruptAfter guard(absl::Seconds(2));
      const int fd = node.Open(child_reads ? O_WRONLY : O_RDONLY);
      if (fd < 0)
        return Verdict::Fail(
            absl::StrCat("the matching blocking open ", fd == -EINTR ? "blocked" : Result(fd)));
      mine.reset(fd);
    }
    if (!flags.WaitFor(1, deadline))
      return Verdict::Fail("the first open did not return after the second");
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
};

class EintrProperty : public NamedProperty {
 public:
  EintrProperty()
      : NamedProperty(
            "FIFO-EINTR",
            "a blocking FIFO open interrupted by a handled signal fails with EINTR without "
            "SA_RESTART (the handler ran once); with SA_RESTART it resumes and completes",
            "open(2) EINTR, signal(7) 'Interruption of system calls'; LTP open/open13.c") {}
  Applicability AppliesTo(const Transport& t) const override { return ForFifo(t); }
  int DefaultExamples() const override { return 10; }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([] {
      return std::vector<Step>{
          Step::Param(0, *rc::gen::inRange(0, 2)),  // child opens for writing
          Step::Param(1, *rc::gen::elementOf(std::vector<uint64_t>{SIGUSR1, SIGUSR2, SIGALRM})),
          Step::Param(2, *rc::gen::inRange(0, 2))};  // SA_RESTART
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const bool child_writes = s.Param(0, 0) != 0;
    const int sig = static_cast<int>(s.Param(1, SIGUSR1));
    const bool restart = s.Param(2, 0) != 0;
    FifoNode node(env.scratch_dir);
    if (!node.ok()) return Verdict::Broken(absl::StrCat("mkfifo: ", ErrnoName(errno)));
    const Deadline deadline = CaseDeadline(env);
    SharedFlags flags(4);
    Participants ps(deadline);
    ps.Spawn("opener", [&]() -> Verdict {
      SignalCounter counter(sig);
      if (counter.Install(restart ? SA_RESTART : 0) < 0) return Verdict::Broken("sigaction");
      flags.Counter(0) = static_cast<uint64_t>(::getpid());
      flags.Raise(0);
      const int fd = node.Open(child_writes ? O_WRONLY : O_RDONLY);
      FileDescriptor f(fd >= 0 ? fd : -1);
      if (counter.count() != 1)
        return Verdict::Fail(
            absl::StrFormat("the handler ran %d times, not once", counter.count()));
      if (restart)
        return fd >= 0 ? Verdict::Pass()
                       : Verdict::Fail(absl::StrCat("with SA_RESTART, open ", Result(fd)));
      if (fd != -EINTR) {
        return Verdict::Fail(absl::StrFormat("blocking open(%s) interrupted by %s %s, not EINTR",
                                             child_writes ? "O_WRONLY" : "O_RDONLY",
                                             SignalName(sig), Result(fd)));
      }
      return Verdict::Pass();
    });
    if (!flags.WaitFor(0, deadline)) return Verdict::Broken("opener never started");
    const auto pid = static_cast<pid_t>(flags.Counter(0).load());
    if (!WaitUntilBlockedIn(pid, SYS_openat, deadline))
      return Verdict::Fail("the blocking open did not block");
    ::kill(pid, sig);
    FileDescriptor other;
    if (restart) {
      // Back asleep in the restarted open, then released by the other side.
      if (!WaitUntilBlockedIn(pid, SYS_openat, deadline)) {
        return Verdict::Fail("with SA_RESTART the open did not go back to waiting");
      }
      other.reset(node.Open((child_writes ? O_RDONLY : O_WRONLY) | O_NONBLOCK));
      if (!other)
        return Verdict::Broken(absl::StrCat("opening the other side: ", ErrnoName(errno)));
    }
    return ps.Join();
  }
};

IPCSPEC_REGISTER_PROPERTY(EnxioProperty);
IPCSPEC_REGISTER_PROPERTY(RdwrProperty);
IPCSPEC_REGISTER_PROPERTY(RendezvousProperty);
IPCSPEC_REGISTER_PROPERTY(EintrProperty);

}  // namespace
}  // namespace ipcspec::props
