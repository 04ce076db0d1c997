// PIPE-* identity: both ends are one inode (S_ISFIFO; pipefs for an anonymous
// pipe), /proc/self/fd/N of an anonymous pipe end reopens the same pipe without
// blocking, and stat of /proc/self/fd/N or fdinfo/N holds no reference.
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/support/child_watch.h"
#include "properties/support/common.h"
#include "properties/support/mech_common.h"
#include "properties/support/pipe_util.h"
#include "properties/support/proc_util.h"

namespace ipcspec::props {
namespace {
namespace pipe_proc_props {

std::string SayEnd(uint64_t v) { return v != 0 ? "the write end" : "the read end"; }

class InodeProperty final : public NamedProperty {
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    PipeFds p;
    Verdict broken;
    if (!NewPipeWithFlags(t, env.scratch_dir, flags_.Of(s) | O_CLOEXEC, &p, &broken)) return broken;
    struct stat rs = {}, ws = {};
    if (::fstat(p.r.get(), &rs) != 0 || ::fstat(p.w.get(), &ws) != 0)
      return Verdict::Broken(absl::StrCat("fstat: ", ErrnoName(errno)));
    if (!S_ISFIFO(rs.st_mode) || !S_ISFIFO(ws.st_mode)) {
      return Verdict::Fail(
          absl::StrFormat("fstat mode 0%o (read end) and 0%o (write end): not "
                          "S_ISFIFO",
                          rs.st_mode, ws.st_mode));
    }
    if (rs.st_ino != ws.st_ino || rs.st_dev != ws.st_dev) {
      return Verdict::Fail(absl::StrFormat(
          "the read end is inode %d on device %d, the write end inode %d on device %d", rs.st_ino,
          rs.st_dev, ws.st_ino, ws.st_dev));
    }
    struct statfs fs = {};
    if (::fstatfs(p.r.get(), &fs) != 0) return Verdict::Broken("fstatfs");
    if (t.name() == "pipe") {
      if (fs.f_type != PIPEFS_MAGIC || fs.f_bsize != PageSize() || fs.f_namelen != NAME_MAX) {
        return Verdict::Fail(absl::StrFormat(
            "fstatfs of an anonymous pipe: f_type 0x%x, f_bsize %d, f_namelen %d; expected "
            "PIPEFS_MAGIC 0x%x, %d, %d",
            fs.f_type, fs.f_bsize, fs.f_namelen, PIPEFS_MAGIC, PageSize(), NAME_MAX));
      }
      return Verdict::Pass();
    }
    struct statfs dir = {};
    if (::statfs(env.scratch_dir.c_str(), &dir) != 0) return Verdict::Broken("statfs");
    if (fs.f_type != dir.f_type) {
      return Verdict::Fail(absl::StrFormat(
          "fstatfs of a FIFO's read end: f_type 0x%x, but its node's file system is 0x%x",
          fs.f_type, dir.f_type));
    }
    return Verdict::Pass();
  }

  const Param<int> flags_{this,
                          0,
                          "the pipe has %s",
                          0,
                          rc::gen::element<int>(0, O_NONBLOCK, O_DIRECT, O_NONBLOCK | O_DIRECT),
                          [](uint64_t v) { return SayOpenFlags(v); }};
};
IPCSPEC_REGISTER_PROPERTY(InodeProperty, "PIPE-INODE", {.applies = ForPipeOrFifo, .examples = 8});

// Exit codes of the reopening child.
enum ReopenExit { kReopenOk, kReopenWrongData = 253 };

// Reopening through /proc: an anonymous pipe only.
Applicability ForProcReopen(const Transport& t) {
  return ForAnonymousPipe(t,
                          "PIPE-* checks an anonymous pipe here (a FIFO reopened through "
                          "/proc follows the FIFO open rules)");
}

class ProcReopenProperty final : public PipeProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      const bool write_end = *rc::gen::arbitrary<bool>();
      return std::vector<Step>{end_.Step(write_end),
                               other_gone_.Step(!write_end && *rc::gen::arbitrary<bool>()),
                               size_.Step(*rc::gen::inRange<uint64_t>(1, 2 * PIPE_BUF))};
    });
  }
  Verdict RunOn(PipeFds& p, const Transport&, const Scenario& s,
                const CaseEnv& env) const override {
    const bool write_end = end_.Of(s);
    const std::vector<std::byte> data = PipeBytes(1, size_.Of(s));
    if (!write_end && WriteFull(p.w.get(), data.data(), data.size()) < 0)
      return Verdict::Broken("write");
    if (!write_end && other_gone_.Of(s)) p.w.reset();
    const int target = write_end ? p.w.get() : p.r.get();
    const std::string path = absl::StrCat("/proc/self/fd/", target);
    const ChildCall c = WatchCall(
        [&]() -> int {
          FileDescriptor fd(::open(path.c_str(), (write_end ? O_WRONLY : O_RDONLY) | O_CLOEXEC));
          if (!fd) return ExitCodeOf(-1, errno);
          if (write_end) {
            return WriteFull(fd.get(), data.data(), data.size()) == 0 ? kReopenOk
                                                                      : kReopenWrongData;
          }
          SetNonBlocking(fd.get(), true);
          return DrainNonBlocking(fd.get()) == data ? kReopenOk : kReopenWrongData;
        },
        {SYS_openat}, CaseDeadline(env));
    const std::string what =
        absl::StrFormat("open(%s) of %s%s", path, SayEnd(write_end),
                        !write_end && other_gone_.Of(s) ? " with no writer left" : "");
    if (!c.exited || !WIFEXITED(c.status)) return Verdict::Fail(absl::StrCat(what, " ", c.Said()));
    if (WEXITSTATUS(c.status) == kReopenWrongData) {
      return Verdict::Fail(absl::StrCat(
          what, write_end ? ": the write through it failed"
                          : ": the queued data did not come through the new descriptor"));
    }
    if (WEXITSTATUS(c.status) != kReopenOk) return Verdict::Fail(absl::StrCat(what, " ", c.Said()));
    if (write_end) {
      if (std::string e = ExpectExactly(p.r.get(), data,
                                        "what was written through the reopened "
                                        "write end");
          !e.empty()) {
        return Verdict::Fail(e);
      }
    }
    return Verdict::Pass();
  }

  const Param<bool> end_{this, 0, "the end reopened is %s", false, SayEnd};
  const Param<bool> other_gone_{
      this, 1, "the write end is closed before the read end is reopened: %s", false, SayYesNo};
  const BytesParam size_{this, 2, "%s pass through", 10};
};
IPCSPEC_REGISTER_PROPERTY(ProcReopenProperty, "PIPE-PROC-REOPEN",
                          {.applies = ForProcReopen, .examples = 10});

class ProcNorefProperty final : public PipeProperty {
  Verdict RunOn(PipeFds& p, const Transport&, const Scenario& s, const CaseEnv&) const override {
    const std::string path =
        absl::StrCat(info_.Of(s) ? "/proc/self/fdinfo/" : "/proc/self/fd/", p.w.get());
    for (int i = 0; i < times_.Of(s); ++i) {
      struct stat st = {};
      if ((lstat_.Of(s) ? ::lstat(path.c_str(), &st) : ::stat(path.c_str(), &st)) != 0)
        return Verdict::Broken(absl::StrCat("stat(", path, "): ", ErrnoName(errno)));
    }
    p.w.reset();
    struct pollfd pf = {p.r.get(), POLLIN, 0};
    const int n = ::poll(&pf, 1, 0);
    char c;
    const ssize_t got = n == 1 && (pf.revents & POLLHUP) != 0 ? ::read(p.r.get(), &c, 1) : -2;
    if (got != 0) {
      return Verdict::Fail(absl::StrFormat(
          "after %d %s of %s and closing the write end, the read end shows no hang-up and no "
          "end of file: a reference to the write end is still held",
          times_.Of(s), lstat_.Of(s) ? "lstat" : "stat", path));
    }
    return Verdict::Pass();
  }

  const YesNoParam info_{this, 0, "the path is under /proc/self/fdinfo (not fd): %s", false};
  const YesNoParam lstat_{this, 1, "lstat is used (not stat): %s", false};
  const Param<int> times_{this, 2, "it is looked at %s times", 1, rc::gen::inRange(1, 5)};
};
IPCSPEC_REGISTER_PROPERTY(ProcNorefProperty, "PIPE-PROC-NOREF",
                          {.applies = ForPipeOrFifo, .examples = 10});

}  // namespace pipe_proc_props
}  // namespace
}  // namespace ipcspec::props
